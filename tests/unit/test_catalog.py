"""The model catalog: every fact sourced and dated, lifecycles judged by date, refusals that name the
model, the region, the date and the replacements, and the readers that take their values from it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bft.catalog import CATALOG_FILE, CatalogError, Lifecycle, catalog, load
from bft.families import FAMILIES, family_for, serving_kinds
from bft.prices import ILLUSTRATIVE

DAY = date(2026, 12, 7)  # the catalog's facts were checked on this day
LLAMA_32_1B = "meta.llama3-2-1b-instruct-v1:0:128k"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
LLAMA_33_70B = "meta.llama3-3-70b-instruct-v1:0:128k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"


def test_every_fact_names_a_source_with_an_address_and_a_date() -> None:
    shipped = catalog()
    for source in shipped.sources.values():
        assert source.url.startswith("https://"), source
        assert source.checked <= date.today()
    facts = [f for m in shipped.models for f in m.facts.values()] + [
        f for fam in shipped.families.values() for f in fam.facts.values()
    ]
    assert len(facts) > 100
    assert all(fact.source.key in shipped.sources and fact.checked for fact in facts)
    # A guess is said as one: a value nobody publishes is never presented as a fact.
    assert shipped.families["llama-3.3"].facts["hyperparameters"].guess
    assert shipped.families["nova-2"].facts["hyperparameters"].guess
    assert shipped.families["nova"].facts["hyperparameters"].guess is None


def test_a_fact_without_a_known_source_is_refused_naming_the_entry(tmp_path: Path) -> None:
    raw = json.loads(CATALOG_FILE.read_text())
    raw["models"][3]["regions"]["source"] = "a-blog-post"
    broken = tmp_path / "models.json"
    broken.write_text(json.dumps(raw))
    with pytest.raises(
        CatalogError, match=r"models\[3\] \(amazon.nova-2-lite-v1:0:256k\)\.regions\.source 'a-blog-post'"
    ):
        load(broken)
    raw["models"][3]["regions"] = ["us-east-1"]
    broken.write_text(json.dumps(raw))
    with pytest.raises(CatalogError, match=r"regions must be \{value, source\}"):
        load(broken)


def test_lifecycle_is_judged_on_the_day() -> None:
    llama_32 = catalog().model(LLAMA_32_1B)
    assert llama_32 is not None
    assert llama_32.lifecycle.state(date(2025, 12, 1)) == "ACTIVE"
    assert llama_32.lifecycle.state(date(2026, 1, 7)) == "LEGACY"
    assert llama_32.lifecycle.state(date(2026, 7, 7)) == "END_OF_LIFE"
    # Without a published Legacy date, the published status decides.
    assert Lifecycle("LEGACY").state(DAY) == "LEGACY"
    assert Lifecycle("ACTIVE").state(DAY) == "ACTIVE"


def test_only_live_models_by_region_today() -> None:
    west = [m.model_id for m in catalog().live("us-west-2", DAY)]
    east = [m.model_id for m in catalog().live("us-east-1", DAY)]
    assert west == ["meta.llama3-1-8b-instruct-v1:0:128k", "meta.llama3-1-70b-instruct-v1:0:128k", LLAMA_33_70B]
    assert east == [
        "amazon.nova-micro-v1:0:128k",
        "amazon.nova-lite-v1:0:300k",
        "amazon.nova-pro-v1:0:300k",
        NOVA_2_LITE,
    ]
    assert catalog().live("eu-west-1", DAY) == []


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (LLAMA_32_1B, "past its end of life (2026-07-07) on 2026-12-07"),
        (HAIKU, "past its end of life (2026-09-10) on 2026-12-07"),
    ],
)
def test_a_past_end_of_life_model_is_refused_with_its_replacements(model: str, expected: str) -> None:
    refusal = catalog().refusal(model, "us-west-2", DAY)
    assert refusal is not None
    assert model in refusal
    assert expected in refusal
    assert "model-lifecycle" in refusal or "model-card" in refusal  # the source, with its date
    assert "ACTIVE models customizable in us-west-2: meta.llama3-1-8b-instruct-v1:0:128k" in refusal
    assert LLAMA_33_70B in refusal


def test_legacy_before_end_of_life_is_refused_too() -> None:
    refusal = catalog().refusal(HAIKU, "us-west-2", date(2026, 8, 1))
    assert refusal is not None
    assert "Legacy since 2026-03-10 (end of life 2026-09-10) on 2026-08-01" in refusal
    assert "no new customization job or provisioned throughput" in refusal


def test_other_region_unknown_model_and_live_model() -> None:
    assert catalog().refusal(NOVA_2_LITE, "us-east-1", DAY) is None
    other = catalog().refusal(NOVA_2_LITE, "us-west-2", DAY)
    assert other is not None
    assert "customizable only in us-east-1, not in us-west-2" in other
    unknown = catalog().refusal("amazon.nova-micro-v1:0", "us-east-1", DAY)
    assert unknown is not None
    assert "the customizable variant is amazon.nova-micro-v1:0:128k" in unknown
    arn = catalog().refusal(f"arn:aws:bedrock:us-west-2::foundation-model/{NOVA_2_LITE}", "us-east-1", DAY)
    assert arn is not None
    assert "ARN of us-west-2" in arn


def test_families_serving_and_prices_come_from_the_catalog() -> None:
    assert {f.name for f in FAMILIES} == set(catalog().families)
    assert family_for(LLAMA_33_70B).data_format == "bedrock-conversation-2024"
    assert family_for("meta.llama3-1-70b-instruct-v1:0:128k").data_format == "prompt-completion"
    assert family_for(NOVA_2_LITE).name == "nova-2"
    assert serving_kinds(LLAMA_33_70B) == ("on-demand-deployment", "provisioned-throughput")
    assert serving_kinds("meta.llama3-1-8b-instruct-v1:0:128k") == ("provisioned-throughput",)
    assert serving_kinds(NOVA_2_LITE)[0] == "on-demand-deployment"
    assert set(ILLUSTRATIVE) == {m.model_id for m in catalog().models}
    assert ILLUSTRATIVE[LLAMA_33_70B].on_demand_per_1k_input is not None
    # A family's serving is its models': they must agree, or the family would misdescribe one of them.
    for family in FAMILIES:
        assert len({catalog().model(m).serving for m in family.base_model_ids}) == 1, family.name  # type: ignore[union-attr]
