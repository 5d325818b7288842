"""CreateServing serves a run that waited for a reviewer only when the approval function recorded an approval
for that very execution (issue #23, M2): a task token resumed any other way never serves a model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from bft.errors import ApprovalRejected
from bft.workflow import state
from bft.workflow.serving import create_serving, require_approval
from tests.unit.workflow_support import Env, make_env

EXECUTION = "arn:aws:states:us-west-2:123456789012:execution:bft-local-moderation:req-1"
RUN = {"team": "moderation", "requestId": "req-1", "executionArn": EXECUTION, "approvalRequired": True}


@pytest.fixture
def env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    with mock_aws():
        yield make_env(tmp_path)


class NoBedrock:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"an unapproved run must not reach Bedrock ({name})")


def test_no_recorded_approval_never_serves(env: Env) -> None:
    with pytest.raises(ApprovalRejected, match=r"no approval recorded for moderation/req-1 .*approval function"):
        create_serving(RUN, bedrock=NoBedrock(), table=env.table)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"team": "moderation", "requestId": "req-1", "approved": False, "reviewer": "r"}, "is a rejection by r"),
        ({"team": "moderation", "requestId": "req-2", "approved": True, "reviewer": "r"}, "names another run"),
        ({"team": "search", "requestId": "req-1", "approved": True, "reviewer": "r"}, "names another run"),
    ],
)
def test_a_record_that_is_not_this_runs_approval_never_serves(env: Env, record: dict[str, Any], message: str) -> None:
    state.record_decision(env.table, EXECUTION, record)
    with pytest.raises(ApprovalRejected, match=message):
        create_serving(RUN, bedrock=NoBedrock(), table=env.table)


def test_an_approval_of_another_execution_does_not_count(env: Env) -> None:
    record = {"team": "moderation", "requestId": "req-1", "approved": True, "reviewer": "r"}
    state.record_decision(env.table, EXECUTION + "-earlier-attempt", record)
    with pytest.raises(ApprovalRejected, match="no approval recorded"):
        require_approval(RUN, table=env.table)


def test_the_recorded_approval_lets_it_serve_and_a_run_without_approval_needs_none(env: Env) -> None:
    state.record_decision(
        env.table, EXECUTION, {"team": "moderation", "requestId": "req-1", "approved": True, "reviewer": "r"}
    )
    require_approval(RUN, table=env.table)
    require_approval(RUN | {"approvalRequired": False}, table=None)
