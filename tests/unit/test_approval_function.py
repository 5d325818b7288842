"""The approval function behind the function URL (AWS_IAM auth): who may decide, and what it answers."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.credentials import Credentials
from moto import mock_aws

from bft import aws
from bft.workflow import approval, caller_proof, state
from tests.unit.workflow_support import Env, FakeContext, RecordingSfn, load_handler, make_env

ACCOUNT = "123456789012"
REVIEWER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/teams/review/moderation-reviewers"  # a role with a path
REVIEWER_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/moderation-reviewers/alice"
REVIEWER_USER = f"arn:aws:iam::{ACCOUNT}:user/ops/bob"
SUBMITTER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/bft/BftLocalModerationSubmitter"
SUBMITTER_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/BftLocalModerationSubmitter/carol"


@pytest.fixture
def env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    with mock_aws():
        yield make_env(tmp_path)


# Access key -> the ARN STS answers for it: who signed a caller's proof, in these tests.
SIGNERS: dict[str, str] = {}


def fake_sts(request: Any) -> tuple[int, bytes]:
    """STS as the approval function reaches it: the signer's ARN for a key it knows (signature unchecked
    here: the offline twin checks it in tests/workflow), 403 otherwise."""
    assert request.url == "https://sts.us-west-2.amazonaws.com/", request.url
    key = request.headers["authorization"].split("Credential=", 1)[1].split("/", 1)[0]
    if key not in SIGNERS:
        return 403, b"<ErrorResponse><Error><Code>InvalidClientTokenId</Code></Error></ErrorResponse>"
    return 200, caller_proof.identity_document(SIGNERS[key], ACCOUNT, "AROAEXAMPLE:alice")


def proof(decision: Any, signer: str) -> dict[str, str]:
    key = f"ASIA{abs(hash(signer)) % 10**12:012d}"
    SIGNERS[key] = signer
    return caller_proof.make_proof(Credentials(key, "secret", "token"), "us-west-2", decision)


@pytest.fixture(autouse=True)
def sts() -> Iterator[None]:
    caller_proof.use_transport(fake_sts)
    yield
    caller_proof.use_transport(None)


@pytest.fixture
def sfn(env: Env, monkeypatch: pytest.MonkeyPatch) -> RecordingSfn:
    recording = RecordingSfn()
    monkeypatch.setattr(aws, "_clients", {"stepfunctions": recording, "dynamodb-table:state": env.table})
    for name, value in {
        "STATE_TABLE": "state",
        "ENVIRONMENT": "local",
        "PRODUCTION": "false",
        "REGISTRY_PATH": "/bft_twin/teams",
        "AWS_REGION": "us-west-2",
    }.items():
        monkeypatch.setenv(name, value)
    # Each team's registry entry, as its stack writes it (bft.registry). The submitter role is listed as a
    # reviewer too (a config mistake): it must still be refused.
    register("moderation", [REVIEWER_ROLE, REVIEWER_USER, SUBMITTER_ROLE], SUBMITTER_ROLE)
    register("payments", [], None)
    return recording


def register(team: str, reviewers: list[str], submitter: str | None) -> None:
    ssm = boto3.client("ssm", region_name="us-west-2")
    guardrails = {"allowedBaseModels": [], "reviewers": reviewers, "ttlHours": None}
    ssm.put_parameter(Name=f"/bft_twin/teams/{team}/guardrails", Value=json.dumps(guardrails), Type="String")
    if submitter:
        ssm.put_parameter(Name=f"/bft_twin/teams/{team}/submitter-role-arn", Value=submitter, Type="String")


def waiting(env: Env, team: str = "moderation", request_id: str = "req-1", stored_team: str | None = None) -> None:
    state.put_token(
        env.table,
        "approval",
        approval.approval_key(team, request_id),
        f"tok-{request_id}",
        execution_arn=f"arn:aws:states:us-west-2:{ACCOUNT}:execution:sm:{request_id}",
        ttl_seconds=600,
        extra={"team": stored_team or team},
    )


def url_event(
    body: Any,
    caller: str | None = REVIEWER_SESSION,
    *,
    method: str = "POST",
    b64: bool = False,
    signer: str | None = None,
) -> dict:
    """What the function URL passes on; a dict body carries the proof `bft approve` signs (as ``signer``,
    the caller by default)."""
    if isinstance(body, dict) and "proof" not in body:
        body = body | {"proof": proof(body, signer or caller or REVIEWER_SESSION)}
    text = body if isinstance(body, str) else json.dumps(body)
    context: dict[str, Any] = {"http": {"method": method, "path": "/"}, "accountId": "anonymous"}
    if caller:
        context["authorizer"] = {"iam": {"userArn": caller, "accountId": ACCOUNT, "callerId": "AROAEXAMPLE:alice"}}
    return {
        "version": "2.0",
        "rawPath": "/",
        "requestContext": context,
        "body": base64.b64encode(text.encode()).decode() if b64 else text,
        "isBase64Encoded": b64,
    }


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = load_handler("decide_approval")(event, FakeContext())
    assert set(answer) == {"statusCode", "headers", "body"}
    assert answer["headers"]["content-type"] == "application/json"
    return answer["statusCode"], json.loads(answer["body"])


DECISION = {"team": "moderation", "requestId": "req-1", "approve": True, "reason": "curves look good"}


def test_a_reviewer_role_with_a_path_approves_and_is_recorded_by_its_verified_arn(env: Env, sfn: RecordingSfn) -> None:
    waiting(env)
    status, body = call(url_event(DECISION))
    assert status == 200, body
    ((kind, sent),) = sfn.sent
    assert (kind, sent["taskToken"]) == ("success", "tok-req-1")
    output = json.loads(sent["output"])
    assert output == {
        "approved": True,
        "reviewer": REVIEWER_SESSION,
        "reviewerRole": REVIEWER_ROLE,
        "reason": "curves look good",
    }
    assert body["reviewer"] == REVIEWER_SESSION
    assert body["executionArn"].endswith(":req-1")
    assert state.get_token(env.table, "approval", "moderation#req-1") is None, "the token is consumed"


def test_a_reviewer_user_rejects_with_a_reason(env: Env, sfn: RecordingSfn) -> None:
    waiting(env)
    status, _ = call(url_event(DECISION | {"approve": False, "reason": "overfits"}, REVIEWER_USER, b64=True))
    assert status == 200
    ((kind, sent),) = sfn.sent
    assert (kind, sent["error"], sent["cause"]) == (
        "failure",
        "ApprovalRejected",
        f"rejected by {REVIEWER_USER}: overfits",
    )


@pytest.mark.parametrize(
    ("caller", "message"),
    [
        (SUBMITTER_SESSION, "submitter role: a submitter never decides on its own team's runs"),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/payments-reviewers/dan", "is not a reviewer of team moderation"),
        # Same role name in another account is another role.
        ("arn:aws:sts::210987654321:assumed-role/moderation-reviewers/eve", "does not belong to account"),
        (f"arn:aws:iam::{ACCOUNT}:user/bob", "is not a reviewer"),  # user ARNs compare whole, path included
        (f"arn:aws:iam::{ACCOUNT}:root", "is not a reviewer"),
        (None, "must use AWS_IAM auth"),
    ],
)
def test_callers_who_may_not_decide_are_refused(env: Env, sfn: RecordingSfn, caller: str | None, message: str) -> None:
    waiting(env)
    status, body = call(url_event(DECISION, caller))
    assert status == 403
    assert message in body["message"]
    assert sfn.sent == []
    assert state.get_token(env.table, "approval", "moderation#req-1") is not None, "the token stays"


def test_another_account_with_matching_account_id_is_still_not_a_reviewer(env: Env, sfn: RecordingSfn) -> None:
    waiting(env)
    event = url_event(DECISION, "arn:aws:sts::210987654321:assumed-role/moderation-reviewers/eve")
    event["requestContext"]["authorizer"]["iam"]["accountId"] = "210987654321"
    status, body = call(event)
    assert status == 403
    assert "is not a reviewer of team moderation" in body["message"]


def test_no_reviewers_for_the_team_means_nobody_decides(env: Env, sfn: RecordingSfn) -> None:
    waiting(env, team="payments")
    status, body = call(url_event(DECISION | {"team": "payments"}))
    assert status == 403
    assert "team payments has no reviewers" in body["message"]


def test_a_token_recorded_for_another_team_is_never_resumed(env: Env, sfn: RecordingSfn) -> None:
    waiting(env, stored_team="payments")
    status, body = call(url_event(DECISION))
    assert status == 403
    assert "belongs to another team" in body["message"]
    assert sfn.sent == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", "body: not JSON"),
        ([1, 2], "body: must be a JSON object"),
        ({k: v for k, v in DECISION.items() if k != "team"}, "team: required"),
        (DECISION | {"requestId": "has spaces"}, "requestId: required"),
        (DECISION | {"approve": "yes"}, "approve: required, true or false"),
        (DECISION | {"approve": False, "reason": "  "}, "reason: a rejection needs a reason"),
        (DECISION | {"reason": 7}, "reason: a string"),
        (DECISION | {"reviewer": "somebody-else"}, "reviewer: unknown field"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(env: Env, sfn: RecordingSfn, body: Any, field: str) -> None:
    waiting(env)
    status, answer = call(url_event(body))
    assert status == 400
    assert field in answer["message"]
    assert state.get_token(env.table, "approval", "moderation#req-1") is not None


def test_nothing_waiting_is_a_404(env: Env, sfn: RecordingSfn) -> None:
    status, body = call(url_event(DECISION))
    assert status == 404
    assert "req-1 of team moderation is not waiting for approval" in body["message"]


def test_a_run_that_stopped_waiting_is_a_404(env: Env, sfn: RecordingSfn) -> None:
    waiting(env)
    sfn.gone = True
    status, body = call(url_event(DECISION))
    assert status == 404
    assert "no longer waits" in body["message"]


def test_only_post(env: Env, sfn: RecordingSfn) -> None:
    assert call(url_event(DECISION, method="GET"))[0] == 405


def test_a_misconfigured_function_says_which_variable(
    env: Env, sfn: RecordingSfn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REGISTRY_PATH")
    status, body = call(url_event(DECISION))
    assert status == 500
    assert "REGISTRY_PATH" in body["message"]


def test_a_team_without_a_registry_entry_is_not_onboarded(env: Env, sfn: RecordingSfn) -> None:
    waiting(env, team="offboarded")
    status, body = call(url_event(DECISION | {"team": "offboarded"}))
    assert status == 403
    assert "team offboarded is not onboarded in local" in body["message"]
    assert sfn.sent == []


def test_a_refused_send_task_names_the_action(env: Env, sfn: RecordingSfn, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    class DeniedSfn:
        def send_task_success(self, **kwargs: Any) -> None:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "SendTaskSuccess")

    waiting(env)
    monkeypatch.setitem(aws._clients, "stepfunctions", DeniedSfn())
    status, body = call(url_event(DECISION))
    assert status == 500
    assert body["error"] == "AccessDenied"
    assert body["message"].startswith("SendTaskSuccess: AccessDeniedException")


def test_caller_matching() -> None:
    alice = approval.Caller(arn=REVIEWER_SESSION, account=ACCOUNT, caller_id="x")
    assert alice.matches(REVIEWER_ROLE)
    assert alice.matches(f"arn:aws:iam::{ACCOUNT}:role/moderation-reviewers")
    assert not alice.matches(f"arn:aws:iam::{ACCOUNT}:role/teams/moderation-reviewers-2")
    assert not alice.matches(f"arn:aws:iam::{ACCOUNT}:user/moderation-reviewers")
    assert not alice.matches(f"arn:aws-cn:iam::{ACCOUNT}:role/moderation-reviewers")
    assert not alice.matches("moderation-reviewers")


# -- the decision record and the caller's proof (issue #23, M2) -------------------------------------------
def test_an_approval_is_recorded_once_for_its_execution(env: Env, sfn: RecordingSfn) -> None:
    waiting(env)
    assert call(url_event(DECISION))[0] == 200
    execution = f"arn:aws:states:us-west-2:{ACCOUNT}:execution:sm:req-1"
    record = state.get_decision(env.table, execution)
    assert record is not None
    assert {k: record[k] for k in ("team", "requestId", "approved", "reviewer", "reviewerRole", "reason")} == {
        "team": "moderation",
        "requestId": "req-1",
        "approved": True,
        "reviewer": REVIEWER_SESSION,
        "reviewerRole": REVIEWER_ROLE,
        "reason": "curves look good",
    }
    with pytest.raises(approval.ApprovalRefused, match="already decided"):
        state.record_decision(env.table, execution, {"approved": False, "reviewer": "someone else"})
    assert state.get_decision(env.table, execution)["reviewer"] == REVIEWER_SESSION


@pytest.mark.parametrize(
    ("event", "message"),
    [
        # A direct Invoke claiming the reviewer, with no proof or with the invoker's own.
        (url_event(DECISION | {"proof": None}), "no proof of the caller"),
        (url_event(DECISION, signer=f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/mallory"), "but arn:aws:sts::"),
        # The reviewer's genuine proof of a rejection, replayed as an approval.
        (
            url_event(DECISION | {"proof": proof(DECISION | {"approve": False, "reason": "no"}, REVIEWER_SESSION)}),
            "signed for another decision",
        ),
        (url_event(DECISION | {"proof": {"authorization": "AWS4-HMAC-SHA256 Credential=x"}}), "not an sts:Get"),
    ],
)
def test_a_caller_without_stss_word_for_it_is_refused(
    env: Env, sfn: RecordingSfn, event: dict[str, Any], message: str
) -> None:
    waiting(env)
    status, body = call(event)
    assert status == 403, body
    assert message in body["message"]
    assert sfn.sent == []
    assert state.get_token(env.table, "approval", "moderation#req-1") is not None, "the token stays"


def test_sts_refusing_the_proof_is_a_refusal(env: Env, sfn: RecordingSfn) -> None:
    waiting(env)
    event = url_event(
        DECISION | {"proof": caller_proof.make_proof(Credentials("ASIAUNKNOWN", "s", "t"), "us-west-2", DECISION)}
    )
    status, body = call(event)
    assert status == 403
    assert "STS refused the caller's proof (HTTP 403)" in body["message"]


def test_production_refuses_the_submitters_own_approval(
    env: Env, sfn: RecordingSfn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRODUCTION", "true")
    submitted_by = f"arn:aws:sts::{ACCOUNT}:assumed-role/BftProdModerationSubmitter/Alice"
    state.put_token(
        env.table,
        "approval",
        "moderation#req-1",
        "tok-req-1",
        execution_arn=f"arn:aws:states:us-west-2:{ACCOUNT}:execution:sm:req-1",
        ttl_seconds=600,
        extra={"team": "moderation", "submittedBy": submitted_by},
    )
    status, body = call(url_event(DECISION))  # alice, now under the reviewer role
    assert status == 403, body
    assert "nobody approves their own run" in body["message"]
    assert sfn.sent == []
    # Another person of the reviewers' role approves; and outside production the check does not apply.
    bob = f"arn:aws:sts::{ACCOUNT}:assumed-role/moderation-reviewers/bob"
    assert call(url_event(DECISION, bob))[0] == 200


def test_same_person() -> None:
    alice = f"arn:aws:sts::{ACCOUNT}:assumed-role/moderation-reviewers/alice"
    assert approval.same_person(alice, f"arn:aws:sts::{ACCOUNT}:assumed-role/Submitter/Alice")
    assert not approval.same_person(alice, f"arn:aws:sts::{ACCOUNT}:assumed-role/Submitter/bob")
    assert not approval.same_person(alice, "arn:aws:sts::210987654321:assumed-role/Submitter/alice")
    assert approval.same_person(REVIEWER_USER, REVIEWER_USER)
