"""Steps 2-8 against moto and the Bedrock fake: each step's happy path and each error it can raise.

Tests of a documented Bedrock behaviour name its entry: ``docs/bedrock-behaviour.md#<anchor>``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from typing import Any

import botocore.endpoint
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bft.errors import (
    EvaluationBelowThreshold,
    QuotaExceeded,
    RequestInvalid,
    ThroughputFailed,
    TransientError,
)
from bft.sample_data import LABELS
from bft.workflow import approval, cleanup, evaluation, job, metrics, report, serving, state
from bft.workflow.ownership import run_tags
from bft_twin.catalog import catalog
from tests.unit.workflow_support import MODEL, ROLE, Env, FakeContext, RecordingSfn, load_handler, make_env


@pytest.fixture
def env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    # Botocore's retry backoff is recorded, not slept: faults are retried below the client (bedrock-behaviour.md
    # #throttling-retries). The world serves custom Haiku models: Haiku ACTIVE (no new PT on a LEGACY base,
    # #legacy-restrictions) and one no-commitment model unit granted (default 0, #no-commit-quota).
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda _seconds: None)
    with mock_aws():
        yield make_env(tmp_path, catalog=catalog(haiku_status="ACTIVE"), no_commit_model_units=1)


def evaluate(
    run: dict[str, Any], created: dict[str, Any], *, bedrock: Any, s3: Any, runtime: Any, reports_bucket: str
) -> dict[str, Any]:
    """The evaluation's three phases as the state machine runs them (its Map one chunk after another)."""
    planned = evaluation.plan(run, created, bedrock=bedrock, s3=s3, execution_name="exec-1")
    for chunk in planned["chunks"]:
        item = {
            "chunk": chunk,
            "dataUri": run["evaluation"]["dataUri"],
            "models": planned["models"],
            "partsPrefix": planned["partsPrefix"],
        }
        evaluation.score_chunk(item, s3=s3, runtime=runtime, reports_bucket=reports_bucket)
    return evaluation.aggregate(run, planned, s3=s3, reports_bucket=reports_bucket)


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
    """docs/bedrock-behaviour.md#throttling-retries: what is left once the client's 3 attempts are spent."""
    env.fake.inject("CreateModelCustomizationJob", "ThrottlingException", times=3)
    with pytest.raises(TransientError, match="ThrottlingException"):
        start(env, env.run())
    assert env.fake.counters.jobs_started == 0


def test_start_job_rides_out_throttling_inside_the_client(env: Env) -> None:
    """docs/bedrock-behaviour.md#throttling-retries: two throttled attempts never reach the step."""
    env.fake.inject("CreateModelCustomizationJob", "ThrottlingException", times=2)
    started = start(env, env.run())
    assert env.fake.counters.jobs_started == 1
    attempts = [a for a in env.fake.attempts if a.operation == "CreateModelCustomizationJob"]
    assert [a.error for a in attempts] == ["ThrottlingException", "ThrottlingException", None]
    assert started["jobArn"]


def test_start_job_adopts_its_own_job_when_the_name_is_in_use(env: Env) -> None:
    """docs/bedrock-behaviour.md#job-name-in-use: a name in use answers ValidationException "The provided job name
    is currently in use." (apache/airflow matches exactly this); the run's own job is adopted, not refused."""
    run = env.run()
    first = start(env, run)
    # A token Bedrock has not seen (a repeated one would just return the job, #client-request-token).
    again = start(env, {**run, "clientRequestToken": "another-token"})
    assert again["jobArn"] == first["jobArn"]
    assert env.fake.counters.jobs_started == 1
    creates = [a.error for a in env.fake.attempts if a.operation == "CreateModelCustomizationJob"]
    assert creates == [None, "ValidationException"]
    assert [op for op, _ in env.fake.calls][-2:] == ["GetModelCustomizationJob", "ListTagsForResource"]


def test_start_job_refuses_a_name_in_use_by_another_run(env: Env) -> None:
    """docs/bedrock-behaviour.md#job-name-in-use: the name's job is not this run's (its tags say so): typed failure,
    and the other job is left alone."""
    run = env.run()
    theirs = env.bedrock.create_model_customization_job(
        jobName=run["jobName"],
        customModelName="someone-elses-model",
        roleArn=ROLE,
        baseModelIdentifier=run["baseModelId"],
        trainingDataConfig={"s3Uri": run["trainingDataUri"]},
        outputDataConfig={"s3Uri": f"s3://{env.outputs}/other/"},
        jobTags=run_tags("local", "moderation", "another-request"),
    )["jobArn"]
    with pytest.raises(RequestInvalid, match="already belongs to another run"):
        start(env, run)
    assert [j["jobArn"] for j in env.fake.running_jobs()] == [theirs]
    assert env.fake.counters.jobs_started == 1


