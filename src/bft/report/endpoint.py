"""What the report and the notification say about a run that promoted into its team's endpoint: which model the
endpoint served before and which it serves after (bft.workflow.promotion). Standard library only: this module
ships in the functions' layer. The run's record carries the promotion under ``promotion``."""

from __future__ import annotations

from typing import Any


def promotion_of(report: dict[str, Any]) -> dict[str, Any] | None:
    """The run's promotion into its team's endpoint, if it named one and got as far as the endpoint."""
    promotion = report.get("promotion")
    return promotion if isinstance(promotion, dict) and promotion.get("arn") else None


def endpoint_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """Rows for the report's serving section: the endpoint, the model it served before and after (or that it
    was left as it was, when the promotion did not complete)."""
    promotion = promotion_of(report)
    if promotion is None:
        return []
    before = promotion.get("before") or "nothing (this run created the endpoint)"
    rows = [("team endpoint", f"{promotion.get('endpoint')}: {promotion['arn']} (applications call this ARN)")]
    if promotion.get("ready"):
        rows += [("endpoint served before", str(before)), ("endpoint serves now", str(promotion.get("after")))]
        if promotion.get("before"):
            rows.append(("roll back", rollback_command(report)))
    else:
        rows += [
            ("endpoint served before", str(before)),
            ("endpoint update", f"not completed to {promotion.get('after')}: see the error; it serves what it served"),
        ]
    return rows


def endpoint_lines(report: dict[str, Any]) -> list[str]:
    """Lines for the notification (plain text), empty without a completed promotion."""
    promotion = promotion_of(report)
    if promotion is None or not promotion.get("ready"):
        return []
    lines = [
        f"Team endpoint {promotion.get('endpoint')}: {promotion['arn']} (the ARN applications call)",
        f"  served before: {promotion.get('before') or 'nothing (this run created it)'}",
        f"  serves now:    {promotion.get('after')}",
    ]
    if promotion.get("before"):
        lines.append(f"  roll back:     {rollback_command(report)}")
    return lines


def rollback_command(report: dict[str, Any]) -> str:
    run = report.get("run") or {}
    promotion = promotion_of(report) or {}
    return (
        f"bft rollback --env {run.get('environment', '<env>')} --team {run.get('team', '<team>')} "
        f"--endpoint {promotion.get('endpoint', '<endpoint>')}"
    )
