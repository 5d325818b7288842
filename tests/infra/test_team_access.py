"""Each team's submitter role reaches its own state machine, prefix, reports and throughputs only."""

from __future__ import annotations

import json
from typing import Any

from bft.config import load_config
from tests.conftest import Assembly, resources


def _team_statements(template: dict[str, Any], team_pascal: str) -> list[dict[str, Any]]:
    roles = [k for k in resources(template, "AWS::IAM::Role") if k.startswith(f"Team{team_pascal}SubmitterRole")]
    assert len(roles) == 1
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": roles[0]} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def test_submitter_role_trusts_the_configured_principals(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    template = assembly.template("Pipeline")
    for team in config.teams:
        pascal = "".join(p.capitalize() for p in team.name.split("-"))
        (role,) = [
            v for k, v in resources(template, "AWS::IAM::Role").items() if k.startswith(f"Team{pascal}SubmitterRole")
        ]
        principals = json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
        for arn in team.submitters:
            assert arn in principals


def test_submitter_role_is_confined_to_its_team(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    template = assembly.template("Pipeline")
    machines = list(resources(template, "AWS::StepFunctions::StateMachine"))
    for team in config.teams:
        pascal = "".join(p.capitalize() for p in team.name.split("-"))
        statements = _team_statements(template, pascal)
        text = json.dumps(statements)
        own_machine = next(m for m in machines if m.startswith(f"Workflow{pascal}StateMachine"))
        for machine in machines:
            if machine != own_machine:
                assert machine not in text, f"{team.name} can reach another team's state machine"
        start = [s for s in statements if "states:StartExecution" in json.dumps(s["Action"])]
        assert start
        assert start[0]["Resource"] == {"Ref": own_machine}
        for statement in statements:
            resource = json.dumps(statement["Resource"])
            if "DatasetsBucketArn" in resource and "s3:PutObject" in json.dumps(statement["Action"]):
                assert f"/{team.name}/*" in resource
            if "s3:ListBucket" in json.dumps(statement["Action"]):
                prefix = statement["Condition"]["StringLike"]["s3:prefix"][0]
                assert prefix in (f"{team.name}/*", f"reports/{team.name}/*")
            if "bedrock:DeleteProvisionedModelThroughput" in json.dumps(statement["Action"]):
                assert statement["Condition"]["StringEquals"] == {
                    "aws:ResourceTag/team": team.name,
                    "aws:ResourceTag/project": "bedrock-fine-tuning",
                    "aws:ResourceTag/environment": config.name,
                }


def test_submitter_role_never_decides_approvals(assembly: Assembly) -> None:
    """A submitter approving its own run would defeat the approval: only the approval function resumes a run,
    and no submitter role reaches the task tokens in the state table."""
    config = load_config(assembly.env)
    template = assembly.template("Pipeline")
    for team in config.teams:
        pascal = "".join(p.capitalize() for p in team.name.split("-"))
        statements = _team_statements(template, pascal)
        actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        assert not {a for a in actions if a.startswith("states:SendTask")}, team.name
        assert not {a for a in actions if a.startswith("dynamodb:")}, team.name


def test_teams_output_maps_each_team_to_its_machine_and_role(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    outputs = assembly.template("Pipeline")["Outputs"]
    text = json.dumps(outputs["Teams"]["Value"])
    for team in config.teams:
        assert f'\\"{team.name}\\"' in text or f'"{team.name}"' in text


def test_each_team_machine_carries_its_team_tag(assembly: Assembly) -> None:
    teams = {team.name for team in load_config(assembly.env).teams}
    machines = resources(assembly.template("Pipeline"), "AWS::StepFunctions::StateMachine").values()
    tagged = {t["Value"] for m in machines for t in m["Properties"]["Tags"] if t["Key"] == "team"}
    assert tagged == teams
