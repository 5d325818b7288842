"""The stateless deployment unit: roles, functions, the state machine, alarms. Safe to replace."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from bft.config import EnvironmentConfig
from stacks.constructs.customization_role import CustomizationServiceRole
from stacks.data_stack import DataRefs
from stacks.nag import acknowledge


class PipelineStack(Stack):
    def __init__(
        self, scope: Construct, id_: str, *, config: EnvironmentConfig, data_export_prefix: str, **kwargs: Any
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
        CfnOutput(self, "CustomizationServiceRoleArn", value=self.service_role.role.role_arn)
