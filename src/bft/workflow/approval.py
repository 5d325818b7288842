"""Step 5: an optional human approval before any money is spent on serving.

The execution parks on a task token stored under ``approval#<team>#<requestId>``. A reviewer resumes it
through the approval function (``lambda/decide_approval``), reached by a Lambda function URL with AWS_IAM
auth: Lambda has verified the caller's SigV4 signature, and :func:`handle_function_url` checks who that
caller is (a reviewer of the run's team, and never the team's own submitter role) before it takes the
token. Human roles hold no states:SendTask* permission: this function is the only way to decide.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from bft.aws_errors import access_denied, error_code
from bft.errors import AccessDenied, ApprovalRefused, ApprovalRejected, RequestInvalid, TransientError
from bft.names import REQUEST_ID, TEAM_NAME
from bft.registry import read_entry
from bft.report.notification import duration, loss_words, prose, subject_line
from bft.workflow import caller_proof, state
from bft.workflow.settings import Misconfigured, env

logger = logging.getLogger(__name__)

BODY_FIELDS = ("team", "requestId", "approve", "reason", "proof")
MAX_REASON = 2000
# arn:<partition>:sts::<account>:assumed-role/<role name>/<session>  (no role path: STS drops it)
ASSUMED_ROLE = re.compile(r"^arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<name>[^/]+)/[^/]+$")
# arn:<partition>:iam::<account>:role/<path/>name   and   arn:<partition>:iam::<account>:user/<path/>name
IAM_PRINCIPAL = re.compile(r"^arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):(?P<kind>role|user)/(?P<path>.+)$")


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
        # Who submitted (ValidateRequest's STS-proved session, if any): production refuses that person's approval.
        extra={"team": run["team"], "submittedBy": run.get("submittedBy")},
    )
    summary = (metrics or {}).get("summary", {})
    environment, team, request_id = run["environment"], run["team"], run["requestId"]
    lines = [
        f"Request {request_id} of team {team} finished training and waits for approval before serving.",
        f"Base model: {run['baseModelId']}; custom model: {prose(run['customModelName'])}.",
        loss_words(summary),
        f"Loss curves: {(metrics or {}).get('metricsUri') or 'none written'}",
        "",
        "A reviewer of the team (never its submitter role) decides:",
        f"Approve: bft approve --env {environment} --team {team} --request-id {request_id}",
        f"Reject:  bft reject --env {environment} --team {team} --request-id {request_id} --reason '...'",
        f"Without a decision within {duration(run['timeouts']['approvalSeconds'])}, the run is cleaned up.",
    ]
    sns.publish(
        TopicArn=topic_arn,
        Subject=subject_line(environment, f"approval needed: {request_id}"),
        Message="\n".join(lines),
        MessageAttributes={"team": {"DataType": "String", "StringValue": team}},
    )
    return {"awaiting": run["requestId"]}


def approval_key(team: str, request_id: str) -> str:
    """Team first: the item is ``approval#<team>#<requestId>``, and it records its team as well."""
    return f"{team}#{request_id}"


class NotWaiting(RequestInvalid):
    """No execution of this team waits for a decision on this request id."""


def decide(
    team: str,
    request_id: str,
    *,
    approve: bool,
    reviewer: str,
    reason: str,
    table: Any,
    sfn: Any,
    reviewer_role: str | None = None,
    production: bool = False,
) -> dict[str, Any]:
    """Resume the execution waiting for a reviewer of ``team``, after recording the decision.

    ``reviewer`` must be an identity the caller verified (the approval function passes the caller's
    STS-proved ARN); the token is taken only if it was stored for ``team``. In production a reviewer whose
    session is the submitter's (same session name: the person, see :func:`same_person`) is refused.
    """
    if not approve and not reason.strip():
        raise RequestInvalid("reason: a rejection needs a reason")  # checked before the token is consumed
    key = approval_key(team, request_id)
    if production and approve:
        waiting = state.get_token(table, "approval", key) or {}
        submitter = waiting.get("submittedBy")
        if submitter and same_person(reviewer, str(submitter)):
            raise ApprovalRefused(
                f"{reviewer} submitted request {request_id} ({submitter}): in production nobody approves their "
                "own run, whichever role they use; ask another reviewer of the team"
            )
    item = state.take_token(table, "approval", key, team=team)
    if item is None:
        stored = state.get_token(table, "approval", key)
        if stored is not None:  # an item under this team's key recorded for another team: never resumed
            raise ApprovalRefused(f"request {request_id} waiting under team {team}'s key belongs to another team")
        raise NotWaiting(f"request {request_id} of team {team} is not waiting for approval")
    decision = {"approved": approve, "reviewer": reviewer, "reason": reason}
    if reviewer_role:
        decision["reviewerRole"] = reviewer_role
    # Before the execution resumes: CreateServing serves only a run whose approval is recorded here.
    state.record_decision(
        table,
        item["executionArn"],
        {"team": team, "requestId": request_id, **decision, "submittedBy": item.get("submittedBy")},
    )
    try:
        if approve:
            sfn.send_task_success(taskToken=item["token"], output=json.dumps(decision))
        else:
            sfn.send_task_failure(
                taskToken=item["token"],
                error=ApprovalRejected.__name__,
                cause=f"rejected by {reviewer}: {reason}"[:32768],
            )
    except ClientError as exc:
        if error_code(exc) in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
            raise NotWaiting(
                f"request {request_id} of team {team} no longer waits for approval ({error_code(exc)})"
            ) from exc
        raise
    return {
        "team": team,
        "requestId": request_id,
        "approved": approve,
        "reviewer": reviewer,
        "executionArn": item["executionArn"],
    }


