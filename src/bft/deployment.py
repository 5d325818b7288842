"""Find a deployed environment's resources from its stack outputs: nobody types a resource name."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, PartialCredentialsError

from bft.config import EnvironmentConfig, resource_prefix


class DeploymentError(Exception):
    """The environment cannot be reached or is not deployed; the message says what to do."""


class NotDeployed(DeploymentError):
    """The environment's pipeline stack does not exist in its region (`bft smoke` deploys it then)."""


@dataclass(frozen=True)
class TeamRefs:
    state_machine_arn: str
    submitter_role_arn: str | None


@dataclass(frozen=True)
class Deployment:
    env: str
    region: str
    stack: str
    datasets_bucket: str
    reports_bucket: str
    state_table: str
    topic_arn: str
    teams: dict[str, TeamRefs]
    # The approval function's URL (AWS_IAM auth): `bft approve/reject` POST signed decisions to it.
    approval_function_url: str | None = None

    def team(self, name: str) -> TeamRefs:
        if name not in self.teams:
            known = ", ".join(sorted(self.teams)) or "none"
            raise DeploymentError(
                f"team {name!r} is not deployed in {self.env} (deployed teams: {known}); add it to "
                f"config/{self.env}.yaml and run `cdk deploy --all -c env={self.env}`"
            )
        return self.teams[name]

    def approval_url(self) -> str:
        if not self.approval_function_url:
            raise DeploymentError(
                f"stack {self.stack} has no ApprovalFunctionUrl output: redeploy it with this version of the "
                f"pipeline (`cdk deploy --all -c env={self.env}`)"
            )
        return self.approval_function_url

    def execution_arn(self, team: str, request_id: str) -> str:
        machine = self.team(team).state_machine_arn
        return machine.replace(":stateMachine:", ":execution:", 1) + f":{request_id}"


def pipeline_stack_name(config: EnvironmentConfig) -> str:
    return f"{resource_prefix(config)}Pipeline"


def discover(config: EnvironmentConfig, *, cloudformation: Any) -> Deployment:
    stack = pipeline_stack_name(config)
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise DeploymentError(
            "no AWS credentials found: set AWS_PROFILE (or run `aws configure` / `aws sso login`) for the "
            f"account of {config.name}"
        ) from exc
    except NoRegionError as exc:
        raise DeploymentError(f"no AWS region: set `region: {config.region}` in config/{config.name}.yaml") from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code == "ValidationError" and "does not exist" in message:
            raise NotDeployed(
                f"environment {config.name} is not deployed in {config.region}: stack {stack} not found "
                f"(deploy it with `cdk deploy --all -c env={config.name}`)"
            ) from exc
        if code in ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "AccessDenied"):
            raise DeploymentError(f"AWS refused the credentials ({code}): {message}") from exc
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    missing = [
        k
        for k in ("DatasetsBucketName", "ReportsBucketName", "StateTableName", "NotificationsTopicArn", "Teams")
        if k not in outputs
    ]
    if missing:
        raise DeploymentError(f"stack {stack} lacks outputs {missing}: redeploy it with this version of the pipeline")
    teams = {
        name: TeamRefs(state_machine_arn=refs["stateMachineArn"], submitter_role_arn=refs.get("submitterRoleArn"))
        for name, refs in json.loads(outputs["Teams"]).items()
    }
    return Deployment(
        env=config.name,
        region=config.region,
        stack=stack,
        datasets_bucket=outputs["DatasetsBucketName"],
        reports_bucket=outputs["ReportsBucketName"],
        state_table=outputs["StateTableName"],
        topic_arn=outputs["NotificationsTopicArn"],
        teams=teams,
        approval_function_url=outputs.get("ApprovalFunctionUrl"),
    )
