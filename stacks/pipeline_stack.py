"""The stateless deployment unit: roles, functions, the state machine, alarms. Safe to replace."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from bft.config import EnvironmentConfig
from bft.registry import (
    SHARED_APPROVAL_FUNCTION,
    SHARED_STATE_MACHINE_ROLE,
    SHARED_TOPIC,
    SHARED_TOPIC_KEY,
    function_parameter_key,
    pascal,
    shared_parameter,
)
from stacks.constructs.customization_role import CustomizationServiceRole
from stacks.constructs.evaluation_role import EvaluationServiceRole
from stacks.constructs.guardrails import CostGuardrails
from stacks.constructs.notifications import Notifications
from stacks.constructs.platform_view import PlatformView
from stacks.constructs.workflow import ApprovalDecisions, CustomizationWorkflow, JobPlacement, Timing
from stacks.data_stack import DataRefs
from stacks.nag import acknowledge


class PipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        data_export_prefix: str,
        version: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        data = DataRefs.import_into(self, data_export_prefix)
        vpc = config.vpc
        self.service_role = CustomizationServiceRole(
            self,
            "CustomizationServiceRole",
            datasets=data.datasets,
            outputs=data.outputs,
            data_key=data.key,
            custom_model_key_arn=config.custom_model_kms_key_arn,
            vpc_subnet_ids=list(vpc.subnet_ids) if vpc else None,
            vpc_security_group_ids=list(vpc.security_group_ids) if vpc else None,
        )
        for bucket, reason in (
            (
                "Datasets",
                "Jobs read training data under any team prefix; the workflow checks the prefix first.",
            ),
            ("Outputs", "Bedrock writes each job's outputs under a job-specific prefix it chooses."),
        ):
            acknowledge(
                self.service_role.role,
                f"IAM5[{DataRefs.objects_finding(data_export_prefix, bucket)}]",
                reason,
            )
        # The LLM judge's role, only where the environment allows a judge (judge_models): nothing to pass otherwise.
        self.evaluation_role = (
            EvaluationServiceRole(
                self,
                "EvaluationServiceRole",
                outputs=data.outputs,
                data_key=data.key,
                judge_models=list(config.judge_models),
            )
            if config.judge_models
            else None
        )
        removal = RemovalPolicy.RETAIN if config.production else RemovalPolicy.DESTROY
        self.notifications = Notifications(
            self,
            "Notifications",
            emails=list(config.notification_emails),
            removal=removal,
        )
        timing = config.workflow
        self.workflow = CustomizationWorkflow(
            self,
            "Workflow",
            datasets=data.datasets,
            outputs=data.outputs,
            reports=data.reports,
            data_key=data.key,
            placement=JobPlacement(
                service_role=self.service_role.role,
                # Custom models are encrypted with the configured key, else the pipeline's data key.
                custom_model_key_arn=config.custom_model_kms_key_arn or data.key.key_arn,
                vpc_subnet_ids=list(vpc.subnet_ids) if vpc else None,
                vpc_security_group_ids=list(vpc.security_group_ids) if vpc else None,
            ),
            judge_role=self.evaluation_role.role if self.evaluation_role else None,
            notifications=self.notifications,
            policy_document=config.shared_policy_document(data.datasets.bucket_name),
            prices=config.price_document(),
            timing=Timing(
                retry_interval_seconds=timing.retry_interval_seconds,
                retry_max_attempts=timing.retry_max_attempts,
                execution_timeout_seconds=timing.execution_timeout_seconds,
                reconcile_interval_minutes=timing.reconcile_interval_minutes,
            ),
            delete_failed_models=config.delete_failed_custom_models,
            log_retention=RETENTION[config.log_retention_days],
            production=config.production,
            powertools_layer_version=config.powertools_layer_version,
            environment=config.name,
        )
        self.guardrails = CostGuardrails(
            self,
            "CostGuardrails",
            factory=self.workflow.factory,
            topic_grant=self.notifications.grant_publish,
            topic_arn=self.notifications.topic.topic_arn,
            environment=config.name,
            production=config.production,
            default_ttl_hours=config.provisioned_throughput.default_ttl_hours,
            schedule_minutes=config.reaper.schedule_minutes,
            dry_run=config.reaper.dry_run,
            model_retention_days=config.reaper.custom_model_retention_days,
        )
        # The platform team's view: every team's runs, spend and serving; the alarms no team owns.
        self.platform = PlatformView(
            self,
            "PlatformView",
            environment=config.name,
            region=config.region,
            topic=self.notifications.topic,
            dead_letters=self.workflow.factory.dead_letters,
            reaper=self.guardrails.function,
            reports=data.reports,
            data_key=data.key,
        )
        outputs = {
            "CustomizationServiceRoleArn": self.service_role.role.role_arn,
            "StateTableName": self.workflow.table.table_name,
            "NotificationsTopicArn": self.notifications.topic.topic_arn,
            "PolicyParameterName": self.workflow.policy_parameter.parameter_name,
            "DatasetsBucketName": data.datasets.bucket_name,
            "ReportsBucketName": data.reports.bucket_name,
        }
        self.approvals = ApprovalDecisions(
            self,
            "Approvals",
            factory=self.workflow.factory,
            table=self.workflow.table,
            machine_pattern=self.workflow.machine_pattern,
            environment=config.name,
            production=config.production,
            reviewers=list(config.reviewers),
        )
        # What team stacks need of this one, in SSM (bft.registry): read when a team stack deploys, so this
        # stack stays free to change (CDK's automatic cross-stack exports would pin it to every team stack).
        shared = {
            SHARED_STATE_MACHINE_ROLE: self.workflow.role.role_arn,
            SHARED_TOPIC: self.notifications.topic.topic_arn,
            SHARED_TOPIC_KEY: self.notifications.key.key_arn,
            SHARED_APPROVAL_FUNCTION: self.approvals.function.function_arn,
        }
        for name, function in self.workflow.step_functions.items():
            shared[function_parameter_key(name)] = function.function_arn
        for key, value in shared.items():
            ssm.StringParameter(
                self,
                f"Shared{pascal(key.replace('/', '-'))}",
                parameter_name=shared_parameter(config.name, key),
                string_value=value,
                description=f"Read by the team stacks of {config.name} when they deploy",
            )
        # A team's machine and role are in its registry entry (bft.registry), not here: this stack knows no team.
        # The CLI finds everything through these outputs: nobody types a resource name.
        for key, value in outputs.items():
            CfnOutput(self, key, value=value)
        CfnOutput(
            self,
            "ApprovalFunctionUrl",
            value=self.approvals.url.url,
            description="Reviewers approve or reject runs here (IAM-signed requests only)",
            export_name=f"{data_export_prefix}-ApprovalFunctionUrl",
        )
        CfnOutput(
            self,
            "ReviewerPolicyArn",
            value=self.approvals.reviewer_policy.managed_policy_arn,
            description="Attach this managed policy to each reviewer role",
        )
        CfnOutput(
            self,
            "PlatformViewerPolicyArn",
            value=self.platform.viewer_policy.managed_policy_arn,
            description="Attach this managed policy to the platform team's roles: bft runs --all-teams",
        )
        CfnOutput(self, "DashboardName", value=self.platform.dashboard.dashboard_name)
        # What a team installs the CLI at (bft onboarding says it): the package version these stacks came from.
        CfnOutput(self, "PipelineVersion", value=version, description="The bedrock-fine-tuning version deployed")


RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}
