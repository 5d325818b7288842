"""The offline policy evaluator against cases taken from AWS's documentation.

Each group names the page its cases come from (IAM User Guide unless said otherwise); every case asserts
the decision and AWS's reason text, so a wrong rule fails a test.
"""

from __future__ import annotations

from typing import Any

import pytest

from bft_twin.iam.conditions import KNOWN_CONDITION_KEYS, is_known_key
from bft_twin.iam.evaluate import access_denied_message, evaluate
from bft_twin.iam.model import AuthRequest, Decision, Grant, Policy, Principal, StatementRef, Undecidable

ACCT = "111122223333"
OTHER = "444455556666"
ROLE_ARN = f"arn:aws:iam::{ACCT}:role/Worker"
SESSION_ARN = f"arn:aws:sts::{ACCT}:assumed-role/Worker/run-1"
ROLE = Principal(arn=ROLE_ARN, account=ACCT, session_arn=SESSION_ARN, tags={"team": "alpha"})
OTHER_ROLE = Principal(
    arn=f"arn:aws:iam::{OTHER}:role/Reader",
    account=OTHER,
    session_arn=f"arn:aws:sts::{OTHER}:assumed-role/Reader/s",
)
BEDROCK = Principal(arn="bedrock.amazonaws.com", type="Service")
OBJECT = "arn:aws:s3:::datasets-bucket/team/train.jsonl"
BUCKET = "arn:aws:s3:::datasets-bucket"
KEY = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TARGET_ROLE = f"arn:aws:iam::{ACCT}:role/CustomizationRole"
JOB_ARN = f"arn:aws:bedrock:us-east-1:{ACCT}:model-customization-job/abc123"


def stmt(effect: str = "Allow", action: Any = "s3:GetObject", resource: Any = OBJECT, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect}
    if action is not None:
        out["Action"] = action
    if resource is not None:
        out["Resource"] = resource
    out.update(extra)
    return out


def pol(*statements: dict[str, Any], kind: str = "identity", source: str = "Stack/Policy") -> Policy:
    return Policy(document={"Version": "2012-10-17", "Statement": list(statements)}, source=source, kind=kind)  # type: ignore[arg-type]


def req(
    action: str = "s3:GetObject",
    resource: str = OBJECT,
    principal: Principal = ROLE,
    context: dict[str, Any] | None = None,
    **kw: Any,
) -> AuthRequest:
    return AuthRequest(principal=principal, action=action, resource=resource, context=context or {}, **kw)


def no_allow(kind: str, action: str = "s3:GetObject") -> str:
    return f"because no {kind} allows the {action} action"


def assert_allowed(d: Decision) -> None:
    assert d.allowed, d.reason
    assert d.reason == ""


def assert_denied(d: Decision, reason: str) -> None:
    assert not d.allowed
    assert d.reason == reason
    assert d.allowed_by == ()


# --- "Policy evaluation logic": explicit deny, implicit deny, union of allows ---------------------------


def test_explicit_deny_in_identity_policy_wins_over_allow() -> None:
    p = pol(stmt(), stmt("Deny", "s3:*", "*", Sid="NoS3"))
    d = evaluate(req(), identity=[p])
    assert_denied(d, "with an explicit deny in an identity-based policy")
    assert d.denied_by == (StatementRef("Stack/Policy", 1, "NoS3"),)


def test_explicit_deny_in_resource_policy_wins_over_identity_allow() -> None:
    bucket = pol(stmt("Deny", "s3:GetObject", OBJECT, Principal="*"), kind="resource", source="Stack/BucketPolicy")
    d = evaluate(req(), identity=[pol(stmt())], resource=bucket)
    assert_denied(d, "with an explicit deny in a resource-based policy")
    assert d.denied_by == (StatementRef("Stack/BucketPolicy", 0),)


def test_explicit_deny_in_boundary() -> None:
    boundary = pol(stmt(action="*", resource="*"), stmt("Deny", "s3:GetObject"), kind="boundary", source="B")
    d = evaluate(req(), identity=[pol(stmt())], boundary=boundary)
    assert_denied(d, "with an explicit deny in a permissions boundary")


def test_no_allow_is_an_implicit_deny() -> None:
    d = evaluate(req(), identity=[pol(stmt(action="s3:PutObject"))])
    assert_denied(d, no_allow("identity-based policy"))
    assert evaluate(req()).reason == no_allow("identity-based policy")


def test_allowed_by_lists_every_matching_allow() -> None:
    a = pol(stmt(Sid="One"), stmt(action="s3:*", resource="*", Sid="Two"), stmt(action="s3:PutObject"), source="A")
    b = pol(stmt(action="s3:Get*", resource="arn:aws:s3:::datasets-bucket/*"), source="B")
    boundary = pol(stmt(action="s3:*", resource="*"), kind="boundary", source="Bound")
    d = evaluate(req(), identity=[a, b], boundary=boundary)
    assert_allowed(d)
    assert d.allowed_by == (
        StatementRef("A", 0, "One"),
        StatementRef("A", 1, "Two"),
        StatementRef("B", 0),
        StatementRef("Bound", 0),
    )


