"""Encrypted SNS topic for run outcomes, approvals and alarms."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class Notifications(Construct):
    """One topic per environment; subscribers filter on the ``team`` and ``outcome`` message attributes."""

    def __init__(self, scope: Construct, id_: str, *, emails: list[str], removal: RemovalPolicy) -> None:
        super().__init__(scope, id_)
        self.key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts fine-tuning pipeline notifications",
            enable_key_rotation=True,
            removal_policy=removal,
            pending_window=Duration.days(7),
        )
        # CloudWatch alarms publish to the encrypted topic through the key.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],  # in a key policy "*" means this key
            )
        )
        self.topic = sns.Topic(
            self, "Topic", master_key=self.key, enforce_ssl=True, display_name="Bedrock fine-tuning pipeline"
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        """Publish, and the two key actions publishing to an encrypted topic needs (grant_publish adds wildcards)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn])
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.key.key_arn])
        )
