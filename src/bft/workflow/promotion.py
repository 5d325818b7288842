"""Promotion in place: a team's stable endpoint keeps one ARN while each approved run's model replaces the last.

An endpoint is an on-demand custom model deployment named ``bft-<env>-<team>-<endpoint>``
(:func:`bft.names.endpoint_deployment_name`). It is the team's, not a run's: it carries the tags ``project``,
``environment``, ``team`` and ``endpoint`` and no ``request`` tag, so no run's cleanup or teardown (which require
their own ``request``) ever deletes it. A run that names one (``run.serving.endpoint``) first serves and
evaluates its model on its own deployment, as every run does; only a model that passed is promoted:

1. :func:`promote` (the ``PromoteToEndpoint`` step) creates the endpoint for the team's first run, or points it
   at the run's model with ``UpdateCustomModelDeployment``;
2. :func:`promote` again (``CheckPromotion``, after each wait) until the deployment is Active or the update
   reports ``UpdateCompleted``; then the run's own deployment is deleted (the endpoint serves its model). An
   ``UpdateFailed``, a refusal or a change by someone else meanwhile is :class:`PromotionFailed`, and the
   endpoint goes on serving the model it served before.

**The record of the previous model** lives on the deployment itself, in two tags only the pipeline's functions
may write (the teams' roles hold no ``bedrock:TagResource``): ``pending-previous-model`` is written before an
update starts (the model the endpoint served), and moved to ``previous-model`` once the update completed, or
dropped when it failed. So an update that completes while no step is watching (a lost Lambda result, a
retry) still records what it replaced, and a refused or failed one never overwrites the rollback target.
:func:`rollback` (``bft rollback``) points the endpoint back at ``previous-model``; the reaper never deletes a
model an endpoint serves, is moving to, or keeps as either tag (:func:`protected_models`). Whatever a tag says
is checked before use: the model must carry the team's tags.

The behaviour of UpdateCustomModelDeployment this relies on: ``docs/bedrock-behaviour.md#deployment-update``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from bft.aws_errors import bedrock_call, error_code, error_message
from bft.errors import AccessDenied, ForeignResource, PromotionFailed, RollbackRefused
from bft.names import endpoint_deployment_name
from bft.workflow.ownership import PROJECT_TAG, own_model_arn, read_tags, require_own
from bft.workflow.serving import delete_serving

logger = logging.getLogger(__name__)

ENDPOINT_TAG = "endpoint"
PREVIOUS_TAG = "previous-model"
PENDING_TAG = "pending-previous-model"
RECORD_TAGS = (PREVIOUS_TAG, PENDING_TAG)
ENDPOINT_TAG_KEYS = ("project", "environment", "team", ENDPOINT_TAG)
# What Bedrock answers to an update while the deployment is Creating or Updating (docs/bedrock-behaviour.md
# #deployment-update): not a failure of the promotion, a reason to wait.
MUTATING = "mutating state"


def endpoint_tags(environment: str, team: str, endpoint: str) -> list[dict[str, str]]:
    """The tags of a team's endpoint (Bedrock's ``[{key, value}]`` form): the team's, and no request's."""
    return [
        {"key": "team", "value": team},
        {"key": "environment", "value": environment},
        {"key": ENDPOINT_TAG, "value": endpoint},
        {"key": "project", "value": PROJECT_TAG},
    ]


def require_endpoint(bedrock: Any, arn: str, *, environment: str, team: str, endpoint: str) -> dict[str, str]:
    """The deployment's tags; ForeignResource unless it is ``team``'s endpoint ``endpoint`` of this pipeline and
    environment."""
    tags = read_tags(bedrock, arn)
    expected = {tag["key"]: tag["value"] for tag in endpoint_tags(environment, team, endpoint)}
    for key, value in expected.items():
        if tags.get(key) != value:
            found = f"{key}={tags[key]!r}" if key in tags else f"no {key} tag"
            raise ForeignResource(
                f"custom model deployment {arn} is not team {team}'s endpoint {endpoint} in {environment}: {found}, "
                f"expected {key}={value!r}; nothing was done to it"
            )
    return tags


def describe(bedrock: Any, identifier: str) -> dict[str, Any] | None:
    """GetCustomModelDeployment by name or ARN; None when there is none."""
    try:
        with bedrock_call("GetCustomModelDeployment"):
            found: dict[str, Any] = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=identifier)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    return found


def updating_to(found: dict[str, Any]) -> str | None:
    """The model an update in flight moves the deployment to (None when none is in flight)."""
    update = found.get("updateDetails") or {}
    return str(update["modelArn"]) if update.get("updateStatus") == "Updating" and update.get("modelArn") else None


# -- the workflow's steps ----------------------------------------------------------------------------------------
def promote(
    run: dict[str, Any], serving: dict[str, Any], *, bedrock: Any, promotion: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One step of the promotion (``promotion`` None: PromoteToEndpoint; else CheckPromotion with the last
    result). Idempotent: it reads the endpoint, then does what is left, so a retried or repeated step never
    updates twice, records twice, or loses what the endpoint served before. ``ready`` ends the polling."""
    endpoint = run["serving"].get("endpoint")
    if not endpoint:
        raise PromotionFailed("this run names no endpoint to promote into (run.serving.endpoint is null)")
    name, deployment = endpoint["name"], endpoint["deploymentName"]
    environment, team = run["environment"], run["team"]
    last = promotion or {}
    polls = int(last.get("polls", -1)) + 1  # 0 for the first step, then one per check
    model = own_model_arn(bedrock, run)  # the run's own job's output, tags checked
    state: dict[str, Any] = {
        "endpoint": name,
        "deploymentName": deployment,
        "after": model,
        "before": last.get("before"),
        "action": last.get("action"),
        "polls": polls,
        "ready": False,
    }
    found = describe(bedrock, deployment)
    if found is None:
        if last.get("arn"):
            raise PromotionFailed(
                f"endpoint {name} ({last['arn']}) was deleted while this run promoted {model} into it; nothing "
                "serves the team's endpoint now: resubmit to create it anew"
            )
        arn = _create(bedrock, run, endpoint, model)
        return state | {"arn": arn, "action": "created", "before": None, "phase": "creating", "status": "Creating"}
    arn = str(found["customModelDeploymentArn"])
    tags = require_endpoint(bedrock, arn, environment=environment, team=team, endpoint=name)
    status, current = str(found["status"]), str(found["modelArn"])
    update = found.get("updateDetails") or {}
    moving_to, pending = updating_to(found), tags.get(PENDING_TAG)
    state |= {"arn": arn, "status": status, "updateStatus": update.get("updateStatus")}
    if status == "Failed":
        raise PromotionFailed(
            f"endpoint {name} ({arn}) is Failed: {found.get('failureMessage') or 'no reason given'}; {model} was not "
            f"promoted. Delete it (aws bedrock delete-custom-model-deployment --custom-model-deployment-identifier "
            f"{arn}) and the team's next run creates it anew"
        )
    if status == "Creating" and current == model:  # this run created it (an earlier attempt, maybe)
        return _not_yet(run, state | {"action": "created", "before": None, "phase": "creating"}, current)
    if moving_to == model:  # this run's update, in flight
        before = state["before"] or pending
        return _not_yet(run, state | {"action": "updated", "before": before, "phase": "updating"}, current)
    if status == "Creating" or moving_to is not None:
        # Another run's promotion or a rollback is under way: wait for it, then promote over it.
        return _not_yet(run, state | {"phase": "waiting"}, current, waiting_for=moving_to or current)
    if update.get("updateStatus") == "UpdateFailed" and update.get("modelArn") == model and current != model:
        if pending == current:
            _untag(bedrock, arn, [PENDING_TAG])
        raise PromotionFailed(
            f"endpoint {name} ({arn}): Bedrock could not point it at {model} (UpdateFailed, "
            f"{found.get('failureMessage') or 'no reason given'}); it still serves {current}, as before"
        )
    if current == model:
        before = state["before"] or pending or (tags.get(PREVIOUS_TAG) if state["action"] == "updated" else None)
        if pending:
            # The update completed: what it replaced becomes the rollback target, the pending record goes.
            _tag(bedrock, arn, {PREVIOUS_TAG: pending})
            _untag(bedrock, arn, [PENDING_TAG])
        done = state | {"phase": "done", "ready": True, "before": before, "action": state["action"] or "unchanged"}
        return done | {"runDeployment": _drop_run_deployment(bedrock, run, serving, arn)}
    if last.get("phase") in ("creating", "updating"):
        raise PromotionFailed(
            f"endpoint {name} ({arn}) serves {current}, not {model}: someone changed it (a rollback, another run) "
            "while this run promoted; nothing more was done"
        )
    return _start_update(bedrock, state, run, arn, current, model)


