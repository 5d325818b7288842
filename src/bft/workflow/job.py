"""Steps 2-3: start the customization job idempotently and wait for it, event-driven.

Waiting costs nothing per hour: the execution parks on a task token stored under the job ARN; the
Bedrock state-change event resumes it (:func:`on_job_event`). Events are best effort, so a scheduled
reconciler (:func:`reconcile`) polls the few jobs still waiting and resumes any whose event was lost,
and the waiting step itself checks once right after storing its token, in case the job already ended.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError

from bft.aws_errors import bedrock_call, error_code, error_message
from bft.errors import ForeignResource, JobFailed, JobStopped, RequestInvalid
from bft.workflow import state
from bft.workflow.ownership import require_own

logger = logging.getLogger(__name__)
TERMINAL = ("Completed", "Failed", "Stopped")
# The customization of a run that names none (runs started before the type was part of the request): supervised
# fine-tuning. Reinforcement fine-tuning is the other the pipeline starts; distillation is not yet.
CUSTOMIZATION_TYPE = "FINE_TUNING"
RFT = "REINFORCEMENT_FINE_TUNING"
# docs/bedrock-behaviour.md#job-name-in-use
JOB_NAME_IN_USE = "The provided job name is currently in use."


def start_job(
    run: dict[str, Any],
    *,
    bedrock: Any,
    role_arn: str,
    outputs_bucket: str,
    kms_key_arn: str | None,
    vpc: dict[str, list[str]] | None,
    grader_function_arn: str | None = None,
    dataset: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """CreateModelCustomizationJob with a token derived from the request: a retry never starts a second job.

    A reinforcement run (``run["customizationType"]`` REINFORCEMENT_FINE_TUNING) names its grader in
    ``customizationConfig.rftConfig`` (the team's function, else the pipeline's ``grader_function_arn``) with its
    typed hyperparameters there, and trains on ValidateDataset's copy of the prompts when it wrote one."""
    customization = run.get("customizationType", CUSTOMIZATION_TYPE)
    training = (dataset or {}).get("preparedTrainingDataUri") or run["trainingDataUri"]
    params: dict[str, Any] = {
        "jobName": run["jobName"],
        "customModelName": run["customModelName"],
        "roleArn": role_arn,
        "clientRequestToken": run["clientRequestToken"],
        "baseModelIdentifier": run["baseModelId"],
        "customizationType": customization,
        "trainingDataConfig": {"s3Uri": training},
        "outputDataConfig": {"s3Uri": f"s3://{outputs_bucket}/{run['team']}/{run['requestId']}/a{run['attempt']}/"},
        "hyperParameters": run["hyperParameters"],
        "jobTags": run["tags"],
        "customModelTags": run["tags"],
    }
    if customization == RFT:
        grader = run.get("grader") or {}
        lambda_arn = grader.get("functionArn") or grader_function_arn
        if not lambda_arn:
            raise RequestInvalid("grader: the pipeline has no grader function configured (GRADER_FUNCTION_ARN)")
        rft: dict[str, Any] = {"graderConfig": {"lambdaGrader": {"lambdaArn": lambda_arn}}}
        if params.pop("hyperParameters"):
            rft["hyperParameters"] = run["hyperParameters"]
        params["customizationConfig"] = {"rftConfig": rft}
    if run.get("validationDataUri"):
        params["validationDataConfig"] = {"validators": [{"s3Uri": run["validationDataUri"]}]}
    if kms_key_arn:
        params["customModelKmsKeyId"] = kms_key_arn
    if vpc:
        params["vpcConfig"] = {"subnetIds": vpc["subnetIds"], "securityGroupIds": vpc["securityGroupIds"]}

    def refused(code: str, message: str) -> RequestInvalid | None:
        if _name_in_use(code, message):
            return None  # handled below: possibly an earlier attempt of this very step
        if code in ("ValidationException", "ResourceNotFoundException", "TooManyTagsException"):
            return RequestInvalid(f"CreateModelCustomizationJob refused the request: {code}: {message}")
        return None

    try:
        with bedrock_call("CreateModelCustomizationJob", on_error=refused):
            job_arn = bedrock.create_model_customization_job(**params)["jobArn"]
    except ClientError as exc:
        if not _name_in_use(error_code(exc), error_message(exc)):
            raise
        # The name is taken although the token is new to Bedrock (a repeated token would have returned the
        # original job, docs/bedrock-behaviour.md#client-request-token): adopt the job only if it is this run's.
        job_arn = _adopt(bedrock, run, exc)
    logger.info("customization job %s", job_arn)
    return {"jobArn": job_arn, "jobName": run["jobName"], "outputDataUri": params["outputDataConfig"]["s3Uri"]}


def _name_in_use(code: str, message: str) -> bool:
    """Bedrock's answer to a jobName in use: ValidationException with exactly this message, never
    ConflictException (docs/bedrock-behaviour.md#job-name-in-use)."""
    return code == "ValidationException" and message.strip() == JOB_NAME_IN_USE


