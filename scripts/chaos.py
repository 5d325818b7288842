"""Run N chaos seeds (default 200) of the offline workflow in parallel processes and print how many held every
invariant, the outcomes, and each seed that broke one (its faults and the invariants it broke).

    .venv/bin/python scripts/chaos.py [--seeds 200] [--first 0] [--workers N] [--env ENV] [--json FILE]

Each seed is `bft local-run --chaos SEED`: the same fault schedule and the same checks. Exit code 1 if any seed
broke an invariant. The chaos figure of docs/chaos.md comes from this script.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _one(seed: int, environment: str, assembly: str) -> dict[str, Any]:
    from bft_twin.chaos import run_chaos

    with contextlib.redirect_stdout(io.StringIO()):  # the handlers' JSON logs
        try:
            summary = run_chaos(seed, environment=environment, assembly=Path(assembly))
        except Exception as exc:  # a crash of the run itself is a broken seed, not a crash of the batch
            return {"seed": seed, "outcome": None, "crashed": f"{type(exc).__name__}: {exc}", "invariants": {}}
    return {
        "seed": seed,
        "outcome": summary["outcome"],
        "status": summary["status"],
        "invariants": summary["invariants"],
        "faults": [f["what"] for f in summary["faults"]],
        "faults_exercised": [f["what"] for f in summary["faults"] if f["exercised"]],
        "faults_not_exercised": summary["faults_not_exercised"],
        "faults_could_not_act": summary["faults_could_not_act"],
        "fault_kinds": [(f["kind"], f["exercised"]) for f in summary["faults"]],
        "reach": summary.get("reach"),
        "elapsed_seconds": summary.get("elapsed_seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=200, help="how many seeds (default 200)")
    parser.add_argument("--first", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel processes")
    parser.add_argument(
        "--env",
        default=None,
        help="the environment whose assembly and config run (default: `bft local-run --chaos`'s, the offline "
        "world of its default model)",
    )
    parser.add_argument("--json", default=None, metavar="FILE", help="also write every seed's result here")
    args = parser.parse_args(argv)

    from bft.synth import cached_synth
    from bft_twin.run import CACHE, choose

    args.env = choose("success", None, args.env)[1]

    assembly = str(cached_synth(args.env, CACHE))  # once, before the workers start
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    seeds = range(args.first, args.first + args.seeds)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(_one, seed, args.env, assembly) for seed in seeds]
        for done in as_completed(futures):
            result = done.result()
            results.append(result)
            held = bool(result["invariants"]) and all(result["invariants"].values())
            print(f"seed {result['seed']:>4}: {'held' if held else 'BROKE'} {result['outcome']}", file=sys.stderr)
    wall = time.monotonic() - started
    results.sort(key=lambda r: r["seed"])
    broke = [
        r for r in results if not (r["invariants"] and all(r["invariants"].values())) or r.get("faults_could_not_act")
    ]
    outcomes = Counter(str(r["outcome"]) for r in results)
    print(f"{len(results)} seeds ({args.first}..{args.first + args.seeds - 1}, env {args.env}), {args.workers} workers")
    print(f"held every invariant: {len(results) - len(broke)} of {len(results)}")
    print("outcomes: " + ", ".join(f"{name} {count}" for name, count in outcomes.most_common()))
    drawn = [kind for r in results for kind in r.get("fault_kinds", [])]
    exercised = Counter(kind for kind, acted in drawn if acted)
    idle = Counter(kind for kind, acted in drawn if not acted)
    could_not = sum(len(r.get("faults_could_not_act", [])) for r in results)
    print(
        f"faults drawn: {len(drawn)}; exercised {sum(exercised.values())} ("
        + ", ".join(f"{kind} {n}" for kind, n in exercised.most_common())
        + f"); not exercised {sum(idle.values())}"
        + (" (" + ", ".join(f"{kind} {n}" for kind, n in idle.most_common()) + ")" if idle else "")
        + "; a fault not exercised is not counted as survived"
    )
    print(f"faults that could not act on their run: {could_not}")
    reaches = Counter(json.dumps(r.get("reach"), sort_keys=True) for r in results)
    print("what the runs could exercise: " + ", ".join(f"{reach} x{n}" for reach, n in reaches.items()))
    print(f"wall time: {wall:.0f} s")
    for result in broke:
        failed = [name for name, ok in result["invariants"].items() if not ok]
        print(f"  seed {result['seed']}: {result.get('crashed') or ', '.join(failed)}; faults: {result.get('faults')}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 1 if broke else 0


if __name__ == "__main__":
    raise SystemExit(main())
