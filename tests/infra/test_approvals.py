"""Approvals go through one IAM-authenticated function URL; no human role resumes executions itself."""

from __future__ import annotations

import json
from typing import Any

from bft.config import load_config, resource_prefix
from bft.registry import state_machine_prefix, teams_path
from tests.conftest import Assembly, resources


def decide_function(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, v) for k, v in resources(template, "AWS::Lambda::Function").items() if "DecideApproval" in k]
    return found


def test_the_approval_function_finds_teams_in_the_registry(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    template = assembly.template("Pipeline")
    _, function = decide_function(template)
    variables = function["Properties"]["Environment"]["Variables"]
    (table,) = resources(template, "AWS::DynamoDB::GlobalTable")
    assert variables["STATE_TABLE"] == {"Ref": table}
    assert variables["ENVIRONMENT"] == config.name
    assert variables["PRODUCTION"] == ("true" if config.production else "false")
    # Reviewers and submitter role per team come from the team's registry entry, read per decision: nothing
    # in the shared function names a team (onboarding one changes nothing here).
    assert variables["REGISTRY_PATH"] == teams_path(config.name)
    assert not any(team.name in json.dumps(variables) for team in config.teams)


def test_the_approval_function_is_reached_by_an_iam_authenticated_url(assembly: Assembly) -> None:
    template = assembly.template("Pipeline")
    key, _ = decide_function(template)
    (url,) = resources(template, "AWS::Lambda::Url").values()
    assert url["Properties"]["AuthType"] == "AWS_IAM"
    assert url["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": [key, "Arn"]}
    (url_id,) = resources(template, "AWS::Lambda::Url")
    output = template["Outputs"]["ApprovalFunctionUrl"]
    assert output["Value"] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}
    assert output["Export"]["Name"] == f"{resource_prefix(load_config(assembly.env))}-ApprovalFunctionUrl"


def test_each_reviewer_and_nobody_else_may_call_the_url(assembly: Assembly) -> None:
    """The environment's reviewers are allowed by the pipeline stack, a team's own reviewers of another
    account by the team's stack (on the function it finds in the registry); nobody else. A team's own
    same-account reviewers are allowed by their ReviewerPolicy alone: the resource policy (20 KB) would
    otherwise grow with the teams."""
    config = load_config(assembly.env)
    template = assembly.template("Pipeline")
    key, _ = decide_function(template)
    approval_parameter = f"/bft/{config.name}/shared/approval-function-arn"
    permissions: list[dict[str, Any]] = []
    for stack, found in assembly.templates().items():
        parameters = {name for name, p in found.get("Parameters", {}).items() if p.get("Default") == approval_parameter}
        targets = [{"Fn::GetAtt": [key, "Arn"]}] if stack.endswith("Pipeline") else [{"Ref": p} for p in parameters]
        permissions += [
            p["Properties"]
            for p in resources(found, "AWS::Lambda::Permission").values()
            if p["Properties"]["FunctionName"] in targets
        ]

    def resource_policy_names(arn: str) -> bool:
        return arn in config.reviewers or arn.split(":")[4] != config.account

    reviewers = {arn for team in config.teams for arn in config.team_reviewers(team) if resource_policy_names(arn)}
    url_calls = [p for p in permissions if p["Action"] == "lambda:InvokeFunctionUrl"]
    invokes = [p for p in permissions if p["Action"] == "lambda:InvokeFunction"]
    assert {p["Principal"] for p in url_calls} == reviewers
    assert all(p["FunctionUrlAuthType"] == "AWS_IAM" for p in url_calls)
    # Function URLs created since October 2025 also need lambda:InvokeFunction, here only through the URL.
    assert {p["Principal"] for p in invokes} == reviewers
    assert all(p["InvokedViaFunctionUrl"] is True for p in invokes)
    assert len(permissions) == 2 * len(reviewers), "no other principal may invoke the approval function"
    team_permissions = [
        p for team, found in assembly.team_templates().items() for p in resources(found, "AWS::Lambda::Permission")
    ]
    own = {arn for team in config.teams for arn in (team.reviewers or []) if arn not in config.reviewers}
    foreign = {arn for arn in own if arn.split(":")[4] != config.account}
    assert len(team_permissions) == 2 * len(foreign)


def test_same_account_is_known_only_when_the_config_names_the_account() -> None:
    """Which of a team's reviewers the resource policy names: those of another account, or every one when the
    configuration leaves the account to the deploying credentials."""
    from stacks.team_stack import _same_account

    config = load_config("dev").model_copy(update={"account": "111111111111"})
    assert _same_account("arn:aws:iam::111111111111:role/reviewers", config)
    assert not _same_account("arn:aws:iam::999999999999:role/reviewers", config)
    assert not _same_account("arn:aws:iam::111111111111:role/reviewers", config.model_copy(update={"account": None}))


def test_the_approval_function_resumes_team_machines_and_reads_the_state_table(assembly: Assembly) -> None:
    template = assembly.template("Pipeline")
    (role,) = [r for r in resources(template, "AWS::IAM::Role") if "DecideApprovalRole" in r]
    statements = [
        s
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    (send,) = [s for s in statements if "states:SendTaskSuccess" in s["Action"]]
    assert sorted(send["Action"]) == ["states:SendTaskFailure", "states:SendTaskSuccess"]
    # Every team's machine of this environment through one name pattern (constant in the number of teams).
    assert f":stateMachine:{state_machine_prefix(assembly.env)}*" in json.dumps(send["Resource"])
    (table,) = resources(template, "AWS::DynamoDB::GlobalTable")
    data = [s for s in statements if any(str(a).startswith("dynamodb:") for a in s["Action"])]
    assert data
    assert all(s["Resource"] == {"Fn::GetAtt": [table, "Arn"]} for s in data)
    assert {"dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:PutItem"} <= {a for s in data for a in s["Action"]}
