"""Failure path: stop the job and the LLM judge's evaluation jobs, delete the throughput this run created,
discard an unwanted model."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.aws_errors import typed_errors
from bft.workflow.cleanup import cleanup
from bft.workflow.settings import env

logger = Logger(service="bft")


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = cleanup(
        event["state"],
        bedrock=aws.client("bedrock"),
        delete_failed_models=env("DELETE_FAILED_MODELS") == "true",
        # The name the LLM judge's evaluation jobs were named after (bft.workflow.judge.job_name).
        execution_name=event.get("executionName"),
    )
    logger.info("cleanup", extra=result)
    return result
