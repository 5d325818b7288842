"""Onboarding scales: one stack per team, a team changes nothing but its own template, and 200 teams fit
CloudFormation's and IAM's limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bft.synth import RESOURCE_LIMIT, assembly_limits, synth
from tests.conftest import CONFIG

pytestmark = pytest.mark.slow


def _write_config(directory: Path, teams: int, *, account: str | None = "111111111111") -> Path:
    """dev.yaml with ``teams`` teams, each with its own addresses, budget and (every other one) reviewers, in
    ``account`` (the platform team names it, so the stacks know which reviewers are of their own account)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((CONFIG / "dev.yaml").read_text())
    if account is not None:
        config["account"] = account
    config["teams"] = [
        {
            "name": f"team-{index:03d}",
            "submitters": [f"arn:aws:iam::111111111111:role/team-{index:03d}-ml"],
            "notification_emails": [f"team-{index:03d}@example.com"],
            "monthly_budget_usd": 1000,
            **({"reviewers": [f"arn:aws:iam::111111111111:role/team-{index:03d}-reviewers"]} if index % 2 else {}),
        }
        for index in range(teams)
    ]
    (directory / "dev.yaml").write_text(yaml.safe_dump(config))
    return directory


def _templates(outdir: Path) -> dict[str, dict[str, Any]]:
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }


def test_adding_a_team_adds_its_stack_and_changes_no_other_template(tmp_path: Path) -> None:
    before = _templates(synth("dev", tmp_path / "before", config_dir=_write_config(tmp_path / "two", 2)))
    after = _templates(synth("dev", tmp_path / "after", config_dir=_write_config(tmp_path / "three", 3)))
    assert set(after) - set(before) == {"BftDevTeamTeam002"}
    assert set(before) <= set(after)
    for stack, template in before.items():
        assert after[stack] == template, f"onboarding team-002 changed {stack}"


def test_two_hundred_teams_fit_cloudformation_and_iam_limits(tmp_path: Path) -> None:
    limits = assembly_limits(synth("dev", tmp_path / "out", config_dir=_write_config(tmp_path / "config", 200)))
    assert limits.stacks == 2 + 200
    stack, resources = limits.largest_template
    assert resources <= RESOURCE_LIMIT, f"{stack}: {resources} resources"
    over = [p for p in limits.policies if p.chars > p.limit]
    assert not over, over
    # Constant in the number of teams: the largest policy is far from its limit, not just under it.
    assert limits.largest_policy.chars < limits.largest_policy.limit / 2, limits.largest_policy
    # The approval function's resource policy (Lambda caps it at 20 KB, about 25 reviewers): the teams' own
    # reviewers of the environment's account are allowed by their ReviewerPolicy, not named there one by one.
    templates = _templates(tmp_path / "out")
    permissions = [
        resource
        for template in templates.values()
        for resource in template.get("Resources", {}).values()
        if resource["Type"] == "AWS::Lambda::Permission" and "Reviewer" in json.dumps(resource)
    ]
    team_permissions = [
        resource
        for stack, template in templates.items()
        if "Team" in stack
        for resource in template.get("Resources", {}).values()
        if resource["Type"] == "AWS::Lambda::Permission"
    ]
    assert team_permissions == [], "100 teams' own reviewers named in the approval function's resource policy"
    assert len(permissions) <= 4, permissions  # the environment's reviewers only


def test_a_teams_reviewer_of_another_account_is_named_in_its_stack(tmp_path: Path) -> None:
    out = synth("dev", tmp_path / "out", config_dir=_write_config(tmp_path / "config", 2, account="222222222222"))
    team = _templates(out)["BftDevTeamTeam001"]
    named = {r["Properties"]["Principal"] for r in team["Resources"].values() if r["Type"] == "AWS::Lambda::Permission"}
    assert named == {"arn:aws:iam::111111111111:role/team-001-reviewers"}
