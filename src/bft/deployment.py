"""Find a deployed environment's resources: the shared ones from the pipeline stack's outputs, each team's
from the registry its own stack writes (``/bft/<env>/teams/<team>/``, bft.registry). Nobody types a
resource name, and no output lists every team."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, PartialCredentialsError

from bft.config import EnvironmentConfig, resource_prefix
from bft.names import TEAM_NAME
from bft.registry import STATE_MACHINE_ARN, SUBMITTER_ROLE_ARN, team_path, team_stack_name, teams_path


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
    # The approval function's URL (AWS_IAM auth): `bft approve/reject` POST signed decisions to it.
    approval_function_url: str | None = None
    # The package version the stacks were synthesized from (PipelineVersion output; None before it existed).
    version: str | None = None
    # Reads one team's registry entry (None: not onboarded); what it found is kept in ``teams``.
    registry: Callable[[str], TeamRefs | None] | None = None
    teams: dict[str, TeamRefs] = field(default_factory=dict)

    def team(self, name: str) -> TeamRefs:
        if name not in self.teams:
            refs = self.registry(name) if self.registry and TEAM_NAME.match(name) else None
            if refs is None:
                stack = team_stack_name(resource_prefix_of(self.stack), name)
                raise DeploymentError(
                    f"team {name!r} is not deployed in {self.env}: no registry entry under "
                    f"{team_path(self.env, name)}/ (onboard it: add it to config/{self.env}.yaml and run "
                    f"`cdk deploy -c env={self.env} {stack}`)"
                )
            self.teams[name] = refs
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


def resource_prefix_of(pipeline_stack: str) -> str:
    return pipeline_stack.removesuffix("Pipeline")


def read_team(ssm: Any, environment: str, team: str) -> TeamRefs | None:
    """A team's machine and submitter role from its registry entry; None when it has none."""
    found: dict[str, str] = {}
    try:
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=team_path(environment, team)):
            for parameter in page["Parameters"]:
                found[parameter["Name"].rsplit("/", 1)[-1]] = parameter["Value"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("AccessDenied", "AccessDeniedException"):
            raise DeploymentError(
                f"AWS refused reading team {team}'s registry entry {team_path(environment, team)}/ ({code}): use "
                "the team's submitter role (`bft onboarding` prints a profile that assumes it)"
            ) from exc
        raise
    if STATE_MACHINE_ARN not in found:
        return None
    return TeamRefs(state_machine_arn=found[STATE_MACHINE_ARN], submitter_role_arn=found.get(SUBMITTER_ROLE_ARN))


def list_teams(ssm: Any, environment: str) -> dict[str, TeamRefs]:
    """Every team with a registry entry in ``environment`` (``/bft/<env>/teams/``), by name: what the platform's
    view reads (its role needs GetParametersByPath on the path: the stack's PlatformViewerPolicy)."""
    found: dict[str, dict[str, str]] = {}
    prefix = teams_path(environment) + "/"
    try:
        pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=teams_path(environment), Recursive=True)
        for page in pages:
            for parameter in page["Parameters"]:
                team, _, key = parameter["Name"].removeprefix(prefix).partition("/")
                found.setdefault(team, {})[key] = parameter["Value"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("AccessDenied", "AccessDeniedException"):
            raise DeploymentError(
                f"AWS refused listing the teams under {teams_path(environment)}/ ({code}): use a platform role "
                "with the pipeline stack's PlatformViewerPolicyArn attached"
            ) from exc
        raise
    return {
        team: TeamRefs(state_machine_arn=keys[STATE_MACHINE_ARN], submitter_role_arn=keys.get(SUBMITTER_ROLE_ARN))
        for team, keys in sorted(found.items())
        if STATE_MACHINE_ARN in keys and TEAM_NAME.match(team)
    }


def discover(config: EnvironmentConfig, *, cloudformation: Any, ssm: Any) -> Deployment:
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
        for k in ("DatasetsBucketName", "ReportsBucketName", "StateTableName", "NotificationsTopicArn")
        if k not in outputs
    ]
    if missing:
        raise DeploymentError(f"stack {stack} lacks outputs {missing}: redeploy it with this version of the pipeline")
    return Deployment(
        env=config.name,
        region=config.region,
        stack=stack,
        datasets_bucket=outputs["DatasetsBucketName"],
        reports_bucket=outputs["ReportsBucketName"],
        state_table=outputs["StateTableName"],
        topic_arn=outputs["NotificationsTopicArn"],
        approval_function_url=outputs.get("ApprovalFunctionUrl"),
        version=outputs.get("PipelineVersion"),
        registry=lambda team: read_team(ssm, config.name, team),
    )
