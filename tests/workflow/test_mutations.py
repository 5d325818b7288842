"""Mutation tests of the least-privilege record: remove one grant from the synthesized templates, run the
scenario, and the run must fail with AccessDenied naming the removed action.

If the offline IAM said a statement was needed but the run still succeeds without it, the record (or the
authorizer) is wrong; if the run fails some other way, the denial is not what the pipeline reports. Each
mutation copies the assembly and edits one template's JSON; statements are found by what they grant
(actions, the role they attach to by its trust policy), never by logical id, so the tests survive
renamed constructs. (d) takes its statements from the record of a clean run.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bft_twin.iam.privilege import measure
from bft_twin.run import run_scenario

pytestmark = pytest.mark.slow


@dataclass
class Found:
    """One statement of one policy in a template: where to remove it."""

    template: Path
    policy_id: str  # logical id of the AWS::IAM::Policy (or the role, for an inline policy)
    inline_name: str | None
    index: int
    statement: dict[str, Any]

    @property
    def actions(self) -> list[str]:
        value = self.statement.get("Action", [])
        return [value] if isinstance(value, str) else list(value)


def _templates(assembly: Path) -> list[Path]:
    return sorted(assembly.glob("*.template.json"))


def _policies(template: dict[str, Any]) -> Iterator[tuple[str, str | None, list[dict[str, Any]], list[str]]]:
    """(policy id, inline name, statements, role logical ids) of every identity policy of a template."""
    resources = template.get("Resources", {})
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            roles = [r["Ref"] for r in props.get("Roles", []) if isinstance(r, dict) and "Ref" in r]
            statements = props["PolicyDocument"]["Statement"]
            yield logical_id, None, statements, roles
        elif resource.get("Type") == "AWS::IAM::Role":
            for inline in props.get("Policies", []) or []:
                yield logical_id, inline["PolicyName"], inline["PolicyDocument"]["Statement"], [logical_id]


def _trusted_service(template: dict[str, Any], role_id: str) -> set[str]:
    role = template["Resources"].get(role_id, {})
    services: set[str] = set()
    for statement in role.get("Properties", {}).get("AssumeRolePolicyDocument", {}).get("Statement", []):
        service = statement.get("Principal", {}).get("Service", [])
        services.update([service] if isinstance(service, str) else service)
    return services


def find_statements(
    assembly: Path,
    predicate: Callable[[dict[str, Any], list[dict[str, Any]], dict[str, Any], list[str]], bool],
) -> list[Found]:
    """Statements for which ``predicate(statement, its policy's statements, template, role ids)`` holds."""
    found = []
    for path in _templates(assembly):
        template = json.loads(path.read_text())
        for policy_id, inline, statements, roles in _policies(template):
            for index, statement in enumerate(statements):
                if statement.get("Effect") == "Allow" and predicate(statement, statements, template, roles):
                    found.append(Found(path, policy_id, inline, index, statement))
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    value = statement.get("Action", [])
    return [value] if isinstance(value, str) else list(value)


def mutate(assembly: Path, into: Path, target: Found, *, action: str | None = None) -> Path:
    """A copy of ``assembly`` without ``target`` (or without only its ``action``)."""
    copy = into / "assembly"
    shutil.copytree(assembly, copy, symlinks=True)
    path = copy / target.template.name
    template = json.loads(path.read_text())
    resource = template["Resources"][target.policy_id]["Properties"]
    if target.inline_name is None:
        statements = resource["PolicyDocument"]["Statement"]
    else:
        inline = next(p for p in resource["Policies"] if p["PolicyName"] == target.inline_name)
        statements = inline["PolicyDocument"]["Statement"]
    assert statements[target.index] == target.statement, "the template changed under the test"
    if action is None:
        del statements[target.index]
    else:
        remaining = [a for a in _actions(statements[target.index]) if a != action]
        assert len(remaining) == len(_actions(statements[target.index])) - 1, f"{action} not in the statement"
        statements[target.index]["Action"] = remaining
    if not statements:
        # CloudFormation refuses an empty policy: a policy of one statement (Finalize's execution-history
        # policy) goes as a whole, which nothing else may reference.
        others = {k: v for k, v in template["Resources"].items() if k != target.policy_id}
        if target.inline_name is not None or target.policy_id in json.dumps(others):
            raise AssertionError(f"removing the statement empties {target.policy_id}, which is referenced")
        del template["Resources"][target.policy_id]
    path.write_text(json.dumps(template))
    return copy


def _denied(summary: dict[str, Any]) -> list[str]:
    return list(summary["authorization"]["denied"])


def _causes(summary: dict[str, Any]) -> str:
    parts = [str(e.get("cause") or "") + " " + str(e.get("error") or "") for e in summary["executions"]]
    report = summary.get("report") or {}
    return " ".join(parts) + " " + json.dumps(report.get("error") or {})


def _run(assembly: Path, tmp_path: Path, scenario: str = "success") -> dict[str, Any]:
    workdir = tmp_path / "work"
    workdir.mkdir()
    return run_scenario(scenario, assembly=assembly, workdir=workdir)


def _assert_fails_naming(summary: dict[str, Any], actions: list[str]) -> None:
    assert summary["status"] == "FAILED", (summary["status"], summary["outcome"], _denied(summary))
    denied = _denied(summary)
    named = [a for a in actions if any(f": {a} on " in line for line in denied)]
    assert named, f"none of {actions} was denied; denials: {denied}"


# -- (a), (b), (c): statements named by the brief, found by content -------------------------------------------


def _start_job_policy(statements: list[dict[str, Any]]) -> bool:
    """StartJob's policy: the one that passes a role to Bedrock."""
    return any("iam:PassRole" in _actions(s) for s in statements)


def test_start_job_without_its_kms_statement_fails_with_kms_access_denied(local_assembly: Path, tmp_path: Path) -> None:
    [target] = find_statements(
        local_assembly,
        lambda s, siblings, _t, _r: (
            "kms:CreateGrant" in _actions(s)
            and "bedrock" in json.dumps(s.get("Condition", {}))
            and _start_job_policy(siblings)
        ),
    )
    summary = _run(mutate(local_assembly, tmp_path, target), tmp_path)
    _assert_fails_naming(summary, target.actions)
    assert summary["jobs_started"] == 0
    assert "AccessDenied" in _causes(summary)
    assert "kms:" in _causes(summary)


def test_start_job_without_pass_role_fails_naming_iam_pass_role(local_assembly: Path, tmp_path: Path) -> None:
    # StartJob's PassRole of the customization service role (the judge's evaluate function passes another).
    [target] = find_statements(
        local_assembly,
        lambda s, _siblings, _t, _r: "iam:PassRole" in _actions(s) and "CustomizationServiceRole" in json.dumps(s),
    )
    summary = _run(mutate(local_assembly, tmp_path, target), tmp_path)
    _assert_fails_naming(summary, ["iam:PassRole"])
    assert summary["jobs_started"] == 0
    assert "AccessDenied" in _causes(summary)
    assert "iam:PassRole" in _causes(summary)


def test_service_role_without_reading_training_data_fails_the_job(local_assembly: Path, tmp_path: Path) -> None:
    def service_role_read(s: dict[str, Any], _siblings: Any, template: dict[str, Any], roles: list[str]) -> bool:
        # The customization service role's read of the datasets (the judge's evaluation role reads elsewhere).
        return (
            any("bedrock.amazonaws.com" in _trusted_service(template, r) for r in roles)
            and any(a.startswith("s3:GetObject") for a in _actions(s))
            and "DatasetsBucket" in json.dumps(s.get("Resource"))
        )

    [target] = find_statements(local_assembly, service_role_read)
    summary = _run(mutate(local_assembly, tmp_path, target), tmp_path)
    _assert_fails_naming(summary, ["s3:GetObject"])
    # Bedrock checks the role's access to the training data when the job is created (a ValidationException,
    # docs/bedrock-behaviour.md): the job never starts.
    assert summary["jobs_started"] == 0
    causes = _causes(summary)
    assert "s3:GetObject" in causes or "AccessDenied" in causes, causes


# -- (d): statements the record says `success` needed, picked from the record --------------------------------

# How many statements (d) removes, one run each; spread over the workflow's steps.
PICKS = 6


def _step_roles(assembly: Path) -> set[str]:
    """``<stack>/<role id>`` of every function a state machine's definition invokes: the workflow's steps.

    (Not the state machine role's lambda:InvokeFunction list: it also names the event-driven functions,
    JobEvents and ReconcileJobs, whose failures the reconciler covers by design.)"""
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text()) for path in _templates(assembly)
    }
    # A team stack names the shared functions by the SSM parameters the pipeline stack writes (bft.registry):
    # parameter name -> (stack, function logical id).
    published: dict[str, tuple[str, str]] = {}
    for stack, template in templates.items():
        for resource in template["Resources"].values():
            value = resource.get("Properties", {}).get("Value")
            if resource.get("Type") == "AWS::SSM::Parameter" and isinstance(value, dict) and "Fn::GetAtt" in value:
                published[resource["Properties"]["Name"]] = (stack, value["Fn::GetAtt"][0])
    roles: set[str] = set()
    for stack, template in templates.items():
        for resource in template["Resources"].values():
            if resource.get("Type") != "AWS::StepFunctions::StateMachine":
                continue
            definition = json.dumps(resource["Properties"].get("DefinitionString"))
            targets = [(stack, ref.split('"')[1]) for ref in definition.split('"Fn::GetAtt": [')[1:]]
            for ref in definition.split('"Ref": ')[1:]:
                parameter = template.get("Parameters", {}).get(ref.split('"')[1], {})
                if parameter.get("Default") in published:
                    targets.append(published[parameter["Default"]])
            for target_stack, logical_id in targets:
                target = templates[target_stack]["Resources"].get(logical_id, {})
                role = (
                    target.get("Properties", {}).get("Role", {})
                    if target.get("Type") == "AWS::Lambda::Function"
                    else {}
                )
                if isinstance(role, dict) and "Fn::GetAtt" in role:
                    roles.add(f"{target_stack}/{role['Fn::GetAtt'][0]}")
    return roles


