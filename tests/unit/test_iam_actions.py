"""The mapper from an AWS API call to the IAM authorization requests AWS makes for it."""

from __future__ import annotations

import ast
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from bft_twin.iam.actions import (
    MAPPED_OPERATIONS,
    ActionRequest,
    Call,
    ResourceRef,
    auth_requests,
    function_url_requests,
    pass_role,
)
from bft_twin.iam.model import Undecidable, Unknown

R, A = "us-west-2", "123456789012"
KEY = f"arn:aws:kms:{R}:{A}:key/1111"
KEY2 = f"arn:aws:kms:{R}:{A}:key/2222"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FakeWorld:
    """An in-memory World: every answer is a dict the test fills in."""

    default_keys: dict[str, str] = field(default_factory=dict)
    bucket_keys: set[str] = field(default_factory=set)
    object_keys: dict[tuple[str, str], str] = field(default_factory=dict)
    topic_keys: dict[str, str] = field(default_factory=dict)
    table_keys: dict[str, str] = field(default_factory=dict)
    partition_keys: dict[str, str] = field(default_factory=dict)
    parameter_keys: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    bedrock: dict[tuple[str, str], str] = field(default_factory=dict)
    model_keys: dict[str, str] = field(default_factory=dict)
    served: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def bucket_default_kms_key(self, bucket: str) -> str | None:
        return self.default_keys.get(bucket)

    def bucket_key_enabled(self, bucket: str) -> bool:
        return bucket in self.bucket_keys

    def object_kms_key(self, bucket: str, key: str, version_id: str | None) -> str | None:
        return self.object_keys.get((bucket, key))

    def topic_kms_key(self, topic_arn: str) -> str | None:
        return self.topic_keys.get(topic_arn)

    def table_kms_key(self, table: str) -> str | None:
        return self.table_keys.get(table)

    def table_partition_key(self, table: str) -> str:
        return self.partition_keys.get(table, "pk")

    def parameter_kms_key(self, name: str) -> str | None:
        return self.parameter_keys.get(name)

    def kms_key_arn(self, key_id: str) -> str:
        if key_id.startswith("arn:aws:kms:") and ":key/" in key_id:
            return key_id
        return self.aliases[key_id]

    def resource_tags(self, arn: str) -> Mapping[str, str]:
        return self.tags.get(arn, {})

    def bedrock_arn(self, identifier: str, kind: str) -> str | None:
        if identifier.startswith("arn:"):
            return identifier if f":{kind}/" in identifier else None
        return self.bedrock.get((kind, identifier))

    def custom_model_kms_key(self, model_arn: str) -> str | None:
        return self.model_keys.get(model_arn)

    def serving_model(self, arn: str) -> str | None:
        return self.served.get(arn)

    def task_token_state_machine(self, token: str) -> str | None:
        return self.tokens.get(token)

    def stack_arn(self, name: str) -> str:
        return f"arn:aws:cloudformation:{R}:{A}:stack/{name}/abc"


def call(service: str, operation: str, **params: Any) -> Call:
    return Call(service=service, operation=operation, params=params, region=R, account=A)


def kms(action: str, key: str, via: str, context: dict[str, str], why: str | None = None) -> ActionRequest:
    expected: dict[str, Any] = {"kms:CallerAccount": A, "kms:ViaService": f"{via}.{R}.amazonaws.com"}
    expected.update({f"kms:EncryptionContext:{k}": v for k, v in context.items()})
    if context:
        expected["kms:EncryptionContextKeys"] = list(context)
    return ActionRequest(action, key, expected, ResourceRef("kms-key", key), context, why, f"{via}.amazonaws.com")


def essentials(requests: list[ActionRequest]) -> list[tuple[str, str]]:
    return [(r.action, r.resource) for r in requests]


# -- S3 ----------------------------------------------------------------------------------------------


def test_s3_get_of_sse_kms_object_needs_decrypt_via_s3_with_the_object_arn() -> None:
    world = FakeWorld(object_keys={("data", "t/a.jsonl"): KEY})
    requests = auth_requests(call("s3", "GetObject", Bucket="data", Key="t/a.jsonl"), world)
    bucket = ResourceRef("s3-bucket", "arn:aws:s3:::data")
    assert requests[0] == ActionRequest("s3:GetObject", "arn:aws:s3:::data/t/a.jsonl", {}, bucket)
    assert requests[1] == kms(
        "kms:Decrypt", KEY, "s3", {"aws:s3:arn": "arn:aws:s3:::data/t/a.jsonl"}, "SSE-KMS object read via S3"
    )
    assert len(requests) == 2


