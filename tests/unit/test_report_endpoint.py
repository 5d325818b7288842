"""The report and the notification of a run that promoted into its team's endpoint say which model the endpoint
served before and which it serves after (bft.report.endpoint), escaped like every value a team controls."""

from __future__ import annotations

import html
from typing import Any

from bft.report import notification
from bft.report.render import render

ENDPOINT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdefabcdef"
FIRST = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/aaaaaaaaaaaa"
SECOND = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/bbbbbbbbbbbb"
RUN_DEPLOYMENT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/runrunrunrun"


def report(promotion: dict[str, Any] | None, *, outcome: str = "deployed") -> dict[str, Any]:
    return {
        "status": "SUCCEEDED" if outcome == "deployed" else "FAILED",
        "outcome": outcome,
        "execution": {"id": "arn:aws:states:us-east-1:123456789012:execution:m:req-2", "name": "req-2"},
        "run": {
            "environment": "dev",
            "team": "moderation",
            "requestId": "req-2",
            "serving": {"kind": "on-demand-deployment", "endpoint": {"name": "live"}},
        },
        "serving": {"kind": "on-demand-deployment", "arn": RUN_DEPLOYMENT, "name": "bft-dev-moderation-req-2"},
        "promotion": promotion,
        "leftRunning": [
            {"type": "on-demand-deployment", "arn": ENDPOINT if promotion else RUN_DEPLOYMENT, "reason": "serving"}
        ]
        if outcome == "deployed"
        else [],
        "cost": {"servingPerHourUsd": 0.0},
        "error": None if outcome == "deployed" else {"Error": "PromotionFailed", "Cause": "UpdateFailed"},
    }


DONE = {"endpoint": "live", "arn": ENDPOINT, "before": FIRST, "after": SECOND, "ready": True, "phase": "done"}


def test_the_report_names_the_endpoint_and_the_model_before_and_after() -> None:
    files = render(report(DONE), {})
    page, markdown = files["report.html"], files["report.md"]
    for text in (
        f"live: {ENDPOINT} (applications call this ARN)",
        FIRST,
        SECOND,
        "bft rollback --env dev --team moderation --endpoint live",
        "deleted: the team&#x27;s endpoint serves the model",
    ):
        assert text in page, text
    assert "endpoint served before" in markdown
    assert SECOND in markdown


def test_the_mail_says_what_the_endpoint_served_before_and_serves_now() -> None:
    message = notification.message(report(DONE))
    assert f"Team endpoint live: {ENDPOINT} (the ARN applications call)" in message
    assert f"  served before: {FIRST}" in message
    assert f"  serves now:    {SECOND}" in message
    assert "  roll back:     bft rollback --env dev --team moderation --endpoint live" in message
    created = notification.message(report(DONE | {"before": None}))
    assert "  served before: nothing (this run created it)" in created
    assert "roll back" not in created  # nothing to roll back to yet


def test_a_promotion_that_did_not_complete_says_the_endpoint_was_left_as_it_was() -> None:
    failed = report(DONE | {"ready": False, "phase": "updating"}, outcome="promotion_failed")
    page = render(failed, {})["report.html"]
    assert html.escape(f"not completed to {SECOND}: see the error; it serves what it served") in page
    assert "Team endpoint" not in notification.message(failed)


def test_a_run_without_an_endpoint_says_nothing_of_one() -> None:
    page = render(report(None), {})["report.html"]
    assert "team endpoint" not in page
    assert "Team endpoint" not in notification.message(report(None))
