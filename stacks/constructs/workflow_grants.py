"""What the customization workflow's functions and state machine may do: the IAM statements of each step's
function, the shared state machine role, the policies that resume a parked execution and read its history, and
the approval function's resource policy; with the reason for every wildcard cdk-nag flags."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from bft.registry import state_machine_prefix, team_path, teams_path
from bft.report.render import DOCUMENTS
from bft.workflow.reaper import PROJECT_TAG
from bft.workflow.spend import LEDGER_FOLDER
from stacks.constructs.notifications import Notifications
from stacks.nag import acknowledge, resource_text

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

# The partition keys of reviewers' decisions in the state table (bft.workflow.state.decision_key).
NOT_DECISIONS = {"ForAllValues:StringNotLike": {"dynamodb:LeadingKeys": ["decision#*"]}}
DECISIONS_ONLY = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["decision#*"]}}


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


def state_machine_role(scope: Construct, functions: list[lambda_.Function], *, environment: str) -> iam.Role:
    """The role every team's state machine runs with (shared, found through the registry): it invokes the
    definition's functions, delivers the execution logs and writes traces.

    Only this environment's state machines in this account may assume it (aws:SourceAccount, aws:SourceArn on
    the trust: the confused-deputy guard the Step Functions guide recommends; audit L3)."""
    stack = Stack.of(scope)
    role = iam.Role(
        scope,
        "StateMachineRole",
        assumed_by=iam.ServicePrincipal(
            "states.amazonaws.com",
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {"aws:SourceArn": machine_pattern(stack, environment)},
            },
        ),
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


def grant_task_responses(scope: Construct, fn: dict[str, lambda_.Function], pattern: str) -> None:
    """The functions that resume an execution parked on its job: WaitForJob, JobEvents, ReconcileJobs.

    Each team's state machine lives in the team's own stack (TeamWorkflow). Resuming a parked execution
    must reach whichever team's machine issued the token: one ARN pattern over the environment's machine
    names (bft.registry.state_machine_name), so this policy's size does not grow with the teams."""
    iam.Policy(
        scope,
        "TaskResponsePolicy",
        roles=[role for name in ("wait_for_job", "job_events", "reconcile_jobs") if (role := fn[name].role)],
        statements=[
            iam.PolicyStatement(actions=["states:SendTaskSuccess", "states:SendTaskFailure"], resources=[pattern])
        ],
    )
    acknowledge(
        scope,
        f"IAM5[Resource::{resource_text(scope, pattern)}]",
        "Every team's state machine of this environment (fixed name prefix): the functions resume the "
        "execution whose task token they hold, whichever team's it is.",
    )


