"""Security properties of every synthesized environment (the foundation's "done when")."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from bft.config import load_config
from tests.conftest import CONFIG, Assembly, resources


def _statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        docs = []
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            docs.append(props["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            docs.extend(p["PolicyDocument"] for p in props.get("Policies", []))
        if resource["Type"] in ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy"):
            docs.append(props["PolicyDocument"])
        for doc in docs:
            found.extend((logical_id, statement) for statement in doc["Statement"])
    return found


def test_no_iam_statement_allows_a_wildcard_action(assembly: Assembly) -> None:
    for name, template in assembly.templates().items():
        for logical_id, statement in _statements(template):
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if statement["Effect"] == "Allow":
                assert "*" not in actions, f"{name}/{logical_id} allows every action"
                assert not [a for a in actions if a.endswith(":*")], f"{name}/{logical_id}: service-wide action"


def test_no_managed_full_access_policy(assembly: Assembly) -> None:
    for name, template in assembly.templates().items():
        text = json.dumps(template)
        assert "FullAccess" not in text, f"{name} attaches a *FullAccess managed policy"
        assert "AdministratorAccess" not in text, name


def test_every_bucket_is_encrypted_private_versioned_and_tls_only(assembly: Assembly) -> None:
    data = assembly.template("Data")
    buckets = resources(data, "AWS::S3::Bucket")
    assert set(buckets) == {"DatasetsBucket", "OutputsBucket", "ReportsBucket", "AccessLogsBucket"}
    policies = {
        json.dumps(p["Properties"]["Bucket"]): p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources(data, "AWS::S3::BucketPolicy").values()
    }
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        if logical_id == "AccessLogsBucket":
            assert sse["SSEAlgorithm"] == "AES256"  # the only encryption S3 log delivery supports
        else:
            assert sse == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["DataKey", "Arn"]}}, logical_id
            assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}
        rules = props["LifecycleConfiguration"]["Rules"]
        assert any("NoncurrentVersionExpiration" in r for r in rules), logical_id
        statements = policies[json.dumps({"Ref": logical_id})]
        deny_tls = [
            s
            for s in statements
            if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert deny_tls, f"{logical_id} accepts non-TLS requests"
        assert deny_tls[0]["Action"] == "s3:*", logical_id


def test_data_key_rotates(assembly: Assembly) -> None:
    Template.from_json(assembly.template("Data")).has_resource(
        "AWS::KMS::Key",
        {
            "Properties": Match.object_like({"EnableKeyRotation": True}),
        },
    )


def test_production_retains_data(assemblies: dict[str, Assembly]) -> None:
    for env, assembly in assemblies.items():
        config = load_config(env)
        data = assembly.template("Data")
        stateful = {**resources(data, "AWS::S3::Bucket"), **resources(data, "AWS::KMS::Key")}
        for logical_id, resource in stateful.items():
            if config.production or not config.data_retention.auto_delete_objects:
                assert resource["DeletionPolicy"] == "Retain", f"{env}/{logical_id}"
                assert resource["UpdateReplacePolicy"] == "Retain", f"{env}/{logical_id}"
        auto_delete = resources(data, "Custom::S3AutoDeleteObjects")
        assert bool(auto_delete) == config.data_retention.auto_delete_objects, env
        if config.production:
            assert not auto_delete


def test_customization_role_trusts_only_bedrock_jobs_of_this_account(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    # Env-agnostic templates use pseudo parameters; an environment with an account pins it.
    account = config.account or {"Ref": "AWS::AccountId"}
    tail = f":bedrock:{config.region}:{config.account}" if config.account else ""
    job_arns = {"Fn::Join": ["", Match.array_with([Match.string_like_regexp(f"{tail}:model-customization-job/\\*$")])]}
    pipeline = Template.from_json(assembly.template("Pipeline"))
    pipeline.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "bedrock.amazonaws.com"},
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": account},
                            "ArnLike": {"aws:SourceArn": job_arns},
                        },
                    }
                ],
            },
        },
    )


def test_customization_role_reads_datasets_writes_outputs_only(assembly: Assembly) -> None:
    pipeline = assembly.template("Pipeline")
    role_id = next(k for k, v in resources(pipeline, "AWS::IAM::Role").items() if "CustomizationServiceRole" in k)
    policy = next(
        v for v in resources(pipeline, "AWS::IAM::Policy").values() if v["Properties"]["Roles"] == [{"Ref": role_id}]
    )
    writes: list[Any] = []
    reads: list[Any] = []
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if any(a.startswith("s3:Put") for a in actions):
            writes.extend(targets)
        if any(a.startswith("s3:GetObject") for a in actions):
            reads.extend(targets)
        if any(a.startswith("kms:") for a in actions):
            assert targets[0] == {"Fn::ImportValue": f"{_prefix(assembly)}-DataKeyArn"}
    text = json.dumps(writes)
    assert "OutputsBucketArn" in text
    assert "DatasetsBucketArn" not in text
    assert "ReportsBucketArn" not in text
    assert "ReportsBucketArn" not in json.dumps(reads)


def test_everything_is_tagged_with_project_and_environment(assembly: Assembly) -> None:
    for name, template in assembly.templates().items():
        tagged = [r for r in template["Resources"].values() if "Tags" in r.get("Properties", {})]
        assert tagged, name
        for resource in tagged:
            tags = resource["Properties"]["Tags"]
            pairs = {t["Key"]: t["Value"] for t in tags} if isinstance(tags, list) else tags
            assert pairs.get("project") == "bedrock-fine-tuning", name
            assert pairs.get("environment") == assembly.env, name


def test_stateful_logical_ids_are_stable(assembly: Assembly) -> None:
    assert {"DataKey", "DatasetsBucket", "OutputsBucket", "ReportsBucket", "AccessLogsBucket"} <= set(
        assembly.template("Data")["Resources"]
    )


@pytest.mark.parametrize("env", ["dev"])
def test_permissions_boundary_applies_to_every_role(env: str, tmp_path: Any) -> None:
    import shutil

    config_dir = tmp_path / "config"
    shutil.copytree(CONFIG, config_dir)
    text = (config_dir / f"{env}.yaml").read_text()
    boundary = "arn:aws:iam::111111111111:policy/platform-boundary"
    (config_dir / f"{env}.yaml").write_text(text + f"permissions_boundary_arn: {boundary}\n")
    out = _synth_with_config(env, config_dir, tmp_path / "out")
    for template in out.values():
        for role in resources(template, "AWS::IAM::Role").values():
            assert role["Properties"]["PermissionsBoundary"] == boundary


def _synth_with_config(env: str, config_dir: Any, outdir: Any) -> dict[str, dict[str, Any]]:
    from bft.synth import synth

    synth(env, outdir, config_dir=config_dir)
    return {p.name: json.loads(p.read_text()) for p in outdir.glob("*.template.json")}


def _prefix(assembly: Assembly) -> str:
    from bft.config import resource_prefix

    return resource_prefix(load_config(assembly.env))


def test_alarms_may_publish_to_the_encrypted_topic(assembly: Assembly) -> None:
    """A topic policy replaces SNS's default one: with only the TLS Deny, CloudWatch alarms never deliver."""
    config = load_config(assembly.env)
    template = assembly.template("Pipeline")
    (topic,) = resources(template, "AWS::SNS::Topic")
    (policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert [d["Condition"] for d in deny] == [{"Bool": {"aws:SecureTransport": "false"}}], "TLS-only stays"
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Resource"] == {"Ref": topic}
    account = config.account or {"Ref": "AWS::AccountId"}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    source = allow["Condition"]["ArnLike"]["aws:SourceArn"]
    text = "".join(p if isinstance(p, str) else f"<{p['Ref']}>" for p in source["Fn::Join"][1])
    assert text == f"arn:<AWS::Partition>:cloudwatch:{config.region}:{config.account or '<AWS::AccountId>'}:alarm:*"
    # ... and may use the topic's key, under the same conditions.
    key_id = template["Resources"][topic]["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key_statements = template["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
    (cloudwatch,) = [s for s in key_statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"] == allow["Condition"]
    # Each team's alarms publish to this topic, found through the registry parameter the pipeline writes.
    for team_template in assembly.team_templates().values():
        (parameter,) = [
            name
            for name, p in team_template["Parameters"].items()
            if p.get("Default") == f"/bft/{config.name}/shared/topic-arn"
        ]
        # ... and to the team's own alarm topic where it has one (tests/infra/test_platform_view.py).
        own = [{"Ref": topic} for topic in resources(team_template, "AWS::SNS::Topic")]
        for alarm in resources(team_template, "AWS::CloudWatch::Alarm").values():
            assert alarm["Properties"]["AlarmActions"] == [{"Ref": parameter}, *own]


def test_every_stack_is_pinned_to_the_configured_region(assembly: Assembly) -> None:
    """Guardrails (policy document, ARNs, kms:ViaService) assume the config's region: the stacks may not
    follow whatever region the deploying CLI points at."""
    config = load_config(assembly.env)
    manifest = json.loads((assembly.path / "manifest.json").read_text())
    stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    assert len(stacks) == 2 + len(config.teams)  # data, pipeline, one per team
    for stack in stacks:
        assert stack["environment"] == f"aws://{config.account or 'unknown-account'}/{config.region}"
    for name, template in assembly.templates().items():
        assert '{"Ref": "AWS::Region"}' not in json.dumps(template), f"{name} still follows the deploying region"


def test_team_emails_receive_only_their_teams_messages(assembly: Assembly) -> None:
    """Each team's addresses are subscribed with a filter policy on the `team` attribute every publisher sets;
    the platform's addresses keep receiving everything (no filter)."""
    config = load_config(assembly.env)
    subscriptions = [s["Properties"] for s in assembly.resources("AWS::SNS::Subscription").values()]
    by_email = {s["Endpoint"]: s.get("FilterPolicy") for s in subscriptions if s["Protocol"] == "email"}
    for email in config.notification_emails:
        assert by_email[email] is None
    for team in config.teams:
        for email in team.notification_emails:
            if email not in config.notification_emails:
                assert by_email[email]["team"] == [team.name], (email, by_email[email])