# -- the approval function (Lambda function URL, AWS_IAM auth) ------------------------------------------------
@dataclass(frozen=True)
class ApprovalSettings:
    """The approval function's environment, set by the pipeline stack, and where it finds each team.

    ``registry`` reads a team's registry entry (``bft.registry.read_entry``: its reviewers and submitter role)
    when a decision names the team; without it, ``reviewers`` and ``submitters`` are the whole truth.
    """

    state_table: str
    environment: str
    production: bool
    region: str = ""  # where the function runs: the STS endpoint it sends callers' proofs to
    reviewers: dict[str, list[str]] = field(default_factory=dict)  # team -> role or user ARNs allowed to decide
    submitters: dict[str, str] = field(default_factory=dict)  # team -> its submitter role ARN (never decides)
    registry: Callable[[str], dict[str, Any] | None] | None = None

    def team(self, team: str) -> tuple[list[str], str | None]:
        """The team's reviewers and submitter role; ApprovalRefused for a team without a registry entry."""
        if self.registry is None:
            return list(self.reviewers.get(team) or []), self.submitters.get(team)
        entry = self.registry(team)
        if entry is None:
            raise ApprovalRefused(f"team {team} is not onboarded in {self.environment}")
        return [str(arn) for arn in entry.get("reviewers") or []], entry.get("submitterRoleArn")

    @classmethod
    def from_env(cls, ssm: Callable[[], Any]) -> ApprovalSettings:
        production = env("PRODUCTION")
        if production not in ("true", "false"):
            raise Misconfigured(f"environment variable PRODUCTION must be 'true' or 'false', not {production!r}")
        path = env("REGISTRY_PATH")
        return cls(
            state_table=env("STATE_TABLE"),
            environment=env("ENVIRONMENT"),
            production=production == "true",
            region=env("AWS_REGION"),
            registry=lambda team: read_entry(ssm(), path, team),
        )


@dataclass(frozen=True)
class Caller:
    """The SigV4-verified caller of the function URL."""

    arn: str  # as Lambda reports it: the assumed-role session ARN, or the IAM user ARN
    account: str
    caller_id: str

    def matches(self, principal: str) -> bool:
        """Whether ``principal`` (a configured role or user ARN) is this caller.

        An assumed-role ARN carries the role's name but not its path; role names are unique within an
        account whatever their path, so partition, account and name identify the role. A user ARN carries
        its path and is compared whole.
        """
        configured = IAM_PRINCIPAL.match(principal)
        if configured is None:
            return False
        assumed = ASSUMED_ROLE.match(self.arn)
        if assumed is not None:
            return (
                configured["kind"] == "role"
                and configured["partition"] == assumed["partition"]
                and configured["account"] == assumed["account"]
                and configured["path"].rsplit("/", 1)[-1] == assumed["name"]
            )
        user = IAM_PRINCIPAL.match(self.arn)
        return user is not None and user["kind"] == "user" and principal == self.arn


def handle_function_url(
    event: dict[str, Any],
    *,
    settings: Callable[[], ApprovalSettings],
    table: Callable[[str], Any],
    sfn: Callable[[], Any],
) -> dict[str, Any]:
    """The function URL's answer (payload format 2.0 in, ``{statusCode, headers, body}`` out).

    200 decided; 400 a bad body (the message names the field); 403 a caller who may not decide; 404 no run
    waiting; 405 not a POST; 500 a misconfiguration or a refused permission (named); 503 throttled, retry.
    """
    try:
        if _method(event) not in ("POST", None):
            return response(405, {"error": "MethodNotAllowed", "message": "POST a JSON decision"})
        caller = verified_caller(event)
        body = parse_body(event)
        config = settings()
        role = authorize(caller, body["team"], config)
        proven(caller, body, config.region)  # and the caller is who it claims: STS says so
        result = decide(
            body["team"],
            body["requestId"],
            approve=body["approve"],
            reviewer=caller.arn,
            reviewer_role=role,
            reason=body["reason"],
            table=table(config.state_table),
            sfn=sfn(),
            production=config.production,
        )
    except NotWaiting as exc:
        return response(404, {"error": "NotWaiting", "message": str(exc)})
    except RequestInvalid as exc:
        return response(400, {"error": "BadRequest", "message": str(exc)})
    except ApprovalRefused as exc:
        logger.warning("approval refused: %s", exc)
        return response(403, {"error": "Forbidden", "message": str(exc)})
    except TransientError as exc:
        return response(503, {"error": "Throttled", "message": f"{exc}; try again"})
    except (Misconfigured, AccessDenied) as exc:
        logger.error("approval function cannot decide: %s: %s", type(exc).__name__, exc)
        return response(500, {"error": type(exc).__name__, "message": str(exc)})
    except ClientError as exc:
        denied = access_denied(exc)
        if denied is None:
            raise
        logger.error("approval function cannot decide: %s", denied)
        return response(500, {"error": "AccessDenied", "message": str(denied)})
    verb = "approved" if result["approved"] else "rejected"
    logger.info(
        "decision recorded",
        extra=result
        | {"environment": config.environment, "production": config.production, "callerId": caller.caller_id},
    )
    message = f"{verb} request {result['requestId']} of team {result['team']} as {caller.arn}"
    return response(200, result | {"message": message, "reviewerRole": role})


