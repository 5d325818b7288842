"""``bft validate``: exit codes, --json purity, options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bft.cli import main
from tests.unit.test_dataset_rules import HAIKU, NOVA_LITE, dataset

BFT = Path(sys.executable).with_name("bft")


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture
def valid_file(tmp_path: Path) -> Path:
    return write(tmp_path / "train.jsonl", dataset(HAIKU, 40))


@pytest.fixture
def invalid_file(tmp_path: Path) -> Path:
    return write(tmp_path / "bad.jsonl", dataset(HAIKU, 40, {3: b"{", 9: {"messages": []}}))


def test_valid_file_exits_0_with_a_summary(valid_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(valid_file)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("VALID: claude-3-haiku dataset for anthropic.claude-3-haiku-20240307-v1:0:200k")
    assert "40 records" in out
    assert err == ""


def test_invalid_file_exits_1_and_names_file_line_field(invalid_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(invalid_file)]) == 1
    out, _ = capsys.readouterr()
    assert out.startswith("INVALID")
    assert f"{invalid_file}:3: invalid JSON" in out
    assert f"{invalid_file}:9: messages: needs at least 2 messages" in out


def test_json_output_is_only_the_report(invalid_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(invalid_file), "--json"]) == 1
    out, err = capsys.readouterr()
    report = json.loads(out)  # the whole of stdout parses
    assert report["valid"] is False
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(3, "invalid_json"), (9, "too_few_messages")]
    assert report["files"][0]["path"] == str(invalid_file)
    assert err == ""


def test_validation_file_and_epochs(valid_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    validation = write(tmp_path / "val.jsonl", dataset(HAIKU, 5))
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
    assert main(["validate", str(nova), "--json"]) == 1  # the default model is Claude 3 Haiku


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
    assert err.startswith("bft validate: error: ")
    assert message in err


def test_console_script_json_purity_and_exit_code(invalid_file: Path) -> None:
    done = subprocess.run([str(BFT), "validate", str(invalid_file), "--json"], capture_output=True, check=False)
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
