"""Step 7: score the custom model (and the base model) on the evaluation set; gate on the threshold."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.workflow.bedrock_errors import typed_errors
from bft.workflow.evaluation import evaluate
from bft.workflow.settings import env

logger = Logger(service="bft")


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return evaluate(
        event["run"],
        event["serving"],
        bedrock=aws.client("bedrock"),
        s3=aws.client("s3"),
        runtime=aws.client("bedrock-runtime"),
        reports_bucket=env("REPORTS_BUCKET"),
    )