def _adopt(bedrock: Any, run: dict[str, Any], exc: ClientError) -> str:
    """The existing job named ``run["jobName"]`` if it carries this run's tags; RequestInvalid otherwise."""
    with bedrock_call("GetModelCustomizationJob"):
        job = bedrock.get_model_customization_job(jobIdentifier=run["jobName"])
    try:
        require_own(bedrock, job["jobArn"], run, what="customization job")
    except ForeignResource as foreign:
        raise RequestInvalid(f"jobName {run['jobName']} already belongs to another run: {foreign}") from exc
    return str(job["jobArn"])


def job_status(bedrock: Any, job_arn: str) -> dict[str, Any]:
    with bedrock_call("GetModelCustomizationJob"):
        job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    return {
        "status": job["status"],
        "outputModelArn": job.get("outputModelArn"),
        "outputModelName": job.get("outputModelName"),
        "failureMessage": job.get("failureMessage"),
        "endTime": job["endTime"].isoformat() if job.get("endTime") else None,
    }


def register_wait(
    job_arn: str, token: str, *, execution_arn: str, timeout_seconds: int, table: Any, bedrock: Any, sfn: Any
) -> dict[str, Any]:
    """Park the execution on ``token`` until the job ends; resume at once if it already has."""
    state.put_token(table, "job", job_arn, token, execution_arn=execution_arn, ttl_seconds=timeout_seconds)
    status = job_status(bedrock, job_arn)
    if status["status"] in TERMINAL:
        resume(job_arn, status, table=table, sfn=sfn)
    return {"registered": job_arn, "status": status["status"]}


def resume(job_arn: str, status: dict[str, Any], *, table: Any, sfn: Any) -> bool:
    """Resume the execution waiting on ``job_arn`` with the job's outcome; False if none was waiting."""
    item = state.take_token(table, "job", job_arn)
    if item is None:
        return False
    token = item["token"]
    try:
        if status["status"] == "Completed":
            sfn.send_task_success(taskToken=token, output=json.dumps(status))
        else:
            error = JobFailed if status["status"] == "Failed" else JobStopped
            message = status.get("failureMessage") or f"the customization job ended {status['status']}"
            sfn.send_task_failure(taskToken=token, error=error.__name__, cause=f"{job_arn}: {message}"[:32768])
    except ClientError as exc:
        # The execution already ended (timed out, aborted): nothing is waiting any more.
        if error_code(exc) not in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
            raise
        logger.warning("execution waiting on %s is gone: %s", job_arn, error_code(exc))
    return True


def on_job_event(event: dict[str, Any], *, table: Any, sfn: Any) -> dict[str, Any]:
    """EventBridge target for "Model Customization Job State Change".

    Bedrock emits an event on every state change, Stopping included (docs/bedrock-behaviour.md#job-state-events);
    only the terminal ones resume the execution, the rest are acknowledged and ignored (the rule's pattern already
    filters them; this is the second line)."""
    detail = event.get("detail") or {}
    job_arn = detail.get("jobArn") or (event.get("resources") or [None])[0]
    job_status_value = detail.get("jobStatus") or detail.get("status")
    if not job_arn or job_status_value not in TERMINAL:
        return {"ignored": True, "jobArn": job_arn, "status": job_status_value}
    status = {
        "status": job_status_value,
        "outputModelArn": detail.get("outputModelArn"),
        "outputModelName": detail.get("outputModelName"),
        "failureMessage": detail.get("failureMessage"),
        "endTime": detail.get("endTime"),
    }
    return {"jobArn": job_arn, "status": job_status_value, "resumed": resume(job_arn, status, table=table, sfn=sfn)}


def reconcile(*, table: Any, bedrock: Any, sfn: Any) -> dict[str, Any]:
    """The backstop for lost events: resume every waiting execution whose job has ended."""
    resumed, waiting = [], 0
    for item in state.pending_tokens(table, "job"):
        job_arn = item["pk"].removeprefix("job#")
        status = job_status(bedrock, job_arn)
        if status["status"] in TERMINAL:
            if resume(job_arn, status, table=table, sfn=sfn):
                resumed.append(job_arn)
        else:
            waiting += 1
    return {"resumed": resumed, "stillWaiting": waiting}


def stop_job(bedrock: Any, job_arn: str) -> str:
    """Stop a job if it is still running; returns what was done."""
    status = job_status(bedrock, job_arn)["status"]
    if status in TERMINAL or status == "Stopping":
        return f"job already {status}"
    try:
        with bedrock_call("StopModelCustomizationJob"):
            bedrock.stop_model_customization_job(jobIdentifier=job_arn)
    except ClientError as exc:
        if error_code(exc) != "ConflictException":  # it ended between the Get and the Stop
            raise
        return "job ended before it could be stopped"
    return "job stopped"
