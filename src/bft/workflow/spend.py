"""A team's hard monthly spending cap (config ``teams[].monthly_cap_usd``), checked before any job starts.

The month-to-date spend comes from the team's own runs of this calendar month (UTC), each as its report says:

* **The ledger.** A run that passes the check (the CheckSpendCap state, after ValidateDataset, the first state
  that knows the run's billed tokens) writes one small entry, ``reports/<team>/_spend/<YYYY-MM>/<requestId>/
  <attempt>.json``, holding its estimate. Listing one month's prefix finds exactly that month's runs, so the
  check costs O(runs this month), never O(every run the team ever made). No request id starts with ``_``
  (``bft.names.REQUEST_ID``), so the ledger cannot collide with a run's folder.
* **Finished runs** count what their report (``reports/<team>/<requestId>/run.json``, the ``cost`` block)
  says they cost: :func:`report_charge`.
* **Runs in flight** have no report yet (or the report under their id is of another attempt): they count the
  estimate their ledger entry recorded. So two runs started one after the other both count, even before
  either finishes.

A run counts in the month its check accepted it (a run accepted on the 31st and finished on the 1st is the
earlier month's). A report that cannot be read as a run report counts its ledger estimate instead, and the
check says so; a ledger entry that cannot be read refuses the run (the cap would otherwise be guessed). Past
:data:`MAX_RUNS` entries in a month the spend is not added up (the step has a minute) and the run is refused,
naming the bound. Costs outside the pipeline, and what actually differs from the estimates, are the AWS
Budgets action's to stop (stacks/constructs/guardrails.py ``team_cap``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from bft.aws_errors import error_code, is_transient
from bft.errors import OverCap, TransientError
from bft.workflow.s3io import put_json, report_key

LEDGER_FOLDER = "_spend"
# Runs of one team in one month the check adds up; past it the run is refused (see the module's docstring).
MAX_RUNS = 300
CAP_KEY = "monthly_cap_usd"


def month_of(moment: datetime) -> str:
    """The calendar month (UTC) of ``moment``: ``YYYY-MM``. A naive time is taken as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m")


def ledger_prefix(team: str, month: str) -> str:
    return f"reports/{team}/{LEDGER_FOLDER}/{month}/"


def ledger_key(team: str, month: str, request_id: str, attempt: int) -> str:
    return f"{ledger_prefix(team, month)}{request_id}/{attempt}.json"


@dataclass(frozen=True)
class Estimate:
    """What a run is expected to cost, and how that figure is made (the words the refusal quotes)."""

    usd: float
    words: str


def run_estimate(cost: dict[str, Any], serving: dict[str, Any]) -> Estimate:
    """A run's estimate from its cost block (``bft.workflow.report.estimate_cost``, what the dry-run prints):
    the training, plus a provisioned throughput's hours up to its time-to-live (the reaper deletes it then).

    A throughput without a time-to-live (production) is bounded by nothing here: its hours are the AWS
    Budgets action's to stop. An on-demand deployment bills tokens served, not hours: nothing to add."""
    training = _number(cost.get("trainingUsd"))
    parts = [f"training ${training:,.2f}" if training is not None else "training unknown (no price configured)"]
    total = training or 0.0
    hourly = _number(cost.get("servingPerHourUsd"))
    ttl = _number(serving.get("ttlHours"))
    if serving.get("kind") == "provisioned-throughput" and hourly:
        if ttl:
            total += hourly * ttl
            parts.append(f"{ttl:g} h of provisioned throughput at ${hourly:,.2f}/hour")
        else:
            parts.append(f"provisioned throughput at ${hourly:,.2f}/hour without a time-to-live (not counted)")
    return Estimate(round(total, 2), " + ".join(parts))


