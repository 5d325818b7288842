"""The cap's AWS Budgets action, run in the offline world as Budgets runs it: as its execution role (trusted by
budgets.amazonaws.com, allowed to attach that policy to that role, both decided from the synthesized template),
it attaches the deny policy to moderation's submitter role. From then on the team member cannot start a run of
its state machine, and search's member still can (the policy is moderation's alone)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bft.config import load_config
from bft_twin.deploy_checks import DeployRefusal
from bft_twin.offline import OfflineAssembly
from bft_twin.run import TIME_FACTOR, team_refs
from tests.unit.test_offline_runner import _copy_with_templates

pytestmark = pytest.mark.slow

ENV = "local"
CONFIG = load_config(ENV)


def test_once_the_cap_is_reached_the_team_member_cannot_start_a_run(local_assembly: Path) -> None:
    with OfflineAssembly(local_assembly, region="us-west-2", account_id="123456789012", time_factor=TIME_FACTOR) as env:
        assert [a.budget_name for a in env.budget_actions] == ["bft-local-moderation-cap"]
        members = {
            team: (
                env.session_as(team_refs(env, ENV, team).submitter_role_arn, f"{team}-member",
                               caller=CONFIG.team(team).submitters[0]).client("stepfunctions"),
                team_refs(env, ENV, team).state_machine_arn,
            )
            for team in ("moderation", "search")
        }  # fmt: skip

        def start(team: str, name: str) -> str:
            sfn, machine = members[team]
            return str(sfn.start_execution(stateMachineArn=machine, name=name, input="{}")["executionArn"])

        assert start("moderation", "before-the-cap")
        action = env.apply_budget_action("bft-local-moderation-cap")
        assert action.approval_model == "AUTOMATIC"
        with pytest.raises(ClientError) as refused:
            start("moderation", "after-the-cap")
        assert "AccessDenied" in refused.value.response["Error"]["Code"]
        assert "states:StartExecution" in str(refused.value)
        assert start("search", "another-team")


def _of_type(template: dict[str, Any], type_: str, prefix: str) -> dict[str, Any]:
    (found,) = [r for k, r in template["Resources"].items() if r["Type"] == type_ and k.startswith(prefix)]
    properties: dict[str, Any] = found["Properties"]
    return properties


def _no_trust(template: dict[str, Any]) -> None:
    role = _of_type(template, "AWS::IAM::Role", "CapActionRole")
    role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] = {"Service": "lambda.amazonaws.com"}


def _no_attach(template: dict[str, Any]) -> None:
    policy = _of_type(template, "AWS::IAM::Policy", "CapActionRoleDefaultPolicy")
    # Allowed to attach another policy only: not the one the action attaches.
    other = {"ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}}
    policy["PolicyDocument"]["Statement"][0]["Condition"] = other


def _no_subscriber(template: dict[str, Any]) -> None:
    _of_type(template, "AWS::Budgets::BudgetsAction", "CapAction")["Subscribers"] = []


@pytest.mark.parametrize(
    ("edit", "code", "words"),
    [
        (_no_trust, "AccessDeniedException", "budgets.amazonaws.com may not assume the execution role"),
        (_no_attach, "AccessDeniedException", "may not iam:AttachRolePolicy"),
        (_no_subscriber, "InvalidParameterException", "Subscribers: 0 given, 1 to 11 allowed"),
    ],
)
def test_an_action_budgets_could_never_run_is_refused_at_deploy(
    local_assembly: Path, tmp_path: Path, edit: Callable[[dict[str, Any]], None], code: str, words: str
) -> None:
    crafted = _copy_with_templates(
        local_assembly, tmp_path / "crafted", lambda name, t: edit(t) if name == "BftLocalTeamModeration" else None
    )
    with (
        pytest.raises(DeployRefusal) as refused,
        OfflineAssembly(crafted, region="us-west-2", account_id="123456789012"),
    ):
        pass
    assert refused.value.code == code
    assert words in refused.value.message
