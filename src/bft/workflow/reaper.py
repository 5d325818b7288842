"""Cost guardrails run on a schedule: delete the pipeline's provisioned throughputs that outlived their
time-to-live in non-prod, and (when configured) the pipeline's custom models past their team's retention that
nothing uses: no throughput, no deployment, no team endpoint as its rollback target.

Only resources this pipeline created in this environment are ever touched: they carry the tags
``project=bedrock-fine-tuning`` and ``environment=<name>`` (see ``run["tags"]`` in
:mod:`bft.workflow.request`). Anything else is reported as ignored. The IAM policy of the reaper's
function carries the same two tag conditions, so a bug here still cannot delete anything else.

One resource failing (throttled, refused) never stops the others: errors are collected in the
report and :class:`ReapIncomplete` is raised at the end, so the invocation counts as failed in
the function's metrics and alarms while everything that could be done was done.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bft import metrics
from bft.aws_errors import bedrock_call, error_code, error_message
from bft.errors import AccessDenied, PipelineError
from bft.names import HASH_CHARS, run_hash
from bft.registry import read_entry
from bft.report.notification import aligned, prose, subject_line
from bft.workflow.ownership import PROJECT_TAG  # the value every run's resources carry (request.py)
from bft.workflow.promotion import protected_models
from bft.workflow.serving import PT, delete_serving
from bft.workflow.settings import Misconfigured, env, env_optional

logger = logging.getLogger(__name__)

HOUR = 3600.0
DAY = 24 * HOUR
# What one resource may fail with without stopping the others. Anything else is a programming error
# and propagates at once, undisguised.
_RESOURCE_ERRORS = (ClientError, BotoCoreError, PipelineError)


class ReapIncomplete(PipelineError):
    """Some resources could not be checked, deleted or notified; ``result`` holds the full report."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


class RegistryValues(dict[str, float | None]):
    """team -> one positive number of its registry entry (``bft.registry``), read when the reaper first meets
    one of its resources, then kept for the run. A team without an entry (offboarded) or without the value gets
    None: the environment's default applies."""

    key = ""

    def __init__(self, read: Callable[[str], dict[str, Any] | None]) -> None:
        super().__init__()
        self._read = read

    def get(self, team: str, default: Any = None) -> Any:
        if team not in self:
            entry = self._read(team)
            value = (entry or {}).get(self.key)
            self[team] = float(value) if value is not None and _positive_number(value) else None
        found = super().get(team)
        return default if found is None else found


class RegistryTtls(RegistryValues):
    """team -> its throughput time-to-live in hours (``ttlHours``)."""

    key = "ttlHours"


class RegistryRetention(RegistryValues):
    """team -> how many days its unused custom models are kept (``modelRetentionDays``)."""

    key = "modelRetentionDays"


@dataclass(frozen=True)
class ReaperSettings:
    """The reaper function's settings, read once from its environment (set by the CostGuardrails construct)."""

    environment: str
    production: bool
    topic_arn: str
    ttl_hours_by_team: Mapping[str, float | None]  # a RegistryTtls when deployed
    default_ttl_hours: float
    dry_run: bool
    model_retention_days: int | None
    # team -> its own retention (teams[].custom_model_retention_days): a RegistryRetention when deployed.
    model_retention_days_by_team: Mapping[str, float | None] | None = None

    @classmethod
    def from_env(cls, ssm: Callable[[], Any]) -> ReaperSettings:
        path = env("REGISTRY_PATH")
        retention = env_optional("MODEL_RETENTION_DAYS")

        def read(team: str) -> dict[str, Any] | None:
            return read_entry(ssm(), path, team)

        return cls(
            environment=env("ENVIRONMENT"),
            production=_flag("PRODUCTION"),
            topic_arn=env("TOPIC_ARN"),
            ttl_hours_by_team=RegistryTtls(read),
            default_ttl_hours=_number("DEFAULT_TTL_HOURS"),
            dry_run=_flag("DRY_RUN"),
            model_retention_days=_days(retention) if retention is not None else None,
            model_retention_days_by_team=RegistryRetention(read),
        )


