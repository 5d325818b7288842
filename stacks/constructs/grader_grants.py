"""Who may invoke reinforcement fine-tuning graders, and the pipeline grader's own grants.

Bedrock invokes a job's grader as the customization service role. Lambda's InvokeFunction takes no
aws:ResourceTag condition in the Service Authorization Reference (docs/bedrock-behaviour.md#grader-permissions),
so graders are scoped by name: the pipeline's grader function, and the functions named ``bft_<env>_<team>_...``
(bft.workflow.customization.grader_prefix). The service role serves every team of the environment, so IAM scopes
it to the environment's graders; ValidateRequest refuses a request naming another team's grader.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.nag import acknowledge, resource_text


def team_graders_arn(stack: Stack, environment: str) -> str:
    """Every team grader function of ``environment`` in this account and region."""
    return stack.format_arn(
        service="lambda",
        resource="function",
        resource_name=f"bft_{environment}_*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def grant_graders(
    scope: Construct,
    *,
    grader: lambda_.IFunction,
    service_role: iam.IRole,
    validate_dataset: lambda_.Function,
    outputs: s3.IBucket,
    data_key: kms.IKey,
    environment: str,
) -> None:
    stack = Stack.of(scope)
    teams = team_graders_arn(stack, environment)
    grader.grant_invoke(service_role)
    service_role.add_to_principal_policy(
        iam.PolicyStatement(sid="InvokeTeamGraders", actions=["lambda:InvokeFunction"], resources=[teams])
    )
    # ValidateDataset tries a team's grader before any job, and writes the job's copy of the prompts.
    validate_dataset.add_to_role_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[teams]))
    prompts = outputs.arn_for_objects("*/rft-prompts.jsonl")
    validate_dataset.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[prompts]))
    validate_dataset.add_to_role_policy(
        iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[data_key.key_arn])
    )
    why = "Grader functions of this environment's teams, by their name prefix (InvokeFunction has no tag condition)."
    for role in (service_role, validate_dataset.role):
        acknowledge(role or scope, f"IAM5[Resource::{resource_text(scope, teams)}]", why)
    acknowledge(
        validate_dataset.role or scope,
        f"IAM5[Resource::{resource_text(scope, prompts)}]",
        "The job's copy of a run's prompts, under the run's prefix of the outputs bucket.",
    )
    acknowledge(
        service_role,
        f"IAM5[Resource::<{stack.get_logical_id(grader.node.default_child)}.Arn>:*]",  # type: ignore[arg-type]
        "grant_invoke: the pipeline's grader function and its versions.",
    )
