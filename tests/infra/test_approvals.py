"""Approvals go through one IAM-authenticated function URL; no human role resumes executions itself."""

from __future__ import annotations

import json
from typing import Any

from bft.config import load_config, resource_prefix
from tests.conftest import Assembly, resources


def decide_function(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, v) for k, v in resources(template, "AWS::Lambda::Function").items() if "DecideApproval" in k]
    return found


def test_the_approval_function_knows_reviewers_submitters_and_environment(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    template = assembly.template("Pipeline")
    _, function = decide_function(template)
    variables = function["Properties"]["Environment"]["Variables"]
    (table,) = resources(template, "AWS::DynamoDB::GlobalTable")
    assert variables["STATE_TABLE"] == {"Ref": table}
    assert variables["ENVIRONMENT"] == config.name
    assert variables["PRODUCTION"] == ("true" if config.production else "false")
    assert json.loads(variables["REVIEWERS"]) == {team.name: config.team_reviewers(team) for team in config.teams}
    # team -> the team's submitter role ARN, so the handler can refuse a team approving its own run.
    submitters = variables["SUBMITTERS"]["Fn::Join"][1]
    roles = {part["Fn::GetAtt"][0] for part in submitters if isinstance(part, dict)}
    for team in config.teams:
        pascal = "".join(p.capitalize() for p in team.name.split("-"))
        if team.submitters:
            assert any(r.startswith(f"Team{pascal}SubmitterRole") for r in roles), team.name
            assert any(f'"{team.name}":' in p for p in submitters if isinstance(p, str))


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
    config = load_config(assembly.env)
    template = assembly.template("Pipeline")
    key, _ = decide_function(template)
    reviewers = {arn for team in config.teams for arn in config.team_reviewers(team)}
    permissions = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [key, "Arn"]}
    ]
    url_calls = [p for p in permissions if p["Action"] == "lambda:InvokeFunctionUrl"]
    invokes = [p for p in permissions if p["Action"] == "lambda:InvokeFunction"]
    assert {p["Principal"] for p in url_calls} == reviewers
    assert all(p["FunctionUrlAuthType"] == "AWS_IAM" for p in url_calls)
    # Function URLs created since October 2025 also need lambda:InvokeFunction, here only through the URL.
    assert {p["Principal"] for p in invokes} == reviewers
    assert all(p["InvokedViaFunctionUrl"] is True for p in invokes)
    assert len(permissions) == 2 * len(reviewers), "no other principal may invoke the approval function"


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
    targets = send["Resource"] if isinstance(send["Resource"], list) else [send["Resource"]]
    assert {t["Ref"] for t in targets} == set(resources(template, "AWS::StepFunctions::StateMachine"))
    (table,) = resources(template, "AWS::DynamoDB::GlobalTable")
    data = [s for s in statements if any(str(a).startswith("dynamodb:") for a in s["Action"])]
    assert data
    assert all(s["Resource"] == {"Fn::GetAtt": [table, "Arn"]} for s in data)
    assert {"dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:PutItem"} <= {a for s in data for a in s["Action"]}