def run(settings: ReaperSettings, *, bedrock: Any, sns: Any, now: datetime, force_dry_run: bool) -> dict[str, Any]:
    """Both guardrails, each reported; raises ReapIncomplete (with both reports) if either had errors.

    ``force_dry_run`` (from the invocation's ``{"dryRun": true}``) can only make a run safer: it never
    turns deletion on where the configuration asks for a dry run.
    """
    dry_run = settings.dry_run or force_dry_run
    failures: list[str] = []

    def guarded(step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return step()
        except ReapIncomplete as exc:
            failures.append(str(exc))
            return exc.result

    result = {
        "throughputs": guarded(
            lambda: reap(
                bedrock=bedrock,
                sns=sns,
                topic_arn=settings.topic_arn,
                environment=settings.environment,
                production=settings.production,
                ttl_hours_by_team=settings.ttl_hours_by_team,
                default_ttl_hours=settings.default_ttl_hours,
                now=now,
                dry_run=dry_run,
            )
        ),
        "customModels": guarded(
            lambda: retain_models(
                bedrock=bedrock,
                environment=settings.environment,
                retention_days=settings.model_retention_days,
                retention_days_by_team=settings.model_retention_days_by_team,
                now=now,
                dry_run=dry_run,
            )
        ),
    }
    _put_metrics(settings.environment, result)
    if failures:
        raise ReapIncomplete("; ".join(failures), result)
    return result


def _put_metrics(environment: str, result: Mapping[str, Any]) -> None:
    """What the run found and did, in the environment's metrics (bft.metrics): the throughputs still serving and
    their model units per team, and the reaper's actions by kind."""
    throughputs = result.get("throughputs") or {}
    alive: dict[str, list[int]] = {}
    for group in ("withinTtl", "committed", "wouldDelete"):
        for item in throughputs.get(group) or []:
            alive.setdefault(str(item.get("team") or "unknown"), []).append(int(item.get("modelUnits") or 0))
    for team, units in sorted(alive.items()):
        metrics.put(
            {"ServingThroughputs": (len(units), "Count"), "ServingModelUnits": (sum(units), "Count")},
            {"Environment": environment, "Team": team},
        )
    models = result.get("customModels") or {}
    actions = {
        "ThroughputDeleted": len(throughputs.get("deleted") or []),
        "ThroughputWouldDelete": len(throughputs.get("wouldDelete") or []),
        "CustomModelDeleted": len(models.get("deleted") or []),
        "Error": len(throughputs.get("errors") or []) + len(models.get("errors") or []),
    }
    for action, count in actions.items():
        metrics.put({"ReaperActions": (count, "Count")}, {"Environment": environment, "Action": action})


def reap(
    *,
    bedrock: Any,
    sns: Any,
    topic_arn: str,
    environment: str,
    production: bool,
    ttl_hours_by_team: Mapping[str, float | None],
    default_ttl_hours: float,
    now: datetime,
    dry_run: bool,
) -> dict[str, Any]:
    """Delete (or, in production and in a dry run, only report) this environment's expired throughputs."""
    deleting = not (production or dry_run)
    report: dict[str, Any] = {
        "environment": environment,
        "checkedAt": now.isoformat(),
        # Production never deletes: a production throughput serves users, and its TTL is not enforced there.
        "mode": "delete" if deleting else ("report-only (production)" if production else "dry-run"),
        "deleted": [],
        "wouldDelete": [],
        "committed": [],
        "withinTtl": [],
        "ignored": [],
        "errors": [],
    }
    summaries = list(_paginate(bedrock, "list_provisioned_model_throughputs", "provisionedModelSummaries"))
    for summary in summaries:
        arn, name = summary["provisionedModelArn"], summary["provisionedModelName"]
        step = "tags"
        try:
            tags, why_not = _ours(bedrock, arn, environment)
            why_not = why_not or named_by_the_pipeline(name, tags, environment)
            if why_not:
                report["ignored"].append({"name": name, "arn": arn, "reason": why_not})
                continue
            team = tags.get("team") or "unknown"
            ttl = ttl_hours_by_team.get(team) or default_ttl_hours  # unknown team: the environment's TTL
            ttl = min(ttl, _hours(tags.get("ttl-hours")) or ttl)  # a request may ask for less, never more
            age = (now - summary["creationTime"]).total_seconds() / HOUR
            item = {
                "name": name,
                "arn": arn,
                "team": team,
                "request": tags.get("request"),
                "status": summary.get("status"),
                "modelUnits": summary.get("modelUnits"),
                "createdAt": summary["creationTime"].isoformat(),
                "ageHours": round(age, 2),
                "ttlHours": ttl,
            }
            if summary.get("commitmentDuration"):
                # A commitment term cannot be cancelled (Delete is refused until it ends): report, never delete.
                expires = summary.get("commitmentExpirationTime")
                report["committed"].append(
                    item
                    | {
                        "commitmentDuration": summary["commitmentDuration"],
                        "commitmentExpiresAt": expires.isoformat() if expires else None,
                    }
                )
                continue
            if age <= ttl:
                report["withinTtl"].append(item)
                continue
            if deleting:
                step = "delete"
                if delete_serving(bedrock, PT, arn) == "already gone":
                    report["ignored"].append({"name": name, "arn": arn, "reason": "deleted by someone else meanwhile"})
                    continue
                report["deleted"].append(item)
            else:
                report["wouldDelete"].append(item)
            step = "notify"
            _notify(sns, topic_arn, environment, item, deleted=deleting, production=production)
        except _RESOURCE_ERRORS as exc:
            report["errors"].append({"name": name, "arn": arn, "step": step, "error": _describe(exc)})
    logger.info(
        "throughput reaper (%s): %d deleted, %d would be deleted, %d committed, %d within TTL, %d ignored, %d errors",
        report["mode"],
        len(report["deleted"]),
        len(report["wouldDelete"]),
        len(report["committed"]),
        len(report["withinTtl"]),
        len(report["ignored"]),
        len(report["errors"]),
    )
    _raise_if_errors(report, "provisioned throughputs", len(summaries))
    return report


def retain_models(
    *,
    bedrock: Any,
    environment: str,
    retention_days: int | None,
    now: datetime,
    dry_run: bool,
    retention_days_by_team: Mapping[str, float | None] | None = None,
) -> dict[str, Any]:
    """Delete this environment's custom models older than their team's retention (``retention_days_by_team``,
    else ``retention_days``) that no throughput or deployment uses and no endpoint keeps as its rollback target
    (bft.workflow.promotion.protected_models). ``retention_days`` None turns the whole guardrail off: the
    reaper's permissions to delete models exist only then."""
    report: dict[str, Any] = {
        "environment": environment,
        "retentionDays": retention_days,
        "mode": "dry-run" if dry_run else "delete",
        "deleted": [],
        "wouldDelete": [],
        "inUse": [],
        "withinRetention": [],
        "ignored": [],
        "errors": [],
    }
    if retention_days is None:
        report["mode"] = "off (custom_model_retention_days is not set)"
        return report
    # Any throughput or deployment counts, the pipeline's or not: deleting a model someone serves would break
    # them. A team endpoint's rollback target counts too: `bft rollback` must find it.
    served: dict[str, str] = {}
    for pt in _paginate(bedrock, "list_provisioned_model_throughputs", "provisionedModelSummaries"):
        served.update(
            (arn, "served by a provisioned throughput")
            for arn in (pt.get("modelArn"), pt.get("desiredModelArn"))
            if arn
        )
    for arn, why in protected_models(bedrock).items():
        served.setdefault(arn, why)
    models = list(_paginate(bedrock, "list_custom_models", "modelSummaries"))
    for model in models:
        arn, name = model["modelArn"], model["modelName"]
        step = "tags"
        try:
            tags, why_not = _ours(bedrock, arn, environment)
            why_not = why_not or named_by_the_pipeline(name, tags, environment)
            if why_not:
                report["ignored"].append({"name": name, "arn": arn, "reason": why_not})
                continue
            age = (now - model["creationTime"]).total_seconds() / DAY
            team = tags.get("team") or "unknown"
            keep_days = (retention_days_by_team or {}).get(team) or retention_days
            item = {
                "name": name,
                "arn": arn,
                "team": tags.get("team"),
                "request": tags.get("request"),
                "createdAt": model["creationTime"].isoformat(),
                "ageDays": round(age, 2),
                "retentionDays": keep_days,
            }
            if age <= keep_days:
                report["withinRetention"].append(item)
            elif arn in served:
                report["inUse"].append(item | {"reason": served[arn]})
            elif dry_run:
                report["wouldDelete"].append(item)
            else:
                step = "delete"
                outcome, reason = _delete_model(bedrock, arn)
                report[outcome].append(item | ({"reason": reason} if reason else {}))
        except _RESOURCE_ERRORS as exc:
            report["errors"].append({"name": name, "arn": arn, "step": step, "error": _describe(exc)})
    _raise_if_errors(report, "custom models", len(models))
    return report


def _delete_model(bedrock: Any, arn: str) -> tuple[str, str | None]:
    """(the report list the model belongs in, why) after trying to delete it."""
    try:
        with bedrock_call("DeleteCustomModel"):
            bedrock.delete_custom_model(modelIdentifier=arn)
    except ClientError as exc:
        code = error_code(exc)
        if code == "ConflictException":
            # Served since the throughputs were listed, or by a deployment: skipped now, tried again next run.
            return "inUse", f"DeleteCustomModel refused: {code}: {error_message(exc)}"
        if code == "ResourceNotFoundException":
            return "ignored", "deleted by someone else meanwhile"
        raise
    return "deleted", None


_RUN_SUFFIX = re.compile(rf"-a(?P<attempt>[0-9]+)-(?P<digest>[0-9a-f]{{{HASH_CHARS}}})$")


def named_by_the_pipeline(name: str, tags: Mapping[str, str], environment: str) -> str | None:
    """None when ``name`` is the name the pipeline gives a run's resource, for the run its own tags name; else why
    not. Tags alone are no proof (audit L6): anyone with bedrock:TagResource could tag another project's
    throughput ``project=bedrock-fine-tuning`` and have the reaper delete it. A name cannot be changed, and the
    run's names end in ``-a<attempt>-<hash of environment, team, request, attempt>`` (bft.names.run_names)."""
    found = _RUN_SUFFIX.search(name)
    team, request = tags.get("team"), tags.get("request")
    if found is None or not team or not request:
        return "its name or tags are not those of a pipeline run (no -a<attempt>-<hash> suffix, team or request)"
    if found.group("digest") != run_hash(environment, team, request, int(found.group("attempt")))[:HASH_CHARS]:
        return f"its name does not carry the hash of its tags' run ({team}/{request}): tagged by someone else"
    return None


def _ours(bedrock: Any, arn: str, environment: str) -> tuple[dict[str, str], str | None]:
    """(tags, None) for this pipeline's resource in this environment, else (tags, why it is left alone)."""
    try:
        with bedrock_call("ListTagsForResource"):
            found = bedrock.list_tags_for_resource(resourceARN=arn).get("tags", [])
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return {}, "gone before its tags could be read"
        raise
    except AccessDenied as exc:
        # The function's policy lets it read tags only of resources tagged for this pipeline and
        # environment, so a refusal means "not ours" (or a broken policy: the reason says which call).
        return {}, f"tags not readable ({exc})"
    tags = {tag["key"]: tag["value"] for tag in found}
    if tags.get("project") != PROJECT_TAG:
        return tags, f"not created by this pipeline (no project={PROJECT_TAG} tag)"
    if tags.get("environment") != environment:
        return tags, f"belongs to environment {tags.get('environment')!r}, not {environment!r}"
    return tags, None


def _notify(
    sns: Any, topic_arn: str, environment: str, item: dict[str, Any], *, deleted: bool, production: bool
) -> None:
    verb = "deleted" if deleted else "would delete"
    age, ttl = item["ageHours"], item["ttlHours"]
    subject = subject_line(
        environment, f"{verb} idle provisioned throughput {item['name']} (age {age:.1f} h > TTL {ttl:g} h)"
    )
    if deleted:
        outcome = "throughput_reaped"
        what = (
            "It was deleted: it had outlived the team's throughput time-to-live. The custom model is kept; "
            "submit the request again to serve it anew."
        )
    else:
        outcome = "throughput_reap_reported"
        why = "production, where the reaper never deletes" if production else "the reaper runs in dry-run mode"
        what = f"It was NOT deleted ({why}). Delete it yourself if nobody needs it: it bills by the hour."
    lines = [
        f"Provisioned throughput {item['name']} of team {item['team']} (request {item['request']}) in {environment}",
        f"was created {item['createdAt']} and is {age:.1f} hours old; the time-to-live is {ttl:g} hours.",
        what,
        "",
        *aligned([(str(key), prose(str(value))) for key, value in sorted(item.items())]),
    ]
    sns.publish(
        TopicArn=topic_arn,
        Subject=subject,
        Message="\n".join(lines),
        MessageAttributes={
            "team": {"DataType": "String", "StringValue": item["team"]},
            "outcome": {"DataType": "String", "StringValue": outcome},
        },
    )


def _paginate(bedrock: Any, operation: str, key: str) -> Iterator[dict[str, Any]]:
    action = "".join(part.capitalize() for part in operation.split("_"))
    with bedrock_call(action):
        for page in bedrock.get_paginator(operation).paginate():
            yield from page.get(key, [])


def _raise_if_errors(report: dict[str, Any], what: str, total: int) -> None:
    errors = report["errors"]
    if errors:
        first = errors[0]
        raise ReapIncomplete(
            f"{len(errors)} of {total} {what} failed (first: {first['name']} at {first['step']}: {first['error']})",
            report,
        )


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return f"{error_code(exc)}: {error_message(exc)}"
    return f"{type(exc).__name__}: {exc}"


def _flag(name: str) -> bool:
    value = env(name)
    if value not in ("true", "false"):
        raise Misconfigured(f"environment variable {name} must be 'true' or 'false', not {value!r}")
    return value == "true"


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _number(name: str) -> float:
    value = env(name)
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise Misconfigured(f"environment variable {name} must be a number above 0, not {value!r}")
    return number


def _days(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise Misconfigured(f"environment variable MODEL_RETENTION_DAYS must be a whole number of days, not {value!r}")
    return int(value)


def _hours(value: str | None) -> float | None:
    """The request's `ttl-hours` tag, when present and a positive number."""
    try:
        hours = float(value) if value else None
    except ValueError:
        return None
    return hours if hours and hours > 0 else None
