"""Scale of onboarding: synthesize a dev environment with 1, 20 and 200 teams (one stack each).

Writes copies of config/dev.yaml with N teams to a temporary directory and synthesizes each with app.py
exactly as `cdk synth` does (cdk-nag included). For each N it prints the number of stacks, the largest
template's resource count (CloudFormation's limit: 500), the IAM policy closest to its size limit (characters
as IAM counts them; intrinsics counted as 100-character ARNs), the synth time and the time per added team.

    .venv/bin/python benchmarks/teams_synth_bench.py [--teams 1 20 200] [--runs 1]

Goals: every template and policy within its limit, time per added team constant (linear growth), and 200
teams in under 2 minutes on this repository's 2-core machine.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bft.synth import RESOURCE_LIMIT, ROOT, assembly_limits, synth

GOAL_SECONDS = {200: 120.0}


def write_config(directory: Path, teams: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((ROOT / "config" / "dev.yaml").read_text())
    config["teams"] = [
        {
            "name": f"team-{index:03d}",
            "submitters": [f"arn:aws:iam::111111111111:role/team-{index:03d}-ml"],
            "max_model_units": 1,
            "throughput_ttl_hours": 4,
            "notification_emails": [f"team-{index:03d}@example.com"],
            "monthly_budget_usd": 1000,
        }
        for index in range(teams)
    ]
    (directory / "dev.yaml").write_text(yaml.safe_dump(config))
    return directory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, nargs="+", default=[1, 20, 200])
    parser.add_argument("--runs", type=int, default=1, help="synthesize each size this often; the best time counts")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bft-teams-bench-"))
    failures: list[str] = []
    try:
        print(
            f"{'teams':>5} {'stacks':>6} {'largest template':>30} {'largest policy (of its limit)':>44} "
            f"{'synth s':>8} {'s/team':>7}"
        )
        first: tuple[int, float] | None = None
        for count in sorted(args.teams):
            config_dir = write_config(work / f"config-{count}", count)
            best = float("inf")
            for run in range(args.runs):
                out = work / f"out-{count}-{run}"
                started = time.perf_counter()
                synth("dev", out, config_dir=config_dir)
                best = min(best, time.perf_counter() - started)
            limits = assembly_limits(out)
            stack, resources = limits.largest_template
            policy = limits.largest_policy
            per_team = f"{(best - first[1]) / (count - first[0]):7.3f}" if first and count > first[0] else "      -"
            first = first or (count, best)
            print(
                f"{count:>5} {limits.stacks:>6} {f'{resources} ({stack})':>30} "
                f"{f'{policy.chars:,} / {policy.limit:,} {policy.kind}':>44} {best:>8.1f} {per_team}"
            )
            if resources > RESOURCE_LIMIT:
                failures.append(f"{count} teams: {stack} has {resources} resources (limit {RESOURCE_LIMIT})")
            failures += [
                f"{count} teams: {p.where} {p.kind} policy {p.chars} > {p.limit}"
                for p in limits.policies
                if p.chars > p.limit
            ]
            if count in GOAL_SECONDS and best > GOAL_SECONDS[count]:
                failures.append(f"{count} teams: synth took {best:.1f} s (goal {GOAL_SECONDS[count]:.0f} s)")
            shutil.rmtree(work / f"config-{count}", ignore_errors=True)
        for failure in failures:
            print(f"EXCEEDED: {failure}")
        print("every template and policy within its limit" if not failures else f"{len(failures)} limits exceeded")
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
