"""The LLM judge, run offline through the synthesized state machine (`bft local-run --scenario llm-judge`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bft.report.render import render
from bft_twin.run import _LAMBDA_SERVICE_EXCEPTION, Scenario, World, run_scenario
from bft_twin.run.scenarios import JUDGE_EVALUATION

pytestmark = pytest.mark.slow


def test_the_judge_rates_both_models_and_gates_on_the_rubric_metric(local_assembly: Path, tmp_path: Path) -> None:
    summary = run_scenario("llm-judge", assembly=local_assembly, workdir=tmp_path)
    assert summary["background_errors"] == []
    assert (summary["status"], summary["outcome"]) == ("SUCCEEDED", "deployed")
    visited = summary["states_visited"]
    assert visited.index("EvaluateChunks") < visited.index("StartJudge") < visited.index("ScoreEvaluation")
    # Waited and checked until both jobs completed (15 simulated minutes and more: several 10-minute polls).
    assert visited.count("CheckJudge") >= 2
    assert visited.count("WaitForJudge") == visited.count("CheckJudge")
    # One job per model, each completed: the custom model's and the base model's answers, as precomputed sources.
    jobs = summary["evaluation_jobs"]
    assert sorted(j["name"].rsplit("-", 1)[1] for j in jobs) == ["base", "custom"]
    assert {j["status"] for j in jobs} == {"Completed"}
    evaluation = summary["report"]["evaluation"]
    assert evaluation["scorer"] == "llm_judge"
    assert evaluation["metric"] == "label_correct"
    assert evaluation["passed"] is True
    assert evaluation["scores"]["custom"] >= 0.8
    assert evaluation["scores"]["custom"] > evaluation["scores"]["base"]
    # The report says who judged, on what rubric, and that the ratings are simulated.
    markdown = render(summary["report"], summary["documents"])["report.md"]
    assert "LLM judge" in markdown
    assert "anthropic.claude-3-5-sonnet-20240620-v1:0" in markdown
    assert "label_correct" in markdown
    assert "simulated" in markdown.lower()


def test_a_judge_not_offered_in_the_region_is_refused_before_any_job(local_assembly: Path, tmp_path: Path) -> None:
    summary = run_scenario("llm-judge-not-offered", assembly=local_assembly, workdir=tmp_path)
    assert summary["outcome"] == "request_invalid"
    assert summary["jobs_started"] == 0
    assert summary["evaluation_jobs"] == []
    cause = summary["executions"][0]["cause"]
    assert "evaluation.judgeModel: amazon.nova-pro-v1:0 is not offered as a judge in us-west-2" in cause
    assert summary["states_visited"][:3] == ["Init", "ValidateRequest", "Cleanup"]


# -- A run that fails while the judge's jobs run: Cleanup stops them (they bill the judge's tokens) ----------------
Handler = Callable[[Any, Any], Any]


def _judged(name: str, outcome: str, wrap: Callable[[Handler], Handler]) -> Scenario:
    """The llm-judge scenario with the Evaluate function run through ``wrap`` (its phases share one function)."""

    def arrange(world: World) -> None:
        world.request["evaluation"].update(JUDGE_EVALUATION)
        world.step("Evaluate", wrap)

    return Scenario(name, f"llm-judge, {name}", outcome, arrange)


def _run(name: str, scenario: Scenario, assembly: Path, tmp_path: Path) -> dict[str, Any]:
    summary = run_scenario(name, assembly=assembly, workdir=tmp_path, scenario=scenario)
    assert summary["background_errors"] == []
    # Every call Cleanup made (list, tags, get, stop) was allowed by the synthesized policies.
    assert summary["authorization"]["calls_denied"] == 0, summary["authorization"]["denied"]
    return summary


def _stopped_by_cleanup(summary: dict[str, Any], models: list[str]) -> None:
    assert summary["status"] == "FAILED"
    assert summary["evaluation_jobs_left_running"] == 0
    jobs = summary["evaluation_jobs"]
    assert sorted(j["name"].rsplit("-", 1)[1] for j in jobs) == sorted(models)
    assert {j["status"] for j in jobs} <= {"Stopping", "Stopped"}
    actions = summary["report"]["cleanup"]["actions"]
    assert len([a for a in actions if a.endswith(": evaluation job stopped")]) == len(models), actions
    assert summary["report"]["cleanupErrors"] == []


def test_a_check_judge_that_crashes_fails_the_run_and_cleanup_stops_both_jobs(
    local_assembly: Path, tmp_path: Path
) -> None:
    """CheckJudge raises an error the state machine does not retry: the Catch's state still has the jobs."""

    def wrap(handler: Handler) -> Handler:
        def crashing(event: Any, context: Any) -> Any:
            if event.get("phase") == "judge-check":
                raise RuntimeError("CheckJudge crashed (simulated)")
            return handler(event, context)

        return crashing

    summary = _run("judge-check-crashes", _judged("judge-check-crashes", "error", wrap), local_assembly, tmp_path)
    assert summary["states_visited"][-4:] == ["CheckJudge", "Cleanup", "FinalizeFailure", "RunFailed"]
    _stopped_by_cleanup(summary, ["base", "custom"])


