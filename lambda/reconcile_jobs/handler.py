"""Scheduled backstop: resume executions whose job ended but whose state-change event was lost."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.aws_errors import typed_errors
from bft.workflow.job import reconcile
from bft.workflow.settings import env

logger = Logger(service="bft")


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = reconcile(
        table=aws.resource_table(env("STATE_TABLE")), bedrock=aws.client("bedrock"), sfn=aws.client("stepfunctions")
    )
    if result["resumed"]:
        logger.warning("resumed executions whose job event was lost", extra=result)
    return result
