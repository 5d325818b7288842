"""Last step on every path: write the run report (run.json, report.html, report.md) and notify, saying what
still runs and costs money and where the report is."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.aws_errors import typed_errors
from bft.workflow.report import finalize
from bft.workflow.settings import env, env_json

logger = Logger(service="bft")


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return finalize(
        event["state"],
        event["status"],
        s3=aws.client("s3"),
        sns=aws.client("sns"),
        sfn=aws.client("stepfunctions"),
        table=aws.resource_table(env("STATE_TABLE")),
        reports_bucket=env("REPORTS_BUCKET"),
        topic_arn=env("TOPIC_ARN"),
        policy_prices=env_json("PRICES"),
        execution=event["execution"],
        environment=env("ENVIRONMENT"),
        # Set only by the offline twin (bft_twin.run): labels the report's figures as simulated.
        simulation=event.get("simulation"),
    )
