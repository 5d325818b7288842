"""Every condition key the evaluator registers, supplied: one test per key (and key family).

Each case is a call the authorizer decides as the offline run does (the action map, the request context of
:mod:`bft_twin.iam.context`, the evaluator), under a policy that allows everything and denies the call's
action on a condition on the key. Either the deny applies -- with the value AWS supplies, and not with another
value, so the condition is really evaluated -- or the condition is Undecidable, because AWS supplies the key
and the offline world cannot know its value. A key AWS supplies on no request the twin maps is shown by the
call that would need it being Undecidable itself (not mapped). ``KEY_SOURCES`` says how each key is supplied;
the cases here must cover exactly the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from bft_twin.iam.actions import Call, function_url_requests
from bft_twin.iam.authorizer import Authorizer
from bft_twin.iam.conditions import KNOWN_CONDITION_KEY_PREFIXES, KNOWN_CONDITION_KEYS
from bft_twin.iam.context import KEY_SOURCES
from bft_twin.iam.model import Principal, Undecidable
from bft_twin.iam.store import PolicyStore
from tests.unit.test_iam_actions import FakeWorld

R, A = "us-west-2", "123456789012"
NOW = 1_750_000_000  # 2025-06-15T15:06:40Z, the world's virtual now
ROLE = f"arn:aws:iam::{A}:role/Worker"
ROLE_ID = "AROAEXAMPLEWORKER0001"
KEY = f"arn:aws:kms:{R}:{A}:key/1111"
TOPIC = f"arn:aws:sns:{R}:{A}:notify"
MACHINE = f"arn:aws:states:{R}:{A}:stateMachine:flow"
FUNCTION = f"arn:aws:lambda:{R}:{A}:function:approve"
RULE = f"arn:aws:events:{R}:{A}:rule/sweep"
MODEL = f"arn:aws:bedrock:{R}:{A}:custom-model/m1"
FM = "amazon.nova-micro-v1:0:128k"
SSE = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY}


def world() -> FakeWorld:
    return FakeWorld(
        object_keys={("data", "in/a.jsonl"): KEY},
        table_keys={"State": KEY},
        tags={TOPIC: {"app": "bft"}, MACHINE: {}, FUNCTION: {}, MODEL: {"team": "a"}},
        bedrock={("custom-model", "m1"): MODEL},
    )


@dataclass(frozen=True)
class Case:
    """A call, the action a Deny names, and the key's condition: ``(operator, value AWS supplies, another)``;
    ``other`` None: the key is Unknown for this call (Undecidable)."""

    key: str
    call: tuple[str, str, dict[str, Any]] | None  # (service, operation, params); None: ``requests`` below
    action: str
    operator: str
    value: Any
    other: Any = None
    service: str | None = None  # a service principal makes the call (its resource policy decides)
    extra: dict[str, Any] = field(default_factory=dict)  # keys the runner passes (aws:SourceArn...)
    requests: Callable[[], list[Any]] | None = None
    world: Callable[[], Any] = world


def c(key: str, call: tuple[str, str, dict[str, Any]] | None, action: str, operator: str, value: Any, other: Any = None,
      **kw: Any) -> Case:  # fmt: skip
    return Case(key, call, action, operator, value, other, **kw)


GET = ("s3", "GetObject", {"Bucket": "data", "Key": "in/a.jsonl"})
PUT = ("s3", "PutObject", {"Bucket": "data", "Key": "out/b", **SSE})
LIST = ("s3", "ListObjectsV2", {"Bucket": "data", "Prefix": "in/", "Delimiter": "/", "MaxKeys": 10})
GRANT = ("kms", "CreateGrant", {"KeyId": KEY, "GranteePrincipal": ROLE, "RetiringPrincipal": ROLE,
                                "Operations": ["Decrypt"]})  # fmt: skip
DECRYPT = ("kms", "Decrypt", {"KeyId": KEY, "EncryptionContext": {"purpose": "test"}})
JOB = ("bedrock", "CreateModelCustomizationJob", {"jobName": "j", "customModelName": "m2", "roleArn": ROLE,
                                                  "baseModelIdentifier": FM})  # fmt: skip
TAG = ("bedrock", "TagResource", {"resourceARN": MODEL, "tags": [{"key": "team", "value": "a"}]})
ITEM = ("dynamodb", "PutItem", {"TableName": "State", "Item": {"pk": "r-1", "s": "x"}, "ReturnValues": "ALL_OLD"})
QUERY = ("dynamodb", "Query", {"TableName": "State", "KeyConditionExpression": "pk = :v",
                               "ExpressionAttributeValues": {":v": "r-1"}, "Select": "COUNT"})  # fmt: skip
SUBSCRIBE = ("sns", "Subscribe", {"TopicArn": TOPIC, "Protocol": "email", "Endpoint": "a@example.com"})
EVENTS = {"aws:SourceAccount": A, "aws:SourceArn": RULE}


def _url() -> list[Any]:
    return function_url_requests(FUNCTION, "AWS_IAM")


CASES = [
    # -- global keys --------------------------------------------------------------------------------------------
    c("aws:CurrentTime", GET, "s3:GetObject", "DateGreaterThan", "2020-01-01T00:00:00Z", "2100-01-01T00:00:00Z"),
    c("aws:EpochTime", GET, "s3:GetObject", "NumericGreaterThan", str(NOW - 1), str(NOW + 1)),
    c("aws:SecureTransport", GET, "s3:GetObject", "Bool", "true", "false"),
    c("aws:PrincipalArn", GET, "s3:GetObject", "ArnEquals", ROLE, f"arn:aws:iam::{A}:role/Other"),
    c("aws:PrincipalAccount", GET, "s3:GetObject", "StringEquals", A, "444455556666"),
    c("aws:PrincipalType", GET, "s3:GetObject", "StringEquals", "AssumedRole", "User"),
    c("aws:PrincipalServiceName", ("lambda", "Invoke", {"FunctionName": FUNCTION}), "lambda:InvokeFunction",
      "StringEquals", "events.amazonaws.com", "sns.amazonaws.com", service="events.amazonaws.com", extra=EVENTS),
    c("aws:PrincipalOrgID", GET, "s3:GetObject", "StringEquals", "o-abc"),
    c("aws:userid", GET, "s3:GetObject", "StringEquals", f"{ROLE_ID}:run-1", f"{ROLE_ID}:other"),
    c("aws:ViaAWSService", GET, "s3:GetObject", "Bool", "false", "true"),
    c("aws:CalledVia", ("dynamodb", "GetItem", {"TableName": "State", "Key": {"pk": "r-1"}}), "kms:Decrypt",
      "ForAnyValue:StringEquals", "dynamodb.amazonaws.com", "athena.amazonaws.com"),
    c("aws:ResourceAccount", GET, "s3:GetObject", "StringEquals", A, "444455556666"),
    c("aws:SourceAccount", ("lambda", "Invoke", {"FunctionName": FUNCTION}), "lambda:InvokeFunction",
      "StringEquals", A, "444455556666", service="events.amazonaws.com", extra=EVENTS),
    c("aws:SourceArn", ("lambda", "Invoke", {"FunctionName": FUNCTION}), "lambda:InvokeFunction",
      "ArnLike", RULE, f"arn:aws:events:{R}:{A}:rule/other", service="events.amazonaws.com", extra=EVENTS),
    c("aws:SourceOwner", GET, "s3:GetObject", "StringEquals", A),
    c("aws:TagKeys", TAG, "bedrock:TagResource", "ForAnyValue:StringEquals", "team", "project"),
    c("aws:ResourceTag/", ("sns", "Publish", {"TopicArn": TOPIC, "Message": "m"}), "sns:Publish",
      "StringEquals", "aws:ResourceTag/app=bft", "aws:ResourceTag/app=other"),
    c("aws:RequestTag/", TAG, "bedrock:TagResource", "StringEquals", "aws:RequestTag/team=a", "aws:RequestTag/team=b"),
    c("aws:PrincipalTag/", GET, "s3:GetObject", "StringEquals", "aws:PrincipalTag/team=a", "aws:PrincipalTag/team=b"),
    # -- KMS --------------------------------------------------------------------------------------------------------
    c("kms:ViaService", GET, "kms:Decrypt", "StringEquals", f"s3.{R}.amazonaws.com", f"sns.{R}.amazonaws.com"),
    c("kms:CallerAccount", DECRYPT, "kms:Decrypt", "StringEquals", A, "444455556666"),
    c("kms:GrantIsForAWSResource", GRANT, "kms:CreateGrant", "Bool", "false", "true"),
    c("kms:GrantOperations", GRANT, "kms:CreateGrant", "ForAnyValue:StringEquals", "Decrypt", "Encrypt"),
    c("kms:GranteePrincipal", GRANT, "kms:CreateGrant", "StringEquals", ROLE, f"arn:aws:iam::{A}:role/Other"),
    c("kms:RetiringPrincipal", GRANT, "kms:CreateGrant", "StringEquals", ROLE, f"arn:aws:iam::{A}:role/Other"),
    c("kms:EncryptionContextKeys", DECRYPT, "kms:Decrypt", "ForAnyValue:StringEquals", "purpose", "tenant"),
    c("kms:EncryptionContext:", DECRYPT, "kms:Decrypt", "StringEquals", "kms:EncryptionContext:purpose=test",
      "kms:EncryptionContext:purpose=prod"),
    # -- IAM, S3 ----------------------------------------------------------------------------------------------------
    c("iam:PassedToService", JOB, "iam:PassRole", "StringEquals", "bedrock.amazonaws.com", "ec2.amazonaws.com"),
    c("iam:AssociatedResourceArn", JOB, "iam:PassRole", "ArnLike", f"arn:aws:bedrock:{R}:{A}:*"),
    c("s3:prefix", LIST, "s3:ListBucket", "StringEquals", "in/", "out/"),
    c("s3:delimiter", LIST, "s3:ListBucket", "StringEquals", "/", "-"),
    c("s3:max-keys", LIST, "s3:ListBucket", "NumericEquals", "10", "1000"),
    c("s3:x-amz-server-side-encryption", PUT, "s3:PutObject", "StringEquals", "aws:kms", "AES256"),
    c("s3:x-amz-server-side-encryption-aws-kms-key-id", PUT, "s3:PutObject", "StringEquals", KEY, "alias/other"),
    c("s3:ResourceAccount", GET, "s3:GetObject", "StringEquals", A, "444455556666"),
    # -- DynamoDB, SNS -----------------------------------------------------------------------------------------------
    c("dynamodb:LeadingKeys", ITEM, "dynamodb:PutItem", "ForAnyValue:StringEquals", "r-1", "r-2"),
    c("dynamodb:Attributes", ITEM, "dynamodb:PutItem", "ForAnyValue:StringEquals", "s", "t"),
    c("dynamodb:Select", QUERY, "dynamodb:Query", "StringEquals", "COUNT", "ALL_ATTRIBUTES"),
    c("dynamodb:ReturnValues", ITEM, "dynamodb:PutItem", "StringEquals", "ALL_OLD", "NONE"),
    c("sns:Protocol", SUBSCRIBE, "sns:Subscribe", "StringEquals", "email", "https"),
    c("sns:Endpoint", SUBSCRIBE, "sns:Subscribe", "StringEquals", "a@example.com", "b@example.com"),
    # -- Lambda, Step Functions ------------------------------------------------------------------------------------
    c("lambda:FunctionUrlAuthType", None, "lambda:InvokeFunctionUrl", "StringEquals", "AWS_IAM", "NONE",
      requests=_url),
    c("lambda:InvokedViaFunctionUrl", None, "lambda:InvokeFunction", "Bool", "true", "false", requests=_url),
    c("lambda:FunctionArn", None, "lambda:InvokeFunctionUrl", "ArnEquals", FUNCTION, requests=_url),
    c("states:StateMachineQualifier", ("stepfunctions", "StartExecution", {"stateMachineArn": f"{MACHINE}:live"}),
      "states:StartExecution", "ForAnyValue:StringEquals", "live", "prod"),
    # -- STS: a person naming itself when it assumes a role (the submitter role's trust policy) ----------------------
    c("sts:SourceIdentity", ("sts", "AssumeRole", {"RoleArn": ROLE, "RoleSessionName": "s", "SourceIdentity": "alice"}),
      "sts:AssumeRole", "StringEquals", "alice", "bob"),
]  # fmt: skip

#: Keys AWS supplies only on actions the twin does not map: the call that would carry them is Undecidable.
NEVER_MAPPED = {
    "lambda:Principal": ("lambda", "AddPermission", {"FunctionName": FUNCTION, "StatementId": "s",
                                                     "Action": "lambda:InvokeFunction", "Principal": A}),
    "ec2:Subnet": ("ec2", "CreateNetworkInterface", {"SubnetId": "subnet-1"}),
    "bedrock:InferenceProfileArn": ("bedrock-runtime", "InvokeModel", {"modelId": "us.amazon.nova-micro-v1:0"}),
    "bedrock:GuardrailIdentifier": ("bedrock-runtime", "InvokeModel", {"modelId": FM, "guardrailIdentifier": "g"}),
    # Only an AWS Budgets action attaches a policy, and the twin decides it itself (bft_twin.deploy_checks._budgets).
    "iam:PolicyARN": ("iam", "AttachRolePolicy", {"RoleName": "Worker", "PolicyArn": "arn:aws:iam::1:policy/p"}),
}  # fmt: skip


def _condition(case: Case, value: Any) -> dict[str, Any]:
    key = case.key
    if isinstance(value, str) and key.endswith(("/", ":")) and "=" in value:
        key, value = value.split("=", 1)  # a key family: "aws:ResourceTag/app=bft"
    return {case.operator: {key: value}}


def _authorizer(case: Case, condition: dict[str, Any]) -> tuple[Authorizer, Principal]:
    store = PolicyStore()
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    deny = {"Effect": "Deny", "Action": case.action, "Resource": "*", "Condition": condition}
    store.add_role(
        arn=ROLE,
        name="Worker",
        source="Stack/Worker",
        trust={"Version": "2012-10-17", "Statement": []},
        inline=[("Everything", everything), ("Guard", {"Version": "2012-10-17", "Statement": [deny]})],
        role_id=ROLE_ID,
        tags={"team": "a"},
    )
    allow_all = {"Sid": "All", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction", "Resource": "*"}
    root = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "kms:*", "Resource": "*"}
    store.set_key_policy(KEY, {"Version": "2012-10-17", "Statement": [root]}, "Stack/Key")
    store.add_function_permission(FUNCTION, allow_all, "Stack/Permission")
    store.add_function_permission(FUNCTION, {**deny, "Sid": "Guard", "Principal": "*"}, "Stack/Guard")
    authorizer = Authorizer(store, account=A, region=R, clock=lambda: float(NOW))
    authorizer.world = case.world()
    if case.service is not None:
        return authorizer, Principal(case.service, type="Service")
    issued = authorizer.issued(authorizer.credentials(ROLE, "run-1").access_key)
    assert issued is not None
    return authorizer, issued[0]


def _denied_by_guard(case: Case, value: Any) -> bool:
    authorizer, principal = _authorizer(case, _condition(case, value))
    requests = case.requests() if case.requests is not None else None
    service, operation, params = case.call or ("lambda", "InvokeFunctionUrl", {})
    refused = authorizer.decide(
        principal, Call(service, operation, params, R, A), context=case.extra, requests=requests
    )
    if refused is None:
        return False
    needed, decision = refused
    return needed.action == case.action and any("Guard" in ref.source for ref in decision.denied_by)


def test_the_cases_cover_the_registry_and_every_key_says_where_it_comes_from() -> None:
    registered = set(KNOWN_CONDITION_KEYS) | set(KNOWN_CONDITION_KEY_PREFIXES)
    assert {case.key for case in CASES} | set(NEVER_MAPPED) == registered
    assert set(KEY_SOURCES) == registered


@pytest.mark.parametrize("case", [case for case in CASES if case.other is not None], ids=lambda case: case.key)
def test_a_deny_on_a_supplied_key_applies(case: Case) -> None:
    assert _denied_by_guard(case, case.value), f"a Deny on {case.key} = {case.value!r} did not apply"
    assert not _denied_by_guard(case, case.other), f"a Deny on {case.key} = {case.other!r} applied: not evaluated?"


@pytest.mark.parametrize("case", [case for case in CASES if case.other is None], ids=lambda case: case.key)
def test_a_key_the_world_cannot_know_makes_its_condition_undecidable(case: Case) -> None:
    with pytest.raises(Undecidable, match=case.key.lower().rstrip("/:")):
        _denied_by_guard(case, case.value)


@pytest.mark.parametrize("key", sorted(NEVER_MAPPED))
def test_a_key_only_unmapped_actions_carry_is_undecidable_with_its_call(key: str) -> None:
    service, operation, params = NEVER_MAPPED[key]
    case = Case(key, NEVER_MAPPED[key], "*", "StringEquals", "x")
    authorizer, principal = _authorizer(case, _condition(case, "x"))
    with pytest.raises(Undecidable):
        authorizer.decide(principal, Call(service, operation, params, R, A))


# -- what the per-key cases do not show ---------------------------------------------------------------------------


def test_the_time_is_the_clock_s_and_without_a_clock_it_is_unknown() -> None:
    case = CASES[0]
    authorizer, principal = _authorizer(case, _condition(case, "2025-06-15T15:06:39Z"))
    assert authorizer.decide(principal, Call(*GET, R, A)) is not None  # one second before now: denied
    authorizer, principal = _authorizer(case, _condition(case, "2025-06-15T15:06:41Z"))
    assert authorizer.decide(principal, Call(*GET, R, A)) is None
    authorizer.clock = None
    with pytest.raises(Undecidable, match="no clock"):
        authorizer.decide(principal, Call(*GET, R, A))


def test_resource_tags_the_world_does_not_record_are_unknown_not_absent() -> None:
    class Untagged(FakeWorld):
        def resource_tags(self, arn: str) -> Any:
            return None

    case = Case("aws:ResourceTag/", ("sns", "Publish", {"TopicArn": TOPIC, "Message": "m"}), "sns:Publish",
                "StringNotEquals", "aws:ResourceTag/app=bft", world=Untagged)  # fmt: skip
    with pytest.raises(Undecidable, match="does not record the tags"):
        _denied_by_guard(case, case.value)


def test_the_resource_account_of_an_aws_owned_model_is_unknown_and_of_eventbridge_absent() -> None:
    invoke = Case("aws:ResourceAccount", ("bedrock-runtime", "InvokeModel", {"modelId": FM}), "bedrock:InvokeModel",
                  "StringNotEquals", A)  # fmt: skip
    with pytest.raises(Undecidable, match="AWS-owned"):
        _denied_by_guard(invoke, A)
    put = Case("aws:ResourceAccount", ("events", "PutEvents", {"Entries": [{"Source": "s", "DetailType": "d"}]}),
               "events:PutEvents", "Null", "true")  # fmt: skip
    assert _denied_by_guard(put, "true")  # GLOBAL: no EventBridge action carries it


def test_a_direct_invoke_is_decided_where_absent_and_false_agree() -> None:
    """lambda:InvokedViaFunctionUrl on a direct Invoke is absent or false: Bool true fails either way (the
    reviewers' URL-only grant), Bool false tells them apart."""
    direct = ("lambda", "Invoke", {"FunctionName": FUNCTION})
    agree = Case("lambda:InvokedViaFunctionUrl", direct, "lambda:InvokeFunction", "Bool", "true")
    assert not _denied_by_guard(agree, "true")
    differ = Case("lambda:InvokedViaFunctionUrl", direct, "lambda:InvokeFunction", "Bool", "false")
    with pytest.raises(Undecidable, match="invokedviafunctionurl"):
        _denied_by_guard(differ, "false")


def test_the_context_of_a_service_is_unknown_where_bedrock_does_not_document_it() -> None:
    world_with_key = lambda: FakeWorld(model_keys={MODEL: KEY}, bedrock={("custom-model", "m1"): MODEL})  # noqa: E731
    create = ("bedrock", "CreateProvisionedModelThroughput", {"modelId": MODEL, "provisionedModelName": "p",
                                                              "modelUnits": 1})  # fmt: skip
    case = Case("kms:EncryptionContextKeys", create, "kms:Decrypt", "ForAnyValue:StringEquals", "x",
                world=world_with_key)  # fmt: skip
    with pytest.raises(Undecidable, match="not documented by Bedrock"):
        _denied_by_guard(case, "x")
