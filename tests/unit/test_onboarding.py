"""`bft onboarding`: a team's instruction sheet for a non-default config, and commands that default the base
model to the team's first allowed model."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from bft import families, package_version
from bft.cli import main
from bft.cli.onboarding import sheet
from bft.config import load_config
from bft.dataset import validate_lines
from bft.dataset.formats import EXAMPLE_RECORDS, example_line
from bft.families import FAMILIES
from bft.sample_data import write_splits
from bft.synth import ROOT
from tests.unit.test_cli_region import DEPLOYED_VERSION, SUBMITTER, east  # noqa: F401  (the fixture)

HAIKU_FT = "anthropic.claude-3-haiku-20240307-v1:0:200k"

NOVA = "amazon.nova-micro-v1:0:128k"


def test_the_sheet_names_everything_a_team_needs(east: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert main(["onboarding", "--env", "east", "--team", "tickets", "--config-dir", str(east)]) == 0
    sheet = capsys.readouterr().out
    assert f"credential_process = bft credentials --role-arn {SUBMITTER} --source-profile" in sheet
    assert "region = us-east-1" in sheet
    assert "s3://datasets/tickets/" in sheet
    assert f"- {NOVA}  (default" in sheet
    assert '"schemaVersion": "bedrock-conversation-2024"' in sheet, "the model's data format, by example"
    assert "training records 8-20,000" in sheet, "the family's limits"
    assert "a throughput lives at most 8 h" in sheet
    assert "notifications to: tickets@example.com" in sheet
    for command in ("validate", "submit", "status", "approve", "teardown", "bft report --env east --team tickets"):
        assert command in sheet
    assert "output>" not in sheet, "no placeholder when the stack was read"


def test_the_sheet_says_how_to_install_the_cli_at_the_deployed_version(
    east: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["onboarding", "--env", "east", "--team", "tickets", "--config-dir", str(east)]
    assert main([*argv, "--repository", "https://git.example.com/ml/bft.git"]) == 0
    sheet = capsys.readouterr().out
    assert f"Version {DEPLOYED_VERSION}: the version of the deployed stacks" in sheet
    assert f"pipx install 'git+https://git.example.com/ml/bft.git@v{DEPLOYED_VERSION}'" in sheet
    assert f"pipx install ./bedrock_fine_tuning-{DEPLOYED_VERSION}-py3-none-any.whl" in sheet
    assert "export BFT_CONFIG_DIR=<the directory holding east.yaml>" in sheet
    # Offline, the version is the one printing the sheet (what the platform team deploys from).
    assert main([*argv, "--offline"]) == 0
    assert f"Version {package_version()}: the version this sheet was printed with" in capsys.readouterr().out


def test_the_sheet_names_no_path_of_the_machine_it_is_printed_on(
    east: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BFT_CONFIG_DIR", str(east))
    assert main(["onboarding", "--env", "east", "--team", "tickets"]) == 0
    captured = capsys.readouterr()
    assert f"config: {east / 'east.yaml'} (environment east, region us-east-1)" in captured.err, "BFT_CONFIG_DIR read"
    for local in (str(east), str(ROOT), str(Path.home()), tempfile.gettempdir()):
        assert local not in captured.out, local


def test_the_sheet_says_how_each_model_is_served_from_the_families_own_words(
    east: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["onboarding", "--env", "east", "--team", "tickets", "--config-dir", str(east), "--offline"]
    assert main(argv) == 0
    served = _serving_line(capsys.readouterr().out, NOVA)
    assert served.startswith("serving: on demand (no hourly charge: you pay per token served)")
    assert "or, with --serving-kind provisioned-throughput: on provisioned throughput (it costs money every hour" in (
        served
    )
    # The sheet asks bft.families, not a table of its own: a model served only by throughput reads so.
    monkeypatch.setattr(families, "serving_kinds", lambda model: ("provisioned-throughput",))
    assert main(argv) == 0
    served = _serving_line(capsys.readouterr().out, NOVA)
    assert served == "serving: on provisioned throughput (it costs money every hour until torn down)"
    assert "on demand" not in served


def test_the_sheet_names_the_customization_and_whom_to_ask() -> None:
    config = load_config("prod")
    out = sheet(config, "moderation", None, why="--offline")
    assert "customization: fine-tuning only (FINE_TUNING" in out
    assert f"access, quotas, another model or a larger limit: {', '.join(config.notification_emails)}" in out
    reviewers = config.team_reviewers(config.team("moderation"))
    assert f"approving your runs: {', '.join(reviewers)}" in out
    assert "stack outputs not read: --offline" in out


def _serving_line(sheet_text: str, model: str) -> str:
    lines = sheet_text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"- {model}")))
    return lines[start + 1].strip()


@pytest.fixture
def haiku_data(tmp_path: Path) -> Path:
    splits = write_splits(
        tmp_path / "haiku", training=40, validation=1, evaluation=10, data_format="anthropic-messages"
    )
    return splits["train"]


def test_validate_with_env_defaults_to_the_teams_model_not_haiku(
    east: Path,  # noqa: F811
    haiku_data: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", str(haiku_data), "--base-model", HAIKU_FT]) == 0, "Haiku data is valid for Haiku"
    capsys.readouterr()
    code = main(["validate", str(haiku_data), "--env", "east", "--team", "tickets", "--config-dir", str(east)])
    out = capsys.readouterr().out
    assert code == 1, "a Nova-only environment refuses Haiku-format data"
    assert out.startswith(f"INVALID: nova dataset for {NOVA}")


def test_validate_refuses_a_model_the_environment_does_not_allow(
    east: Path,  # noqa: F811
    haiku_data: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["validate", str(haiku_data), "--env", "east", "--config-dir", str(east), "--base-model"]
    assert main([*argv, "anthropic.claude-3-haiku-20240307-v1:0:200k"]) == 2
    assert "is not allowed for environment east (allowed: amazon.nova-micro-v1:0:128k)" in capsys.readouterr().err


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_each_formats_example_record_is_valid_for_its_family(family: object) -> None:
    model = family.base_model_ids[0]  # type: ignore[attr-defined]
    line = example_line(family.data_format).encode()  # type: ignore[attr-defined]
    report = validate_lines(model, [line] * 120)
    assert [e for e in report.errors if e.code != "too_few_records"] == []
    assert set(EXAMPLE_RECORDS) >= {family.data_format}  # type: ignore[attr-defined]


def test_the_docs_show_each_formats_example_record() -> None:
    from bft.synth import ROOT

    page = (ROOT / "docs" / "data-formats.md").read_text(encoding="utf-8")
    for data_format in EXAMPLE_RECORDS:
        assert f"`{example_line(data_format)}`" in page, data_format


def test_the_sheet_states_the_team_s_monthly_cap(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["onboarding", "--env", "dev", "--team", "moderation", "--offline"]) == 0
    assert "monthly cap: $2,500: a run that would pass it is refused before any job" in capsys.readouterr().out


def test_the_sheet_shows_reinforcement_with_an_example_prompt_where_it_is_allowed() -> None:
    out = sheet(load_config("local-us-east-1"), "moderation", None, why="--offline")
    assert "customization: fine-tuning (FINE_TUNING), reinforcement (REINFORCEMENT_FINE_TUNING)" in out
    assert '"reference_answer": {"item": "oat latte"' in out
    assert "bft grader test" in out
