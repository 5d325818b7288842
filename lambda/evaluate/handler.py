"""Step 7: score the custom model (and the base model) on the evaluation set, fanned out by a Map state.

One function, five phases (bft.workflow.evaluation): ``plan`` (state Evaluate), ``chunk`` (each
EvaluateChunk iteration) and ``score`` (ScoreEvaluation); with an LLM judge (bft.workflow.judge) also
``judge-start`` (StartJudge) and ``judge-check`` (CheckJudge). They read and write the same data with the same
rights, so they share one role.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.aws_errors import typed_errors
from bft.workflow import evaluation, judge
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
    if phase == "judge-start":
        s3 = aws.client("s3")
        planned = event["plan"]
        rows = evaluation.planned_rows(planned, s3=s3, reports_bucket=env("REPORTS_BUCKET"))
        prompts = evaluation.prompts(s3, event["run"]["evaluation"]["dataUri"], {row["line"] for row in rows})
        return judge.start(
            event["run"],
            planned,
            rows,
            prompts,
            s3=s3,
            bedrock=aws.client("bedrock"),
            outputs_bucket=env("OUTPUTS_BUCKET"),
            role_arn=env("JUDGE_ROLE_ARN"),
            execution_name=event["executionName"],
        )
    if phase == "judge-check":
        return judge.check(event["run"], event["judge"], bedrock=aws.client("bedrock"))
    raise ValueError(f"unknown evaluation phase {phase!r}: expected plan, chunk, judge-start, judge-check or score")