def test_start_job_does_not_adopt_on_conflict(env: Env) -> None:
    """docs/bedrock-behaviour.md#job-name-in-use: ConflictException is not how Bedrock reports a name in use, so it
    adopts nothing (no lookup by name); it reaches the caller unchanged."""
    env.fake.inject("CreateModelCustomizationJob", "ConflictException", message="conflict")
    with pytest.raises(ClientError) as raised:
        start(env, env.run())
    assert raised.value.response["Error"]["Code"] == "ConflictException"
    assert [op for op, _ in env.fake.calls] == ["GetFoundationModel", "CreateModelCustomizationJob"]


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


def test_a_stopping_event_resumes_nothing(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/bedrock-behaviour.md#job-state-events: Bedrock emits Stopping as a state change of its own; the job-events
    handler acknowledges it and leaves the execution waiting; Stopped then resumes it, once."""
    from bft import aws

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
    env.bedrock.stop_model_customization_job(jobIdentifier=started["jobArn"])
    stopping = env.fake.events[-1]
    assert stopping["detail"]["jobStatus"] == "Stopping"
    monkeypatch.setenv("STATE_TABLE", env.table.name)
    aws.override("stepfunctions", sfn)
    try:
        handler = load_handler("job_events")
        answer = handler(stopping, FakeContext())
        assert answer == {"ignored": True, "jobArn": started["jobArn"], "status": "Stopping"}
        assert sfn.sent == []
        assert state.pending_tokens(env.table, "job"), "the execution still waits for the job's end"
        env.fake.advance(3600)
        stopped = env.fake.events[-1]
        assert stopped["detail"]["jobStatus"] == "Stopped"
        assert handler(stopped, FakeContext())["resumed"] is True
    finally:
        aws.reset()
    ((kind, sent),) = sfn.sent
    assert (kind, sent["error"]) == ("failure", "JobStopped")


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
    run, _, _status = completed_job(env)
    created = serving.create_serving(run, bedrock=env.bedrock)
    first = serving.check_serving(run, created, bedrock=env.bedrock)
    assert first == created | {"status": "Creating", "ready": False, "polls": 1}
    env.fake.advance(3600)
    assert serving.check_serving(run, first, bedrock=env.bedrock)["ready"] is True
    never = {**created, "polls": run["serving"]["maxPolls"] - 1}
    serving.delete_serving(env.bedrock, "provisioned-throughput", created["arn"])
    with pytest.raises(Exception, match="ResourceNotFound"):
        serving.check_serving(run, never, bedrock=env.bedrock)


def test_serving_still_creating_after_the_last_poll_fails(env: Env) -> None:
    run, _, _status = completed_job(env)
    created = serving.create_serving(run, bedrock=env.bedrock)
    last = run["serving"]["maxPolls"]  # the environment's workflow.throughput_max_polls
    serving.check_serving(run, {**created, "polls": last - 2}, bedrock=env.bedrock)  # one check left: still waits
    with pytest.raises(ThroughputFailed, match=f"still Creating after {last} checks"):
        serving.check_serving(run, {**created, "polls": last - 1}, bedrock=env.bedrock)


def test_serving_quota_and_failure(env: Env) -> None:
    run, _, _status = completed_job(env)
    env.fake.inject("CreateProvisionedModelThroughput", "ServiceQuotaExceededException")
    with pytest.raises(QuotaExceeded):
        serving.create_serving(run, bedrock=env.bedrock)
    env.fake.plan_throughput("Failed", failure_message="capacity")
    created = serving.create_serving(run, bedrock=env.bedrock)
    env.fake.advance(3600)
    with pytest.raises(ThroughputFailed, match="capacity"):
        serving.check_serving(run, created, bedrock=env.bedrock)


def test_evaluation_scores_custom_and_base_and_gates(env: Env) -> None:
    run, _, _status = completed_job(env)
    created = serving.create_serving(run, bedrock=env.bedrock)
    env.fake.advance(3600)
    result = evaluate(run, created, bedrock=env.bedrock, s3=env.s3, runtime=env.runtime, reports_bucket=env.reports)
    assert result["passed"] is True
    assert result["scores"]["custom"] > result["scores"]["base"]
    # Expected answers the model never learned (every label moved to the next one): it cannot reach 1.0.
    wrong = [
        json.loads(line)
        for line in env.s3.get_object(Bucket="datasets-bucket", Key="moderation/evaluation.jsonl")["Body"].iter_lines()
    ]
    for record in wrong:  # prompt/completion records: the model's data format (workflow_support.MODEL)
        label = record["completion"].strip()
        record["completion"] = LABELS[(LABELS.index(label) + 1) % len(LABELS)]
    body = "".join(json.dumps(record) + "\n" for record in wrong)
    env.s3.put_object(Bucket="datasets-bucket", Key="moderation/relabelled.jsonl", Body=body.encode())
    uri = run["evaluation"]["dataUri"].replace("evaluation.jsonl", "relabelled.jsonl")
    strict = {**run, "evaluation": {**run["evaluation"], "dataUri": uri, "threshold": 1.0}}
    with pytest.raises(EvaluationBelowThreshold, match=r"below the threshold 1\.000; table: s3://reports-bucket/"):
        evaluate(strict, created, bedrock=env.bedrock, s3=env.s3, runtime=env.runtime, reports_bucket=env.reports)


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
    created = serving.create_serving(run, bedrock=env.bedrock)
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
    created = serving.create_serving(run, bedrock=env.bedrock)
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


def _report_targets(env: Env) -> dict[str, Any]:
    """Where Finalize writes and publishes: the test world's reports bucket, topic and state table."""
    return {"s3": env.s3, "sns": env.sns, "table": env.table, "reports_bucket": env.reports, "topic_arn": env.topic_arn}


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
        **_report_targets(env),
        policy_prices={"modelUnitHourUsd": {"llama-3.1": 40.0}},
        execution={"id": run["executionArn"], "name": "exec-1", "startTime": "2026-01-01T00:00:00Z"},
        environment="local",
    )
    assert result["outcome"] == "timed_out"
    assert result["errorType"] == "TimedOut", "Fail states may not raise States.* names"
    assert result["leftRunning"][0]["hourlyCostUsd"] == 40.0
    claim = state.get_claim(env.table, "moderation", "req-1")
    assert claim is not None
    assert claim["status"] == "FAILED"


