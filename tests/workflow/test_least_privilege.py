"""Least privilege, measured over every offline scenario (docs/least-privilege.md).

Every Allow statement (and every action of it) granted to the pipeline's roles is either needed by some
scenario, according to the offline IAM's record, or listed with a reason in
``bft_twin.iam.privilege.KEPT`` / ``REMOVAL_CANDIDATES``; no listed entry is stale; and no scenario is
refused a call it does not mean to be refused.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from bft.synth import ROOT
from bft_twin.iam.privilege import (
    KEPT,
    REMOVAL_CANDIDATES,
    ActionGrant,
    GrantedStatement,
    PrivilegeReport,
    StatementUse,
    kept_matches,
    measure,
)

sys.path.insert(0, str(ROOT / "scripts"))
import least_privilege


@pytest.fixture(scope="module")
def every_scenario(local_assembly: Path) -> dict[str, Any]:
    return least_privilege.run_all(local_assembly, least_privilege.local_scenarios())


@pytest.fixture(scope="module")
def report(every_scenario: dict[str, Any]) -> PrivilegeReport:
    return measure(every_scenario["store"], every_scenario["records"])


@pytest.mark.slow
def test_no_scenario_is_refused_a_call_it_does_not_mean(every_scenario: dict[str, Any]) -> None:
    unexpected = {
        name: line["denied"]
        for name, line in every_scenario["scenarios"].items()
        if line["calls_denied"] != least_privilege.EXPECTED_DENIALS.get(name, 0)
        or (line["denied"] and name not in least_privilege.EXPECTED_DENIALS)
    }
    assert unexpected == {}
    for name, line in every_scenario["scenarios"].items():
        assert line["outcome"] == line["expected_outcome"], (name, line)


@pytest.mark.slow
def test_every_granted_action_is_needed_or_has_a_reason(report: PrivilegeReport) -> None:
    unexplained = [grant.key for grant in report.unexplained()]
    assert unexplained == [], (
        "granted, used by no scenario, and listed in neither KEPT (with the reason it stays) nor "
        "REMOVAL_CANDIDATES (bft_twin.iam.privilege): " + "\n".join(unexplained)
    )


@pytest.mark.slow
def test_no_kept_or_candidate_entry_is_stale(report: PrivilegeReport) -> None:
    assert report.stale() == [], "these entries explain no unused grant any more: remove them"


@pytest.mark.slow
def test_the_pipeline_needs_most_of_its_statements(report: PrivilegeReport) -> None:
    figures = report.figures()
    # Every role of the pipeline is exercised: each has a statement some scenario needed.
    roles = {role for statement in report.granted for role in statement.roles}
    used_roles = {role for statement in report.needed for role in statement.roles}
    # Except a second team's submitter role: the scenarios run one team (the adversarial tests use the other); and
    # the role AWS Budgets runs a team's cap action as, which no scenario's spend reaches (KEPT says why;
    # tests/workflow/test_team_cap_action.py plays the action).
    unused = {
        role
        for role in roles - used_roles
        if not role.startswith("BftLocalTeamSearch/") and "/CapActionRole" not in role
    }
    assert unused == set(), f"roles no scenario exercised: {sorted(unused)}"
    assert figures["statements_needed"] > figures["statements_granted"] / 2


# -- the accounting itself, on a hand-made record (fast) ------------------------------------------------------


def _statement(source: str, index: int, actions: tuple[str, ...], resources: tuple[str, ...] = ("*",)) -> Any:
    return GrantedStatement(source, index, None, ("S/Role",), actions, resources, False)


def test_kept_patterns_match_source_action_and_resource() -> None:
    statement = _statement(
        "S/TeamXSubmitterRoleDefaultPolicyAB12", 2, ("s3:GetObject",), ("arn:aws:s3:::x-datasetsbucket-1/*",)
    )
    grant = ActionGrant(statement, "s3:GetObject")
    assert kept_matches("*/Team*SubmitterRoleDefaultPolicy* s3:GetObject", grant)
    assert kept_matches("*/Team*SubmitterRoleDefaultPolicy* s3:PutObject|S3:getobject *datasetsbucket*", grant)
    assert not kept_matches("*/Team*SubmitterRoleDefaultPolicy* s3:GetObject *reportsbucket*", grant)
    assert not kept_matches("*/Workflow* s3:GetObject", grant)


def test_unused_actions_are_explained_candidates_first_and_stale_entries_found() -> None:
    used = _statement("S/APolicy", 0, ("s3:GetObject", "s3:PutObject"))
    unused = _statement("S/APolicy", 1, ("xray:PutTraceSegments",))
    report = PrivilegeReport(
        granted=[used, unused],
        used={used.key: StatementUse(calls=1, actions={"s3:GetObject": {"s3:GetObject"}})},
        kept={"*/APolicy xray:*": "runtime", "*/APolicy s3:*": "helper", "*/Gone* sns:Publish": "stale"},
        candidates={"*/APolicy s3:PutObject": "nobody writes"},
    )
    assert [s.key for s in report.unused] == ["S/APolicy#1"]
    assert [g.key for g in report.actions_never_used()] == ["S/APolicy#0 s3:PutObject"]
    explained = report.explain(ActionGrant(used, "s3:PutObject"))
    assert explained is not None
    assert explained.kind == "candidate"
    assert report.unexplained() == []
    # "s3:*" explains nothing the candidate does not already; the third matches no grant at all.
    assert report.stale() == ["*/APolicy s3:*", "*/Gone* sns:Publish"]
    figures = report.figures()
    assert (figures["statements_needed"], figures["statements_granted"]) == (1, 2)
    assert (figures["actions_needed"], figures["actions_granted"]) == (1, 3)


def test_kept_and_candidate_entries_each_give_a_reason() -> None:
    for table in (KEPT, REMOVAL_CANDIDATES):
        for pattern, reason in table.items():
            assert len(pattern.split(" ")) in (2, 3), pattern
            assert len(reason) > 40, f"{pattern}: say why"
