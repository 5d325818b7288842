"""What the action map reads and returns: the call, the requests, the resources, and the world it asks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bft_twin.iam.model import ContextValue

ResourceKind = Literal["s3-bucket", "kms-key", "sns-topic", "lambda-function", "iam-role", "sqs-queue"]


@dataclass(frozen=True)
class Call:
    """One AWS API call as the caller made it.

    ``service`` and ``operation`` are botocore's names (``"s3"``, ``"GetObject"``); ``params`` the API
    parameters as passed to boto3 (after botocore validation); ``account`` the caller's account, which in
    this project is also the resources' account.
    """

    service: str
    operation: str
    params: Mapping[str, Any]
    region: str
    account: str


@dataclass(frozen=True)
class ResourceRef:
    """A resource whose resource-based policy also takes part in the decision.

    ``arn``: the bucket ARN for ``s3-bucket``, the key ARN (alias resolved) for ``kms-key`` (its key
    policy), the role ARN for ``iam-role`` (its trust policy), the function ARN (qualified when the call
    was) for ``lambda-function``.
    """

    kind: ResourceKind
    arn: str


@dataclass(frozen=True)
class ActionRequest:
    """One action on one resource, without the principal (the runner adds it and its keys).

    ``resource`` is an ARN or ``"*"`` for actions without a resource type. ``context`` holds the service
    and resource condition keys AWS supplies for this request. ``resource_policy`` names the resource
    whose resource-based policy also applies (``None``: the resource type has none). ``implicit`` says why
    the request is made although the caller did not call the action directly; ``via`` names the service
    (``"s3.amazonaws.com"``) when that service makes the request with the caller's credentials (its
    ``aws:ViaAWSService`` is true).
    """

    action: str
    resource: str
    context: Mapping[str, ContextValue]
    resource_policy: ResourceRef | None
    encryption_context: Mapping[str, str] = field(default_factory=dict)
    implicit: str | None = None
    via: str | None = None


class World(Protocol):
    """What the mapper may ask the offline world; the runner implements it against moto and the Bedrock fake."""

    def bucket_default_kms_key(self, bucket: str) -> str | None:
        """Key ARN when the bucket's default encryption is aws:kms."""

    def bucket_key_enabled(self, bucket: str) -> bool:
        """Whether S3 Bucket Keys are enabled on the bucket's default encryption."""

    def object_kms_key(self, bucket: str, key: str, version_id: str | None) -> str | None:
        """The object's SSE-KMS key ARN; None if SSE-S3 or missing."""

    def topic_kms_key(self, topic_arn: str) -> str | None:
        """The topic's KmsMasterKeyId as a key ARN (alias resolved)."""

    def table_kms_key(self, table: str) -> str | None:
        """The table's customer managed key ARN; None for an AWS owned key."""

    def table_partition_key(self, table: str) -> str:
        """Attribute name of the table's partition key."""

    def parameter_kms_key(self, name: str) -> str | None:
        """A SecureString parameter's key ARN; None for String."""

    def kms_key_arn(self, key_id: str) -> str:
        """Key id / key ARN / alias name / alias ARN -> key ARN."""

    def resource_tags(self, arn: str) -> Mapping[str, str] | None:
        """Tags of any taggable resource (bedrock, states, sns, lambda, kms, ssm, dynamodb...); None when the
        world does not know them (its aws:ResourceTag keys are then Unknown, not absent)."""

    def bedrock_arn(self, identifier: str, kind: str) -> str | None:
        """A Bedrock name or ARN -> ARN; None if it does not exist.

        ``kind``: "custom-model", "model-customization-job", "provisioned-model",
        "custom-model-deployment", "foundation-model".
        """

    def custom_model_kms_key(self, model_arn: str) -> str | None:
        """The custom model's customModelKmsKeyId (key ARN) if it is encrypted with one."""

    def serving_model(self, arn: str) -> str | None:
        """A provisioned-model / custom-model-deployment ARN -> the custom model ARN it serves."""

    def task_token_state_machine(self, token: str) -> str | None:
        """A Step Functions task token -> the ARN of the state machine whose execution issued it."""

    def stack_arn(self, name: str) -> str:
        """A CloudFormation stack name (or ARN) -> its stack ARN."""
