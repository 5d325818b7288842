"""The LLM judge, run offline through the synthesized state machine (`bft local-run --scenario llm-judge`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bft.report.render import render
from bft_twin.run import run_scenario

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
