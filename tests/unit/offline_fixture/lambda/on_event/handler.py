"""Fixture rule target: resumes the waiting task of one request (event) or of every pending one (sweep)."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    if event["kind"] == "sweep":
        items = table.scan(FilterExpression=Attr("status").eq("pending"))["Items"]
        outcome = "swept"
    else:
        found = table.get_item(Key={"pk": event["request_id"]}).get("Item")
        items = [found] if found else []
        outcome = event["outcome"]
    sfn = boto3.client("stepfunctions")
    resumed = []
    for item in items:
        try:
            if outcome == "failed":
                sfn.send_task_failure(taskToken=item["token"], error="Rejected", cause=f"{item['pk']} was rejected")
            else:
                output = {"outcome": outcome, "greeting": os.environ["GREETING"]}
                sfn.send_task_success(taskToken=item["token"], output=json.dumps(output))
            resumed.append(str(item["pk"]))
        except (sfn.exceptions.InvalidToken, sfn.exceptions.TaskTimedOut, sfn.exceptions.TaskDoesNotExist):
            pass  # the execution ended meanwhile (timed out, stopped): the token is stale
        table.update_item(
            Key={"pk": item["pk"]},
            UpdateExpression="SET #s = :done",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":done": "done"},
        )
    return {"resumed": sorted(resumed)}