def report_charge(report: Any) -> float:
    """What a finished run cost, from its run.json: the training when a job was started (a run refused before
    any job cost nothing), plus each provisioned throughput it left serving, up to its time-to-live.
    ValueError naming the field when the document is not a run report."""
    if not isinstance(report, dict) or not isinstance(report.get("cost"), dict):
        raise ValueError("no `cost` block")
    cost = report["cost"]
    training = cost.get("trainingUsd")
    if training is not None and _number(training) is None:
        raise ValueError(f"cost.trainingUsd is {training!r}, not a number")
    total = (_number(training) or 0.0) if report.get("job") else 0.0
    left = report.get("leftRunning") or []
    if not isinstance(left, list):
        raise ValueError("leftRunning is not a list")
    for item in left:
        if not isinstance(item, dict):
            raise ValueError("leftRunning holds something that is not an object")
        hourly, hours = _number(item.get("hourlyCostUsd")), _number(item.get("expiresAfterHours"))
        if item.get("type") == "provisioned-throughput" and hourly and hours:
            total += hourly * hours
    return total


@dataclass
class MonthToDate:
    """A team's spend this month: the total, and how many runs it adds up (finished and in flight)."""

    month: str
    total_usd: float = 0.0
    finished: int = 0
    in_flight: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return self.finished + self.in_flight

    def words(self) -> str:
        runs = f"{self.runs} run{'s' if self.runs != 1 else ''}"
        flying = f", {self.in_flight} in flight" if self.in_flight else ""
        return f"month-to-date spend ${self.total_usd:,.2f} ({runs}{flying})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "monthToDateUsd": round(self.total_usd, 2),
            "finishedRuns": self.finished,
            "inFlightRuns": self.in_flight,
            "warnings": list(self.warnings),
        }


def month_to_date(
    s3: Any,
    bucket: str,
    team: str,
    month: str,
    *,
    exclude: str | None = None,
    limit: int = MAX_RUNS,
) -> MonthToDate:
    """Add up the team's runs of ``month`` (see the module's docstring); ``exclude``: a ledger key not to
    count (the run being checked, when a retried step finds its own entry). OverCap past ``limit`` runs or
    on a ledger entry that cannot be read."""
    keys = [key for key in _ledger_keys(s3, bucket, ledger_prefix(team, month), limit, team, month) if key != exclude]
    spend = MonthToDate(month)
    for key in keys:
        request_id, attempt = _entry_name(key)
        report_uri = f"s3://{bucket}/{report_key(team, request_id, 'run.json')}"
        report, problem = _read(s3, bucket, report_key(team, request_id, "run.json"))
        if report is not None and problem is None and _attempt_of(report) == attempt:
            try:
                spend.total_usd += report_charge(report)
                spend.finished += 1
                continue
            except ValueError as exc:
                problem = str(exc)
        entry, entry_problem = _read(s3, bucket, key)
        estimate = _number(entry.get("estimateUsd")) if isinstance(entry, dict) else None
        if estimate is None:
            raise OverCap(
                f"team {team}: cannot add up the month-to-date spend for {CAP_KEY}: s3://{bucket}/{key} is not a "
                f"spend record ({entry_problem or 'no estimateUsd'}); nothing was started. Ask the platform team "
                "to fix or delete it"
            )
        spend.total_usd += estimate
        if problem is not None:
            spend.finished += 1
            spend.warnings.append(
                f"{report_uri} cannot be read as a run report ({problem}): counted its estimate ${estimate:,.2f}"
            )
        else:
            spend.in_flight += 1
    spend.total_usd = round(spend.total_usd, 2)
    return spend


def check_cap(team: str, cap_usd: float, config_key: str, spend: MonthToDate, estimate: Estimate) -> None:
    """OverCap when the month-to-date spend plus this run's estimate passes the cap (reaching it exactly is
    allowed), naming the spend, the estimate, the cap and the config key."""
    total = round(spend.total_usd + estimate.usd, 2)
    if total > cap_usd:
        unreadable = f" ({'; '.join(spend.warnings)})" if spend.warnings else ""
        raise OverCap(
            f"team {team}: {spend.words()} + this run's estimate ${estimate.usd:,.2f} ({estimate.words}) = "
            f"${total:,.2f} passes {CAP_KEY} ${cap_usd:,.2f} (config {config_key}); nothing was started{unreadable}"
        )


