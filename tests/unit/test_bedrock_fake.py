"""The Bedrock fake behaves like Bedrock behind real boto3 clients.

Time is driven explicitly: the clock is frozen and tests move simulated time with
``fake.advance(seconds)``, so nothing here sleeps except the ticker tests (botocore's
retry backoff is recorded instead of slept).

Tests of a documented behaviour name its entry: ``docs/bedrock-behaviour.md#<anchor>``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws

from bft.sample_data import LABELS, Example, examples
from bft_twin.bedrock_fake import FakeBedrock
from bft_twin.catalog import HAIKU_FT, HAIKU_ON_DEMAND, NOVA_MICRO_FT, SONNET_35, catalog

# 2026-06-01T08:00:00Z: inside Claude 3 Haiku's published Legacy period (end of life 2026-09-10), so the
# default catalog (the published dates) still customizes it here.
NOW = 1_780_300_800.0
ROLE = "arn:aws:iam::123456789012:role/bedrock-ft"
JOB_ARN = re.compile(
    r"arn:aws:bedrock:us-west-2:123456789012:model-customization-job/"
    r"anthropic\.claude-3-haiku-20240307-v1:0:200k/[a-z0-9]{12}"
)
MODEL_ARN = re.compile(
    r"arn:aws:bedrock:us-west-2:123456789012:custom-model/anthropic\.claude-3-haiku-20240307-v1:0:200k/[a-z0-9]{12}"
)
PT_ARN = re.compile(r"arn:aws:bedrock:us-west-2:123456789012:provisioned-model/[a-z0-9]{12}")
TRAINING_RECORDS = 100
VALIDATION_RECORDS = 40
HOURS = 3600.0
# Fakes on the real clock train Haiku past its published end of life: they simulate an ACTIVE Haiku.
SIMULATED_ACTIVE_HAIKU = catalog(haiku_status="ACTIVE")


def frozen() -> float:
    return NOW


SESSION = boto3.session.Session()  # shared so each test does not reload the S3 model


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = SESSION.client("s3", region_name="us-west-2")
        client.create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        # The jobs learn from these (bedrock_fake._learner): comment moderation, four labels.
        client.put_object(Bucket="data", Key="train.jsonl", Body=jsonl(examples(TRAINING_RECORDS, seed=1)))
        client.put_object(Bucket="data", Key="valid.jsonl", Body=jsonl(examples(VALIDATION_RECORDS, seed=2)))
        yield client


def jsonl(records: Iterable[Example]) -> bytes:
    return b"".join(json.dumps(r.record()).encode() + b"\n" for r in records)


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def fake(s3: Any, events: list[dict[str, Any]]) -> FakeBedrock:
    # A world that can serve custom Haiku models: Haiku ACTIVE (no new PT on a LEGACY base,
    # docs/bedrock-behaviour.md#legacy-restrictions) and no-commitment units granted
    # (default 0, docs/bedrock-behaviour.md#no-commit-quota), and units with commitment (#commit-quota).
    return FakeBedrock(
        s3=s3,
        on_event=events.append,
        clock=frozen,
        time_scale=1.0,
        catalog=catalog(haiku_status="ACTIVE"),
        no_commit_model_units=2,
        commit_model_units=2,
    )


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays botocore's retry handler asked for, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", slept.append)
    return slept


def client_with_attempts(fake: FakeBedrock, service: str, attempts: int) -> Any:
    """A client of ``fake`` whose standard retry mode makes at most ``attempts`` attempts per call."""
    created = SESSION.client(
        service,
        region_name="us-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )
    return fake.attach(created)


@pytest.fixture
def bedrock(fake: FakeBedrock) -> Any:
    return fake.client("bedrock")


@pytest.fixture
def runtime(fake: FakeBedrock) -> Any:
    return fake.client("bedrock-runtime")


def job_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "jobName": "moderation-ft-1",
        "customModelName": "moderation-1",
        "roleArn": ROLE,
        "baseModelIdentifier": HAIKU_FT,
        "trainingDataConfig": {"s3Uri": "s3://data/train.jsonl"},
        "validationDataConfig": {"validators": [{"s3Uri": "s3://data/valid.jsonl"}]},
        "outputDataConfig": {"s3Uri": "s3://data/output/"},
        "hyperParameters": {"epochCount": "3", "batchSize": "8"},
        "jobTags": [{"key": "team", "value": "trust"}],
        "customModelTags": [{"key": "owner", "value": "ml"}],
    }
    args.update(overrides)
    return {k: v for k, v in args.items() if v is not None}


def error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def completed_model(fake: FakeBedrock, bedrock: Any, **overrides: Any) -> str:
    fake.plan_jobs("Completed", duration_s=4 * HOURS)
    job_arn = bedrock.create_model_customization_job(**job_args(**overrides))["jobArn"]
    fake.advance(4 * HOURS)
    model_arn: str = bedrock.get_model_customization_job(jobIdentifier=job_arn)["outputModelArn"]
    return model_arn


def in_service_throughput(fake: FakeBedrock, bedrock: Any, model: str, name: str = "pt-1", units: int = 1) -> str:
    arn: str = bedrock.create_provisioned_model_throughput(modelUnits=units, provisionedModelName=name, modelId=model)[
        "provisionedModelArn"
    ]
    fake.advance(30 * 60)
    return arn


def read_csv(s3: Any, key: str) -> list[dict[str, str]]:
    body = s3.get_object(Bucket="data", Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


# --------------------------------------------------------------- validation layers


def test_botocore_rejects_a_missing_required_member_before_the_fake_sees_the_call(
    fake: FakeBedrock, bedrock: Any
) -> None:
    with pytest.raises(ParamValidationError, match="modelUnits"):
        bedrock.create_provisioned_model_throughput(provisionedModelName="pt", modelId="moderation-1")
    assert fake.calls == []


def test_botocore_rejects_a_wrong_type_before_the_fake_sees_the_call(fake: FakeBedrock, bedrock: Any) -> None:
    with pytest.raises(ParamValidationError, match=r"hyperParameters\.epochCount"):
        bedrock.create_model_customization_job(**job_args(hyperParameters={"epochCount": 2}))
    assert fake.calls == []


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        # botocore checks neither patterns nor maximum lengths: Bedrock does, with a ValidationException.
        ({"jobName": "moderation_ft"}, "at 'jobName' failed to satisfy constraint: Member must satisfy regular"),
        ({"customModelName": "m" * 64}, "at 'customModelName' failed to satisfy constraint: Member must have length"),
        ({"customizationType": "FINE-TUNING"}, "Member must satisfy enum value set"),
        ({"outputDataConfig": {"s3Uri": "https://data/output"}}, "at 'outputDataConfig.s3Uri'"),
    ],
)
def test_bedrock_side_constraints_answer_validation_exception(
    fake: FakeBedrock, bedrock: Any, overrides: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        bedrock.create_model_customization_job(**job_args(**overrides))
    code, status, message = error(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert fragment in message
    assert isinstance(excinfo.value, bedrock.exceptions.ValidationException)
    assert fake.running_jobs() == []


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"baseModelIdentifier": "anthropic.claude-9-v1:0"}, "model identifier is invalid"),
        ({"baseModelIdentifier": SONNET_35}, "does not support FINE_TUNING"),
        ({"hyperParameters": {"learningRate": "0.0001"}}, "learningRate is not supported"),
        ({"hyperParameters": {"epochCount": "11"}}, "outside [1, 10]"),
        ({"hyperParameters": {"batchSize": "8.5"}}, "must be an integer"),
        ({"roleArn": "arn:aws:iam::999999999999:role/other"}, "Could not assume provided IAM role"),
        ({"trainingDataConfig": {"s3Uri": "s3://data/missing.jsonl"}}, "could not access the training data"),
        ({"validationDataConfig": {"validators": [{"s3Uri": "s3://data/nope.jsonl"}]}}, "validation data"),
        ({"outputDataConfig": {"s3Uri": "s3://no-such-bucket/out/"}}, "could not access the output location"),
    ],
)
def test_create_job_checks_what_bedrock_checks(
    fake: FakeBedrock, bedrock: Any, overrides: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        bedrock.create_model_customization_job(**job_args(**overrides))
    code, status, message = error(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert fragment in message
    assert fake.counters.jobs_started == 0


def test_haiku_is_not_fine_tunable_outside_us_west_2() -> None:
    fake = FakeBedrock(region="us-east-1", clock=frozen)
    with pytest.raises(ClientError) as excinfo:
        fake.client("bedrock").create_model_customization_job(**job_args())
    assert error(excinfo)[0] == "ValidationException"


def test_job_and_custom_model_names_are_unique(fake: FakeBedrock, bedrock: Any) -> None:
    """docs/bedrock-behaviour.md#job-name-in-use: ValidationException with exactly Bedrock's message."""
    bedrock.create_model_customization_job(**job_args())
    with pytest.raises(ClientError) as same_job:
        bedrock.create_model_customization_job(**job_args(customModelName="other"))
    with pytest.raises(ClientError) as same_model:
        bedrock.create_model_customization_job(**job_args(jobName="other"))
    # apache/airflow's Bedrock operator compares the message with exactly this string.
    assert error(same_job) == ("ValidationException", 400, "The provided job name is currently in use.")
    assert error(same_model)[:2] == ("ValidationException", 400)
    assert "custom model name" in error(same_model)[2]


