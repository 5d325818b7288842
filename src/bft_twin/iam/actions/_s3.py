"""S3: object reads and writes (with SSE-KMS's implicit KMS requests), listings, copies."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from bft_twin.iam.actions._base import ActionRequest, Call, ResourceRef, World
from bft_twin.iam.actions._common import Mapper, unmapped
from bft_twin.iam.actions._kms import kms_request
from bft_twin.iam.model import ContextValue, Undecidable


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
            kms_request(
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
        "(src/bft_twin/iam/actions/_s3.py, _s3_write_key)"
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
                "(src/bft_twin/iam/actions/_s3.py, _s3_put)"
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
            kms_request(
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


def map_s3(call: Call, world: World) -> list[ActionRequest]:
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
    raise unmapped(call)


def _s3_plain(
    action: str, resource: str, bucket: str, context: Mapping[str, ContextValue] | None = None
) -> ActionRequest:
    return ActionRequest(
        action=action,
        resource=resource,
        context=dict(context or {}),
        resource_policy=ResourceRef("s3-bucket", _bucket_arn(bucket)),
    )


MAPPERS: dict[str, tuple[Mapper, frozenset[str]]] = {
    "s3": (
        map_s3,
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
}
