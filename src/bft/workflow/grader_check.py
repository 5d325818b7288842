"""A reinforcement run's grader, tried on the team's own prompts before any job starts: a broken grader costs
nothing. ValidateDataset runs it after the prompts pass validation, ``bft grader test`` runs the same checks
(:func:`bft.workflow.graders.check_grader`) on a team's file.

The grader is the request's: a built-in one runs in process (the same code the pipeline's grader function
runs), a team's function is invoked as Bedrock would invoke it, with a batch of stand-in answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bft.dataset.s3 import ValidationRequest, parse_s3_uri, validate_request
from bft.errors import GraderInvalid
from bft.workflow.graders import CheckResult, check_grader, grade

# Prompts sampled from the head of the training file: each gets two stand-in answers (the reference and a
# wrong one), so the check makes a couple of small batches.
SAMPLE_PROMPTS = 8
SAMPLE_BYTES = 1 << 20


def describe(grader: dict[str, Any]) -> str:
    return f"built-in grader {grader['builtin']}" if "builtin" in grader else f"grader function {grader['functionArn']}"


def caller(grader: dict[str, Any], lambda_client: Any = None) -> Callable[[list[dict[str, Any]]], Any]:
    """A function that scores one batch with ``grader``: in process for a built-in, else by invoking the function
    (a function error is raised as the grader's own, with its message)."""
    if "builtin" in grader:
        return lambda batch: grade(grader["builtin"], grader.get("options") or {}, batch)
    if lambda_client is None:
        raise ValueError("a grader function needs a Lambda client to be invoked")

    def invoke(batch: list[dict[str, Any]]) -> Any:
        response = lambda_client.invoke(FunctionName=grader["functionArn"], Payload=json.dumps(batch).encode())
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            try:
                detail = json.loads(payload)
                message = f"{detail.get('errorType', 'Error')}: {detail.get('errorMessage', '')}"
            except ValueError:
                message = payload.decode("utf-8", "replace")[:300]
            raise RuntimeError(f"the function failed ({response['FunctionError']}): {message}")
        return json.loads(payload)

    return invoke


def sample_prompts(s3: Any, bucket: str, key: str, count: int = SAMPLE_PROMPTS) -> list[dict[str, Any]]:
    """The first ``count`` prompts of a validated prompts file (one ranged read)."""
    body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{SAMPLE_BYTES - 1}")["Body"].read()
    prompts: list[dict[str, Any]] = []
    for line in body.split(b"\n"):
        if len(prompts) >= count:
            break
        try:
            record = json.loads(line)
        except ValueError:  # the last line of the range may be cut short
            continue
        if isinstance(record, dict):
            prompts.append(record)
    return prompts


def require_working_grader(
    grader: dict[str, Any], prompts: list[dict[str, Any]], *, lambda_client: Any = None
) -> CheckResult:
    """Run the checks; GraderInvalid naming the grader and each failed check, so nothing starts."""
    result = check_grader(caller(grader, lambda_client), prompts)
    if not result.ok:
        raise GraderInvalid(
            f"grader: the {describe(grader)} failed its check on {len(prompts)} of the team's prompts, so no job "
            f"was started: {'; '.join(result.failures)}. Run `bft grader test` on your data to reproduce it."
        )
    return result


def validate_with_grader(
    request: ValidationRequest,
    *,
    s3: Any,
    reports_bucket: str,
    lambda_client: Any = None,
    outputs_bucket: str | None = None,
    max_issues: int = 100,
) -> dict[str, Any]:
    """The ValidateDataset step: the dataset's rules (bft.dataset.s3), then, for a reinforcement run, its grader
    tried on a sample of the team's prompts before any job (GraderInvalid names the grader's fault), and a
    built-in grader's copy of the prompts the job trains on."""
    result = validate_request(request, s3=s3, reports_bucket=reports_bucket, max_issues=max_issues)
    if request.customization != "reinforcement" or request.grader is None:
        return result
    training_bucket, training_key = parse_s3_uri(request.training_uri, "trainingDataUri")
    prompts = sample_prompts(s3, training_bucket, training_key)
    checked = require_working_grader(dict(request.grader), prompts, lambda_client=lambda_client)
    gate: dict[str, Any] = {"graderCheck": {"answers": checked.records, "rewards": sorted(set(checked.rewards))[:10]}}
    if "builtin" in request.grader and outputs_bucket:
        gate["preparedTrainingDataUri"] = prepare_prompts(s3, request, outputs_bucket)
    return gate | result


def prepare_prompts(s3: Any, request: ValidationRequest, outputs_bucket: str) -> str:
    """The job's copy of the team's prompts, each naming the request's built-in grader in its metadata: Bedrock
    passes a record's other fields to the grader, so the pipeline's one grader function knows what to apply.
    Written under the run's prefix of the outputs bucket, which the service role reads; at most 20,000 prompts."""
    from bft.workflow.graders import with_grader

    assert request.grader is not None
    builtin, options = str(request.grader["builtin"]), dict(request.grader.get("options") or {})
    bucket, key = parse_s3_uri(request.training_uri, "trainingDataUri")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    lines = [
        json.dumps(with_grader(json.loads(line), builtin, options), ensure_ascii=False).encode()
        for line in body.splitlines()
        if line.strip()
    ]
    target = f"{request.team}/{request.request_id}/rft-prompts.jsonl"
    s3.put_object(Bucket=outputs_bucket, Key=target, Body=b"\n".join(lines) + b"\n")
    return f"s3://{outputs_bucket}/{target}"
