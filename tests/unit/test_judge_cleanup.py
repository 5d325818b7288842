"""Cleanup stops the LLM judge's evaluation jobs of a failed run (bft.workflow.cleanup, against the Bedrock fake):
from the state once StartJudge returned them, else by the execution's names; tags checked first; nothing of
another execution or another run is touched; nothing at all for a run without a judge, or once they completed."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bft.workflow import cleanup, judge
from bft.workflow.ownership import run_tags
from bft_twin.bedrock_fake import FakeBedrock
from tests.unit.test_judge_workflow import NOW, PLAN, ROLE, ROWS, RUN

PROMPTS = {1: "user: Classify: you idiot", 2: "user: Classify: buy pills"}
# The run as Cleanup sees it: its names and tags, its serving (none created here), the judge requested.
CLEANUP_RUN = RUN | {
    "environment": "local",
    "attempt": 1,
    "serving": {"kind": "provisioned-throughput"},
    "tags": run_tags("local", "moderation", "req-1"),
    "evaluation": RUN["evaluation"] | {"scorer": "llm_judge"},
}


@pytest.fixture
def fake() -> Iterator[FakeBedrock]:
    with mock_aws():
        yield FakeBedrock(s3=_outputs(), clock=lambda: NOW, time_scale=0)


def _outputs() -> Any:
    s3 = boto3.client("s3", region_name="us-west-2")
    s3.create_bucket(Bucket="outputs", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return s3


def start(fake: FakeBedrock, *, execution: str = "exec-1", plan: dict[str, Any] = PLAN) -> dict[str, Any]:
    return judge.start(
        CLEANUP_RUN,
        plan,
        ROWS,
        PROMPTS,
        s3=boto3.client("s3", region_name="us-west-2"),
        bedrock=fake.client("bedrock"),
        outputs_bucket="outputs",
        role_arn=ROLE,
        execution_name=execution,
    )


def clean(fake: FakeBedrock, state: dict[str, Any], execution: str | None = "exec-1") -> dict[str, Any]:
    return cleanup.cleanup(
        {"run": CLEANUP_RUN, "error": {"Error": "States.TaskFailed"}} | state,
        bedrock=fake.client("bedrock"),
        delete_failed_models=True,
        execution_name=execution,
    )


def statuses(fake: FakeBedrock) -> dict[str, str]:
    return {j["jobName"]: j["status"] for j in fake.evaluation_jobs()}


def test_the_jobs_in_the_state_are_stopped_and_reported(fake: FakeBedrock) -> None:
    """CheckJudge failed (crashed, throttled past its retries, denied): the state has the jobs StartJudge returned."""
    started = start(fake)
    result = clean(fake, {"evaluationPlan": PLAN | {"judge": started}})
    assert sorted(result["actions"]) == sorted(f"{arn}: evaluation job stopped" for arn in started["jobs"].values())
    assert set(statuses(fake).values()) == {"Stopping"}
    assert result["errors"] == []
    # Found in the state: no listing.
    assert not [op for op, _ in fake.calls if op == "ListEvaluationJobs"]


def test_jobs_started_before_start_judge_failed_are_found_by_name(fake: FakeBedrock) -> None:
    """StartJudge created the custom model's job, then failed: the state has the plan but no judge."""
    mine = start(fake, plan={"models": {"custom": PLAN["models"]["custom"]}})["jobs"]["custom"]
    other = start(fake, execution="exec-2")  # another execution of the same run: not this one's
    result = clean(fake, {"evaluationPlan": PLAN})
    assert result["actions"] == [f"{mine}: evaluation job stopped"]
    assert statuses(fake) == {
        judge.job_name("exec-1", "custom"): "Stopping",
        **{judge.job_name("exec-2", model): "InProgress" for model in other["jobs"]},
    }
    (listed,) = [params for op, params in fake.calls if op == "ListEvaluationJobs"]
    assert listed["nameContains"] == judge.job_prefix("exec-1")


def test_a_job_without_the_run_s_tags_is_left_alone_and_reported(fake: FakeBedrock) -> None:
    started = start(fake)
    bedrock = fake.client("bedrock")
    theirs = started["jobs"]["base"]
    bedrock.untag_resource(resourceARN=theirs, tagKeys=["request"])
    result = clean(fake, {"evaluationPlan": PLAN})  # found by name
    assert result["actions"] == [f"{started['jobs']['custom']}: evaluation job stopped"]
    assert bedrock.get_evaluation_job(jobIdentifier=theirs)["status"] == "InProgress"
    (error,) = result["errors"]
    assert (error["step"], error["error"]) == ("check evaluation job", "ForeignResource")
    assert theirs in error["message"]
    assert "no request tag" in error["message"]
    stopped = [params["jobIdentifier"] for op, params in fake.calls if op == "StopEvaluationJob"]
    assert stopped == [started["jobs"]["custom"]]


def test_jobs_that_ended_are_reported_not_stopped(fake: FakeBedrock) -> None:
    """CheckJudge found one job failed and stopped the other before it failed the run (JobFailed)."""
    started = start(fake)
    bedrock = fake.client("bedrock")
    for arn in started["jobs"].values():
        bedrock.stop_evaluation_job(jobIdentifier=arn)
    calls = len(fake.calls)
    result = clean(fake, {"evaluationPlan": PLAN | {"judge": started}})
    already = sorted(f"{arn}: evaluation job already Stopping" for arn in started["jobs"].values())
    assert sorted(result["actions"]) == already
    assert not [op for op, _ in fake.calls[calls:] if op == "StopEvaluationJob"]


def test_a_refused_stop_is_reported_and_the_other_job_still_stopped(fake: FakeBedrock) -> None:
    started = start(fake)
    fake.inject("StopEvaluationJob", "AccessDeniedException", message="not authorized")
    result = clean(fake, {"evaluationPlan": PLAN | {"judge": started}})
    (error,) = result["errors"]
    assert (error["step"], error["error"]) == ("stop evaluation job", "AccessDenied")
    assert "StopEvaluationJob: AccessDeniedException" in error["message"]
    assert sorted(statuses(fake).values()) == ["InProgress", "Stopping"]
    assert len(result["actions"]) == 1


def test_nothing_is_looked_up_without_a_judge_or_once_the_judge_completed(fake: FakeBedrock) -> None:
    started = start(fake)
    calls = len(fake.calls)
    without = copy.deepcopy(CLEANUP_RUN)
    without["evaluation"]["scorer"] = "exact_match"
    cleanup.cleanup(
        {"run": without, "evaluationPlan": PLAN, "error": {"Error": "States.TaskFailed"}},
        bedrock=fake.client("bedrock"),
        delete_failed_models=True,
        execution_name="exec-1",
    )
    # ScoreEvaluation (or a later step) failed: CheckJudge saw both Completed, nothing runs.
    clean(fake, {"evaluationPlan": PLAN | {"judge": started | {"done": True}}})
    # The evaluation failed before its plan (Evaluate): StartJudge never ran.
    clean(fake, {})
    assert not [op for op, _ in fake.calls[calls:] if "EvaluationJob" in op]
    assert set(statuses(fake).values()) == {"InProgress"}