# ---------------------------------------------------------------- job lifecycles


def test_completed_job_progresses_through_sub_tasks_and_produces_a_model(
    fake: FakeBedrock, bedrock: Any, s3: Any
) -> None:
    fake.plan_jobs("Completed", duration_s=10 * HOURS)
    created = bedrock.create_model_customization_job(**job_args())
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    job_arn = created["jobArn"]
    assert JOB_ARN.fullmatch(job_arn)

    def details() -> tuple[str, ...]:
        job = bedrock.get_model_customization_job(jobIdentifier="moderation-ft-1")
        d = job["statusDetails"]
        parts = (d["validationDetails"], d["dataProcessingDetails"], d["trainingDetails"])
        return (job["status"], *(p["status"] for p in parts))

    assert details() == ("InProgress", "InProgress", "NotStarted", "NotStarted")
    fake.advance(1 * HOURS + 1)
    assert details() == ("InProgress", "Completed", "InProgress", "NotStarted")
    fake.advance(2 * HOURS)
    assert details() == ("InProgress", "Completed", "Completed", "InProgress")
    fake.advance(7 * HOURS)
    assert details() == ("Completed", "Completed", "Completed", "Completed")

    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert MODEL_ARN.fullmatch(job["outputModelArn"])
    assert job["endTime"] == datetime.fromtimestamp(NOW + 10 * HOURS, UTC)
    assert job["creationTime"].tzinfo is not None
    assert job["trainingMetrics"]["trainingLoss"] > 0
    assert len(job["validationMetrics"]) == 1
    model = bedrock.get_custom_model(modelIdentifier="moderation-1")
    assert (model["modelArn"], model["modelStatus"], model["jobArn"]) == (job["outputModelArn"], "Active", job_arn)
    assert model["baseModelArn"] == f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU_FT}"
    assert fake.counters.jobs_completed == 1


def test_completed_job_writes_metric_csvs_where_bedrock_does(fake: FakeBedrock, bedrock: Any, s3: Any) -> None:
    fake.plan_jobs("Completed", duration_s=HOURS)
    job_arn = bedrock.create_model_customization_job(**job_args())["jobArn"]
    job_id = job_arn.rsplit("/", 1)[1]
    fake.advance(HOURS)

    root = f"output/model-customization-job-{job_id}"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="output/")["Contents"]}
    assert keys == {
        f"{root}/training_artifacts/step_wise_training_metrics.csv",
        f"{root}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
    }
    training = read_csv(s3, f"{root}/training_artifacts/step_wise_training_metrics.csv")
    steps_per_epoch = math.ceil(TRAINING_RECORDS / 8)
    assert list(training[0]) == ["step_number", "epoch_number", "training_loss", "perplexity"]
    assert [int(r["step_number"]) for r in training] == list(range(3 * steps_per_epoch))
    assert {int(r["epoch_number"]) for r in training} == {0, 1, 2}
    losses = [float(r["training_loss"]) for r in training]
    first, last = losses[:steps_per_epoch], losses[-steps_per_epoch:]
    assert sum(first) / len(first) > 1.5 * sum(last) / len(last)
    assert all(
        math.isclose(float(r["perplexity"]), math.exp(float(r["training_loss"])), rel_tol=1e-4) for r in training
    )

    validation = read_csv(s3, f"{root}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv")
    assert list(validation[0]) == ["step_number", "epoch_number", "validation_loss", "perplexity"]
    assert len(validation) == 3
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert job["trainingMetrics"]["trainingLoss"] == pytest.approx(losses[-1])
    assert job["validationMetrics"][0]["validationLoss"] == pytest.approx(float(validation[-1]["validation_loss"]))


def test_metrics_are_deterministic_by_seed(s3: Any) -> None:
    def training_csv(prefix: str) -> str:
        fake = FakeBedrock(s3=s3, clock=frozen, seed=7)
        bedrock = fake.client("bedrock")
        fake.plan_jobs("Completed", duration_s=HOURS)
        job_id = bedrock.create_model_customization_job(**job_args(outputDataConfig={"s3Uri": f"s3://data/{prefix}/"}))[
            "jobArn"
        ].rsplit("/", 1)[1]
        fake.advance(HOURS)
        key = f"{prefix}/model-customization-job-{job_id}/training_artifacts/step_wise_training_metrics.csv"
        return str(s3.get_object(Bucket="data", Key=key)["Body"].read().decode())

    assert training_csv("a") == training_csv("b")


def test_without_validation_data_only_training_metrics_are_written(fake: FakeBedrock, bedrock: Any, s3: Any) -> None:
    fake.plan_jobs("Completed", duration_s=HOURS)
    job_arn = bedrock.create_model_customization_job(**job_args(validationDataConfig=None))["jobArn"]
    fake.advance(HOURS)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="output/")["Contents"]]
    assert len(keys) == 1
    assert keys[0].endswith("training_artifacts/step_wise_training_metrics.csv")
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert job["validationMetrics"] == []
    assert job["validationDataConfig"] == {"validators": []}


def test_failed_job_sets_failure_message_and_produces_no_model(
    fake: FakeBedrock, bedrock: Any, events: list[dict[str, Any]]
) -> None:
    fake.plan_jobs("Failed", duration_s=2 * HOURS, failure_message="Out of capacity", failed_phase="dataProcessing")
    job_arn = bedrock.create_model_customization_job(**job_args())["jobArn"]
    fake.advance(2 * HOURS - 1)
    assert bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"] == "InProgress"
    fake.advance(1)
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert (job["status"], job["failureMessage"]) == ("Failed", "Out of capacity")
    assert [job["statusDetails"][f"{p}Details"]["status"] for p in ("validation", "dataProcessing", "training")] == [
        "Completed",
        "Failed",
        "NotStarted",
    ]
    assert "outputModelArn" not in job
    assert bedrock.list_custom_models()["modelSummaries"] == []
    assert events[-1]["detail"]["jobStatus"] == "Failed"
    assert events[-1]["detail"]["failureMessage"] == "Out of capacity"


