"""Step 1: the request, the team's guardrails, the base model's lifecycle, the request claim."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from bft.errors import BaseModelUnavailable, DuplicateRequest, RequestInvalid
from bft.local.catalog import catalog
from bft.workflow import state
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
    assert run["jobName"] == "bft-moderation-req-1-a1"
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
        assert state.get_token(env.table, "request", "req-1") is None, "a refused request claims nothing"


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
        ({"serving": {"ttlHours": 5}}, r"serving.ttlHours: 5 must be a number of hours above 0 and at most 1"),
        ({"serving": {"kind": "on-demand-deployment"}}, r"not offered for this model family"),
        (
            {"evaluation": {"dataUri": "s3://datasets-bucket/moderation/e.jsonl", "threshold": 2}},
            r"evaluation.threshold",
        ),
        ({"requestId": "has spaces"}, r"requestId: 'has spaces'"),
        ({"jobTimeoutSeconds": 10**9}, r"jobTimeoutSeconds must be an integer from 1 to 60"),
        ({"customModelName": "double--dash"}, r"customModelName must be"),
    ],
)
def test_bad_requests_name_the_field(env: Env, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(RequestInvalid, match=message):
        env.run(**overrides)
    assert env.fake.calls == [] or all(op == "GetFoundationModel" for op, _ in env.fake.calls)


def test_a_second_execution_of_a_running_request_is_a_duplicate(env: Env) -> None:
    env.run(execution="exec-1")
    with pytest.raises(DuplicateRequest, match="req-1 is already running in execution"):
        env.run(execution="exec-2")


def test_resubmission_after_failure_gets_a_new_attempt_and_token(env: Env) -> None:
    first = env.run(execution="exec-1")
    state.finish_request(env.table, "req-1", first["executionArn"], "FAILED")
    second = env.run(execution="exec-2")
    assert second["attempt"] == 2
    assert second["clientRequestToken"] != first["clientRequestToken"]
    assert second["jobName"].endswith("-a2")


def test_a_succeeded_request_is_never_trained_twice(env: Env) -> None:
    first = env.run(execution="exec-1")
    state.finish_request(env.table, "req-1", first["executionArn"], "SUCCEEDED")
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
