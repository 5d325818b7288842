"""Identifiers shared by the CLI, the config and the workflow, in a module that imports nothing heavy."""

from __future__ import annotations

import hashlib
import re

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"  # the fine-tunable Claude 3 Haiku (200K context)
REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")  # also the execution name: keep it short
TEAM_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")  # used in S3 prefixes, IAM conditions and ids

# Bedrock's constraints on the names a run creates (botocore service model).
JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*$")  # and at most 63 characters
CUSTOM_MODEL_NAME = re.compile(r"^([0-9a-zA-Z][_-]?){1,63}$")  # and at most 63 characters
PROVISIONED_MODEL_NAME = re.compile(r"^([0-9a-zA-Z][_-]?)+$")  # and at most 63 characters
CLIENT_REQUEST_TOKEN = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?$")
# A team's stable serving endpoint (bft.workflow.promotion): lowercase words joined by single hyphens, so the
# deployment name it becomes matches Bedrock's pattern.
ENDPOINT_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")  # and at most ENDPOINT_NAME_LIMIT characters
ENDPOINT_NAME_LIMIT = 32
NAME_LIMIT = 63
JOB_PREFIX = "bft-"  # the EventBridge rule for job state changes matches it
HASH_CHARS = 12  # 48 bits of sha256: the part of a name that keeps two runs apart after truncation


def run_hash(environment: str, team: str, request_id: str, attempt: int) -> str:
    """A short digest of everything that identifies one attempt of one run.

    Fields are joined with a separator none of them may contain, so ("a-b", "c") and ("a", "b-c")
    hash differently.
    """
    source = "\x1f".join((environment, team, request_id, str(attempt)))
    return hashlib.sha256(source.encode()).hexdigest()


def _slug(text: str, limit: int) -> str:
    """Letters and digits separated by single '-', at most ``limit`` characters, no '-' at either end."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:limit].rstrip("-")


def run_names(
    environment: str, team: str, request_id: str, attempt: int, custom_model_name: str | None = None
) -> dict[str, str]:
    """Deterministic, collision-free names and token for one attempt of one run.

    ``bft-<env>-<team>-<request>`` (sanitized, truncated to fit) ``-a<attempt>-<hash>``: the readable part
    helps people, the hash of (environment, team, requestId, attempt) keeps two runs apart whatever the
    truncation cut, so two environments (or two teams) sharing an account never collide. A retried step
    reuses the same names and token, so Bedrock deduplicates the call. A requested ``customModelName`` is
    kept as the readable part of the model's name, with the same hash suffix (model names are unique per
    account and region: a name chosen by one team must not block another team's run).
    """
    digest = run_hash(environment, team, request_id, attempt)
    suffix = f"-a{attempt}-{digest[:HASH_CHARS]}"
    room = NAME_LIMIT - len(JOB_PREFIX) - len(suffix)
    readable = _slug(f"{environment}-{team}-{request_id}", room)
    name = f"{JOB_PREFIX}{readable}{suffix}" if readable else f"{JOB_PREFIX.rstrip('-')}{suffix}"
    if custom_model_name:
        model_room = NAME_LIMIT - len(suffix)
        model_readable = _slug(custom_model_name, model_room)
        model = f"{model_readable}{suffix}" if model_readable else name
    else:
        model = name
    return {
        "jobName": name,
        "customModelName": model,
        "servingName": name,
        "clientRequestToken": f"bft-{digest[:48]}",
    }


def endpoint_deployment_name(environment: str, team: str, endpoint: str) -> str:
    """The custom model deployment that is ``team``'s endpoint ``endpoint`` in ``environment``.

    ``bft-<env>-<team>-<endpoint>``: deployment names are unique per account and region, so two environments
    or two teams sharing an account never collide. Past 63 characters (or with a '--' Bedrock's name pattern
    refuses) the readable part is cut or tidied and a hash of the three keeps the names apart, as
    :func:`run_names` does.
    """
    readable = f"{JOB_PREFIX}{environment}-{team}-{endpoint}"
    if _slug(readable, NAME_LIMIT) == readable:  # fits, and no doubled or trailing '-' Bedrock would refuse
        return readable
    digest = hashlib.sha256("\x1f".join(("endpoint", environment, team, endpoint)).encode()).hexdigest()
    suffix = f"-{digest[:HASH_CHARS]}"
    return _slug(readable, NAME_LIMIT - len(suffix)) + suffix