@pytest.fixture(scope="module")
def success_record(local_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, int, list[str]]]:
    """(policy source, statement index, the actions it alone allowed) for statements of the workflow's steps
    that the clean `success` run needed, each the only identity statement that allowed some call."""
    captured: dict[str, Any] = {}

    def keep(env: Any) -> None:
        captured["store"], captured["records"] = env.store, list(env.authorizer.records)

    summary = run_scenario("success", assembly=local_assembly, workdir=tmp_path_factory.mktemp("clean"), on_finish=keep)
    assert summary["status"] == "SUCCEEDED"
    assert summary["authorization"]["calls_denied"] == 0
    report = measure(captured["store"], captured["records"])
    steps = _step_roles(local_assembly)
    assert steps, "no state machine invokes a function: the template changed shape"
    # One statement per role first (spread over the steps), then the rest, in a stable order.
    by_role: dict[tuple[str, ...], list[tuple[str, int, list[str]]]] = {}
    for statement in report.needed:
        sole = sorted(report.used[statement.key].sole_actions)
        if sole and set(statement.roles) <= steps:
            by_role.setdefault(statement.roles, []).append((statement.source, statement.index, sole))
    spread = [items[0] for items in by_role.values()] + [i for items in by_role.values() for i in items[1:]]
    return spread


