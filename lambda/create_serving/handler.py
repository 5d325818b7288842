"""Step 6: create the provisioned throughput (or on-demand deployment) for the custom model.

The model is the output of the run's own job (GetModelCustomizationJob), never the event's ``modelArn``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.aws_errors import typed_errors
from bft.workflow.serving import create_serving

logger = Logger(service="bft")


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return create_serving(event["run"], bedrock=aws.client("bedrock"))