def grant_execution_history(scope: Construct, finalize: lambda_.Function, environment: str) -> None:
    """The report's path through the states: Finalize reads its own execution's history, whichever team's
    machine runs it. One pattern over the machines' fixed name prefix: its size does not grow with teams."""
    executions = Stack.of(scope).format_arn(
        service="states",
        resource="execution",
        resource_name=f"{state_machine_prefix(environment)}*:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    finalize_role = finalize.role
    assert finalize_role is not None
    iam.Policy(
        scope,
        "ExecutionHistoryPolicy",
        roles=[finalize_role],
        statements=[iam.PolicyStatement(actions=["states:GetExecutionHistory"], resources=[executions])],
    )
    acknowledge(
        scope,
        f"IAM5[Resource::{resource_text(scope, executions)}]",
        "Executions are named per request; these are the executions of this environment's team machines.",
    )


def bedrock_model_arn(stack: Stack, model_id: str) -> str:
    """A foundation model's ARN (no account: foundation models are AWS's)."""
    return stack.format_arn(service="bedrock", resource="foundation-model", resource_name=model_id, account="")


def grant_steps(
    scope: Construct,
    fn: dict[str, lambda_.Function],
    *,
    table: dynamodb.ITableV2,
    policy_parameter: ssm.IStringParameter,
    datasets: s3.IBucket,
    outputs: s3.IBucket,
    reports: s3.IBucket,
    data_key: kms.IKey,
    placement: JobPlacement,
    notifications: Notifications,
    environment: str,
    base_models: list[str],
) -> None:
    """What each step's function may do, and the reason for each wildcard resource cdk-nag flags.

    ``base_models``: the environment's allowed base models (every team's are among them): the only foundation
    models StartJob may customize, whatever a request slips past ValidateRequest (audit L4)."""
    stack = Stack.of(scope)

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
        # Never a reviewer's decision (decision#...): only the approval function writes those. Scan has no
        # leading key (IAM refuses the condition on it): it only reads.
        keyed = [action for action in STATE_TABLE_ACTIONS if action != "dynamodb:Scan"]
        allow(name, keyed, [table.table_arn], **NOT_DECISIONS)
        allow(name, ["dynamodb:Scan"], [table.table_arn])
    # CreateServing reads the decision on its own run, and nothing else of the table.
    allow("create_serving", ["dynamodb:GetItem"], [table.table_arn], **DECISIONS_ONLY)
    allow("validate_request", ["ssm:GetParameter"], [policy_parameter.parameter_arn])
    # Each team's guardrails, from the registry its stack writes (bft.registry): any team of this environment.
    registry = registry_arn(stack, environment)
    allow("validate_request", ["ssm:GetParameter"], [registry])
    acknowledge(
        fn["validate_request"].role or scope,
        f"IAM5[Resource::{resource_text(scope, registry)}]",
        "The guardrails of whichever team of this environment submitted; read-only.",
    )
    allow("validate_request", ["bedrock:GetFoundationModel"], [foundation])
    # The team's runs in flight (bft.workflow.request.check_concurrency): its own state machine's executions.
    machines = machine_pattern(stack, environment)
    allow("validate_request", ["states:ListExecutions"], [machines])
    acknowledge(
        fn["validate_request"].role or scope,
        f"IAM5[Resource::{resource_text(scope, machines)}]",
        "Lists the running executions of whichever team's state machine submitted (their fixed name prefix).",
    )
    # CheckSpendCap (bft.workflow.spend): lists one month's ledger, reads each run's report and ledger entry,
    # and writes the run's own entry. Nothing else of the reports bucket.
    ledger = f"reports/*/{LEDGER_FOLDER}/*"
    allow("validate_request", ["s3:ListBucket"], [reports.bucket_arn], StringLike={"s3:prefix": [ledger]})
    allow("validate_request", ["s3:GetObject"], [reports.arn_for_objects(k) for k in ("reports/*/run.json", ledger)])
    allow("validate_request", ["s3:PutObject"], [reports.arn_for_objects(ledger)])
    allow("validate_request", ["kms:Decrypt", "kms:GenerateDataKey"], [data_key.key_arn])
    for key, why in (
        ("reports/*/run.json", "Reads the cost block of the team's runs this month (one function serves every team)."),
        (ledger, "The month's spend ledger of the team whose run it checks (one function serves every team)."),
    ):
        acknowledge(
            fn["validate_request"].role or scope,
            f"IAM5[Resource::{resource_text(scope, reports.arn_for_objects(key))}]",
            why,
        )
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

    allowed_bases = [bedrock_model_arn(stack, model) for model in sorted(set(base_models))]
    allow("start_job", ["bedrock:CreateModelCustomizationJob"], [*allowed_bases, custom_model, job])
    fn["start_job"].add_to_role_policy(
        iam.PolicyStatement(actions=["bedrock:TagResource"], resources=[custom_model, job], conditions=tag_on_create())
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
    _grant_promotion(fn["promote"], ours, tag_on_create, use_model_key, job, custom_model, deployment)
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
        acknowledge(scope, f"IAM5[Resource::{resource_text(scope, resource)}]", reason)
    for bucket, reason in (
        (datasets, "Reads datasets; the team prefix is checked by ValidateRequest first."),
        (outputs, "Reads the job outputs Bedrock wrote under job-specific prefixes."),
        (reports, "Writes reports under reports/<team>/<request>/."),
    ):
        for suffix in ("*", "reports/*"):
            acknowledge(scope, f"IAM5[Resource::{resource_text(scope, bucket.arn_for_objects(suffix))}]", reason)
    for name in DOCUMENTS:
        acknowledge(
            scope,
            f"IAM5[Resource::{resource_text(scope, reports.arn_for_objects(f'reports/*/{name}'))}]",
            "The report reads this document of any run it reports on (one function serves every team).",
        )
    acknowledge(
        fn["cleanup"].role or scope, "IAM5[Resource::*]", "Bedrock List* actions support no resource-level scope."
    )
    acknowledge(
        scope,
        f"IAM5[Resource::{resource_text(scope, reports.arn_for_objects('reports/*/evaluation-parts/*'))}]",
        "ScoreEvaluation reads the evaluation parts of the run it scores (one function serves every team).",
    )


def grant_judge(
    scope: Construct,
    function: lambda_.Function,
    *,
    cleanup: lambda_.Function,
    judge_role: iam.IRole,
    judge_models: list[str],
    outputs: s3.IBucket,
    environment: str,
) -> None:
    """StartJudge and CheckJudge (bft.workflow.judge): start evaluation jobs with the environment's judges
    only, tagged as the pipeline's; read and stop them (stop: this pipeline's only); pass the evaluation role
    to Bedrock only; write the judge's datasets and read its results under the outputs bucket's judge/.
    Cleanup (bft.workflow.cleanup) finds a failed run's evaluation jobs by name, reads their tags, and reads and
    stops this pipeline's."""
    stack = Stack.of(scope)
    jobs = stack.format_arn(service="bedrock", resource="evaluation-job", resource_name="*")
    judges = [bedrock_model_arn(stack, model) for model in judge_models]
    ours = {"StringEquals": {"aws:ResourceTag/project": PROJECT_TAG, "aws:ResourceTag/environment": environment}}

    def allow(actions: list[str], resources: list[str], conditions: dict[str, Any] | None = None) -> None:
        function.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions))

    # The SAR authorizes CreateEvaluationJob on the models it names (here the judge): the allowed judges only.
    allow(["bedrock:CreateEvaluationJob"], judges)
    allow(
        ["bedrock:TagResource"],
        [jobs],
        {
            "StringEquals": {"aws:RequestTag/project": PROJECT_TAG, "aws:RequestTag/environment": environment},
            "ForAllValues:StringEquals": {"aws:TagKeys": list(RUN_TAG_KEYS)},
            "Null": {"aws:ResourceTag/project": "true"},
        },
    )
    allow(["bedrock:GetEvaluationJob"], [jobs])
    allow(["bedrock:StopEvaluationJob"], [jobs], ours)
    allow(
        ["iam:PassRole"],
        [judge_role.role_arn],
        {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
    )
    judge_objects = outputs.arn_for_objects("judge/*")
    allow(["s3:PutObject", "s3:GetObject"], [judge_objects])
    allow(["s3:ListBucket"], [outputs.bucket_arn], {"StringLike": {"s3:prefix": ["judge/*"]}})
    for resource, reason in (
        (jobs, "Evaluation jobs are created per run; Bedrock assigns their IDs. Stop is limited to this pipeline's."),
        (judge_objects, "The judge's datasets and results of any run, one prefix per team, request and execution."),
    ):
        acknowledge(function.role or scope, f"IAM5[Resource::{resource_text(scope, resource)}]", reason)

    # Cleanup: a failed run's jobs, found by name (List* takes no resource ARN; the cleanup role's "*" is
    # acknowledged in grant_steps), each one's tags read before it is touched (a foreign job's too, to report
    # it), then read and stopped only if it is this pipeline's.
    cleanup.add_to_role_policy(iam.PolicyStatement(actions=["bedrock:ListEvaluationJobs"], resources=["*"]))
    cleanup.add_to_role_policy(iam.PolicyStatement(actions=["bedrock:ListTagsForResource"], resources=[jobs]))
    cleanup.add_to_role_policy(
        iam.PolicyStatement(
            actions=["bedrock:GetEvaluationJob", "bedrock:StopEvaluationJob"], resources=[jobs], conditions=ours
        )
    )
    acknowledge(
        cleanup.role or scope,
        f"IAM5[Resource::{resource_text(scope, jobs)}]",
        "A failed run's evaluation jobs, whose IDs Bedrock assigns: tags read on any, read and stop only this "
        "pipeline's.",
    )


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
        iam.PolicyStatement(actions=["bedrock:CreateCustomModelDeployment"], resources=[custom_model], conditions=ours)
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
        iam.PolicyStatement(actions=["bedrock:DeleteCustomModelDeployment"], resources=[deployment], conditions=ours)
    )
    use_model_key("promote", ["kms:Decrypt", "kms:GenerateDataKey"])


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
