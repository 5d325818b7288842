"""A local run says what happened in one summary, whatever happened (issue 22, item 6): an Undecidable call is
counted as a refusal, and an AccessDenied on the team member's side still prints a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bft_twin.cli import _refused_or, ended_as_intended
from bft_twin.iam.actions import Call
from bft_twin.iam.model import Principal, Undecidable
from bft_twin.offline import OfflineAssembly
from tests.unit.test_offline_runner import ACCOUNT, REGION, assembly  # noqa: F401


def test_an_undecidable_call_is_recorded_as_a_refusal(assembly: Path) -> None:  # noqa: F811
    with OfflineAssembly(assembly, region=REGION, account_id=ACCOUNT) as env:
        role = next(iter(env.authorizer.store.roles))
        call = Call(service="ec2", operation="DescribeInstances", params={}, region=REGION, account=ACCOUNT)
        with pytest.raises(Undecidable):
            env.authorizer.decide(Principal(role), call)
        (record,) = [r for r in env.authorizer.records if r.undecidable]
    assert record.allowed is False
    assert record.reason.startswith("undecidable offline: ")
    assert record.operation == "DescribeInstances"


def _denied() -> dict[str, Any]:
    error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized to perform: states:Start"}}
    raise ClientError(error, "StartExecution")


def test_a_refused_submission_still_gives_a_summary() -> None:
    summary = _refused_or(_denied, name="success", environment="local")
    assert summary["status"] == "REFUSED"
    assert summary["outcome"] == "access_denied"
    assert "AccessDeniedException" in summary["error"]
    assert ended_as_intended(summary) is False


def test_other_errors_are_not_dressed_as_refusals() -> None:
    def broken() -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "bad"}}, "StartExecution")

    with pytest.raises(ClientError):
        _refused_or(broken, name="success", environment="local")
