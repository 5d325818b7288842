"""The pipeline's own CloudWatch metrics, written as embedded metric format (EMF) log lines.

A Lambda function's log line that carries an ``_aws.CloudWatchMetrics`` directive becomes metrics without an
API call or a permission (Lambda extracts it; CloudWatch user guide, "Specification: Embedded metric format",
read 2026-12-08). The environment's dashboard (stacks/constructs/platform_view.py) finds every team's metrics
with SEARCH expressions, so onboarding a team changes no shared resource.

- ``Runs`` (Count) and ``RunCostUsd`` (None) per Environment, Team and Outcome, once per execution, by Finalize;
- ``ServingModelUnits`` and ``ServingThroughputs`` per Environment and Team, and ``ReaperActions`` per
  Environment and Action, by the reaper on each of its scheduled runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from bft import clock

NAMESPACE = "BftPipeline"


def emf(
    metrics: Mapping[str, tuple[float, str]],
    dimensions: Mapping[str, str],
    *,
    dimension_sets: Sequence[Sequence[str]] | None = None,
) -> str:
    """One EMF log line: ``metrics`` name -> (value, unit), under ``dimensions`` (every key one set unless
    ``dimension_sets`` says otherwise). Dimension values are strings of at most 1,024 characters (EMF)."""
    for key, value in dimensions.items():
        if not isinstance(value, str) or not value or len(value) > 1024:
            raise ValueError(f"EMF dimension {key}: a string of 1 to 1,024 characters, got {value!r}")
    sets = [list(s) for s in (dimension_sets or [list(dimensions)])]
    document = {
        "_aws": {
            "Timestamp": int(clock.now().timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": sets,
                    "Metrics": [{"Name": name, "Unit": unit} for name, (_value, unit) in metrics.items()],
                }
            ],
        },
        **dimensions,
        **{name: value for name, (value, _unit) in metrics.items()},
    }
    return json.dumps(document, separators=(",", ":"))


def put(
    metrics: Mapping[str, tuple[float, str]],
    dimensions: Mapping[str, str],
    *,
    dimension_sets: Sequence[Sequence[str]] | None = None,
) -> str:
    """Write the EMF line to standard output (the function's log) and return it."""
    line = emf(metrics, dimensions, dimension_sets=dimension_sets)
    print(line, flush=True)
    return line
