"""Fixture waitForTaskToken task: stores the token; with ``resume_now`` it resumes its own task."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    table.put_item(Item={"pk": event["request_id"], "token": event["token"], "status": "pending"})
    if event.get("resume_now") is True:
        # A "register and check" step that finds the work already done resumes at once.
        boto3.client("stepfunctions").send_task_success(
            taskToken=event["token"], output=json.dumps({"outcome": "immediate"})
        )
        table.update_item(
            Key={"pk": event["request_id"]},
            UpdateExpression="SET #s = :done",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":done": "done"},
        )
    return {"registered": event["request_id"]}
