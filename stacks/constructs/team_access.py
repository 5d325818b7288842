"""What one onboarded team may do: submit to its own state machine, use its own data prefix, read its own
reports, tear down its own throughputs and roll its own endpoint back. Nothing of another team's.

It never decides approvals: no human role holds states:SendTask* or the approval items. Reviewers decide
through the approval function URL (workflow.ApprovalDecisions), which refuses a team's own submitter role."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from bft.registry import team_path
from bft.workflow.reaper import PROJECT_TAG
from stacks.nag import acknowledge, resource_text

# Trust only sessions that carry a source identity (the person behind the session).
SOURCE_IDENTITY = {"StringLike": {"sts:SourceIdentity": "*"}}


class TeamAccess(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        team: str,
        submitters: list[str],
        state_machine: sfn.StateMachine,
        datasets: s3.IBucket,
        reports: s3.IBucket,
        data_key: kms.IKey,
        custom_model_key_arn: str,
        environment: str,
        pipeline_stack_name: str,
    ) -> None:
        super().__init__(scope, id_)
        self.team = team
        self.state_machine = state_machine
        self.role: iam.Role | None = None
        if not submitters:
            return  # a team without submitters is configured but cannot submit yet
        stack = Stack.of(self)
        principals = [iam.ArnPrincipal(arn) for arn in submitters]
        # A session of this role must name its person (sts:SourceIdentity: set by the identity provider, or
        # by `aws sts assume-role --source-identity`); it persists through role chaining and CloudTrail
        # records it with every call, StartExecution included.
        self.role = role = iam.Role(
            self,
            "SubmitterRole",
            assumed_by=iam.CompositePrincipal(*principals).with_conditions(SOURCE_IDENTITY),
            description=f"Team {team}: submit fine-tuning requests and read their results",
        )
        role.assume_role_policy.add_statements(  # type: ignore[union-attr]
            iam.PolicyStatement(actions=["sts:SetSourceIdentity"], principals=principals, conditions=SOURCE_IDENTITY)
        )
        state_machine.grant_start_execution(role)
        executions = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

        def allow(actions: list[str], resources: list[str], **conditions: object) -> None:
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions or None))

        allow(["states:ListExecutions"], [state_machine.state_machine_arn])
        # The bft CLI finds the buckets and table from the pipeline stack's outputs, and the team's machine and
        # role in the team's own registry entry (bft.deployment): its own path only, never another team's.
        pipeline_stack = stack.format_arn(
            service="cloudformation", resource="stack", resource_name=f"{pipeline_stack_name}/*"
        )
        allow(["cloudformation:DescribeStacks"], [pipeline_stack])
        # GetParametersByPath is authorized on the path itself: this team's, not the registry of every team.
        own_path = stack.format_arn(
            service="ssm", resource="parameter", resource_name=team_path(environment, team).lstrip("/")
        )
        allow(["ssm:GetParametersByPath"], [own_path])
        # No StopExecution: a stopped execution skips the workflow's Catch -> Cleanup, leaving a job or a
        # throughput billing; `bft teardown` is the way out. No GetExecutionHistory: the history of a run waiting
        # for approval carries its task token (issue #23); `bft status` reads DescribeExecution and the report.
        allow(["states:DescribeExecution"], [executions])
        # Upload only (`bft submit`); multipart uploads of large files also need kms:Decrypt (below).
        allow(["s3:PutObject"], [datasets.arn_for_objects(f"{team}/*")])
        allow(["s3:GetObject"], [reports.arn_for_objects(f"reports/{team}/*")])
        allow(["s3:ListBucket"], [reports.bucket_arn], StringLike={"s3:prefix": [f"reports/{team}/*"]})
        allow(
            ["kms:GenerateDataKey", "kms:Decrypt"],
            [data_key.key_arn],
            StringEquals={"kms:ViaService": f"s3.{stack.region}.amazonaws.com"},
        )

        def bedrock_arn(kind: str) -> str:
            return stack.format_arn(service="bedrock", resource=kind, resource_name="*")

        provisioned, deployment = bedrock_arn("provisioned-model"), bedrock_arn("custom-model-deployment")
        job, custom_model = bedrock_arn("model-customization-job"), bedrock_arn("custom-model")
        # `bft teardown`: the run's throughput or deployment and, with --delete-model, its custom model, found
        # from the run's own job; each checked by its tags first (bft.workflow.ownership). All four resource
        # types support aws:ResourceTag (Service Authorization Reference): the team's own, of this pipeline and
        # environment, and nothing else.
        team_owned = {
            "aws:ResourceTag/team": team,
            "aws:ResourceTag/project": PROJECT_TAG,
            "aws:ResourceTag/environment": environment,
        }
        allow(
            [
                "bedrock:GetProvisionedModelThroughput",
                "bedrock:DeleteProvisionedModelThroughput",
                "bedrock:GetCustomModelDeployment",
                "bedrock:DeleteCustomModelDeployment",
                "bedrock:ListTagsForResource",
            ],
            [provisioned, deployment],
            StringEquals=team_owned,
        )
        allow(
            ["bedrock:GetModelCustomizationJob", "bedrock:ListTagsForResource"],
            [job],
            StringEquals=team_owned,
        )
        allow(
            ["bedrock:GetCustomModel", "bedrock:DeleteCustomModel", "bedrock:ListTagsForResource"],
            [custom_model],
            StringEquals=team_owned,
        )
        # `bft rollback`: the team's own endpoint back to a model of the team's own (bft.workflow.promotion). Both
        # resources carry the team's tags; a deployment or model of another team is refused here as in the code.
        allow(["bedrock:UpdateCustomModelDeployment"], [deployment, custom_model], StringEquals=team_owned)
        # Serving a custom model encrypted with a customer key uses the key (encryption-custom-job), through Bedrock.
        allow(
            ["kms:Decrypt", "kms:GenerateDataKey"],
            [custom_model_key_arn],
            StringEquals={"kms:ViaService": f"bedrock.{stack.region}.amazonaws.com"},
        )
        for finding, reason in (
            (datasets.arn_for_objects(f"{team}/*"), "The team's own dataset prefix."),
            (reports.arn_for_objects(f"reports/{team}/*"), "The team's own reports."),
            (provisioned, "Only throughputs tagged with this team (tag condition)."),
            (deployment, "Only deployments tagged with this team (tag condition)."),
            (job, "Only the team's own jobs (tag condition): teardown finds the model from its run's job."),
            (custom_model, "Only custom models tagged with this team (tag condition)."),
            (executions, "Executions of the team's own state machine."),
            (pipeline_stack, "The pipeline stack, whatever its generated id suffix: the CLI reads its outputs."),
        ):
            acknowledge(role, f"IAM5[Resource::{resource_text(self, finding)}]", reason)
