"""`bft status` says what a running run is doing: WAITING_FOR_APPROVAL with the command that approves it, or
the step in words with the time spent in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from bft import aws
from bft.cli import main
from tests.unit.test_cli_region import EAST, east  # noqa: F401  (the fixture)


class RunningSfn:
    """A running execution whose newest history event entered ``state`` ``hours`` ago."""

    def __init__(self, state: str, hours: float) -> None:
        self.entered = datetime.now(UTC) - timedelta(hours=hours)
        self.state = state

    def describe_execution(self, **kwargs: str) -> dict[str, Any]:
        started = self.entered - timedelta(hours=1)
        return {"executionArn": kwargs["executionArn"], "status": "RUNNING", "startDate": started}

    def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["reverseOrder"] is True
        return {
            "events": [
                {"type": "TaskScheduled", "timestamp": self.entered},
                {
                    "type": "TaskStateEntered",
                    "timestamp": self.entered,
                    "stateEnteredEventDetails": {"name": self.state},
                },
            ]
        }


def _status(config_dir: Path, sfn: RunningSfn) -> None:
    boto3.client("s3", region_name=EAST).create_bucket(Bucket="reports")
    aws.override("stepfunctions", sfn)
    assert (
        main(["status", "--env", "east", "--team", "tickets", "--request-id", "r1", "--config-dir", str(config_dir)])
        == 0
    )
    return ""


def test_a_run_waiting_for_approval_says_so_and_how_to_approve(
    east: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    _status(east, RunningSfn("RequestApproval", 2))
    out = capsys.readouterr().out
    assert out.startswith("r1: WAITING_FOR_APPROVAL")
    assert "RUNNING" not in out
    assert "waiting for approval since" in out
    assert "bft approve --env east --team tickets --request-id r1" in out


@pytest.mark.parametrize(
    ("state", "words"), [("WaitForJob", "training (2.1 h so far)"), ("CheckServing", "provisioning throughput")]
)
def test_a_running_step_is_said_in_words(
    east: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    state: str,
    words: str,
) -> None:
    _status(east, RunningSfn(state, 2.1))
    out = capsys.readouterr().out
    assert out.startswith("r1: RUNNING")
    assert f"now: {words}" in out
