"""The pipeline's embedded-metric-format lines (bft.metrics) and the reaper's share of them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bft import metrics
from bft.workflow import reaper


def test_an_emf_line_declares_its_metrics_and_dimensions() -> None:
    line = json.loads(metrics.emf({"Runs": (1, "Count")}, {"Environment": "dev", "Team": "vision"}))
    assert line["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": "BftPipeline",
            "Dimensions": [["Environment", "Team"]],
            "Metrics": [{"Name": "Runs", "Unit": "Count"}],
        }
    ]
    assert (line["Environment"], line["Team"], line["Runs"]) == ("dev", "vision", 1)
    assert isinstance(line["_aws"]["Timestamp"], int)


@pytest.mark.parametrize("value", ["", None, "x" * 1025])
def test_a_dimension_value_emf_would_drop_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="EMF dimension Team"):
        metrics.emf({"Runs": (1, "Count")}, {"Environment": "dev", "Team": value})


def test_the_reaper_reports_what_still_serves_per_team_and_what_it_did(capsys: pytest.CaptureFixture[str]) -> None:
    def item(team: str, units: int) -> dict[str, Any]:
        return {"team": team, "modelUnits": units, "arn": f"arn:{team}:{units}"}

    result = {
        "throughputs": {
            "withinTtl": [item("vision", 1), item("vision", 2)],
            "committed": [item("search", 4)],
            "wouldDelete": [],
            "deleted": [item("vision", 1)],
            "errors": [{"arn": "x"}],
        },
        "customModels": {"deleted": [{"arn": "m"}], "errors": []},
    }
    reaper._put_metrics("dev", result)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    serving = {line["Team"]: line for line in lines if "ServingModelUnits" in line}
    assert {team: (v["ServingThroughputs"], v["ServingModelUnits"]) for team, v in serving.items()} == {
        "search": (1, 4),
        "vision": (2, 3),  # the deleted one no longer serves
    }
    actions = {line["Action"]: line["ReaperActions"] for line in lines if "ReaperActions" in line}
    assert actions == {"ThroughputDeleted": 1, "ThroughputWouldDelete": 0, "CustomModelDeleted": 1, "Error": 1}
    assert all(line["Environment"] == "dev" for line in lines)
    assert datetime.fromtimestamp(lines[0]["_aws"]["Timestamp"] / 1000, UTC).year >= 2026
