"""Cost estimates out of the box (illustrative, labelled), prices by model id honoured, unknown keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bft.config import ConfigError, load_config
from bft.families import FAMILIES
from bft.synth import ROOT
from bft.workflow.report import estimate_cost

DATASET = {"statistics": {"estimated_billed_tokens": 2_000_000}}
MODELS = [model for family in FAMILIES for model in family.base_model_ids]


def _family(model: str) -> str:
    return next(f.name for f in FAMILIES if model in f.base_model_ids)


@pytest.mark.parametrize("model", MODELS)
def test_every_supported_model_has_an_estimate_labelled_illustrative(model: str) -> None:
    cost = estimate_cost({"family": _family(model), "baseModelId": model, "serving": {"modelUnits": 1}}, DATASET, {})
    assert cost["trainingUsd"] is not None
    assert cost["trainingUsd"] > 0
    assert cost["servingPerHourUsd"] is not None
    assert cost["servingPerHourUsd"] > 0
    assert cost["priceSource"] == "illustrative"
    assert "ILLUSTRATIVE" in cost["note"]
    assert "aws.amazon.com/bedrock/pricing" in cost["note"]


def test_a_price_by_model_id_wins_over_the_familys() -> None:
    prices = {
        "trainingPer1kTokensUsd": {"nova": 1.0, "amazon.nova-pro-v1:0:300k": 3.0},
        "modelUnitHourUsd": {"nova": 10.0},
    }
    run = {"family": "nova", "serving": {"modelUnits": 2}}
    pro = estimate_cost({**run, "baseModelId": "amazon.nova-pro-v1:0:300k"}, DATASET, prices)
    micro = estimate_cost({**run, "baseModelId": "amazon.nova-micro-v1:0:128k"}, DATASET, prices)
    assert pro["trainingUsd"] == 6000.0
    assert micro["trainingUsd"] == 2000.0
    assert pro["servingPerHourUsd"] == 20.0
    assert pro["priceSource"] == "configured"


def test_an_unknown_price_key_is_refused_with_its_name_and_line(tmp_path: Path) -> None:
    text = (ROOT / "config" / "dev.yaml").read_text() + "prices:\n  model_unit_hour_usd:\n    nova-micro: 20\n"
    (tmp_path / "dev.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config("dev", tmp_path)
    line = len(text.splitlines())
    assert f"dev.yaml:{line}: prices.model_unit_hour_usd.nova-micro: 'nova-micro' is neither" in str(caught.value)


def test_a_price_key_by_model_id_is_accepted(tmp_path: Path) -> None:
    text = (ROOT / "config" / "dev.yaml").read_text()
    text += "prices:\n  training_per_1k_tokens_usd:\n    amazon.nova-lite-v1:0:300k: 0.002\n"
    (tmp_path / "dev.yaml").write_text(text)
    assert load_config("dev", tmp_path).prices.training_per_1k_tokens_usd == {"amazon.nova-lite-v1:0:300k": 0.002}


def test_the_dry_run_prints_a_figure_and_says_it_is_illustrative(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bft.cli import main
    from bft.local.sample_data import default_format, write_splits

    data = write_splits(tmp_path / "data", training=100, validation=1, evaluation=10, data_format=default_format("dev"))
    assert main(["submit", "--env", "dev", "--team", "moderation", str(data["train"]), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "unknown (no price configured)" not in out
    assert "= $" in out
    assert "/hour" in out
    assert "ILLUSTRATIVE prices" in out
