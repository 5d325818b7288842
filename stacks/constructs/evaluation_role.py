"""The role Bedrock assumes to run the LLM judge's model evaluation jobs."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.nag import acknowledge, resource_text

# Where the Evaluate step writes the judge's datasets and Bedrock its results, in the outputs bucket
# (bft.workflow.judge.judge_prefix): judge/<team>/<request>/<execution>/{input,output}/.
JUDGE_PREFIX = "judge/"


class EvaluationServiceRole(Construct):
    """Bedrock's service role for evaluation jobs: read the judge's datasets, write its results, invoke the
    judge models the environment allows, nothing more.

    The trust policy names this account and its evaluation-job ARNs in this region (aws:SourceAccount,
    aws:SourceArn: the confused-deputy guard), as the customization role's does for its jobs.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        outputs: s3.IBucket,
        data_key: kms.IKey,
        judge_models: list[str],
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        jobs = stack.format_arn(service="bedrock", resource="evaluation-job", resource_name="*")
        self.role = iam.Role(
            self,
            "Role",
            description="Assumed by Amazon Bedrock to run this pipeline's LLM-judge evaluation jobs",
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": jobs},
                },
            ),
        )
        inputs = outputs.arn_for_objects(f"{JUDGE_PREFIX}*/input/*")
        results = outputs.arn_for_objects(f"{JUDGE_PREFIX}*/output/*")
        policy = self.role.add_to_principal_policy
        policy(iam.PolicyStatement(sid="ReadJudgeDatasets", actions=["s3:GetObject"], resources=[inputs]))
        # Bedrock lists and checks the output location; the object actions stay under the judge's prefixes.
        policy(
            iam.PolicyStatement(
                sid="FindOutputLocation",
                actions=["s3:ListBucket", "s3:GetBucketLocation"],
                resources=[outputs.bucket_arn],
            )
        )
        policy(
            iam.PolicyStatement(
                sid="WriteJudgeResults",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[results],
            )
        )
        policy(
            iam.PolicyStatement(
                sid="UseDataKeyThroughS3",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[data_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
            )
        )
        judges = [
            stack.format_arn(service="bedrock", resource="foundation-model", resource_name=model, account="")
            for model in judge_models
        ]
        policy(iam.PolicyStatement(sid="InvokeJudgeModels", actions=["bedrock:InvokeModel"], resources=judges))
        for resource, reason in (
            (inputs, "The judge's datasets of any run: one prefix per team, request and execution."),
            (results, "The judge's results of any run, where Bedrock writes them under its job's name."),
        ):
            acknowledge(self.role, f"IAM5[Resource::{resource_text(self, resource)}]", reason)
