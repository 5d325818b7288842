"""Steps 2-8 against moto and the Bedrock fake: each step's happy path and each error it can raise."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from bft.errors import (
    EvaluationBelowThreshold,
    QuotaExceeded,
    RequestInvalid,
    ThroughputFailed,
    TransientError,
)
from bft.workflow import approval, cleanup, job, metrics, report, serving, state
from bft.workflow.evaluation import evaluate
from tests.unit.workflow_support import ROLE, Env, RecordingSfn, make_env


@pytest.fixture
def env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    with mock_aws():
        yield make_env(tmp_path)


def start(env: Env, run: dict[str, Any]) -> dict[str, Any]:
    return job.start_job(
        run, bedrock=env.bedrock, role_arn=ROLE, outputs_bucket=env.outputs, kms_key_arn=None, vpc=None
    )


def completed_job(env: Env) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    run = env.run()
    started = start(env, run)
    env.fake.advance(5 * 3600)
    return run, started, job.job_status(env.bedrock, started["jobArn"])


def test_start_job_is_idempotent(env: Env) -> None:
    run = env.run()
    first, again = start(env, run), start(env, run)
    assert first["jobArn"] == again["jobArn"]
    assert env.fake.counters.jobs_started == 1
    creates = [p for op, p in env.fake.calls if op == "CreateModelCustomizationJob"]
    assert len(creates) == 2, "both calls reach Bedrock; the token makes the second a no-op"
    create = creates[0]
    assert create["clientRequestToken"] == run["clientRequestToken"]
    assert {"key": "team", "value": "moderation"} in create["jobTags"]
    assert create["outputDataConfig"]["s3Uri"] == "s3://outputs-bucket/moderation/req-1/a1/"


def test_start_job_throttled_is_transient(env: Env) -> None:
    env.fake.inject("CreateModelCustomizationJob", "ThrottlingException")
    with pytest.raises(TransientError, match="ThrottlingException"):
        start(env, env.run())


def test_start_job_quota_is_a_defined_failure(env: Env) -> None:
    env.fake.inject("CreateModelCustomizationJob", "ServiceQuotaExceededException")
    with pytest.raises(QuotaExceeded):
        start(env, env.run())


def test_start_job_validation_error_is_request_invalid(env: Env) -> None:
    env.fake.inject("CreateModelCustomizationJob", "ValidationException", message="Could not assume provided IAM role")
    with pytest.raises(RequestInvalid, match="Could not assume provided IAM role"):
        start(env, env.run())


def test_wait_resumes_at_once_when_the_job_already_ended(env: Env) -> None:
    run, started, _ = completed_job(env)
    sfn = RecordingSfn()
    job.register_wait(
        started["jobArn"],
        "tok",
        execution_arn=run["executionArn"],
        timeout_seconds=60,
        table=env.table,
        bedrock=env.bedrock,
        sfn=sfn,
    )
    ((kind, sent),) = sfn.sent
    assert kind == "success"
    assert json.loads(sent["output"])["status"] == "Completed"
    assert state.get_token(env.table, "job", started["jobArn"]) is None


def test_event_resumes_once_and_maps_failure(env: Env) -> None:
    run = env.run()
    started = start(env, run)
    sfn = RecordingSfn()
    job.register_wait(
        started["jobArn"],
        "tok",
        execution_arn=run["executionArn"],
        timeout_seconds=60,
        table=env.table,
        bedrock=env.bedrock,
        sfn=sfn,
    )
    assert sfn.sent == []
    event = {"detail": {"jobArn": started["jobArn"], "jobStatus": "Failed", "failureMessage": "bad data"}}
    assert job.on_job_event(event, table=env.table, sfn=sfn)["resumed"] is True
    assert job.on_job_event(event, table=env.table, sfn=sfn)["resumed"] is False, "a redelivered event is a no-op"
    ((kind, sent),) = sfn.sent
    assert (kind, sent["error"]) == ("failure", "JobFailed")
    assert "bad data" in sent["cause"]


def test_non_terminal_events_are_ignored(env: Env) -> None:
    assert job.on_job_event(
        {"detail": {"jobArn": "arn", "jobStatus": "InProgress"}}, table=env.table, sfn=RecordingSfn()
    )["ignored"]


def test_reconciler_resumes_only_ended_jobs(env: Env) -> None:
    sfn = RecordingSfn()
    run = env.run()
    started = start(env, run)
    job.register_wait(
        started["jobArn"],
        "tok",
        execution_arn=run["executionArn"],
        timeout_seconds=60,
        table=env.table,
        bedrock=env.bedrock,
        sfn=sfn,
    )
    assert job.reconcile(table=env.table, bedrock=env.bedrock, sfn=sfn) == {"resumed": [], "stillWaiting": 1}
    env.fake.advance(5 * 3600)
    assert job.reconcile(table=env.table, bedrock=env.bedrock, sfn=sfn)["resumed"] == [started["jobArn"]]
    assert [kind for kind, _ in sfn.sent] == ["success"]


def test_resume_tolerates_an_execution_that_is_gone(env: Env) -> None:
    state.put_token(env.table, "job", "arn:job", "tok", execution_arn="x", ttl_seconds=10)
    sfn = RecordingSfn(gone=True)
    assert job.resume("arn:job", {"status": "Completed"}, table=env.table, sfn=sfn) is True


def test_metrics_are_collected_from_the_output_prefix(env: Env) -> None:
    run, started, _ = completed_job(env)
    result = metrics.collect_metrics(run, started, s3=env.s3, reports_bucket=env.reports)
    assert result["files"] == ["training", "validation"]
    assert result["summary"]["training"]["final"] < result["summary"]["training"]["first"]
    document = json.loads(
        env.s3.get_object(Bucket=env.reports, Key="reports/moderation/req-1/metrics.json")["Body"].read()
    )
    assert document["curves"]["training"]


def test_serving_happy_path_and_bounded_polls(env: Env) -> None:
    run, _, status = completed_job(env)
    created = serving.create_serving(run, status["outputModelArn"], bedrock=env.bedrock)
    first = serving.check_serving(run, created, bedrock=env.bedrock)
    assert first == created | {"status": "Creating", "ready": False, "polls": 1}
    env.fake.advance(3600)
    assert serving.check_serving(run, first, bedrock=env.bedrock)["ready"] is True
    never = {**created, "polls": run["serving"]["maxPolls"] - 1}
    serving.delete_serving(env.bedrock, "provisioned-throughput", created["arn"])
    with pytest.raises(Exception, match="ResourceNotFound"):
        serving.check_serving(run, never, bedrock=env.bedrock)


def test_serving_still_creating_after_the_last_poll_fails(env: Env) -> None:
    run, _, status = completed_job(env)
    created = serving.create_serving(run, status["outputModelArn"], bedrock=env.bedrock)
    with pytest.raises(ThroughputFailed, match="still Creating after 5 checks"):
        serving.check_serving(run, {**created, "polls": 4}, bedrock=env.bedrock)


def test_serving_quota_and_failure(env: Env) -> None:
    run, _, status = completed_job(env)
    env.fake.inject("CreateProvisionedModelThroughput", "ServiceQuotaExceededException")
    with pytest.raises(QuotaExceeded):
        serving.create_serving(run, status["outputModelArn"], bedrock=env.bedrock)
    env.fake.plan_throughput("Failed", failure_message="capacity")
    created = serving.create_serving(run, status["outputModelArn"], bedrock=env.bedrock)
    env.fake.advance(3600)
    with pytest.raises(ThroughputFailed, match="capacity"):
        serving.check_serving(run, created, bedrock=env.bedrock)


def test_evaluation_scores_custom_and_base_and_gates(env: Env) -> None:
    run, _, status = completed_job(env)
    created = serving.create_serving(run, status["outputModelArn"], bedrock=env.bedrock)
    env.fake.advance(3600)
    result = evaluate(run, created, s3=env.s3, runtime=env.runtime, reports_bucket=env.reports)
    assert result["passed"] is True
    assert result["scores"]["custom"] > result["scores"]["base"]
    strict = {**run, "evaluation": {**run["evaluation"], "threshold": 1.0}}
    env.fake._custom_accuracy = 0.5
    with pytest.raises(EvaluationBelowThreshold, match=r"below the threshold 1\.000; table: s3://reports-bucket/"):
        evaluate(strict, created, s3=env.s3, runtime=env.runtime, reports_bucket=env.reports)


def test_cleanup_stops_the_job_and_deletes_what_the_run_created(env: Env) -> None:
    run = env.run()
    started = start(env, run)
    result = cleanup.cleanup(
        {"run": run, "job": started, "error": {"Error": "States.Timeout"}},
        bedrock=env.bedrock,
        delete_failed_models=True,
    )
    assert any("job stopped" in a for a in result["actions"])
    assert env.fake.running_jobs() == [] or env.fake.running_jobs()[0]["status"] == "Stopping"


def test_cleanup_after_rejection_deletes_throughput_and_model(env: Env) -> None:
    run, started, status = completed_job(env)
    created = serving.create_serving(run, status["outputModelArn"], bedrock=env.bedrock)
    result = cleanup.cleanup(
        {
            "run": run,
            "job": started,
            "jobResult": status,
            "serving": None,
            "error": {"Error": "EvaluationBelowThreshold"},
        },
        bedrock=env.bedrock,
        delete_failed_models=True,
    )
    assert f"{created['arn']}: deleted" in result["actions"], "found by its deterministic name"
    assert any("custom model deleted" in a for a in result["actions"])
    assert env.fake.provisioned_throughputs() == []
    assert result["leftRunning"] == []


def test_cleanup_keeps_a_throughput_the_request_asked_to_keep(env: Env) -> None:
    run, started, status = completed_job(env)
    run["serving"]["keep"] = True
    created = serving.create_serving(run, status["outputModelArn"], bedrock=env.bedrock)
    result = cleanup.cleanup(
        {
            "run": run,
            "job": started,
            "jobResult": status,
            "serving": created,
            "error": {"Error": "EvaluationBelowThreshold"},
        },
        bedrock=env.bedrock,
        delete_failed_models=True,
    )
    assert result["leftRunning"] == [
        {"type": "provisioned-throughput", "arn": created["arn"], "reason": "the request asked to keep it"}
    ]
    assert any("custom model kept" in a for a in result["actions"])


def test_cleanup_of_a_refused_request_touches_nothing(env: Env) -> None:
    result = cleanup.cleanup(
        {"input": {}, "error": {"Error": "DuplicateRequest"}}, bedrock=env.bedrock, delete_failed_models=True
    )
    assert env.fake.calls == []
    assert result["leftRunning"] == []


def test_approval_round_trip(env: Env) -> None:
    run = env.run()
    approval.request_approval(run, None, "tok", table=env.table, sns=env.sns, topic_arn=env.topic_arn)
    sfn = RecordingSfn()
    with pytest.raises(RequestInvalid, match="needs a reason"):
        approval.decide("moderation", "req-1", approve=False, reviewer="ana", reason=" ", table=env.table, sfn=sfn)
    approval.decide("moderation", "req-1", approve=False, reviewer="ana", reason="overfits", table=env.table, sfn=sfn)
    ((kind, sent),) = sfn.sent
    assert (kind, sent["error"], sent["cause"]) == ("failure", "ApprovalRejected", "rejected by ana: overfits")
    with pytest.raises(RequestInvalid, match="req-1 of team moderation is not waiting for approval"):
        approval.decide("moderation", "req-1", approve=True, reviewer="ana", reason="", table=env.table, sfn=sfn)


def test_finalize_failure_names_outcome_error_and_leftovers(env: Env) -> None:
    run = env.run()
    leftover = {"type": "provisioned-throughput", "arn": "arn:pt", "reason": "delete refused: ValidationException"}
    result = report.finalize(
        {
            "input": env.request(),
            "run": run,
            "error": {"Error": "States.Timeout", "Cause": "took too long"},
            "cleanup": {"actions": [], "leftRunning": [leftover]},
        },
        "FAILED",
        s3=env.s3,
        sns=env.sns,
        table=env.table,
        reports_bucket=env.reports,
        topic_arn=env.topic_arn,
        policy_prices={"modelUnitHourUsd": {"claude-3-haiku": 40.0}},
        execution={"id": run["executionArn"], "name": "exec-1", "startTime": "2026-01-01T00:00:00Z"},
        environment="local",
    )
    assert result["outcome"] == "timed_out"
    assert result["errorType"] == "TimedOut", "Fail states may not raise States.* names"
    assert result["leftRunning"][0]["hourlyCostUsd"] == 40.0
    claim = state.get_token(env.table, "request", "req-1")
    assert claim is not None
    assert claim["status"] == "FAILED"


def test_finalize_keeps_only_the_message_of_a_lambda_error(env: Env) -> None:
    envelope = json.dumps({"errorType": "ThroughputFailed", "errorMessage": "capacity gone", "stackTrace": ["x"]})
    result = report.finalize(
        {
            "input": {"team": "moderation", "requestId": "early"},
            "error": {"Error": "ThroughputFailed", "Cause": envelope},
        },
        "FAILED",
        s3=env.s3,
        sns=env.sns,
        table=env.table,
        reports_bucket=env.reports,
        topic_arn=env.topic_arn,
        policy_prices={},
        execution={"id": "arn:x", "name": "early", "startTime": ""},
        environment="dev",
    )
    assert result["cause"].startswith("capacity gone (report: s3://reports-bucket/reports/moderation/early/run.json")
    assert "stackTrace" not in result["cause"]
