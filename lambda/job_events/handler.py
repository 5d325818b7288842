"""EventBridge target: a customization job changed state; resume the execution waiting for it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.aws_errors import typed_errors
from bft.workflow.job import on_job_event
from bft.workflow.settings import env

logger = Logger(service="bft")


@logger.inject_lambda_context(log_event=True)
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return on_job_event(event, table=aws.resource_table(env("STATE_TABLE")), sfn=aws.client("stepfunctions"))
