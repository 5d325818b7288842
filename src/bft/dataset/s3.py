"""Validate a dataset stored in S3 and store the report: the domain of the Lambda step.

The S3 client is passed in (``bft.aws.client("s3")`` in the handler, moto or a
stub in tests). Failure policy, by what the submitter can do about it:

* Object missing (NoSuchKey, NoSuchBucket), access denied (AccessDenied, 403,
  KMS denials) or archived (InvalidObjectState): a whole-file error in the
  report, so the submitter gets the same ``DatasetInvalid`` + report URI as for
  bad content. These are wrong or unreadable URIs in the request; an operator
  who broke the role's grants sees the same message in the report.
* Not UTF-8, bad JSON, broken rules: line errors in the report, ``DatasetInvalid``.
* Throttling, 5xx, timeouts and dropped connections: ``TransientError``; the
  state machine retries with backoff. Nothing is written for that attempt.
* Any other client error (a bug or misconfiguration of ours): re-raised as is.
* A malformed event: ``RequestInvalid``; an unknown model: ``BaseModelUnavailable``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from bft.dataset.parsing import dumps, iter_lines, read_chunks
from bft.dataset.report import Report, billed_tokens_phrase
from bft.dataset.validator import DatasetValidator, Reread
from bft.errors import DatasetInvalid, RequestInvalid, TransientError
from bft.families import check_hyperparameters, default_epochs, family_for

REPORT_NAME = "dataset-validation.json"
RESULT_WARNINGS = 5  # warnings carried in the step result; the report has the rest
MESSAGE_ERRORS = 3  # errors named in the DatasetInvalid message

_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})
_DENIED = frozenset({"AccessDenied", "403", "AllAccessDisabled", "KMS.AccessDeniedException", "KMS.DisabledException"})
_ARCHIVED = frozenset({"InvalidObjectState"})
_TRANSIENT = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "KMS.ThrottlingException",
    }
)
_NETWORK_ERRORS = (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
# Team names and request ids become S3 key segments: no "/", "..", or spaces.
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def parse_s3_uri(uri: str, what: str = "URI") -> tuple[str, str]:
    """Split ``s3://bucket/key`` into (bucket, key); RequestInvalid if it is not an object URI."""
    if not uri.startswith("s3://"):
        raise RequestInvalid(f"{what} must start with s3://, got {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket or not key or key.endswith("/"):
        raise RequestInvalid(f"{what} must name an object (s3://bucket/key.jsonl), got {uri!r}")
    return bucket, key


@dataclass(frozen=True)
class ValidationRequest:
    """The state machine's input to the dataset-validation step."""

    request_id: str
    team: str
    base_model_id: str
    training_uri: str
    validation_uri: str | None = None
    hyperparameters: Mapping[str, str | int | float] = field(default_factory=dict)
    # The request's evaluation set (checked here, before any job, with the evaluation rules) and how many
    # of its records Evaluate scores.
    evaluation_uri: str | None = None
    evaluation_max_records: int | None = None
    # fine-tuning: answered records; reinforcement: prompts with a reference answer (bft.dataset.rft).
    customization: str = "fine-tuning"
    # A reinforcement run's grader ({"builtin", "options"} or {"functionArn"}), tried on the prompts before any job.
    grader: Mapping[str, Any] | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> ValidationRequest:
        if not isinstance(event, Mapping):
            raise RequestInvalid("the event must be a JSON object")

        def text(name: str, *, required: bool = True) -> str | None:
            value = event.get(name)
            if value is None and not required:
                return None
            if not isinstance(value, str) or not value:
                raise RequestInvalid(f"{name} must be a non-empty string")
            return value

        request_id, team = text("requestId"), text("team")
        for name, value in (("requestId", request_id), ("team", team)):
            if not _SEGMENT.fullmatch(str(value)):
                raise RequestInvalid(f"{name} must be 1-128 of letters, digits, '.', '_', '-', got {value!r}")
        hp = event.get("hyperParameters") or {}
        if not isinstance(hp, Mapping):
            raise RequestInvalid("hyperParameters must be an object")
        training = str(text("trainingDataUri"))
        validation = text("validationDataUri", required=False)
        parse_s3_uri(training, "trainingDataUri")
        if validation is not None:
            parse_s3_uri(validation, "validationDataUri")
        evaluation = event.get("evaluation")
        evaluation_uri: str | None = None
        max_records: int | None = None
        if evaluation is not None:
            if not isinstance(evaluation, Mapping) or not isinstance(evaluation.get("dataUri"), str):
                raise RequestInvalid("evaluation must be an object with a dataUri")
            evaluation_uri = evaluation["dataUri"]
            parse_s3_uri(str(evaluation_uri), "evaluation.dataUri")
            scored = evaluation.get("maxRecords")
            max_records = scored if isinstance(scored, int) and not isinstance(scored, bool) else None
        return cls(
            str(request_id),
            str(team),
            str(text("baseModelId")),
            training,
            validation,
            dict(hp),
            evaluation_uri,
            max_records,
            str(event.get("customization") or "fine-tuning"),
            event.get("grader") if isinstance(event.get("grader"), Mapping) else None,
        )


def report_key(request: ValidationRequest) -> str:
    return f"reports/{request.team}/{request.request_id}/{REPORT_NAME}"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_transient(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return _code(exc) in _TRANSIENT or (isinstance(status, int) and status >= 500)


def _read_object(
    validator: DatasetValidator, s3: Any, role: str, uri: str, *, scored_records: int | None = None
) -> None:
    """Stream one object through the validator, or record why it could not be read."""
    bucket, key = parse_s3_uri(uri)
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = _code(exc)
        if code in _NOT_FOUND:
            validator.add_file_error(role, uri, "object_not_found", f"no object at {uri} ({code})")
            return
        if code in _DENIED:
            validator.add_file_error(
                role,
                uri,
                "access_denied",
                f"the pipeline may not read {uri} ({code}); upload the dataset under your team's data prefix",
            )
            return
        if code in _ARCHIVED:
            validator.add_file_error(role, uri, "object_archived", f"{uri} is archived; restore it first ({code})")
            return
        if _is_transient(exc):
            raise TransientError(f"S3 GetObject {uri}: {code}") from exc
        raise
    except _NETWORK_ERRORS as exc:
        raise TransientError(f"S3 GetObject {uri}: {exc}") from exc
    body = response["Body"]
    reread = _object_reader(s3, bucket, key, response.get("ETag"))
    try:
        validator.add_file(
            role,
            uri,
            iter_lines(read_chunks(body)),
            size=response.get("ContentLength"),
            reread=reread,
            scored_records=scored_records,
        )
    except _NETWORK_ERRORS as exc:
        raise TransientError(f"reading {uri} failed midway: {exc}") from exc
    finally:
        body.close()


def _object_reader(s3: Any, bucket: str, key: str, etag: str | None) -> Reread:
    """Ranged GETs of the same object version (duplicate detection reads a few records back)."""

    def reread(offset: int, length: int) -> bytes:
        extra = {"IfMatch": etag} if etag else {}
        try:
            response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}", **extra)
        except ClientError as exc:
            if _code(exc) in ("PreconditionFailed", "412") or _is_transient(exc):
                raise TransientError(f"S3 GetObject s3://{bucket}/{key} (range): {_code(exc)}") from exc
            raise
        except _NETWORK_ERRORS as exc:
            raise TransientError(f"S3 GetObject s3://{bucket}/{key} (range): {exc}") from exc
        body = response["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
        return data

    return reread


def _put_report(s3: Any, bucket: str, key: str, report: Report) -> None:
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=dumps(report.to_dict()), ContentType="application/json")
    except ClientError as exc:
        if _is_transient(exc):
            raise TransientError(f"S3 PutObject s3://{bucket}/{key}: {_code(exc)}") from exc
        raise
    except _NETWORK_ERRORS as exc:
        raise TransientError(f"S3 PutObject s3://{bucket}/{key}: {exc}") from exc


def invalid_message(report_uri: str, report: Report, limit: int = MESSAGE_ERRORS) -> str:
    """DatasetInvalid's message: the report URI first, then the first errors."""
    count = report.error_count
    first = "; ".join(str(issue) for issue in report.errors[:limit])
    tokens = billed_tokens_phrase(report)
    size = f" ({tokens})" if tokens else ""
    return f"{report_uri}: {count:,} error{'s' if count != 1 else ''} in the dataset{size}; first: {first}"


def validate_request(
    request: ValidationRequest,
    *,
    s3: Any,
    reports_bucket: str,
    max_issues: int = 100,
) -> dict[str, Any]:
    """Validate the request's dataset, write the report, and return the step result.

    Raises DatasetInvalid (message starts with the report URI) when the dataset
    breaks a rule; see the module docstring for the other errors.
    """
    family = family_for(request.base_model_id)
    if request.customization == "reinforcement":  # typed RFT hyperparameters, checked by ValidateRequest
        epochs = int(request.hyperparameters.get("epochCount", 1))
    else:
        hyperparameters = check_hyperparameters(family, request.hyperparameters)
        epochs = int(hyperparameters.get("epochCount", default_epochs(family)))
    training_bucket, _ = parse_s3_uri(request.training_uri, "trainingDataUri")
    validator = DatasetValidator(
        request.base_model_id,
        dataset_bucket=training_bucket,
        team=request.team,
        max_issues=max_issues,
        customization=request.customization,
    )
    _read_object(validator, s3, "training", request.training_uri)
    if request.validation_uri is not None:
        _read_object(validator, s3, "validation", request.validation_uri)
    if request.evaluation_uri is not None:
        _read_object(validator, s3, "evaluation", request.evaluation_uri, scored_records=request.evaluation_max_records)
    report = validator.finish(epochs)

    key = report_key(request)
    report_uri = f"s3://{reports_bucket}/{key}"
    _put_report(s3, reports_bucket, key, report)
    if not report.valid:
        raise DatasetInvalid(invalid_message(report_uri, report))
    return {
        "valid": True,
        "reportUri": report_uri,
        "warnings": [w.to_dict() for w in report.warnings[:RESULT_WARNINGS]],
        "statistics": report.to_dict()["statistics"],
    }
