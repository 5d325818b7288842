"""Step 3 (waitForTaskToken): park the execution until the job's state-change event resumes it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.aws_errors import typed_errors
from bft.workflow.job import register_wait
from bft.workflow.settings import env

logger = Logger(service="bft")


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return register_wait(
        event["jobArn"],
        event["token"],
        execution_arn=event["executionArn"],
        timeout_seconds=int(event["timeoutSeconds"]),
        table=aws.resource_table(env("STATE_TABLE")),
        bedrock=aws.client("bedrock"),
        sfn=aws.client("stepfunctions"),
    )
