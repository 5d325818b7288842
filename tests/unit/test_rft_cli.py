"""`bft submit --customization reinforcement --grader ...` (the dry run says the type and the grader, and
validates the prompts format) and `bft grader test`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bft.cli import main
from tests.unit.test_dataset_rft import NOVA2, lines, prompt


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(b"\n".join(lines([prompt(i) for i in range(20)])) + b"\n")
    return path


def submit(path: Path, *extra: str) -> int:
    return main(
        [
            "submit",
            "--env",
            "local-us-east-1",
            "--team",
            "moderation",
            str(path),
            "--base-model",
            NOVA2,
            "--no-approval",
            "--dry-run",
            *extra,
        ]
    )


def test_the_dry_run_says_the_type_and_the_grader(prompts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        submit(
            prompts,
            "--customization",
            "reinforcement",
            "--grader",
            "numeric",
            "--grader-option",
            "tolerance=0.5",
            "--grader-option",
            "field=quantity",
        )
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "customization: reinforcement (REINFORCEMENT_FINE_TUNING); grader: built-in numeric "
        "(tolerance=0.5, field='quantity')" in out
    )
    assert "dry run: request" in out


def test_the_dry_run_of_supervised_fine_tuning_says_so_and_refuses_prompts(
    prompts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert submit(prompts) == 1
    out = capsys.readouterr().out
    assert "customization: fine-tuning (FINE_TUNING)" in out
    assert "the dataset is invalid" in out


def test_a_prompt_without_reference_answer_is_refused_before_upload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(b"\n".join(lines([prompt(i) for i in range(19)] + [prompt(19, reference_answer=None)])) + b"\n")
    assert submit(path, "--customization", "reinforcement", "--grader", "json_match") == 1
    out = capsys.readouterr().out
    assert "prompts.jsonl:20" in out
    assert "reference_answer" in out


def test_another_accounts_grader_is_refused_before_upload(prompts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arn = "arn:aws:lambda:us-east-1:999999999999:function:bft_local-us-east-1_moderation_score"
    assert submit(prompts, "--customization", "reinforcement", "--grader", arn) == 1
    assert "not a function of this account and region" in capsys.readouterr().out