def _create(bedrock: Any, run: dict[str, Any], endpoint: dict[str, str], model: str) -> str:
    """The team's first promotion: the endpoint, serving the run's model, tagged as the team's (no request)."""
    environment, team, name = run["environment"], run["team"], endpoint["name"]

    def refused(code: str, message: str) -> PromotionFailed | None:
        if code in ("ValidationException", "ResourceNotFoundException", "TooManyTagsException"):
            return PromotionFailed(f"Bedrock refused to create endpoint {name} serving {model}: {code}: {message}")
        return None

    with bedrock_call("CreateCustomModelDeployment", on_error=refused):
        arn = str(
            bedrock.create_custom_model_deployment(
                modelDeploymentName=endpoint["deploymentName"],
                modelArn=model,
                description=f"Team {team}'s endpoint {name} in {environment}: one ARN across retrainings (bft)",
                # Not the run's own deployment's token (that one would answer with the run's deployment).
                clientRequestToken=f"{run['clientRequestToken']}-endpoint",
                tags=endpoint_tags(environment, team, name),
            )["customModelDeploymentArn"]
        )
    require_endpoint(bedrock, arn, environment=environment, team=team, endpoint=name)
    logger.info("endpoint %s created as %s serving %s", name, arn, model)
    return arn


def _start_update(
    bedrock: Any, state: dict[str, Any], run: dict[str, Any], arn: str, current: str, model: str
) -> dict[str, Any]:
    """Record what the endpoint serves, then point it at ``model``; a refusal drops the record again."""
    name = state["endpoint"]
    _tag(bedrock, arn, {PENDING_TAG: current})
    try:
        with bedrock_call("UpdateCustomModelDeployment"):
            bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=model)
    except ClientError as exc:
        code, message = error_code(exc), error_message(exc)
        if code not in ("ValidationException", "ResourceNotFoundException"):
            raise
        _untag(bedrock, arn, [PENDING_TAG])
        if MUTATING in message:  # changed since it was read: another run got there first
            return _not_yet(run, state | {"phase": "waiting"}, current, waiting_for=current)
        raise PromotionFailed(
            f"Bedrock refused to point endpoint {name} ({arn}) at {model}: {code}: {message}; it still serves "
            f"{current}, unchanged"
        ) from exc
    logger.info("endpoint %s (%s): %s -> %s", name, arn, current, model)
    return state | {"phase": "updating", "action": "updated", "before": current, "updateStatus": "Updating"}


