"""Step 1: validate the request, the team's guardrails and the base model's lifecycle; claim the request id."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.workflow.bedrock_errors import typed_errors
from bft.workflow.request import Context, now_utc, validate_request
from bft.workflow.settings import env

logger = Logger(service="bft")
_policy: dict[str, Any] = {}
_POLICY_TTL_SECONDS = 300  # a redeploy changes the parameter, not this function: re-read it now and then


def policy() -> dict[str, Any]:
    """The environment's guardrails from the SSM parameter the stack writes, cached for a few minutes."""
    if not _policy or time.monotonic() - _policy["loadedAt"] > _POLICY_TTL_SECONDS:
        value = aws.client("ssm").get_parameter(Name=env("POLICY_PARAMETER"))["Parameter"]["Value"]
        _policy.clear()
        _policy.update(document=json.loads(value), loadedAt=time.monotonic())
    document: dict[str, Any] = _policy["document"]
    return document


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    execution = event["execution"]
    started = (
        datetime.fromisoformat(execution["startTime"].replace("Z", "+00:00"))
        if execution.get("startTime")
        else now_utc()
    )
    run = validate_request(
        event["input"],
        policy(),
        Context(
            execution_arn=execution["id"],
            execution_name=execution["name"],
            now=max(started, now_utc()),
            assigned_team=event.get("assignedTeam"),
        ),
        bedrock=aws.client("bedrock"),
        table=aws.resource_table(env("STATE_TABLE")),
    )
    logger.info(
        "request accepted", extra={"request_id": run["requestId"], "team": run["team"], "warnings": run["warnings"]}
    )
    return run
