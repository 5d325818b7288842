"""Evaluation at production size: simulated wall time against records and model units.

Runs the synthesized `prod` assembly (its configuration unchanged: up to 2 model units per team) through
the `large-evaluation` path for each (records, model units) pair, and reads from each run's summary the
evaluation's simulated seconds (plan to score), its chunks and concurrency, and its longest chunk against
the function's Timeout. The baseline, measured in the same run, is what one Lambda calling both models
for every record in sequence would take at the same simulated latency: the design this replaced.

Latency and capacity are the fake's SIMULATED figures (docs/bedrock-behaviour.md#evaluation-capacity):
the shape (linear in records, divided by capacity) is the claim, not the seconds.

    .venv/bin/python benchmarks/evaluation_scale_bench.py [--records 500 2000 4000] [--units 1 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from dataclasses import replace

from bft_twin.run import SCENARIOS, run_scenario


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[500, 2000, 4000])
    parser.add_argument("--units", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--env", default="prod")
    args = parser.parse_args()
    base = SCENARIOS["large-evaluation"]
    print(
        f"{'records':>8} {'units':>6} {'chunks':>7} {'at once':>8} {'simulated s':>12} {'s/record':>9} "
        f"{'longest chunk s':>16} {'timeout s':>10} {'sequential s*':>14} {'speed-up':>9} {'wall s':>7}"
    )
    ok = True
    per_record: dict[int, list[float]] = {}
    for units in args.units:
        for records in args.records:
            scenario = replace(base, evaluation_records=records, model_units=units)
            with contextlib.redirect_stdout(io.StringIO()):  # handler logs
                summary = run_scenario("large-evaluation", scenario=scenario, environment=args.env)
            evaluation = summary["evaluation"] or {}
            seconds = evaluation.get("simulated_seconds") or 0.0
            # The replaced design: every call one after another in one invocation, at the simulated latency.
            sequential = evaluation.get("sequential_simulated_seconds") or 0.0
            longest, timeout = (
                evaluation.get("longest_chunk_simulated_seconds", 0),
                evaluation.get("function_timeout_seconds", 0),
            )
            print(
                f"{records:>8} {units:>6} {evaluation.get('chunks', '?'):>7} {evaluation.get('concurrency', '?'):>8} "
                f"{seconds:>12.1f} {seconds / records:>9.3f} {longest:>16.1f} {timeout:>10.0f} {sequential:>14.1f} "
                f"{sequential / seconds if seconds else 0:>8.1f}x {summary['elapsed_seconds']:>7}"
            )
            per_record.setdefault(units, []).append(seconds / records)
            ok &= summary["outcome"] == "deployed" and longest < timeout and evaluation.get("records") == records
    timeout = max(evaluation.get("function_timeout_seconds", 0) for evaluation in [summary["evaluation"] or {}])
    per_call_record = sequential / records if records else 0
    limit = int(timeout / per_call_record) if per_call_record else 0
    print(
        f"* one Lambda scoring every record in sequence at the same simulated latency (the design this replaced): "
        f"past its {timeout:.0f} s Timeout from about {limit:,} records"
    )
    for units, rates in per_record.items():
        spread = max(rates) / min(rates) if min(rates) else float("inf")
        print(f"{units} model unit(s): simulated seconds per record vary x{spread:.2f} across sizes (1.00 = linear)")
    if len(per_record) > 1:
        first, last = min(per_record), max(per_record)
        ratio = (sum(per_record[first]) / len(per_record[first])) / (sum(per_record[last]) / len(per_record[last]))
        print(f"{last} model units vs {first}: x{ratio:.2f} faster per record (capacity, not one Lambda, bounds it)")
    print("figures are SIMULATED (the fake's latency and capacity assumptions)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
