"""`bft local-run --training ...` on a team's own task is a run, not a scenario (issue #21 item 5): it names the
user's files, expects no outcome, and its verdict and exit code say what the run said (0 deployed, 1 not)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bft.cli import EXIT_NEGATIVE, EXIT_OK, EXIT_USAGE, main
from tests import tool_use_data

pytestmark = pytest.mark.slow


def test_own_tool_use_data_deploys_as_another_team_with_a_verdict_in_its_own_terms(
    local_assembly: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    training = tool_use_data.write(tmp_path / "calls-train.jsonl", 160, seed=1, data_format="prompt-completion")
    evaluation = tool_use_data.write(tmp_path / "calls-test.jsonl", 30, seed=2, data_format="prompt-completion")
    argv = ["local-run", "--assembly", str(local_assembly), "--training", str(training)]
    argv += ["--evaluation", str(evaluation), "--team", "search", "--json", "--report-dir", str(tmp_path / "r")]
    assert main(argv) == EXIT_OK
    summary = json.loads(capsys.readouterr().out)
    assert summary["own_data"] == {"train": str(training), "evaluation": str(evaluation)}
    assert summary["deployed"] is True
    assert "ended_as_intended" not in summary
    assert summary["expected_outcome"] is None
    assert summary["verdict"].startswith("your data: deployed: the custom model passed its evaluation (json_match")
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    assert run["run"]["team"] == "search"
    assert run["run"]["requestId"].startswith("own-calls-train-")
    # The stand-ins mean something on this task: the custom model beats the base model, neither at 0 or 1.
    scores = run["evaluation"]["scores"]
    assert 0 < scores["base"] < scores["custom"], scores
    report = (tmp_path / "r" / "report.md").read_text()
    assert report.startswith("# bft local run: your data (own-calls-train-")
    assert f"**Your training file:** {training}" in report
    for framing in ("Scenario:", "Expected outcome", "UNEXPECTED"):
        assert framing not in report


def test_an_own_file_refused_names_its_line_in_the_users_file_and_exits_1(
    local_assembly: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    training = tool_use_data.write(tmp_path / "mine.jsonl", 120, seed=3, data_format="prompt-completion")
    lines = training.read_text().splitlines()
    lines[6] = json.dumps({"prompt": "no completion here"})
    training.write_text("\n".join(lines) + "\n")
    argv = ["local-run", "--assembly", str(local_assembly), "--training", str(training), "--threshold", "0.5"]
    assert main([*argv, "--report-dir", str(tmp_path / "r")]) == EXIT_NEGATIVE
    out = capsys.readouterr().out
    assert f"your data ({training}): execution FAILED, outcome dataset_invalid;" in out
    assert "dataset refused: 1 error:" in out
    assert f"    {training}:7: " in out  # the user's own file and line, not the S3 copy
    assert "your data: not deployed: the dataset was refused before any job" in out
    assert "did NOT" not in out
    assert "NOT DEPLOYED: dataset_invalid" in (tmp_path / "r" / "report.md").read_text()


def test_an_unknown_team_is_refused_before_anything_runs(
    local_assembly: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    training = tool_use_data.write(tmp_path / "t.jsonl", 10, seed=4, data_format="prompt-completion")
    argv = ["local-run", "--assembly", str(local_assembly), "--training", str(training), "--team", "nobody"]
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--team nobody: environment local has no team 'nobody'" in err
    assert "teams: moderation, search" in err
