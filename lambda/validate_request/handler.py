"""Step 1: validate the request, the team's guardrails and the base model's lifecycle; claim the request id.

Also the CheckSpendCap state (``{"phase": "cap"}``, after ValidateDataset counted the billed tokens): the
team's monthly cap (bft.workflow.spend). Both read the same guardrails, so they share one function and role."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from bft import aws, clock
from bft.aws_errors import typed_errors
from bft.names import TEAM_NAME
from bft.registry import GUARDRAILS, merge_team, team_parameter
from bft.workflow.request import Context, now_utc, validate_request
from bft.workflow.settings import env, env_json
from bft.workflow.spend import check_spend_cap

logger = Logger(service="bft")
_cache: dict[str, tuple[float, Any]] = {}
_POLICY_TTL_SECONDS = 300  # a redeploy changes the parameters, not this function: re-read them now and then


def _parameter(name: str) -> Any:
    """A JSON parameter, cached for a few minutes; None when it does not exist."""
    cached = _cache.get(name)
    if cached is None or clock.monotonic() - cached[0] > _POLICY_TTL_SECONDS:
        try:
            value = json.loads(aws.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ParameterNotFound":
                raise
            value = None
        cached = _cache[name] = (clock.monotonic(), value)
    return cached[1]


def policy(team: str | None) -> dict[str, Any]:
    """The environment's guardrails (the pipeline stack's parameter) with the team's entry merged in, from
    the registry its stack writes. A team without an entry is not onboarded: the request check says so."""
    document: dict[str, Any] = _parameter(env("POLICY_PARAMETER"))
    if not isinstance(team, str) or not TEAM_NAME.match(team):
        return document
    guardrails = _parameter(team_parameter(document["environment"], team, GUARDRAILS))
    return merge_team(document, team, guardrails) if isinstance(guardrails, dict) else document


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("phase") == "cap":
        run = event["run"]
        checked = check_spend_cap(
            run,
            event.get("dataset") or {},
            policy(run["team"]),
            prices=env_json("PRICES"),
            s3=aws.client("s3"),
            reports_bucket=env("REPORTS_BUCKET"),
        )
        logger.info("spend cap passed", extra={"request_id": run["requestId"], "team": run["team"], **checked})
        return checked
    execution = event["execution"]
    started = (
        datetime.fromisoformat(execution["startTime"].replace("Z", "+00:00"))
        if execution.get("startTime")
        else now_utc()
    )
    request = event["input"]
    team = event.get("assignedTeam") or (request.get("team") if isinstance(request, dict) else None)
    run = validate_request(
        request,
        policy(team),
        Context(
            execution_arn=execution["id"],
            execution_name=execution["name"],
            now=max(started, now_utc()),
            assigned_team=event.get("assignedTeam"),
        ),
        bedrock=aws.client("bedrock"),
        table=aws.resource_table(env("STATE_TABLE")),
        sfn=aws.client("stepfunctions"),
    )
    logger.info(
        "request accepted", extra={"request_id": run["requestId"], "team": run["team"], "warnings": run["warnings"]}
    )
    return run
