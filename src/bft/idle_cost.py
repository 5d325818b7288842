"""What the deployed platform costs per month with no runs: counted from the synthesized templates.

Every count comes from the assembly (``cdk synth`` output): KMS keys, alarms, budgets, the scheduled rules and
the functions they invoke (memory, architecture), tables, state machines, buckets, queues, topics and the size
of the code assets CDK uploads. The prices are ILLUSTRATIVE list prices (us-east-1) taken on ``TAKEN`` from the
public pricing page each line names, not read from a live price list; free tiers are left out (they are per
account, shared with everything else in it). Per-use assumptions (how long an idle scheduled invocation runs,
how much it logs, what it reads) are named in the line. docs/costs.md lists each source and assumption.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TAKEN = "2026-11-29"
HOURS_PER_MONTH = 730  # AWS's pricing pages bill a month as 730 hours
MINUTES_PER_MONTH = HOURS_PER_MONTH * 60

# (USD, unit, source page). ILLUSTRATIVE: verify on the page before quoting.
KMS_KEY_MONTH = (1.00, "per customer managed key per month", "https://aws.amazon.com/kms/pricing/")
KMS_REQUESTS = (0.03, "per 10,000 requests", "https://aws.amazon.com/kms/pricing/")
ALARM_MONTH = (0.10, "per standard-resolution alarm per month", "https://aws.amazon.com/cloudwatch/pricing/")
DASHBOARD_MONTH = (3.00, "per dashboard per month", "https://aws.amazon.com/cloudwatch/pricing/")
LOG_INGEST_GB = (0.50, "per GB ingested", "https://aws.amazon.com/cloudwatch/pricing/")
LOG_STORE_GB_MONTH = (0.03, "per GB-month stored", "https://aws.amazon.com/cloudwatch/pricing/")
LAMBDA_REQUESTS = (0.20, "per 1 million requests", "https://aws.amazon.com/lambda/pricing/")
LAMBDA_GB_SECOND = {
    "x86_64": (0.0000166667, "per GB-second (x86)", "https://aws.amazon.com/lambda/pricing/"),
    "arm64": (0.0000133334, "per GB-second (Arm)", "https://aws.amazon.com/lambda/pricing/"),
}
DYNAMODB_READS = (
    0.125,
    "per million read request units (on-demand)",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/",
)
S3_GB_MONTH = (0.023, "per GB-month (S3 Standard)", "https://aws.amazon.com/s3/pricing/")
BUDGET_MONTH = (
    0.0,
    "per budget without actions (assumption: the page charges action-enabled budgets only)",
    "https://aws.amazon.com/aws-cost-management/aws-budgets/pricing/",
)
BUDGET_ACTION_MONTH = (
    round(0.10 * 365 / 12, 2),
    "per action-enabled budget (USD 0.10 a day; the account's first two are free, not subtracted here)",
    "https://aws.amazon.com/aws-cost-management/aws-budgets/pricing/",
)
STATE_TRANSITIONS = (0.025, "per 1,000 state transitions (Standard)", "https://aws.amazon.com/step-functions/pricing/")
EVENTS = (
    0.0,
    "AWS service events and schedules on the default bus are free",
    "https://aws.amazon.com/eventbridge/pricing/",
)
SQS_REQUESTS = (0.40, "per million requests", "https://aws.amazon.com/sqs/pricing/")
SNS_TOPIC = (
    0.0,
    "a topic has no monthly charge; publishes and e-mails are per use",
    "https://aws.amazon.com/sns/pricing/",
)

# Assumptions about an idle scheduled invocation (no run to reconcile, no throughput to reap).
IDLE_INVOCATION_SECONDS = 1.0  # cold start and one query, billed duration rounded up
IDLE_LOG_BYTES = 2_000  # START/END/REPORT lines and one structured log line
IDLE_READ_UNITS = 1  # the reconciler's one query of the state table (one 4 KB read unit at most)
IDLE_KMS_REQUESTS = 1  # a decrypt of the encrypted table's data key per invocation, at most


@dataclass(frozen=True)
class CostLine:
    kind: str  # the resource type it counts, or what it prices (scheduled-functions, logs, ...)
    item: str
    count: int
    monthly_usd: float
    basis: str  # how the figure is computed, with the unit price
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "item": self.item,
            "count": self.count,
            "monthlyUsd": self.monthly_usd,
            "basis": self.basis,
            "source": self.source,
        }


@dataclass(frozen=True)
class IdleCost:
    lines: list[CostLine]

    @property
    def monthly_usd(self) -> float:
        return round(sum(line.monthly_usd for line in self.lines), 2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "monthlyUsd": self.monthly_usd,
            "pricesTaken": TAKEN,
            "note": LABEL,
            "lines": [line.to_dict() for line in self.lines],
        }


LABEL = (
    f"ILLUSTRATIVE list prices (us-east-1, taken {TAKEN} from the pages named; not a live price list, free tiers "
    "left out): what the deployed stacks cost per month with no runs"
)


def templates_of(assembly: Path) -> dict[str, dict[str, Any]]:
    """Stack name -> template, for every stack of a synthesized assembly (``cdk.out/<env>``)."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    found: dict[str, dict[str, Any]] = {}
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") == "aws:cloudformation:stack":
            template = artifact.get("properties", {}).get("templateFile", f"{name}.template.json")
            found[name] = json.loads((assembly / template).read_text())
    if not found:
        raise ValueError(f"{assembly}/manifest.json names no CloudFormation stack: is it a synthesized assembly?")
    return found


