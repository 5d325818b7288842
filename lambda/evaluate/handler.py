"""Step 7: score the custom model (and the base model) on the evaluation set, fanned out by a Map state.

One function, three phases (bft.workflow.evaluation): ``plan`` (state Evaluate), ``chunk`` (each
EvaluateChunk iteration) and ``score`` (ScoreEvaluation). They read and write the same data with the same
rights, so they share one role.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.aws_errors import typed_errors
from bft.workflow import evaluation
from bft.workflow.settings import env

logger = Logger(service="bft")


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    phase = event.get("phase")
    if phase == "plan":
        return evaluation.plan(
            event["run"],
            event["serving"],
            bedrock=aws.client("bedrock"),
            s3=aws.client("s3"),
            execution_name=event["executionName"],
            reports_bucket=env("REPORTS_BUCKET"),
        )
    if phase == "chunk":
        return evaluation.score_chunk(
            event, s3=aws.client("s3"), runtime=aws.client("bedrock-runtime"), reports_bucket=env("REPORTS_BUCKET")
        )
    if phase == "score":
        return evaluation.aggregate(
            event["run"], event["plan"], s3=aws.client("s3"), reports_bucket=env("REPORTS_BUCKET")
        )
    raise ValueError(f"unknown evaluation phase {phase!r}: expected plan, chunk or score")
