"""`bft onboarding`: a team's instruction sheet for a non-default config, and commands that default the base
model to the team's first allowed model."""

from __future__ import annotations

from pathlib import Path

import pytest

from bft.cli import main
from bft.dataset import validate_lines
from bft.dataset.formats import EXAMPLE_RECORDS, example_line
from bft.families import FAMILIES
from bft.sample_data import write_splits
from tests.unit.test_cli_region import SUBMITTER, east  # noqa: F401  (the fixture)

HAIKU_FT = "anthropic.claude-3-haiku-20240307-v1:0:200k"

NOVA = "amazon.nova-micro-v1:0:128k"


def test_the_sheet_names_everything_a_team_needs(east: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert main(["onboarding", "--env", "east", "--team", "tickets", "--config-dir", str(east)]) == 0
    sheet = capsys.readouterr().out
    assert f"role_arn = {SUBMITTER}" in sheet
    assert "region = us-east-1" in sheet
    assert "s3://datasets/tickets/" in sheet
    assert f"- {NOVA}  (default" in sheet
    assert '"schemaVersion": "bedrock-conversation-2024"' in sheet, "the model's data format, by example"
    assert "training records 8-20,000" in sheet, "the family's limits"
    assert "a throughput lives at most 8 h" in sheet
    assert "notifications to: tickets@example.com" in sheet
    assert f"export BFT_CONFIG_DIR={east}" in sheet
    for command in ("validate", "submit", "status", "approve", "teardown", "run.json"):
        assert command in sheet
    assert "output>" not in sheet, "no placeholder when the stack was read"


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
