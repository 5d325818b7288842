"""Encrypted SNS topic for run outcomes, approvals and alarms."""

from __future__ import annotations

import hashlib
from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class Notifications(Construct):
    """One topic per environment; subscribers filter on the ``team`` and ``outcome`` message attributes.

    ``emails`` (the platform's) receive every message; a team's addresses are subscribed from the team's
    own stack (``subscribe_team``), each receiving only that team's messages.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        emails: list[str],
        removal: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id_)
        self.key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts fine-tuning pipeline notifications",
            enable_key_rotation=True,
            removal_policy=removal,
            pending_window=Duration.days(7),
        )
        from_our_alarms = _from_our_alarms(self)
        # CloudWatch alarms publish to the encrypted topic through the key (the team stacks' alarm topics too).
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],  # in a key policy "*" means this key
                conditions=from_our_alarms,
            )
        )
        self.topic = alarm_topic(self, "Topic", key=self.key, display_name="Bedrock fine-tuning pipeline")
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


def _from_our_alarms(scope: Construct) -> dict[str, Any]:
    """Only alarms of this account and region (the confused-deputy guard). CloudWatch supplies both keys when it
    publishes an alarm, to SNS and, for an encrypted topic, to KMS (AWS's MDAA CloudWatch constructs condition
    both grants the same way; EventBridge, unlike CloudWatch, does not supply them)."""
    stack = Stack.of(scope)
    return {
        "StringEquals": {"aws:SourceAccount": stack.account},
        "ArnLike": {
            "aws:SourceArn": stack.format_arn(
                service="cloudwatch", resource="alarm", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME
            )
        },
    }


def alarm_topic(scope: Construct, id_: str, *, key: kms.IKey, display_name: str) -> sns.Topic:
    """An encrypted, TLS-only topic this account's CloudWatch alarms may publish to (``key``'s policy must let
    CloudWatch use it: the environment's topic key does, for every alarm of the account)."""
    topic = sns.Topic(scope, id_, master_key=key, enforce_ssl=True, display_name=display_name)
    # The topic policy replaces SNS's default one: without this Allow, the TLS-only Deny is all there is and
    # alarms cannot publish.
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish",
            actions=["sns:Publish"],
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            resources=[topic.topic_arn],
            conditions=_from_our_alarms(scope),
        )
    )
    return topic


def team_alarm_topic(
    scope: Construct, *, key: kms.IKey, team: str, emails: list[str], platform: list[str]
) -> sns.Topic:
    """A team's own topic for its state machine's alarms (audit L7): an alarm cannot set the ``team`` message
    attribute the environment topic's team subscriptions filter on, so there a team never received them. The
    platform's addresses get the same alarms on the environment's topic."""
    topic = alarm_topic(scope, "AlarmTopic", key=key, display_name=f"Bedrock fine-tuning: team {team}'s alarms")
    for email in emails:
        if email not in platform:
            topic.add_subscription(subscriptions.EmailSubscription(email))
    return topic


def subscribe_team(scope: Construct, *, topic: sns.ITopic, team: str, emails: list[str], platform: list[str]) -> None:
    """Subscribe a team's addresses to the environment's topic, filtered on the ``team`` message attribute
    (outcomes, approval requests, reaper notices: every publisher sets it). The platform's addresses already
    receive everything. An address shared by two teams gets one subscription per team stack; SNS refuses a
    second subscription of one address with another filter, so the config refuses such a sharing."""
    for email in emails:
        if email in platform:
            continue
        sns.Subscription(
            scope,
            f"Email{hashlib.sha256(email.encode()).hexdigest()[:8].upper()}",
            topic=topic,
            protocol=sns.SubscriptionProtocol.EMAIL,
            endpoint=email,
            filter_policy={"team": sns.SubscriptionFilter.string_filter(allowlist=[team])},
        )
