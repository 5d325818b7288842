"""Failure path: leave nothing running that this execution started and nobody asked to keep.

Resources are found by the run's deterministic names (the job by name, the custom model as the job's
output, the throughput or deployment by name when the state lacks it, the LLM judge's evaluation jobs by
the execution's names when the state lacks them) and each one's tags are read before it is stopped or
deleted: a resource that is not this run's is left alone and reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from bft.aws_errors import bedrock_call, error_code, error_message
from bft.errors import AccessDenied, ForeignResource
from bft.names import run_names
from bft.workflow import judge
from bft.workflow.job import stop_job
from bft.workflow.ownership import own_job, require_own
from bft.workflow.promotion import endpoint_use
from bft.workflow.serving import delete_serving, find_serving

logger = logging.getLogger(__name__)
T = TypeVar("T")
# Failures after which the custom model has no use (the job produced one, but it is not wanted).
DISCARD_MODEL_AFTER = {
    "ApprovalRejected",
    "EvaluationBelowThreshold",
    "ThroughputFailed",
    "PromotionFailed",
    "QuotaExceeded",
    "States.Timeout",
    "States.TaskFailed",
}


def cleanup(
    state: dict[str, Any], *, bedrock: Any, delete_failed_models: bool, execution_name: str | None = None
) -> dict[str, Any]:
    """``execution_name``: the execution's name, which the LLM judge's evaluation jobs are named after."""
    run = state.get("run")
    actions: list[str] = []
    left: list[dict[str, Any]] = []
    # Refusals met on the way (a foreign resource, a missing permission): reported by finalize, never dropped.
    errors: list[dict[str, str]] = []
    if not run:  # the request was refused before anything was created
        return {
            "actions": ["nothing to clean up: the request was refused before any resource was created"],
            "leftRunning": left,
            "errors": errors,
        }

    def guarded(step: str, action: Callable[[], T]) -> T | None:
        try:
            return action()
        except (ForeignResource, AccessDenied) as exc:
            logger.error("cleanup %s: %s: %s", step, type(exc).__name__, exc)
            errors.append({"step": step, "error": type(exc).__name__, "message": str(exc)})
            return None

    def owned(step: str, arn: str, what: str) -> bool:
        """Tags checked: True for this run's resource; False (reported) for another's or one already gone."""
        try:
            return guarded(step, lambda: require_own(bedrock, arn, run, what=what)) is not None
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            actions.append(f"{arn}: already gone")
            return False

    job = guarded("find job", lambda: own_job(bedrock, run))  # tags checked
    if job:
        stopped = guarded("stop job", lambda: stop_job(bedrock, job["jobArn"]))
        if stopped:
            actions.append(f"{job['jobArn']}: {stopped}")

    # The LLM judge's evaluation jobs bill the judge's tokens while they run: stopped (tags checked).
    found = guarded("find evaluation jobs", lambda: judge_jobs(state, bedrock=bedrock, execution_name=execution_name))
    for arn in found or []:
        if owned("check evaluation job", arn, "evaluation job"):
            stopped = guarded("stop evaluation job", partial(judge.stop_job, bedrock, arn))
            if stopped:
                actions.append(f"{arn}: {stopped}")

    serving = run["serving"]
    kind = serving["kind"]
    name = run_names(run["environment"], run["team"], run["requestId"], int(run["attempt"]))["servingName"]
    serving_arn = (state.get("serving") or {}).get("arn") or guarded(
        "find serving", lambda: find_serving(bedrock, kind, name)
    )
    if serving_arn and owned("check serving", serving_arn, kind):
        if serving.get("keep"):
            left.append({"type": kind, "arn": serving_arn, "reason": "the request asked to keep it"})
        else:
            try:
                actions.append(f"{serving_arn}: {delete_serving(bedrock, kind, serving_arn)}")
            except AccessDenied as exc:
                errors.append({"step": "delete serving", "error": "AccessDenied", "message": str(exc)})
                left.append({"type": kind, "arn": serving_arn, "reason": f"delete refused: AccessDenied: {exc}"})
            except ClientError as exc:
                # A committed throughput cannot be deleted before its term ends: say so, loudly.
                left.append({"type": kind, "arn": serving_arn, "reason": f"delete refused: {error_code(exc)}: {exc}"})

    error = (state.get("error") or {}).get("Error", "")
    # The model is the output of the run's own job (never a model ARN from the state), tags checked.
    model = (job or {}).get("outputModelArn")
    # Once the team's endpoint serves it (or is moving to it), the model is the endpoint's: never deleted here,
    # and the endpoint (the team's, not the run's) is never touched by a run's cleanup.
    promotion = state.get("promotion") or {}
    use = (
        guarded("check endpoint", lambda: endpoint_use(bedrock, str(promotion["arn"]), str(model)))
        if model and promotion.get("arn")
        else None
    )
    if use:
        actions.append(f"{model}: custom model kept: endpoint {promotion.get('endpoint')} ({promotion['arn']}) {use}")
    elif model and owned("check custom model", model, "custom model"):
        if delete_failed_models and error in DISCARD_MODEL_AFTER and not left:
            try:
                with bedrock_call("DeleteCustomModel"):
                    bedrock.delete_custom_model(modelIdentifier=model)
                actions.append(f"{model}: custom model deleted")
            except AccessDenied as exc:
                errors.append({"step": "delete custom model", "error": "AccessDenied", "message": str(exc)})
                left.append({"type": "custom-model", "arn": model, "reason": f"delete refused: AccessDenied: {exc}"})
            except ClientError as exc:
                left.append(
                    {
                        "type": "custom-model",
                        "arn": model,
                        "reason": f"delete refused: {error_code(exc)}: {error_message(exc)}",
                    }
                )
        else:
            # Stored custom models bill monthly storage, not hourly; kept for investigation.
            actions.append(f"{model}: custom model kept")
    return {"actions": actions, "leftRunning": left, "errors": errors}


def judge_jobs(state: dict[str, Any], *, bedrock: Any, execution_name: str | None) -> list[str]:
    """The ARNs of the LLM judge's evaluation jobs this execution may have started. None unless the run asked
    for the judge and its evaluation was planned; once CheckJudge saw them all Completed, none is left to stop.
    From the state once StartJudge returned them; else (StartJudge failed, perhaps after creating one) by the
    execution's names, among the plan's models."""
    if ((state["run"].get("evaluation") or {}).get("scorer")) != "llm_judge":
        return []
    plan = state.get("evaluationPlan") or {}
    started = plan.get("judge") or {}
    if started.get("done"):
        return []
    if started.get("jobs"):
        return [str(arn) for arn in started["jobs"].values()]
    if not plan.get("models") or not execution_name:
        return []
    return list(judge.find_jobs(bedrock, execution_name, list(plan["models"])).values())
