"""One team's deployment unit: everything that exists once per team. Onboarding deploys it, offboarding
destroys it (after `bft offboard` said nothing of the team still runs or serves); no other stack changes."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from bft.config import EnvironmentConfig, Team
from bft.registry import (
    GUARDRAILS,
    SHARED_APPROVAL_FUNCTION,
    SHARED_STATE_MACHINE_ROLE,
    SHARED_TOPIC,
    SHARED_TOPIC_KEY,
    STATE_MACHINE_ARN,
    SUBMITTER_ROLE_ARN,
    function_parameter_key,
    pascal,
    shared_parameter,
    team_parameter,
)
from stacks.constructs.guardrails import TeamCap, team_budget
from stacks.constructs.notifications import subscribe_team, team_alarm_topic
from stacks.constructs.team_access import TeamAccess
from stacks.constructs.workflow import STEP_FUNCTIONS, TeamWorkflow, Timing, allow_reviewer
from stacks.data_stack import DataRefs
from stacks.pipeline_stack import RETENTION


class TeamStack(Stack):
    """A team's state machine, log group and alarms, its submitter role, budget and cap, e-mail subscriptions, its own
    reviewers' access to the approval URL, and its registry entry (``/bft/<env>/teams/<team>/``).

    It reads the shared resources from SSM parameters the pipeline stack writes (resolved when this stack
    deploys) and the data stack's named exports: never CDK's automatic cross-stack references, which would
    make the pipeline stack export (and so pin) something for every team.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        team: Team,
        data_export_prefix: str,
        pipeline_stack_name: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        env = config.name

        def shared(key: str) -> str:
            return ssm.StringParameter.value_for_string_parameter(self, shared_parameter(env, key))

        data = DataRefs.import_into(self, data_export_prefix)
        functions = {
            name: lambda_.Function.from_function_attributes(
                self,
                f"{pascal(name)}Function",
                function_arn=shared(function_parameter_key(name)),
                same_environment=True,
            )
            for name in STEP_FUNCTIONS
        }
        # Imported immutable: the pipeline stack grants the shared role; nothing here may add to its policy.
        role = iam.Role.from_role_arn(self, "StateMachineRole", shared(SHARED_STATE_MACHINE_ROLE), mutable=False)
        topic = sns.Topic.from_topic_arn(self, "Topic", shared(SHARED_TOPIC))
        # The team's own alarm topic, where it has addresses of its own (the platform's get the environment's).
        own_emails = [e for e in team.notification_emails if e not in config.notification_emails]
        alarm_topic = (
            team_alarm_topic(
                self,
                key=kms.Key.from_key_arn(self, "TopicKey", shared(SHARED_TOPIC_KEY)),
                team=team.name,
                emails=own_emails,
                platform=list(config.notification_emails),
            )
            if own_emails
            else None
        )
        timing = config.workflow
        self.workflow = TeamWorkflow(
            self,
            "Workflow",
            team=team.name,
            environment=env,
            functions=functions,
            role=role,
            topic=topic,
            team_topic=alarm_topic,
            timing=Timing(
                retry_interval_seconds=timing.retry_interval_seconds,
                retry_max_attempts=timing.retry_max_attempts,
                execution_timeout_seconds=timing.execution_timeout_seconds,
                reconcile_interval_minutes=timing.reconcile_interval_minutes,
            ),
            log_retention=RETENTION[config.log_retention_days],
            production=config.production,
        )
        self.access = TeamAccess(
            self,
            "Access",
            team=team.name,
            submitters=list(team.submitters),
            state_machine=self.workflow.state_machine,
            datasets=data.datasets,
            reports=data.reports,
            data_key=data.key,
            # The key custom models are encrypted with (stacks/constructs/customization_role.py): the data key
            # unless the environment names its own.
            custom_model_key_arn=config.custom_model_kms_key_arn or data.key.key_arn,
            environment=env,
            pipeline_stack_name=pipeline_stack_name,
        )
        if team.monthly_budget_usd:
            team_budget(
                self,
                "Budget",
                team=team.name,
                environment=env,
                limit_usd=team.monthly_budget_usd,
                emails=list(team.notification_emails or config.notification_emails),
            )
        if team.monthly_cap_usd and self.access.role is not None:
            # The workflow refuses a run that would pass the cap (bft.workflow.spend); this stops the rest.
            TeamCap(
                self,
                "Cap",
                team=team.name,
                environment=env,
                cap_usd=team.monthly_cap_usd,
                submitter_role=self.access.role,
                state_machine_arn=self.workflow.state_machine.state_machine_arn,
                emails=list(team.notification_emails or config.notification_emails),
            )
        subscribe_team(
            self,
            topic=topic,
            team=team.name,
            emails=list(team.notification_emails),
            platform=list(config.notification_emails),
        )
        # The environment's reviewers are allowed by the pipeline stack. Of the team's own, only those of another
        # account need the function's resource policy: a same-account role is allowed by its identity policy
        # alone (the stack's ReviewerPolicy, which it needs anyway to find the URL; docs/authorization-actions.md,
        # Lambda), and the resource policy, 20 KB at most, would otherwise grow with every team's reviewers.
        own = set(team.reviewers or []) - set(config.reviewers)
        foreign = sorted(arn for arn in own if not _same_account(arn, config))
        if foreign:
            approval = lambda_.Function.from_function_attributes(
                self, "ApprovalFunction", function_arn=shared(SHARED_APPROVAL_FUNCTION), same_environment=True
            )
            reviewers = Construct(self, "Reviewers")
            for arn in foreign:
                allow_reviewer(reviewers, approval, arn)

        # The registry entry: how the CLI, the shared functions and the offline twin find this team.
        entries = {
            STATE_MACHINE_ARN: self.workflow.state_machine.state_machine_arn,
            GUARDRAILS: json.dumps(config.team_guardrails(team), sort_keys=True),
        }
        if self.access.role is not None:
            entries[SUBMITTER_ROLE_ARN] = self.access.role.role_arn
        for key, value in entries.items():
            ssm.StringParameter(
                self,
                f"Registry{pascal(key)}",
                parameter_name=team_parameter(env, team.name, key),
                string_value=value,
                description=f"bft registry: team {team.name} of {env}",
            )


def _same_account(principal_arn: str, config: EnvironmentConfig) -> bool:
    """Whether a reviewer role is in the environment's own account (unknown account: treated as another)."""
    parts = principal_arn.split(":")
    return config.account is not None and len(parts) > 4 and parts[4] == config.account