def _not_yet(
    run: dict[str, Any], state: dict[str, Any], current: str, *, waiting_for: str | None = None
) -> dict[str, Any]:
    """Not ready: poll again, unless the polls are spent (then PromotionFailed, naming what the endpoint serves)."""
    max_polls = int(run["serving"]["maxPolls"])
    if state["polls"] < max_polls:
        return state
    waited = state["polls"] * int(run["serving"]["pollSeconds"])
    doing = (
        f"busy with another change (to {waiting_for})"
        if state["phase"] == "waiting"
        else f"still {state.get('updateStatus') or state.get('status')}"
    )
    raise PromotionFailed(
        f"endpoint {state['endpoint']} ({state.get('arn')}) is {doing} after {state['polls']} checks (~{waited} s); "
        f"it serves {current}. {state['after']} was not promoted: resubmit, or raise workflow.throughput_max_polls"
    )


def _drop_run_deployment(bedrock: Any, run: dict[str, Any], serving: dict[str, Any], endpoint_arn: str) -> str:
    """The run's own deployment, once the endpoint serves its model: nothing needs it (tags checked first)."""
    arn = str(serving.get("arn") or "")
    if not arn or arn == endpoint_arn:
        return "none"
    try:
        require_own(bedrock, arn, run, what=str(serving.get("kind", "on-demand-deployment")))
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return f"{arn}: already gone"
        raise
    return f"{arn}: {delete_serving(bedrock, str(serving.get('kind', 'on-demand-deployment')), arn)}"


