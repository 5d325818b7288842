"""Which Bedrock resources belong to a run, decided by Bedrock's own records, never by the execution's data.

Every resource a run creates carries the tags of :func:`run_tags` (the job and the custom model through
``jobTags``/``customModelTags``, the throughput or deployment through ``tags``). Before a step stops,
deletes, serves or invokes anything it reads the resource's tags and requires all four; anything else is
:class:`~bft.errors.ForeignResource` and is left alone. The model a run serves, evaluates or deletes is the
``outputModelArn`` of the run's own job, looked up by the job's deterministic name
(:func:`bft.names.run_names`), never a model ARN carried in the state.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from bft.aws_errors import bedrock_call, error_code
from bft.errors import ForeignResource, JobFailed
from bft.names import run_names

PROJECT_TAG = "bedrock-fine-tuning"  # stacks/__init__.py tags the stacks alike
TAG_KEYS = ("project", "environment", "team", "request")


def run_tags(environment: str, team: str, request_id: str) -> list[dict[str, str]]:
    """The tags every resource of a run carries (Bedrock's ``[{key, value}]`` form)."""
    return [
        {"key": "team", "value": team},
        {"key": "environment", "value": environment},
        {"key": "request", "value": request_id},
        {"key": "project", "value": PROJECT_TAG},
    ]


def expected_tags(run: dict[str, Any]) -> dict[str, str]:
    return {
        "project": PROJECT_TAG,
        "environment": run["environment"],
        "team": run["team"],
        "request": run["requestId"],
    }


def read_tags(bedrock: Any, arn: str) -> dict[str, str]:
    with bedrock_call("ListTagsForResource"):
        found = bedrock.list_tags_for_resource(resourceARN=arn).get("tags", [])
    return {tag["key"]: tag["value"] for tag in found}


def require_own(bedrock: Any, arn: str, run: dict[str, Any], *, what: str) -> dict[str, str]:
    """The tags of ``arn``; ForeignResource unless it carries this run's project, environment, team and
    request tags."""
    tags = read_tags(bedrock, arn)
    for key, value in expected_tags(run).items():
        if tags.get(key) != value:
            found = f"{key}={tags[key]!r}" if key in tags else f"no {key} tag"
            raise ForeignResource(
                f"{what} {arn} is not this run's: {found}, expected {key}={value!r}; nothing was done to it"
            )
    return tags


def own_job_name(run: dict[str, Any]) -> str:
    """The run's job name, derived again from environment, team, request id and attempt."""
    return run_names(run["environment"], run["team"], run["requestId"], int(run["attempt"]))["jobName"]


def own_job(bedrock: Any, run: dict[str, Any]) -> dict[str, Any] | None:
    """GetModelCustomizationJob on the run's own job (None if it was never created), tags checked."""
    try:
        with bedrock_call("GetModelCustomizationJob"):
            job: dict[str, Any] = bedrock.get_model_customization_job(jobIdentifier=own_job_name(run))
    except ClientError as exc:
        if error_code(exc) in ("ResourceNotFoundException", "ValidationException"):
            return None
        raise
    require_own(bedrock, job["jobArn"], run, what="customization job")
    return job


def own_model_arn(bedrock: Any, run: dict[str, Any]) -> str:
    """The custom model the run's own job produced (tags checked); JobFailed if it produced none."""
    job = own_job(bedrock, run)
    if job is None:
        raise JobFailed(f"customization job {own_job_name(run)} of this run does not exist")
    model_arn = job.get("outputModelArn")
    if job.get("status") != "Completed" or not model_arn:
        raise JobFailed(f"customization job {job['jobArn']} is {job.get('status')} and has no output model")
    require_own(bedrock, str(model_arn), run, what="custom model")
    return str(model_arn)
