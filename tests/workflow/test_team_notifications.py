"""A team's e-mail receives its own run's outcome, and not another team's: the offline world evaluates the
subscription filter policies of the synthesized template against every message published."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bft_twin.mailbox import email_deliveries
from bft_twin.run import ACCOUNT, REGION, run_scenario

pytestmark = pytest.mark.slow


def test_the_teams_email_gets_its_runs_outcome(local_assembly: Path, tmp_path: Path) -> None:
    inboxes: dict[str, list[dict[str, Any]]] = {}
    summary = run_scenario(
        "success",
        assembly=local_assembly,
        workdir=tmp_path,
        on_finish=lambda _env: inboxes.update(email_deliveries(ACCOUNT, REGION)),
    )
    assert summary["outcome"] == "deployed"
    team = [m["subject"] for m in inboxes["moderation-ml@example.com"]]
    assert any("approval needed" in s for s in team), team
    assert any(s.endswith(": deployed") for s in team), team
    assert inboxes["search-ml@example.com"] == [], "another team hears nothing of this run"
    platform = [m["subject"] for m in inboxes["ml-platform-dev@example.com"]]
    assert set(team) <= set(platform), "the platform's list still gets everything"
