"""StartJudge and CheckJudge (bft.workflow.judge) against the Bedrock fake: the datasets and jobs they start,
and every status CheckJudge can meet: still running, completed, failed or stopped (the other job stopped),
past the poll limit (both stopped), throttled (retried by the state machine)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bft.errors import JobFailed, JobStopped, TransientError
from bft.workflow import judge
from bft_twin.bedrock_fake import FakeBedrock

NOW = 1_780_300_800.0
ROLE = "arn:aws:iam::123456789012:role/bedrock-eval"
JUDGE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
RUBRIC = [
    {
        "name": "correct",
        "instructions": "Rate {{prediction}} against {{ground_truth}}.",
        "ratingScale": [{"definition": "wrong", "value": 1.0}, {"definition": "right", "value": 5.0}],
    }
]
RUN = {
    "team": "moderation",
    "requestId": "req-1",
    "tags": [{"key": "project", "value": "bedrock-fine-tuning"}],
    "evaluation": {
        "judgeModel": JUDGE,
        "rubric": RUBRIC,
        "metric": "correct",
        "judgePoll": {"pollSeconds": 600, "maxPolls": 3},
    },
}
ROWS = [
    {"line": 1, "expected": "toxic", "custom": "toxic", "base": "benign"},
    {"line": 2, "expected": "spam", "custom": "spam", "base": "spam"},
]
PLAN = {"models": {"custom": "arn:pt", "base": "meta.llama3-1-8b-instruct-v1:0"}}


@pytest.fixture
def world() -> Iterator[tuple[FakeBedrock, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-west-2")
        s3.create_bucket(Bucket="outputs", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        yield FakeBedrock(s3=s3, clock=lambda: NOW, time_scale=0), s3


def start(fake: FakeBedrock, s3: Any) -> dict[str, Any]:
    return judge.start(
        RUN,
        PLAN,
        ROWS,
        {1: "user: Classify: you idiot", 2: "user: Classify: buy pills"},
        s3=s3,
        bedrock=fake.client("bedrock"),
        outputs_bucket="outputs",
        role_arn=ROLE,
        execution_name="exec-1",
    )


def test_start_writes_each_model_s_answers_and_starts_one_job_per_model(world: tuple[FakeBedrock, Any]) -> None:
    fake, s3 = world
    state = start(fake, s3)
    assert sorted(state["jobs"]) == ["base", "custom"]
    body = s3.get_object(Bucket="outputs", Key="judge/moderation/req-1/exec-1/input/base.jsonl")["Body"].read()
    first = json.loads(body.splitlines()[0])
    assert first == {
        "prompt": "user: Classify: you idiot",
        "referenceResponse": "toxic",
        "modelResponses": [{"response": "benign", "modelIdentifier": "base"}],
    }
    (created,) = [p for op, p in fake.calls if op == "CreateEvaluationJob" and p["jobName"].endswith("-custom")]
    assert created["inferenceConfig"] == {
        "models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": "custom"}}]
    }
    custom = created["evaluationConfig"]["automated"]["customMetricConfig"]
    assert custom["evaluatorModelConfig"] == {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]}
    assert custom["customMetrics"][0]["customMetricDefinition"]["ratingScale"][1]["value"] == {"floatValue": 5.0}
    # A retried start (same execution) adopts its jobs: the names are the idempotency tokens.
    assert start(fake, s3)["jobs"] == state["jobs"]
    assert fake.counters.evaluation_jobs_started == 2


def test_check_polls_until_both_complete_then_the_ratings_score_each_model(world: tuple[FakeBedrock, Any]) -> None:
    fake, s3 = world
    state = start(fake, s3)
    state = judge.check(RUN, state, bedrock=fake.client("bedrock"))
    assert (state["done"], state["polls"], set(state["statuses"].values())) == (False, 1, {"InProgress"})
    fake.advance(3600)
    state = judge.check(RUN, state, bedrock=fake.client("bedrock"))
    assert state["done"] is True
    custom = judge.ratings(RUN, state, "custom", 2, s3=s3)
    base = judge.ratings(RUN, state, "base", 2, s3=s3)
    assert (judge.mean([r["correct"] for r in custom]), judge.mean([r["correct"] for r in base])) == (1.0, 0.5)


def test_a_failed_job_stops_the_other_and_fails_the_run_with_bedrock_s_message(
    world: tuple[FakeBedrock, Any],
) -> None:
    fake, s3 = world
    state = start(fake, s3)
    bedrock = fake.client("bedrock")
    bedrock.stop_evaluation_job(jobIdentifier=state["jobs"]["base"])  # stopped from outside
    with pytest.raises(JobFailed, match=r"the base model's evaluation job bft-judge-.*-base is Stopping"):
        judge.check(RUN, state, bedrock=bedrock)
    assert bedrock.get_evaluation_job(jobIdentifier=state["jobs"]["custom"])["status"] == "Stopping"


def test_past_the_poll_limit_both_jobs_are_stopped(world: tuple[FakeBedrock, Any]) -> None:
    fake, s3 = world
    state = start(fake, s3)
    bedrock = fake.client("bedrock")
    for _ in range(2):
        state = judge.check(RUN, state, bedrock=bedrock)
    with pytest.raises(JobStopped, match=r"did not finish within 3 polls \(1,800 s"):
        judge.check(RUN, state, bedrock=bedrock)
    assert {bedrock.get_evaluation_job(jobIdentifier=a)["status"] for a in state["jobs"].values()} == {"Stopping"}


def test_a_throttled_check_is_a_transient_error_the_state_machine_retries(world: tuple[FakeBedrock, Any]) -> None:
    fake, s3 = world
    state = start(fake, s3)
    fake.inject("GetEvaluationJob", "ThrottlingException", times=3)  # the client's own 3 attempts
    with pytest.raises(TransientError, match="GetEvaluationJob: ThrottlingException"):
        judge.check(RUN, copy.deepcopy(state), bedrock=fake.client("bedrock"))
    assert judge.check(RUN, state, bedrock=fake.client("bedrock"))["polls"] == 1
