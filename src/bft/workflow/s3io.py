"""Small S3 helpers shared by the steps."""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError

from bft.aws_errors import error_code, is_transient
from bft.errors import TransientError

_URI = re.compile(r"^s3://([^/]+)/(.*)$")


def split_uri(uri: str) -> tuple[str, str]:
    match = _URI.match(uri)
    if not match:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return match.group(1), match.group(2)


def put_json(s3: Any, bucket: str, key: str, document: Any) -> str:
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(document, indent=1, default=str).encode(),
            ContentType="application/json",
        )
    except ClientError as exc:
        if is_transient(exc):
            raise TransientError(f"S3 PutObject s3://{bucket}/{key}: {error_code(exc)}") from exc
        raise
    return f"s3://{bucket}/{key}"


def get_json(s3: Any, uri: str) -> Any:
    bucket, key = split_uri(uri)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def find_json(s3: Any, bucket: str, key: str) -> Any | None:
    """The JSON object at ``key``, or None when there is none (S3's NoSuchKey, or 404 from a HEAD-style read)."""
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise


def report_key(team: str, request_id: str, name: str) -> str:
    """Every report of a run lives under one prefix, which the team's role may read."""
    return f"reports/{team}/{request_id}/{name}"
