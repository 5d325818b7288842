"""The customization workflow: a Standard state machine whose Lambda steps take a request from dataset
to a served, evaluated custom model, and end, whatever happens, in a defined state with cleanup done.

The constructs are here; the states a team's machine runs are built in workflow_definition."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from bft.registry import state_machine_name, state_machine_prefix, team_path, teams_path
from bft.report.render import DOCUMENTS
from bft.workflow.reaper import PROJECT_TAG
from stacks.constructs.functions import FunctionFactory
from stacks.constructs.notifications import Notifications
from stacks.constructs.workflow_definition import Timing, definition
from stacks.nag import acknowledge, resource_text

# What stacks (pipeline_stack, team_stack, guardrails) import from here, wherever it is defined.
__all__ = [
    "STEP_FUNCTIONS",
    "ApprovalDecisions",
    "CustomizationWorkflow",
    "JobPlacement",
    "TeamWorkflow",
    "Timing",
    "allow_reviewer",
    "registry_arn",
]

# The tags the workflow puts on every job, custom model, throughput and deployment (bft.workflow.request).
RUN_TAG_KEYS = ("project", "environment", "team", "request")
# What bft.workflow.state does with the state table: items (claims, tokens) and the reconciler's scan.
# Explicit rather than grant_read_write_data, which adds batch, stream and describe actions nobody uses.
STATE_TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Scan",
)


# The functions a team's state machine invokes (its definition's steps); team stacks find them in the registry.
STEP_FUNCTIONS = (
    "validate_request",
    "validate_dataset",
    "start_job",
    "wait_for_job",
    "collect_metrics",
    "request_approval",
    "create_serving",
    "check_serving",
    "evaluate",
    "promote",
    "cleanup",
    "finalize",
)


def machine_pattern(stack: Stack, environment: str) -> str:
    """Every team's state machine of ``environment``: their names share a fixed prefix (bft.registry)."""
    return stack.format_arn(
        service="states",
        resource="stateMachine",
        resource_name=f"{state_machine_prefix(environment)}*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def registry_arn(stack: Stack, environment: str, team: str | None = None) -> str:
    """The registry's parameters: every team's (``team`` None) or one team's."""
    path = team_path(environment, team) if team else teams_path(environment)
    return stack.format_arn(service="ssm", resource="parameter", resource_name=path.lstrip("/") + "/*")


@dataclass(frozen=True)
class JobPlacement:
    """Where customization jobs run and how their models are encrypted."""

    service_role: iam.IRole
    custom_model_key_arn: str
    vpc_subnet_ids: list[str] | None
    vpc_security_group_ids: list[str] | None


class CustomizationWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        datasets: s3.IBucket,
        outputs: s3.IBucket,
        reports: s3.IBucket,
        data_key: kms.IKey,
        placement: JobPlacement,
        notifications: Notifications,
        policy_document: dict[str, Any],
        prices: dict[str, Any],
        timing: Timing,
        delete_failed_models: bool,
        log_retention: logs.RetentionDays,
        production: bool,
        powertools_layer_version: int,
        environment: str,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        removal = RemovalPolicy.RETAIN if production else RemovalPolicy.DESTROY

        self.table = dynamodb.TableV2(
            self,
            "StateTable",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            time_to_live_attribute="expiresAt",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal,
        )
        self.policy_parameter = ssm.StringParameter(
            self,
            "Policy",
            string_value=json.dumps(policy_document, sort_keys=True),
            description="Guardrails the workflow applies to every request (written from the environment config)",
        )
        self.factory = FunctionFactory(
            self,
            "Functions",
            log_retention=log_retention,
            removal=removal,
            powertools_layer_version=powertools_layer_version,
        )
        table_env = {"STATE_TABLE": self.table.table_name}
        make = self.factory.function
        fn = {
            "validate_request": make(
                "validate_request",
                description="Validate the request and guardrails",
                timeout=Duration.seconds(30),
                environment={**table_env, "POLICY_PARAMETER": self.policy_parameter.parameter_name},
            ),
            "validate_dataset": make(
                "validate_dataset",
                description="Stream-validate the dataset",
                timeout=Duration.minutes(15),
                memory_size=1024,
                environment={"REPORTS_BUCKET": reports.bucket_name},
            ),
            "start_job": make(
                "start_job",
                description="Start the customization job",
                timeout=Duration.seconds(60),
                environment=self._job_env(placement, outputs),
            ),
            "wait_for_job": make(
                "wait_for_job",
                description="Park the execution until the job ends",
                timeout=Duration.seconds(30),
                environment=table_env,
            ),
            "job_events": make(
                "job_events",
                description="Resume executions on job state-change events",
                timeout=Duration.seconds(30),
                environment=table_env,
                asynchronous=True,
            ),
            "reconcile_jobs": make(
                "reconcile_jobs",
                description="Resume executions whose job event was lost",
                timeout=Duration.minutes(5),
                environment=table_env,
                asynchronous=True,
            ),
            "collect_metrics": make(
                "collect_metrics",
                description="Collect the job's loss curves",
                timeout=Duration.minutes(2),
                environment={"REPORTS_BUCKET": reports.bucket_name},
            ),
            "request_approval": make(
                "request_approval",
                description="Ask a reviewer before serving",
                timeout=Duration.seconds(30),
                environment={**table_env, "TOPIC_ARN": notifications.topic.topic_arn},
            ),
            "create_serving": make(
                "create_serving",
                description="Create the provisioned throughput",
                timeout=Duration.seconds(60),
                environment={},
            ),
            "check_serving": make(
                "check_serving",
                description="Poll the provisioned throughput",
                timeout=Duration.seconds(30),
                environment={},
            ),
            "evaluate": make(
                "evaluate",
                description="Score the custom model on the evaluation set",
                timeout=Duration.minutes(15),
                memory_size=512,
                environment={"REPORTS_BUCKET": reports.bucket_name},
            ),
            "promote": make(
                "promote",
                description="Point the team's endpoint at the run's evaluated model",
                timeout=Duration.seconds(60),
                environment={},
            ),
            "cleanup": make(
                "cleanup",
                description="Stop and delete what a failed run started",
                timeout=Duration.minutes(2),
                environment={"DELETE_FAILED_MODELS": "true" if delete_failed_models else "false"},
            ),
            "finalize": make(
                "finalize",
                description="Write the run report and notify",
                timeout=Duration.seconds(60),
                environment={
                    **table_env,
                    "REPORTS_BUCKET": reports.bucket_name,
                    "TOPIC_ARN": notifications.topic.topic_arn,
                    "PRICES": json.dumps(prices),
                    "ENVIRONMENT": policy_document["environment"],
                },
            ),
        }
        self.functions = fn
        self._grant(
            stack,
            fn,
            datasets=datasets,
            outputs=outputs,
            reports=reports,
            data_key=data_key,
            placement=placement,
            notifications=notifications,
            environment=environment,
        )

        # Only the steps of the definition: JobEvents and ReconcileJobs are EventBridge's to invoke.
        self.step_functions = {name: fn[name] for name in STEP_FUNCTIONS}
        self.role = self._state_machine_role(list(self.step_functions.values()))
        # Each team's state machine lives in the team's own stack (TeamWorkflow). Resuming a parked execution
        # must reach whichever team's machine issued the token: one ARN pattern over the environment's machine
        # names (bft.registry.state_machine_name), so this policy's size does not grow with the teams.
        self.machine_pattern = machine_pattern(stack, environment)
        iam.Policy(
            self,
            "TaskResponsePolicy",
            roles=[role for name in ("wait_for_job", "job_events", "reconcile_jobs") if (role := fn[name].role)],
            statements=[
                iam.PolicyStatement(
                    actions=["states:SendTaskSuccess", "states:SendTaskFailure"], resources=[self.machine_pattern]
                )
            ],
        )
        acknowledge(
            self,
            f"IAM5[Resource::{resource_text(self, self.machine_pattern)}]",
            "Every team's state machine of this environment (fixed name prefix): the functions resume the "
            "execution whose task token they hold, whichever team's it is.",
        )
        # The report's path through the states: Finalize reads its own execution's history, whichever team's
        # machine runs it. One pattern over the machines' fixed name prefix: its size does not grow with teams.
        executions = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine_prefix(environment)}*:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        finalize_role = fn["finalize"].role
        assert finalize_role is not None
        iam.Policy(
            self,
            "ExecutionHistoryPolicy",
            roles=[finalize_role],
            statements=[iam.PolicyStatement(actions=["states:GetExecutionHistory"], resources=[executions])],
        )
        acknowledge(
            self,
            f"IAM5[Resource::{resource_text(self, executions)}]",
            "Executions are named per request; these are the executions of this environment's team machines.",
        )
        events.Rule(
            self,
            "JobStateChange",
            description="Bedrock customization jobs of this pipeline reached a final state",
            event_pattern=events.EventPattern(
                source=["aws.bedrock"],
                detail_type=["Model Customization Job State Change"],
                detail={"jobStatus": ["Completed", "Failed", "Stopped"], "jobName": [{"prefix": "bft-"}]},
            ),
            targets=[targets.LambdaFunction(fn["job_events"], retry_attempts=8, max_event_age=Duration.hours(6))],
        )
        events.Rule(
            self,
            "ReconcileSchedule",
            description="Backstop for lost job events",
            schedule=events.Schedule.rate(Duration.minutes(timing.reconcile_interval_minutes)),
            targets=[targets.LambdaFunction(fn["reconcile_jobs"], retry_attempts=2)],
        )

    # -- permissions -------------------------------------------------------------------------------------
    @staticmethod
    def _job_env(placement: JobPlacement, outputs: s3.IBucket) -> dict[str, str]:
        env = {
            "SERVICE_ROLE_ARN": placement.service_role.role_arn,
            "OUTPUTS_BUCKET": outputs.bucket_name,
            "CUSTOM_MODEL_KMS_KEY": placement.custom_model_key_arn,
        }
        if placement.vpc_subnet_ids and placement.vpc_security_group_ids:
            env["JOB_VPC"] = json.dumps(
                {"subnetIds": placement.vpc_subnet_ids, "securityGroupIds": placement.vpc_security_group_ids}
            )
        return env

    def _state_machine_role(self, functions: list[lambda_.Function]) -> iam.Role:
        role = iam.Role(
            self,
            "StateMachineRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Runs the fine-tuning workflow: invokes its functions, logs, traces",
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[f.function_arn for f in functions])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                # CloudWatch Logs delivery and X-Ray APIs have no resource-level scope.
                actions=[
                    "logs:CreateLogDelivery",
                    "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies",
                    "logs:DescribeLogGroups",
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                ],
                resources=["*"],
            )
        )
        acknowledge(role, "IAM5[Resource::*]", "Log delivery and X-Ray actions support no resource-level scope.")
        return role

    def _grant(
        self,
        stack: Stack,
        fn: dict[str, lambda_.Function],
        *,
        datasets: s3.IBucket,
        outputs: s3.IBucket,
        reports: s3.IBucket,
        data_key: kms.IKey,
        placement: JobPlacement,
        notifications: Notifications,
        environment: str,
    ) -> None:
        def bedrock_arn(resource: str, *, account: bool = True) -> str:
            return stack.format_arn(
                service="bedrock", resource=resource, resource_name="*", account=None if account else ""
            )

        foundation = bedrock_arn("foundation-model", account=False)
        custom_model, job = bedrock_arn("custom-model"), bedrock_arn("model-customization-job")
        provisioned, deployment = bedrock_arn("provisioned-model"), bedrock_arn("custom-model-deployment")

        def allow(name: str, actions: list[str], resources: list[str], **conditions: Any) -> None:
            fn[name].add_to_role_policy(
                iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions or None)
            )

        def read(name: str, bucket: s3.IBucket) -> None:
            allow(name, ["s3:GetObject"], [bucket.arn_for_objects("*")])
            allow(name, ["s3:ListBucket"], [bucket.bucket_arn])
            allow(name, ["kms:Decrypt"], [data_key.key_arn])

        def write(name: str, bucket: s3.IBucket, prefix: str) -> None:
            allow(name, ["s3:PutObject"], [bucket.arn_for_objects(prefix)])
            allow(name, ["kms:GenerateDataKey"], [data_key.key_arn])

        for name in (
            "validate_request",
            "wait_for_job",
            "job_events",
            "reconcile_jobs",
            "request_approval",
            "finalize",
        ):
            allow(name, list(STATE_TABLE_ACTIONS), [self.table.table_arn])
        allow("validate_request", ["ssm:GetParameter"], [self.policy_parameter.parameter_arn])
        # Each team's guardrails, from the registry its stack writes (bft.registry): any team of this environment.
        registry = registry_arn(stack, environment)
        allow("validate_request", ["ssm:GetParameter"], [registry])
        acknowledge(
            fn["validate_request"].role or self,
            f"IAM5[Resource::{resource_text(self, registry)}]",
            "The guardrails of whichever team of this environment submitted; read-only.",
        )
        allow("validate_request", ["bedrock:GetFoundationModel"], [foundation])
        read("validate_dataset", datasets)
        write("validate_dataset", reports, "reports/*")
        # Existing resources of this pipeline and environment only (Stop, Delete, serve from, invoke). The Service
        # Authorization Reference lists aws:ResourceTag/${TagKey} for the custom-model, provisioned-model,
        # custom-model-deployment and model-customization-job resource types, not for foundation-model: statements
        # on foundation models stay unconditioned (a condition on a key AWS does not supply denies everything).
        # The workflow tags each job, custom model, throughput and deployment with project, environment, team
        # and request (bft.workflow.request); these roles serve every team, so the team is not pinned here.
        ours = {"StringEquals": {"aws:ResourceTag/project": PROJECT_TAG, "aws:ResourceTag/environment": environment}}

        # bedrock:TagResource only as part of a create: Bedrock has no CreateAction condition key, so this
        # approximates "at creation" (a guess, not documented): the request's tags must be the pipeline's, and the
        # resource may not carry a project tag yet. A create is authorized against the new, still untagged
        # resource; an existing resource of this pipeline is tagged and cannot be re-tagged. An untagged foreign
        # resource could still be tagged: the roles can name only ARNs of this account and region.
        def tag_on_create(*extra_keys: str) -> dict[str, Any]:
            return {
                "StringEquals": {"aws:RequestTag/project": PROJECT_TAG, "aws:RequestTag/environment": environment},
                "ForAllValues:StringEquals": {"aws:TagKeys": [*RUN_TAG_KEYS, *extra_keys]},
                "Null": {"aws:ResourceTag/project": "true"},
            }

        def use_model_key(name: str, actions: list[str]) -> None:
            # Custom models are encrypted with this key (encryption-custom-job): creating one needs CreateGrant,
            # DescribeKey, GenerateDataKey and Decrypt; serving or invoking one, Decrypt and GenerateDataKey.
            allow(
                name,
                actions,
                [placement.custom_model_key_arn],
                StringEquals={"kms:ViaService": f"bedrock.{stack.region}.amazonaws.com"},
            )

        allow("start_job", ["bedrock:CreateModelCustomizationJob"], [foundation, custom_model, job])
        fn["start_job"].add_to_role_policy(
            iam.PolicyStatement(
                actions=["bedrock:TagResource"], resources=[custom_model, job], conditions=tag_on_create()
            )
        )
        allow("start_job", ["bedrock:GetModelCustomizationJob", "bedrock:ListTagsForResource"], [job])
        allow(
            "start_job",
            ["iam:PassRole"],
            [placement.service_role.role_arn],
            StringEquals={"iam:PassedToService": "bedrock.amazonaws.com"},
        )
        use_model_key("start_job", ["kms:CreateGrant", "kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"])
        for name in ("wait_for_job", "reconcile_jobs"):
            allow(name, ["bedrock:GetModelCustomizationJob"], [job])
        read("collect_metrics", outputs)
        write("collect_metrics", reports, "reports/*")
        notifications.grant_publish(fn["request_approval"])
        # Every step that serves, evaluates or cleans up finds the model from the run's own job and checks the
        # pipeline's tags on each resource before it acts (bft.workflow.ownership): reads, no tag condition.
        for name in ("create_serving", "check_serving", "evaluate", "cleanup"):
            allow(name, ["bedrock:GetModelCustomizationJob"], [job])
            allow(name, ["bedrock:ListTagsForResource"], [job, custom_model, provisioned, deployment])
        allow(
            "evaluate",
            ["bedrock:GetProvisionedModelThroughput", "bedrock:GetCustomModelDeployment"],
            [provisioned, deployment],
        )
        serve = ["bedrock:CreateProvisionedModelThroughput", "bedrock:CreateCustomModelDeployment"]
        # Serving is authorized against the custom model it serves: only this pipeline's, in this environment.
        fn["create_serving"].add_to_role_policy(
            iam.PolicyStatement(actions=serve, resources=[custom_model], conditions=ours)
        )
        # The new throughput or deployment: not an authorization resource of these actions in the reference, kept
        # (unconditioned: it does not exist yet) in case Bedrock checks it, as the fact sheet leaves open.
        allow("create_serving", serve, [provisioned, deployment])
        fn["create_serving"].add_to_role_policy(
            iam.PolicyStatement(
                actions=["bedrock:TagResource"],
                resources=[provisioned, deployment],
                # A non-prod throughput also carries the reaper's time-to-live (bft.workflow.serving).
                conditions=tag_on_create("ttl-hours"),
            )
        )
        use_model_key("create_serving", ["kms:Decrypt", "kms:GenerateDataKey"])
        allow(
            "check_serving",
            ["bedrock:GetProvisionedModelThroughput", "bedrock:GetCustomModelDeployment"],
            [provisioned, deployment],
        )
        fn["evaluate"].add_to_role_policy(
            iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=[provisioned, deployment], conditions=ours)
        )
        # foundation-model supports no aws:ResourceTag condition (see above).
        allow("evaluate", ["bedrock:InvokeModel"], [foundation])
        use_model_key("evaluate", ["kms:Decrypt", "kms:GenerateDataKey"])
        read("evaluate", datasets)
        write("evaluate", reports, "reports/*")
        # ScoreEvaluation reads the parts its chunks wrote, nothing else of the reports bucket.
        allow("evaluate", ["s3:GetObject"], [reports.arn_for_objects("reports/*/evaluation-parts/*")])
        self._grant_promotion(fn["promote"], ours, tag_on_create, use_model_key, job, custom_model, deployment)
        fn["cleanup"].add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "bedrock:StopModelCustomizationJob",
                    "bedrock:DeleteCustomModel",
                    "bedrock:DeleteProvisionedModelThroughput",
                    "bedrock:DeleteCustomModelDeployment",
                ],
                resources=[job, custom_model, provisioned, deployment],
                conditions=ours,
            )
        )
        # List* actions take no resource ARN.
        allow("cleanup", ["bedrock:ListProvisionedModelThroughputs", "bedrock:ListCustomModelDeployments"], ["*"])
        # Whether the team's endpoint serves the run's model (then it is kept): a read of the endpoint.
        allow("cleanup", ["bedrock:GetCustomModelDeployment"], [deployment])
        write("finalize", reports, "reports/*")
        # The report reads the documents the steps wrote beside it (bft.report.publish.read_documents): which
        # exist (a listing of the run's prefix), then each by its name.
        allow("finalize", ["s3:ListBucket"], [reports.bucket_arn], StringLike={"s3:prefix": ["reports/*"]})
        allow("finalize", ["s3:GetObject"], [reports.arn_for_objects(f"reports/*/{name}") for name in DOCUMENTS])
        allow("finalize", ["kms:Decrypt"], [data_key.key_arn])
        notifications.grant_publish(fn["finalize"])

        for resource, reason in (
            (foundation, "Any foundation model: which one is a per-request choice, checked against the allowed list."),
            (custom_model, "Custom models are created per request with generated names."),
            (job, "Customization jobs are created per request with generated names."),
            (provisioned, "Provisioned throughputs are created per request; Bedrock assigns their IDs."),
            (deployment, "Custom model deployments are created per request; Bedrock assigns their IDs."),
        ):
            acknowledge(self, f"IAM5[Resource::{resource_text(self, resource)}]", reason)
        for bucket, reason in (
            (datasets, "Reads datasets; the team prefix is checked by ValidateRequest first."),
            (outputs, "Reads the job outputs Bedrock wrote under job-specific prefixes."),
            (reports, "Writes reports under reports/<team>/<request>/."),
        ):
            for suffix in ("*", "reports/*"):
                acknowledge(self, f"IAM5[Resource::{resource_text(self, bucket.arn_for_objects(suffix))}]", reason)
        for name in DOCUMENTS:
            acknowledge(
                self,
                f"IAM5[Resource::{resource_text(self, reports.arn_for_objects(f'reports/*/{name}'))}]",
                "The report reads this document of any run it reports on (one function serves every team).",
            )
        acknowledge(
            fn["cleanup"].role or self, "IAM5[Resource::*]", "Bedrock List* actions support no resource-level scope."
        )
        acknowledge(
            self,
            f"IAM5[Resource::{resource_text(self, reports.arn_for_objects('reports/*/evaluation-parts/*'))}]",
            "ScoreEvaluation reads the evaluation parts of the run it scores (one function serves every team).",
        )

    @staticmethod
    def _grant_promotion(
        function: lambda_.Function,
        ours: dict[str, Any],
        tag_on_create: Any,
        use_model_key: Any,
        job: str,
        custom_model: str,
        deployment: str,
    ) -> None:
        """PromoteToEndpoint and CheckPromotion (bft.workflow.promotion): the team's endpoint, a deployment of
        this pipeline and environment found by its deterministic name, created for the team's first run and
        updated for the next; the record of its previous model in two tags of its own; the run's own deployment
        deleted once the endpoint serves its model."""

        def allow(actions: list[str], resources: list[str], **conditions: Any) -> None:
            function.add_to_role_policy(
                iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions or None)
            )

        # The run's model, from its own job (tags checked): reads.
        allow(["bedrock:GetModelCustomizationJob"], [job])
        allow(["bedrock:ListTagsForResource"], [job, custom_model, deployment])
        # Found by name: a deployment that does not exist yet must answer ResourceNotFound, not AccessDenied, so the
        # read is unconditioned (the code checks the endpoint's tags before it changes anything).
        allow(["bedrock:GetCustomModelDeployment"], [deployment])
        # The first run creates the endpoint, authorized against the model it serves: this pipeline's only.
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["bedrock:CreateCustomModelDeployment"], resources=[custom_model], conditions=ours
            )
        )
        allow(["bedrock:CreateCustomModelDeployment"], [deployment])
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["bedrock:TagResource"], resources=[deployment], conditions=tag_on_create("endpoint")
            )
        )
        # Later runs point it at their model: an endpoint of this pipeline and environment, a model of it too.
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["bedrock:UpdateCustomModelDeployment"], resources=[deployment, custom_model], conditions=ours
            )
        )
        # The record of the previous model: only its two tag keys, only on this pipeline's endpoints.
        endpoint = {
            "StringEquals": ours["StringEquals"],
            "Null": {"aws:ResourceTag/endpoint": "false"},
        }
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["bedrock:TagResource"],
                resources=[deployment],
                conditions=endpoint
                | {"ForAllValues:StringEquals": {"aws:TagKeys": ["previous-model", "pending-previous-model"]}},
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["bedrock:UntagResource"],
                resources=[deployment],
                conditions=endpoint | {"ForAllValues:StringEquals": {"aws:TagKeys": ["pending-previous-model"]}},
            )
        )
        # The run's own deployment, once the endpoint serves its model (its tags checked first).
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["bedrock:DeleteCustomModelDeployment"], resources=[deployment], conditions=ours
            )
        )
        use_model_key("promote", ["kms:Decrypt", "kms:GenerateDataKey"])


