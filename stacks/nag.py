"""cdk-nag acknowledgements. Every one carries its reason; nothing is acknowledged in bulk."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding, e.g. ``IAM5[Action::s3:List*]``, on ``scope`` and its children."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions::AwsSolutions-{rule}", reason=reason))