def test_too_few_records_fail_the_job_in_validation(fake: FakeBedrock, bedrock: Any, s3: Any) -> None:
    s3.put_object(Bucket="data", Key="tiny.jsonl", Body=b"{}\n" * 10)
    job_arn = bedrock.create_model_customization_job(**job_args(trainingDataConfig={"s3Uri": "s3://data/tiny.jsonl"}))[
        "jobArn"
    ]
    fake.advance(10 * HOURS)
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert job["status"] == "Failed"
    assert job["statusDetails"]["validationDetails"]["status"] == "Failed"
    assert "10 records" in job["failureMessage"]


def test_stop_goes_through_stopping_to_stopped(fake: FakeBedrock, bedrock: Any, events: list[dict[str, Any]]) -> None:
    fake.plan_jobs("Completed", duration_s=10 * HOURS)
    job_arn = bedrock.create_model_customization_job(**job_args())["jobArn"]
    fake.advance(5 * HOURS)
    bedrock.stop_model_customization_job(jobIdentifier=job_arn)
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert job["status"] == "Stopping"
    assert job["statusDetails"]["trainingDetails"]["status"] == "Stopping"
    with pytest.raises(ClientError) as again:
        bedrock.stop_model_customization_job(jobIdentifier=job_arn)
    assert error(again)[:2] == ("ConflictException", 400)

    fake.advance(10 * 60)
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert job["status"] == "Stopped"
    assert job["statusDetails"]["trainingDetails"]["status"] == "Stopped"
    assert "outputModelArn" not in job
    fake.advance(10 * HOURS)  # the original plan must not complete a stopped job
    assert bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"] == "Stopped"
    assert fake.counters.jobs_stopped == 1


def test_stopping_emits_its_own_state_change_event(
    fake: FakeBedrock, bedrock: Any, events: list[dict[str, Any]]
) -> None:
    """docs/bedrock-behaviour.md#job-state-events: an event "whenever there is a change in the state of a
    job" (UG monitoring-eventbridge-how-it-works), so Stopping gets one before Stopped."""
    fake.plan_jobs("Completed", duration_s=10 * HOURS)
    job_arn = bedrock.create_model_customization_job(**job_args())["jobArn"]
    fake.advance(HOURS)
    bedrock.stop_model_customization_job(jobIdentifier=job_arn)
    assert [e["detail"]["jobStatus"] for e in events] == ["InProgress", "Stopping"]
    stopping = events[-1]
    assert stopping["resources"] == [job_arn]
    assert stopping["time"] == "2026-06-01T09:00:00Z"
    assert "endTime" not in stopping["detail"]
    fake.advance(HOURS)
    assert [e["detail"]["jobStatus"] for e in events] == ["InProgress", "Stopping", "Stopped"]
    assert "endTime" in events[-1]["detail"]
    # A stop Bedrock decides itself (a planned one) goes through Stopping the same way.
    fake.plan_jobs("Stopped", duration_s=HOURS)
    bedrock.create_model_customization_job(**job_args(jobName="planned", customModelName="planned"))
    fake.advance(2 * HOURS)
    assert [e["detail"]["jobStatus"] for e in events[3:]] == ["InProgress", "Stopping", "Stopped"]


def test_planned_stop_ends_stopped(fake: FakeBedrock, bedrock: Any) -> None:
    fake.plan_jobs("Stopped", duration_s=HOURS)
    job_arn = bedrock.create_model_customization_job(**job_args())["jobArn"]
    fake.advance(HOURS - 60)
    assert bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"] == "Stopping"
    fake.advance(60)
    assert bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"] == "Stopped"


def test_never_ending_job_stays_in_progress(fake: FakeBedrock, bedrock: Any, events: list[dict[str, Any]]) -> None:
    fake.plan_jobs("Never", duration_s=HOURS)
    job_arn = bedrock.create_model_customization_job(**job_args())["jobArn"]
    fake.advance(30 * 24 * HOURS)
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert (job["status"], job["statusDetails"]["trainingDetails"]["status"]) == ("InProgress", "InProgress")
    assert [j["jobArn"] for j in fake.running_jobs()] == [job_arn]
    assert [e["detail"]["jobStatus"] for e in events] == ["InProgress"]


def test_plans_apply_to_the_next_jobs_then_the_default(fake: FakeBedrock, bedrock: Any) -> None:
    fake.plan_jobs("Failed", duration_s=HOURS, count=2)
    fake.plan_jobs("Never", count=None)  # new default for the jobs after the queued plans
    arns = [
        bedrock.create_model_customization_job(**job_args(jobName=f"j{i}", customModelName=f"m{i}"))["jobArn"]
        for i in range(3)
    ]
    fake.advance(100 * HOURS)
    statuses = [bedrock.get_model_customization_job(jobIdentifier=a)["status"] for a in arns]
    assert statuses == ["Failed", "Failed", "InProgress"]


# ------------------------------------------------------------------------ events


def test_events_are_eventbridge_shaped_and_emitted_once_per_transition(
    fake: FakeBedrock, bedrock: Any, events: list[dict[str, Any]]
) -> None:
    fake.plan_jobs("Completed", duration_s=HOURS)
    job_arn = bedrock.create_model_customization_job(**job_args())["jobArn"]
    for _ in range(5):
        fake.advance(HOURS)
        fake.tick()
        bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert [e["detail"]["jobStatus"] for e in events] == ["InProgress", "Completed"]
    assert events == fake.events
    done = events[-1]
    assert {k: done[k] for k in ("version", "detail-type", "source", "account", "region", "resources")} == {
        "version": "0",
        "detail-type": "Model Customization Job State Change",
        "source": "aws.bedrock",
        "account": "123456789012",
        "region": "us-west-2",
        "resources": [job_arn],
    }
    assert done["time"] == "2026-06-01T09:00:00Z"  # the transition's time, not the tick's
    detail = done["detail"]
    assert detail["version"] == "0.0"
    assert (detail["jobName"], detail["jobArn"], detail["outputModelName"]) == (
        "moderation-ft-1",
        job_arn,
        "moderation-1",
    )
    assert MODEL_ARN.fullmatch(detail["outputModelArn"])
    assert detail["roleArn"] == ROLE
    assert detail["baseModelArn"] == f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU_FT}"
    assert detail["hyperParameters"] == {"epochCount": "3", "batchSize": "8"}
    assert detail["trainingDataConfig"] == {"s3Uri": "s3://data/train.jsonl"}
    assert detail["validationDataConfig"] == {"s3Uri": "s3://data/valid.jsonl"}
    assert detail["outputDataConfig"] == {"s3Uri": "s3://data/output/"}
    assert detail["endTime"] == "2026-06-01T09:00:00.000Z"
    assert "failureMessage" not in detail
    assert "endTime" not in events[0]["detail"]


def test_dropped_events_are_counted_and_never_delivered(
    fake: FakeBedrock, bedrock: Any, events: list[dict[str, Any]]
) -> None:
    fake.drop_events(True)
    fake.plan_jobs("Completed", duration_s=HOURS)
    job_arn = bedrock.create_model_customization_job(**job_args())["jobArn"]
    fake.advance(2 * HOURS)
    assert bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"] == "Completed"
    assert events == []
    assert fake.counters.events_dropped == 2
    assert fake.counters.events_emitted == 0


def test_on_event_may_call_the_fake_back(s3: Any) -> None:
    seen: list[str] = []
    holder: dict[str, Any] = {}

    def on_event(event: dict[str, Any]) -> None:
        # A subscriber that reads the job back, as the workflow's event handler does.
        job = holder["bedrock"].get_model_customization_job(jobIdentifier=event["detail"]["jobArn"])
        seen.append(job["status"])

    fake = FakeBedrock(s3=s3, on_event=on_event, clock=frozen)
    holder["bedrock"] = fake.client("bedrock")
    fake.plan_jobs("Completed", duration_s=HOURS)
    holder["bedrock"].create_model_customization_job(**job_args())
    fake.advance(HOURS)
    assert seen == ["InProgress", "Completed"]


