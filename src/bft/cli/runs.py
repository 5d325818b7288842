"""`bft runs --all-teams`: every team's runs in one environment, for the platform team; `--team T` for one.

Each run: its execution's status, the outcome and cost its report (run.json) records, and what it left billing
by the hour. Per team: runs by outcome, the month's training spend (UTC calendar month, from the reports'
estimates) and the hourly cost still running. Read only; a platform role needs the pipeline stack's
PlatformViewerPolicyArn (the registry, every team's executions and reports), a team's submitter role reads its
own team.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from bft.cli import EXIT_OK, UsageError
from bft.cli.settings import add_config_dir, load_environment

# An execution is named <request id>-<attempt> (bft.names.run_names); a refused request's name is its own.
_ATTEMPT = re.compile(r"^(?P<request>.+)-(?P<attempt>\d+)$")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "runs",
        help="list the runs of every team (platform) or of one team, with outcome, cost and what still bills",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", default="dev", help="environment (<config dir>/<env>.yaml); default dev")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--all-teams", action="store_true", help="every team with a registry entry (platform role)")
    which.add_argument("--team", help="one team")
    parser.add_argument("--max", type=int, default=20, help="latest runs per team (default 20, at most 1,000)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    add_config_dir(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bft import aws
    from bft.deployment import DeploymentError, discover, list_teams

    if not 1 <= args.max <= 1000:
        raise UsageError("--max must be 1 to 1,000")
    config = load_environment(args, announce=not args.json)
    region = config.region
    ssm = aws.client("ssm", region=region)
    try:
        deployment = discover(config, cloudformation=aws.client("cloudformation", region=region), ssm=ssm)
        teams = list_teams(ssm, config.name) if args.all_teams else {args.team: deployment.team(args.team)}
    except DeploymentError as exc:
        hint = (
            "; a platform role needs the pipeline stack's PlatformViewerPolicyArn attached"
            if "refused" in str(exc) and args.all_teams
            else ""
        )
        raise UsageError(f"{exc}{hint}") from exc
    collected = collect(
        teams,
        sfn=aws.client("stepfunctions", region=region),
        s3=aws.client("s3", region=region),
        reports_bucket=deployment.reports_bucket,
        max_runs=args.max,
        now=datetime.now(UTC),
    )
    document = {"environment": config.name, "teams": collected}
    if args.json:
        print(json.dumps(document, indent=1, default=str))
    else:
        print(text(document))
    return EXIT_OK


def collect(
    teams: dict[str, Any], *, sfn: Any, s3: Any, reports_bucket: str, max_runs: int, now: datetime
) -> dict[str, Any]:
    """Per team: its latest runs (newest first) and the sums over them."""
    from botocore.exceptions import ClientError

    out: dict[str, Any] = {}
    for team, refs in teams.items():
        try:
            executions = _executions(sfn, refs.state_machine_arn, max_runs)
        except ClientError as exc:
            raise UsageError(_refused(exc, f"listing team {team}'s executions")) from exc
        runs = []
        for execution in executions:
            try:
                runs.append(_run(s3, reports_bucket, team, execution))
            except ClientError as exc:
                raise UsageError(_refused(exc, f"reading team {team}'s run reports")) from exc
        month = (now.year, now.month)
        out[team] = {
            "runs": runs,
            "outcomes": dict(Counter(str(r["outcome"] or r["status"]) for r in runs)),
            "trainingUsdThisMonth": round(
                sum(r["trainingUsd"] or 0.0 for r in runs if (r["started"].year, r["started"].month) == month), 2
            ),
            "billingPerHourUsd": round(sum(r["billingPerHourUsd"] for r in runs), 4),
            "stillBilling": [item for r in runs for item in r["leftRunning"]],
            "listed": f"the latest {len(runs)} runs" if len(runs) == max_runs else "every run",
        }
    return out


def _executions(sfn: Any, machine: str, max_runs: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(
        stateMachineArn=machine, PaginationConfig={"MaxItems": max_runs}
    ):
        found.extend(page["executions"])
    return found[:max_runs]


def _run(s3: Any, bucket: str, team: str, execution: dict[str, Any]) -> dict[str, Any]:
    from bft.workflow.report import REFUSED_FOLDER
    from bft.workflow.s3io import find_json, report_key

    name = execution["name"]
    matched = _ATTEMPT.match(name)
    request_id = matched.group("request") if matched else name
    report = None
    if execution["status"] != "RUNNING":
        # An accepted run's report is under its request id; a refused one's under _refused/<execution name>.
        report = find_json(s3, bucket, report_key(team, request_id, "run.json")) or find_json(
            s3, bucket, report_key(team, f"{REFUSED_FOLDER}/{name}", "run.json")
        )
    report = report if isinstance(report, dict) and report.get("execution", {}).get("name") in (None, name) else None
    left = [item for item in (report or {}).get("leftRunning") or [] if isinstance(item, dict)]
    cost = (report or {}).get("cost") or {}
    training = cost.get("trainingUsd")
    return {
        "requestId": request_id,
        "execution": name,
        "status": execution["status"],
        "started": execution["startDate"],
        "stopped": execution.get("stopDate"),
        "outcome": (report or {}).get("outcome"),
        "trainingUsd": float(training) if isinstance(training, int | float) else None,
        "leftRunning": [
            {"type": i.get("type"), "arn": i.get("arn"), "hourlyCostUsd": i.get("hourlyCostUsd")} for i in left
        ],
        "billingPerHourUsd": round(sum(float(i.get("hourlyCostUsd") or 0.0) for i in left), 4),
    }


def _refused(exc: Any, what: str) -> str:
    code = exc.response.get("Error", {}).get("Code", "")
    if "AccessDenied" in code:
        return (
            f"AWS refused {what} ({code}): attach the pipeline stack's PlatformViewerPolicyArn to your platform "
            "role (or use the team's submitter role with --team)"
        )
    return f"{what} failed: {code}: {exc}"


def text(document: dict[str, Any]) -> str:
    """The terminal view: one block per team, a line per run, the team's sums."""
    from bft.report.numbers import usd as money  # the report's one way of writing an amount

    lines = [f"environment {document['environment']}: {len(document['teams'])} team(s)"]
    for team, found in document["teams"].items():
        outcomes = ", ".join(f"{name} {count}" for name, count in sorted(found["outcomes"].items())) or "no runs"
        lines.append("")
        lines.append(
            f"team {team}: {len(found['runs'])} runs ({found['listed']}): {outcomes}; training this month "
            f"{money(found['trainingUsdThisMonth'])}; still billing {money(found['billingPerHourUsd'])} per hour"
        )
        for r in found["runs"]:
            billing = f", billing {money(r['billingPerHourUsd'])}/h" if r["billingPerHourUsd"] else ""
            cost = money(r["trainingUsd"]) if r["trainingUsd"] is not None else "-"
            lines.append(
                f"  {r['started']:%Y-%m-%d %H:%M}  {r['requestId']:<40} {r['status']:<9} "
                f"{r['outcome'] or '-':<22} training {cost}{billing}"
            )
        for item in found["stillBilling"]:
            lines.append(f"  still running: {item['type']} {item['arn']}")
    return "\n".join(lines)
