"""Tear down what a finished run left serving (and, on request, its custom model), as the team's own role.

`bft teardown` and `bft smoke` share this path. Whose run it is comes from the caller (environment, team,
request id), never from the report alone: each resource's tags are read before it is deleted
(:mod:`bft.workflow.ownership`), so only a resource of this environment, team and request is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from bft.aws_errors import bedrock_call, error_code
from bft.errors import JobFailed
from bft.workflow.ownership import own_job, own_model_arn, require_own
from bft.workflow.promotion import endpoint_use
from bft.workflow.serving import delete_serving


class ModelKept(Exception):
    """The custom model could not be identified (the run's report names no attempt): it is left in place."""


@dataclass
class Teardown:
    """What was deleted, one line per resource."""

    actions: list[str] = field(default_factory=list)
    say: Callable[[str], None] = lambda _line: None

    def done(self, line: str) -> None:
        self.actions.append(line)
        self.say(line)


def teardown_run(
    bedrock: Any,
    *,
    environment: str,
    team: str,
    request_id: str,
    report: dict[str, Any] | None,
    delete_model: bool,
    model_required: bool = True,
    say: Callable[[str], None] = lambda _line: None,
) -> Teardown:
    """Delete the run's serving resource (deployment or throughput) and, with ``delete_model``, its custom model.

    ForeignResource, AccessDenied and JobFailed propagate (the caller says which and exits non-zero); with
    ``model_required`` False a run whose job produced no model (it failed) is not an error: nothing to delete.
    ``say`` hears each action as it is done, so what was deleted is told even when a later step fails.
    """
    result = Teardown(say=say)
    serving = (report or {}).get("serving") or {}
    attempt = ((report or {}).get("run") or {}).get("attempt")
    run = {"environment": environment, "team": team, "requestId": request_id, "attempt": attempt}
    promotion = (report or {}).get("promotion") or {}
    if serving.get("arn"):
        try:
            require_own(bedrock, serving["arn"], run, what=serving.get("kind", "serving resource"))
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            # Deleted already: by the run itself once the team's endpoint served its model, or by hand.
            result.done(f"{serving['arn']}: already gone")
        else:
            result.done(f"{serving['arn']}: {delete_serving(bedrock, serving['kind'], serving['arn'])}")
    if promotion.get("arn"):
        # The team's endpoint is the team's, not the run's: teardown never deletes it.
        result.done(f"team endpoint {promotion.get('endpoint')} ({promotion['arn']}) is not this run's: left as is")
    if not delete_model:
        return result
    if attempt is None:
        raise ModelKept("the run's report names no attempt: the custom model is kept (delete it in the console)")
    job = own_job(bedrock, run)  # tags checked
    cleaned = ((report or {}).get("cleanup") or {}).get("actions") or []
    if job and job.get("outputModelArn") and f"{job['outputModelArn']}: custom model deleted" in cleaned:
        # The run's own Cleanup deleted it (e.g. after pt_quota_exceeded): its tags can no longer be read, so
        # the tag check below would be refused, and there is nothing left to delete.
        result.done(f"{job['outputModelArn']}: custom model already deleted by the run's cleanup")
        return result
    try:
        model = own_model_arn(bedrock, run)  # the job's own output, tags checked
    except JobFailed as exc:
        if model_required:
            raise
        result.done(f"no custom model to delete ({exc})")
        return result
    if promotion.get("arn"):
        use = endpoint_use(bedrock, str(promotion["arn"]), model)
        if use:
            raise ModelKept(
                f"{model}: custom model kept: team endpoint {promotion.get('endpoint')} ({promotion['arn']}) {use}; "
                "once a later run replaced it (and it is no longer the rollback target), the reaper deletes it past "
                "the team's retention"
            )
    with bedrock_call("DeleteCustomModel"):
        bedrock.delete_custom_model(modelIdentifier=model)
    result.done(f"{model}: custom model deleted")
    return result