def check_spend_cap(
    run: dict[str, Any],
    dataset: dict[str, Any],
    policy: dict[str, Any],
    *,
    prices: dict[str, Any],
    s3: Any,
    reports_bucket: str,
) -> dict[str, Any]:
    """The CheckSpendCap state: refuse (OverCap) a run that would pass its team's cap, else record it in the
    month's ledger (every run, capped or not: a cap set mid-month counts the month's earlier runs).

    The month is the one the run was accepted in (``run.startedAt``, set by ValidateRequest), so a retried
    step checks the same month; the run's own entry, if a retried step already wrote it, is not counted."""
    from bft.workflow.report import estimate_cost

    team, request_id, attempt = run["team"], run["requestId"], int(run["attempt"])
    accepted_at = datetime.fromisoformat(run["startedAt"])
    month = month_of(accepted_at)
    key = ledger_key(team, month, request_id, attempt)
    estimate = run_estimate(estimate_cost(run, dataset, prices), run.get("serving") or {})
    team_policy = (policy.get("teams") or {}).get(team) or {}
    cap = _number(team_policy.get("monthlyCapUsd"))
    result: dict[str, Any] = {"month": month, "estimateUsd": estimate.usd, "estimate": estimate.words, "capUsd": cap}
    if cap is not None:
        spend = month_to_date(s3, reports_bucket, team, month, exclude=key)
        check_cap(team, cap, str(team_policy.get("capConfigKey") or f"teams[{team}].{CAP_KEY}"), spend, estimate)
        result |= spend.to_dict()
    entry = {
        "schema": "bft.spend/1",
        "team": team,
        "requestId": request_id,
        "attempt": attempt,
        "executionArn": run.get("executionArn"),
        "acceptedAt": accepted_at.isoformat(),
        "estimateUsd": estimate.usd,
        "estimate": estimate.words,
    }
    put_json(s3, reports_bucket, key, entry)
    return result | {"ledgerKey": key}


def _ledger_keys(s3: Any, bucket: str, prefix: str, limit: int, team: str, month: str) -> list[str]:
    keys: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = _call(s3.list_objects_v2, f"S3 ListObjectsV2 s3://{bucket}/{prefix}", **kwargs)
        keys.extend(item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(".json"))
        if len(keys) > limit:
            raise OverCap(
                f"team {team} has more than {limit} runs in {month}: the month-to-date spend for {CAP_KEY} is "
                "added up only to that bound, so the cap cannot be checked; nothing was started. Ask the "
                "platform team (bft.workflow.spend.MAX_RUNS)"
            )
        if not page.get("IsTruncated"):
            return keys
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


def _entry_name(key: str) -> tuple[str, int]:
    """(request id, attempt) of a ledger key ``.../<requestId>/<attempt>.json`` (attempt -1 if not a number)."""
    _, request_id, name = key.rsplit("/", 2)
    stem = name.removesuffix(".json")
    return request_id, int(stem) if stem.isdigit() else -1


def _attempt_of(report: dict[str, Any]) -> int | None:
    run = report.get("run")
    attempt = run.get("attempt") if isinstance(run, dict) else None
    return attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else None


def _read(s3: Any, bucket: str, key: str) -> tuple[Any, str | None]:
    """(the JSON document, None), (None, None) when there is none, or (None, what is wrong with it)."""
    try:
        body = _call(s3.get_object, f"S3 GetObject s3://{bucket}/{key}", Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if error_code(exc) in ("NoSuchKey", "404"):
            return None, None
        raise
    try:
        return json.loads(body), None
    except ValueError as exc:
        return None, f"not JSON: {exc}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _call(fn: Any, what: str, **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except ClientError as exc:
        if is_transient(exc):
            raise TransientError(f"{what}: {error_code(exc)}") from exc
        raise