def test_finalize_keeps_only_the_message_of_a_lambda_error(env: Env) -> None:
    envelope = json.dumps({"errorType": "ThroughputFailed", "errorMessage": "capacity gone", "stackTrace": ["x"]})
    result = report.finalize(
        {
            "input": {"team": "moderation", "requestId": "early"},
            "assignedTeam": "moderation",
            "error": {"Error": "ThroughputFailed", "Cause": envelope},
        },
        "FAILED",
        **_report_targets(env),
        policy_prices={},
        execution={"id": "arn:x", "name": "early", "startTime": ""},
        environment="dev",
    )
    assert result["cause"].startswith(
        "capacity gone (report: s3://reports-bucket/reports/moderation/_refused/early/run.json"
    )
    assert "stackTrace" not in result["cause"]


def test_finalize_of_an_invalid_dataset_prices_its_token_estimate(env: Env) -> None:
    """The DatasetInvalid message carries the valid records' token estimate; the cost estimate uses it."""
    from bft.dataset import validate_lines
    from bft.dataset.s3 import invalid_message
    from tests.unit.test_dataset_rules import dataset
    from tests.unit.workflow_support import MODEL

    invalid = validate_lines(MODEL, dataset(MODEL, 120, {17: b"{"}), epochs=3)
    message = invalid_message("s3://reports-bucket/reports/moderation/req-1/dataset-validation.json", invalid)
    assert "(its 119 valid training records: about " in message
    envelope = json.dumps({"errorType": "DatasetInvalid", "errorMessage": message})
    run = env.run()
    result = report.finalize(
        {"input": env.request(), "run": run, "error": {"Error": "DatasetInvalid", "Cause": envelope}},
        "FAILED",
        **_report_targets(env),
        policy_prices={"trainingPer1kTokensUsd": {"llama-3.1": 2.0}},
        execution={"id": run["executionArn"], "name": "exec-1", "startTime": ""},
        environment="local",
    )
    assert result["outcome"] == "dataset_invalid"
    written = json.loads(env.s3.get_object(Bucket=env.reports, Key="reports/moderation/req-1/run.json")["Body"].read())
    cost = written["cost"]
    assert cost["estimatedBilledTokens"] == invalid.estimated_billed_tokens() > 0
    assert cost["trainingUsd"] == round(invalid.estimated_billed_tokens() / 1000 * 2.0, 2)
    assert "records of the invalid dataset that passed validation" in cost["note"]