def response(status: int, document: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(document)}


def verified_caller(event: dict[str, Any]) -> Caller:
    """The identity Lambda verified (AWS_IAM auth); never anything the body says."""
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    arn, account = iam.get("userArn"), iam.get("accountId")
    if not isinstance(arn, str) or not arn or not isinstance(account, str):
        raise ApprovalRefused("no verified IAM caller: the approval function URL must use AWS_IAM auth")
    if f":{account}:" not in arn:
        raise ApprovalRefused(f"caller {arn} does not belong to account {account}")
    return Caller(arn=arn, account=account, caller_id=str(iam.get("callerId") or ""))


def parse_body(event: dict[str, Any]) -> dict[str, Any]:
    raw = event.get("body") or ""
    try:
        text = base64.b64decode(raw).decode() if event.get("isBase64Encoded") else raw
        body = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestInvalid(f"body: not JSON ({exc}); send {{team, requestId, approve, reason}}") from exc
    if not isinstance(body, dict):
        raise RequestInvalid("body: must be a JSON object {team, requestId, approve, reason}")
    unknown = sorted(set(body) - set(BODY_FIELDS))
    if unknown:
        # Notably "reviewer": who decides is the verified caller, never a name in the body.
        raise RequestInvalid(f"{unknown[0]}: unknown field (known: {', '.join(BODY_FIELDS)})")
    team, request_id, approve = body.get("team"), body.get("requestId"), body.get("approve")
    reason = body.get("reason", "")
    if not isinstance(team, str) or not TEAM_NAME.match(team):
        raise RequestInvalid("team: required, a team name")
    if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
        raise RequestInvalid("requestId: required, 1-40 letters, digits or '-', starting alphanumeric")
    if not isinstance(approve, bool):
        raise RequestInvalid("approve: required, true or false")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise RequestInvalid(f"reason: a string of at most {MAX_REASON} characters")
    if not approve and not reason.strip():
        raise RequestInvalid("reason: a rejection needs a reason")
    return {"team": team, "requestId": request_id, "approve": approve, "reason": reason, "proof": body.get("proof")}


def proven(caller: Caller, body: dict[str, Any], region: str) -> None:
    """ApprovalRefused unless STS says the event's caller signed this very decision (bft.workflow.caller_proof):
    a direct Invoke can forge ``requestContext``, not a reviewer's signature."""
    signer = caller_proof.prove(body.get("proof"), body, region=region)
    if signer != caller.arn:
        raise ApprovalRefused(f"the request claims caller {caller.arn}, but {signer} signed its proof")


def same_person(reviewer: str, submitter: str) -> bool:
    """Whether two principal ARNs are one person: the same IAM user, or role sessions of the same name.

    A session name names the person when the identity provider sets it (IAM Identity Center, SAML) or the
    role's trust policy pins it (``sts:RoleSessionName`` = ``${aws:username}``); the source identity would be
    better, but no API the pipeline can call returns it (CloudTrail records it)."""
    if reviewer == submitter:
        return True
    a, b = ASSUMED_ROLE.match(reviewer), ASSUMED_ROLE.match(submitter)
    return bool(a and b and a["account"] == b["account"] and _session(reviewer) == _session(submitter))


def _session(arn: str) -> str:
    return arn.rsplit("/", 1)[-1].lower()


def authorize(caller: Caller, team: str, settings: ApprovalSettings) -> str:
    """The configured reviewer principal the caller matched; ApprovalRefused otherwise.

    The team's submitter role is refused first and always, even if it is also listed as a reviewer: the
    role that submits a team's runs never approves them.
    """
    reviewers, submitter = settings.team(team)
    if submitter and caller.matches(submitter):
        raise ApprovalRefused(
            f"{caller.arn} is team {team}'s submitter role: a submitter never decides on its own team's runs; "
            "ask one of the team's reviewers"
        )
    if not reviewers:
        raise ApprovalRefused(f"team {team} has no reviewers in {settings.environment}: nobody may decide its runs")
    for principal in reviewers:
        if caller.matches(principal):
            return principal
    raise ApprovalRefused(f"{caller.arn} is not a reviewer of team {team} in {settings.environment}")


def _method(event: dict[str, Any]) -> str | None:
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method")
    return method.upper() if isinstance(method, str) else None