def test_a_caller_never_waits_for_another_threads_event_delivery(s3: Any) -> None:
    """Found by a chaos run (`bft local-run --chaos 0`, live progress on): the progress thread delivered the job's
    event, whose Lambda target waited for the runtime's invocation lock, while the thread holding that lock (a
    scheduled handler calling Bedrock) waited for the delivery to finish: both hung. Here ``invoke_lock`` stands
    for the runtime's lock; the call made while holding it must return, and the event is still delivered."""
    invoke_lock = threading.Lock()
    delivering = threading.Event()
    delivered: list[str] = []

    def on_event(event: dict[str, Any]) -> None:  # an EventBridge rule's Lambda target
        delivering.set()
        with invoke_lock:
            delivered.append(event["detail"]["jobStatus"])

    fake = FakeBedrock(s3=s3, on_event=on_event, clock=frozen)
    bedrock = fake.client("bedrock")
    fake.plan_jobs("Completed", duration_s=HOURS)
    with invoke_lock:  # a handler is running and calls Bedrock ...
        deliverer = threading.Thread(target=lambda: bedrock.create_model_customization_job(**job_args()), daemon=True)
        deliverer.start()  # ... while another thread delivers the InProgress event to a Lambda target
        assert delivering.wait(5)
        caller = threading.Thread(target=lambda: bedrock.list_model_customization_jobs(), daemon=True)
        caller.start()
        caller.join(5)
        assert not caller.is_alive(), "a Bedrock call waited for another thread's event delivery: deadlock"
    deliverer.join(5)
    assert delivered == ["InProgress"]


def test_the_ticker_advances_jobs_without_any_get(s3: Any) -> None:
    events: list[dict[str, Any]] = []
    fake = FakeBedrock(
        s3=s3, on_event=events.append, time_scale=36_000.0, catalog=SIMULATED_ACTIVE_HAIKU
    )  # one simulated hour per 0.1 s
    bedrock = fake.client("bedrock")
    fake.plan_jobs("Completed", duration_s=HOURS)
    bedrock.create_model_customization_job(**job_args())
    fake.start_ticker(interval=0.01)
    try:
        deadline = time.monotonic() + 5
        while len(events) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        fake.stop_ticker()
    assert [e["detail"]["jobStatus"] for e in events] == ["InProgress", "Completed"]


def test_stop_ticker_reraises_what_the_ticker_hit(s3: Any) -> None:
    def broken(event: dict[str, Any]) -> None:
        if event["detail"]["jobStatus"] == "Completed":
            raise RuntimeError("subscriber failed")

    fake = FakeBedrock(s3=s3, on_event=broken, time_scale=36_000.0, catalog=SIMULATED_ACTIVE_HAIKU)
    fake.plan_jobs("Completed", duration_s=HOURS)
    fake.client("bedrock").create_model_customization_job(**job_args())
    fake.start_ticker(interval=0.01)
    time.sleep(0.5)
    with pytest.raises(RuntimeError, match="subscriber failed"):
        fake.stop_ticker()


# ------------------------------------------------------------------- idempotency


def test_create_job_is_idempotent_by_client_request_token(fake: FakeBedrock, bedrock: Any) -> None:
    """docs/bedrock-behaviour.md#client-request-token: "If this token matches a previous request, Amazon
    Bedrock ignores the request, but does not return an error" (API CreateModelCustomizationJob)."""
    first = bedrock.create_model_customization_job(**job_args(clientRequestToken="req-1"))
    again = bedrock.create_model_customization_job(**job_args(clientRequestToken="req-1"))
    assert again["jobArn"] == first["jobArn"]
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 201
    # Ignored means ignored: other parameters with the same token still answer the original job, no error.
    changed = bedrock.create_model_customization_job(
        **job_args(clientRequestToken="req-1", hyperParameters={}, jobName="renamed", customModelName="renamed")
    )
    assert changed["jobArn"] == first["jobArn"]
    assert fake.counters.jobs_started == 1
    summaries = bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]
    assert [(s["jobName"], s["customModelName"]) for s in summaries] == [("moderation-ft-1", "moderation-1")]


def test_botocore_fills_a_fresh_token_so_plain_retries_are_not_idempotent(fake: FakeBedrock, bedrock: Any) -> None:
    bedrock.create_model_customization_job(**job_args())
    with pytest.raises(ClientError) as excinfo:
        bedrock.create_model_customization_job(**job_args())
    assert "job name" in error(excinfo)[2]
    tokens = [params["clientRequestToken"] for _, params in fake.calls]
    assert len(set(tokens)) == 2


def test_create_throughput_is_idempotent_by_client_request_token(fake: FakeBedrock, bedrock: Any) -> None:
    """docs/bedrock-behaviour.md#client-request-token: the same sentence documents CreateProvisionedModelThroughput's
    clientRequestToken (API CreateProvisionedModelThroughput)."""
    model = completed_model(fake, bedrock)
    args = {"modelUnits": 1, "provisionedModelName": "pt-1", "modelId": model, "clientRequestToken": "pt-req"}
    first = bedrock.create_provisioned_model_throughput(**args)["provisionedModelArn"]
    assert bedrock.create_provisioned_model_throughput(**args)["provisionedModelArn"] == first
    changed = bedrock.create_provisioned_model_throughput(**(args | {"modelUnits": 2, "provisionedModelName": "pt-2"}))
    assert changed["provisionedModelArn"] == first
    assert fake.counters.throughputs_created == 1
    assert [(pt["provisionedModelName"], pt["modelUnits"]) for pt in fake.provisioned_throughputs()] == [("pt-1", 1)]


def test_create_deployment_is_idempotent_by_client_request_token() -> None:
    """docs/bedrock-behaviour.md#client-request-token: and CreateCustomModelDeployment's (API
    CreateCustomModelDeployment)."""
    nova = FakeBedrock(region="us-east-1", clock=frozen)
    bedrock = nova.client("bedrock")
    model = completed_model(nova, bedrock, baseModelIdentifier=NOVA_MICRO_FT, hyperParameters={"epochCount": "2"})
    args = {"modelDeploymentName": "moderation", "modelArn": model, "clientRequestToken": "deploy-req"}
    first = bedrock.create_custom_model_deployment(**args)["customModelDeploymentArn"]
    assert bedrock.create_custom_model_deployment(**args)["customModelDeploymentArn"] == first
    changed = bedrock.create_custom_model_deployment(**(args | {"modelDeploymentName": "other"}))
    assert changed["customModelDeploymentArn"] == first
    assert nova.counters.deployments_created == 1


# ------------------------------------------------------------------------ faults