def test_an_invalid_dataset_without_a_valid_record_leaves_the_cost_unknown(env: Env) -> None:
    from bft.dataset import validate_lines
    from bft.dataset.s3 import invalid_message
    from bft.workflow.report import _invalid_dataset_size

    invalid = validate_lines("amazon.nova-lite-v1:0:300k", [b"{"] * 10)
    message = invalid_message("s3://r/k", invalid)
    assert "billed training tokens" not in message
    assert _invalid_dataset_size({"Error": "DatasetInvalid", "Cause": message}) == {}


def test_finalize_of_a_refused_request_writes_under_its_own_machine_and_execution(env: Env) -> None:
    """A request ValidateRequest refused claims a team and an id: neither names where its report goes."""
    result = report.finalize(
        {
            "input": {"team": "moderation", "requestId": "theirs"},
            "assignedTeam": "search",
            "error": {"Error": "RequestInvalid", "Cause": "team: does not match this state machine's team"},
        },
        "FAILED",
        **_report_targets(env),
        policy_prices={},
        execution={"id": "arn:x", "name": "exec-7", "startTime": ""},
        environment="dev",
    )
    assert "reports/search/_refused/exec-7/run.json" in result["cause"]


def test_a_refused_run_named_like_an_accepted_one_leaves_its_record_alone(env: Env) -> None:
    """Audit L2: an execution named like an earlier run's request id, refused, writes beside it, not over it."""
    run = env.run()
    accepted = {"input": env.request(), "run": run}
    report.finalize(
        accepted,
        "SUCCEEDED",
        **_report_targets(env),
        policy_prices={},
        execution={"id": run["executionArn"], "name": "exec-1", "startTime": ""},
        environment="local",
    )
    key = f"reports/moderation/{run['requestId']}/run.json"
    before = env.s3.get_object(Bucket=env.reports, Key=key)["Body"].read()
    refused = report.finalize(
        {
            "input": {"team": "moderation", "requestId": run["requestId"]},
            "assignedTeam": "moderation",
            "error": {"Error": "DuplicateRequest", "Cause": "already running"},
        },
        "FAILED",
        **_report_targets(env),
        policy_prices={},
        execution={"id": "arn:x:2", "name": run["requestId"], "startTime": ""},
        environment="local",
    )
    assert env.s3.get_object(Bucket=env.reports, Key=key)["Body"].read() == before
    assert f"reports/moderation/_refused/{run['requestId']}/run.json" in refused["cause"]


# -- the model comes from the run's own job; every resource's tags are checked before use -----------------
def foreign_model(env: Env, team: str = "payments") -> str:
    """Another team's completed custom model in the same account (tagged for that team)."""
    tags = [
        {"key": "team", "value": team},
        {"key": "environment", "value": "local"},
        {"key": "request", "value": "req-1"},
        {"key": "project", "value": "bedrock-fine-tuning"},
    ]
    created = env.bedrock.create_model_customization_job(
        jobName=f"bft-{team}-job",
        customModelName=f"{team}-model",
        roleArn=ROLE,
        baseModelIdentifier=MODEL,
        trainingDataConfig={"s3Uri": f"s3://{env.datasets}/moderation/train.jsonl"},
        validationDataConfig={"validators": [{"s3Uri": f"s3://{env.datasets}/moderation/validation.jsonl"}]},
        outputDataConfig={"s3Uri": f"s3://{env.outputs}/{team}/"},
        jobTags=tags,
        customModelTags=tags,
    )
    env.fake.advance(5 * 3600)
    arn: str = env.bedrock.get_model_customization_job(jobIdentifier=created["jobArn"])["outputModelArn"]
    return arn


def foreign_throughput(env: Env, model_arn: str, *, name: str = "someone-elses", team: str = "payments") -> str:
    arn: str = env.bedrock.create_provisioned_model_throughput(
        modelUnits=1,
        provisionedModelName=name,
        modelId=model_arn,
        tags=[
            {"key": "team", "value": team},
            {"key": "environment", "value": "local"},
            {"key": "request", "value": "req-1"},
            {"key": "project", "value": "bedrock-fine-tuning"},
        ],
    )["provisionedModelArn"]
    return arn


