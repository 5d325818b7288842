"""Cost of waiting: state transitions and Lambda invocations per execution must not grow with job length.

Runs the synthesized `local` workflow (scenario `success`, no approval) twice in the same process: a
short simulated job (the baseline) and a ten-hour one, and prints both side by side with the ratio.
Budget: at most 40 transitions and 15 Lambda invocations per execution, for a job of any length.

    .venv/bin/python benchmarks/wait_cost_bench.py [--long-hours 10]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys

from bft_twin.run import run_scenario

MAX_TRANSITIONS = 40
MAX_INVOCATIONS = 15


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short-hours", type=float, default=0.25)
    parser.add_argument("--long-hours", type=float, default=10.0)
    args = parser.parse_args()
    rows = {}
    for label, hours in (("short", args.short_hours), ("long", args.long_hours)):
        with contextlib.redirect_stdout(io.StringIO()):  # handler logs
            summary = run_scenario("success-no-approval", job_hours=hours)
        rows[label] = summary
    print(f"{'simulated job':>14} {'transitions':>12} {'lambda invocations':>19} {'scheduled runs*':>16} {'wall s':>7}")
    for summary in rows.values():
        print(
            f"{summary['simulated_job_hours']:>12.2f} h {summary['state_transitions']:>12} "
            f"{summary['lambda_invocations']:>19} {summary['scheduled_invocations']:>16} "
            f"{summary['elapsed_seconds']:>7}"
        )
    short, long = rows["short"], rows["long"]
    t_ratio = long["state_transitions"] / short["state_transitions"]
    l_ratio = long["lambda_invocations"] / short["lambda_invocations"]
    hours_ratio = long["simulated_job_hours"] / short["simulated_job_hours"]
    print("* reconciler and reaper runs on their schedules: shared by every execution, not counted per execution")
    print(f"ratio long/short: job length x{hours_ratio:.0f}, transitions x{t_ratio:.2f}, invocations x{l_ratio:.2f}")
    ok = all(
        r["state_transitions"] <= MAX_TRANSITIONS
        and r["lambda_invocations"] <= MAX_INVOCATIONS
        and r["outcome"] == "deployed"
        for r in rows.values()
    )
    print(f"budget (<= {MAX_TRANSITIONS} transitions, <= {MAX_INVOCATIONS} invocations): {'met' if ok else 'EXCEEDED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