def _assets_bytes(assembly: Path) -> int:
    """Bytes of the file and directory assets CDK uploads to the bootstrap bucket (code and the layer)."""
    total = 0
    for asset in assembly.glob("asset.*"):
        files = [asset] if asset.is_file() else [p for p in asset.rglob("*") if p.is_file()]
        total += sum(p.stat().st_size for p in files)
    return total


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")


def runs_per_month(expression: str) -> float:
    """Invocations per month of a ``rate(...)`` schedule (``cron(...)`` is refused: count it by hand)."""
    match = _RATE.match(expression)
    if not match:
        raise ValueError(f"schedule {expression!r}: only rate(...) expressions are counted")
    minutes = int(match[1]) * {"minute": 1, "hour": 60, "day": 1440}[match[2].rstrip("s")]
    return MINUTES_PER_MONTH / minutes


def _usd(value: float) -> str:
    """Cents as cents ($0.10), finer prices in full ($0.025)."""
    return f"${value:,.2f}" if round(value, 2) == value else f"${value:g}"


def idle_cost(assembly: Path) -> IdleCost:
    """The monthly idle cost of the stacks in ``assembly``, one line per kind of resource that is billed."""
    resources: dict[str, dict[str, Any]] = {}
    for stack, template in templates_of(assembly).items():
        for logical_id, resource in (template.get("Resources") or {}).items():
            resources[f"{stack}/{logical_id}"] = resource
    by_type = Counter(resource["Type"] for resource in resources.values())
    functions = {
        key.split("/", 1)[1]: resource.get("Properties") or {}
        for key, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    lines: list[CostLine] = []

    def per_unit(item: str, type_: str, price: tuple[float, str, str]) -> None:
        count = by_type.get(type_, 0)
        if count:
            value, unit, source = price
            lines.append(
                CostLine(type_, item, count, round(count * value, 2), f"{count} x {_usd(value)} {unit}", source)
            )

    per_unit("KMS customer managed keys", "AWS::KMS::Key", KMS_KEY_MONTH)
    alarms = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    high_resolution = [a for a in alarms if int((a.get("Properties") or {}).get("Period", 60)) < 60]
    if high_resolution:
        raise ValueError("a high-resolution alarm (period under 60 s) is priced differently: add its price")
    per_unit("CloudWatch alarms", "AWS::CloudWatch::Alarm", ALARM_MONTH)
    per_unit("CloudWatch dashboards", "AWS::CloudWatch::Dashboard", DASHBOARD_MONTH)
    # A budget with an action (a team's monthly_cap_usd) is billed by the day; one action per budget here.
    actions = by_type.get("AWS::Budgets::BudgetsAction", 0)
    by_type["AWS::Budgets::Budget"] = by_type.get("AWS::Budgets::Budget", 0) - actions
    per_unit("AWS Budgets (no actions)", "AWS::Budgets::Budget", BUDGET_MONTH)
    per_unit("AWS Budgets with an action (team caps)", "AWS::Budgets::BudgetsAction", BUDGET_ACTION_MONTH)

    # Scheduled rules run their functions whether or not any run exists.
    invocations = 0.0
    gb_seconds: dict[str, float] = {}
    scheduled = 0
    for resource in resources.values():
        props = resource.get("Properties") or {}
        if resource["Type"] != "AWS::Events::Rule" or "ScheduleExpression" not in props:
            continue
        runs = runs_per_month(props["ScheduleExpression"])
        for target in props.get("Targets") or []:
            arn = target.get("Arn")
            name = arn.get("Fn::GetAtt", [None])[0] if isinstance(arn, dict) else None
            if name not in functions:
                continue  # not one of these stacks' functions (nothing else is scheduled today)
            scheduled += 1
            memory_gb = int(functions[name].get("MemorySize", 128)) / 1024
            arch = (functions[name].get("Architectures") or ["x86_64"])[0]
            invocations += runs
            gb_seconds[arch] = gb_seconds.get(arch, 0.0) + runs * memory_gb * IDLE_INVOCATION_SECONDS
    if scheduled:
        request_usd = invocations / 1e6 * LAMBDA_REQUESTS[0]
        duration_usd = sum(seconds * LAMBDA_GB_SECOND[arch][0] for arch, seconds in gb_seconds.items())
        archs = ", ".join(sorted(gb_seconds))
        lines.append(
            CostLine(
                "scheduled-functions",
                "Lambda: scheduled functions (reconciler, reaper) while idle",
                scheduled,
                round(request_usd + duration_usd, 2),
                f"{invocations:,.0f} invocations/month x ({_usd(LAMBDA_REQUESTS[0])} {LAMBDA_REQUESTS[1]} + "
                f"{IDLE_INVOCATION_SECONDS:g} s (assumption) at their memory, {archs})",
                LAMBDA_REQUESTS[2],
            )
        )
        log_gb = invocations * IDLE_LOG_BYTES / 1e9
        lines.append(
            CostLine(
                "logs",
                "CloudWatch Logs: the scheduled functions' logs",
                by_type.get("AWS::Logs::LogGroup", 0),
                round(log_gb * (LOG_INGEST_GB[0] + LOG_STORE_GB_MONTH[0]), 2),
                f"{log_gb:.3f} GB/month ({IDLE_LOG_BYTES:,} bytes per invocation, assumption) x "
                f"({_usd(LOG_INGEST_GB[0])} {LOG_INGEST_GB[1]} + {_usd(LOG_STORE_GB_MONTH[0])} "
                f"{LOG_STORE_GB_MONTH[1]}, first month)",
                LOG_INGEST_GB[2],
            )
        )
    tables = by_type.get("AWS::DynamoDB::GlobalTable", 0) + by_type.get("AWS::DynamoDB::Table", 0)
    if tables:
        reads = invocations * IDLE_READ_UNITS
        lines.append(
            CostLine(
                "dynamodb",
                "DynamoDB: state table (on-demand, empty) and the reconciler's reads",
                tables,
                round(reads / 1e6 * DYNAMODB_READS[0], 2),
                f"{reads:,.0f} read units/month ({IDLE_READ_UNITS} per scheduled invocation, assumption) x "
                f"{_usd(DYNAMODB_READS[0])} {DYNAMODB_READS[1]}",
                DYNAMODB_READS[2],
            )
        )
    if by_type.get("AWS::KMS::Key"):
        requests = invocations * IDLE_KMS_REQUESTS
        lines.append(
            CostLine(
                "kms-requests",
                "KMS requests of the scheduled functions",
                scheduled,
                round(requests / 10_000 * KMS_REQUESTS[0], 2),
                f"{requests:,.0f} requests/month ({IDLE_KMS_REQUESTS} per invocation, assumption) x "
                f"{_usd(KMS_REQUESTS[0])} {KMS_REQUESTS[1]}",
                KMS_REQUESTS[2],
            )
        )
    assets_gb = _assets_bytes(assembly) / 1e9
    buckets = by_type.get("AWS::S3::Bucket", 0)
    lines.append(
        CostLine(
            "s3",
            f"S3: {buckets} empty buckets and the code assets in the CDK bootstrap bucket",
            buckets,
            round(assets_gb * S3_GB_MONTH[0], 2),
            f"{assets_gb:.3f} GB of assets (measured in the assembly) x {_usd(S3_GB_MONTH[0])} {S3_GB_MONTH[1]}; "
            "the pipeline's own buckets hold nothing until a run",
            S3_GB_MONTH[2],
        )
    )

    def free(item: str, type_: str, why: str, source: str) -> None:
        count = by_type.get(type_, 0)
        if count:
            lines.append(CostLine(type_, item, count, 0.0, f"no charge while idle: {why}", source))

    free(
        "Step Functions state machines",
        "AWS::StepFunctions::StateMachine",
        f"billed {_usd(STATE_TRANSITIONS[0])} {STATE_TRANSITIONS[1]}, none without runs",
        STATE_TRANSITIONS[2],
    )
    free("EventBridge rules", "AWS::Events::Rule", f"{EVENTS[1]} (assumption for schedules)", EVENTS[2])
    free(
        "SQS dead-letter queue",
        "AWS::SQS::Queue",
        f"{_usd(SQS_REQUESTS[0])} {SQS_REQUESTS[1]}, none while no event fails",
        SQS_REQUESTS[2],
    )
    free("SNS topic", "AWS::SNS::Topic", SNS_TOPIC[1], SNS_TOPIC[2])
    return IdleCost(lines)


def table_text(cost: IdleCost) -> str:
    """A Markdown table, the total and the label: what ``bft cost`` and the benchmark print."""
    out = [LABEL, "", "| item | count | monthly | how | source |", "|---|---|---|---|---|"]
    out.extend(
        f"| {line.item} | {line.count:,} | ${line.monthly_usd:,.2f} | {line.basis} | {line.source} |"
        for line in cost.lines
    )
    out.append(f"| **total** | | **${cost.monthly_usd:,.2f}** | | |")
    return "\n".join(out)
