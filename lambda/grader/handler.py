"""The pipeline's grader: Bedrock invokes it during a reinforcement fine-tuning job with a batch of answers.

Each record names its built-in grader and options in its metadata (``bft_grader``), which ValidateDataset wrote
into the job's copy of the team's prompts: one function serves every team and every request. Input and output
are Bedrock's grader contract (bft.workflow.graders); a record without ``bft_grader`` is an error, not a guess.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft.workflow.graders import grade_by_metadata

logger = Logger(service="bft")


@logger.inject_lambda_context
def handler(event: list[dict[str, Any]], context: LambdaContext) -> list[dict[str, Any]]:
    results = grade_by_metadata(event)
    logger.info("graded", extra={"answers": len(results)})
    return results
