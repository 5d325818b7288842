"""Cost estimates out of the box (illustrative, labelled), prices by model id honoured, unknown keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bft.config import ConfigError, load_config
from bft.families import FAMILIES
from bft.workflow.report import estimate_cost
from tests.conftest import CONFIG

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
    text = (CONFIG / "dev.yaml").read_text() + "prices:\n  model_unit_hour_usd:\n    nova-micro: 20\n"
    (tmp_path / "dev.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config("dev", tmp_path)
    line = len(text.splitlines())
    assert f"dev.yaml:{line}: prices.model_unit_hour_usd.nova-micro: 'nova-micro' is neither" in str(caught.value)


def test_a_price_key_by_model_id_is_accepted(tmp_path: Path) -> None:
    text = (CONFIG / "dev.yaml").read_text()
    text += "prices:\n  training_per_1k_tokens_usd:\n    amazon.nova-lite-v1:0:300k: 0.002\n"
    (tmp_path / "dev.yaml").write_text(text)
    assert load_config("dev", tmp_path).prices.training_per_1k_tokens_usd == {"amazon.nova-lite-v1:0:300k": 0.002}


def test_the_dry_run_prints_a_figure_and_says_it_is_illustrative(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bft.cli import main
    from bft.sample_data import default_format, write_splits

    data = write_splits(tmp_path / "data", training=100, validation=1, evaluation=10, data_format=default_format("dev"))
    assert main(["submit", "--env", "dev", "--team", "moderation", str(data["train"]), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "unknown (no price configured)" not in out
    assert "= $" in out
    assert "/hour" in out
    assert "ILLUSTRATIVE prices" in out


@pytest.mark.parametrize("model", MODELS)
def test_every_model_has_hourly_prices_for_each_commitment_the_longer_the_cheaper(model: str) -> None:
    run = {"family": _family(model), "baseModelId": model}
    hourly = [
        estimate_cost({**run, "serving": {"modelUnits": 2, "commitment": c}}, DATASET, {})
        for c in (None, "OneMonth", "SixMonths")
    ]
    rates = [c["servingPerHourUsd"] for c in hourly]
    assert rates[0] > rates[1] > rates[2] > 0
    assert [c["commitment"] for c in hourly] == ["no commitment", "1-month commitment", "6-month commitment"]


@pytest.mark.parametrize("model", [m for m in MODELS if m.startswith("amazon.nova")])
def test_an_on_demand_deployment_is_priced_per_token_not_per_hour(model: str) -> None:
    cost = estimate_cost(
        {"family": "nova", "baseModelId": model, "serving": {"kind": "on-demand-deployment", "modelUnits": 1}},
        DATASET,
        {},
    )
    assert cost["servingPerHourUsd"] == 0.0
    served = cost["onDemandPer1kTokensUsd"]
    assert served["output"] > served["input"] > 0
    assert "billed per token served" in cost["note"]


def test_configured_commitment_and_on_demand_prices_win(tmp_path: Path) -> None:
    text = (CONFIG / "dev.yaml").read_text() + (
        "prices:\n"
        "  model_unit_hour_six_months_usd:\n    llama-3.1: 7.5\n"
        "  on_demand_output_per_1k_tokens_usd:\n    amazon.nova-lite-v1:0:300k: 0.5\n"
    )
    (tmp_path / "dev.yaml").write_text(text)
    prices = load_config("dev", tmp_path).price_document()
    run = {"family": "llama-3.1", "baseModelId": "meta.llama3-1-8b-instruct-v1:0:128k"}
    six = estimate_cost({**run, "serving": {"modelUnits": 2, "commitment": "SixMonths"}}, DATASET, prices)
    assert six["servingPerHourUsd"] == 15.0
    nova = {"family": "nova", "baseModelId": "amazon.nova-lite-v1:0:300k", "serving": {"kind": "on-demand-deployment"}}
    assert estimate_cost(nova, DATASET, prices)["onDemandPer1kTokensUsd"]["output"] == 0.5