@pytest.mark.parametrize(
    ("operation", "code", "status", "call"),
    [
        ("ListModelCustomizationJobs", "ThrottlingException", 429, lambda b, r: b.list_model_customization_jobs()),
        (
            "GetFoundationModel",
            "AccessDeniedException",
            403,
            lambda b, r: b.get_foundation_model(modelIdentifier=HAIKU_FT),
        ),
        ("ListFoundationModels", "InternalServerException", 500, lambda b, r: b.list_foundation_models()),
        ("ListCustomModels", "ValidationException", 400, lambda b, r: b.list_custom_models()),
        (
            "ListProvisionedModelThroughputs",
            "ThrottlingException",
            429,
            lambda b, r: b.list_provisioned_model_throughputs(),
        ),
        (
            "Converse",
            "ServiceUnavailableException",
            503,
            lambda b, r: r.converse(modelId=HAIKU_ON_DEMAND, messages=[{"role": "user", "content": [{"text": "hi"}]}]),
        ),
        (
            "Converse",
            "ModelTimeoutException",
            408,
            lambda b, r: r.converse(modelId=HAIKU_ON_DEMAND, messages=[{"role": "user", "content": [{"text": "hi"}]}]),
        ),
        (
            "InvokeModel",
            "ModelErrorException",
            424,
            lambda b, r: r.invoke_model(
                modelId=HAIKU_ON_DEMAND,
                body=json.dumps(
                    {
                        "anthropic_version": "bedrock-2023-05-31",
                        "max_tokens": 10,
                        "messages": [{"role": "user", "content": "hi"}],
                    }
                ),
            ),
        ),
    ],
)
def test_injected_faults_surface_as_client_errors_once(
    fake: FakeBedrock,
    operation: str,
    code: str,
    status: int,
    call: Callable[[Any, Any], Any],
) -> None:
    # One attempt per call: what the fault itself looks like, before any retry mode acts on it.
    bedrock = client_with_attempts(fake, "bedrock", 1)
    runtime = client_with_attempts(fake, "bedrock-runtime", 1)
    fake.inject(operation, code, times=1, message="injected")
    with pytest.raises(ClientError) as excinfo:
        call(bedrock, runtime)
    assert error(excinfo) == (code, status, "injected")
    assert excinfo.value.operation_name == operation
    client = runtime if operation in ("Converse", "InvokeModel") else bedrock
    assert isinstance(excinfo.value, getattr(client.exceptions, code))
    call(bedrock, runtime)  # times=1: the next call succeeds
    assert fake.counters.faults_injected == 1


def test_an_injected_fault_on_create_has_no_side_effect(fake: FakeBedrock, bedrock: Any) -> None:
    fake.inject("CreateModelCustomizationJob", "ServiceQuotaExceededException", times=2)
    for _ in range(2):
        with pytest.raises(ClientError) as excinfo:
            bedrock.create_model_customization_job(**job_args())
        assert error(excinfo)[:2] == ("ServiceQuotaExceededException", 400)
    assert fake.running_jobs() == []
    bedrock.create_model_customization_job(**job_args())
    assert fake.counters.jobs_started == 1


def test_a_fault_injected_with_times_none_never_stops(fake: FakeBedrock, bedrock: Any, backoffs: list[float]) -> None:
    fake.inject("GetFoundationModel", "ThrottlingException", times=None)
    for _ in range(5):
        with pytest.raises(bedrock.exceptions.ThrottlingException):
            bedrock.get_foundation_model(modelIdentifier=HAIKU_FT)
    assert fake.counters.faults_injected == 15  # 5 calls of 3 attempts each


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 429), ("InternalServerException", 500), ("ServiceUnavailableException", 503)],
)
def test_botocore_retries_transient_faults_below_its_retry_handler(
    fake: FakeBedrock, backoffs: list[float], code: str, status: int
) -> None:
    """docs/bedrock-behaviour.md#throttling-retries: faults are HTTP answers under botocore's retry handler, so a
    standard-mode client with max_attempts=3 absorbs two of them inside one call."""
    operation, call = "CreateModelCustomizationJob", "create_model_customization_job"
    if code == "ServiceUnavailableException":  # declared by bedrock-runtime only
        operation, call = "Converse", "converse"
    client = client_with_attempts(fake, "bedrock-runtime" if call == "converse" else "bedrock", 3)
    kwargs = (
        {"modelId": HAIKU_ON_DEMAND, "messages": [{"role": "user", "content": [{"text": "hi"}]}]}
        if call == "converse"
        else job_args()
    )
    fake.inject(operation, code, times=2)
    answer = getattr(client, call)(**kwargs)
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(backoffs) == 2, "botocore backed off before each retry"
    tries = [a for a in fake.attempts if a.operation == operation]
    assert [(a.attempt, a.error) for a in tries] == [(1, code), (2, code), (3, None)]
    assert len({a.invocation for a in tries}) == 1, "three HTTP attempts of one API call"
    assert len([c for c in fake.calls if c[0] == operation]) == 3  # each HTTP attempt is logged once
    assert fake.counters.faults_injected == 2
    if call != "converse":
        assert fake.counters.jobs_started == 1
    del status


def test_a_fault_outlasting_the_clients_attempts_reaches_the_caller(
    fake: FakeBedrock, bedrock: Any, backoffs: list[float]
) -> None:
    """docs/bedrock-behaviour.md#throttling-retries: times=3 spends the client's three attempts."""
    fake.inject("CreateModelCustomizationJob", "ThrottlingException", times=3)
    with pytest.raises(bedrock.exceptions.ThrottlingException) as excinfo:
        bedrock.create_model_customization_job(**job_args())
    response = excinfo.value.response
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["ResponseMetadata"]["RetryAttempts"]) == (429, 2)
    assert [a.attempt for a in fake.attempts] == [1, 2, 3]
    assert fake.counters.faults_injected == 3
    assert fake.counters.jobs_started == 0
    # The faults are spent: the next call starts the job on its first attempt.
    assert bedrock.create_model_customization_job(**job_args())["ResponseMetadata"]["RetryAttempts"] == 0
    assert fake.counters.jobs_started == 1


def test_client_errors_are_not_retried(fake: FakeBedrock, bedrock: Any, backoffs: list[float]) -> None:
    fake.inject("CreateModelCustomizationJob", "ServiceQuotaExceededException", times=3)
    with pytest.raises(bedrock.exceptions.ServiceQuotaExceededException):
        bedrock.create_model_customization_job(**job_args())
    assert (len(fake.attempts), backoffs) == (1, [])


def test_only_declared_errors_can_be_injected(fake: FakeBedrock) -> None:
    with pytest.raises(ValueError, match="never returns ConflictException"):
        fake.inject("CreateProvisionedModelThroughput", "ConflictException")
    with pytest.raises(ValueError, match="does not serve"):
        fake.inject("ListGuardrails", "ThrottlingException")


# -------------------------------------------------------- provisioned throughput


def test_throughput_is_creating_then_in_service(fake: FakeBedrock, bedrock: Any) -> None:
    model = completed_model(fake, bedrock)
    created = bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt-1", modelId=model)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    arn = created["provisionedModelArn"]
    assert PT_ARN.fullmatch(arn)
    pt = bedrock.get_provisioned_model_throughput(provisionedModelId="pt-1")
    assert (pt["status"], pt["modelArn"], pt["modelUnits"]) == ("Creating", model, 1)
    assert pt["foundationModelArn"] == f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU_FT}"
    assert "commitmentDuration" not in pt
    fake.advance(20 * 60)
    assert bedrock.get_provisioned_model_throughput(provisionedModelId=arn)["status"] == "Creating"
    fake.advance(10 * 60)
    assert bedrock.get_provisioned_model_throughput(provisionedModelId=arn)["status"] == "InService"


def test_planned_throughput_failure(fake: FakeBedrock, bedrock: Any, runtime: Any) -> None:
    model = completed_model(fake, bedrock)
    fake.plan_throughput("Failed", duration_s=60, failure_message="Capacity unavailable")
    arn = in_service_throughput(fake, bedrock, model)
    pt = bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
    assert (pt["status"], pt["failureMessage"]) == ("Failed", "Capacity unavailable")
    with pytest.raises(ClientError) as excinfo:
        runtime.converse(modelId=arn, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert error(excinfo)[:2] == ("ValidationException", 400)


def test_no_commitment_model_units_are_limited_by_quota(fake: FakeBedrock, bedrock: Any) -> None:
    model = completed_model(fake, bedrock)
    first = bedrock.create_provisioned_model_throughput(modelUnits=2, provisionedModelName="pt-1", modelId=model)
    with pytest.raises(ClientError) as excinfo:
        bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt-2", modelId=model)
    code, status, message = error(excinfo)
    assert (code, status) == ("ServiceQuotaExceededException", 400)
    assert "does not currently have any no commitment model units reserved for" in message
    # A committed term is not counted against the no-commitment quota.
    bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="pt-3", modelId=model, commitmentDuration="OneMonth"
    )
    bedrock.delete_provisioned_model_throughput(provisionedModelId=first["provisionedModelArn"])
    bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt-2", modelId=model)


