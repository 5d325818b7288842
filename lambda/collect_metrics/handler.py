"""Step 4: copy the job's loss curves into the run's report."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.aws_errors import typed_errors
from bft.workflow.metrics import collect_metrics
from bft.workflow.settings import env

logger = Logger(service="bft")


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return collect_metrics(event["run"], event["job"], s3=aws.client("s3"), reports_bucket=env("REPORTS_BUCKET"))
