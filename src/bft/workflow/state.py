"""The workflow's small state table: request claims and task tokens.

Items (partition key ``pk``):
* ``claim#<team>#<requestId>``    who owns a team's request id: executionArn, attempt, status, expiresAt
  (scoped by team: one team's id never blocks another team's run with the same id);
* ``job#<jobArn>``                the task token of the execution waiting for that job;
* ``approval#<team>#<requestId>`` the task token of the execution waiting for a reviewer, and its team;
* ``decision#<executionArn>``     a reviewer's decision on that execution: who (the STS-proved ARN), when, which
  run, approve or reject, why; written once by the approval function, read by CreateServing;
* ``notified#<executionArn>``     the execution's final notification went out (a retried Finalize skips it).
``expiresAt`` feeds DynamoDB TTL so stale tokens disappear on their own.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from bft import clock
from bft.aws_errors import error_code, is_transient
from bft.errors import ApprovalRefused, DuplicateRequest, TransientError

DAY = 24 * 3600


def claim_key(team: str, request_id: str) -> dict[str, str]:
    """The key of a request-id claim: team first, so the same id in two teams names two claims."""
    return {"pk": f"claim#{team}#{request_id}"}


def get_claim(table: Any, team: str, request_id: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = _call(table.get_item, Key=claim_key(team, request_id), ConsistentRead=True).get(
        "Item"
    )
    return item


def claim_request(table: Any, team: str, request_id: str, execution_arn: str, *, ttl_seconds: int) -> int:
    """Make this execution the owner of ``request_id`` within ``team``; return the attempt number.

    A running or succeeded owner keeps the request (DuplicateRequest); a failed or expired owner is
    replaced with the next attempt number, so a resubmission after a failure starts fresh in Bedrock.
    """
    key = claim_key(team, request_id)
    now = int(clock.time())
    current = _call(table.get_item, Key=key, ConsistentRead=True).get("Item")
    if current and current.get("executionArn") == execution_arn:
        return int(current["attempt"])  # this execution retried the step
    if current and current.get("status") in ("RUNNING", "SUCCEEDED") and int(current.get("expiresAt", 0)) > now:
        raise DuplicateRequest(
            f"requestId: {request_id} of team {team} is already {current['status'].lower()} in execution "
            f"{current['executionArn']}; "
            "use a new requestId to train again"
        )
    attempt = int(current["attempt"]) + 1 if current else 1
    item = {
        **key,
        "executionArn": execution_arn,
        "attempt": attempt,
        "status": "RUNNING",
        "expiresAt": now + ttl_seconds,
        "updatedAt": now,
    }
    try:
        if current:
            table.put_item(
                Item=item,
                ConditionExpression="executionArn = :previous",
                ExpressionAttributeValues={":previous": current["executionArn"]},
            )
        else:
            table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            raise DuplicateRequest(
                f"requestId: {request_id} was claimed by another execution at the same time"
            ) from exc
        _reraise(exc, "claim request")
    return attempt


def finish_request(table: Any, team: str, request_id: str, execution_arn: str, status: str) -> None:
    """Record how the owning execution ended (SUCCEEDED keeps the claim for 90 days, FAILED releases it)."""
    keep = 90 * DAY if status == "SUCCEEDED" else DAY
    try:
        table.update_item(
            Key=claim_key(team, request_id),
            UpdateExpression="SET #s = :status, expiresAt = :exp, updatedAt = :now",
            ConditionExpression="executionArn = :me",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":status": status,
                ":exp": int(clock.time()) + keep,
                ":now": int(clock.time()),
                ":me": execution_arn,
            },
        )
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":  # another execution owns it now: fine
            _reraise(exc, "finish request")


def notification_sent(table: Any, execution_arn: str) -> bool:
    """Whether this execution's final notification already went out (an earlier attempt of its Finalize
    published, then its result was lost: Lambda's Retry must not notify a second time)."""
    key = {"pk": f"notified#{execution_arn}"}
    return "Item" in _call(table.get_item, Key=key, ConsistentRead=True)


def mark_notified(table: Any, execution_arn: str) -> None:
    now = int(clock.time())
    _call(table.put_item, Item={"pk": f"notified#{execution_arn}", "sentAt": now, "expiresAt": now + 30 * DAY})


def decision_key(execution_arn: str) -> dict[str, str]:
    return {"pk": f"decision#{execution_arn}"}


def record_decision(table: Any, execution_arn: str, decision: dict[str, Any]) -> None:
    """Record a reviewer's decision on an execution, once: a second decision never overwrites the first."""
    now = int(clock.time())
    item = {**decision_key(execution_arn), **decision, "executionArn": execution_arn, "decidedAt": now}
    item["expiresAt"] = now + 400 * DAY  # kept beyond the longest run, for the audit
    try:
        table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            raise ApprovalRefused(
                f"execution {execution_arn} was already decided: a decision is never replaced"
            ) from exc
        _reraise(exc, "record decision")


def get_decision(table: Any, execution_arn: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = _call(table.get_item, Key=decision_key(execution_arn), ConsistentRead=True).get(
        "Item"
    )
    return item


def put_token(
    table: Any,
    kind: str,
    key: str,
    token: str,
    *,
    execution_arn: str,
    ttl_seconds: int,
    extra: dict[str, Any] | None = None,
) -> None:
    now = int(clock.time())
    item = {
        "pk": f"{kind}#{key}",
        "token": token,
        "executionArn": execution_arn,
        "expiresAt": now + ttl_seconds + DAY,
        "createdAt": now,
        **(extra or {}),
    }
    _call(table.put_item, Item=item)


def get_token(table: Any, kind: str, key: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = _call(table.get_item, Key={"pk": f"{kind}#{key}"}, ConsistentRead=True).get("Item")
    return item


def take_token(table: Any, kind: str, key: str, *, team: str | None = None) -> dict[str, Any] | None:
    """Delete and return the token item, so exactly one resumer wins when several race.

    With ``team``, only an item recorded for that team is taken (None otherwise, and the item stays).
    """
    condition: dict[str, Any] = {"ConditionExpression": "attribute_exists(pk)"}
    if team is not None:
        condition = {
            "ConditionExpression": "attribute_exists(pk) AND team = :team",
            "ExpressionAttributeValues": {":team": team},
        }
    try:
        response = table.delete_item(Key={"pk": f"{kind}#{key}"}, ReturnValues="ALL_OLD", **condition)
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return None
        _reraise(exc, "take token")
    item: dict[str, Any] | None = response.get("Attributes")
    return item


def pending_tokens(table: Any, kind: str) -> list[dict[str, Any]]:
    """Every waiting token of one kind (the table holds one item per in-flight execution: a scan is cheap)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "FilterExpression": "begins_with(pk, :kind)",
        "ExpressionAttributeValues": {":kind": f"{kind}#"},
    }
    while True:
        page = _call(table.scan, **kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _call(fn: Any, **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except ClientError as exc:
        _reraise(exc, fn.__name__)


def _reraise(exc: ClientError, action: str) -> None:
    if is_transient(exc):
        raise TransientError(f"DynamoDB {action}: {error_code(exc)}") from exc
    raise exc
