"""Step 6: create the provisioned throughput (or on-demand deployment) for the custom model."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.workflow.serving import create_serving

logger = Logger(service="bft")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return create_serving(event["run"], event["modelArn"], bedrock=aws.client("bedrock"))
