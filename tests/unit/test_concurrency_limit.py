"""Audit L9: a team's runs in flight are bounded (max_concurrent_runs, else the environment's
max_concurrent_runs_per_team), so no team can exhaust the account's Lambda concurrency or Bedrock quotas."""

from __future__ import annotations

from typing import Any

import pytest

from bft.config import load_config
from bft.errors import RequestInvalid
from bft.workflow.request import check_concurrency

MACHINE = "arn:aws:states:us-west-2:123456789012:stateMachine:bft-dev-team-vision"
OURS = "arn:aws:states:us-west-2:123456789012:execution:bft-dev-team-vision:run-9-0"


class _Sfn:
    def __init__(self, running: int) -> None:
        self.running = running
        self.asked: list[dict[str, Any]] = []

    def list_executions(self, **kwargs: Any) -> dict[str, Any]:
        self.asked.append(kwargs)
        executions = [
            {"executionArn": f"{MACHINE.replace('stateMachine', 'execution')}:run-{i}-0"} for i in range(self.running)
        ]
        return {"executions": [*executions, {"executionArn": OURS}]}


def test_a_run_past_its_teams_limit_is_refused_naming_the_key() -> None:
    policy = {"maxConcurrentRuns": 3, "concurrencyConfigKey": "dev.yaml teams[1].max_concurrent_runs"}
    check_concurrency("vision", policy, OURS, sfn=_Sfn(2))  # two others and this one: within 3
    sfn = _Sfn(3)
    with pytest.raises(RequestInvalid) as refused:
        check_concurrency("vision", policy, OURS, sfn=sfn)
    assert str(refused.value) == (
        "team vision already has 3 runs in flight, its limit of 3 (config dev.yaml teams[1].max_concurrent_runs): "
        "wait for one to finish, then submit again with the same requestId; nothing was started"
    )
    # The team's own state machine, its running executions only.
    assert sfn.asked == [{"stateMachineArn": MACHINE, "statusFilter": "RUNNING", "maxResults": 4}]


def test_every_team_has_a_limit_its_own_or_the_environments() -> None:
    config = load_config("dev")
    for team in config.teams:
        guardrails = config.team_guardrails(team)
        expected = team.max_concurrent_runs or config.max_concurrent_runs_per_team
        assert guardrails["maxConcurrentRuns"] == expected
        assert guardrails["concurrencyConfigKey"].startswith("dev.yaml ")
