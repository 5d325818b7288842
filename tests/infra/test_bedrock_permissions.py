"""The workflow's Bedrock and KMS permissions as synthesized: keys for custom models, tag conditions on
existing resources, tagging only at creation (the security review's items 1, 2, 4 and 5)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bft.config import load_config
from tests.conftest import CONFIG, Assembly, resources

PROJECT = "bedrock-fine-tuning"
# Actions on existing resources, and the resource types whose aws:ResourceTag the Service Authorization
# Reference lists for them (foundation-model has none, so no condition is expected there).
TAG_CONDITIONED = {
    "bedrock:StopModelCustomizationJob": {"model-customization-job"},
    "bedrock:DeleteCustomModel": {"custom-model"},
    "bedrock:DeleteProvisionedModelThroughput": {"provisioned-model"},
    "bedrock:DeleteCustomModelDeployment": {"custom-model-deployment"},
    "bedrock:CreateProvisionedModelThroughput": {"custom-model"},
    "bedrock:CreateCustomModelDeployment": {"custom-model"},
    # Promotion in place: the team's endpoint, and the model it is pointed at (docs/authorization-actions.md).
    "bedrock:UpdateCustomModelDeployment": {"custom-model-deployment", "custom-model"},
    "bedrock:InvokeModel": {"provisioned-model", "custom-model-deployment"},
}
RESOURCE_TYPES = ("model-customization-job", "custom-model-deployment", "custom-model", "provisioned-model")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def arn_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(arn_text(part) for part in value["Fn::Join"][1])
    return json.dumps(value)


def resource_type(value: Any) -> str | None:
    text = arn_text(value)
    if ":foundation-model/" in text:
        return "foundation-model"
    for kind in RESOURCE_TYPES:  # custom-model-deployment before custom-model
        if f":{kind}/" in text:
            return kind
    return None


def role_statements(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Statements of every IAM policy, by the logical id of each role it is attached to."""
    found: dict[str, list[dict[str, Any]]] = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        for role in policy["Properties"]["Roles"]:
            found.setdefault(role["Ref"], []).extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def statements_of(template: dict[str, Any], fragment: str) -> list[dict[str, Any]]:
    (role,) = [r for r in resources(template, "AWS::IAM::Role") if fragment in r]
    return role_statements(template)[role]


def model_key(assembly: Assembly) -> Any:
    from bft.config import resource_prefix

    config = load_config(assembly.env)
    return config.custom_model_kms_key_arn or {"Fn::ImportValue": f"{resource_prefix(config)}-DataKeyArn"}


def kms_via_bedrock(statements: list[dict[str, Any]], region: str) -> set[str]:
    """KMS actions granted through Bedrock only."""
    return {
        action
        for s in statements
        if s.get("Condition") == {"StringEquals": {"kms:ViaService": f"bedrock.{region}.amazonaws.com"}}
        for action in as_list(s["Action"])
    }


