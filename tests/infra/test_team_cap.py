"""The backstop of a team's monthly_cap_usd in its stack, in every environment that sets one: a cost budget on the
team tag and an AWS Budgets action that, at 100 % of ACTUAL cost, attaches a deny policy to the team's submitter
role; the role Budgets runs it as is trusted by budgets.amazonaws.com of this account only, and may attach that
one policy to that one role. The workflow's own refusal is tested in tests/unit/test_spend_cap.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bft.config import load_config
from stacks.constructs.guardrails import CAP_DENIED_BEDROCK, CAP_DENIED_STATES, cap_budget_name
from tests.conftest import ENVIRONMENTS, Assembly, resources


def _capped(assembly: Assembly) -> dict[str, tuple[float, dict[str, Any]]]:
    config = load_config(assembly.env)
    return {
        team: (config.team(team).monthly_cap_usd, template)
        for team, template in assembly.team_templates().items()
        if config.team(team).monthly_cap_usd is not None
    }


def _one(template: dict[str, Any], type_: str, prefix: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, v) for k, v in resources(template, type_).items() if k.startswith(prefix)]
    return found


def test_some_environments_set_a_cap_and_some_teams_go_without() -> None:
    """The checks below must have something to check: the fixtures cap dev, prod and local teams."""
    capped = {env: [t.name for t in load_config(env).teams if t.monthly_cap_usd] for env in ENVIRONMENTS}
    assert capped["dev"]
    assert capped["prod"]
    assert capped["local"]
    assert not capped["staging"]


def test_a_capped_team_has_a_budget_and_an_automatic_action_at_100_percent_actual(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    for team, (cap, template) in _capped(assembly).items():
        budget_id, budget = _one(template, "AWS::Budgets::Budget", "CapBudget")
        data = budget["Properties"]["Budget"]
        assert data["BudgetName"] == cap_budget_name(config.name, team)
        assert data["BudgetLimit"] == {"Amount": cap, "Unit": "USD"}
        assert (data["BudgetType"], data["TimeUnit"]) == ("COST", "MONTHLY")
        assert data["CostFilters"] == {"TagKeyValue": [f"user:team${team}"]}
        _, action = _one(template, "AWS::Budgets::BudgetsAction", "CapAction")
        props = action["Properties"]
        assert props["BudgetName"] == {"Ref": budget_id}
        assert props["ActionType"] == "APPLY_IAM_POLICY"
        assert props["ApprovalModel"] == "AUTOMATIC"
        assert props["NotificationType"] == "ACTUAL"
        assert props["ActionThreshold"] == {"Type": "PERCENTAGE", "Value": 100}
        emails = config.team(team).notification_emails or config.notification_emails
        assert props["Subscribers"] == [{"Address": e, "Type": "EMAIL"} for e in emails]
        submitter, _ = _one(template, "AWS::IAM::Role", "AccessSubmitterRole")
        policy_id, _ = _one(template, "AWS::IAM::ManagedPolicy", "CapDenyPolicy")
        assert props["Definition"]["IamActionDefinition"] == {
            "PolicyArn": {"Ref": policy_id},
            "Roles": [{"Ref": submitter}],
        }


def test_the_deny_policy_stops_new_runs_and_new_bedrock_spending_but_no_cleanup(assembly: Assembly) -> None:
    for _, (_, template) in _capped(assembly).items():
        _, policy = _one(template, "AWS::IAM::ManagedPolicy", "CapDenyPolicy")
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert all(s["Effect"] == "Deny" for s in statements)
        by_sid = {s["Sid"]: s for s in statements}
        (machine,) = resources(template, "AWS::StepFunctions::StateMachine")
        assert sorted(by_sid["NoNewRuns"]["Action"]) == sorted(CAP_DENIED_STATES)
        assert by_sid["NoNewRuns"]["Resource"] == {"Ref": machine}
        assert sorted(by_sid["NoNewBedrockSpending"]["Action"]) == sorted(CAP_DENIED_BEDROCK)
        assert {"bedrock:CreateModelCustomizationJob", "bedrock:CreateProvisionedModelThroughput"} <= set(
            CAP_DENIED_BEDROCK
        )
        denied = json.dumps(statements)
        for kept in ("Delete", "Stop", "Get", "List"):  # `bft teardown` must still end what bills
            assert f":{kept}" not in denied


def test_budgets_runs_the_action_as_a_role_of_this_account_that_attaches_only_that_policy(
    assembly: Assembly,
) -> None:
    account = load_config(assembly.env).account or {"Ref": "AWS::AccountId"}  # the config's, else the deploy's
    for _, (_, template) in _capped(assembly).items():
        role_id, role = _one(template, "AWS::IAM::Role", "CapActionRole")
        (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "budgets.amazonaws.com"}
        assert trust["Action"] == "sts:AssumeRole"
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}
        statements = [
            s
            for p in resources(template, "AWS::IAM::Policy").values()
            if {"Ref": role_id} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        ]
        submitter, _ = _one(template, "AWS::IAM::Role", "AccessSubmitterRole")
        policy_id, _ = _one(template, "AWS::IAM::ManagedPolicy", "CapDenyPolicy")
        assert statements == [
            {
                "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                "Condition": {"ArnEquals": {"iam:PolicyARN": {"Ref": policy_id}}},
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [submitter, "Arn"]},
            }
        ]


@pytest.mark.parametrize("env", ["staging"])
def test_a_team_without_a_cap_gets_no_action(assemblies: dict[str, Assembly], env: str) -> None:
    for template in assemblies[env].team_templates().values():
        assert not resources(template, "AWS::Budgets::BudgetsAction")
        assert not [k for k in resources(template, "AWS::IAM::ManagedPolicy") if k.startswith("CapDenyPolicy")]
