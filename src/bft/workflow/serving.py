"""Step 6: serve the custom model, by provisioned throughput or on-demand deployment, with bounded polling.

The model served is the output of the run's own job (GetModelCustomizationJob), never a model ARN from the
state; every serving ARN is used only after its tags show it is this run's (:mod:`bft.workflow.ownership`).
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from bft.aws_errors import bedrock_call, error_code
from bft.errors import ApprovalRejected, ForeignResource, ThroughputFailed
from bft.workflow import state
from bft.workflow.ownership import own_model_arn, require_own

logger = logging.getLogger(__name__)
PT = "provisioned-throughput"


def require_approval(run: dict[str, Any], *, table: Any) -> None:
    """ApprovalRejected unless a run that needed approval has an approving decision recorded for this very
    execution. Only the approval function writes decisions, after it proved who the reviewer is: a task token
    resumed any other way (a principal holding states:SendTaskSuccess) resumes a run that never serves."""
    if not run.get("approvalRequired"):
        return
    where = f"{run['team']}/{run['requestId']} ({run['executionArn']})"
    decision = state.get_decision(table, run["executionArn"])
    if decision is None:
        raise ApprovalRejected(
            f"no approval recorded for {where}: an approval must come through the approval function (bft approve)"
        )
    if (decision.get("team"), decision.get("requestId")) != (run["team"], run["requestId"]):
        raise ApprovalRejected(f"the decision recorded for {where} names another run: {decision.get('requestId')}")
    if decision.get("approved") is not True:
        raise ApprovalRejected(f"the decision recorded for {where} is a rejection by {decision.get('reviewer')}")
    logger.info("approved by %s at %s", decision.get("reviewer"), decision.get("decidedAt"))


def create_serving(run: dict[str, Any], *, bedrock: Any, table: Any = None) -> dict[str, Any]:
    if run.get("approvalRequired"):
        require_approval(run, table=table)
    serving = run["serving"]
    model_arn = own_model_arn(bedrock, run)

    def refused(code: str, message: str) -> ThroughputFailed | None:
        # AccessDeniedException is not mapped: it surfaces as AccessDenied naming the action.
        if code in ("ValidationException", "ResourceNotFoundException", "TooManyTagsException"):
            return ThroughputFailed(f"Bedrock refused to serve {model_arn}: {code}: {message}")
        return None

    if serving["kind"] == PT:
        params: dict[str, Any] = {
            "provisionedModelName": serving["name"],
            "modelId": model_arn,
            "modelUnits": serving["modelUnits"],
            "clientRequestToken": run["clientRequestToken"],
            # The reaper deletes non-prod throughputs after this many hours (the team's limit at most).
            "tags": run["tags"]
            + ([{"key": "ttl-hours", "value": f"{serving['ttlHours']:g}"}] if serving["ttlHours"] else []),
        }
        if serving["commitment"]:  # omitted means no commitment: hourly, deletable any time
            params["commitmentDuration"] = serving["commitment"]
        with bedrock_call("CreateProvisionedModelThroughput", on_error=refused):
            arn = bedrock.create_provisioned_model_throughput(**params)["provisionedModelArn"]
    else:
        with bedrock_call("CreateCustomModelDeployment", on_error=refused):
            arn = bedrock.create_custom_model_deployment(
                modelDeploymentName=serving["name"],
                modelArn=model_arn,
                clientRequestToken=run["clientRequestToken"],
                tags=run["tags"],
            )["customModelDeploymentArn"]
    # A token Bedrock already saw returns the resource it created then: make sure that one is this run's.
    require_own(bedrock, arn, run, what=serving["kind"])
    logger.info("serving %s via %s", model_arn, arn)
    return {"kind": serving["kind"], "arn": arn, "name": serving["name"], "modelArn": model_arn, "polls": 0}


def describe_serving(bedrock: Any, kind: str, arn: str) -> dict[str, Any]:
    if kind == PT:
        with bedrock_call("GetProvisionedModelThroughput"):
            found: dict[str, Any] = bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
    else:
        with bedrock_call("GetCustomModelDeployment"):
            found = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    return found


def own_serving(run: dict[str, Any], serving: dict[str, Any], *, bedrock: Any) -> tuple[str, dict[str, Any]]:
    """(ARN, description) of the run's serving resource: its kind is the run's, its tags are the run's, and
    it serves the model of the run's own job; ForeignResource otherwise."""
    kind, arn = run["serving"]["kind"], str(serving["arn"])
    require_own(bedrock, arn, run, what=kind)
    found = describe_serving(bedrock, kind, arn)
    model_arn = own_model_arn(bedrock, run)
    serves = {str(arn) for arn in (found.get("modelArn"), found.get("desiredModelArn")) if arn}
    if model_arn not in serves:
        raise ForeignResource(
            f"{kind} {arn} serves {', '.join(sorted(serves)) or 'no model'}, not this run's model {model_arn}; "
            "nothing was invoked"
        )
    return arn, found


def check_serving(run: dict[str, Any], serving: dict[str, Any], *, bedrock: Any) -> dict[str, Any]:
    """One bounded poll: ready, not yet (the state machine waits and asks again), or a defined failure."""
    polls = int(serving.get("polls", 0)) + 1
    arn, found = own_serving(run, serving, bedrock=bedrock)
    serving = {**serving, "kind": run["serving"]["kind"], "arn": arn}
    status = found["status"]
    ready = status == ("InService" if serving["kind"] == PT else "Active")
    failed = status == "Failed"
    if failed:
        raise ThroughputFailed(f"{serving['arn']} ended {status}: {found.get('failureMessage') or 'no reason given'}")
    max_polls = run["serving"]["maxPolls"]
    if not ready and polls >= max_polls:
        waited = run["serving"]["firstPollSeconds"] + (max_polls - 1) * run["serving"]["pollSeconds"]
        raise ThroughputFailed(
            f"{serving['arn']} still {status} after {polls} checks (~{waited} s); it is deleted now. "
            "Bedrock usually needs 20-30 minutes: raise workflow.throughput_max_polls if this repeats"
        )
    return {**serving, "status": status, "ready": ready, "polls": polls}


def delete_serving(bedrock: Any, kind: str, name_or_arn: str) -> str:
    """Delete what serves the model; tolerate that it is already gone."""
    try:
        if kind == PT:
            with bedrock_call("DeleteProvisionedModelThroughput"):
                bedrock.delete_provisioned_model_throughput(provisionedModelId=name_or_arn)
        else:
            with bedrock_call("DeleteCustomModelDeployment"):
                bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=name_or_arn)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return "already gone"
        raise
    return "deleted"


def find_serving(bedrock: Any, kind: str, name: str) -> str | None:
    """Look a serving resource up by its deterministic name (for cleanup after a half-finished create)."""
    if kind == PT:
        with bedrock_call("ListProvisionedModelThroughputs"):
            pages = bedrock.get_paginator("list_provisioned_model_throughputs").paginate(nameContains=name)
            for page in pages:
                for summary in page.get("provisionedModelSummaries", []):
                    if summary["provisionedModelName"] == name:
                        return str(summary["provisionedModelArn"])
        return None
    with bedrock_call("ListCustomModelDeployments"):
        found = bedrock.list_custom_model_deployments(nameContains=name)
    for summary in found.get("modelDeploymentSummaries", []):
        if summary.get("customModelDeploymentName") == name:
            return str(summary["customModelDeploymentArn"])
    return None