def test_no_commitment_units_default_to_zero(s3: Any) -> None:
    """docs/bedrock-behaviour.md#no-commit-quota: no units until AWS Support grants some (UG prov-thru-purchase)."""
    fake = FakeBedrock(s3=s3, clock=frozen, catalog=catalog(haiku_status="ACTIVE"))
    bedrock = fake.client("bedrock")
    model = completed_model(fake, bedrock)
    with pytest.raises(bedrock.exceptions.ServiceQuotaExceededException) as excinfo:
        bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt", modelId=model)
    assert "does not currently have any no commitment model units reserved for" in error(excinfo)[2]
    assert fake.counters.throughputs_created == 0


def test_legacy_foundation_model_cannot_get_new_throughput() -> None:
    bedrock = FakeBedrock(clock=frozen).client("bedrock")  # the default catalog: Haiku LEGACY
    with pytest.raises(ClientError) as excinfo:
        bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt", modelId=HAIKU_FT)
    code, _, message = error(excinfo)
    assert code == "ValidationException"
    assert "Legacy" in message
    active = FakeBedrock(clock=frozen, catalog=catalog(haiku_status="ACTIVE"), commit_model_units=1)
    arn = active.client("bedrock").create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="pt", modelId=HAIKU_FT, commitmentDuration="OneMonth"
    )["provisionedModelArn"]
    assert PT_ARN.fullmatch(arn)


def test_committed_units_default_to_zero() -> None:
    """docs/bedrock-behaviour.md#commit-quota: "By default, your account has no model units for purchasing
    Provisioned Throughputs with commitment" (API reference); units granted are a pool the terms draw on."""
    bedrock = FakeBedrock(clock=frozen, catalog=catalog(haiku_status="ACTIVE")).client("bedrock")
    with pytest.raises(ClientError) as excinfo:
        bedrock.create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName="pt", modelId=HAIKU_FT, commitmentDuration="SixMonths"
        )
    code, status, message = error(excinfo)
    assert (code, status) == ("ServiceQuotaExceededException", 400)
    assert "AWS Support center" in message
    granted = FakeBedrock(clock=frozen, catalog=catalog(haiku_status="ACTIVE"), commit_model_units=1)
    bedrock = granted.client("bedrock")
    bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="pt-1", modelId=HAIKU_FT, commitmentDuration="OneMonth"
    )
    with pytest.raises(ClientError, match="1 of 1 in use"):
        bedrock.create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName="pt-2", modelId=HAIKU_FT, commitmentDuration="OneMonth"
        )


def test_on_demand_only_model_cannot_get_throughput(fake: FakeBedrock, bedrock: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt", modelId=SONNET_35)
    assert "doesn't support Provisioned Throughput" in error(excinfo)[2]


def test_custom_model_on_a_legacy_base_gets_no_new_throughput(s3: Any) -> None:
    """docs/bedrock-behaviour.md#legacy-restrictions: in Legacy "creating new provisioned throughput by model units
    becomes unavailable" (AWS ML blog on the model lifecycle), whatever the commitment and the quota."""
    fake = FakeBedrock(s3=s3, clock=frozen, no_commit_model_units=10)  # the default catalog: Haiku LEGACY
    bedrock = fake.client("bedrock")
    model = completed_model(fake, bedrock)  # customizing a LEGACY base is still allowed by default (a guess)
    for commitment in ({}, {"commitmentDuration": "OneMonth"}):
        with pytest.raises(bedrock.exceptions.ValidationException, match="legacy"):
            bedrock.create_provisioned_model_throughput(
                modelUnits=1, provisionedModelName="pt", modelId=model, **commitment
            )
    assert fake.counters.throughputs_created == 0
    active = FakeBedrock(s3=s3, clock=frozen, no_commit_model_units=1, catalog=catalog(haiku_status="ACTIVE"))
    bedrock = active.client("bedrock")
    model = completed_model(active, bedrock, outputDataConfig={"s3Uri": "s3://data/active/"})
    assert PT_ARN.fullmatch(
        bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt", modelId=model)[
            "provisionedModelArn"
        ]
    )


def test_customizing_a_legacy_base_is_a_scenario_choice(s3: Any) -> None:
    """docs/bedrock-behaviour.md#legacy-restrictions: Legacy customization "might face restrictions"; the fake
    allows it unless told otherwise (a guess)."""
    strict = FakeBedrock(s3=s3, clock=frozen, legacy_allows_customization=False)
    with pytest.raises(ClientError) as excinfo:
        strict.client("bedrock").create_model_customization_job(**job_args())
    assert error(excinfo)[0] == "ValidationException"
    assert "Legacy" in error(excinfo)[2]
    active = FakeBedrock(s3=s3, clock=frozen, legacy_allows_customization=False, catalog=catalog(haiku_status="ACTIVE"))
    assert JOB_ARN.fullmatch(active.client("bedrock").create_model_customization_job(**job_args())["jobArn"])


def test_delete_semantics_of_throughput_and_custom_model(fake: FakeBedrock, bedrock: Any) -> None:
    model = completed_model(fake, bedrock)
    pt = in_service_throughput(fake, bedrock, model)
    with pytest.raises(ClientError) as in_use:
        bedrock.delete_custom_model(modelIdentifier=model)
    assert error(in_use)[:2] == ("ConflictException", 400)

    bedrock.delete_provisioned_model_throughput(provisionedModelId=pt)
    with pytest.raises(ClientError) as gone:
        bedrock.get_provisioned_model_throughput(provisionedModelId=pt)
    assert error(gone)[:2] == ("ResourceNotFoundException", 404)
    assert fake.provisioned_throughputs() == []
    assert bedrock.get_custom_model(modelIdentifier=model)["modelStatus"] == "Active"  # deleting a PT keeps the model

    bedrock.delete_custom_model(modelIdentifier="moderation-1")
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_custom_model(modelIdentifier=model)


def test_committed_throughput_cannot_be_deleted_before_the_term_ends(fake: FakeBedrock, bedrock: Any) -> None:
    model = completed_model(fake, bedrock)
    arn = bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="pt", modelId=model, commitmentDuration="OneMonth"
    )["provisionedModelArn"]
    pt = bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
    assert pt["commitmentDuration"] == "OneMonth"
    assert pt["commitmentExpirationTime"] > pt["creationTime"] + timedelta(days=28)
    with pytest.raises(ClientError) as excinfo:
        bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)
    assert error(excinfo)[0] == "ValidationException"
    fake.advance(32 * 24 * HOURS)
    bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)
    assert fake.counters.throughputs_deleted == 1


def test_update_swaps_the_custom_model_after_updating(fake: FakeBedrock, bedrock: Any) -> None:
    first = completed_model(fake, bedrock)
    second = completed_model(fake, bedrock, jobName="moderation-ft-2", customModelName="moderation-2")
    arn = in_service_throughput(fake, bedrock, first)
    bedrock.update_provisioned_model_throughput(provisionedModelId=arn, desiredModelId=second)
    pt = bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
    assert (pt["status"], pt["modelArn"], pt["desiredModelArn"]) == ("Updating", first, second)
    fake.advance(HOURS)
    pt = bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
    assert (pt["status"], pt["modelArn"]) == ("InService", second)


# -------------------------------------------------------------------- deployments


