"""Fixture task: fails with ``Flaky`` for the first ``flaky_times`` attempts, or ``Fatal`` at once."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any, get_type_hints

import boto3


@dataclass(frozen=True)
class Result:
    """A dataclass under ``from __future__ import annotations``: its module must be in sys.modules."""

    written: str
    environment: dict[str, str]
    function_name: str


class Flaky(Exception):
    """Retried by the state machine."""


class Fatal(Exception):
    """Caught by the state machine and sent to the Fail state."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = event["request_id"]
    table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    # The attempt counter lives in the table so that retries are visible to the test.
    updated = table.update_item(
        Key={"pk": f"attempt#{request_id}"},
        UpdateExpression="ADD attempts :one",
        ExpressionAttributeValues={":one": 1},
        ReturnValues="UPDATED_NEW",
    )
    attempts = int(updated["Attributes"]["attempts"])
    if event.get("fatal"):
        raise Fatal(f"request {request_id} cannot be processed")
    if attempts <= int(event.get("flaky_times", 0)):
        raise Flaky(f"attempt {attempts} of {request_id} failed")
    # Resolving string annotations at call time (as pydantic does lazily) needs the module in sys.modules.
    assert set(get_type_hints(Result)) == {"written", "environment", "function_name"}
    bucket = os.environ["BUCKET_NAME"]
    key = f"{request_id}/result.json"
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps({"attempts": attempts}).encode())
    names = ("BUCKET_NAME", "KEY_ARN", "TABLE_NAME", "TOPIC_ARN", "GREETING", "AWS_LAMBDA_FUNCTION_NAME")
    return asdict(
        Result(
            written=f"s3://{bucket}/{key}",
            environment={name: os.environ[name] for name in names},
            function_name=context.function_name,
        )
    )
