"""Step 1: the request, the team's guardrails, the base model's lifecycle, the request claim."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bft.errors import AccessDenied, BaseModelUnavailable, DuplicateRequest, RequestInvalid
from bft.workflow import state
from bft.workflow.request import Context, validate_request
from bft_twin.catalog import catalog
from tests.unit.workflow_support import Env, make_env


@pytest.fixture
def env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    with mock_aws():
        yield make_env(tmp_path)


def test_valid_request_is_normalized_with_deterministic_names_and_tags(env: Env) -> None:
    run = env.run()
    assert run["requestId"] == "req-1"
    assert run["attempt"] == 1
    assert re.fullmatch(r"bft-local-moderation-req-1-a1-[0-9a-f]{12}", run["jobName"])
    assert run["servingName"] == run["customModelName"] == run["jobName"]
    assert run["clientRequestToken"] == env.run(execution="exec-1")["clientRequestToken"]
    assert {"key": "team", "value": "moderation"} in run["tags"]
    assert {"key": "request", "value": "req-1"} in run["tags"]
    assert run["serving"] | {} == run["serving"]
    assert run["serving"]["modelUnits"] == 1
    assert run["serving"]["commitment"] is None
    assert run["hyperParameters"] == {"epochCount": "2"}


def test_legacy_base_model_warns(env: Env) -> None:
    run = env.run()
    assert run["lifecycle"]["status"] == "LEGACY"
    assert any("LEGACY" in w and "end of life" in w for w in run["warnings"])


def test_base_model_past_end_of_life_is_refused(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    now = datetime.now(UTC)
    with mock_aws():
        env = make_env(tmp_path, catalog=catalog(now=now, haiku_end_of_life=now - timedelta(days=3)))
        with pytest.raises(BaseModelUnavailable, match="end of life"):
            env.run()
        assert state.get_claim(env.table, "moderation", "req-1") is None, "a refused request claims nothing"


def test_haiku_with_its_published_lifecycle_is_refused_naming_active_models(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default catalog carries AWS's published dates: Claude 3 Haiku's end of life is 2026-09-10.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    with mock_aws():
        env = make_env(tmp_path, catalog=catalog())
        with pytest.raises(BaseModelUnavailable) as refused:
            env.run()
        assert env.fake.counters.jobs_started == 0
    message = str(refused.value)
    assert "reached end of life on 2026-09-10" in message
    # The team's other allowed models that Bedrock reports ACTIVE and fine-tunable here (the local fixture config).
    assert "move to an ACTIVE model allowed for your team: meta.llama3-1-8b-instruct-v1:0:128k" in message


def test_refusal_says_when_no_allowed_model_is_active(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    with mock_aws():
        env = make_env(tmp_path, catalog=catalog())
        policy = env.policy(allowedBaseModels=["anthropic.claude-3-haiku-20240307-v1:0:200k"])
        context = Context(
            execution_arn="arn:aws:states:us-west-2:123456789012:execution:sm:e",
            execution_name="e",
            now=datetime.now(UTC),
        )
        with pytest.raises(BaseModelUnavailable, match="no other model allowed for your team is ACTIVE"):
            validate_request(env.request(), policy, context, bedrock=env.bedrock, table=env.table)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"team": "payments"}, r"team: 'payments' is not onboarded"),
        ({"colour": "blue"}, r"colour: unknown field"),
        (
            {"trainingDataUri": "s3://datasets-bucket/other-team/train.jsonl"},
            r"trainingDataUri: .* outside team moderation's prefix",
        ),
        ({"trainingDataUri": "s3://elsewhere/moderation/train.jsonl"}, r"outside team moderation's prefix"),
        ({"trainingDataUri": "s3://datasets-bucket/moderation/../x/train.jsonl"}, r"outside team moderation's prefix"),
        ({"trainingDataUri": "https://example.com/train.jsonl"}, r"not an s3://bucket/key URI"),
        ({"baseModelId": "amazon.nova-micro-v1:0:128k"}, r"baseModelId: .* is not allowed for team moderation"),
        ({"hyperParameters": {"epochCount": "11"}}, r"hyperParameters.epochCount must be an integer from 1 to 10"),
        ({"serving": {"modelUnits": 2}}, r"serving.modelUnits: 2 breaks team moderation's limit of 1 to 1 model units"),
        ({"serving": {"commitment": "OneMonth"}}, r"serving.commitment: OneMonth is not allowed for team moderation"),
        ({"serving": {"ttlHours": 5}}, r"serving.ttlHours: 5 must be a number of hours above 0 and at most 4"),
        (
            {"serving": {"kind": "on-demand-deployment"}},
            r"serving.kind: on-demand-deployment is not offered for anthropic.claude-3-haiku.*"
            r"use provisioned-throughput",
        ),
        (
            {"evaluation": {"dataUri": "s3://datasets-bucket/moderation/e.jsonl", "threshold": 2}},
            r"evaluation.threshold",
        ),
        ({"requestId": "has spaces"}, r"requestId: 'has spaces'"),
        ({"jobTimeoutSeconds": 10**9}, r"jobTimeoutSeconds must be an integer from 1 to 172800"),
        ({"customModelName": "double--dash"}, r"customModelName must be"),
        # Another team's data, by evaluation set too.
        (
            {"evaluation": {"dataUri": "s3://datasets-bucket/payments/eval.jsonl"}},
            r"evaluation.dataUri: .* outside team moderation's prefix",
        ),
        (
            {"evaluation": {"dataUri": "s3://datasets-bucket/moderation/../payments/eval.jsonl"}},
            r"evaluation.dataUri: .* outside team moderation's prefix",
        ),
        # No model ARN is an input: not as the base model, not as an extra field.
        (
            {"baseModelId": "arn:aws:bedrock:us-west-2:123456789012:custom-model/anthropic.claude-3-haiku/abc123"},
            r"baseModelId: .* is a model ARN",
        ),
        (
            {"baseModelId": "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc123"},
            r"baseModelId: .* is a model ARN",
        ),
        ({"modelArn": "arn:aws:bedrock:us-west-2:123456789012:custom-model/x/y"}, r"modelArn: unknown field"),
        ({"outputModelArn": "arn:aws:bedrock:us-west-2:123456789012:custom-model/x/y"}, r"outputModelArn: unknown"),
    ],
)
def test_bad_requests_name_the_field(env: Env, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(RequestInvalid, match=message):
        env.run(**overrides)
    assert env.fake.calls == [] or all(op == "GetFoundationModel" for op, _ in env.fake.calls)


def test_approval_without_reviewers_is_refused_before_anything_is_claimed(env: Env) -> None:
    from bft.workflow.request import Context, validate_request

    context = Context(
        execution_arn="arn:aws:states:us-west-2:123456789012:execution:sm:e", execution_name="e", now=datetime.now(UTC)
    )
    policy = env.policy(reviewers={"moderation": []})
    with pytest.raises(RequestInvalid, match="team moderation has no reviewers in local, so nobody could approve"):
        validate_request(env.request(approvalRequired=True), policy, context, bedrock=env.bedrock, table=env.table)
    assert state.get_claim(env.table, "moderation", "req-1") is None
    run = validate_request(env.request(approvalRequired=False), policy, context, bedrock=env.bedrock, table=env.table)
    assert run["approvalRequired"] is False


def test_a_second_execution_of_a_running_request_is_a_duplicate(env: Env) -> None:
    env.run(execution="exec-1")
    with pytest.raises(DuplicateRequest, match="req-1 of team moderation is already running in execution"):
        env.run(execution="exec-2")


def test_resubmission_after_failure_gets_a_new_attempt_and_token(env: Env) -> None:
    first = env.run(execution="exec-1")
    state.finish_request(env.table, "moderation", "req-1", first["executionArn"], "FAILED")
    second = env.run(execution="exec-2")
    assert second["attempt"] == 2
    assert second["clientRequestToken"] != first["clientRequestToken"]
    assert "-a2-" in second["jobName"]


def test_a_succeeded_request_is_never_trained_twice(env: Env) -> None:
    first = env.run(execution="exec-1")
    state.finish_request(env.table, "moderation", "req-1", first["executionArn"], "SUCCEEDED")
    with pytest.raises(DuplicateRequest, match="already succeeded"):
        env.run(execution="exec-2")


def test_request_id_defaults_to_the_execution_name(env: Env) -> None:
    request = env.request()
    del request["requestId"]
    from bft.workflow.request import Context, validate_request

    run = validate_request(
        request,
        env.policy(),
        Context("arn:x:exec-9", "exec-9", datetime.now(UTC)),
        bedrock=env.bedrock,
        table=env.table,
    )
    assert run["requestId"] == "exec-9"


def test_a_team_machine_refuses_another_teams_request(env: Env) -> None:
    from bft.workflow.request import Context, validate_request

    context = Context("arn:x:exec-3", "exec-3", datetime.now(UTC), assigned_team="payments")
    with pytest.raises(RequestInvalid, match="does not match this state machine's team 'payments'"):
        validate_request(env.request(), env.policy(), context, bedrock=env.bedrock, table=env.table)
    omitted = env.request()
    del omitted["team"]
    own = Context("arn:x:exec-4", "exec-4", datetime.now(UTC), assigned_team="moderation")
    assert validate_request(omitted, env.policy(), own, bedrock=env.bedrock, table=env.table)["team"] == "moderation"


def _context(execution: str, team: str | None = None) -> Any:
    from bft.workflow.request import Context

    return Context(
        f"arn:aws:states:us-west-2:123456789012:execution:sm:{execution}", execution, datetime.now(UTC), team
    )


def _two_teams(env: Env) -> dict[str, Any]:
    policy = env.policy()
    policy["teams"] = {**policy["teams"], "payments": policy["teams"]["moderation"]}
    return policy


def test_claims_are_scoped_by_team(env: Env) -> None:
    """The same request id in two teams: two claims, two runs, different names and tokens."""
    from bft.workflow.request import validate_request

    policy = _two_teams(env)
    ours = validate_request(env.request(), policy, _context("exec-1"), bedrock=env.bedrock, table=env.table)
    payments = env.request(
        team="payments",
        trainingDataUri="s3://datasets-bucket/payments/train.jsonl",
        validationDataUri=None,
        evaluation=None,
    )
    theirs = validate_request(payments, policy, _context("exec-2"), bedrock=env.bedrock, table=env.table)
    assert (ours["attempt"], theirs["attempt"]) == (1, 1), "another team's id blocks nothing"
    assert ours["jobName"] != theirs["jobName"]
    assert ours["clientRequestToken"] != theirs["clientRequestToken"]
    moderation_claim = state.get_claim(env.table, "moderation", "req-1")
    payments_claim = state.get_claim(env.table, "payments", "req-1")
    assert moderation_claim is not None
    assert payments_claim is not None
    assert moderation_claim["pk"] == "claim#moderation#req-1"
    assert (moderation_claim["executionArn"], payments_claim["executionArn"]) == (
        ours["executionArn"],
        theirs["executionArn"],
    )
    # Finishing one team's run leaves the other team's claim alone.
    state.finish_request(env.table, "payments", "req-1", theirs["executionArn"], "FAILED")
    assert state.get_claim(env.table, "moderation", "req-1")["status"] == "RUNNING"  # type: ignore[index]


def test_names_differ_between_environments_sharing_an_account(env: Env) -> None:
    from bft.workflow.request import validate_request

    dev = validate_request(env.request(), env.policy(), _context("e1"), bedrock=env.bedrock, table=env.table)
    staging_policy = env.policy(environment="staging")
    table = boto3.resource("dynamodb", region_name="us-west-2").create_table(  # its own state table
        TableName="state-staging",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    staging = validate_request(env.request(), staging_policy, _context("e1"), bedrock=env.bedrock, table=table)
    for key in ("jobName", "customModelName", "servingName", "clientRequestToken"):
        assert dev[key] != staging[key], key
    assert {"key": "environment", "value": "staging"} in staging["tags"]


def test_mandatory_approval_refuses_opting_out(env: Env) -> None:
    from bft.workflow.request import validate_request

    policy = env.policy(approvalMandatory=True, approvalRequiredByDefault=False)
    with pytest.raises(RequestInvalid, match=r"approvalRequired: false is not allowed in local"):
        validate_request(
            env.request(approvalRequired=False), policy, _context("e1"), bedrock=env.bedrock, table=env.table
        )
    assert state.get_claim(env.table, "moderation", "req-1") is None, "a refused request claims nothing"
    run = validate_request(env.request(), policy, _context("e2"), bedrock=env.bedrock, table=env.table)
    assert run["approvalRequired"] is True, "mandatory approval is the default whatever approvalRequiredByDefault"


def test_approval_stays_optional_when_the_policy_does_not_say(env: Env) -> None:
    from bft.workflow.request import validate_request

    policy = env.policy()
    policy.pop("approvalMandatory", None)
    run = validate_request(
        env.request(approvalRequired=False), policy, _context("e1"), bedrock=env.bedrock, table=env.table
    )
    assert run["approvalRequired"] is False


def test_access_denied_on_the_base_model_names_the_action(env: Env) -> None:
    env.fake.inject("GetFoundationModel", "AccessDeniedException", message="not authorized: bedrock:GetFoundationModel")
    with pytest.raises(AccessDenied, match=r"GetFoundationModel: AccessDeniedException: not authorized"):
        env.run()
