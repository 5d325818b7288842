"""Step 5: an optional human approval before any money is spent on serving."""

from __future__ import annotations

import json
from typing import Any

from bft.errors import ApprovalRejected, RequestInvalid
from bft.workflow import state


def request_approval(
    run: dict[str, Any], metrics: dict[str, Any] | None, token: str, *, table: Any, sns: Any, topic_arn: str
) -> dict[str, Any]:
    state.put_token(
        table,
        "approval",
        approval_key(run["team"], run["requestId"]),
        token,
        execution_arn=run["executionArn"],
        ttl_seconds=run["timeouts"]["approvalSeconds"],
        extra={"team": run["team"]},
    )
    summary = (metrics or {}).get("summary", {})
    lines = [
        f"Request {run['requestId']} of team {run['team']} finished training and waits for approval before serving.",
        f"Base model: {run['baseModelId']}; custom model: {run['customModelName']}.",
        f"Loss summary: {json.dumps(summary)}",
        f"Metrics: {(metrics or {}).get('metricsUri', 'none')}",
        "",
        f"Approve: bft approve --env {run['environment']} --team {run['team']} --request-id {run['requestId']}",
        f"Reject:  bft reject --env {run['environment']} --team {run['team']} --request-id {run['requestId']} "
        "--reason '...'",
        f"Without a decision the run is cleaned up after {run['timeouts']['approvalSeconds']} seconds.",
    ]
    sns.publish(
        TopicArn=topic_arn,
        Subject=f"[bft {run['environment']}] approval needed: {run['requestId']}"[:100],
        Message="\n".join(lines),
        MessageAttributes={"team": {"DataType": "String", "StringValue": run["team"]}},
    )
    return {"awaiting": run["requestId"]}


def approval_key(team: str, request_id: str) -> str:
    """Team first: a team's role may touch only items whose key starts with its name (dynamodb:LeadingKeys)."""
    return f"{team}#{request_id}"


def decide(
    team: str, request_id: str, *, approve: bool, reviewer: str, reason: str, table: Any, sfn: Any
) -> dict[str, Any]:
    """Resume the execution waiting for a reviewer. Used by `bft approve/reject`."""
    if not approve and not reason.strip():
        raise RequestInvalid("a rejection needs a reason")  # checked before the token is consumed
    item = state.take_token(table, "approval", approval_key(team, request_id))
    if item is None:
        raise RequestInvalid(f"request {request_id} of team {team} is not waiting for approval")
    if approve:
        sfn.send_task_success(
            taskToken=item["token"], output=json.dumps({"approved": True, "reviewer": reviewer, "reason": reason})
        )
    else:
        sfn.send_task_failure(
            taskToken=item["token"], error=ApprovalRejected.__name__, cause=f"rejected by {reviewer}: {reason}"[:32768]
        )
    return {"requestId": request_id, "approved": approve, "executionArn": item["executionArn"]}
