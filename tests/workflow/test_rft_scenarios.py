"""The reinforcement fine-tuning scenarios, offline in us-east-1 (Nova 2 Lite): a working grader trains and
serves a REINFORCEMENT_FINE_TUNING model; a broken grader is refused before any job, naming its fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bft_twin.run import run_scenario

pytestmark = pytest.mark.slow


def _run(name: str, assembly: Path, tmp_path: Path) -> dict[str, Any]:
    summary = run_scenario(name, assembly=assembly, workdir=tmp_path)
    assert summary["background_errors"] == [], summary["background_errors"]
    assert summary["authorization"]["calls_denied"] == 0, summary["authorization"]["denied"]
    return summary


def test_rft_deploys_a_reinforcement_model_graded_by_the_pipelines_grader(east_assembly: Path, tmp_path: Path) -> None:
    summary = _run("rft", east_assembly, tmp_path)
    assert summary["outcome"] == "deployed"
    assert summary["model"] == "amazon.nova-2-lite-v1:0:256k"
    [job] = summary["jobs"]
    assert job["customizationType"] == "REINFORCEMENT_FINE_TUNING"
    assert job["status"] == "Completed"
    assert ":function:" in job["grader"]
    assert "Grader" in job["grader"]


def test_rft_broken_grader_is_refused_before_any_job_naming_the_fault(east_assembly: Path, tmp_path: Path) -> None:
    summary = _run("rft-broken-grader", east_assembly, tmp_path)
    assert summary["outcome"] == "grader_invalid"
    assert summary["jobs_started"] == 0
    assert summary["jobs"] == []
    [execution] = summary["executions"]
    assert execution["error"] == "GraderInvalid"
    assert "built-in grader regex failed its check" in execution["cause"]
    assert "spread: every answer got reward 1" in execution["cause"]
    note = summary["notifications"][-1]
    assert "grader invalid" in note["subject"]
