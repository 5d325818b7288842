"""`bft status` says what a submitter may know of a running run: how long it runs, and how a reviewer decides."""

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


def test_status_says_how_long_a_run_runs_without_reading_its_history(
    east: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Submitters hold no states:GetExecutionHistory (the history carries the approval's task token, issue #23):
    the CLI says what DescribeExecution tells, and how a reviewer decides."""

    class NoHistory(RunningSfn):
        def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
            raise AssertionError("bft status must not read the execution history")

    _status(east, NoHistory("RequestApproval", 2))
    out = capsys.readouterr().out
    assert out.startswith("r1: RUNNING")
    assert "now: running for 3.0 h" in out
    assert "bft approve --env east --team tickets --request-id r1" in out
