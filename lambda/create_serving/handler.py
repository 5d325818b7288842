"""Step 6: create the provisioned throughput (or on-demand deployment) for the custom model.

A run that waited for a reviewer is served only if the approval function recorded an approval for it.

The model is the output of the run's own job (GetModelCustomizationJob), never the event's ``modelArn``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.aws_errors import typed_errors
from bft.workflow.serving import create_serving
from bft.workflow.settings import env

logger = Logger(service="bft")


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = event["run"]
    # The state table only for a run that waited for a reviewer: its decision must be recorded there.
    table = aws.resource_table(env("STATE_TABLE")) if run.get("approvalRequired") else None
    return create_serving(run, bedrock=aws.client("bedrock"), table=table)
