"""Tokens per query, latency and cost per 1,000 queries, base model against custom (bft.workflow.usage), and the
base model's production prompt (evaluation.baseSystemPrompt)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from bft.errors import RequestInvalid
from bft.workflow import evaluation
from bft.workflow.usage import call_usage, per_query, query_costs, reduction
from tests.unit.test_evaluation import _items, _records, _served, _upload
from tests.unit.workflow_support import Env, make_env

LONG_PROMPT = "You moderate comments. Answer OK, INSULT or THREAT.\n" + "Example: you idiot -> INSULT\n" * 60


@pytest.fixture
def env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    with mock_aws():
        yield make_env(tmp_path, no_commit_model_units=1)


def test_usage_of_a_converse_response() -> None:
    response = {"usage": {"inputTokens": 120, "outputTokens": 3, "totalTokens": 123}, "metrics": {"latencyMs": 410}}
    assert call_usage(response) == [120, 3, 410]
    assert call_usage({"usage": {"inputTokens": 1, "outputTokens": 2}}) == [1, 2, -1]
    assert call_usage({}) is None


def test_per_query_figures_worked_by_hand() -> None:
    rows = [
        {"usage": {"base": [1000, 10, 900], "custom": [100, 10, 300]}},
        {"usage": {"base": [1200, 20, 1100], "custom": [120, 20, 500]}},
        {"usage": {"custom": [110, 30, 700]}},  # the base call reported nothing: counted for custom only
    ]
    figures = per_query(rows, ["base", "custom"])
    assert figures["base"] == {
        "queries": 2,
        "inputTokens": 1100.0,
        "outputTokens": 15.0,
        "tokens": 1115.0,
        "latencyMsP50": 900,
        "latencyMsP95": 1100,
    }
    assert figures["custom"]["tokens"] == pytest.approx((110 + 140 + 140) / 3, abs=0.1)
    assert figures["custom"]["latencyMsP50"] == 500
    assert reduction(figures) == round((130.0 - 1115.0) / 1115.0, 4)  # -88 %
    costs = query_costs(figures, per_1k_input=0.0002, per_1k_output=0.0008, custom_hourly=False)
    assert costs["perThousandQueriesUsd"]["base"] == round((1100 / 1000 * 0.0002 + 15 / 1000 * 0.0008) * 1000, 4)
    hourly = query_costs(figures, per_1k_input=0.0002, per_1k_output=0.0008, custom_hourly=True)
    assert hourly["perThousandQueriesUsd"]["custom"] is None
    assert query_costs(figures, per_1k_input=None, per_1k_output=None, custom_hourly=False)[
        "perThousandQueriesUsd"
    ] == {"base": None, "custom": None}


def test_the_evaluation_measures_tokens_per_query_and_the_base_gets_its_production_prompt(env: Env) -> None:
    uri = _upload(env, "set.jsonl", _records(40))
    fields = {"scorer": "classification", "metric": "accuracy", "threshold": 0.0, "baseSystemPrompt": LONG_PROMPT}
    run, created = _served(env, dataUri=uri, maxRecords=40, **fields)
    with pytest.raises(RequestInvalid, match="no reports bucket"):
        evaluation.plan(run, created, bedrock=env.bedrock, s3=env.s3, execution_name="exec-1")
    planned = evaluation.plan(
        run, created, bedrock=env.bedrock, s3=env.s3, execution_name="exec-1", reports_bucket=env.reports
    )
    assert all(chunk.get("basePrompt") for chunk in planned["chunks"])
    for item in _items(run, planned):
        evaluation.score_chunk(item, s3=env.s3, runtime=env.runtime, reports_bucket=env.reports)
    result = evaluation.aggregate(run, planned, s3=env.s3, reports_bucket=env.reports)
    figures = result["perQuery"]
    assert figures["base"]["queries"] == figures["custom"]["queries"] == 40
    # The base model read the long production prompt, the custom model the records' short one.
    assert figures["base"]["inputTokens"] > 10 * figures["custom"]["inputTokens"]
    assert result["tokenReduction"] < -0.8
    document = json.loads(
        env.s3.get_object(Bucket=env.reports, Key="reports/moderation/req-1/evaluation.json")["Body"].read()
    )
    assert document["basePrompt"] == "production"
    assert document["perQuery"] == figures


def test_a_base_prompt_needs_the_base_model_and_a_bound(env: Env) -> None:
    request = env.request()
    with pytest.raises(RequestInvalid, match="baseSystemPrompt: the base model is not called"):
        env.run(evaluation={**request["evaluation"], "compareBase": False, "baseSystemPrompt": "Be brief."})
    with pytest.raises(RequestInvalid, match="at most 20,000 characters"):
        env.run(evaluation={**request["evaluation"], "baseSystemPrompt": "x" * 20_001})


def test_finalize_prices_1000_queries_at_the_models_on_demand_rates() -> None:
    from bft.workflow.report import per_query_cost

    evaluation = {
        "perQuery": {
            "base": {"queries": 2, "inputTokens": 1000.0, "outputTokens": 10.0, "tokens": 1010.0},
            "custom": {"queries": 2, "inputTokens": 100.0, "outputTokens": 10.0, "tokens": 110.0},
        },
        "tokenReduction": -0.8911,
    }
    prices = {"onDemandInputPer1kTokensUsd": {"nova": 0.001}, "onDemandOutputPer1kTokensUsd": {"nova": 0.004}}
    on_demand = {"baseModelId": "amazon.nova-lite-v1:0:300k", "family": "nova", "serving": {"kind": "x"}}
    found = per_query_cost(on_demand, evaluation, prices)
    assert found is not None
    assert found["perThousandQueriesUsd"] == {"base": round(1.0 + 0.04, 4), "custom": round(0.1 + 0.04, 4)}
    assert found["tokenReduction"] == -0.8911
    assert found["priceSource"] != "illustrative"
    hourly = {**on_demand, "serving": {"kind": "provisioned-throughput"}}
    assert per_query_cost(hourly, evaluation, prices)["perThousandQueriesUsd"]["custom"] is None  # type: ignore[index]
    assert per_query_cost(on_demand, {"skipped": True}, prices) is None
