"""Dataset-validation step: validate the request's S3 dataset, store the report, fail typed.

Validates the training, validation and evaluation files (the last with its own rules), so a bad evaluation
file fails here, before any job. Thin by design: the rules live in ``bft.dataset`` (shared with ``bft validate``)
and the S3 work in ``bft.dataset.s3``. Raises DatasetInvalid (message starts
with the report's S3 URI), RequestInvalid, BaseModelUnavailable or
TransientError; the state machine catches them by name.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.aws_errors import typed_errors
from bft.dataset.s3 import ValidationRequest
from bft.errors import DatasetInvalid
from bft.workflow.grader_check import validate_with_grader
from bft.workflow.settings import env, env_optional

logger = Logger(service="bft")


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ValidationRequest.from_event(event)
    logger.append_keys(request_id=request.request_id, team=request.team, base_model_id=request.base_model_id)
    try:
        result = validate_with_grader(
            request,
            s3=aws.client("s3"),
            reports_bucket=env("REPORTS_BUCKET"),
            # Only a team's own grader function is invoked; built-in graders run in this process.
            lambda_client=aws.client("lambda") if request.grader and "functionArn" in request.grader else None,
            # A built-in grader's run trains on a copy of the prompts that names the grader.
            outputs_bucket=env_optional("OUTPUTS_BUCKET"),
        )
    except DatasetInvalid as exc:
        logger.warning("dataset invalid", extra={"reason": str(exc)})
        raise
    logger.info(
        "dataset valid",
        extra={"report_uri": result["reportUri"], "records": result["statistics"]["records"]},
    )
    return result