def _first_job_then_lost(*, every_time: bool) -> Callable[[Handler], Handler]:
    """StartJudge creates the custom model's job, then dies before the base model's: its invocation is run on the
    plan's first model only and its result lost (Lambda.ServiceException, which the state machine retries).
    Once, or on every attempt (the retries run out and StartJudge never returns the jobs)."""
    lost: list[int] = []

    def wrap(handler: Handler) -> Handler:
        def dying(event: Any, context: Any) -> Any:
            if event.get("phase") != "judge-start" or (lost and not every_time):
                return handler(event, context)
            first = next(iter(event["plan"]["models"]))
            handler(event | {"plan": event["plan"] | {"models": {first: event["plan"]["models"][first]}}}, context)
            lost.append(1)
            raise _LAMBDA_SERVICE_EXCEPTION("StartJudge: died after creating the first job (simulated)")

        return dying

    return wrap


def test_a_start_judge_retried_after_it_died_adopts_the_job_it_created(local_assembly: Path, tmp_path: Path) -> None:
    scenario = _judged("judge-start-dies-once", "deployed", _first_job_then_lost(every_time=False))
    summary = _run("judge-start-dies-once", scenario, local_assembly, tmp_path)
    assert (summary["status"], summary["outcome"]) == ("SUCCEEDED", "deployed")
    # The retry found the first job by its idempotency token: one job per model, both completed.
    jobs = summary["evaluation_jobs"]
    assert sorted(j["name"].rsplit("-", 1)[1] for j in jobs) == ["base", "custom"]
    assert {j["status"] for j in jobs} == {"Completed"}
    assert summary["evaluation_jobs_left_running"] == 0


def test_a_start_judge_that_never_returns_leaves_cleanup_to_find_its_job_by_name(
    local_assembly: Path, tmp_path: Path
) -> None:
    scenario = _judged("judge-start-dies", "error", _first_job_then_lost(every_time=True))
    summary = _run("judge-start-dies", scenario, local_assembly, tmp_path)
    visited = summary["states_visited"]
    assert "WaitForJudge" not in visited
    assert visited[-4:] == ["StartJudge", "Cleanup", "FinalizeFailure", "RunFailed"]
    _stopped_by_cleanup(summary, ["custom"])


def test_a_start_judge_past_its_lambda_timeout_is_cleaned_up_by_name(local_assembly: Path, tmp_path: Path) -> None:
    """The `llm-judge-timed-out` scenario: StartJudge started both jobs, then timed out (not retried)."""
    summary = run_scenario("llm-judge-timed-out", assembly=local_assembly, workdir=tmp_path)
    assert summary["background_errors"] == []
    assert summary["authorization"]["calls_denied"] == 0, summary["authorization"]["denied"]
    assert summary["outcome"] == "step_timed_out"
    assert summary["states_visited"][-4:] == ["StartJudge", "Cleanup", "FinalizeFailure", "RunFailed"]
    _stopped_by_cleanup(summary, ["base", "custom"])
    markdown = render(summary["report"], summary["documents"])["report.md"]
    assert "evaluation job stopped" in markdown