def _tag(bedrock: Any, arn: str, tags: dict[str, str]) -> None:
    with bedrock_call("TagResource"):
        bedrock.tag_resource(resourceARN=arn, tags=[{"key": key, "value": value} for key, value in tags.items()])


def _untag(bedrock: Any, arn: str, keys: list[str]) -> None:
    with bedrock_call("UntagResource"):
        bedrock.untag_resource(resourceARN=arn, tagKeys=keys)


def endpoint_use(bedrock: Any, endpoint_arn: str, model: str) -> str | None:
    """How the endpoint uses ``model``, in words (None: it does not): serves it, is being updated to it, or keeps
    it as its rollback target. Bedrock's answer and the endpoint's tags, not a run's state."""
    found = describe(bedrock, endpoint_arn)
    if found is None:
        return None
    if found.get("modelArn") == model:
        return "serves it"
    if updating_to(found) == model:
        return "is being updated to it"
    tags = read_tags(bedrock, endpoint_arn)
    if model in (tags.get(PREVIOUS_TAG), tags.get(PENDING_TAG)):
        return "keeps it as its rollback target"
    return None


# -- bft rollback -------------------------------------------------------------------------------------------------
def rollback(
    bedrock: Any,
    *,
    environment: str,
    team: str,
    endpoint: str,
    wait_seconds: float = 0,
    poll_seconds: float = 30,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = lambda _line: None,
) -> dict[str, Any]:
    """Point ``team``'s endpoint back at the model it served before its last promotion (its ``previous-model``).

    RollbackRefused, naming the endpoint, when there is nothing to roll back to, it is busy, or its record names
    a model that is gone or not the team's: nothing is changed then. With ``wait_seconds``, polls until the update
    ends (UpdateFailed is RollbackRefused too: the endpoint serves what it served). The record is left as it is:
    after a rollback the endpoint serves its previous model, so a second rollback has nothing to go back to, and
    the model rolled back from is the reaper's once past retention.
    """
    name = endpoint_deployment_name(environment, team, endpoint)
    where = f"endpoint {endpoint} of team {team} in {environment} (deployment {name})"
    try:
        found = describe(bedrock, name)
    except AccessDenied as exc:
        # The team's role reads only deployments tagged with its team: one that does not exist is refused too.
        raise RollbackRefused(
            f"{where}: no such deployment your role may read (it does not exist, or it is not your team's): "
            f"{exc}; nothing was changed"
        ) from exc
    if found is None:
        raise RollbackRefused(f"{where} does not exist: no run promoted into it yet; nothing was changed")
    arn = str(found["customModelDeploymentArn"])
    tags = require_endpoint(bedrock, arn, environment=environment, team=team, endpoint=endpoint)
    current, status = str(found["modelArn"]), str(found["status"])
    if status != "Active" or updating_to(found):
        raise RollbackRefused(
            f"{where} ({arn}) is {status}"
            + (f", updating to {updating_to(found)}" if updating_to(found) else "")
            + "; roll back once it is Active with no update in flight; nothing was changed"
        )
    previous = tags.get(PREVIOUS_TAG)
    if not previous:
        raise RollbackRefused(
            f"{where} ({arn}) has nothing to roll back to: no previous model is recorded (it has served only "
            f"{current} since it was created); nothing was changed"
        )
    if previous == current:
        raise RollbackRefused(
            f"{where} ({arn}) has nothing to roll back to: it already serves its previous model {previous} (rolled "
            "back already); nothing was changed"
        )
    _require_team_model(bedrock, previous, environment=environment, team=team, where=f"{where} ({arn})")

    def refused(code: str, message: str) -> RollbackRefused | None:
        if code in ("ValidationException", "ResourceNotFoundException"):
            return RollbackRefused(
                f"Bedrock refused to point {where} ({arn}) back at {previous}: {code}: {message}; it still serves "
                f"{current}, unchanged"
            )
        return None

    with bedrock_call("UpdateCustomModelDeployment", on_error=refused):
        bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=previous)
    say(f"{where} ({arn}): rolling back from {current} to {previous}")
    result: dict[str, Any] = {
        "endpoint": endpoint,
        "arn": arn,
        "before": current,
        "after": previous,
        "updateStatus": "Updating",
    }
    waited = 0.0
    while wait_seconds > 0:
        found = describe(bedrock, arn) or {}
        state = (found.get("updateDetails") or {}).get("updateStatus")
        result["updateStatus"] = state
        if state == "UpdateCompleted":
            say(f"{where}: serves {previous} again")
            break
        if state == "UpdateFailed":
            raise RollbackRefused(
                f"{where} ({arn}): Bedrock could not point it back at {previous} (UpdateFailed); it still serves "
                f"{current}"
            )
        if waited >= wait_seconds:
            say(f"{where}: still {state} after {waited:g} s; follow it with aws bedrock get-custom-model-deployment")
            break
        sleep(poll_seconds)
        waited += poll_seconds
    return result


