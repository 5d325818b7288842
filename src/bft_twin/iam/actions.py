"""From one AWS API call to the IAM authorization requests AWS makes for it.

:func:`auth_requests` turns a :class:`Call` (botocore service and operation names, the parameters as
passed to boto3) into the :class:`ActionRequest` list AWS evaluates: the action on the target resource
with its service and resource condition keys, plus the requests a service makes *implicitly* with the
caller's credentials (``kms:Decrypt`` when S3 reads an SSE-KMS object, ``iam:PassRole`` when Bedrock is
handed a role). The caller (the runner) adds the principal keys (``aws:PrincipalArn``,
``aws:PrincipalAccount``, ``aws:PrincipalTag/*``, ``aws:SecureTransport``, ``aws:userid``).

What the mapper needs to know about the offline world (an object's KMS key, a table's partition key, a
resource's tags) it asks a :class:`World`. An operation it does not map raises
:class:`~bft_twin.iam.model.Undecidable`: the offline run fails closed, never allows by omission.

Sources and guesses, per service: ``docs/authorization-actions.md``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import unquote

from bft_twin.iam.model import ContextValue, Undecidable

__all__ = [
    "MAPPED_OPERATIONS",
    "ActionRequest",
    "Call",
    "ResourceRef",
    "World",
    "auth_requests",
    "function_url_requests",
    "pass_role",
]

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
    the request is made although the caller did not call the action directly.
    """

    action: str
    resource: str
    context: Mapping[str, ContextValue]
    resource_policy: ResourceRef | None
    encryption_context: Mapping[str, str] = field(default_factory=dict)
    implicit: str | None = None


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

    def resource_tags(self, arn: str) -> Mapping[str, str]:
        """Tags of any taggable resource (bedrock, states, sns, lambda, kms, ssm, dynamodb...)."""

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


# --------------------------------------------------------------------------------------------------
# Helpers shared by the services


def _tags_context(tags: Mapping[str, str], prefix: str) -> dict[str, ContextValue]:
    return {f"{prefix}/{key}": value for key, value in tags.items()}


def _resource_tags(world: World, arn: str) -> dict[str, ContextValue]:
    return _tags_context(world.resource_tags(arn), "aws:ResourceTag")


def _request_tags(tags: Mapping[str, str]) -> dict[str, ContextValue]:
    """aws:RequestTag/<k> and aws:TagKeys for tags carried by the request (nothing when there are none)."""
    if not tags:
        return {}
    context = _tags_context(tags, "aws:RequestTag")
    context["aws:TagKeys"] = list(tags)
    return context


def _tag_list(tags: Iterable[Mapping[str, str]] | None, key: str = "key", value: str = "value") -> dict[str, str]:
    """[{key, value}] (Bedrock: lower case; SNS, STS: Key/Value) -> {key: value}."""
    return {str(tag[key]): str(tag[value]) for tag in tags or ()}