def test_create_serving_serves_the_jobs_own_model_never_the_events(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from bft import aws

    theirs = foreign_model(env)
    run, _, status = completed_job(env)
    monkeypatch.setattr(aws, "_clients", {"bedrock": env.bedrock})
    created = load_handler("create_serving")({"run": run, "modelArn": theirs}, FakeContext())
    ((pt,),) = [[p for p in env.fake.provisioned_throughputs() if p["provisionedModelArn"] == created["arn"]]]
    assert pt["modelArn"] == status["outputModelArn"] != theirs
    gets = [p for op, p in env.fake.calls if op == "GetModelCustomizationJob"]
    assert gets[-1]["jobIdentifier"] == run["jobName"], "looked up by the run's own job name"


def test_create_serving_refuses_a_job_that_is_not_the_runs(env: Env) -> None:
    from bft.errors import ForeignResource

    run, started, _ = completed_job(env)
    env.bedrock.untag_resource(resourceARN=started["jobArn"], tagKeys=["request"])
    env.bedrock.tag_resource(resourceARN=started["jobArn"], tags=[{"key": "request", "value": "someone-else"}])
    with pytest.raises(ForeignResource, match=r"customization job .* request='someone-else', expected request='req-1'"):
        serving.create_serving(run, bedrock=env.bedrock)
    assert env.fake.provisioned_throughputs() == []


def test_evaluate_never_invokes_a_foreign_throughput(env: Env) -> None:
    from bft.errors import ForeignResource

    theirs = foreign_throughput(env, foreign_model(env))
    run, _, _ = completed_job(env)
    env.fake.advance(3600)
    with pytest.raises(ForeignResource, match=r"team='payments', expected team='moderation'"):
        evaluate(
            run,
            {"kind": "provisioned-throughput", "arn": theirs},
            bedrock=env.bedrock,
            s3=env.s3,
            runtime=env.runtime,
            reports_bucket=env.reports,
        )
    assert not [op for op, _ in env.fake.calls if op in ("Converse", "InvokeModel")]


def test_evaluate_refuses_a_run_tagged_throughput_serving_another_model(env: Env) -> None:
    """Right tags, wrong model: the throughput must serve the run's own job's model."""
    from bft.errors import ForeignResource

    theirs = foreign_model(env)
    run, _, _ = completed_job(env)
    disguised = env.bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="disguised", modelId=theirs, tags=run["tags"]
    )["provisionedModelArn"]
    env.fake.advance(3600)
    with pytest.raises(ForeignResource, match="not this run's model"):
        evaluate(
            run,
            {"kind": "provisioned-throughput", "arn": disguised},
            bedrock=env.bedrock,
            s3=env.s3,
            runtime=env.runtime,
            reports_bucket=env.reports,
        )
    assert not [op for op, _ in env.fake.calls if op in ("Converse", "InvokeModel")]


def test_check_serving_refuses_a_foreign_throughput(env: Env) -> None:
    from bft.errors import ForeignResource

    theirs = foreign_throughput(env, foreign_model(env))
    run, _, _ = completed_job(env)
    with pytest.raises(ForeignResource):
        serving.check_serving(run, {"kind": "provisioned-throughput", "arn": theirs, "polls": 0}, bedrock=env.bedrock)


def test_cleanup_leaves_foreign_resources_alone(env: Env) -> None:
    """A model ARN and a serving ARN in the state that are another team's: neither is deleted, both reported."""
    their_model = foreign_model(env)
    their_pt = foreign_throughput(env, their_model)
    run, started, status = completed_job(env)
    result = cleanup.cleanup(
        {
            "run": run,
            "job": started,
            "jobResult": {**status, "outputModelArn": their_model},
            "serving": {"kind": "provisioned-throughput", "arn": their_pt},
            "error": {"Error": "EvaluationBelowThreshold"},
        },
        bedrock=env.bedrock,
        delete_failed_models=True,
    )
    assert [p["provisionedModelArn"] for p in env.fake.provisioned_throughputs()] == [their_pt]
    deletes = [p for op, p in env.fake.calls if op.startswith("Delete")]
    assert all(their_model not in json.dumps(p) and their_pt not in json.dumps(p) for p in deletes)
    assert any(e["error"] == "ForeignResource" and their_pt in e["message"] for e in result["errors"])
    assert f"{status['outputModelArn']}: custom model deleted" in result["actions"], "the run's own model"


def test_cleanup_by_name_checks_tags_before_deleting(env: Env) -> None:
    """A throughput squatting on the run's serving name, but not tagged for the run, is not deleted."""
    run, started, status = completed_job(env)
    squatter = foreign_throughput(env, status["outputModelArn"], name=run["serving"]["name"])
    result = cleanup.cleanup(
        {"run": run, "job": started, "error": {"Error": "ThroughputFailed"}},
        bedrock=env.bedrock,
        delete_failed_models=False,
    )
    assert [p["provisionedModelArn"] for p in env.fake.provisioned_throughputs()] == [squatter]
    assert [e["error"] for e in result["errors"]] == ["ForeignResource"]