def _require_team_model(bedrock: Any, model: str, *, environment: str, team: str, where: str) -> None:
    """The recorded model exists and is the team's (project, environment, team tags): a tag is checked, not
    trusted."""
    try:
        tags = read_tags(bedrock, model)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise RollbackRefused(
                f"{where}: its previous model {model} no longer exists; nothing to roll back to; nothing was changed"
            ) from exc
        raise
    expected = {"project": PROJECT_TAG, "environment": environment, "team": team}
    wrong = {key: tags.get(key) for key, value in expected.items() if tags.get(key) != value}
    if wrong:
        raise RollbackRefused(
            f"{where}: its previous model {model} is not team {team}'s in {environment} ({wrong}); nothing was changed"
        )


# -- the reaper -------------------------------------------------------------------------------------------------
def protected_models(bedrock: Any) -> dict[str, str]:
    """Every custom model a deployment of the account uses, and every one a deployment keeps as its rollback
    target: model ARN -> why it must not be deleted. Any deployment's model counts, the pipeline's or not;
    the update targets and records of the pipeline's endpoints are read from each one whose tags the caller
    may read."""
    protected: dict[str, str] = {}
    for summary in _deployments(bedrock):
        arn, name = summary["customModelDeploymentArn"], summary.get("customModelDeploymentName", "")
        if summary.get("modelArn"):
            protected.setdefault(str(summary["modelArn"]), f"served by custom model deployment {name}")
        try:
            tags = read_tags(bedrock, arn)
        except AccessDenied:
            continue  # not readable: not one of the pipeline's endpoints (its model is protected above)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                continue  # deleted since it was listed
            raise
        for key in RECORD_TAGS:
            if tags.get(key):
                protected.setdefault(tags[key], f"rollback target of endpoint {tags.get(ENDPOINT_TAG) or name}")
        if tags.get(ENDPOINT_TAG) and tags.get("project") == PROJECT_TAG:
            found = describe(bedrock, arn) or {}
            moving_to = updating_to(found)
            if moving_to:
                protected.setdefault(moving_to, f"endpoint {tags[ENDPOINT_TAG]} is being updated to it")
    return protected


def _deployments(bedrock: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        with bedrock_call("ListCustomModelDeployments"):
            page = bedrock.list_custom_model_deployments(**({"nextToken": token} if token else {}))
        yield from page.get("modelDeploymentSummaries", [])
        token = page.get("nextToken")
        if not token:
            return