class TeamWorkflow(Construct):
    """One team's state machine, its execution log group and its alarms, in the team's own stack.

    One machine per team: IAM can then let a team start executions of its own machine only, and the machine
    stamps the team on every request it runs. It invokes the shared functions with the shared state machine
    role, both found through the registry (``functions``, ``role``: imported, never granted from here).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        team: str,
        environment: str,
        functions: Mapping[str, lambda_.IFunction],
        role: iam.IRole,
        topic: sns.ITopic,
        timing: Timing,
        log_retention: logs.RetentionDays,
        production: bool,
    ) -> None:
        super().__init__(scope, id_)
        removal = RemovalPolicy.RETAIN if production else RemovalPolicy.DESTROY
        Tags.of(self).add("team", team)  # executions cannot carry tags; their machine does
        log_group = logs.LogGroup(self, "ExecutionLogs", retention=log_retention, removal_policy=removal)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            # A fixed name (bft.registry.state_machine_name): the shared functions' callback policy reaches every
            # team's machine through one name pattern instead of a list that grows with the teams.
            state_machine_name=state_machine_name(environment, team),
            state_machine_type=sfn.StateMachineType.STANDARD,  # waits of hours and task tokens need Standard
            definition_body=sfn.DefinitionBody.from_chainable(definition(self, functions, timing, team)),
            timeout=Duration.seconds(timing.execution_timeout_seconds),
            role=role,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=not production),
        )
        action = cw_actions.SnsAction(topic)
        for name, metric in (
            ("ExecutionsFailed", self.state_machine.metric_failed()),
            ("ExecutionsTimedOut", self.state_machine.metric_timed_out()),
        ):
            alarm = cloudwatch.Alarm(
                self,
                f"{name}Alarm",
                metric=metric.with_(period=Duration.minutes(5), statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"Fine-tuning executions of team {team} "
                f"{name.removeprefix('Executions').lower()}; see the run report",
            )
            alarm.add_alarm_action(action)


class ApprovalDecisions(Construct):
    """Reviewers approve or reject waiting runs through one function URL with ``AuthType AWS_IAM``.

    No human role holds ``states:SendTask*``: only this function resumes an execution waiting for approval,
    after its handler checked the caller against the team's registry entry (a reviewer of the team) and
    refused the team's own submitter role. The environment's reviewers are allowed by the function's resource
    policy here, a team's own reviewers from the team's stack (``allow_reviewer``); a reviewer in another
    account also needs an identity policy allowing ``lambda:InvokeFunctionUrl`` and ``lambda:InvokeFunction``
    on this function, which that account grants. (Same-account roles need nothing more than the resource
    policy.)
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        factory: FunctionFactory,
        table: dynamodb.ITableV2,
        machine_pattern: str,
        environment: str,
        production: bool,
        reviewers: list[str],
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.function = factory.function(
            "decide_approval",
            description="Approve or reject a run waiting for a reviewer",
            timeout=Duration.seconds(30),
            environment={
                "STATE_TABLE": table.table_name,
                "ENVIRONMENT": environment,
                "PRODUCTION": "true" if production else "false",
                # Each team's reviewers and submitter role come from its registry entry (bft.registry), read
                # per decision: onboarding a team changes nothing here.
                "REGISTRY_PATH": teams_path(environment),
            },
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=list(STATE_TABLE_ACTIONS), resources=[table.table_arn])
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:SendTaskSuccess", "states:SendTaskFailure"], resources=[machine_pattern]
            )
        )
        registry = registry_arn(stack, environment)
        self.function.add_to_role_policy(iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[registry]))
        for resource, reason in (
            (machine_pattern, "Every team's state machine of this environment (fixed name prefix)."),
            (registry, "The registry entries of this environment's teams: reviewers and submitter role, read-only."),
        ):
            acknowledge(self.function.role or self, f"IAM5[Resource::{resource_text(self, resource)}]", reason)
        self.url = self.function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.AWS_IAM)
        # The environment's reviewers (every team's); a team's own reviewers are allowed from its stack.
        for arn in sorted(set(reviewers)):
            allow_reviewer(self.function, self.function, arn)
        # What a reviewer's own role needs, ready to attach (`bft approve` reads the stack's outputs, then posts
        # to the URL): same-account reviewers are allowed by the resource policy above, but finding the URL needs
        # DescribeStacks, and a reviewer of another account needs the invoke actions in its own policy too.
        pipeline_stack = stack.format_arn(
            service="cloudformation", resource="stack", resource_name=f"{stack.stack_name}/*"
        )
        self.reviewer_policy = iam.ManagedPolicy(
            self,
            "ReviewerPolicy",
            description="Attach to reviewer roles: find the approval function and call its URL",
            statements=[
                iam.PolicyStatement(
                    actions=["cloudformation:DescribeStacks"],
                    resources=[pipeline_stack],
                ),
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunctionUrl"],
                    resources=[self.function.function_arn],
                    conditions={"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
                ),
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"],
                    resources=[self.function.function_arn],
                    conditions={"Bool": {"lambda:InvokedViaFunctionUrl": "true"}},
                ),
            ],
        )
        acknowledge(
            self.reviewer_policy,
            f"IAM5[Resource::{resource_text(self, pipeline_stack)}]",
            "The pipeline stack, whatever its generated id suffix: the CLI reads its outputs.",
        )


def allow_reviewer(scope: Construct, function: lambda_.IFunction, arn: str) -> None:
    """Let one reviewer call the approval function's URL (its resource policy). Since October 2025 a function
    URL call needs both actions; the second is limited to calls through the URL."""
    suffix = hashlib.sha256(arn.encode()).hexdigest()[:8].upper()  # stable ids, whatever the order
    principal = iam.ArnPrincipal(arn)
    lambda_.CfnPermission(
        scope,
        f"ReviewerInvokeUrl{suffix}",
        action="lambda:InvokeFunctionUrl",
        function_name=function.function_arn,
        principal=principal.arn,
        function_url_auth_type="AWS_IAM",
    )
    lambda_.CfnPermission(
        scope,
        f"ReviewerInvoke{suffix}",
        action="lambda:InvokeFunction",
        function_name=function.function_arn,
        principal=principal.arn,
        invoked_via_function_url=True,
    )
