"""What one onboarded team may do: submit to its own state machine, use its own data prefix, read its own
reports and tear down its own throughputs. Nothing of another team's.

It never decides approvals: no human role holds states:SendTask* or the approval items. Reviewers decide
through the approval function URL (workflow.ApprovalDecisions), which refuses a team's own submitter role."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from bft.workflow.reaper import PROJECT_TAG
from stacks.nag import acknowledge, resource_text


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
        environment: str,
    ) -> None:
        super().__init__(scope, id_)
        self.team = team
        self.state_machine = state_machine
        self.role: iam.Role | None = None
        if not submitters:
            return  # a team without submitters is configured but cannot submit yet
        stack = Stack.of(self)
        principals = [iam.ArnPrincipal(arn) for arn in submitters]
        self.role = role = iam.Role(
            self,
            "SubmitterRole",
            assumed_by=iam.CompositePrincipal(*principals),
            description=f"Team {team}: submit fine-tuning requests and read their results",
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
        allow(["states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"], [executions])
        allow(["s3:PutObject", "s3:GetObject"], [datasets.arn_for_objects(f"{team}/*")])
        allow(["s3:ListBucket"], [datasets.bucket_arn], StringLike={"s3:prefix": [f"{team}/*"]})
        allow(["s3:GetObject"], [reports.arn_for_objects(f"reports/{team}/*")])
        allow(["s3:ListBucket"], [reports.bucket_arn], StringLike={"s3:prefix": [f"reports/{team}/*"]})
        allow(
            ["kms:GenerateDataKey", "kms:Decrypt"],
            [data_key.key_arn],
            StringEquals={"kms:ViaService": f"s3.{stack.region}.amazonaws.com"},
        )
        provisioned = stack.format_arn(service="bedrock", resource="provisioned-model", resource_name="*")
        allow(["bedrock:ListProvisionedModelThroughputs"], ["*"])
        allow(
            ["bedrock:GetProvisionedModelThroughput", "bedrock:DeleteProvisionedModelThroughput"],
            [provisioned],
            # provisioned-model supports aws:ResourceTag (Service Authorization Reference): the team's own,
            # of this pipeline and environment.
            StringEquals={
                "aws:ResourceTag/team": team,
                "aws:ResourceTag/project": PROJECT_TAG,
                "aws:ResourceTag/environment": environment,
            },
        )
        for finding, reason in (
            (datasets.arn_for_objects(f"{team}/*"), "The team's own dataset prefix."),
            (reports.arn_for_objects(f"reports/{team}/*"), "The team's own reports."),
            ("*", "ListProvisionedModelThroughputs has no resource scope; deletes are tag-conditioned."),
            (provisioned, "Only throughputs tagged with this team (tag condition)."),
            (executions, "Executions of the team's own state machine."),
        ):
            acknowledge(role, f"IAM5[Resource::{resource_text(self, finding)}]", reason)
