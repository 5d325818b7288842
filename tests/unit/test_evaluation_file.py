"""The evaluation file is checked with its own rules before any money is spent: `bft validate --evaluation`,
`bft submit --dry-run`, and the dataset-validation step."""

from __future__ import annotations

from pathlib import Path

import pytest

from bft.cli import main
from bft.dataset import validate_paths
from bft.sample_data import write_splits


def truncate_line(path: Path, number: int) -> Path:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[number - 1] = lines[number - 1][: len(lines[number - 1]) // 2]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def data(tmp_path: Path) -> dict[str, Path]:
    return write_splits(tmp_path / "data", training=40, validation=8, evaluation=12)


def test_an_evaluation_file_passes_without_the_training_minimum(data: dict[str, Path]) -> None:
    # 12 records: under the training minimum (Llama 3.3: 100), enough for an evaluation set.
    assert validate_paths("meta.llama3-3-70b-instruct-v1:0:128k", None, evaluation=data["evaluation"]).valid


def test_validate_evaluation_refuses_a_truncated_line_with_file_and_line(
    data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = truncate_line(data["evaluation"], 7)
    assert main(["validate", "--evaluation", str(bad)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("INVALID")
    assert f"{bad}:7:" in out


def test_validate_evaluation_needs_enough_records_to_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    few = write_splits(tmp_path / "few", training=40, validation=1, evaluation=3)["evaluation"]
    assert main(["validate", "--evaluation", str(few)]) == 1
    out = capsys.readouterr().out
    assert "3 evaluation records; at least 10" in out
    assert "needs at least 32" not in out, "the training minimum does not apply to an evaluation file"


def test_validate_evaluation_warns_when_records_would_not_be_scored(
    data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--evaluation", str(data["evaluation"]), "--eval-max-records", "10"]) == 0
    assert "only the first 10 are scored" in capsys.readouterr().out


def test_dry_run_refuses_a_truncated_evaluation_line(data: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    bad = truncate_line(data["evaluation"], 5)
    code = main(
        ["submit", "--env", "dev", "--team", "moderation", str(data["train"]), "--evaluation", str(bad), "--dry-run"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert f"{bad}:5:" in out
    assert "is valid" not in out