def test_nova_custom_models_deploy_on_demand_and_haiku_ones_do_not(s3: Any) -> None:
    nova = FakeBedrock(region="us-east-1", clock=frozen)
    bedrock = nova.client("bedrock")
    model = completed_model(nova, bedrock, baseModelIdentifier=NOVA_MICRO_FT, hyperParameters={"epochCount": "2"})
    created = bedrock.create_custom_model_deployment(modelDeploymentName="moderation", modelArn=model)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    arn = created["customModelDeploymentArn"]
    assert bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)["status"] == "Creating"
    nova.advance(HOURS)
    assert bedrock.get_custom_model_deployment(customModelDeploymentIdentifier="moderation")["status"] == "Active"
    answer = nova.client("bedrock-runtime").converse(
        modelId=arn, messages=[{"role": "user", "content": [{"text": "hello"}]}]
    )
    assert answer["output"]["message"]["content"][0]["text"] == "[moderation-1] hello"
    with pytest.raises(bedrock.exceptions.ConflictException):
        bedrock.delete_custom_model(modelIdentifier=model)
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=arn)
    assert bedrock.list_custom_model_deployments()["modelDeploymentSummaries"] == []

    haiku = FakeBedrock(s3=s3, clock=frozen)
    bedrock = haiku.client("bedrock")
    with pytest.raises(ClientError) as excinfo:
        bedrock.create_custom_model_deployment(modelDeploymentName="m", modelArn=completed_model(haiku, bedrock))
    assert "not supported" in error(excinfo)[2]


def test_nova_rejects_batch_size(s3: Any) -> None:
    fake = FakeBedrock(region="us-east-1", clock=frozen)
    with pytest.raises(ClientError) as excinfo:
        fake.client("bedrock").create_model_customization_job(
            **job_args(baseModelIdentifier=NOVA_MICRO_FT, hyperParameters={"batchSize": "8"})
        )
    assert "batchSize is not supported" in error(excinfo)[2]


# ---------------------------------------------------------------------- inference


def answers(runtime: Any, model_id: str, records: list[Example]) -> list[str]:
    return [
        runtime.converse(
            modelId=model_id,
            system=[{"text": r.record()["system"]}],
            messages=[{"role": "user", "content": [{"text": r.record()["messages"][0]["content"]}]}],  # type: ignore[index]
        )["output"]["message"]["content"][0]["text"]
        for r in records
    ]


def score(found: list[str], records: list[Example]) -> float:
    return sum(a == r.label for a, r in zip(found, records, strict=True)) / len(records)


def test_custom_model_answers_with_what_its_job_learned_and_the_base_model_zero_shot(
    fake: FakeBedrock, bedrock: Any, runtime: Any
) -> None:
    """Computed, not preset: the custom model predicts from its training file, the base model guesses from the
    labels the prompt lists; both deterministic."""
    pt = in_service_throughput(fake, bedrock, completed_model(fake, bedrock))
    held_out = list(examples(200, seed=3))
    custom, base = answers(runtime, pt, held_out), answers(runtime, HAIKU_ON_DEMAND, held_out)
    assert score(custom, held_out) >= 0.95
    assert 0.6 <= score(base, held_out) < score(custom, held_out)
    assert set(custom) <= set(LABELS)
    assert set(base) <= set(LABELS)
    assert answers(runtime, pt, held_out[:20]) == custom[:20]
    again = FakeBedrock(clock=frozen).client("bedrock-runtime")
    assert answers(again, HAIKU_ON_DEMAND, held_out[:20]) == base[:20]
    assert fake.counters.invocations == 420


def test_shuffled_labels_teach_the_custom_model_noise(fake: FakeBedrock, bedrock: Any, s3: Any, runtime: Any) -> None:
    records = list(examples(TRAINING_RECORDS, seed=1))
    labels = [r.label for r in records]
    random.Random(7).shuffle(labels)
    s3.put_object(
        Bucket="data",
        Key="shuffled.jsonl",
        Body=jsonl(Example(r.comment, label) for r, label in zip(records, labels, strict=True)),
    )
    clean = completed_model(fake, bedrock)
    noisy = completed_model(
        fake,
        bedrock,
        jobName="moderation-ft-2",
        customModelName="moderation-2",
        trainingDataConfig={"s3Uri": "s3://data/shuffled.jsonl"},
    )
    held_out = list(examples(200, seed=3))
    clean_pt = in_service_throughput(fake, bedrock, clean)
    noisy_pt = in_service_throughput(fake, bedrock, noisy, name="pt-2")
    base = score(answers(runtime, HAIKU_ON_DEMAND, held_out), held_out)
    assert (
        score(answers(runtime, noisy_pt, held_out), held_out)
        < base
        < score(answers(runtime, clean_pt, held_out), held_out)
    )
    losses = {
        name: bedrock.get_custom_model(modelIdentifier=name)["validationMetrics"][0]["validationLoss"]
        for name in ("moderation-1", "moderation-2")
    }
    assert losses["moderation-2"] > 10 * losses["moderation-1"]


def test_converse_response_shape_and_usage(fake: FakeBedrock, runtime: Any) -> None:
    response = runtime.converse(
        modelId=HAIKU_ON_DEMAND,
        system=[{"text": "You moderate comments."}],
        messages=[{"role": "user", "content": [{"text": "Is this comment acceptable?"}]}],
    )
    assert response["output"]["message"]["role"] == "assistant"
    assert response["stopReason"] == "end_turn"
    usage = response["usage"]
    assert usage["inputTokens"] > 0
    assert usage["outputTokens"] > 0
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert isinstance(response["metrics"]["latencyMs"], int)
    truncated = runtime.converse(
        modelId=HAIKU_ON_DEMAND,
        messages=[{"role": "user", "content": [{"text": "a long question " * 20}]}],
        inferenceConfig={"maxTokens": 3},
    )
    assert (truncated["stopReason"], truncated["usage"]["outputTokens"]) == ("max_tokens", 3)


def test_invoke_model_speaks_the_anthropic_messages_format(fake: FakeBedrock, runtime: Any) -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    response = runtime.invoke_model(modelId=HAIKU_ON_DEMAND, body=json.dumps(body))
    assert response["contentType"] == "application/json"
    payload = json.loads(response["body"].read())
    assert payload["type"] == "message"
    # Nothing in the prompt to go on (no labels, tools or examples): the base model's lead answer.
    assert payload["content"][0]["text"] == "hi"
    assert payload["usage"]["input_tokens"] > 0
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert int(headers["x-amzn-bedrock-output-token-count"]) == payload["usage"]["output_tokens"]
    with pytest.raises(ClientError) as excinfo:
        runtime.invoke_model(modelId=HAIKU_ON_DEMAND, body=json.dumps({"messages": body["messages"]}))
    assert "Malformed input request" in error(excinfo)[2]


