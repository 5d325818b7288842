"""Promotion in place, offline: the synthesized state machine of the us-east-1 world (Nova, served on demand),
its functions under their roles, `bft rollback` as the team member, every call authorized from the templates.

Two approved runs of one team leave one deployment ARN serving the second model; `bft rollback` points it back
at the first. A rollback with nothing to roll back to, an update Bedrock refuses (a model of another base) and
an update that ends UpdateFailed each change nothing the applications see."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bft_twin.run import (
    SCENARIOS,
    Afterwards,
    Scenario,
    World,
    _submitter_session,
    bft_as_team_member,
    run_scenario,
    target_for,
)

pytestmark = pytest.mark.slow

ENVIRONMENT = "local-us-east-1"
NOVA_LITE = "amazon.nova-lite-v1:0:300k"


def _run(name: str, assembly: Path, tmp_path: Path, scenario: Scenario | None = None) -> dict[str, Any]:
    summary = run_scenario(name, assembly=assembly, workdir=tmp_path, scenario=scenario)
    assert summary["background_errors"] == [], summary["background_errors"]
    assert summary["authorization"]["calls_denied"] == 0, summary["authorization"]["denied"]
    return summary


def _final_note(summary: dict[str, Any]) -> str:
    finals = [n for n in summary["notifications"] if "approval needed" not in n["subject"]]
    return str(finals[-1]["message"])


def test_two_approved_runs_keep_one_arn_serving_the_second_model_and_rollback_serves_the_first(
    east_assembly: Path, tmp_path: Path
) -> None:
    summary = _run("promotion", east_assembly, tmp_path)
    first, second = summary["runs"]
    assert (first["outcome"], second["outcome"]) == ("deployed", "deployed")
    assert first["model"] != second["model"]
    # The first run created the endpoint, the second pointed the same ARN at its model.
    created, updated = first["promotion"], second["promotion"]
    assert (created["action"], created["before"], created["after"]) == ("created", None, first["model"])
    assert (updated["action"], updated["before"], updated["after"]) == ("updated", first["model"], second["model"])
    assert created["arn"] == updated["arn"]
    endpoint = summary["endpoint"]
    assert (endpoint["arn"], endpoint["serves"], endpoint["previous_model"]) == (
        created["arn"],
        second["model"],
        first["model"],
    )
    # One deployment is left: the endpoint. Each run's own deployment was deleted once the endpoint served it.
    assert summary["deployments_left"] == [endpoint["arn"]]
    assert summary["serving"] == {"kind": "custom-model-deployment", "arn": endpoint["arn"], "hourly_cost_usd": 0.0}
    # The second run's mail says what the endpoint served before and serves now.
    note = _final_note(summary)
    assert f"Team endpoint live: {endpoint['arn']} (the ARN applications call)" in note
    assert f"  served before: {first['model']}" in note
    assert f"  serves now:    {second['model']}" in note
    assert f"bft rollback --env {ENVIRONMENT} --team moderation --endpoint live" in note
    assert summary["report"]["promotion"]["after"] == second["model"]

    (after,) = summary["afterwards"]
    rollback = after["rollback"]
    assert rollback["exit_code"] == 0, rollback
    assert (
        f"endpoint live ({endpoint['arn']}) serves {first['model']} (before: {second['model']})" in (rollback["stdout"])
    )
    assert (after["endpoint"]["arn"], after["endpoint"]["serves"]) == (endpoint["arn"], first["model"])


def test_rollback_with_nothing_to_roll_back_to_names_the_endpoint_and_changes_nothing(
    east_assembly: Path, tmp_path: Path
) -> None:
    def arrange(world: World) -> None:
        world.promote_into("live", runs=1)

        def rollback(after: Afterwards) -> dict[str, Any]:
            before = after.fake.counters.deployments_updated
            done = bft_as_team_member(
                after, "rollback", "--env", ENVIRONMENT, "--team", after.team, "--endpoint", "live"
            )
            return {"rollback": done, "updates": after.fake.counters.deployments_updated - before}

        world.afterwards.append(rollback)

    scenario = Scenario("rollback-nothing", "one run, then a rollback", "deployed", arrange)
    summary = _run("rollback-nothing", east_assembly, tmp_path, scenario)
    (after,) = summary["afterwards"]
    assert after["rollback"]["exit_code"] == 1
    error = after["rollback"]["stderr"]
    assert (
        f"bft rollback: RollbackRefused: endpoint live of team moderation in {ENVIRONMENT} "
        "(deployment bft-local-us-east-1-moderation-live)"
    ) in error
    assert "has nothing to roll back to: no previous model is recorded" in error
    assert "nothing was changed" in error
    assert after["updates"] == 0
    assert summary["endpoint"]["serves"] == summary["runs"][0]["model"]


def test_an_update_to_a_model_of_another_base_fails_the_run_and_leaves_the_endpoint_serving_the_first(
    east_assembly: Path, tmp_path: Path
) -> None:
    def arrange(world: World) -> None:
        world.promote_into("live")

        def lite_second(world: World, index: int) -> None:
            if index == 1:
                world.request["baseModelId"] = NOVA_LITE

        world.before_run.append(lite_second)

    scenario = Scenario("promotion-other-base", "a second run on another base model", "promotion_failed", arrange)
    summary = _run("promotion-other-base", east_assembly, tmp_path, scenario)
    first, second = summary["runs"]
    assert (first["outcome"], second["outcome"]) == ("deployed", "promotion_failed")
    assert NOVA_LITE in second["model"]
    cause = summary["report"]["error"]["Cause"]
    assert cause.startswith(
        f"Bedrock refused to point endpoint live ({summary['endpoint']['arn']}) at {second['model']}"
    )
    assert "ValidationException" in cause
    assert f"it still serves {first['model']}, unchanged" in cause
    assert summary["endpoint"]["serves"] == first["model"]
    assert summary["endpoint"]["previous_model"] is None
    assert summary["deployments_left"] == [summary["endpoint"]["arn"]]
    assert "Nothing this run created is still running." in _final_note(summary)


def test_update_failed_is_reported_and_the_endpoint_still_serves_the_first_model(
    east_assembly: Path, tmp_path: Path
) -> None:
    summary = _run("promotion-update-failed", east_assembly, tmp_path)
    assert summary["outcome"] == SCENARIOS["promotion-update-failed"].outcome == "promotion_failed"
    first, second = summary["runs"]
    endpoint = summary["endpoint"]
    assert (endpoint["serves"], endpoint["update"]["updateStatus"]) == (first["model"], "UpdateFailed")
    assert endpoint["previous_model"] is None, "a failed update records no rollback target"
    cause = summary["report"]["error"]["Cause"]
    assert "UpdateFailed" in cause
    assert f"it still serves {first['model']}, as before" in cause
    # The run cleaned up what it created (its deployment, its model), and never the team's endpoint.
    assert summary["deployments_left"] == [endpoint["arn"]]
    assert f"{second['model']}: custom model deleted" in summary["report"]["cleanup"]["actions"]
    note = _final_note(summary)
    assert "Nothing this run created is still running." in note
    assert "promotion failed" in summary["notifications"][-1]["subject"]


def test_another_teams_member_cannot_roll_back_or_update_the_endpoint(east_assembly: Path, tmp_path: Path) -> None:
    """IAM refuses the search team's role: UpdateCustomModelDeployment only on deployments tagged with its team."""
    from botocore.exceptions import ClientError

    def arrange(world: World) -> None:
        world.promote_into("live")

        def as_search(after: Afterwards) -> dict[str, Any]:
            endpoint = after.fake.custom_model_deployments()[0]
            search = _submitter_session(after.env, replace(target_for(ENVIRONMENT), team="search"))
            refused = None
            try:
                search.client("bedrock").update_custom_model_deployment(
                    customModelDeploymentIdentifier=endpoint["customModelDeploymentArn"],
                    modelArn=after.fake.resource_tags(endpoint["customModelDeploymentArn"])["previous-model"],
                )
            except ClientError as exc:
                refused = exc.response["Error"]["Code"]
            return {"refused": refused, "serves": after.fake.custom_model_deployments()[0]["modelArn"]}

        world.afterwards.append(as_search)

    scenario = Scenario("promotion-foreign-rollback", "another team's member tries the rollback", "deployed", arrange)
    summary = run_scenario("promotion-foreign-rollback", assembly=east_assembly, workdir=tmp_path, scenario=scenario)
    (after,) = summary["afterwards"]
    assert after["refused"] == "AccessDeniedException"
    assert after["serves"] == summary["runs"][1]["model"]
    denied = summary["authorization"]["denied"]
    assert len(denied) == 1
    assert "bedrock:UpdateCustomModelDeployment" in denied[0]
    assert "search" in denied[0].lower()