def test_cleanup_does_not_stop_a_job_that_is_not_the_runs(env: Env) -> None:
    run = env.run()
    started = start(env, run)
    env.bedrock.untag_resource(resourceARN=started["jobArn"], tagKeys=["team"])
    result = cleanup.cleanup(
        {"run": run, "job": started, "error": {"Error": "States.Timeout"}},
        bedrock=env.bedrock,
        delete_failed_models=True,
    )
    assert not [op for op, _ in env.fake.calls if op == "StopModelCustomizationJob"]
    assert result["errors"][0]["error"] == "ForeignResource"
    assert "no team tag" in result["errors"][0]["message"]


# -- AccessDenied: typed, never retried, naming the action, never swallowed --------------------------------
def test_access_denied_on_serving_is_typed_and_names_the_action(env: Env) -> None:
    from bft.errors import AccessDenied

    run, _, _ = completed_job(env)
    env.fake.inject("CreateProvisionedModelThroughput", "AccessDeniedException", message="no bedrock:Create...")
    with pytest.raises(AccessDenied, match=r"CreateProvisionedModelThroughput: AccessDeniedException"):
        serving.create_serving(run, bedrock=env.bedrock)


def test_access_denied_in_cleanup_is_reported_in_the_runs_error(env: Env) -> None:
    run, started, _status = completed_job(env)
    created = serving.create_serving(run, bedrock=env.bedrock)
    env.fake.inject("DeleteProvisionedModelThroughput", "AccessDeniedException", message="not authorized")
    state_doc: dict[str, Any] = {
        "input": env.request(),
        "run": run,
        "job": started,
        "serving": created,
        "error": {"Error": "EvaluationBelowThreshold", "Cause": "scored 0.1"},
    }
    state_doc["cleanup"] = cleanup.cleanup(state_doc, bedrock=env.bedrock, delete_failed_models=True)
    assert state_doc["cleanup"]["errors"][0]["error"] == "AccessDenied"
    assert "DeleteProvisionedModelThroughput" in state_doc["cleanup"]["errors"][0]["message"]
    result = report.finalize(
        state_doc,
        "FAILED",
        **_report_targets(env),
        policy_prices={},
        execution={"id": run["executionArn"], "name": "exec-1", "startTime": ""},
        environment="local",
    )
    assert "cleanup: AccessDenied: DeleteProvisionedModelThroughput: AccessDeniedException" in result["cause"]
    assert result["leftRunning"][0]["arn"] == created["arn"]


def test_a_failed_cleanup_step_is_reported_not_dropped(env: Env) -> None:
    run = env.run()
    result = report.finalize(
        {
            "input": env.request(),
            "run": run,
            "error": {"Error": "JobFailed", "Cause": "bad data"},
            "cleanupError": {"Error": "AccessDenied", "Cause": "StopModelCustomizationJob: AccessDeniedException: no"},
        },
        "FAILED",
        **_report_targets(env),
        policy_prices={},
        execution={"id": run["executionArn"], "name": "exec-1", "startTime": ""},
        environment="local",
    )
    assert "cleanup: AccessDenied: StopModelCustomizationJob" in result["cause"]
    document = json.loads(env.s3.get_object(Bucket=env.reports, Key="reports/moderation/req-1/run.json")["Body"].read())
    assert document["cleanupErrors"][0]["error"] == "AccessDenied"


def test_handlers_turn_any_access_denied_into_a_typed_error(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """An S3 refusal inside a handler surfaces as AccessDenied naming the operation, not a bare ClientError."""
    from botocore.exceptions import ClientError

    from bft import aws
    from bft.errors import AccessDenied

    class DeniedS3:
        def get_paginator(self, name: str) -> Any:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "ListObjectsV2")

    run, started, _ = completed_job(env)
    monkeypatch.setattr(aws, "_clients", {"s3": DeniedS3()})
    monkeypatch.setenv("REPORTS_BUCKET", env.reports)
    with pytest.raises(AccessDenied, match=r"ListObjectsV2: AccessDenied: Access Denied"):
        load_handler("collect_metrics")({"run": run, "job": started}, FakeContext())


def test_bedrock_error_paths_stay_typed(env: Env) -> None:
    """Throttling and 5xx are transient (retried); access denied is typed and not transient."""
    from bft.aws_errors import bedrock_call
    from bft.errors import AccessDenied

    for code, expected in (
        ("ThrottlingException", TransientError),
        ("InternalServerException", TransientError),
        ("AccessDeniedException", AccessDenied),
    ):
        # Three: enough to outlast the client's own retries of the transient ones.
        env.fake.inject("GetModelCustomizationJob", code, times=3)
        with pytest.raises(expected) as raised, bedrock_call("GetModelCustomizationJob"):
            env.bedrock.get_model_customization_job(jobIdentifier="x")
        assert "GetModelCustomizationJob" in str(raised.value)
        assert not isinstance(raised.value, TransientError) or expected is TransientError