@pytest.mark.parametrize(
    ("model_id", "code", "fragment"),
    [
        (HAIKU_FT, "ValidationException", "doesn't support on-demand throughput"),
        ("anthropic.claude-9-v1:0", "ValidationException", "model identifier is invalid"),
        ("arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdefghijkl", "ResourceNotFoundException", ""),
    ],
)
def test_invalid_inference_targets(runtime: Any, model_id: str, code: str, fragment: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        runtime.converse(modelId=model_id, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert error(excinfo)[0] == code
    assert fragment in error(excinfo)[2]


def test_custom_models_are_only_served_through_throughput(fake: FakeBedrock, bedrock: Any, runtime: Any) -> None:
    model = completed_model(fake, bedrock)
    with pytest.raises(runtime.exceptions.ValidationException):
        runtime.converse(modelId=model, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    arn = bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt", modelId=model)[
        "provisionedModelArn"
    ]
    with pytest.raises(runtime.exceptions.ValidationException):  # still Creating
        runtime.converse(modelId=arn, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    fake.advance(HOURS)
    answer = runtime.converse(modelId=arn, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    # Nothing in "hi" was learned: the trained classifier answers its most frequent label.
    assert answer["output"]["message"]["content"][0]["text"] == "OK"


def test_models_past_end_of_life_stop_serving(s3: Any) -> None:
    fake = FakeBedrock(clock=frozen, catalog=catalog(haiku_end_of_life=datetime.fromtimestamp(NOW + HOURS, UTC)))
    runtime = fake.client("bedrock-runtime")
    runtime.converse(modelId=HAIKU_ON_DEMAND, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    fake.advance(2 * HOURS)
    with pytest.raises(runtime.exceptions.ResourceNotFoundException, match="end of its life"):
        runtime.converse(modelId=HAIKU_ON_DEMAND, messages=[{"role": "user", "content": [{"text": "hi"}]}])


# ------------------------------------------------------------ catalog and listing


def test_foundation_model_lifecycle_and_filters() -> None:
    bedrock = FakeBedrock(clock=frozen).client("bedrock")  # the default catalog: the published dates
    haiku = bedrock.get_foundation_model(modelIdentifier=HAIKU_FT)["modelDetails"]
    assert haiku["customizationsSupported"] == ["FINE_TUNING"]
    assert haiku["inferenceTypesSupported"] == ["PROVISIONED"]
    lifecycle = haiku["modelLifecycle"]
    assert lifecycle["status"] == "LEGACY"
    # AWS's model card: end of life 2026-09-10 (docs/bedrock-behaviour.md#claude-3-haiku-eol).
    assert lifecycle["endOfLifeTime"] == datetime(2026, 9, 10, tzinfo=UTC)
    tunable = bedrock.list_foundation_models(byProvider="anthropic", byCustomizationType="FINE_TUNING")
    assert [m["modelId"] for m in tunable["modelSummaries"]] == [HAIKU_FT]
    embeddings = bedrock.list_foundation_models(byOutputModality="EMBEDDING")["modelSummaries"]
    assert [m["modelId"] for m in embeddings] == ["amazon.titan-embed-text-v2:0"]
    provisioned = {
        m["modelId"] for m in bedrock.list_foundation_models(byInferenceType="PROVISIONED")["modelSummaries"]
    }
    assert HAIKU_FT in provisioned
    assert NOVA_MICRO_FT not in provisioned  # Nova fine-tuning lives in us-east-1
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.get_foundation_model(modelIdentifier="anthropic.claude-9-v1:0")


def test_catalog_lifecycle_is_a_scenario_parameter() -> None:
    assert catalog().get(HAIKU_FT, "us-west-2").lifecycle.end_of_life == datetime(2026, 9, 10, tzinfo=UTC)  # type: ignore[union-attr]
    eol = datetime(2026, 12, 1, tzinfo=UTC)
    fake = FakeBedrock(clock=frozen, catalog=catalog(haiku_end_of_life=eol))
    life = fake.client("bedrock").get_foundation_model(modelIdentifier=HAIKU_FT)["modelDetails"]["modelLifecycle"]
    assert life["endOfLifeTime"] == eol
    active = catalog(haiku_status="ACTIVE").get(HAIKU_FT, "us-west-2")
    assert active is not None
    assert active.lifecycle.status == "ACTIVE"


def test_list_jobs_paginates_filters_and_sorts(fake: FakeBedrock, bedrock: Any) -> None:
    fake.plan_jobs("Never", count=None)
    arns = []
    for i in range(7):
        arns.append(
            bedrock.create_model_customization_job(**job_args(jobName=f"j-{i}", customModelName=f"m{i}"))["jobArn"]
        )
        fake.advance(60)
    pages: list[list[str]] = []
    token = None
    for _ in range(5):  # bounded: a token that never ends must fail the test, not hang it
        kwargs = {"maxResults": 3} | ({"nextToken": token} if token else {})
        page = bedrock.list_model_customization_jobs(**kwargs)
        pages.append([s["jobArn"] for s in page["modelCustomizationJobSummaries"]])
        token = page.get("nextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [a for p in pages for a in p] == arns[::-1]  # newest first by default
    paginator = bedrock.get_paginator("list_model_customization_jobs")
    ascending = [
        s["jobArn"]
        for page in paginator.paginate(sortOrder="Ascending", PaginationConfig={"PageSize": 2})
        for s in page["modelCustomizationJobSummaries"]
    ]
    assert ascending == arns
    named = bedrock.list_model_customization_jobs(nameContains="j-3")["modelCustomizationJobSummaries"]
    assert [s["jobName"] for s in named] == ["j-3"]
    assert bedrock.list_model_customization_jobs(statusEquals="Completed")["modelCustomizationJobSummaries"] == []
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.list_model_customization_jobs(nextToken="not-a-token")


def test_tags_are_stored_per_resource(fake: FakeBedrock, bedrock: Any) -> None:
    model = completed_model(fake, bedrock)
    job_arn = bedrock.get_custom_model(modelIdentifier=model)["jobArn"]
    assert bedrock.list_tags_for_resource(resourceARN=job_arn)["tags"] == [{"key": "team", "value": "trust"}]
    assert bedrock.list_tags_for_resource(resourceARN=model)["tags"] == [{"key": "owner", "value": "ml"}]
    bedrock.tag_resource(resourceARN=model, tags=[{"key": "stage", "value": "eval"}])
    bedrock.untag_resource(resourceARN=model, tagKeys=["owner"])
    assert bedrock.list_tags_for_resource(resourceARN=model)["tags"] == [{"key": "stage", "value": "eval"}]
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.list_tags_for_resource(
            resourceARN="arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdefghijkl"
        )


# ------------------------------------------------------------------ integration


def test_unknown_operations_fail_loudly(bedrock: Any, runtime: Any) -> None:
    with pytest.raises(NotImplementedError, match="ListGuardrails"):
        bedrock.list_guardrails()
    with pytest.raises(NotImplementedError, match="ConverseStream"):
        runtime.converse_stream(modelId=HAIKU_ON_DEMAND, messages=[{"role": "user", "content": [{"text": "hi"}]}])


def test_attach_to_an_existing_client(fake: FakeBedrock) -> None:
    client = boto3.client("bedrock", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="y")
    assert fake.attach(client) is client
    assert fake.attach(client) is client  # attaching twice is harmless
    assert client.get_foundation_model(modelIdentifier=HAIKU_FT)["modelDetails"]["modelId"] == HAIKU_FT
    with pytest.raises(ValueError, match="another FakeBedrock"):
        FakeBedrock(clock=frozen).attach(client)
    with pytest.raises(ValueError, match="region"):
        fake.attach(boto3.client("bedrock", region_name="us-east-1"))
    with pytest.raises(ValueError, match="cannot serve"):
        fake.attach(boto3.client("s3", region_name="us-west-2"))


def test_concurrent_callers_and_the_ticker_share_state_safely(s3: Any) -> None:
    fake = FakeBedrock(s3=s3, time_scale=36_000.0, catalog=SIMULATED_ACTIVE_HAIKU)
    fake.plan_jobs("Completed", duration_s=60, count=None)
    failures: list[BaseException] = []
    clients = [fake.client("bedrock") for _ in range(8)]

    def worker(n: int) -> None:
        try:
            for i in range(5):
                args = job_args(jobName=f"w{n}-{i}", customModelName=f"w{n}m{i}", validationDataConfig=None)
                arn = clients[n].create_model_customization_job(**args)["jobArn"]
                clients[n].get_model_customization_job(jobIdentifier=arn)
                clients[n].list_model_customization_jobs()
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)

    # Switch threads as often as possible so unguarded state would interleave and break.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        fake.start_ticker(interval=0.001)
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        fake.stop_ticker()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    created = [p["jobName"] for name, p in fake.calls if name == "CreateModelCustomizationJob"]
    assert len(created) == len(set(created)) == 40
    assert fake.counters.jobs_started == 40
    fake.advance(HOURS)
    assert fake.counters.jobs_completed == 40
    assert len(fake.events) == 80
