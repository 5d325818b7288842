"""cdk-nag acknowledgements. Every one carries its reason; nothing is acknowledged in bulk."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding, e.g. ``IAM5[Action::s3:List*]``, on ``scope`` and its children."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions::AwsSolutions-{rule}", reason=reason))


def resource_text(scope: IConstruct, value: str) -> str:
    """How cdk-nag prints a resource in an IAM5 finding: pseudo parameters as <AWS::X>, imports by export
    name, other intrinsics as compact JSON. Lets an acknowledgement name exactly one finding."""
    from aws_cdk import Stack

    resolved = Stack.of(scope).resolve(value)

    def text(part: Any) -> str:
        if isinstance(part, str):
            return part
        if isinstance(part, dict) and "Ref" in part and str(part["Ref"]).startswith("AWS::"):
            return f"<{part['Ref']}>"
        if isinstance(part, dict) and "Fn::GetAtt" in part:
            return "<{}.{}>".format(*part["Fn::GetAtt"])
        if isinstance(part, dict) and "Fn::ImportValue" in part:
            return str(part["Fn::ImportValue"])
        if isinstance(part, dict) and "Fn::Join" in part:
            return "".join(text(p) for p in part["Fn::Join"][1])
        return json.dumps(part, separators=(",", ":"))

    return text(resolved)
