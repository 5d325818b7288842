"""A team's stable serving endpoint and its model retention in the environment's config: where they are named,
what is refused (with file, line and key), and what reaches the team's registry entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from bft.config import ConfigError, load_config
from tests.conftest import CONFIG

DEV = (CONFIG / "dev.yaml").read_text()
TEAM_LINE = "    monthly_budget_usd: 2000\n"
# A team limited to a model whose custom models only provisioned throughput serves (bft.families.serving_kinds).
PT_ONLY = "    allowed_base_models: [meta.llama3-1-8b-instruct-v1:0:128k]\n"


def load(tmp_path: Path, text: str) -> object:
    (tmp_path / "dev.yaml").write_text(text)
    return load_config("dev", tmp_path)


def error_for(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return str(caught.value)


def line_of(text: str, needle: str) -> int:
    return next(i for i, row in enumerate(text.splitlines(), 1) if needle in row)


def test_a_team_endpoint_reaches_its_registry_entry(tmp_path: Path) -> None:
    text = DEV.replace(TEAM_LINE, TEAM_LINE + "    serving_endpoint: moderation-live\n")
    (tmp_path / "dev.yaml").write_text(text)
    config = load_config("dev", tmp_path)
    guardrails = config.team_guardrails(config.team("moderation"))
    assert guardrails["servingEndpoint"] == "moderation-live"
    policy = config.policy_document("datasets")
    assert policy["teams"]["moderation"]["servingEndpoint"] == "moderation-live"


def test_a_team_endpoint_needs_a_model_served_on_demand(tmp_path: Path) -> None:
    """A team whose only model is served by provisioned throughput: no run of it could promote."""
    text = DEV.replace(TEAM_LINE, TEAM_LINE + PT_ONLY + "    serving_endpoint: moderation-live\n")
    message = error_for(tmp_path, text)
    assert f"dev.yaml:{line_of(text, 'serving_endpoint')}: teams[0].serving_endpoint:" in message
    assert "none of team moderation's models is served on demand" in message
    assert "meta.llama3-1-8b-instruct-v1:0:128k" in message


@pytest.mark.parametrize("name", ["Moderation", "live--one", "-live", "a" * 33, "live_one"])
def test_an_endpoint_name_bedrock_could_not_carry_is_refused_in_words(tmp_path: Path, name: str) -> None:
    text = DEV.replace(TEAM_LINE, TEAM_LINE + f"    serving_endpoint: {name}\n")
    message = error_for(tmp_path, text)
    assert "teams[0].serving_endpoint" in message
    assert "words joined by single hyphens" in message or "at most 32 characters" in message


def test_a_team_retention_needs_the_environments_retention(tmp_path: Path) -> None:
    text = DEV.replace(TEAM_LINE, TEAM_LINE + "    custom_model_retention_days: 7\n")
    message = error_for(tmp_path, text)
    assert f"dev.yaml:{line_of(text, 'custom_model_retention_days')}: teams[0].custom_model_retention_days:" in message
    assert "needs reaper.custom_model_retention_days" in message
    allowed = text + "reaper:\n  custom_model_retention_days: 30\n"
    (tmp_path / "dev.yaml").write_text(allowed)
    config = load_config("dev", tmp_path)
    assert config.team_guardrails(config.team("moderation"))["modelRetentionDays"] == 7
