"""The dataset-validation Lambda against moto S3 (and stubs for what moto cannot fake)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from moto import mock_aws

from bft import aws
from bft.dataset.s3 import ValidationRequest, validate_request
from bft.errors import BaseModelUnavailable, DatasetInvalid, RequestInvalid, TransientError
from bft.workflow.settings import Misconfigured
from tests.unit.test_dataset_rules import HAIKU, NOVA_LITE, conv, dataset, image

ROOT = Path(__file__).resolve().parents[2]
DATA = "team-data"
REPORTS = "pipeline-reports"


def load_handler() -> ModuleType:
    path = ROOT / "lambda" / "validate_dataset" / "handler.py"
    spec = importlib.util.spec_from_file_location("validate_dataset_handler", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


handler_module = load_handler()


@dataclass
class FakeContext:
    function_name: str = "validate-dataset"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-west-2:123456789012:function:validate-dataset"
    aws_request_id: str = "5f4e3d2c-0000-4000-8000-000000000001"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("REPORTS_BUCKET", REPORTS)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=DATA)
        client.create_bucket(Bucket=REPORTS)
        aws.override("s3", client)
        yield client
    aws.reset()


def put(s3: Any, key: str, lines: list[bytes]) -> str:
    s3.put_object(Bucket=DATA, Key=key, Body=b"\n".join(lines) + b"\n")
    return f"s3://{DATA}/{key}"


def event(training: str, validation: str | None = None, **over: Any) -> dict[str, Any]:
    return {
        "requestId": "req-123",
        "team": "search",
        "baseModelId": HAIKU,
        "trainingDataUri": training,
        "validationDataUri": validation,
        "hyperParameters": {"epochCount": "3"},
        **over,
    }


def stored_report(s3: Any, request_id: str = "req-123", team: str = "search") -> dict[str, Any]:
    body = s3.get_object(Bucket=REPORTS, Key=f"reports/{team}/{request_id}/dataset-validation.json")["Body"].read()
    return json.loads(body)


REPORT_URI = f"s3://{REPORTS}/reports/search/req-123/dataset-validation.json"


def invoke(evt: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = handler_module.handler(evt, FakeContext())
    return result


def test_valid_dataset_returns_the_report_uri_and_statistics(s3: Any) -> None:
    training = put(s3, "search/train.jsonl", dataset(HAIKU, 40))
    validation = put(s3, "search/val.jsonl", dataset(HAIKU, 2))
    result = invoke(event(training, validation))
    assert result["valid"] is True
    assert result["reportUri"] == REPORT_URI
    assert [w["code"] for w in result["warnings"]] == ["duplicate_record", "duplicate_record"]
    assert result["statistics"]["records"] == 40
    assert result["statistics"]["epochs"] == 3
    assert result["statistics"]["estimated_billed_tokens"] == 3 * result["statistics"]["tokens"]["total"]
    report = stored_report(s3)
    assert report["valid"] is True
    assert [(f["role"], f["path"], f["records"]) for f in report["files"]] == [
        ("training", training, 40),
        ("validation", validation, 2),
    ]
    assert json.dumps(result)  # the step result is JSON for Step Functions


def test_invalid_dataset_writes_the_report_and_raises_with_its_uri(s3: Any) -> None:
    bad = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}
    training = put(s3, "search/train.jsonl", dataset(HAIKU, 40, {5: bad, 12: b"{"}))
    with pytest.raises(DatasetInvalid) as info:
        invoke(event(training))
    message = str(info.value)
    assert message.startswith(f"{REPORT_URI}: 2 errors in the dataset (its 38 valid training records: about ")
    assert " billed training tokens over 3 epochs); first: " in message  # the event asks for 3
    assert f"{training}:5: messages[1].role: roles must alternate" in message
    assert f"{training}:12: invalid JSON" in message
    report = stored_report(s3)
    assert report["valid"] is False
    assert [(e["file"], e["line"], e["code"]) for e in report["errors"]] == [
        (training, 5, "role_order"),
        (training, 12, "invalid_json"),
    ]


def test_missing_object_is_a_dataset_error_with_a_report(s3: Any) -> None:
    missing = f"s3://{DATA}/search/nope.jsonl"
    with pytest.raises(DatasetInvalid, match=r"^s3://pipeline-reports/.*object_not_found"):
        invoke(event(missing))
    report = stored_report(s3)
    assert [(e["file"], e["line"], e["code"]) for e in report["errors"]] == [(missing, None, "object_not_found")]
    assert report["files"][0]["read"] is False


def test_missing_bucket_is_a_dataset_error(s3: Any) -> None:
    with pytest.raises(DatasetInvalid, match="object_not_found"):
        invoke(event("s3://no-such-bucket/train.jsonl"))


class DenyingS3:
    """Delegates to moto but refuses GetObject on one key (moto does not evaluate IAM)."""

    def __init__(self, inner: Any, key: str, code: str = "AccessDenied", status: int = 403) -> None:
        self._inner, self._key, self._code, self._status = inner, key, code, status

    def get_object(self, **kwargs: Any) -> Any:
        if kwargs["Key"] == self._key:
            error = {
                "Error": {"Code": self._code, "Message": "denied"},
                "ResponseMetadata": {"HTTPStatusCode": self._status},
            }
            raise ClientError(error, "GetObject")  # type: ignore[arg-type]
        return self._inner.get_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_access_denied_is_a_dataset_error_with_a_report(s3: Any) -> None:
    training = put(s3, "search/train.jsonl", dataset(HAIKU, 40))
    validation = put(s3, "other-team/val.jsonl", dataset(HAIKU, 3))
    aws.override("s3", DenyingS3(s3, "other-team/val.jsonl"))
    with pytest.raises(DatasetInvalid) as info:
        invoke(event(training, validation))
    assert str(info.value).startswith(REPORT_URI)
    assert "access_denied" in str(info.value)
    report = stored_report(s3)
    assert [(e["file"], e["code"]) for e in report["errors"]] == [(validation, "access_denied")]
    assert report["files"][0]["records"] == 40  # the training file was still validated


def test_not_utf8_is_a_dataset_error_at_the_line(s3: Any) -> None:
    lines = dataset(HAIKU, 40)
    lines[6] = lines[6].replace(b"record", b"r\xe9cord")  # Latin-1, not UTF-8
    training = put(s3, "search/latin1.jsonl", lines)
    with pytest.raises(DatasetInvalid, match=r"latin1\.jsonl:7: not valid UTF-8"):
        invoke(event(training))
    assert [(e["line"], e["code"]) for e in stored_report(s3)["errors"]] == [(7, "invalid_utf8")]


def test_throttling_is_transient_and_writes_no_report(s3: Any) -> None:
    training = put(s3, "search/train.jsonl", dataset(HAIKU, 40))
    aws.override("s3", DenyingS3(s3, "search/train.jsonl", code="SlowDown", status=503))
    with pytest.raises(TransientError, match="SlowDown"):
        invoke(event(training))
    assert s3.list_objects_v2(Bucket=REPORTS).get("KeyCount") == 0


def test_server_error_is_transient(s3: Any) -> None:
    training = put(s3, "search/train.jsonl", dataset(HAIKU, 40))
    aws.override("s3", DenyingS3(s3, "search/train.jsonl", code="InternalError", status=500))
    with pytest.raises(TransientError):
        invoke(event(training))


def test_other_client_errors_are_not_swallowed(s3: Any) -> None:
    training = put(s3, "search/train.jsonl", dataset(HAIKU, 40))
    aws.override("s3", DenyingS3(s3, "search/train.jsonl", code="InvalidRequest", status=400))
    with pytest.raises(ClientError):
        invoke(event(training))


class BrokenBody:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        if self._data:
            chunk, self._data = self._data[:size], b""
            return chunk
        raise ReadTimeoutError(endpoint_url="https://s3.amazonaws.com")

    def close(self) -> None:
        self.closed = True


def test_a_connection_dropped_midway_is_transient(s3: Any) -> None:
    body = BrokenBody(b"\n".join(dataset(HAIKU, 10)))

    class Stub:
        def get_object(self, **_: Any) -> dict[str, Any]:
            return {"Body": body, "ContentLength": 10**6}

    request = ValidationRequest.from_event(event(f"s3://{DATA}/search/train.jsonl"))
    with pytest.raises(TransientError, match="midway"):
        validate_request(request, s3=Stub(), reports_bucket=REPORTS)
    assert body.closed


def test_nova_media_must_share_the_dataset_bucket(s3: Any) -> None:
    lines = dataset(NOVA_LITE, 10, {2: conv(("user", [image("s3://elsewhere/x.png")]), ("assistant", [{"text": "a"}]))})
    training = put(s3, "search/nova.jsonl", lines)
    with pytest.raises(DatasetInvalid, match="media_bucket_mismatch"):
        invoke(event(training, baseModelId=NOVA_LITE, hyperParameters={"epochCount": "2"}))


def test_a_record_naming_another_teams_media_is_refused(s3: Any) -> None:
    """Audit M1: team search's record names moderation's private image; nothing is started."""
    stolen = image(f"s3://{DATA}/moderation/private/secret.png")
    lines = dataset(NOVA_LITE, 10, {4: conv(("user", [stolen]), ("assistant", [{"text": "a"}]))})
    training = put(s3, "search/nova.jsonl", lines)
    with pytest.raises(DatasetInvalid, match="media_outside_team_prefix"):
        invoke(event(training, baseModelId=NOVA_LITE, hyperParameters={"epochCount": "2"}))


def test_missing_reports_bucket_names_the_variable(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPORTS_BUCKET")
    training = put(s3, "search/train.jsonl", dataset(HAIKU, 40))
    with pytest.raises(Misconfigured, match="REPORTS_BUCKET"):
        invoke(event(training))


@pytest.mark.parametrize(
    ("over", "error", "pattern"),
    [
        ({"team": "../admin"}, RequestInvalid, "team must be"),
        ({"requestId": ""}, RequestInvalid, "requestId must be a non-empty string"),
        ({"trainingDataUri": "https://x/y.jsonl"}, RequestInvalid, "trainingDataUri must start with s3://"),
        ({"trainingDataUri": "s3://bucket/prefix/"}, RequestInvalid, "must name an object"),
        ({"validationDataUri": 3}, RequestInvalid, "validationDataUri must be a non-empty string"),
        ({"hyperParameters": {"epochCount": "50"}}, RequestInvalid, r"hyperParameters\.epochCount"),
        ({"hyperParameters": ["x"]}, RequestInvalid, "hyperParameters must be an object"),
        ({"baseModelId": "anthropic.claude-v2"}, BaseModelUnavailable, "cannot be fine-tuned"),
    ],
)
def test_bad_requests_raise_typed_errors(s3: Any, over: dict[str, Any], error: type[Exception], pattern: str) -> None:
    training = put(s3, "search/train.jsonl", dataset(HAIKU, 40))
    with pytest.raises(error, match=pattern):
        invoke(event(training, **over))
    assert s3.list_objects_v2(Bucket=REPORTS).get("KeyCount") == 0


def test_duplicates_are_read_back_with_ranged_gets_of_the_same_version(s3: Any) -> None:
    lines = dataset(HAIKU, 40)
    lines[30] = lines[4]
    training = put(s3, "search/dups.jsonl", lines)
    calls: list[dict[str, Any]] = []

    class Recording:
        def get_object(self, **kwargs: Any) -> Any:
            calls.append(kwargs)
            return s3.get_object(**kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(s3, name)

    aws.override("s3", Recording())
    result = invoke(event(training))
    assert [(w["line"], w["message"]) for w in result["warnings"]] == [(31, "same content as line 5")]
    ranged = [c for c in calls if "Range" in c]
    assert len(ranged) == 1
    assert ranged[0]["IfMatch"] == s3.head_object(Bucket=DATA, Key="search/dups.jsonl")["ETag"]


def test_an_object_replaced_during_validation_is_transient(s3: Any) -> None:
    from bft.dataset.s3 import _object_reader

    class Changed:
        def get_object(self, **_: Any) -> Any:
            error = {
                "Error": {"Code": "PreconditionFailed", "Message": "etag"},
                "ResponseMetadata": {"HTTPStatusCode": 412},
            }
            raise ClientError(error, "GetObject")  # type: ignore[arg-type]

    reread = _object_reader(Changed(), DATA, "k.jsonl", '"etag"')
    with pytest.raises(TransientError, match="PreconditionFailed"):
        reread(0, 10)


def test_handler_works_where_orjson_cannot_load(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The layer ships orjson for ARM_64; wherever it cannot be imported the standard library parses."""
    import sys

    monkeypatch.setitem(sys.modules, "orjson", None)
    training = put(s3, "search/train.jsonl", dataset(HAIKU, 40, {9: b"[]"}))
    with pytest.raises(DatasetInvalid, match=r"train\.jsonl:9: each line must be a JSON object"):
        invoke(event(training))
    report = stored_report(s3)
    assert report["parser"] == "json"
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(9, "not_an_object")]


