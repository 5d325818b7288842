"""The role Bedrock assumes to run model customization jobs."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.nag import acknowledge, resource_text


class CustomizationServiceRole(Construct):
    """Bedrock's service role: read the datasets, write the job outputs, use the keys, nothing more.

    The trust policy names this account and its model-customization-job ARNs in this region, so no
    other account's or service's job can make Bedrock assume it (the confused-deputy guard).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        datasets: s3.IBucket,
        outputs: s3.IBucket,
        data_key: kms.IKey,
        custom_model_key_arn: str | None,
        vpc_subnet_ids: list[str] | None,
        vpc_security_group_ids: list[str] | None,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        job_arns = stack.format_arn(service="bedrock", resource="model-customization-job", resource_name="*")
        self.role = iam.Role(
            self,
            "Role",
            description="Assumed by Amazon Bedrock to run this pipeline's model customization jobs",
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": job_arns},
                },
            ),
        )
        # What the user guide's customization service role lists, no more (audit L4: grant_read added
        # GetObject*, GetBucket* and List*): read the data, list the buckets, write the outputs (below).
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadDataAndOutputs",
                actions=["s3:GetObject"],
                resources=[datasets.arn_for_objects("*"), outputs.arn_for_objects("*")],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListDataAndOutputs", actions=["s3:ListBucket"], resources=[datasets.bucket_arn, outputs.bucket_arn]
            )
        )
        # Writes: the job's outputs and metrics, in parts for large artefacts. Not grant_put: it adds object
        # lock and tagging actions Bedrock never uses (least-privilege measurement, docs/least-privilege.md).
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=[outputs.arn_for_objects("*")]
            )
        )

        key_arns = [data_key.key_arn] + ([custom_model_key_arn] if custom_model_key_arn else [])
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="UseDataAndModelKeys",
                # CreateGrant lets Bedrock encrypt the custom model it creates with the key.
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"],
                resources=key_arns,
                conditions={
                    "StringEquals": {
                        "kms:ViaService": [
                            f"s3.{stack.region}.amazonaws.com",
                            f"bedrock.{stack.region}.amazonaws.com",
                        ]
                    }
                },
            )
        )
        if vpc_subnet_ids and vpc_security_group_ids:
            self._allow_vpc(stack, vpc_subnet_ids, vpc_security_group_ids)

        for finding, reason in (
            (
                f"Resource::{resource_text(self, datasets.arn_for_objects('*'))}",
                "Bedrock reads the training and validation files the request names, under the team's prefix.",
            ),
            (
                f"Resource::{resource_text(self, outputs.arn_for_objects('*'))}",
                "Bedrock writes under job-specific prefixes of the outputs bucket it chooses itself.",
            ),
        ):
            acknowledge(self.role, f"IAM5[{finding}]", reason)

    def _allow_vpc(self, stack: Stack, subnet_ids: list[str], security_group_ids: list[str]) -> None:
        """ENI permissions a job needs to run inside the configured subnets (Bedrock VPC docs)."""
        subnets = [stack.format_arn(service="ec2", resource="subnet", resource_name=s) for s in subnet_ids]
        groups = [
            stack.format_arn(service="ec2", resource="security-group", resource_name=g) for g in security_group_ids
        ]
        enis = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="CreateJobNetworkInterfaces",
                actions=["ec2:CreateNetworkInterface"],
                resources=[enis, *subnets, *groups],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ManageJobNetworkInterfaces",
                actions=[
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                    "ec2:CreateTags",
                ],
                resources=[enis],
                conditions={"ArnEquals": {"ec2:Subnet": subnets}},
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DescribeNetwork",
                # EC2 Describe* actions have no resource-level permissions.
                actions=[
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                resources=["*"],
            )
        )
        acknowledge(self.role, "IAM5[Resource::*]", "EC2 Describe* actions support no resource-level scoping.")
        acknowledge(
            self.role,
            "IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]",
            "Bedrock creates the job's network interfaces; their IDs are unknown in advance.",
        )
