"""The customization workflow: a Standard state machine whose Lambda steps take a request from dataset
to a served, evaluated custom model, and end, whatever happens, in a defined state with cleanup done.

The constructs are here; what they build is split by responsibility: the states in workflow_definition, the
IAM statements in workflow_grants, the alarms in workflow_alarms."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack, Tags
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

from bft.registry import state_machine_name, teams_path
from stacks.constructs.functions import FunctionFactory
from stacks.constructs.grader_grants import grant_graders
from stacks.constructs.notifications import Notifications
from stacks.constructs.workflow_alarms import execution_alarms
from stacks.constructs.workflow_definition import Timing, definition
from stacks.constructs.workflow_grants import (
    STATE_TABLE_ACTIONS,
    JobPlacement,
    allow_reviewer,
    grant_execution_history,
    grant_judge,
    grant_steps,
    grant_task_responses,
    machine_pattern,
    registry_arn,
    state_machine_role,
)
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
        judge_role: iam.IRole | None = None,
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
                environment={
                    **table_env,
                    "POLICY_PARAMETER": self.policy_parameter.parameter_name,
                    # CheckSpendCap: the run's estimate, and the team's month in the reports (bft.workflow.spend).
                    "PRICES": json.dumps(prices),
                    "REPORTS_BUCKET": reports.bucket_name,
                },
            ),
            "validate_dataset": make(
                "validate_dataset",
                description="Stream-validate the dataset",
                timeout=Duration.minutes(15),
                memory_size=1024,
                environment={"REPORTS_BUCKET": reports.bucket_name, "OUTPUTS_BUCKET": outputs.bucket_name},
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
                environment=table_env,  # the approval decision of a run that waited for one
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
                environment={"REPORTS_BUCKET": reports.bucket_name}
                | (
                    # The LLM judge (bft.workflow.judge): its datasets and results in the outputs bucket.
                    {"OUTPUTS_BUCKET": outputs.bucket_name, "JUDGE_ROLE_ARN": judge_role.role_arn}
                    if judge_role is not None
                    else {}
                ),
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
        # The pipeline's grader, invoked by Bedrock (as the service role) during reinforcement fine-tuning jobs:
        # only where the environment allows reinforcement (customization_types), so no other grants an unused
        # function or invoke permissions.
        if "reinforcement" in (policy_document.get("customizationTypes") or []):
            fn["grader"] = make(
                "grader",
                description="Score reinforcement fine-tuning answers with the built-in graders",
                timeout=Duration.minutes(5),
                memory_size=512,
                environment={},
            )
            fn["start_job"].add_environment("GRADER_FUNCTION_ARN", fn["grader"].function_arn)
            grant_graders(
                self,
                grader=fn["grader"],
                service_role=placement.service_role,
                validate_dataset=fn["validate_dataset"],
                outputs=outputs,
                data_key=data_key,
                environment=environment,
            )
        self.functions = fn
        grant_steps(
            self,
            fn,
            table=self.table,
            policy_parameter=self.policy_parameter,
            datasets=datasets,
            outputs=outputs,
            reports=reports,
            data_key=data_key,
            placement=placement,
            notifications=notifications,
            environment=environment,
            base_models=list(policy_document["allowedBaseModels"]),
        )
        if judge_role is not None:
            grant_judge(
                self,
                fn["evaluate"],
                cleanup=fn["cleanup"],
                judge_role=judge_role,
                judge_models=list(policy_document.get("judgeModels") or []),
                outputs=outputs,
                environment=environment,
            )

        # Only the steps of the definition: JobEvents and ReconcileJobs are EventBridge's to invoke.
        self.step_functions = {name: fn[name] for name in STEP_FUNCTIONS}
        self.role = state_machine_role(self, list(self.step_functions.values()), environment=environment)
        # Each team's state machine lives in the team's own stack (TeamWorkflow): what resumes or reads an execution
        # reaches every team's machine through one ARN pattern over their names (workflow_grants).
        self.machine_pattern = machine_pattern(stack, environment)
        grant_task_responses(self, fn, self.machine_pattern)
        grant_execution_history(self, fn["finalize"], environment)
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

    # -- configuration -----------------------------------------------------------------------------------
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
        team_topic: sns.ITopic | None = None,
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
            # Never the execution data, in any environment: a state's input carries task tokens (approval, job),
            # and whoever reads the log group could resume a run with one (issue #23, L1).
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        execution_alarms(self, self.state_machine, [topic, *([team_topic] if team_topic else [])], team)


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