def test_a_truncated_evaluation_file_fails_the_step_before_any_job(s3: Any) -> None:
    """The evaluation set is first read by Evaluate, after training and serving: the step checks it now."""
    training = put(s3, "search/train.jsonl", dataset(HAIKU, 40))
    records = dataset(HAIKU, 12)
    records[6] = records[6][: len(records[6]) // 2]
    evaluation = put(s3, "search/evaluation.jsonl", records)
    with pytest.raises(DatasetInvalid) as info:
        invoke(event(training, evaluation={"dataUri": evaluation, "threshold": 0.9, "maxRecords": 200}))
    assert f"{evaluation}:7: invalid JSON" in str(info.value)
    report = stored_report(s3)
    assert [(f["role"], f["records"]) for f in report["files"]] == [("training", 40), ("evaluation", 12)]


def test_an_evaluation_file_is_held_to_its_own_rules_not_the_training_minimum(s3: Any) -> None:
    training = put(s3, "search/train.jsonl", dataset(HAIKU, 40))
    evaluation = put(s3, "search/evaluation.jsonl", dataset(HAIKU, 12))
    result = invoke(event(training, evaluation={"dataUri": evaluation, "threshold": 0.9, "maxRecords": 10}))
    assert result["statistics"]["records"] == 40, "statistics stay the training file's (what is billed)"
    assert "records_not_scored" in [w["code"] for w in stored_report(s3)["warnings"]]
