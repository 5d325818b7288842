"""Scale of onboarding: synthesizing an environment with 20 teams must take at most 2x the time of one team.

Writes two copies of config/dev.yaml (1 team and 20 teams) to a temporary directory, synthesizes each
with app.py exactly as `cdk synth` does (cdk-nag included), alternating runs, and prints the best time
of each and the ratio.

    .venv/bin/python benchmarks/teams_synth_bench.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bft.synth import ROOT, synth

LIMIT = 2.0


def write_config(directory: Path, teams: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((ROOT / "config" / "dev.yaml").read_text())
    config["teams"] = [
        {
            "name": f"team-{index:02d}",
            "submitters": [f"arn:aws:iam::111111111111:role/team-{index:02d}-ml"],
            "max_model_units": 1,
            "throughput_ttl_hours": 4,
            "notification_emails": [f"team-{index:02d}@example.com"],
            "monthly_budget_usd": 1000,
        }
        for index in range(teams)
    ]
    (directory / "dev.yaml").write_text(yaml.safe_dump(config))
    return directory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--teams", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bft-teams-bench-"))
    try:
        configs = {1: write_config(work / "one", 1), args.teams: write_config(work / "many", args.teams)}
        best = {count: float("inf") for count in configs}
        resources = {}
        for run in range(args.runs):
            for count, config_dir in configs.items():
                out = work / f"out-{count}-{run}"
                started = time.perf_counter()
                synth("dev", out, config_dir=config_dir)
                best[count] = min(best[count], time.perf_counter() - started)
                template = json.loads((out / "BftDevPipeline.template.json").read_text())
                resources[count] = len(template["Resources"])
        one, many = best[1], best[args.teams]
        print(f"{'teams':>6} {'best synth s':>13} {'pipeline resources':>19}")
        for count in configs:
            print(f"{count:>6} {best[count]:>13.2f} {resources[count]:>19}")
        ratio = many / one
        verdict = "met" if ratio <= LIMIT else "EXCEEDED"
        print(f"ratio {args.teams} teams / 1 team: {ratio:.2f} (limit {LIMIT:.1f}): {verdict}")
        return 0 if ratio <= LIMIT else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
