"""Step 7 (a run that names its team's endpoint): point the endpoint at the run's evaluated model, then poll until
it serves it. The model is the output of the run's own job; the endpoint's tags are checked first."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.aws_errors import typed_errors
from bft.workflow.promotion import promote

logger = Logger(service="bft")


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # PromoteToEndpoint sends no "promotion"; CheckPromotion sends the last step's result.
    return promote(event["run"], event["serving"], bedrock=aws.client("bedrock"), promotion=event.get("promotion"))
