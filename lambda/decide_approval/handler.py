"""Approval decisions through a Lambda function URL (AWS_IAM auth): `bft approve` / `bft reject` POST here.

Thin: the caller's verified identity, the reviewer check and the decision live in
``bft.workflow.approval.handle_function_url``; every outcome is a function-URL response
({statusCode, headers, body}), refusals included.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bft import aws
from bft.workflow.approval import ApprovalSettings, handle_function_url

logger = Logger(service="bft")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_function_url(
        event,
        settings=lambda: ApprovalSettings.from_env(ssm=lambda: aws.client("ssm")),
        table=aws.resource_table,
        sfn=lambda: aws.client("stepfunctions"),
    )
