"""`bft local-run --scenario NAME [--json]`: the real workflow on this machine, Bedrock simulated."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bft.cli import EXIT_NEGATIVE, EXIT_OK, UsageError


def register(subparsers: Any) -> None:
    from bft.local.run import SCENARIOS

    parser = subparsers.add_parser(
        "local-run",
        help="run one scenario of the synthesized workflow offline (moto + simulated Bedrock)",
        description="Runs the 'local' environment's synthesized state machine end to end on this machine. "
        "Scenarios: " + ", ".join(SCENARIOS),
    )
    parser.add_argument("--scenario", default="success", help="one of: " + ", ".join(SCENARIOS))
    parser.add_argument("--job-hours", type=float, default=None, help="simulated duration of the training job")
    parser.add_argument("--json", action="store_true", help="print one JSON summary on stdout and nothing else")
    parser.add_argument("--report-dir", default=None, help="also write the HTML/Markdown report here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bft.local.run import SCENARIOS, run_scenario

    if args.scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {args.scenario!r}; choose one of: {', '.join(SCENARIOS)}")
    if args.job_hours is not None and not 0 < args.job_hours <= 48:
        raise UsageError("--job-hours must be above 0 and at most 48")
    began = time.monotonic()

    def progress(message: str) -> None:
        if not args.json:
            print(f"[{time.monotonic() - began:6.1f}s] {message}", file=sys.stderr, flush=True)

    # The handlers log structured JSON to stdout as in Lambda; keep it out of the terminal and of --json.
    log_path = Path(tempfile.gettempdir()) / f"bft-local-run-{args.scenario}.log"
    with log_path.open("w") as log, contextlib.redirect_stdout(log):
        summary = run_scenario(args.scenario, job_hours=args.job_hours, progress=progress)
    summary["lambda_log"] = str(log_path)
    matched = summary["outcome"] == summary["expected_outcome"]
    if args.json:
        printable = {k: v for k, v in summary.items() if k != "report"}
        print(json.dumps(printable, indent=1, default=str))
    else:
        _print_summary(summary)
    return EXIT_OK if matched else EXIT_NEGATIVE


def _print_summary(summary: dict[str, Any]) -> None:
    print(
        f"\nscenario {summary['scenario']}: execution {summary['status']}, outcome {summary['outcome']}"
        f" (expected {summary['expected_outcome']})"
    )
    print(f"  path: {' -> '.join(summary['states_visited'])}")
    print(
        f"  jobs started {summary['jobs_started']}, left running {summary['jobs_left_running']}; "
        f"provisioned throughputs left: {summary['provisioned_throughputs_left'] or 'none'}"
    )
    print(
        f"  {summary['state_transitions']} state transitions, {summary['lambda_invocations']} Lambda invocations, "
        f"{summary['elapsed_seconds']} s"
    )
    for note in summary["notifications"]:
        print(f"  notification: {note['subject']}")
    print(f"  report: {summary['report_uri']}")
    print(f"  Lambda logs: {summary['lambda_log']}")