def _merge_tags(call: Call, *groups: Mapping[str, str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for group in groups:
        for key, value in group.items():
            if merged.get(key, value) != value:
                raise Undecidable(
                    f"{call.service}:{call.operation} carries tag {key!r} twice with different values; which one "
                    "aws:RequestTag holds is not modelled (src/bft_twin/iam/actions.py, _merge_tags)"
                )
            merged[key] = value
    return merged


def _kms_request(
    world: World,
    call: Call,
    action: str,
    key_id: str,
    *,
    encryption_context: Mapping[str, str] | None = None,
    via: str | None = None,
    implicit: str | None = None,
    extra: Mapping[str, ContextValue] | None = None,
) -> ActionRequest:
    """A KMS request on a key: kms:CallerAccount always, kms:ViaService on implicit requests only."""
    key_arn = world.kms_key_arn(key_id)
    encryption_context = dict(encryption_context or {})
    context: dict[str, ContextValue] = {"kms:CallerAccount": call.account}
    if via:
        context["kms:ViaService"] = f"{via}.{call.region}.amazonaws.com"
    if encryption_context:
        context.update({f"kms:EncryptionContext:{k}": v for k, v in encryption_context.items()})
        context["kms:EncryptionContextKeys"] = list(encryption_context)
    context.update(extra or {})
    context.update(_resource_tags(world, key_arn))
    return ActionRequest(
        action=action,
        resource=key_arn,
        context=context,
        resource_policy=ResourceRef("kms-key", key_arn),
        encryption_context=encryption_context,
        implicit=implicit,
    )


def pass_role(role_arn: str, service: str) -> ActionRequest:
    """``iam:PassRole`` on ``role_arn`` to ``service`` (e.g. ``"bedrock.amazonaws.com"``).

    PassRole is not an API call: a service checks it when an API call hands it a role. IAM roles have no
    resource-based policy that takes part in PassRole (the trust policy governs AssumeRole, not PassRole).
    """
    return ActionRequest(
        action="iam:PassRole",
        resource=role_arn,
        context={"iam:PassedToService": service},
        resource_policy=None,
        implicit=f"role passed to {service}",
    )


def function_url_requests(function_arn: str, auth_type: str) -> list[ActionRequest]:
    """An HTTP request to the function's URL (not a botocore operation): ``lambda:InvokeFunctionUrl``, and
    ``lambda:InvokeFunction`` with ``lambda:InvokedViaFunctionUrl`` (Lambda developer guide, "Control access
    to function URLs": since October 2025 a URL's caller needs both).

    ``auth_type`` is the URL's ``AuthType`` (``"AWS_IAM"`` or ``"NONE"``); the function's resource-based
    policy takes part (for ``NONE`` it is the only policy that can allow the public principal).
    """
    policy = ResourceRef("lambda-function", function_arn)
    return [
        ActionRequest(
            action="lambda:InvokeFunctionUrl",
            resource=function_arn,
            context={"lambda:FunctionUrlAuthType": auth_type},
            resource_policy=policy,
        ),
        ActionRequest(
            action="lambda:InvokeFunction",
            resource=function_arn,
            context={"lambda:InvokedViaFunctionUrl": True},
            resource_policy=policy,
        ),
    ]


# --------------------------------------------------------------------------------------------------
# S3


def _bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def _object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _s3_kms_context(world: World, bucket: str, key: str, bucket_key: bool | None = None) -> dict[str, str]:
    """SSE-KMS encryption context: the object ARN, or the bucket ARN when S3 Bucket Keys are in use."""
    use_bucket_key = world.bucket_key_enabled(bucket) if bucket_key is None else bucket_key
    return {"aws:s3:arn": _bucket_arn(bucket) if use_bucket_key else _object_arn(bucket, key)}


def _s3_read(world: World, call: Call, bucket: str, key: str, version_id: str | None) -> list[ActionRequest]:
    action = "s3:GetObjectVersion" if version_id else "s3:GetObject"
    requests = [
        ActionRequest(
            action=action,
            resource=_object_arn(bucket, key),
            context={},
            resource_policy=ResourceRef("s3-bucket", _bucket_arn(bucket)),
        )
    ]
    kms_key = world.object_kms_key(bucket, key, version_id)
    if kms_key:
        requests.append(
            _kms_request(
                world,
                call,
                "kms:Decrypt",
                kms_key,
                encryption_context=_s3_kms_context(world, bucket, key),
                via="s3",
                implicit="SSE-KMS object read via S3",
            )
        )
    return requests


def _s3_write_key(world: World, call: Call, params: Mapping[str, Any], bucket: str) -> str | None:
    """The KMS key S3 encrypts a new object with: the request's, else the bucket default's (SSE-KMS only)."""
    sse = params.get("ServerSideEncryption")
    if sse in ("aws:kms", "aws:kms:dsse"):
        requested = params.get("SSEKMSKeyId")
        return world.kms_key_arn(requested) if requested else (world.bucket_default_kms_key(bucket) or _no_key(call))
    if sse:  # AES256: SSE-S3 whatever the bucket default
        return None
    return world.bucket_default_kms_key(bucket)


def _no_key(call: Call) -> str:
    raise Undecidable(
        f"s3:{call.operation} asks for aws:kms without SSEKMSKeyId on a bucket without a default KMS key: S3 "
        "would use the AWS managed key aws/s3, which the offline world does not model "
        "(src/bft_twin/iam/actions.py, _s3_write_key)"
    )


def _s3_write_context(params: Mapping[str, Any]) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {}
    if params.get("ServerSideEncryption"):
        context["s3:x-amz-server-side-encryption"] = params["ServerSideEncryption"]
    if params.get("SSEKMSKeyId"):
        context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = params["SSEKMSKeyId"]
    return context


def _s3_put(
    world: World, call: Call, bucket: str, key: str, params: Mapping[str, Any], kms_action: str | None
) -> list[ActionRequest]:
    for unsupported in ("Tagging", "ACL", "GrantRead", "GrantFullControl", "ObjectLockMode", "SSECustomerKey"):
        if params.get(unsupported):
            raise Undecidable(
                f"s3:{call.operation} with {unsupported} needs further actions or keys the mapper does not model "
                "(src/bft_twin/iam/actions.py, _s3_put)"
            )
    requests = [
        ActionRequest(
            action="s3:PutObject",
            resource=_object_arn(bucket, key),
            context=_s3_write_context(params),
            resource_policy=ResourceRef("s3-bucket", _bucket_arn(bucket)),
        )
    ]
    kms_key = _s3_write_key(world, call, params, bucket)
    if kms_key and kms_action:
        encryption_context = _s3_kms_context(world, bucket, key, params.get("BucketKeyEnabled"))
        if params.get("SSEKMSEncryptionContext"):
            encryption_context.update(json.loads(base64.b64decode(params["SSEKMSEncryptionContext"])))
        requests.append(
            _kms_request(
                world,
                call,
                kms_action,
                kms_key,
                encryption_context=encryption_context,
                via="s3",
                implicit=f"SSE-KMS object write via S3 ({call.operation})",
            )
        )
    return requests


def _copy_source(call: Call) -> tuple[str, str, str | None]:
    source = call.params["CopySource"]
    if isinstance(source, Mapping):
        return str(source["Bucket"]), str(source["Key"]), source.get("VersionId")
    text = unquote(str(source)).lstrip("/")
    path, _, query = text.partition("?")
    bucket, _, key = path.partition("/")
    version = query[len("versionId=") :] if query.startswith("versionId=") else None
    return bucket, key, version


def _s3(call: Call, world: World) -> list[ActionRequest]:
    p, op = call.params, call.operation
    bucket = str(p.get("Bucket", ""))
    if op in ("GetObject", "HeadObject"):
        return _s3_read(world, call, bucket, p["Key"], p.get("VersionId"))
    if op == "PutObject":
        return _s3_put(world, call, bucket, p["Key"], p, "kms:GenerateDataKey")
    if op == "CreateMultipartUpload":
        return _s3_put(world, call, bucket, p["Key"], p, "kms:GenerateDataKey")
    if op in ("UploadPart", "CompleteMultipartUpload"):
        # The upload's key is the one CreateMultipartUpload chose; the world only knows the bucket default.
        return _s3_put(world, call, bucket, p["Key"], {}, "kms:Decrypt")
    if op == "AbortMultipartUpload":
        return [_s3_plain("s3:AbortMultipartUpload", _object_arn(bucket, p["Key"]), bucket)]
    if op == "DeleteObject":
        action = "s3:DeleteObjectVersion" if p.get("VersionId") else "s3:DeleteObject"
        return [_s3_plain(action, _object_arn(bucket, p["Key"]), bucket)]
    if op in ("ListObjectsV2", "ListObjects"):
        context: dict[str, ContextValue] = {"s3:prefix": str(p.get("Prefix", ""))}
        if "Delimiter" in p:
            context["s3:delimiter"] = str(p["Delimiter"])
        if "MaxKeys" in p:
            context["s3:max-keys"] = int(p["MaxKeys"])
        return [_s3_plain("s3:ListBucket", _bucket_arn(bucket), bucket, context)]
    if op == "GetBucketLocation":
        return [_s3_plain("s3:GetBucketLocation", _bucket_arn(bucket), bucket)]
    if op == "HeadBucket":
        # HeadBucket API reference: "you must have permissions to perform the s3:ListBucket action".
        return [_s3_plain("s3:ListBucket", _bucket_arn(bucket), bucket)]
    if op == "CopyObject":
        src_bucket, src_key, src_version = _copy_source(call)
        target = {k: v for k, v in p.items() if k not in ("CopySource", "MetadataDirective", "TaggingDirective")}
        return _s3_read(world, call, src_bucket, src_key, src_version) + _s3_put(
            world, call, bucket, p["Key"], target, "kms:GenerateDataKey"
        )
    raise _unmapped(call)


def _s3_plain(
    action: str, resource: str, bucket: str, context: Mapping[str, ContextValue] | None = None
) -> ActionRequest:
    return ActionRequest(
        action=action,
        resource=resource,
        context=dict(context or {}),
        resource_policy=ResourceRef("s3-bucket", _bucket_arn(bucket)),
    )


# --------------------------------------------------------------------------------------------------
# DynamoDB


def _ddb_scalar(value: Any) -> str:
    """A key value as a string: plain Python (resource API) or a typed AttributeValue ({"S": "x"})."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind in ("S", "N", "B"):
            return inner.decode() if isinstance(inner, bytes) else str(inner)
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def _table_name(ref: str) -> str:
    return ref.split(":table/", 1)[1].split("/", 1)[0] if ref.startswith("arn:") else ref


def _table_arn(call: Call, table: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{call.region}:{call.account}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def _resolve_names(expression: str, names: Mapping[str, str]) -> str:
    return re.sub(r"#[A-Za-z0-9_]+", lambda m: names.get(m.group(0), m.group(0)), expression)


def _projection(params: Mapping[str, Any]) -> list[str] | None:
    if params.get("ProjectionExpression"):
        text = _resolve_names(str(params["ProjectionExpression"]), params.get("ExpressionAttributeNames") or {})
        return sorted({part.strip().split(".")[0].split("[")[0] for part in text.split(",")})
    if params.get("AttributesToGet"):
        return sorted(params["AttributesToGet"])
    return None


def _query_partition_value(call: Call, world: World, table: str) -> str:
    p = call.params
    expression = p.get("KeyConditionExpression")
    if expression is not None and not isinstance(expression, str):
        from boto3.dynamodb.conditions import ConditionExpressionBuilder

        built = ConditionExpressionBuilder().build_expression(expression, is_key_condition=True)
        expression = built.condition_expression
        names = built.attribute_name_placeholders
        values = built.attribute_value_placeholders
    else:
        names = p.get("ExpressionAttributeNames") or {}
        values = p.get("ExpressionAttributeValues") or {}
    partition = world.table_partition_key(table)
    if expression is None:
        for name, condition in (p.get("KeyConditions") or {}).items():
            if name == partition and condition.get("ComparisonOperator") == "EQ":
                return _ddb_scalar(condition["AttributeValueList"][0])
        raise Undecidable(f"dynamodb:Query on {table} without a partition key condition")
    for clause in re.split(r"\s+AND\s+", expression, flags=re.IGNORECASE):
        match = re.fullmatch(r"\s*\(?\s*([#\w.]+)\s*=\s*(:\w+)\s*\)?\s*", clause)
        if match and _resolve_names(match.group(1), names) == partition:
            return _ddb_scalar(values[match.group(2)])
    raise Undecidable(
        f"dynamodb:Query on {table}: no equality on partition key {partition!r} found in {expression!r} "
        "(src/bft_twin/iam/actions.py, _query_partition_value)"
    )


def _ddb_request(
    call: Call,
    world: World,
    action: str,
    table: str,
    *,
    leading_keys: list[str] | None = None,
    attributes: list[str] | None = None,
    index: str | None = None,
) -> list[ActionRequest]:
    context: dict[str, ContextValue] = {}
    if leading_keys is not None:
        context["dynamodb:LeadingKeys"] = sorted(set(leading_keys))
    if attributes is not None:
        context["dynamodb:Attributes"] = attributes
    for param, key in (("ReturnValues", "dynamodb:ReturnValues"), ("Select", "dynamodb:Select")):
        if call.params.get(param):
            context[key] = str(call.params[param])
    arn = _table_arn(call, table, index)
    context.update(_resource_tags(world, _table_arn(call, table)))
    requests = [ActionRequest(action=action, resource=arn, context=context, resource_policy=None)]
    kms_key = world.table_kms_key(table)
    if kms_key and action != "dynamodb:DescribeTable":
        requests.append(
            _kms_request(
                world,
                call,
                "kms:Decrypt",
                kms_key,
                encryption_context={"aws:dynamodb:tableName": table, "aws:dynamodb:subscriberId": call.account},
                via="dynamodb",
                implicit="table encrypted with a customer managed key, read or written via DynamoDB",
            )
        )
    return requests


def _key_value(world: World, table: str, key: Mapping[str, Any]) -> str:
    return _ddb_scalar(key[world.table_partition_key(table)])


def _dynamodb(call: Call, world: World) -> list[ActionRequest]:
    p, op = call.params, call.operation
    if op in ("GetItem", "DeleteItem", "UpdateItem"):
        table = _table_name(p["TableName"])
        attributes = _projection(p) if op == "GetItem" else None
        return _ddb_request(
            call,
            world,
            f"dynamodb:{op}",
            table,
            leading_keys=[_key_value(world, table, p["Key"])],
            attributes=attributes,
        )
    if op == "PutItem":
        table = _table_name(p["TableName"])
        item = p["Item"]
        return _ddb_request(
            call,
            world,
            "dynamodb:PutItem",
            table,
            leading_keys=[_key_value(world, table, item)],
            attributes=sorted(item),
        )
    if op == "Query":
        table = _table_name(p["TableName"])
        value = _query_partition_value(call, world, table)
        return _ddb_request(
            call,
            world,
            "dynamodb:Query",
            table,
            leading_keys=[value],
            attributes=_projection(p),
            index=p.get("IndexName"),
        )
    if op == "Scan":
        table = _table_name(p["TableName"])
        return _ddb_request(call, world, "dynamodb:Scan", table, attributes=_projection(p), index=p.get("IndexName"))
    if op == "DescribeTable":
        return _ddb_request(call, world, "dynamodb:DescribeTable", _table_name(p["TableName"]))
    if op == "BatchGetItem":
        requests: list[ActionRequest] = []
        for ref, spec in p["RequestItems"].items():
            table = _table_name(ref)
            keys = [_key_value(world, table, key) for key in spec["Keys"]]
            requests += _ddb_request(
                call, world, "dynamodb:BatchGetItem", table, leading_keys=keys, attributes=_projection(spec)
            )
        return requests
    if op == "BatchWriteItem":
        requests = []
        for ref, writes in p["RequestItems"].items():
            table = _table_name(ref)
            keys = [
                _key_value(
                    world,
                    table,
                    write["PutRequest"]["Item"] if "PutRequest" in write else write["DeleteRequest"]["Key"],
                )
                for write in writes
            ]
            requests += _ddb_request(call, world, "dynamodb:BatchWriteItem", table, leading_keys=keys)
        return requests
    if op in ("TransactWriteItems", "TransactGetItems"):
        return _transact(call, world)
    raise _unmapped(call)


_TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def _transact(call: Call, world: World) -> list[ActionRequest]:
    """A transaction is authorized per item action; one request per (action, table) with all its keys."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for entry in call.params["TransactItems"]:
        ((kind, spec),) = entry.items()
        table = _table_name(spec["TableName"])
        key = spec["Item"] if kind == "Put" else spec["Key"]
        grouped.setdefault((_TRANSACT_ACTIONS[kind], table), []).append(_key_value(world, table, key))
    requests: list[ActionRequest] = []
    for (action, table), keys in grouped.items():
        requests += _ddb_request(call, world, action, table, leading_keys=keys)
    return requests


# --------------------------------------------------------------------------------------------------
# Step Functions


def _sfn_execution_machine(execution_arn: str) -> str:
    """arn:aws:states:r:a:execution:<machine>:<name> -> arn:aws:states:r:a:stateMachine:<machine>."""
    head, _, rest = execution_arn.partition(":execution:")
    return f"{head}:stateMachine:{rest.split(':', 1)[0]}"


def _stepfunctions(call: Call, world: World) -> list[ActionRequest]:
    p, op = call.params, call.operation

    def on(resource: str, tags_of: str | None = None) -> list[ActionRequest]:
        context = _resource_tags(world, tags_of or resource)
        return [ActionRequest(action=f"states:{op}", resource=resource, context=context, resource_policy=None)]

    if op in ("StartExecution", "DescribeStateMachine", "ListExecutions"):
        return on(p["stateMachineArn"])
    if op in ("DescribeExecution", "GetExecutionHistory", "StopExecution"):
        # The execution resource type lists aws:ResourceTag; an execution carries its machine's tags.
        arn = p["executionArn"]
        return on(arn, _sfn_execution_machine(arn))
    if op in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"):
        # AWS authorizes a callback on the state machine whose execution issued the token (the
        # AccessDenied message names it) although the SAR lists no resource type; see the doc.
        machine = world.task_token_state_machine(p["taskToken"])
        return [ActionRequest(action=f"states:{op}", resource=machine or "*", context={}, resource_policy=None)]
    raise _unmapped(call)


# --------------------------------------------------------------------------------------------------
# SNS


def _sns(call: Call, world: World) -> list[ActionRequest]:
    p, op = call.params, call.operation
    if op == "Publish":
        topic = p.get("TopicArn") or p.get("TargetArn")
        if not topic or ":endpoint/" in topic:
            raise Undecidable("sns:Publish to a phone number or platform endpoint is not mapped (actions.py, _sns)")
        requests = [_sns_topic_request(call, world, topic)]
        kms_key = world.topic_kms_key(topic)
        if kms_key:
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                requests.append(
                    _kms_request(
                        world, call, action, kms_key, via="sns", implicit="publish to an SSE-KMS topic via SNS"
                    )
                )
        return requests
    if op == "Subscribe":
        context: dict[str, ContextValue] = {"sns:Protocol": str(p["Protocol"])}
        if p.get("Endpoint"):
            context["sns:Endpoint"] = str(p["Endpoint"])
        return [_sns_topic_request(call, world, p["TopicArn"], context)]
    if op == "ListSubscriptionsByTopic":
        return [_sns_topic_request(call, world, p["TopicArn"])]
    raise _unmapped(call)


def _sns_topic_request(
    call: Call, world: World, topic: str, context: Mapping[str, ContextValue] | None = None
) -> ActionRequest:
    full = {**(context or {}), **_resource_tags(world, topic)}
    return ActionRequest(
        action=f"sns:{call.operation}", resource=topic, context=full, resource_policy=ResourceRef("sns-topic", topic)
    )


# --------------------------------------------------------------------------------------------------
# SSM


def _parameter_name(name: str) -> str:
    """A parameter name or ARN without its version / label selector (names cannot contain ':')."""
    if name.startswith("arn:"):
        head, _, tail = name.partition(":parameter/")
        return f"{head}:parameter/{tail.split(':', 1)[0]}"
    return name.split(":", 1)[0]


def _parameter_arn(call: Call, name: str) -> str:
    bare = _parameter_name(name)
    if bare.startswith("arn:"):
        return bare
    return f"arn:aws:ssm:{call.region}:{call.account}:parameter/{bare.lstrip('/')}"


def _ssm(call: Call, world: World) -> list[ActionRequest]:
    p, op = call.params, call.operation
    if op == "GetParametersByPath":
        # Authorized on the path itself as a parameter ARN (arn:...:parameter/bft/dev/teams/x), not on each
        # parameter under it; SecureString values it returns would also need kms:Decrypt (none here).
        arn = _parameter_arn(call, str(p["Path"]).rstrip("/") or "/")
        return [ActionRequest(action="ssm:GetParametersByPath", resource=arn, context={}, resource_policy=None)]
    if op not in ("GetParameter", "GetParameters"):
        raise _unmapped(call)
    names = [p["Name"]] if op == "GetParameter" else list(p["Names"])
    requests: list[ActionRequest] = []
    for name in names:
        arn = _parameter_arn(call, name)
        requests.append(
            ActionRequest(action=f"ssm:{op}", resource=arn, context=_resource_tags(world, arn), resource_policy=None)
        )
        kms_key = world.parameter_kms_key(_parameter_name(name))
        if kms_key and p.get("WithDecryption"):
            requests.append(
                _kms_request(
                    world,
                    call,
                    "kms:Decrypt",
                    kms_key,
                    encryption_context={"PARAMETER_ARN": arn},
                    via="ssm",
                    implicit="SecureString parameter decrypted via Systems Manager",
                )
            )
    return requests


# --------------------------------------------------------------------------------------------------
# Lambda, EventBridge, CloudFormation, STS, KMS


def _function_arn(call: Call, name: str, qualifier: str | None) -> str:
    if name.startswith("arn:"):
        arn = name
    elif ":function:" in name or name.count(":") >= 2:  # "123456789012:function:my-function[:alias]"
        arn = f"arn:aws:lambda:{call.region}:{name}"
    else:
        arn = f"arn:aws:lambda:{call.region}:{call.account}:function:{name}"
    if qualifier and arn.count(":") == 6:
        arn = f"{arn}:{qualifier}"
    return arn


def _lambda(call: Call, world: World) -> list[ActionRequest]:
    if call.operation != "Invoke":
        raise _unmapped(call)
    arn = _function_arn(call, call.params["FunctionName"], call.params.get("Qualifier"))
    unqualified = ":".join(arn.split(":")[:7])
    return [
        ActionRequest(
            action="lambda:InvokeFunction",
            resource=arn,
            context=_resource_tags(world, unqualified),
            resource_policy=ResourceRef("lambda-function", arn),
        )
    ]


def _events(call: Call, world: World) -> list[ActionRequest]:
    if call.operation != "PutEvents":
        raise _unmapped(call)
    buses: dict[str, list[Mapping[str, Any]]] = {}
    for entry in call.params["Entries"]:
        bus = str(entry.get("EventBusName") or "default")
        arn = bus if bus.startswith("arn:") else f"arn:aws:events:{call.region}:{call.account}:event-bus/{bus}"
        buses.setdefault(arn, []).append(entry)
    requests = []
    for arn, entries in buses.items():
        context: dict[str, ContextValue] = {
            "events:source": sorted({str(e["Source"]) for e in entries if e.get("Source")}),
            "events:detail-type": sorted({str(e["DetailType"]) for e in entries if e.get("DetailType")}),
        }
        context.update(_resource_tags(world, arn))
        requests.append(ActionRequest(action="events:PutEvents", resource=arn, context=context, resource_policy=None))
    return requests


def _cloudformation(call: Call, world: World) -> list[ActionRequest]:
    if call.operation != "DescribeStacks":
        raise _unmapped(call)
    name = call.params.get("StackName")
    if not name:
        return [ActionRequest(action="cloudformation:DescribeStacks", resource="*", context={}, resource_policy=None)]
    arn = world.stack_arn(name)
    return [
        ActionRequest(
            action="cloudformation:DescribeStacks",
            resource=arn,
            context=_resource_tags(world, arn),
            resource_policy=None,
        )
    ]


def _sts(call: Call, world: World) -> list[ActionRequest]:
    p, op = call.params, call.operation
    if op == "GetCallerIdentity":
        return []  # no permission is ever needed, even under an explicit deny
    if op != "AssumeRole":
        raise _unmapped(call)
    role = p["RoleArn"]
    tags = _tag_list(p.get("Tags"), "Key", "Value")
    context: dict[str, ContextValue] = {"sts:RoleSessionName": str(p["RoleSessionName"])}
    if p.get("ExternalId"):
        context["sts:ExternalId"] = str(p["ExternalId"])
    if p.get("SourceIdentity"):
        context["sts:SourceIdentity"] = str(p["SourceIdentity"])
    if p.get("TransitiveTagKeys"):
        context["sts:TransitiveTagKeys"] = list(p["TransitiveTagKeys"])
    context.update(_request_tags(tags))
    context.update(_resource_tags(world, role))
    requests = [
        ActionRequest(
            action="sts:AssumeRole", resource=role, context=context, resource_policy=ResourceRef("iam-role", role)
        )
    ]
    if tags:
        requests.append(
            ActionRequest(
                action="sts:TagSession",
                resource=role,
                context={**_request_tags(tags), **_resource_tags(world, role)},
                resource_policy=ResourceRef("iam-role", role),
                implicit="session tags passed to AssumeRole",
            )
        )
    if p.get("SourceIdentity"):
        requests.append(
            ActionRequest(
                action="sts:SetSourceIdentity",
                resource=role,
                context={"sts:SourceIdentity": str(p["SourceIdentity"])},
                resource_policy=ResourceRef("iam-role", role),
                implicit="source identity passed to AssumeRole",
            )
        )
    return requests


def _kms(call: Call, world: World) -> list[ActionRequest]:
    p, op = call.params, call.operation
    if op not in ("Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "DescribeKey",
                  "CreateGrant", "ListGrants", "RetireGrant"):  # fmt: skip
        raise _unmapped(call)
    key_id = p.get("KeyId")
    if not key_id:
        raise Undecidable(
            f"kms:{op} without KeyId: the key is named by the ciphertext or grant token, which the mapper cannot "
            "read; pass KeyId (src/bft_twin/iam/actions.py, _kms)"
        )
    extra: dict[str, ContextValue] = {}
    if p.get("EncryptionAlgorithm"):
        extra["kms:EncryptionAlgorithm"] = str(p["EncryptionAlgorithm"])
    encryption_context = dict(p.get("EncryptionContext") or {})
    if op == "CreateGrant":
        extra["kms:GrantOperations"] = list(p["Operations"])
        extra["kms:GranteePrincipal"] = str(p["GranteePrincipal"])
        extra["kms:GrantIsForAWSResource"] = False
        if p.get("RetiringPrincipal"):
            extra["kms:RetiringPrincipal"] = str(p["RetiringPrincipal"])
        constraints = p.get("Constraints") or {}
        for kind in ("EncryptionContextEquals", "EncryptionContextSubset"):
            if constraints.get(kind):
                extra["kms:GrantConstraintType"] = kind
                encryption_context = dict(constraints[kind])
    return [_kms_request(world, call, f"kms:{op}", key_id, encryption_context=encryption_context, extra=extra)]


# --------------------------------------------------------------------------------------------------
# Bedrock


def _bedrock_arn(call: Call, kind: str, name: str) -> str:
    if kind == "foundation-model":
        return f"arn:aws:bedrock:{call.region}::foundation-model/{name}"
    return f"arn:aws:bedrock:{call.region}:{call.account}:{kind}/{name}"


_TAGGED_KINDS = {"custom-model", "model-customization-job", "provisioned-model", "custom-model-deployment"}


def _bedrock_kind(arn: str) -> str:
    return arn.split(":", 5)[5].split("/", 1)[0]


def _resolve(call: Call, world: World, identifier: str, kind: str) -> str:
    """A Bedrock name or ARN -> ARN. A resource that does not exist is named as the API would address it."""
    found = world.bedrock_arn(identifier, kind)
    if found:
        return found
    return identifier if identifier.startswith("arn:") else _bedrock_arn(call, kind, identifier)


def _base_model(call: Call, world: World, identifier: str) -> str:
    """A base model identifier: a foundation model id or ARN, or a custom model name or ARN."""
    if identifier.startswith("arn:"):
        return identifier
    custom = world.bedrock_arn(identifier, "custom-model")
    return custom or _resolve(call, world, identifier, "foundation-model")


def _bedrock_request(
    call: Call,
    world: World,
    action: str,
    resource: str,
    *,
    request_tags: Mapping[str, str] | None = None,
    existing: bool = True,
    implicit: str | None = None,
) -> ActionRequest:
    context: dict[str, ContextValue] = dict(_request_tags(request_tags or {}))
    if existing and resource != "*" and _bedrock_kind(resource) in _TAGGED_KINDS:
        context.update(_resource_tags(world, resource))
    return ActionRequest(action=action, resource=resource, context=context, resource_policy=None, implicit=implicit)


def _model_user_kms(call: Call, world: World, model_arn: str, actions: Iterable[str], why: str) -> list[ActionRequest]:
    """KMS requests for using an encrypted custom model (creating a PT or deployment, invoking it)."""
    custom = model_arn if _bedrock_kind(model_arn) == "custom-model" else world.serving_model(model_arn)
    key = world.custom_model_kms_key(custom) if custom else None
    if not key:
        return []
    return [_kms_request(world, call, action, key, via="bedrock", implicit=why) for action in actions]


def _bedrock(call: Call, world: World) -> list[ActionRequest]:
    p, op = call.params, call.operation
    action = f"bedrock:{op}"

    def on(kind: str, param: str) -> list[ActionRequest]:
        return [_bedrock_request(call, world, action, _resolve(call, world, str(p[param]), kind))]

    if op == "CreateModelCustomizationJob":
        job_tags = _tag_list(p.get("jobTags"))
        model_tags = _tag_list(p.get("customModelTags"))
        tags = _merge_tags(call, job_tags, model_tags)
        new_model = _bedrock_arn(call, "custom-model", p["customModelName"])
        new_job = _bedrock_arn(call, "model-customization-job", p["jobName"])
        requests = [
            _bedrock_request(
                call, world, action, _base_model(call, world, p["baseModelIdentifier"]), request_tags=tags
            ),
            _bedrock_request(call, world, action, new_model, request_tags=tags, existing=False),
        ]
        for resource, own in ((new_job, job_tags), (new_model, model_tags)):
            if own:
                requests.append(
                    _bedrock_request(
                        call,
                        world,
                        "bedrock:TagResource",
                        resource,
                        request_tags=own,
                        existing=False,
                        implicit="tags passed at creation",
                    )
                )
        requests.append(pass_role(p["roleArn"], "bedrock.amazonaws.com"))
        if p.get("customModelKmsKeyId"):
            for kms_action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"):
                extra: dict[str, ContextValue] = (
                    {"kms:GrantIsForAWSResource": True} if kms_action == "kms:CreateGrant" else {}
                )
                requests.append(
                    _kms_request(
                        world,
                        call,
                        kms_action,
                        p["customModelKmsKeyId"],
                        via="bedrock",
                        extra=extra,
                        implicit="custom model encrypted with a customer managed key, created via Bedrock",
                    )
                )
        return requests
    if op in ("CreateProvisionedModelThroughput", "CreateCustomModelDeployment"):
        param = "modelId" if op == "CreateProvisionedModelThroughput" else "modelArn"
        model = _base_model(call, world, str(p[param]))
        tags = _tag_list(p.get("tags"))
        kind = "provisioned-model" if op == "CreateProvisionedModelThroughput" else "custom-model-deployment"
        name = p["provisionedModelName"] if op == "CreateProvisionedModelThroughput" else p["modelDeploymentName"]
        requests = [_bedrock_request(call, world, action, model, request_tags=tags)]
        if tags:
            requests.append(
                _bedrock_request(
                    call,
                    world,
                    "bedrock:TagResource",
                    _bedrock_arn(call, kind, name),
                    request_tags=tags,
                    existing=False,
                    implicit="tags passed at creation",
                )
            )
        return requests + _model_user_kms(
            call, world, model, ("kms:Decrypt", "kms:GenerateDataKey"), f"encrypted custom model served via {op}"
        )
    if op in ("GetModelCustomizationJob", "StopModelCustomizationJob"):
        return on("model-customization-job", "jobIdentifier")
    if op in ("GetCustomModel", "DeleteCustomModel"):
        return on("custom-model", "modelIdentifier")
    if op in ("GetProvisionedModelThroughput", "DeleteProvisionedModelThroughput"):
        return on("provisioned-model", "provisionedModelId")
    if op == "UpdateProvisionedModelThroughput":
        requests = on("provisioned-model", "provisionedModelId")
        if p.get("desiredModelId"):
            requests.append(_bedrock_request(call, world, action, _base_model(call, world, p["desiredModelId"])))
        return requests
    if op in ("GetCustomModelDeployment", "DeleteCustomModelDeployment"):
        return on("custom-model-deployment", "customModelDeploymentIdentifier")
    if op == "UpdateCustomModelDeployment":
        # The deployment (its aws:ResourceTag), and the custom model it is pointed at as for
        # UpdateProvisionedModelThroughput's desiredModelId (a guess: docs/authorization-actions.md), whose key
        # serves the model as CreateCustomModelDeployment's does.
        model = _base_model(call, world, str(p["modelArn"]))
        requests = on("custom-model-deployment", "customModelDeploymentIdentifier")
        requests.append(_bedrock_request(call, world, action, model))
        return requests + _model_user_kms(
            call, world, model, ("kms:Decrypt", "kms:GenerateDataKey"), f"encrypted custom model served via {op}"
        )
    if op == "GetFoundationModel":
        return on("foundation-model", "modelIdentifier")
    if op in (
        "ListModelCustomizationJobs",
        "ListCustomModels",
        "ListProvisionedModelThroughputs",
        "ListCustomModelDeployments",
        "ListFoundationModels",
    ):
        return [_bedrock_request(call, world, action, "*")]
    if op in ("TagResource", "UntagResource", "ListTagsForResource"):
        arn = str(p["resourceARN"])
        if op == "TagResource":
            return [_bedrock_request(call, world, action, arn, request_tags=_tag_list(p["tags"]))]
        request = _bedrock_request(call, world, action, arn)
        if op == "UntagResource":
            request = ActionRequest(
                action=action,
                resource=arn,
                context={**request.context, "aws:TagKeys": list(p["tagKeys"])},
                resource_policy=None,
            )
        return [request]
    raise _unmapped(call)


_INFERENCE_PROFILE_PREFIX = re.compile(r"^(us|eu|apac|jp|au|ca|us-gov|global)\.")


def _invoked_model(call: Call, world: World, model_id: str) -> str:
    if model_id.startswith("arn:"):
        kind = _bedrock_kind(model_id)
        if kind not in ("foundation-model", "provisioned-model", "custom-model-deployment", "custom-model"):
            raise Undecidable(
                f"bedrock-runtime:{call.operation} on a {kind} is not mapped (actions.py, _invoked_model)"
            )
        return model_id
    if _INFERENCE_PROFILE_PREFIX.match(model_id):
        raise Undecidable(
            f"bedrock-runtime:{call.operation} on inference profile {model_id!r} (profile + per-region foundation "
            "models) is not mapped (src/bft_twin/iam/actions.py, _invoked_model)"
        )
    if "." in model_id:  # foundation model ids are "<provider>.<model>"; names allow no dot
        return _bedrock_arn(call, "foundation-model", model_id)
    for kind in ("provisioned-model", "custom-model-deployment"):
        found = world.bedrock_arn(model_id, kind)
        if found:
            return found
    raise Undecidable(f"bedrock-runtime:{call.operation}: no provisioned model or deployment named {model_id!r}")


def _bedrock_runtime(call: Call, world: World) -> list[ActionRequest]:
    op = call.operation
    actions = {
        "InvokeModel": "bedrock:InvokeModel",
        "Converse": "bedrock:InvokeModel",
        "InvokeModelWithResponseStream": "bedrock:InvokeModelWithResponseStream",
        "ConverseStream": "bedrock:InvokeModelWithResponseStream",
    }
    if op not in actions:
        raise _unmapped(call)
    for unsupported in ("guardrailConfig", "guardrailIdentifier", "promptVariables"):
        if call.params.get(unsupported):
            raise Undecidable(
                f"bedrock-runtime:{op} with {unsupported} needs further actions (actions.py, _bedrock_runtime)"
            )
    model = _invoked_model(call, world, str(call.params["modelId"]))
    request = _bedrock_request(call, world, actions[op], model)
    return [
        request,
        *_model_user_kms(call, world, model, ("kms:Decrypt",), "encrypted custom model invoked via Bedrock"),
    ]


# --------------------------------------------------------------------------------------------------
# Dispatch

_MAPPERS: dict[str, tuple[Callable[[Call, World], list[ActionRequest]], frozenset[str]]] = {
    "s3": (
        _s3,
        frozenset(
            {
                "GetObject",
                "HeadObject",
                "PutObject",
                "CreateMultipartUpload",
                "UploadPart",
                "CompleteMultipartUpload",
                "AbortMultipartUpload",
                "ListObjectsV2",
                "ListObjects",
                "DeleteObject",
                "GetBucketLocation",
                "HeadBucket",
                "CopyObject",
            }
        ),
    ),
    "dynamodb": (
        _dynamodb,
        frozenset(
            {
                "GetItem",
                "PutItem",
                "UpdateItem",
                "DeleteItem",
                "Query",
                "Scan",
                "BatchGetItem",
                "BatchWriteItem",
                "TransactWriteItems",
                "TransactGetItems",
                "DescribeTable",
            }
        ),
    ),
    "stepfunctions": (
        _stepfunctions,
        frozenset(
            {
                "StartExecution",
                "DescribeExecution",
                "GetExecutionHistory",
                "StopExecution",
                "ListExecutions",
                "DescribeStateMachine",
                "SendTaskSuccess",
                "SendTaskFailure",
                "SendTaskHeartbeat",
            }
        ),
    ),
    "sns": (_sns, frozenset({"Publish", "Subscribe", "ListSubscriptionsByTopic"})),
    "ssm": (_ssm, frozenset({"GetParameter", "GetParameters", "GetParametersByPath"})),
    "lambda": (_lambda, frozenset({"Invoke"})),
    "events": (_events, frozenset({"PutEvents"})),
    "cloudformation": (_cloudformation, frozenset({"DescribeStacks"})),
    "sts": (_sts, frozenset({"GetCallerIdentity", "AssumeRole"})),
    "kms": (
        _kms,
        frozenset(
            {
                "Decrypt",
                "Encrypt",
                "GenerateDataKey",
                "GenerateDataKeyWithoutPlaintext",
                "DescribeKey",
                "CreateGrant",
                "ListGrants",
                "RetireGrant",
            }
        ),
    ),
    "bedrock": (
        _bedrock,
        frozenset(
            {
                "CreateModelCustomizationJob",
                "GetModelCustomizationJob",
                "StopModelCustomizationJob",
                "ListModelCustomizationJobs",
                "GetCustomModel",
                "DeleteCustomModel",
                "ListCustomModels",
                "CreateProvisionedModelThroughput",
                "GetProvisionedModelThroughput",
                "UpdateProvisionedModelThroughput",
                "DeleteProvisionedModelThroughput",
                "ListProvisionedModelThroughputs",
                "CreateCustomModelDeployment",
                "GetCustomModelDeployment",
                "UpdateCustomModelDeployment",
                "DeleteCustomModelDeployment",
                "ListCustomModelDeployments",
                "GetFoundationModel",
                "ListFoundationModels",
                "TagResource",
                "UntagResource",
                "ListTagsForResource",
            }
        ),
    ),
    "bedrock-runtime": (
        _bedrock_runtime,
        frozenset({"InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream"}),
    ),
}

#: Every (botocore service, operation) :func:`auth_requests` maps; anything else is Undecidable.
MAPPED_OPERATIONS: frozenset[tuple[str, str]] = frozenset(
    (service, operation) for service, (_, operations) in _MAPPERS.items() for operation in operations
)


def _unmapped(call: Call) -> Undecidable:
    return Undecidable(
        f"no authorization mapping for {call.service}:{call.operation}; add it to _MAPPERS in "
        "src/bft_twin/iam/actions.py (with its source in docs/authorization-actions.md)"
    )


def auth_requests(call: Call, world: World) -> list[ActionRequest]:
    """The IAM authorization requests AWS makes for ``call``, the direct one first, implicit ones after.

    Raises :class:`~bft_twin.iam.model.Undecidable` for an operation that is not mapped, or a form of a
    mapped one the mapper does not model: the offline run fails closed.
    """
    entry = _MAPPERS.get(call.service)
    if entry is None or call.operation not in entry[1]:
        raise _unmapped(call)
    return entry[0](call, world)
