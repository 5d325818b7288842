"""Which endpoint a run promotes into: the request's serving.endpoint, else the team's serving_endpoint; none for a
run served by provisioned throughput (refused when the request named one, a warning when it is the team's)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws

from bft.config import load_config
from bft.errors import RequestInvalid
from bft.names import endpoint_deployment_name
from bft.workflow.request import Context, check_request, validate_request
from tests.unit.workflow_support import ACCOUNT, REGION, Env, make_env

NOVA = "amazon.nova-micro-v1:0:128k"
LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"


def policy(environment: str, endpoint: str | None, bucket: str = "datasets") -> dict[str, Any]:
    document = load_config(environment).policy_document(bucket)
    document["teams"]["moderation"]["servingEndpoint"] = endpoint
    return document


def request(model: str = NOVA, **serving: Any) -> dict[str, Any]:
    return {
        "team": "moderation",
        "baseModelId": model,
        "trainingDataUri": "s3://datasets/moderation/train.jsonl",
        "serving": serving,
        "requestId": "req-1",
    }


def check(event: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    return check_request(event, document, assigned_team="moderation", default_request_id="req-1")


def test_the_teams_endpoint_applies_when_the_request_names_none() -> None:
    serving = check(request(), policy("local-us-east-1", "moderation-live"))["serving"]
    assert serving["endpoint"] == {
        "name": "moderation-live",
        "deploymentName": endpoint_deployment_name("local-us-east-1", "moderation", "moderation-live"),
    }
    assert serving["endpoint"]["deploymentName"] == "bft-local-us-east-1-moderation-moderation-live"


def test_the_request_names_another_endpoint_or_opts_out() -> None:
    document = policy("local-us-east-1", "moderation-live")
    assert check(request(endpoint="canary"), document)["serving"]["endpoint"]["name"] == "canary"
    assert check(request(endpoint=None), document)["serving"]["endpoint"] is None
    # Without a team endpoint and without the field: none, and the key is still there for the state machine.
    assert check(request(), policy("local-us-east-1", None))["serving"]["endpoint"] is None


@pytest.mark.parametrize("name", ["Live", "live--1", "", "a" * 33, 7])
def test_a_bad_endpoint_name_is_refused_naming_the_field(name: Any) -> None:
    with pytest.raises(RequestInvalid, match=r"serving.endpoint: .* single hyphens, at most 32 characters"):
        check(request(endpoint=name), policy("local-us-east-1", None))


def test_an_endpoint_named_for_a_run_served_by_provisioned_throughput_is_refused() -> None:
    with pytest.raises(RequestInvalid) as caught:
        check(request(kind="provisioned-throughput", endpoint="live"), policy("local-us-east-1", None))
    message = str(caught.value)
    assert message.startswith("serving.endpoint: endpoint 'live' is an on-demand custom model deployment")
    assert "set serving.kind to on-demand-deployment" in message
    with pytest.raises(RequestInvalid, match=f"{LLAMA} is served by provisioned-throughput"):
        check(request(LLAMA, endpoint="live"), policy("local", None))


@pytest.fixture
def env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield make_env(tmp_path)


def test_the_teams_endpoint_is_skipped_with_a_warning_when_the_model_is_served_by_provisioned_throughput(
    env: Env,
) -> None:
    document = policy("local", "moderation-live", env.datasets)
    context = Context(
        execution_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:execution:sm:exec-1",
        execution_name="exec-1",
        now=datetime.now(UTC),
    )
    run = validate_request(
        env.request(baseModelId=LLAMA, hyperParameters={}), document, context, bedrock=env.bedrock, table=env.table
    )
    assert run["serving"]["endpoint"] is None
    assert "endpointSkipped" not in run["serving"]
    assert (
        "team moderation's endpoint 'moderation-live' was not updated: endpoint 'moderation-live' is an on-demand "
        f"custom model deployment, and this run serves {LLAMA} by provisioned-throughput"
    ) in run["warnings"]
