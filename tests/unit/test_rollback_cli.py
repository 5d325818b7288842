"""`bft rollback`'s usage errors, before any AWS call: which endpoint, said in words (the rollback itself is tested
in tests/unit/test_promotion.py and, as the team member under the synthesized policies, tests/workflow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bft.cli import EXIT_USAGE, main
from tests.conftest import CONFIG


def test_without_an_endpoint_in_the_config_or_the_command_it_says_to_name_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["rollback", "--env", "dev", "--team", "moderation"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert (
        "bft rollback: error: team moderation has no serving_endpoint in environment dev's config: name the endpoint "
        "with --endpoint NAME"
    ) in err


def test_an_endpoint_name_bedrock_could_not_carry_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rollback", "--env", "dev", "--team", "moderation", "--endpoint", "Live--1"]) == EXIT_USAGE
    assert "--endpoint 'Live--1': lowercase letters and digits" in capsys.readouterr().err


def test_a_team_that_is_not_onboarded_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rollback", "--env", "dev", "--team", "payments", "--endpoint", "live"]) == EXIT_USAGE
    assert "team 'payments' is not onboarded in environment 'dev'" in capsys.readouterr().err


def test_the_teams_configured_endpoint_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the team's serving_endpoint configured, no --endpoint is needed: the command goes on to Bedrock."""
    calls: list[dict[str, object]] = []

    def rollback(bedrock: object, **kwargs: object) -> dict[str, object]:
        calls.append(kwargs)
        return {"arn": "arn:x", "before": "b", "after": "a", "updateStatus": "UpdateCompleted"}

    monkeypatch.setattr("bft.workflow.promotion.rollback", rollback)
    monkeypatch.setattr("bft.aws.client", lambda *args, **kwargs: object())
    text = (CONFIG / "local-us-east-1.yaml").read_text()
    (tmp_path / "local-us-east-1.yaml").write_text(text)
    local = (CONFIG / "local.yaml").read_text()
    (tmp_path / "local.yaml").write_text(
        local.replace("    monthly_budget_usd: 2000\n", "    monthly_budget_usd: 2000\n    serving_endpoint: live\n", 1)
    )
    argv = ["rollback", "--env", "local-us-east-1", "--team", "moderation", "--config-dir", str(tmp_path)]
    assert main(argv) == 0
    assert calls[0]["endpoint"] == "live"
    assert calls[0]["environment"] == "local-us-east-1"