def test_start_job_may_encrypt_the_custom_model_with_its_key(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    statements = statements_of(assembly.template("Pipeline"), "StartJobRole")
    via = [s for s in statements if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    granted = kms_via_bedrock(via, config.region)
    assert granted >= {"kms:CreateGrant", "kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"}, via
    for statement in via:
        if statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService", "").startswith("bedrock."):
            assert statement["Resource"] == model_key(assembly)


@pytest.mark.parametrize("step", ["CreateServingRole", "EvaluateRole", "PromoteRole"])
def test_steps_that_use_the_custom_model_may_decrypt_with_its_key(assembly: Assembly, step: str) -> None:
    config = load_config(assembly.env)
    statements = statements_of(assembly.template("Pipeline"), step)
    via = [s for s in statements if s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")]
    bedrock = [s for s in via if s["Condition"]["StringEquals"]["kms:ViaService"].startswith("bedrock.")]
    assert kms_via_bedrock(bedrock, config.region) >= {"kms:Decrypt", "kms:GenerateDataKey"}, step
    assert all(s["Resource"] == model_key(assembly) for s in bedrock)
    assert not {"kms:CreateGrant"} & kms_via_bedrock(bedrock, config.region), "only the creator makes grants"


def test_cleanup_deletes_without_the_model_key(assembly: Assembly) -> None:
    """Stopping a job and deleting a throughput or model use no key material (encryption-custom-job lists key
    permissions for a model's creator and users only); the offline least-privilege measurement showed every
    failure path deletes without it."""
    via = [
        s
        for s in statements_of(assembly.template("Pipeline"), "CleanupRole")
        if "kms:ViaService" in s.get("Condition", {}).get("StringEquals", {})
    ]
    assert via == []


def test_the_data_key_policy_delegates_to_the_accounts_iam_policies(assembly: Assembly) -> None:
    """The data key is imported by ARN in the pipeline stack, where CDK cannot edit its policy: the identity
    policies above work because the key policy's only statement lets the account's IAM policies decide."""
    key = assembly.template("Data")["Resources"]["DataKey"]["Properties"]["KeyPolicy"]
    (statement,) = key["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "kms:*"
    assert arn_text(statement["Principal"]["AWS"]).endswith(":root")
    assert "Condition" not in statement


def test_existing_bedrock_resources_are_reached_only_through_their_tags(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    template = assembly.template("Pipeline")
    seen: set[str] = set()
    for role, statements in role_statements(template).items():
        for statement in statements:
            if statement["Effect"] != "Allow":
                continue
            for action in set(as_list(statement["Action"])) & set(TAG_CONDITIONED):
                kinds = {resource_type(r) for r in as_list(statement["Resource"])}
                if not kinds & TAG_CONDITIONED[action]:
                    continue
                seen.add(action)
                equals = statement.get("Condition", {}).get("StringEquals", {})
                assert equals.get("aws:ResourceTag/project") == PROJECT, (role, action)
                assert equals.get("aws:ResourceTag/environment") == config.name, (role, action)
                if "SubmitterRole" in role:
                    assert equals.get("aws:ResourceTag/team"), (role, action)
                # One statement, one kind of check: no resource type without the tag key in it.
                assert "foundation-model" not in kinds, (role, action)
    assert seen == set(TAG_CONDITIONED), f"not granted anywhere: {set(TAG_CONDITIONED) - seen}"


def test_foundation_models_carry_no_resource_tag_condition(assembly: Assembly) -> None:
    for role, statements in role_statements(assembly.template("Pipeline")).items():
        for statement in statements:
            if "foundation-model" in {resource_type(r) for r in as_list(statement.get("Resource", []))}:
                text = json.dumps(statement.get("Condition", {}))
                assert "aws:ResourceTag" not in text, (role, statement)


def test_tag_resource_only_when_creating_with_the_pipelines_tags(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    tagging = [
        (role, s)
        for role, statements in role_statements(assembly.template("Pipeline")).items()
        for s in statements
        if "bedrock:TagResource" in as_list(s["Action"])
    ]
    roles = resources(assembly.template("Pipeline"), "AWS::IAM::Role")
    # The Evaluate function tags the LLM judge's evaluation jobs, where the environment allows a judge.
    creators = ("StartJobRole", "CreateServingRole", "PromoteRole", *(("EvaluateRole",) if config.judge_models else ()))
    assert {role for role, _ in tagging} == {r for r in roles if any(name in r for name in creators)}
    for role, statement in tagging:
        assert as_list(statement["Action"]) == ["bedrock:TagResource"], role
        condition = statement["Condition"]
        if condition.get("Null") == {"aws:ResourceTag/endpoint": "false"}:
            # The record of a team endpoint's previous model (bft.workflow.promotion): its two keys only, on an
            # endpoint of this pipeline and environment that exists.
            assert "PromoteRole" in role
            assert condition["StringEquals"] == {
                "aws:ResourceTag/project": PROJECT,
                "aws:ResourceTag/environment": config.name,
            }
            assert condition["ForAllValues:StringEquals"] == {
                "aws:TagKeys": ["previous-model", "pending-previous-model"]
            }
            assert {resource_type(r) for r in as_list(statement["Resource"])} == {"custom-model-deployment"}
            continue
        assert condition["StringEquals"] == {
            "aws:RequestTag/project": PROJECT,
            "aws:RequestTag/environment": config.name,
        }, role
        # A throughput also carries the reaper's time-to-live, a team's endpoint its name; nothing else.
        extra = {"ttl-hours"} if "CreateServingRole" in role else {"endpoint"} if "PromoteRole" in role else set()
        assert (
            set(condition["ForAllValues:StringEquals"]["aws:TagKeys"])
            == {
                "project",
                "environment",
                "team",
                "request",
            }
            | extra
        )
        assert condition["Null"] == {"aws:ResourceTag/project": "true"}, "an already tagged resource is not re-tagged"
        assert "foundation-model" not in {resource_type(r) for r in as_list(statement["Resource"])}


def test_a_configured_custom_model_key_replaces_the_data_key(tmp_path: Any) -> None:
    import shutil

    from bft.synth import synth

    key = "arn:aws:kms:us-west-2:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    config_dir = tmp_path / "config"
    shutil.copytree(CONFIG, config_dir)
    text = (config_dir / "dev.yaml").read_text()
    (config_dir / "dev.yaml").write_text(text + f"custom_model_kms_key_arn: {key}\n")
    out = synth("dev", tmp_path / "out", config_dir=config_dir)
    (pipeline,) = [json.loads(p.read_text()) for p in out.glob("*Pipeline.template.json")]
    for step in ("StartJobRole", "CreateServingRole", "EvaluateRole"):
        bedrock = [
            s
            for s in statements_of(pipeline, step)
            if s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService") == "bedrock.us-west-2.amazonaws.com"
        ]
        assert bedrock, step
        assert all(s["Resource"] == key for s in bedrock), step