@pytest.mark.parametrize("pick", range(PICKS))
def test_a_statement_success_needed_cannot_be_removed(
    pick: int, local_assembly: Path, tmp_path: Path, success_record: list[tuple[str, int, list[str]]]
) -> None:
    if pick >= len(success_record):
        pytest.skip(f"the record has only {len(success_record)} statements to remove")
    source, index, sole_actions = success_record[pick]
    stack, policy_id = source.split("/", 1)
    [target] = [
        f
        for f in find_statements(local_assembly, lambda *_: True)
        if f.template.name == f"{stack}.template.json" and f.policy_id == policy_id and f.index == index
    ]
    summary = _run(mutate(local_assembly, tmp_path, target), tmp_path)
    _assert_fails_naming(summary, sole_actions)
    assert "AccessDenied" in _causes(summary), _causes(summary)


def test_a_state_machine_role_without_lambda_invoke_fails_as_step_functions_names_it(
    local_assembly: Path, tmp_path: Path
) -> None:
    """Step Functions names a Lambda service error of a lambda:invoke task by the Lambda client's exception class:
    an AccessDeniedException (which Lambda's Invoke does not model) is ``Lambda.AWSLambdaException``, as AWS
    reports it (docs/bedrock-behaviour.md#lambda-task-errors), not moto's ``Lambda.AccessDeniedException``."""

    def machine_invoke(s: dict[str, Any], _siblings: Any, template: dict[str, Any], roles: list[str]) -> bool:
        return "lambda:InvokeFunction" in _actions(s) and any(
            "states.amazonaws.com" in _trusted_service(template, r) for r in roles
        )

    targets = find_statements(local_assembly, machine_invoke)
    assert targets, "no state machine role grants lambda:InvokeFunction"
    assert len(targets) == 1, targets  # one workflow role (per environment), one statement of invokes
    summary = _run(mutate(local_assembly, tmp_path, targets[0]), tmp_path)
    assert summary["status"] == "FAILED"
    assert summary["jobs_started"] == 0
    assert any(": lambda:InvokeFunction on " in line for line in _denied(summary)), _denied(summary)
    causes = _causes(summary)
    assert "Lambda.AWSLambdaException" in causes, causes
    assert "Lambda.AccessDeniedException" not in causes
    assert "Error Code: AccessDeniedException" in causes
