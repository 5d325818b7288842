"""Step 6 (poll): is the throughput InService yet? Bounded by the environment's poll limit."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.aws_errors import typed_errors
from bft.workflow.serving import check_serving

logger = Logger(service="bft")


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return check_serving(event["run"], event["serving"], bedrock=aws.client("bedrock"))
