"""Step 2: start the customization job (idempotent: a retry returns the same job)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.aws_errors import typed_errors
from bft.workflow.job import start_job
from bft.workflow.settings import env, env_optional

logger = Logger(service="bft")


@logger.inject_lambda_context
@typed_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    vpc = env_optional("JOB_VPC")
    return start_job(
        event["run"],
        bedrock=aws.client("bedrock"),
        role_arn=env("SERVICE_ROLE_ARN"),
        outputs_bucket=env("OUTPUTS_BUCKET"),
        kms_key_arn=env_optional("CUSTOM_MODEL_KMS_KEY"),
        vpc=json.loads(vpc) if vpc else None,
        grader_function_arn=env_optional("GRADER_FUNCTION_ARN"),
        dataset=event.get("dataset"),
    )