def test_single_statement_object_is_index_zero() -> None:
    p = Policy(document={"Statement": stmt()}, source="S", kind="identity")
    assert evaluate(req(), identity=[p]).allowed_by == (StatementRef("S", 0),)


# --- "IAM JSON policy elements: Action / NotAction" --------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "allowed"),
    [
        ("s3:GetObject", True),
        ("S3:GETOBJECT", True),  # action names are not case-sensitive
        ("s3:Get*", True),
        ("s3:Get?bject", True),
        ("s3:*Object", True),
        ("*", True),
        ("s3:Put*", False),
        ("s3:GetObjectAcl", False),
        ("s3:Get?", False),
        (["s3:PutObject", "s3:GetObject"], True),
    ],
)
def test_action_matching(pattern: Any, allowed: bool) -> None:
    d = evaluate(req(), identity=[pol(stmt(action=pattern))])
    assert d.allowed is allowed
    assert d.reason == ("" if allowed else no_allow("identity-based policy"))


def test_not_action_allows_everything_else() -> None:
    p = pol({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert_allowed(evaluate(req(), identity=[p]))
    d = evaluate(req("iam:CreateRole", "*"), identity=[p])
    assert_denied(d, no_allow("identity-based policy", "iam:CreateRole"))


# --- "IAM JSON policy elements: Resource / NotResource" (wildcards per ARN segment, case-sensitive) ----


@pytest.mark.parametrize(
    ("pattern", "resource", "allowed"),
    [
        ("arn:aws:s3:::datasets-bucket/*", OBJECT, True),  # * spans "/" in the resource part
        ("arn:aws:s3:::Datasets-Bucket/*", OBJECT, False),  # case-sensitive
        ("arn:aws:s3:::datasets-bucket", OBJECT, False),
        ("arn:aws:s3:::datasets-bucket/team/train.json?", OBJECT, True),
        ("arn:aws:s3:::*", OBJECT, True),
        ("*", OBJECT, True),
        (
            "arn:aws:logs:*:*:*",
            f"arn:aws:logs:us-east-1:{ACCT}:log-group:/aws/lambda/f:log-stream:x",
            True,
        ),
        ("arn:aws:sqs:us-*:*:queue", f"arn:aws:sqs:us-east-1:{ACCT}:queue", True),
        # A wildcard in the account segment does not reach into the resource part.
        ("arn:aws:sqs:us-east-1:*:queue", "arn:aws:sqs:us-east-1:1:2:queue", False),
        ("arn:aws:sqs:*", f"arn:aws:sqs:us-east-1:{ACCT}:queue", True),
        ("arn:aws:s3:::datasets-bucket/*", "*", False),
    ],
)
def test_resource_matching(pattern: str, resource: str, allowed: bool) -> None:
    d = evaluate(req(action="s3:GetObject", resource=resource), identity=[pol(stmt(resource=pattern))])
    assert d.allowed is allowed
    assert d.reason == ("" if allowed else no_allow("identity-based policy"))


def test_not_resource() -> None:
    p = pol({"Effect": "Allow", "Action": "s3:*", "NotResource": ["arn:aws:s3:::secret/*"]})
    assert_allowed(evaluate(req(), identity=[p]))
    assert_denied(
        evaluate(req(resource="arn:aws:s3:::secret/k"), identity=[p]),
        no_allow("identity-based policy"),
    )


# --- "IAM JSON policy elements: Condition operators" ---------------------------------------------------


def cond_allowed(condition: dict[str, Any], context: dict[str, Any] | None = None) -> bool:
    d = evaluate(req(context=context), identity=[pol(stmt(Condition=condition))])
    assert d.reason == ("" if d.allowed else no_allow("identity-based policy"))
    return d.allowed


@pytest.mark.parametrize(
    ("condition", "context", "allowed"),
    [
        # String: values case-sensitive, key names not.
        ({"StringEquals": {"AWS:SourceAccount": ACCT}}, {"aws:sourceaccount": ACCT}, True),
        ({"StringEquals": {"s3:prefix": "Team/"}}, {"s3:prefix": "team/"}, False),
        ({"StringEquals": {"s3:prefix": ["a/", "team/"]}}, {"s3:prefix": "team/"}, True),  # values OR'd
        ({"StringEquals": {"s3:prefix": "team/"}}, {}, False),  # missing key: false
        ({"StringNotEquals": {"s3:prefix": "team/"}}, {"s3:prefix": "other/"}, True),
        ({"StringNotEquals": {"s3:prefix": ["a/", "team/"]}}, {"s3:prefix": "team/"}, False),
        ({"StringNotEquals": {"s3:prefix": "team/"}}, {}, True),  # negated, missing key: true
        ({"StringEqualsIgnoreCase": {"s3:prefix": "TEAM/"}}, {"s3:prefix": "team/"}, True),
        ({"StringNotEqualsIgnoreCase": {"s3:prefix": "TEAM/"}}, {"s3:prefix": "team/"}, False),
        ({"StringLike": {"s3:prefix": "team/*"}}, {"s3:prefix": "team/a/b"}, True),
        ({"StringLike": {"s3:prefix": "t?am/"}}, {"s3:prefix": "team/"}, True),
        ({"StringLike": {"s3:prefix": "Team/*"}}, {"s3:prefix": "team/a"}, False),
        ({"StringNotLike": {"s3:prefix": "team/*"}}, {"s3:prefix": "team/a"}, False),
        ({"StringNotLike": {"s3:prefix": "team/*"}}, {}, True),
        # Numeric.
        ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, True),
        ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": 20}, False),
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
        ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, True),
        ({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "9"}, False),
        ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.0"}, True),
        ({"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
        ({"NumericNotEquals": {"s3:max-keys": "10"}}, {}, True),
        # Date: ISO 8601 or epoch seconds, on either side.
        (
            {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
            {"aws:CurrentTime": "2029-12-31T23:59:59Z"},
            True,
        ),
        ({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}, {"aws:CurrentTime": "1893456000"}, False),
        ({"DateGreaterThanEquals": {"aws:EpochTime": "1893456000"}}, {"aws:EpochTime": "2030-01-01T00:00:00Z"}, True),
        ({"DateEquals": {"aws:CurrentTime": "2030-01-01T00:00:00+00:00"}}, {"aws:CurrentTime": "1893456000"}, True),
        ({"DateNotEquals": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}, {"aws:CurrentTime": "1893456000"}, False),
        ({"DateLessThanEquals": {"aws:CurrentTime": "2030-01-01"}}, {"aws:CurrentTime": "2029-06-01"}, True),
        ({"DateGreaterThan": {"aws:CurrentTime": "2030-01-01"}}, {}, False),
        # Bool: the policy's "true" string against a boolean context value.
        ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True}, True),
        ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "false"}, False),
        ({"Bool": {"aws:SecureTransport": False}}, {"aws:SecureTransport": False}, True),
        ({"Bool": {"aws:SecureTransport": "true"}}, {}, False),
        # ARN operators: per segment, case-sensitive, wildcards in ArnLike and ArnEquals alike.
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:bedrock:*:*:model-customization-job/*"}},
            {"aws:SourceArn": JOB_ARN},
            True,
        ),
        ({"ArnEquals": {"aws:SourceArn": JOB_ARN}}, {"aws:SourceArn": JOB_ARN}, True),
        ({"ArnEquals": {"aws:SourceArn": JOB_ARN.upper()}}, {"aws:SourceArn": JOB_ARN}, False),
        ({"ArnNotEquals": {"aws:SourceArn": JOB_ARN}}, {"aws:SourceArn": JOB_ARN}, False),
        ({"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*"}}, {"aws:SourceArn": JOB_ARN}, True),
        ({"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*"}}, {}, True),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:bedrock:*"}}, {"aws:SourceArn": "not-an-arn"}, False),
        # ...IfExists: true when the key is absent, the plain test when present.
        ({"StringEqualsIfExists": {"s3:prefix": "team/"}}, {}, True),
        ({"StringEqualsIfExists": {"s3:prefix": "team/"}}, {"s3:prefix": "other/"}, False),
        ({"NumericLessThanIfExists": {"s3:max-keys": "10"}}, {}, True),
        ({"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:bedrock:*"}}, {"aws:SourceArn": JOB_ARN}, True),
        # Null: true = the key is absent, false = present.
        ({"Null": {"s3:prefix": "true"}}, {}, True),
        ({"Null": {"s3:prefix": "true"}}, {"s3:prefix": "x"}, False),
        ({"Null": {"s3:prefix": "false"}}, {"s3:prefix": "x"}, True),
        ({"Null": {"s3:prefix": "false"}}, {}, False),
        # Several keys in one operator AND'd; several operators AND'd.
        ({"StringEquals": {"s3:prefix": "team/", "s3:delimiter": "/"}}, {"s3:prefix": "team/"}, False),
        (
            {"StringEquals": {"s3:prefix": "team/"}, "NumericLessThan": {"s3:max-keys": "5"}},
            {"s3:prefix": "team/", "s3:max-keys": "4"},
            True,
        ),
        (
            {"StringEquals": {"s3:prefix": "team/"}, "NumericLessThan": {"s3:max-keys": "5"}},
            {"s3:prefix": "team/", "s3:max-keys": "6"},
            False,
        ),
        # Tag keys come from the prefixes; principal tags from the principal.
        ({"StringEquals": {"aws:PrincipalTag/team": "alpha"}}, {}, True),
        ({"StringEquals": {"aws:ResourceTag/project": "bft"}}, {"aws:ResourceTag/project": "bft"}, True),
        ({"StringEquals": {"aws:PrincipalArn": ROLE_ARN}}, {}, True),
    ],
)
def test_condition_operators(condition: dict[str, Any], context: dict[str, Any], allowed: bool) -> None:
    assert cond_allowed(condition, context) is allowed


# --- "Single-valued vs. multivalued context keys": ForAllValues / ForAnyValue ---------------------------


@pytest.mark.parametrize(
    ("operator", "context", "allowed"),
    [
        ("ForAllValues:StringEquals", {"aws:TagKeys": ["project", "env"]}, True),
        ("ForAllValues:StringEquals", {"aws:TagKeys": ["project", "owner"]}, False),
        ("ForAllValues:StringEquals", {}, True),  # "also returns true if there are no context keys"
        ("ForAllValues:StringEquals", {"aws:TagKeys": []}, True),
        ("ForAnyValue:StringEquals", {"aws:TagKeys": ["owner", "env"]}, True),
        ("ForAnyValue:StringEquals", {"aws:TagKeys": ["owner"]}, False),
        ("ForAnyValue:StringEquals", {}, False),  # "if the key does not exist, the condition returns false"
        ("ForAnyValue:StringEquals", {"aws:TagKeys": []}, False),
        ("ForAllValues:StringNotEquals", {"aws:TagKeys": ["owner"]}, True),
        ("ForAllValues:StringNotEquals", {"aws:TagKeys": ["owner", "env"]}, False),
        ("ForAnyValue:StringNotEquals", {"aws:TagKeys": ["project", "owner"]}, True),
        ("ForAnyValue:StringNotEquals", {}, False),
        ("ForAnyValue:StringLike", {"aws:TagKeys": ["proj-x"]}, False),
        ("ForAnyValue:StringLike", {"aws:TagKeys": ["project-x"]}, False),
    ],
)
def test_set_operators(operator: str, context: dict[str, Any], allowed: bool) -> None:
    assert cond_allowed({operator: {"aws:TagKeys": ["project", "env"]}}, context) is allowed


def test_for_any_value_string_like() -> None:
    assert cond_allowed({"ForAnyValue:StringLike": {"aws:TagKeys": "proj*"}}, {"aws:TagKeys": ["x", "project"]})


def test_for_all_values_null_pairing_from_the_docs() -> None:
    # MULTI advises a Null check next to ForAllValues so that a missing key does not allow.
    c = {"ForAllValues:StringEquals": {"aws:TagKeys": ["project"]}, "Null": {"aws:TagKeys": "false"}}
    assert cond_allowed(c, {"aws:TagKeys": ["project"]})
    assert not cond_allowed(c, {})


def test_multivalued_key_without_set_operator_is_undecidable() -> None:
    with pytest.raises(Undecidable, match="multivalued"):
        evaluate(
            req(context={"aws:CalledVia": ["athena.amazonaws.com"]}),
            identity=[pol(stmt(Condition={"StringEquals": {"aws:CalledVia": "athena.amazonaws.com"}}))],
        )


# --- "Policy evaluation logic": resource-based policies within one account ------------------------------


def bucket_policy(principal: Any, *extra: dict[str, Any]) -> Policy:
    return pol(stmt(Principal=principal, Sid="Grant"), *extra, kind="resource", source="Data/BucketPolicy")


def test_same_account_resource_policy_naming_role_allows_without_identity_policy() -> None:
    d = evaluate(req(), resource=bucket_policy({"AWS": ROLE_ARN}))
    assert_allowed(d)
    assert d.allowed_by == (StatementRef("Data/BucketPolicy", 0, "Grant"),)


def test_same_account_resource_policy_naming_session_allows() -> None:
    assert_allowed(evaluate(req(), resource=bucket_policy({"AWS": [SESSION_ARN]})))


def test_same_account_root_only_delegates_to_identity_policies() -> None:
    for root in (ACCT, f"arn:aws:iam::{ACCT}:root"):
        d = evaluate(req(), resource=bucket_policy({"AWS": root}))
        assert_denied(d, no_allow("identity-based policy"))
        d = evaluate(req(), identity=[pol(stmt(), source="Id")], resource=bucket_policy({"AWS": root}))
        assert_allowed(d)
        assert d.allowed_by == (StatementRef("Id", 0), StatementRef("Data/BucketPolicy", 0, "Grant"))


def test_same_account_resource_policy_for_someone_else_needs_identity_allow() -> None:
    other = bucket_policy({"AWS": f"arn:aws:iam::{ACCT}:role/Other"})
    assert_denied(evaluate(req(), resource=other), no_allow("identity-based policy"))
    assert_allowed(evaluate(req(), identity=[pol(stmt())], resource=other))


def test_resource_policy_wildcard_principal() -> None:
    assert_allowed(evaluate(req(), resource=bucket_policy("*")))
    assert_allowed(evaluate(req(), resource=bucket_policy({"AWS": "*"})))


def test_boundary_limits_identity_allow() -> None:
    # "Permissions boundaries for IAM entities": effective permissions are the intersection.
    boundary = pol(stmt(action="s3:PutObject"), kind="boundary")
    d = evaluate(req(), identity=[pol(stmt())], boundary=boundary)
    assert_denied(d, no_allow("permissions boundary"))
    # A boundary grants nothing on its own.
    d = evaluate(req(), boundary=pol(stmt(action="s3:*"), kind="boundary"))
    assert_denied(d, no_allow("identity-based policy"))


def test_boundary_limits_role_arn_grant_but_not_session_grant() -> None:
    # EVAL: "Resource-based policies that grant permissions to an IAM role ARN are limited by an implicit
    # deny in a permissions boundary"; a grant to the role session ARN is not.
    boundary = pol(stmt(action="sns:*", resource="*"), kind="boundary")
    d = evaluate(req(), boundary=boundary, resource=bucket_policy({"AWS": ROLE_ARN}))
    assert_denied(d, no_allow("permissions boundary"))
    d = evaluate(req(), boundary=boundary, resource=bucket_policy({"AWS": SESSION_ARN}))
    assert_allowed(d)
    boundary_ok = pol(stmt(action="s3:*", resource="*"), kind="boundary", source="Bound")
    assert_allowed(evaluate(req(), boundary=boundary_ok, resource=bucket_policy({"AWS": ROLE_ARN})))


def test_resource_policy_condition_applies() -> None:
    bp = pol(
        stmt(Principal={"AWS": ROLE_ARN}),
        stmt("Deny", "s3:*", "*", Principal="*", Condition={"Bool": {"aws:SecureTransport": "false"}}),
        kind="resource",
    )
    assert_allowed(evaluate(req(context={"aws:SecureTransport": True}), resource=bp))
    assert_denied(
        evaluate(req(context={"aws:SecureTransport": False}), resource=bp),
        "with an explicit deny in a resource-based policy",
    )


def test_not_principal_deny_exempts_only_when_every_identity_is_listed() -> None:
    # "AWS JSON policy elements: NotPrincipal": list the account, the role and the session to exempt it.
    def deny_all_but(*ids: str) -> Policy:
        return pol(
            stmt(Principal="*", Sid="Open"),
            stmt("Deny", "s3:*", "*", NotPrincipal={"AWS": list(ids)}),
            kind="resource",
        )

    everyone = deny_all_but(f"arn:aws:iam::{ACCT}:root", ROLE_ARN, SESSION_ARN)
    assert_allowed(evaluate(req(), resource=everyone))
    only_role = deny_all_but(ROLE_ARN)
    assert_denied(evaluate(req(), resource=only_role), "with an explicit deny in a resource-based policy")
    # "Permissions boundaries": a Deny with NotPrincipal always denies a principal with a boundary.
    boundary = pol(stmt(action="*", resource="*"), kind="boundary")
    d = evaluate(req(), identity=[pol(stmt())], boundary=boundary, resource=everyone)
    assert_denied(d, "with an explicit deny in a resource-based policy")


# --- "Cross-account policy evaluation logic" -----------------------------------------------------------


def test_cross_account_needs_identity_and_resource_allow() -> None:
    r = req(principal=OTHER_ROLE, resource_account=ACCT)
    reader_policy = pol(stmt())
    grant_account = bucket_policy({"AWS": OTHER})
    assert_denied(evaluate(r, identity=[reader_policy]), no_allow("resource-based policy"))
    assert_denied(evaluate(r, resource=grant_account), no_allow("identity-based policy"))
    assert_denied(
        evaluate(r, resource=bucket_policy({"AWS": OTHER_ROLE.arn})),
        no_allow("identity-based policy"),
    )
    assert_allowed(evaluate(r, identity=[reader_policy], resource=grant_account))
    boundary = pol(stmt(action="sns:*", resource="*"), kind="boundary")
    d = evaluate(r, identity=[reader_policy], boundary=boundary, resource=grant_account)
    assert_denied(d, no_allow("permissions boundary"))


# --- Service principals in resource-based policies -----------------------------------------------------


def test_service_principal_is_decided_by_the_resource_policy_alone() -> None:
    sns = Principal(arn="sns.amazonaws.com", type="Service")
    fn_policy = pol(
        stmt(
            action="lambda:InvokeFunction",
            resource="arn:aws:lambda:us-east-1:111122223333:function:notify",
            Principal={"Service": "sns.amazonaws.com"},
            Condition={"ArnLike": {"aws:SourceArn": f"arn:aws:sns:us-east-1:{ACCT}:alerts"}},
        ),
        kind="resource",
    )
    r = req(
        "lambda:InvokeFunction",
        "arn:aws:lambda:us-east-1:111122223333:function:notify",
        principal=sns,
        context={"aws:SourceArn": f"arn:aws:sns:us-east-1:{ACCT}:alerts"},
    )
    assert_allowed(evaluate(r, resource=fn_policy))
    events = Principal(arn="events.amazonaws.com", type="Service")
    d = evaluate(
        AuthRequest(principal=events, action=r.action, resource=r.resource, context=r.context), resource=fn_policy
    )
    assert_denied(d, no_allow("resource-based policy", "lambda:InvokeFunction"))


# --- AWS KMS: "Key policies in AWS KMS", "Default key policy", "Grants in AWS KMS" ----------------------

ROOT_STATEMENT = stmt(action="kms:*", resource="*", Principal={"AWS": f"arn:aws:iam::{ACCT}:root"}, Sid="EnableIAM")


def key_policy(*statements: dict[str, Any]) -> Policy:
    return pol(*statements, kind="key", source="Data/Key")


def kms_req(action: str = "kms:Decrypt", **kw: Any) -> AuthRequest:
    return req(action, KEY, **kw)


def kms_identity() -> Policy:
    return pol(stmt(action=["kms:Decrypt", "kms:GenerateDataKey"], resource=KEY), source="Role/Policy")


def test_kms_without_key_policy_denies_like_kms() -> None:
    d = evaluate(kms_req(), identity=[kms_identity()], resource_kind="kms")
    assert_denied(d, no_allow("resource-based policy", "kms:Decrypt"))
    assert access_denied_message(kms_req(), d) == (
        f"User: {SESSION_ARN} is not authorized to perform: kms:Decrypt on resource: {KEY} "
        "because no resource-based policy allows the kms:Decrypt action"
    )


def test_kms_identity_policy_alone_has_no_effect() -> None:
    kp = key_policy(stmt(action="kms:*", resource="*", Principal={"AWS": f"arn:aws:iam::{ACCT}:role/Admin"}))
    d = evaluate(kms_req(), identity=[kms_identity()], resource=kp, resource_kind="kms")
    assert_denied(d, no_allow("resource-based policy", "kms:Decrypt"))


def test_kms_root_statement_delegates_to_iam() -> None:
    kp = key_policy(ROOT_STATEMENT)
    d = evaluate(kms_req(), identity=[kms_identity()], resource=kp, resource_kind="kms")
    assert_allowed(d)
    assert d.allowed_by == (StatementRef("Role/Policy", 0), StatementRef("Data/Key", 0, "EnableIAM"))
    d = evaluate(kms_req(), resource=kp, resource_kind="kms")
    assert_denied(d, no_allow("identity-based policy", "kms:Decrypt"))
    boundary = pol(stmt(action="s3:*", resource="*"), kind="boundary")
    d = evaluate(kms_req(), identity=[kms_identity()], boundary=boundary, resource=kp, resource_kind="kms")
    assert_denied(d, no_allow("permissions boundary", "kms:Decrypt"))


def test_kms_key_policy_naming_the_role_allows_directly() -> None:
    kp = key_policy(stmt(action="kms:Decrypt", resource="*", Principal={"AWS": ROLE_ARN}))
    assert_allowed(evaluate(kms_req(), resource=kp, resource_kind="kms"))


def test_kms_via_service_and_encryption_context_conditions() -> None:
    identity = pol(
        stmt(
            action="kms:Decrypt",
            resource=KEY,
            Condition={
                "StringEquals": {
                    "kms:ViaService": "s3.us-east-1.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": BUCKET,
                }
            },
        )
    )
    kp = key_policy(ROOT_STATEMENT)
    ok = kms_req(context={"kms:ViaService": "s3.us-east-1.amazonaws.com"}, encryption_context={"aws:s3:arn": BUCKET})
    assert_allowed(evaluate(ok, identity=[identity], resource=kp, resource_kind="kms"))
    direct = kms_req(encryption_context={"aws:s3:arn": BUCKET})
    d = evaluate(direct, identity=[identity], resource=kp, resource_kind="kms")
    assert_denied(d, no_allow("identity-based policy", "kms:Decrypt"))


def grant(operations: tuple[str, ...] = ("Decrypt",), **constraints: dict[str, str]) -> Grant:
    return Grant(grant_id="g1", key_arn=KEY, grantee=ROLE_ARN, operations=operations, constraints=constraints)


def test_kms_grant_allows_with_constraints() -> None:
    # "Using grant constraints": Subset = the request's context includes the pairs; Equals = exactly them;
    # the key of a pair is not case-sensitive, the value is.
    kp = key_policy(stmt(action="kms:*", resource="*", Principal={"AWS": f"arn:aws:iam::{ACCT}:role/Admin"}))
    g = grant(EncryptionContextSubset={"Dept": "IT"})
    for ec, allowed in (
        ({"dept": "IT", "extra": "x"}, True),
        ({"Dept": "it"}, False),
        ({}, False),
    ):
        d = evaluate(kms_req(encryption_context=ec), resource=kp, resource_kind="kms", grants=[g])
        assert d.allowed is allowed
        assert d.reason == ("" if allowed else no_allow("resource-based policy", "kms:Decrypt"))
        if allowed:
            assert d.allowed_by == (StatementRef("grant:g1", 0),)
    g_eq = grant(EncryptionContextEquals={"Dept": "IT"})
    ok = evaluate(kms_req(encryption_context={"Dept": "IT"}), resource=kp, resource_kind="kms", grants=[g_eq])
    assert_allowed(ok)
    extra = kms_req(encryption_context={"Dept": "IT", "x": "y"})
    assert not evaluate(extra, resource=kp, resource_kind="kms", grants=[g_eq]).allowed


def test_kms_grant_operations_are_exact() -> None:
    kp = key_policy(stmt(action="kms:*", resource="*", Principal={"AWS": f"arn:aws:iam::{ACCT}:role/Admin"}))
    g = grant(("GenerateDataKey", "DescribeKey"), EncryptionContextSubset={"Dept": "IT"})
    assert evaluate(
        kms_req("kms:GenerateDataKey", encryption_context={"Dept": "IT"}), resource=kp, resource_kind="kms", grants=[g]
    ).allowed
    d = evaluate(kms_req("kms:GenerateDataKeyWithoutPlaintext"), resource=kp, resource_kind="kms", grants=[g])
    assert_denied(d, no_allow("resource-based policy", "kms:GenerateDataKeyWithoutPlaintext"))
    # Constraints do not apply to DescribeKey (API GrantConstraints).
    assert_allowed(evaluate(kms_req("kms:DescribeKey"), resource=kp, resource_kind="kms", grants=[g]))
    other_grantee = Grant("g2", KEY, f"arn:aws:iam::{ACCT}:role/Other", ("Decrypt",))
    d = evaluate(kms_req(), resource=kp, resource_kind="kms", grants=[other_grantee])
    assert_denied(d, no_allow("resource-based policy", "kms:Decrypt"))


def test_kms_grant_does_not_override_explicit_deny() -> None:
    kp = key_policy(ROOT_STATEMENT, stmt("Deny", "kms:Decrypt", "*", Principal="*", Sid="NoDecrypt"))
    d = evaluate(kms_req(), resource=kp, resource_kind="kms", grants=[grant()])
    assert_denied(d, "with an explicit deny in a resource-based policy")
    assert d.denied_by == (StatementRef("Data/Key", 1, "NoDecrypt"),)


# --- Role trust policies ("IAM roles", "Roles terms and concepts", "confused deputy") --------------------


def trust_policy(principal: dict[str, Any], condition: dict[str, Any] | None = None) -> Policy:
    s: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        s["Condition"] = condition
    return pol(s, kind="trust", source="Data/CustomizationRole")


BEDROCK_TRUST = trust_policy(
    {"Service": "bedrock.amazonaws.com"},
    {
        "StringEquals": {"aws:SourceAccount": ACCT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:bedrock:us-east-1:{ACCT}:model-customization-job/*"},
    },
)


@pytest.mark.parametrize(
    ("context", "allowed"),
    [
        ({"aws:SourceAccount": ACCT, "aws:SourceArn": JOB_ARN}, True),
        ({"aws:SourceAccount": OTHER, "aws:SourceArn": JOB_ARN}, False),
        ({"aws:SourceAccount": ACCT, "aws:SourceArn": JOB_ARN.replace("model-customization-job", "other")}, False),
        ({"aws:SourceAccount": ACCT}, False),
        ({}, False),
    ],
)
def test_service_trust_policy_with_source_conditions(context: dict[str, Any], allowed: bool) -> None:
    r = req("sts:AssumeRole", TARGET_ROLE, principal=BEDROCK, context=context)
    d = evaluate(r, resource=BEDROCK_TRUST, resource_kind="trust")
    assert d.allowed is allowed
    assert d.reason == ("" if allowed else no_allow("resource-based policy", "sts:AssumeRole"))


def test_trust_policy_for_another_service_denies() -> None:
    r = req("sts:AssumeRole", TARGET_ROLE, principal=Principal(arn="lambda.amazonaws.com", type="Service"))
    d = evaluate(r, resource=BEDROCK_TRUST, resource_kind="trust")
    assert_denied(d, no_allow("resource-based policy", "sts:AssumeRole"))


def test_aws_principal_trust() -> None:
    r = req("sts:AssumeRole", TARGET_ROLE)
    assume = pol(stmt(action="sts:AssumeRole", resource=TARGET_ROLE))
    # Naming the role itself suffices in the same account.
    assert_allowed(evaluate(r, resource=trust_policy({"AWS": ROLE_ARN}), resource_kind="trust"))
    # Naming the account delegates: an identity-based allow of sts:AssumeRole is needed.
    root_trust = trust_policy({"AWS": f"arn:aws:iam::{ACCT}:root"})
    d = evaluate(r, resource=root_trust, resource_kind="trust")
    assert_denied(d, no_allow("identity-based policy", "sts:AssumeRole"))
    assert_allowed(evaluate(r, identity=[assume], resource=root_trust, resource_kind="trust"))
    # An identity allow is not enough when the trust policy does not name the caller.
    d = evaluate(r, identity=[assume], resource=BEDROCK_TRUST, resource_kind="trust")
    assert_denied(d, no_allow("resource-based policy", "sts:AssumeRole"))
    d = evaluate(r, identity=[assume], resource_kind="trust")
    assert_denied(d, no_allow("resource-based policy", "sts:AssumeRole"))


# --- Fail closed: what is not modelled raises Undecidable naming policy and statement --------------------


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (stmt(Condition={"StringMatches": {"s3:prefix": "x"}}), "unknown condition operator 'StringMatches'"),
        (stmt(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}), "unknown condition operator 'IpAddress'"),
        (stmt(Condition={"ForSomeValues:StringEquals": {"aws:TagKeys": "x"}}), "unknown condition set operator"),
        (stmt(Condition={"NullIfExists": {"s3:prefix": "true"}}), "unknown condition operator"),
        (stmt(Condition={"StringEquals": {"aws:SourceVpce": "vpce-1"}}), "'aws:SourceVpce' is not in the"),
        (stmt(resource="arn:aws:s3:::datasets-bucket/${aws:username}/*"), "policy variable in Resource"),
        (stmt(Condition={"StringLike": {"s3:prefix": "${aws:userid}/*"}}), "policy variable in condition"),
        (stmt(Extra="x"), "unknown element(s) ['Extra']"),
        (stmt(effect="allow"), "Effect must be Allow or Deny"),
        (stmt(resource=None), "no Resource or NotResource"),
        (stmt(Principal="*"), "Principal in an identity-based policy"),
        (stmt(Condition={"NumericLessThan": {"s3:max-keys": "ten"}}), "not a number"),
    ],
)
def test_undecidable_identity_statements(statement: dict[str, Any], message: str) -> None:
    p = pol(stmt(action="sns:Publish"), statement, source="Stack/Odd")
    with pytest.raises(Undecidable) as info:
        evaluate(req(), identity=[p])
    assert "Stack/Odd statement 1" in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (stmt(Principal={"Federated": "cognito-identity.amazonaws.com"}), "Principal type 'Federated'"),
        (stmt(Principal={"AWS": "arn:aws:iam::*:role/x"}), "is not an account, root, role"),
        (stmt(Principal={"AWS": {"Fn::GetAtt": ["Role", "Arn"]}}), "not a string"),
        (stmt(NotPrincipal={"AWS": ROLE_ARN}), "NotPrincipal with Effect Allow"),
        (stmt(), "needs Principal or NotPrincipal"),
    ],
)
def test_undecidable_resource_statements(statement: dict[str, Any], message: str) -> None:
    p = pol(statement, kind="resource", source="Data/Odd")
    with pytest.raises(Undecidable) as info:
        evaluate(req(), resource=p)
    assert "Data/Odd statement 0" in str(info.value)
    assert message in str(info.value)


def test_unknown_top_level_element_is_undecidable() -> None:
    p = Policy(document={"Version": "2012-10-17", "Statement": [stmt()], "Extra": 1}, source="S/P", kind="identity")
    with pytest.raises(Undecidable, match=r"S/P: unknown policy element"):
        evaluate(req(), identity=[p])


def test_unmodelled_condition_in_a_statement_that_does_not_apply_is_decided() -> None:
    # A statement whose action does not match cannot apply, whatever its condition says.
    p = pol(stmt(), stmt(action="sns:Publish", Condition={"StringEquals": {"aws:SourceVpce": "v"}}))
    assert_allowed(evaluate(req(), identity=[p]))


def test_grant_constraint_on_create_grant_is_undecidable() -> None:
    g = grant(("CreateGrant",), EncryptionContextSubset={"a": "b"})
    with pytest.raises(Undecidable, match="grant:g1"):
        evaluate(kms_req("kms:CreateGrant"), resource=key_policy(ROOT_STATEMENT), resource_kind="kms", grants=[g])


# --- Registry and message ------------------------------------------------------------------------------


def test_registry() -> None:
    assert "aws:SourceAccount" in KNOWN_CONDITION_KEYS
    assert is_known_key("AWS:SOURCEACCOUNT")
    assert is_known_key("aws:ResourceTag/project")
    assert is_known_key("kms:EncryptionContext:aws:s3:arn")
    assert is_known_key("kms:EncryptionContextKeys")
    assert not is_known_key("aws:ResourceTag/")
    assert not is_known_key("aws:SourceIp")


def test_access_denied_message() -> None:
    r = req()
    d = evaluate(r)
    assert access_denied_message(r, d) == (
        f"User: {SESSION_ARN} is not authorized to perform: s3:GetObject on resource: {OBJECT} "
        "because no identity-based policy allows the s3:GetObject action"
    )
    with pytest.raises(ValueError, match="allows"):
        access_denied_message(r, evaluate(r, identity=[pol(stmt())]))


def test_policy_parse_is_cached_per_policy_object() -> None:
    from bft_twin.iam.statements import parsed_statements

    p = pol(stmt())
    evaluate(req(), identity=[p])
    first = parsed_statements(p, "identity")
    evaluate(req(), identity=[p])
    assert parsed_statements(p, "identity") is first
