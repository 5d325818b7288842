"""`bft models`: what can be customized and served where, from the catalog; --live against a Bedrock (here
the offline twin) whose answers differ from the catalog."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bft import aws
from bft.cli import main
from bft_twin.bedrock_fake import FakeBedrock
from bft_twin.catalog import FoundationModel, Lifecycle, catalog

CONFIG = """name: dev
region: us-west-2
allowed_base_models:
  - meta.llama3-3-70b-instruct-v1:0:128k
teams:
  - name: search
    submitters:
      - arn:aws:iam::111111111111:role/search-ml-engineers
"""


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "dev.yaml").write_text(CONFIG)
    return tmp_path


@pytest.fixture
def twin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(key, value)

    def install(world: Any) -> None:
        aws.override("bedrock", FakeBedrock(region="us-west-2", catalog=world).client("bedrock"))

    aws.reset()
    yield install
    aws.reset()


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["models", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_env_lists_only_the_models_of_its_region(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, document = _json(capsys, "--env", "dev", "--config-dir", str(config_dir))
    assert code == 0
    assert {row["region"] for row in document["models"]} == {"us-west-2"}
    rows = {row["modelId"]: row for row in document["models"]}
    assert set(rows) == {
        "meta.llama3-1-8b-instruct-v1:0:128k",
        "meta.llama3-1-70b-instruct-v1:0:128k",
        "meta.llama3-3-70b-instruct-v1:0:128k",
    }
    assert rows["meta.llama3-3-70b-instruct-v1:0:128k"]["serving"][0] == "on-demand-deployment"
    assert rows["meta.llama3-3-70b-instruct-v1:0:128k"]["allowed"] is True
    assert rows["meta.llama3-1-8b-instruct-v1:0:128k"]["allowed"] is False


def test_all_adds_the_models_no_longer_customizable(capsys: pytest.CaptureFixture[str]) -> None:
    _, document = _json(capsys, "--region", "us-west-2", "--all")
    refused = {row["modelId"]: row["lifecycle"] for row in document["models"] if not row["live"]}
    assert refused["anthropic.claude-3-haiku-20240307-v1:0:200k"] == "past its end of life (2026-09-10)"
    assert "meta.llama3-2-1b-instruct-v1:0:128k" in refused


def test_text_names_serving_and_lifecycle(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--env", "dev", "--config-dir", str(config_dir)]) == 0
    out = capsys.readouterr().out
    assert "on demand (per token, no hourly charge)" in out
    assert "(illustrative)" in out
    assert "claude" not in out.lower()


def test_unknown_region_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--region", "eu-west-1"]) == 2
    assert "no model customizable there" in capsys.readouterr().err


def test_live_agrees_with_a_twin_built_from_the_catalog(twin: Any, capsys: pytest.CaptureFixture[str]) -> None:
    twin(catalog())
    code, document = _json(capsys, "--region", "us-west-2", "--live")
    assert document["differences"] == []
    assert code == 0


def test_live_reports_every_planted_difference(twin: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """A Bedrock that knows a new model, moves Llama 3.1 8B to Legacy and no longer lists Llama 3.1 70B."""
    eol = datetime(2027, 6, 1, tzinfo=UTC)
    world = catalog(
        lifecycle={"meta.llama3-1-8b-instruct-v1:0:128k": Lifecycle("LEGACY", end_of_life=eol)},
        extra=[
            FoundationModel(
                model_id="meta.llama4-scout-17b-instruct-v1:0:128k",
                name="Llama 4 Scout",
                provider="Meta",
                body="llama",
                regions=frozenset({"us-west-2"}),
                customizations=("FINE_TUNING",),
                inference_types=("PROVISIONED",),
            ),
            FoundationModel(
                model_id="meta.llama3-1-70b-instruct-v1:0:128k",
                name="Llama 3.1 70B Instruct",
                provider="Meta",
                body="llama",
                regions=frozenset({"us-west-2"}),
                customizations=(),
                inference_types=("PROVISIONED",),
            ),
        ],
    )
    twin(world)
    code, document = _json(capsys, "--region", "us-west-2", "--live")
    assert code == 1
    text = "\n".join(document["differences"])
    assert "meta.llama4-scout-17b-instruct-v1:0:128k: Bedrock lists it for FINE_TUNING" in text
    assert "meta.llama3-1-8b-instruct-v1:0:128k: Bedrock says LEGACY; the catalog says ACTIVE" in text
    assert "meta.llama3-1-8b-instruct-v1:0:128k: Bedrock's endOfLifeTime is 2027-06-01; the catalog's is unset" in text
    assert (
        "meta.llama3-1-70b-instruct-v1:0:128k: the catalog says customizable in us-west-2; Bedrock does not list it"
        in text
    )
    assert len(document["differences"]) == 4


def test_live_needs_one_region(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--live"]) == 2
    assert "--live needs --env or --region" in capsys.readouterr().err
