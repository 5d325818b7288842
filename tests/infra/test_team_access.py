"""Each team's stack: its submitter role reaches its own state machine, prefix, reports, throughputs and
registry entry only; its registry entry is what the CLI and the shared functions find it by."""

from __future__ import annotations

import json
from typing import Any

from bft.config import load_config
from bft.registry import GUARDRAILS, STATE_MACHINE_ARN, SUBMITTER_ROLE_ARN, state_machine_name, team_parameter
from tests.conftest import Assembly, resources


def _role(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, v) for k, v in resources(template, "AWS::IAM::Role").items() if k.startswith("AccessSubmitterRole")]
    return found


def _team_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    role, _ = _role(template)
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def test_submitter_role_trusts_the_configured_principals(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    for team, template in assembly.team_templates().items():
        _, role = _role(template)
        principals = json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
        for arn in config.team(team).submitters:
            assert arn in principals


def test_submitter_role_trusts_only_sessions_that_name_their_person(assembly: Assembly) -> None:
    """Every way into the submitter role carries sts:SourceIdentity, and setting it is allowed (issue #23)."""
    for team, template in assembly.team_templates().items():
        _, role = _role(template)
        statements = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        actions = set()
        for statement in statements:
            assert statement["Condition"] == {"StringLike": {"sts:SourceIdentity": "*"}}, (team, statement)
            actions |= {statement["Action"]} if isinstance(statement["Action"], str) else set(statement["Action"])
        assert actions == {"sts:AssumeRole", "sts:SetSourceIdentity"}, team


def test_submitter_role_is_confined_to_its_team(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    templates = assembly.team_templates()
    for team, template in templates.items():
        statements = _team_statements(template)
        text = json.dumps(statements)
        for other in set(templates) - {team}:
            assert state_machine_name(config.name, other) not in text, f"{team} can reach {other}'s machine"
            assert f"/{other}/" not in text, f"{team} can reach {other}'s data"
            assert f"/{other}*" not in text, f"{team} can reach {other}'s data"
        (machine,) = resources(template, "AWS::StepFunctions::StateMachine")
        start = [s for s in statements if "states:StartExecution" in json.dumps(s["Action"])]
        assert start
        assert start[0]["Resource"] == {"Ref": machine}
        for statement in statements:
            resource = json.dumps(statement["Resource"])
            actions = json.dumps(statement["Action"])
            if "DatasetsBucketArn" in resource and "s3:PutObject" in actions:
                assert f"/{team}/*" in resource
            if "s3:ListBucket" in actions:
                prefix = statement["Condition"]["StringLike"]["s3:prefix"][0]
                assert prefix in (f"{team}/*", f"reports/{team}/*")
            if "bedrock:DeleteProvisionedModelThroughput" in actions:
                assert statement["Condition"]["StringEquals"] == {
                    "aws:ResourceTag/team": team,
                    "aws:ResourceTag/project": "bedrock-fine-tuning",
                    "aws:ResourceTag/environment": config.name,
                }
            if "ssm:" in actions:  # its own registry entry, never the path of every team
                assert f"parameter/bft/{config.name}/teams/{team}" in resource, resource


def test_submitter_role_never_decides_approvals(assembly: Assembly) -> None:
    """A submitter approving its own run would defeat the approval: only the approval function resumes a run,
    and no submitter role reaches the task tokens in the state table."""
    for team, template in assembly.team_templates().items():
        statements = _team_statements(template)
        actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        assert not {a for a in actions if a.startswith("states:SendTask")}, team
        assert not {a for a in actions if a.startswith("dynamodb:")}, team


def test_submitter_role_never_reads_execution_histories(assembly: Assembly) -> None:
    """The history of a run waiting for approval carries its task token (issue #23): no submitter reads it."""
    for team, template in assembly.team_templates().items():
        actions = json.dumps([s["Action"] for s in _team_statements(template)])
        assert "states:GetExecutionHistory" not in actions, team
        assert "states:*" not in actions, team
        assert "states:DescribeExecution" in actions, team  # what `bft status` reads instead


def test_each_team_stack_registers_its_machine_role_and_guardrails(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    assert "Teams" not in assembly.template("Pipeline").get("Outputs", {}), "no output lists every team"
    for team, template in assembly.team_templates().items():
        parameters = {
            p["Properties"]["Name"]: p["Properties"]["Value"]
            for p in resources(template, "AWS::SSM::Parameter").values()
        }
        (machine,) = resources(template, "AWS::StepFunctions::StateMachine")
        role, _ = _role(template)
        assert parameters[team_parameter(config.name, team, STATE_MACHINE_ARN)] == {"Ref": machine}
        assert parameters[team_parameter(config.name, team, SUBMITTER_ROLE_ARN)] == {"Fn::GetAtt": [role, "Arn"]}
        guardrails = json.loads(parameters[team_parameter(config.name, team, GUARDRAILS)])
        assert guardrails == config.team_guardrails(config.team(team))


def test_each_team_machine_carries_its_team_tag(assembly: Assembly) -> None:
    for team, template in assembly.team_templates().items():
        (machine,) = resources(template, "AWS::StepFunctions::StateMachine").values()
        assert {"Key": "team", "Value": team} in machine["Properties"]["Tags"]
