"""Step 5 (waitForTaskToken): ask a reviewer; `bft approve` / `bft reject` resumes the execution."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.aws_errors import typed_errors
from bft.workflow.approval import request_approval
from bft.workflow.settings import env

logger = Logger(service="bft")


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return request_approval(
        event["run"],
        event.get("metrics"),
        event["token"],
        table=aws.resource_table(env("STATE_TABLE")),
        sns=aws.client("sns"),
        topic_arn=env("TOPIC_ARN"),
    )
