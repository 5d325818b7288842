"""``bft validate``: exit codes, --json purity, options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bft.cli import main
from tests.unit.test_dataset_rules import HAIKU, LLAMA31, NOVA_LITE, dataset

BFT = Path(sys.executable).with_name("bft")


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


# Prompt/completion records (Llama 3.1's format): without --base-model the first live model that reads it.
DEFAULT = "meta.llama3-1-8b-instruct-v1:0:128k"


@pytest.fixture
def valid_file(tmp_path: Path) -> Path:
    return write(tmp_path / "train.jsonl", dataset(LLAMA31, 120))


@pytest.fixture
def invalid_file(tmp_path: Path) -> Path:
    return write(tmp_path / "bad.jsonl", dataset(LLAMA31, 120, {3: b"{", 9: {"prompt": "no answer"}}))


def test_valid_file_exits_0_with_a_summary(valid_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(valid_file)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"VALID: llama-3.1 dataset for {DEFAULT}")
    assert "120 records" in out
    # Which model it checked against, and why, on stderr: a live one, never a past-end-of-life default.
    assert err.startswith(f"checking against {DEFAULT} (Meta Llama 3.1 8B Instruct, ACTIVE on ")
    assert "the first live model that reads the file's format (prompt-completion)" in err


def test_a_past_end_of_life_model_is_checked_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Checking data against Claude 3 Haiku still works (to plan the move), and says no run can use it."""
    haiku = write(tmp_path / "haiku.jsonl", dataset(HAIKU, 40))
    assert main(["validate", str(haiku), "--base-model", HAIKU]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"VALID: claude-3-haiku dataset for {HAIKU}")
    assert "note: no run can use it: Anthropic Claude 3 Haiku" in err
    assert "past its end of life (2026-09-10)" in err


def test_invalid_file_exits_1_and_names_file_line_field(invalid_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(invalid_file)]) == 1
    out, _ = capsys.readouterr()
    assert out.startswith("INVALID")
    assert f"{invalid_file}:3: invalid JSON" in out
    assert f"{invalid_file}:9: completion: required key 'completion' is missing" in out


def test_json_output_is_only_the_report(invalid_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(invalid_file), "--base-model", DEFAULT, "--json"]) == 1
    out, err = capsys.readouterr()
    report = json.loads(out)  # the whole of stdout parses
    assert report["valid"] is False
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(3, "invalid_json"), (9, "missing_key")]
    assert report["files"][0]["path"] == str(invalid_file)
    assert err == ""


def test_validation_file_and_epochs(valid_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    validation = write(tmp_path / "val.jsonl", dataset(LLAMA31, 5))
    assert main(["validate", str(valid_file), "--validation", str(validation), "--epochs", "4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [f["role"] for f in report["files"]] == ["training", "validation"]
    assert report["statistics"]["epochs"] == 4
    assert report["statistics"]["estimated_billed_tokens"] == 4 * report["statistics"]["tokens"]["total"]
    assert report["warning_count"] == 5  # the validation records repeat training lines 1-5


def test_base_model_selects_the_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nova = write(tmp_path / "nova.jsonl", dataset(NOVA_LITE))
    assert main(["validate", str(nova), "--base-model", NOVA_LITE, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["family"] == "nova"
    # Without --base-model, the first live model that reads the file's format.
    assert main(["validate", str(nova), "--json"]) == 0
    assert "checking against amazon.nova-micro-v1:0:128k" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl"], "no such file: missing.jsonl"),
        (["{train}", "--validation", "nope.jsonl"], "no such file: nope.jsonl"),
        (["{train}", "--base-model", "anthropic.claude-v2"], "cannot be fine-tuned here"),
        (["{train}", "--epochs", "11"], "--epochs: hyperParameters.epochCount must be an integer from 1 to 10"),
        (["{dir}"], "no such file"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], message: str, valid_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["validate", *(a.format(train=valid_file, dir=tmp_path) for a in args), "--json"]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "bft validate: error: " in err
    assert message in err


def test_console_script_json_purity_and_exit_code(invalid_file: Path) -> None:
    argv = [str(BFT), "validate", str(invalid_file), "--base-model", DEFAULT, "--json"]
    done = subprocess.run(argv, capture_output=True, check=False)
    assert done.returncode == 1
    assert done.stderr == b""
    assert json.loads(done.stdout)["error_count"] == 2


def test_console_script_missing_file_exits_2(tmp_path: Path) -> None:
    done = subprocess.run([str(BFT), "validate", str(tmp_path / "x.jsonl")], capture_output=True, check=False)
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"no such file" in done.stderr


def test_by_record_lists_a_records_errors_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "converted.jsonl", dataset(HAIKU, 12))
    assert main(["validate", str(path), "--base-model", NOVA_LITE]) == 1
    summarized = capsys.readouterr().out
    # Another family's format: said once with the migration, its errors counted, not listed.
    assert f"{path}: format: the records are in anthropic-messages" in summarized
    assert "the file's 36 errors follow from it" in summarized
    assert "[wrong_type]" not in summarized
    assert main(["validate", str(path), "--base-model", NOVA_LITE, "--by-record"]) == 1
    rows = capsys.readouterr().out.splitlines()
    first = [row.strip() for row in rows if row.strip().startswith(f"{path}:1:")]
    assert [row.split(": ", 2)[1] for row in first] == ["system", "messages[0].content", "messages[1].content"]