def test_s3_versioned_get_head_and_bucket_keys() -> None:
    world = FakeWorld(object_keys={("data", "k"): KEY}, bucket_keys={"data"})
    versioned = auth_requests(call("s3", "GetObject", Bucket="data", Key="k", VersionId="v1"), world)
    assert versioned[0].action == "s3:GetObjectVersion"
    assert versioned[1].encryption_context == {"aws:s3:arn": "arn:aws:s3:::data"}  # Bucket Key: bucket ARN
    head = auth_requests(call("s3", "HeadObject", Bucket="data", Key="k"), world)
    assert essentials(head) == [("s3:GetObject", "arn:aws:s3:::data/k"), ("kms:Decrypt", KEY)]
    assert auth_requests(call("s3", "GetObject", Bucket="plain", Key="k"), FakeWorld())[1:] == []


def test_s3_put_uses_the_bucket_default_key_or_the_requested_one() -> None:
    world = FakeWorld(default_keys={"out": KEY}, aliases={"alias/other": KEY2})
    default = auth_requests(call("s3", "PutObject", Bucket="out", Key="r.json", Body=b"{}"), world)
    assert default[0].context == {}
    assert default[1] == kms(
        "kms:GenerateDataKey",
        KEY,
        "s3",
        {"aws:s3:arn": "arn:aws:s3:::out/r.json"},
        "SSE-KMS object write via S3 (PutObject)",
    )
    chosen = auth_requests(
        call("s3", "PutObject", Bucket="out", Key="r", ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/other"),
        world,
    )
    assert chosen[0].context == {
        "s3:x-amz-server-side-encryption": "aws:kms",
        "s3:x-amz-server-side-encryption-aws-kms-key-id": "alias/other",
    }
    assert chosen[1].resource == KEY2
    assert chosen[1].resource_policy == ResourceRef("kms-key", KEY2)
    sse_s3 = auth_requests(call("s3", "PutObject", Bucket="out", Key="r", ServerSideEncryption="AES256"), world)
    assert essentials(sse_s3) == [("s3:PutObject", "arn:aws:s3:::out/r")]


def test_s3_multipart_list_delete_copy_location() -> None:
    world = FakeWorld(default_keys={"d": KEY}, object_keys={("src", "a"): KEY2})
    assert [r.action for r in auth_requests(call("s3", "CreateMultipartUpload", Bucket="d", Key="k"), world)] == [
        "s3:PutObject",
        "kms:GenerateDataKey",
    ]
    part = call("s3", "UploadPart", Bucket="d", Key="k", UploadId="u", PartNumber=1, Body=b"x")
    assert [r.action for r in auth_requests(part, world)] == ["s3:PutObject", "kms:Decrypt"]
    done = call("s3", "CompleteMultipartUpload", Bucket="d", Key="k", UploadId="u")
    assert [r.action for r in auth_requests(done, world)] == ["s3:PutObject", "kms:Decrypt"]
    abort = auth_requests(call("s3", "AbortMultipartUpload", Bucket="d", Key="k", UploadId="u"), world)
    assert essentials(abort) == [("s3:AbortMultipartUpload", "arn:aws:s3:::d/k")]
    listing = auth_requests(call("s3", "ListObjectsV2", Bucket="d", Prefix="t/", Delimiter="/", MaxKeys=10), world)
    assert listing == [
        ActionRequest(
            "s3:ListBucket",
            "arn:aws:s3:::d",
            {"s3:prefix": "t/", "s3:delimiter": "/", "s3:max-keys": 10},
            ResourceRef("s3-bucket", "arn:aws:s3:::d"),
        )
    ]
    assert auth_requests(call("s3", "ListObjects", Bucket="d"), world)[0].context == {"s3:prefix": ""}
    deleted = auth_requests(call("s3", "DeleteObject", Bucket="d", Key="k", VersionId="v"), world)
    assert essentials(deleted) == [("s3:DeleteObjectVersion", "arn:aws:s3:::d/k")]
    location = auth_requests(call("s3", "GetBucketLocation", Bucket="d"), world)
    assert essentials(location) == [("s3:GetBucketLocation", "arn:aws:s3:::d")]
    copy = auth_requests(call("s3", "CopyObject", Bucket="d", Key="k2", CopySource="src/a"), world)
    assert essentials(copy) == [
        ("s3:GetObject", "arn:aws:s3:::src/a"),
        ("kms:Decrypt", KEY2),
        ("s3:PutObject", "arn:aws:s3:::d/k2"),
        ("kms:GenerateDataKey", KEY),
    ]
    assert copy[0].resource_policy == ResourceRef("s3-bucket", "arn:aws:s3:::src")


# -- DynamoDB ----------------------------------------------------------------------------------------


TABLE_ARN = f"arn:aws:dynamodb:{R}:{A}:table/State"


def test_dynamodb_item_calls_carry_leading_keys_tags_and_table_key() -> None:
    world = FakeWorld(table_keys={"State": KEY}, tags={TABLE_ARN: {"team": "a"}})
    put = auth_requests(call("dynamodb", "PutItem", TableName="State", Item={"pk": "run#1", "status": "x"}), world)
    assert put[0] == ActionRequest(
        "dynamodb:PutItem",
        TABLE_ARN,
        {"dynamodb:LeadingKeys": ["run#1"], "dynamodb:Attributes": ["pk", "status"], "aws:ResourceTag/team": "a"},
        None,
    )
    assert put[1] == kms(
        "kms:Decrypt",
        KEY,
        "dynamodb",
        {"aws:dynamodb:tableName": "State", "aws:dynamodb:subscriberId": A},
        "table encrypted with a customer managed key, read or written via DynamoDB",
    )
    typed = auth_requests(
        call("dynamodb", "UpdateItem", TableName="State", Key={"pk": {"S": "run#2"}}, ReturnValues="ALL_NEW"), world
    )
    assert typed[0].context["dynamodb:LeadingKeys"] == ["run#2"]
    assert typed[0].context["dynamodb:ReturnValues"] == "ALL_NEW"
    described = auth_requests(call("dynamodb", "DescribeTable", TableName="State"), world)
    assert essentials(described) == [("dynamodb:DescribeTable", TABLE_ARN)]


def test_dynamodb_query_resolves_the_partition_key_equality_and_the_index() -> None:
    world = FakeWorld(partition_keys={"State": "team"})
    query = call(
        "dynamodb",
        "Query",
        TableName="State",
        IndexName="byStatus",
        KeyConditionExpression="#s = :s AND #t = :t",
        ExpressionAttributeNames={"#t": "team", "#s": "status"},
        ExpressionAttributeValues={":t": {"S": "alpha"}, ":s": {"S": "open"}},
    )
    (request,) = auth_requests(query, world)
    assert request.resource == f"{TABLE_ARN}/index/byStatus"
    assert request.context["dynamodb:LeadingKeys"] == ["alpha"]
    with pytest.raises(Undecidable, match="partition key"):
        auth_requests(call("dynamodb", "Query", TableName="State", KeyConditionExpression="other = :x"), world)


def test_dynamodb_batch_and_transactions_are_one_request_per_table_and_action() -> None:
    world = FakeWorld()
    batch = call(
        "dynamodb",
        "BatchWriteItem",
        RequestItems={
            "State": [{"PutRequest": {"Item": {"pk": "a"}}}, {"DeleteRequest": {"Key": {"pk": "b"}}}],
            "Other": [{"PutRequest": {"Item": {"pk": "c"}}}],
        },
    )
    requests = auth_requests(batch, world)
    assert [(r.resource, r.context["dynamodb:LeadingKeys"]) for r in requests] == [
        (TABLE_ARN, ["a", "b"]),
        (f"arn:aws:dynamodb:{R}:{A}:table/Other", ["c"]),
    ]
    transact = call(
        "dynamodb",
        "TransactWriteItems",
        TransactItems=[
            {"Put": {"TableName": "State", "Item": {"pk": "a"}}},
            {"Put": {"TableName": "State", "Item": {"pk": "b"}}},
            {"Update": {"TableName": "State", "Key": {"pk": "c"}, "UpdateExpression": "SET x = :x"}},
        ],
    )
    assert [(r.action, r.context["dynamodb:LeadingKeys"]) for r in auth_requests(transact, world)] == [
        ("dynamodb:PutItem", ["a", "b"]),
        ("dynamodb:UpdateItem", ["c"]),
    ]
    get = call("dynamodb", "BatchGetItem", RequestItems={"State": {"Keys": [{"pk": "x"}]}})
    assert auth_requests(get, world)[0].action == "dynamodb:BatchGetItem"


# -- Step Functions ----------------------------------------------------------------------------------

MACHINE = f"arn:aws:states:{R}:{A}:stateMachine:Team-a"


def test_stepfunctions_machine_execution_and_callback_resources() -> None:
    world = FakeWorld(tags={MACHINE: {"team": "a"}}, tokens={"tok": MACHINE})
    started = auth_requests(call("stepfunctions", "StartExecution", stateMachineArn=MACHINE, input="{}"), world)
    assert started == [ActionRequest("states:StartExecution", MACHINE, {"aws:ResourceTag/team": "a"}, None)]
    execution = f"arn:aws:states:{R}:{A}:execution:Team-a:r-1"
    for op in ("DescribeExecution", "GetExecutionHistory", "StopExecution"):
        (request,) = auth_requests(call("stepfunctions", op, executionArn=execution), world)
        assert (request.action, request.resource, dict(request.context)) == (
            f"states:{op}",
            execution,
            {"aws:ResourceTag/team": "a"},
        )
    listed = auth_requests(call("stepfunctions", "ListExecutions", stateMachineArn=MACHINE), world)
    assert essentials(listed) == [("states:ListExecutions", MACHINE)]
    for op in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"):
        (request,) = auth_requests(call("stepfunctions", op, taskToken="tok", output="{}"), world)
        assert (request.action, request.resource) == (f"states:{op}", MACHINE)
    (unknown,) = auth_requests(call("stepfunctions", "SendTaskSuccess", taskToken="forged", output="{}"), world)
    assert unknown.resource == "*"


# -- SNS, SSM, Lambda, EventBridge, CloudFormation ----------------------------------------------------

TOPIC = f"arn:aws:sns:{R}:{A}:notify"


def test_sns_publish_to_encrypted_topic() -> None:
    world = FakeWorld(topic_keys={TOPIC: KEY}, tags={TOPIC: {"app": "bft"}})
    requests = auth_requests(call("sns", "Publish", TopicArn=TOPIC, Message="m"), world)
    assert requests[0] == ActionRequest(
        "sns:Publish", TOPIC, {"aws:ResourceTag/app": "bft"}, ResourceRef("sns-topic", TOPIC)
    )
    why = "publish to an SSE-KMS topic via SNS"
    assert [(r.action, r.resource, r.implicit, r.via) for r in requests[1:]] == [
        (action, KEY, why, "sns.amazonaws.com") for action in ("kms:GenerateDataKey", "kms:Decrypt")
    ]
    # SNS's encryption context is not modelled: conditions on it are Undecidable, not false.
    assert all(isinstance(r.context["kms:EncryptionContextKeys"], Unknown) for r in requests[1:])
    assert all(isinstance(r.context["kms:EncryptionContext:*"], Unknown) for r in requests[1:])
    subscribed = auth_requests(call("sns", "Subscribe", TopicArn=TOPIC, Protocol="email", Endpoint="a@b"), world)
    assert subscribed[0].context == {"sns:Protocol": "email", "sns:Endpoint": "a@b", "aws:ResourceTag/app": "bft"}
    assert essentials(auth_requests(call("sns", "ListSubscriptionsByTopic", TopicArn=TOPIC), world)) == [
        ("sns:ListSubscriptionsByTopic", TOPIC)
    ]


def test_ssm_parameters_and_secure_string_decrypt() -> None:
    world = FakeWorld(parameter_keys={"/bft/policy": KEY})
    arn = f"arn:aws:ssm:{R}:{A}:parameter/bft/policy"
    plain = auth_requests(call("ssm", "GetParameter", Name="/bft/policy"), world)
    assert plain == [ActionRequest("ssm:GetParameter", arn, {}, None)]
    secure = auth_requests(call("ssm", "GetParameter", Name="/bft/policy:3", WithDecryption=True), world)
    assert secure[1] == kms(
        "kms:Decrypt", KEY, "ssm", {"PARAMETER_ARN": arn}, "SecureString parameter decrypted via Systems Manager"
    )
    several = auth_requests(call("ssm", "GetParameters", Names=["/bft/policy", "other"]), world)
    assert essentials(several) == [
        ("ssm:GetParameters", arn),
        ("ssm:GetParameters", arn.replace("bft/policy", "other")),
    ]


def test_lambda_events_cloudformation() -> None:
    fn = f"arn:aws:lambda:{R}:{A}:function:work"
    world = FakeWorld(tags={fn: {"team": "a"}})
    (invoke,) = auth_requests(call("lambda", "Invoke", FunctionName="work", Qualifier="live"), world)
    direct = Unknown("whether a direct Invoke carries lambda:InvokedViaFunctionUrl false or nothing", (None, False))
    assert invoke == ActionRequest(
        "lambda:InvokeFunction",
        f"{fn}:live",
        {"aws:ResourceTag/team": "a", "lambda:InvokedViaFunctionUrl": direct},
        ResourceRef("lambda-function", f"{fn}:live"),
    )
    url_arn = Unknown("lambda:FunctionArn on InvokeFunctionUrl is not documented")
    assert function_url_requests(fn, "AWS_IAM", {"aws:ResourceTag/team": "a"}) == [
        ActionRequest(
            "lambda:InvokeFunctionUrl",
            fn,
            {"lambda:FunctionUrlAuthType": "AWS_IAM", "lambda:FunctionArn": url_arn, "aws:ResourceTag/team": "a"},
            ResourceRef("lambda-function", fn),
        ),
        ActionRequest(
            "lambda:InvokeFunction",
            fn,
            {"lambda:InvokedViaFunctionUrl": True, "aws:ResourceTag/team": "a"},
            ResourceRef("lambda-function", fn),
        ),
    ]
    events = call(
        "events",
        "PutEvents",
        Entries=[
            {"Source": "bft", "DetailType": "a", "Detail": "{}"},
            {"Source": "bft", "DetailType": "b", "Detail": "{}", "EventBusName": "custom"},
        ],
    )
    assert [(r.resource, r.context["events:detail-type"]) for r in auth_requests(events, world)] == [
        (f"arn:aws:events:{R}:{A}:event-bus/default", ["a"]),
        (f"arn:aws:events:{R}:{A}:event-bus/custom", ["b"]),
    ]
    stacks = auth_requests(call("cloudformation", "DescribeStacks", StackName="Data"), world)
    assert essentials(stacks) == [("cloudformation:DescribeStacks", f"arn:aws:cloudformation:{R}:{A}:stack/Data/abc")]
    assert essentials(auth_requests(call("cloudformation", "DescribeStacks"), world)) == [
        ("cloudformation:DescribeStacks", "*")
    ]


# -- STS, KMS, PassRole ------------------------------------------------------------------------------

ROLE = f"arn:aws:iam::{A}:role/Reviewer"


def test_sts_and_kms() -> None:
    world = FakeWorld(aliases={"alias/data": KEY})
    assert auth_requests(call("sts", "GetCallerIdentity"), world) == []
    assumed = auth_requests(
        call("sts", "AssumeRole", RoleArn=ROLE, RoleSessionName="s", Tags=[{"Key": "team", "Value": "a"}]), world
    )
    assert [r.action for r in assumed] == ["sts:AssumeRole", "sts:TagSession"]
    assert assumed[0].resource_policy == ResourceRef("iam-role", ROLE)
    assert assumed[0].context["aws:RequestTag/team"] == "a"
    assert assumed[0].context["aws:TagKeys"] == ["team"]
    (decrypt,) = auth_requests(
        call("kms", "Decrypt", KeyId="alias/data", CiphertextBlob=b"x", EncryptionContext={"k": "v"}), world
    )
    assert decrypt == ActionRequest(
        "kms:Decrypt",
        KEY,
        {"kms:CallerAccount": A, "kms:EncryptionContext:k": "v", "kms:EncryptionContextKeys": ["k"]},
        ResourceRef("kms-key", KEY),
        {"k": "v"},
    )
    (grant,) = auth_requests(
        call("kms", "CreateGrant", KeyId=KEY, GranteePrincipal=ROLE, Operations=["Decrypt"]), world
    )
    assert grant.context["kms:GrantOperations"] == ["Decrypt"]
    assert grant.context["kms:GranteePrincipal"] == ROLE
    assert grant.context["kms:GrantIsForAWSResource"] is False
    with pytest.raises(Undecidable, match="KeyId"):
        auth_requests(call("kms", "Decrypt", CiphertextBlob=b"x"), world)
    passed = pass_role(ROLE, "bedrock.amazonaws.com").context
    assert passed["iam:PassedToService"] == "bedrock.amazonaws.com"
    assert isinstance(passed["iam:AssociatedResourceArn"], Unknown)  # which resource Bedrock names: undocumented


# -- Bedrock -----------------------------------------------------------------------------------------

FM = "anthropic.claude-3-haiku-20240307-v1:0:200k"
FM_ARN = f"arn:aws:bedrock:{R}::foundation-model/{FM}"
MODEL = f"arn:aws:bedrock:{R}:{A}:custom-model/{FM}/abc"
PT = f"arn:aws:bedrock:{R}:{A}:provisioned-model/pt123"


def test_bedrock_create_customization_job() -> None:
    world = FakeWorld()
    job = call(
        "bedrock",
        "CreateModelCustomizationJob",
        jobName="job-1",
        customModelName="model-1",
        roleArn=ROLE,
        baseModelIdentifier=FM,
        trainingDataConfig={"s3Uri": "s3://d/t"},
        outputDataConfig={"s3Uri": "s3://o/"},
        jobTags=[{"key": "team", "value": "a"}],
        customModelTags=[{"key": "team", "value": "a"}],
        customModelKmsKeyId=KEY,
    )
    requests = auth_requests(job, world)
    new_model = f"arn:aws:bedrock:{R}:{A}:custom-model/model-1"
    new_job = f"arn:aws:bedrock:{R}:{A}:model-customization-job/job-1"
    assert essentials(requests) == [
        ("bedrock:CreateModelCustomizationJob", FM_ARN),
        ("bedrock:CreateModelCustomizationJob", new_model),
        ("bedrock:TagResource", new_job),
        ("bedrock:TagResource", new_model),
        ("iam:PassRole", ROLE),
        ("kms:Decrypt", KEY),
        ("kms:GenerateDataKey", KEY),
        ("kms:DescribeKey", KEY),
        ("kms:CreateGrant", KEY),
    ]
    assert requests[0].context == {"aws:RequestTag/team": "a", "aws:TagKeys": ["team"]}
    assert requests[4] == pass_role(ROLE, "bedrock.amazonaws.com", world)
    assert {r.context["kms:ViaService"] for r in requests[5:]} == {f"bedrock.{R}.amazonaws.com"}
    clash = call(
        "bedrock",
        "CreateModelCustomizationJob",
        **{**job.params, "jobTags": [{"key": "team", "value": "b"}]},
    )
    with pytest.raises(Undecidable, match="tag 'team'"):
        auth_requests(clash, world)


def test_bedrock_serving_existing_resources_and_runtime() -> None:
    deployment = f"arn:aws:bedrock:{R}:{A}:custom-model-deployment/d1"
    world = FakeWorld(
        bedrock={("custom-model", "model-1"): MODEL, ("provisioned-model", "pt-name"): PT},
        model_keys={MODEL: KEY},
        served={PT: MODEL, deployment: MODEL},
        tags={MODEL: {"team": "a"}, PT: {"team": "a"}},
    )
    created = auth_requests(
        call(
            "bedrock",
            "CreateProvisionedModelThroughput",
            provisionedModelName="pt-name",
            modelId="model-1",
            modelUnits=1,
            tags=[{"key": "ttl-hours", "value": "2"}],
        ),
        world,
    )
    assert essentials(created) == [
        ("bedrock:CreateProvisionedModelThroughput", MODEL),
        ("bedrock:TagResource", f"arn:aws:bedrock:{R}:{A}:provisioned-model/pt-name"),
        ("kms:Decrypt", KEY),
        ("kms:GenerateDataKey", KEY),
    ]
    assert created[0].context == {
        "aws:RequestTag/ttl-hours": "2",
        "aws:TagKeys": ["ttl-hours"],
        "aws:ResourceTag/team": "a",
    }
    (got,) = auth_requests(call("bedrock", "GetProvisionedModelThroughput", provisionedModelId="pt-name"), world)
    assert got == ActionRequest("bedrock:GetProvisionedModelThroughput", PT, {"aws:ResourceTag/team": "a"}, None)
    (fm,) = auth_requests(call("bedrock", "GetFoundationModel", modelIdentifier=FM), world)
    assert (fm.resource, dict(fm.context)) == (FM_ARN, {})
    assert essentials(auth_requests(call("bedrock", "ListProvisionedModelThroughputs"), world)) == [
        ("bedrock:ListProvisionedModelThroughputs", "*")
    ]
    untag = auth_requests(call("bedrock", "UntagResource", resourceARN=PT, tagKeys=["team"]), world)
    assert untag[0].context == {"aws:ResourceTag/team": "a", "aws:TagKeys": ["team"]}

    converse = auth_requests(call("bedrock-runtime", "Converse", modelId=PT, messages=[]), world)
    assert essentials(converse) == [("bedrock:InvokeModel", PT), ("kms:Decrypt", KEY)]
    streamed = auth_requests(call("bedrock-runtime", "ConverseStream", modelId="pt-name", messages=[]), world)
    assert streamed[0].action == "bedrock:InvokeModelWithResponseStream"
    assert streamed[0].resource == PT
    base = auth_requests(call("bedrock-runtime", "InvokeModel", modelId=FM, body=b"{}"), world)
    assert essentials(base) == [("bedrock:InvokeModel", FM_ARN)]
    with pytest.raises(Undecidable, match="inference profile"):
        auth_requests(call("bedrock-runtime", "Converse", modelId="us.amazon.nova-lite-v1:0", messages=[]), world)
    with pytest.raises(Undecidable, match="custom model's own ARN"):  # the SAR: no custom-model type for invoking
        auth_requests(call("bedrock-runtime", "InvokeModel", modelId=MODEL, body=b"{}"), world)


def test_bedrock_update_custom_model_deployment_is_authorized_on_the_deployment_and_the_new_model() -> None:
    """The deployment, found by name or ARN, with its tags; the model it is pointed at with its tags; the model's
    key as any use of an encrypted custom model (docs/authorization-actions.md)."""
    deployment = f"arn:aws:bedrock:{R}:{A}:custom-model-deployment/d1"
    world = FakeWorld(
        bedrock={("custom-model-deployment", "live"): deployment},
        model_keys={MODEL: KEY},
        tags={deployment: {"team": "a", "endpoint": "live"}, MODEL: {"team": "a"}},
    )
    requests = auth_requests(
        call("bedrock", "UpdateCustomModelDeployment", customModelDeploymentIdentifier="live", modelArn=MODEL), world
    )
    assert essentials(requests) == [
        ("bedrock:UpdateCustomModelDeployment", deployment),
        ("bedrock:UpdateCustomModelDeployment", MODEL),
        ("kms:Decrypt", KEY),
        ("kms:GenerateDataKey", KEY),
    ]
    assert requests[0].context == {"aws:ResourceTag/team": "a", "aws:ResourceTag/endpoint": "live"}
    assert requests[1].context == {"aws:ResourceTag/team": "a"}
    assert ("bedrock", "UpdateCustomModelDeployment") in MAPPED_OPERATIONS


# -- Fail closed, and coverage of the product's calls -------------------------------------------------


def test_unmapped_operation_is_undecidable_and_says_where_to_add_it() -> None:
    with pytest.raises(Undecidable, match=r"s3:PutBucketPolicy.*MAPPERS .* in src/bft_twin/iam/actions/"):
        auth_requests(call("s3", "PutBucketPolicy", Bucket="b", Policy="{}"), FakeWorld())
    with pytest.raises(Undecidable, match="sqs:SendMessage"):
        auth_requests(call("sqs", "SendMessage", QueueUrl="q", MessageBody="m"), FakeWorld())


#: Receivers in the product code whose service the variable name says; anything else is resolved from
#: ``aws.client("<service>")`` in the same expression, or the operation must be mapped in every service used.
_RECEIVERS = {
    "s3": "s3",
    "sfn": "stepfunctions",
    "sns": "sns",
    "bedrock": "bedrock",
    "runtime": "bedrock-runtime",
    "cloudformation": "cloudformation",
    "ssm": "ssm",
    "sts": "sts",
    "kms": "kms",
    "events": "events",
    "table": "dynamodb",  # a boto3 Table resource (bft.aws.resource_table)
    "dynamodb": "dynamodb",
}
#: Client and resource methods that are not one botocore operation.
_HIGH_LEVEL = {
    ("s3", "upload_file"): [
        "PutObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
    ],
    ("s3", "upload_fileobj"): [
        "PutObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
    ],
    ("s3", "download_file"): ["HeadObject", "GetObject"],
    ("dynamodb", "batch_writer"): ["BatchWriteItem"],
}
_SESSION = botocore.session.get_session()
_NOT_OPERATIONS = {"get_paginator", "paginate", "get_waiter", "close", "can_paginate", "meta"}


@functools.cache
def _operations(service: str) -> dict[str, str]:
    """snake_case method name -> botocore operation name, from botocore's service model."""
    model = _SESSION.get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


@functools.cache
def _paginated(service: str) -> frozenset[str]:
    """The snake_case names get_paginator accepts for ``service``."""
    config = _SESSION.get_paginator_model(service)._paginator_config  # no public listing exists
    return frozenset(xform_name(name) for name in config)


def _client_service(node: ast.expr) -> str | None:
    """The service of ``aws.client("x")`` / ``boto3.client("x")`` / a known receiver name."""
    is_client = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client"
    if is_client and node.args and isinstance(node.args[0], ast.Constant):  # type: ignore[attr-defined]
        return str(node.args[0].value)  # type: ignore[attr-defined]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "resource_table":
        return "dynamodb"
    if isinstance(node, ast.Name):
        return _RECEIVERS.get(node.id)
    if isinstance(node, ast.Attribute):
        return _RECEIVERS.get(node.attr)
    return None


def _product_calls() -> set[tuple[str, str]]:
    files = [
        p for p in (ROOT / "src" / "bft").rglob("*.py") if "local" not in p.relative_to(ROOT / "src" / "bft").parts
    ]
    files += list((ROOT / "lambda").rglob("*.py"))
    used_services = set(_RECEIVERS.values())
    found: set[tuple[str, str]] = set()
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        constants = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            method, receiver = node.func.attr, node.func.value
            service = _client_service(receiver)
            if method == "get_paginator" and service:
                argument = node.args[0] if node.args else None
                if isinstance(argument, ast.Constant):
                    found.add((service, _operations(service)[str(argument.value)]))
                else:  # a variable (reaper's _paginate): every paginator name written in the same file
                    names = constants & _paginated(service)
                    assert names, f"{path}:{node.lineno}: get_paginator of a variable and no paginator name in the file"
                    found.update((service, _operations(service)[name]) for name in names)
                continue
            if method in _NOT_OPERATIONS:
                continue
            if service and (service, method) in _HIGH_LEVEL:
                found.update((service, op) for op in _HIGH_LEVEL[service, method])
            elif service and method in _operations(service):
                found.add((service, _operations(service)[method]))
            elif service is None:
                # An unknown receiver: if the method is an operation of a service the product uses,
                # require it mapped in each such service (conservative: fails rather than misses a call).
                for candidate in used_services:
                    if method in _operations(candidate) and method not in {"get", "update", "delete", "put"}:
                        found.add((candidate, _operations(candidate)[method]))
    # Table resource methods are named like the client operations (put_item, update_item, ...).
    return found


def test_every_call_the_product_makes_is_mapped() -> None:
    calls = _product_calls()
    # The scan sees the calls it must (a guard against a scan that silently finds nothing).
    assert {("s3", "GetObject"), ("stepfunctions", "SendTaskSuccess"), ("dynamodb", "PutItem")} <= calls
    assert ("bedrock-runtime", "Converse") in calls
    assert ("ssm", "GetParameter") in calls
    missing = sorted(calls - MAPPED_OPERATIONS)
    assert not missing, f"calls made by src/bft or lambda/ with no authorization mapping: {missing}"


def test_mapped_operations_are_real_botocore_operations() -> None:
    for service, operation in MAPPED_OPERATIONS:
        assert operation in _operations(service).values(), (service, operation)
