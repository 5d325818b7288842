"""Scheduled cost guardrail: delete the pipeline's expired non-prod throughputs and old custom models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws, clock
from bft.aws_errors import typed_errors
from bft.errors import RequestInvalid
from bft.workflow.reaper import ReaperSettings, ReapIncomplete, run

logger = Logger(service="bft")


def now() -> datetime:
    """The time throughput ages are measured against (tests put the Bedrock fake's simulated clock here)."""
    return clock.now()


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A scheduled event carries no "dryRun"; a manual invocation may force one ({"dryRun": true}).
    force = event.get("dryRun", False) if isinstance(event, dict) else False
    if not isinstance(force, bool):
        raise RequestInvalid(f"dryRun must be true or false, not {force!r}")
    settings = ReaperSettings.from_env(ssm=lambda: aws.client("ssm"))
    try:
        result = run(
            settings,
            bedrock=aws.client("bedrock"),
            sns=aws.client("sns"),
            now=now(),
            force_dry_run=force,
        )
    except ReapIncomplete as exc:
        # Logged in full, then raised: the failed invocation shows in the function's Errors metric.
        logger.error("reaper finished with errors", extra={"result": exc.result})
        raise
    logger.info("reaper finished", extra={"result": result})
    return result