def _client_error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "try later"}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


@pytest.mark.parametrize(
    ("code", "status", "operation"),
    [
        ("Throttling", 400, "Publish"),  # SNS's name for throttling
        ("InternalServerError", 500, "UpdateItem"),  # DynamoDB's 5xx
        ("ThrottlingException", 400, "SendTaskSuccess"),
        ("ServiceUnavailable", 503, "PutObject"),
    ],
)
def test_handlers_turn_a_throttle_or_5xx_left_after_client_retries_into_transient_error(
    code: str, status: int, operation: str
) -> None:
    """Found by chaos seed 0: Finalize's SNS Publish failing with a 500 after botocore's three attempts escaped as
    an anonymous ClientError, which the state machine does not retry, and the run ended ReportFailed. Every
    handler is wrapped by typed_errors: a transient ClientError becomes TransientError, which is retried."""
    from bft.aws_errors import typed_errors
    from bft.errors import TransientError

    @typed_errors
    def handler() -> None:
        raise _client_error(code, status, operation)

    with pytest.raises(TransientError, match=rf"{operation}: {code}"):
        handler()


def test_handlers_leave_a_defined_client_error_alone() -> None:
    from bft.aws_errors import typed_errors

    @typed_errors
    def handler() -> None:
        raise _client_error("ValidationException", 400, "Publish")

    with pytest.raises(ClientError, match="ValidationException"):
        handler()


def _topic_messages(env: Env) -> list[str]:
    from moto.sns.models import sns_backends

    backend = sns_backends["123456789012"]["us-west-2"]
    return [n[1] for n in backend.topics[env.topic_arn].sent_notifications]


def test_finalize_retried_after_a_lost_result_notifies_once(env: Env) -> None:
    """Found by chaos (a crash after Finalize's side effect): Lambda's Retry ran Finalize again and the team got
    the final notification twice. The report and claim are idempotent; the publish is now recorded per
    execution and skipped on a retry. Another execution of the same request still notifies."""
    run = env.run()

    def finalize(execution_id: str) -> dict[str, Any]:
        return report.finalize(
            {"input": env.request(), "run": run, "error": {"Error": "JobFailed", "Cause": "bad data"}},
            "FAILED",
            **_report_targets(env),
            policy_prices={},
            execution={"id": execution_id, "name": "exec-1", "startTime": "2026-01-01T00:00:00Z"},
            environment="local",
        )

    first, again = finalize(run["executionArn"]), finalize(run["executionArn"])
    assert first == again
    assert len(_topic_messages(env)) == 1
    finalize(run["executionArn"] + "-resubmitted")
    assert len(_topic_messages(env)) == 2


