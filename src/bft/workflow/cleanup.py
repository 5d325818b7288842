"""Failure path: leave nothing running that this execution started and nobody asked to keep."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from bft.workflow.bedrock_errors import bedrock_call, error_code
from bft.workflow.job import stop_job
from bft.workflow.serving import delete_serving, find_serving

logger = logging.getLogger(__name__)
# Failures after which the custom model has no use (the job produced one, but it is not wanted).
DISCARD_MODEL_AFTER = {
    "ApprovalRejected",
    "EvaluationBelowThreshold",
    "ThroughputFailed",
    "QuotaExceeded",
    "States.Timeout",
    "States.TaskFailed",
}


def cleanup(state: dict[str, Any], *, bedrock: Any, delete_failed_models: bool) -> dict[str, Any]:
    run = state.get("run")
    actions: list[str] = []
    left: list[dict[str, Any]] = []
    if not run:  # the request was refused before anything was created
        return {
            "actions": ["nothing to clean up: the request was refused before any resource was created"],
            "leftRunning": left,
        }

    job_arn = (state.get("job") or {}).get("jobArn") or _find_job(bedrock, run["jobName"])
    if job_arn:
        actions.append(f"{job_arn}: {stop_job(bedrock, job_arn)}")

    serving = run["serving"]
    serving_arn = (state.get("serving") or {}).get("arn") or find_serving(bedrock, serving["kind"], serving["name"])
    if serving_arn:
        if serving.get("keep"):
            left.append({"type": serving["kind"], "arn": serving_arn, "reason": "the request asked to keep it"})
        else:
            try:
                actions.append(f"{serving_arn}: {delete_serving(bedrock, serving['kind'], serving_arn)}")
            except ClientError as exc:
                # A committed throughput cannot be deleted before its term ends: say so, loudly.
                left.append(
                    {"type": serving["kind"], "arn": serving_arn, "reason": f"delete refused: {error_code(exc)}: {exc}"}
                )

    error = (state.get("error") or {}).get("Error", "")
    model = (state.get("jobResult") or {}).get("outputModelArn") or _find_model(bedrock, run["customModelName"])
    if model:
        if delete_failed_models and error in DISCARD_MODEL_AFTER and not left:
            try:
                with bedrock_call("DeleteCustomModel"):
                    bedrock.delete_custom_model(modelIdentifier=model)
                actions.append(f"{model}: custom model deleted")
            except ClientError as exc:
                left.append({"type": "custom-model", "arn": model, "reason": f"delete refused: {error_code(exc)}"})
        else:
            # Stored custom models bill monthly storage, not hourly; kept for investigation.
            actions.append(f"{model}: custom model kept")
    return {"actions": actions, "leftRunning": left}


def _find_job(bedrock: Any, job_name: str) -> str | None:
    try:
        with bedrock_call("GetModelCustomizationJob"):
            return str(bedrock.get_model_customization_job(jobIdentifier=job_name)["jobArn"])
    except ClientError as exc:
        if error_code(exc) in ("ResourceNotFoundException", "ValidationException"):
            return None
        raise


def _find_model(bedrock: Any, name: str) -> str | None:
    try:
        with bedrock_call("GetCustomModel"):
            return str(bedrock.get_custom_model(modelIdentifier=name)["modelArn"])
    except ClientError as exc:
        if error_code(exc) in ("ResourceNotFoundException", "ValidationException"):
            return None
        raise
