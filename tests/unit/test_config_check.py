"""`bft config check`: a config a person got wrong fails at the first check, naming the file, line and key; the
later checks say they did not run. (A passing check of a whole organisation: tests/infra/test_any_organisation.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bft.cli import config_check, main
from bft.cli.config_check import FULL, QUICK, Step, _offline_success
from tests.conftest import FIXTURES

OTHER_ORG = FIXTURES / "other-org"
LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"  # customizable in us-west-2 only


def _organisation(tmp_path: Path, edit: tuple[str, str]) -> Path:
    directory = tmp_path / "config"
    shutil.copytree(OTHER_ORG, directory)
    text = (directory / "dev.yaml").read_text()
    assert edit[0] in text
    (directory / "dev.yaml").write_text(text.replace(edit[0], edit[1], 1))
    return directory


def _line_of(path: Path, fragment: str, occurrence: int = 1) -> int:
    return [i for i, row in enumerate(path.read_text().splitlines(), 1) if fragment in row][occurrence - 1]


@pytest.mark.parametrize(
    ("edit", "key", "line_of", "words"),
    [
        (
            ("    monthly_budget_usd: 500\n", "    monthly_budget_usd: 500\n    monthly_budget_usd: 5000\n"),
            "teams[0].monthly_budget_usd",
            "monthly_budget_usd: 5000",
            "duplicate key, first at line",
        ),
        (
            ("    submitters:\n      - arn:aws:iam::444444444444:role/catalog-engineers\n", ""),
            "teams[2].submitters",
            "- name: catalog",
            "team catalog has no submitters, so nobody could submit runs",
        ),
        (
            ("  - amazon.nova-pro-v1:0:300k\n", "  - amazon.nova-pro-v1:0:300k\n  - " + LLAMA + "\n"),
            "allowed_base_models[3]",
            "meta.llama3-1-8b",
            "is customizable only in us-west-2, not in us-east-1",
        ),
    ],
    ids=["duplicate-key", "team-without-submitters", "model-not-offered-in-the-region"],
)
def test_a_config_mistake_fails_the_check_naming_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: tuple[str, str], key: str, line_of: str, words: str
) -> None:
    directory = _organisation(tmp_path, edit)
    assert main(["config", "check", "--env", "dev", "--config-dir", str(directory)]) == 1
    out = capsys.readouterr().out.splitlines()
    failed = next(line for line in out if line.startswith("  FAIL  validate"))
    assert f"{directory / 'dev.yaml'}:{_line_of(directory / 'dev.yaml', line_of)}: {key}: " in failed
    assert words in failed
    skipped = [line[8:24].strip() for line in out if line.startswith("  SKIP  ")]
    assert skipped == list(FULL[1:]), "nothing runs on a config that did not validate"
    assert out[-1].startswith(f"FAIL  check of dev in {directory} ")


def test_every_environment_is_checked_and_one_failure_fails_the_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _organisation(tmp_path, ("name: dev\n", "name: dev\nname: dev\n"))
    for env in ("prod", "staging"):
        (directory / f"{env}.yaml").write_text((directory / f"{env}.yaml").read_text() + "tags: [\n")
    assert main(["config", "check", "--quick", "--config-dir", str(directory)]) == 1
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines() if line.endswith(".yaml")] == ["dev", "prod", "staging"]
    assert out.count("  FAIL  validate") == 3
    assert out.count("  SKIP  ") == 3 * (len(QUICK) - 1)
    assert out.splitlines()[-1].startswith("FAIL  quick check of dev, prod, staging in ")


def test_a_config_directory_that_does_not_exist_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check", "--config-dir", str(tmp_path / "nowhere")]) == 2
    assert f"config directory {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err


def test_an_offline_run_that_ends_otherwise_fails_with_what_the_team_was_told(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = {
        "outcome": "request_invalid",
        "expected_outcome": "deployed",
        "status": "FAILED",
        "model": "amazon.nova-micro-v1:0:128k",
        "serving": None,
        "ended_as_intended": False,
        "notifications": [{"subject": "[bft dev] run failed: x", "message": "team support may not use it\nmore"}],
    }
    seen: list[list[str]] = []

    def local_run(argv: list[str]) -> tuple[int, str, str]:
        seen.append(argv)
        return 1, json.dumps(summary), ""

    monkeypatch.setattr(config_check, "local_run", local_run)
    step = Step("offline success")
    _offline_success(step, "dev", tmp_path / "config", tmp_path / "assembly")
    (argv,) = seen
    assert argv[:10] == [
        *("local-run", "--env", "dev", "--assembly", str(tmp_path / "assembly"), "--scenario", "success", "--json"),
        *("--config-dir", str(tmp_path / "config")),
    ]
    assert step.ok is False
    assert step.summary.startswith("request_invalid (amazon.nova-micro-v1:0:128k, served by nothing), FAILED")
    assert step.details[:3] == [
        "expected deployed; what the team was told:",
        "[bft dev] run failed: x",
        "team support may not use it",
    ]


def test_an_offline_run_that_cannot_start_fails_saying_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def without_twin(argv: list[str]) -> tuple[int, str, str]:
        return 2, "", "bft local-run: error: needs the offline twin: pip install 'bedrock-fine-tuning[local]'\n"

    monkeypatch.setattr(config_check, "local_run", without_twin)
    step = Step("offline success")
    _offline_success(step, "dev", tmp_path, tmp_path)
    assert step.ok is False
    assert step.summary == "bft local-run exited 2 without a summary"
    assert step.details == ["bft local-run: error: needs the offline twin: pip install 'bedrock-fine-tuning[local]'"]


def test_the_offline_run_is_the_local_run_command_in_a_process_of_its_own() -> None:
    """The twin swaps sys.modules, sys.path and os.environ while a handler runs: never in this process."""
    code, out, err = config_check.local_run(["local-run", "--scenario", "no-such-scenario"])
    assert code == 2
    assert out == ""
    assert "unknown scenario 'no-such-scenario'" in err