def test_finalize_counts_the_run_in_the_environments_metrics_once(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """The platform dashboard's Runs and RunCostUsd (bft.metrics): one EMF line per execution, as often as its
    notification, with the team and the outcome as dimensions."""
    run = env.run()
    capsys.readouterr()
    for _ in range(2):  # a retried Finalize counts the run once
        report.finalize(
            {"input": env.request(), "run": run, "error": {"Error": "JobFailed", "Cause": "bad data"}},
            "FAILED",
            **_report_targets(env),
            policy_prices={},
            execution={"id": run["executionArn"], "name": "exec-1", "startTime": "2026-01-01T00:00:00Z"},
            environment="local",
        )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert len(lines) == 1
    [line] = lines
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "BftPipeline"
    assert directive["Dimensions"] == [["Environment", "Team", "Outcome"], ["Environment", "Team"]]
    assert (line["Environment"], line["Team"], line["Outcome"], line["Runs"]) == (
        "local",
        run["team"],
        "job_failed",
        1,
    )


class _RecordingSns:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.published.append(kwargs)
        return {"MessageId": "m-1"}


class _History:
    """Step Functions as Finalize sees it: its own execution's history, up to its own state."""

    def __init__(self, states: list[str], *, denied: bool = False) -> None:
        self.states, self.denied = states, denied

    def get_paginator(self, name: str) -> Any:
        assert name == "get_execution_history"
        history = self

        class Pages:
            def paginate(self, executionArn: str) -> Any:  # noqa: N803 (boto3's name)
                if history.denied:
                    raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetHistory")
                events: list[dict[str, Any]] = [
                    {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": s}} for s in history.states
                ]
                events.insert(1, {"type": "TaskScheduled", "taskScheduledEventDetails": {"resourceType": "lambda"}})
                return [{"events": events}]

        return Pages()


def _objects(env: Env, prefix: str) -> set[str]:
    listed = env.s3.list_objects_v2(Bucket=env.reports, Prefix=prefix).get("Contents", [])
    return {obj["Key"].removeprefix(prefix) for obj in listed}


def _finalize(env: Env, state_doc: dict[str, Any], status: str, **clients: Any) -> dict[str, Any]:
    """Finalize a run of ``env`` in dev (the recording SNS and a Step Functions stub given as ``clients``)."""
    run = state_doc["run"]
    return report.finalize(
        state_doc,
        status,
        s3=env.s3,
        table=env.table,
        reports_bucket=env.reports,
        topic_arn=env.topic_arn,
        policy_prices={},
        execution={"id": run["executionArn"], "name": "exec-1", "startTime": ""},
        environment="dev",
        **{"sns": _RecordingSns(), **clients},
    )


@pytest.mark.parametrize("outcome_error", [None, *report.OUTCOMES])
def test_finalize_writes_the_report_for_every_outcome(env: Env, outcome_error: str | None) -> None:
    """report.html, report.md and run.json under the run's prefix; the runbook entry on failure; a notification
    in plain text that says where the report is."""
    run = env.run()
    sns = _RecordingSns()
    failed = outcome_error is not None
    state_doc: dict[str, Any] = {"input": env.request(), "run": run}
    if failed:
        state_doc.update(error={"Error": outcome_error, "Cause": "it went wrong"}, cleanup={"actions": []})
    states = ["Init", "ValidateRequest", *(["Cleanup", "FinalizeFailure"] if failed else ["FinalizeSuccess"])]
    result = _finalize(env, state_doc, "FAILED" if failed else "SUCCEEDED", sns=sns, sfn=_History(states))
    outcome = report.OUTCOMES[outcome_error] if outcome_error else "deployed"
    assert result["outcome"] == outcome
    prefix = "reports/moderation/req-1/"
    assert _objects(env, prefix) == {"report.html", "report.md", "run.json"}
    assert result["reportObjects"] == [prefix + name for name in ("report.html", "report.md", "run.json")]
    page = env.s3.get_object(Bucket=env.reports, Key=prefix + "report.html")["Body"].read().decode()
    record = json.loads(env.s3.get_object(Bucket=env.reports, Key=prefix + "run.json")["Body"].read())
    assert record["path"]["states"][:2] == ["Init", "ValidateRequest"]
    assert record["path"]["lambdaInvocations"] == 1
    assert "simulat" not in page.lower(), "a real run's report has no demo wording"
    message = sns.published[0]["Message"]
    assert message.startswith(f"Outcome: {outcome.replace('_', ' ')}")
    assert f"s3://{env.reports}/{prefix}report.html" in message
    assert "console.aws.amazon.com/s3/object/" in message
    assert not {"{", "}", "["} & set(message), message
    if failed:
        assert '<li class="failed">ValidateRequest (failed here)</li>' in page
        assert html.escape(f"Runbook: {report.RUNBOOK[outcome]}") in page
        assert f"Next step: {report.RUNBOOK[outcome]}" in message
    else:
        assert "SUCCESS: deployed" in page
        assert "Next step:" not in message


def test_finalize_reads_the_runs_documents(env: Env) -> None:
    """The loss curves come from the document CollectMetrics wrote beside the report; other objects under the
    prefix are not read. Without a Step Functions client the path is said to be unknown."""
    run = env.run()
    prefix = "reports/moderation/req-1/"
    curves = {"training": [{"step": 1, "epoch": 0, "loss": 1.2}, {"step": 2, "epoch": 0, "loss": 0.8}]}
    env.s3.put_object(Bucket=env.reports, Key=prefix + "metrics.json", Body=json.dumps({"curves": curves}))
    env.s3.put_object(Bucket=env.reports, Key=prefix + "unrelated.txt", Body=b"not a document")
    result = _finalize(env, {"input": env.request(), "run": run}, "SUCCEEDED")
    assert prefix + "loss.svg" in result["reportObjects"]
    page = env.s3.get_object(Bucket=env.reports, Key=prefix + "report.html")["Body"].read().decode()
    assert page.count("<polyline") == 1
    assert "Not known: no Step Functions client was given." in page


def test_finalize_does_not_hide_a_refused_history_read(env: Env) -> None:
    """A refusal is a broken deployment: Finalize fails naming it (as its handler's typed_errors does)."""
    from bft.aws_errors import typed_errors
    from bft.errors import AccessDenied

    run = env.run()
    with pytest.raises(AccessDenied, match="AccessDeniedException"):
        typed_errors(_finalize)(env, {"input": env.request(), "run": run}, "SUCCEEDED", sfn=_History([], denied=True))
