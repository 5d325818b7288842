"""``bft smoke``: the real-account smoke test (`make smoke ENV=<env>`); the logic lives in :mod:`bft.smoke`.

Exit codes: 0 passed, 1 a step failed (named; what the run created was torn down, or said to be left),
2 nothing was done (no model the team may use, a request the environment refuses, no confirmation).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from typing import Any

from bft.cli import EXIT_NEGATIVE, EXIT_OK, UsageError
from bft.cli.settings import add_config_dir, config_dir, load_environment


def register(subparsers: Any) -> None:
    help_ = (
        "deploy (or reuse) an environment, train a tiny job on the cheapest model served on demand (else by 1 "
        "no-commitment model unit of provisioned throughput), evaluate it, tear everything down"
    )
    parser = subparsers.add_parser("smoke", help=help_, description=help_)
    parser.add_argument("--env", default="dev", help="environment (<config dir>/<env>.yaml); default dev")
    parser.add_argument("--team", help="the team whose state machine runs the job (default: the first in the config)")
    add_config_dir(parser)
    parser.add_argument("--yes", action="store_true", help="skip the confirmation prompt (needed without a terminal)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and the cost estimate; do nothing")
    parser.add_argument(
        "--keep-stacks", action="store_true", help="keep the stacks when this run deployed them (default: destroy)"
    )
    parser.add_argument("--request-id", help="the run's request id (default: smoke-<unix time>)")
    parser.add_argument(
        "--poll-seconds", type=float, default=60.0, metavar="S", help="seconds between status checks (default 60)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bft import aws
    from bft.errors import BaseModelUnavailable, RequestInvalid
    from bft.smoke import NoSmokeModel, Smoke, new_request_id, plan_smoke, workdir

    config = load_environment(args)
    team = args.team or (config.teams[0].name if config.teams else None)
    if team is None:
        raise UsageError(f"environment {config.name} has no team to run the smoke test as: onboard one first")
    directory = workdir()
    try:
        try:
            plan = plan_smoke(
                config,
                team,
                workdir=directory,
                request_id=args.request_id or new_request_id(),
                poll_seconds=args.poll_seconds,
            )
        except (NoSmokeModel, RequestInvalid, BaseModelUnavailable) as exc:
            raise UsageError(f"{exc}; nothing was deployed or started") from exc
        for line in plan.cost_lines():
            print(line)
        if args.dry_run:
            print("dry run: nothing was deployed or started")
            return EXIT_OK
        if not args.yes:
            if not sys.stdin.isatty():
                raise UsageError("stdin is not a terminal, so nobody can confirm the cost: pass --yes to run anyway")
            if input("Deploy if needed, train, serve, evaluate and tear down? [y/N] ").strip().lower() not in (
                "y",
                "yes",
            ):
                print("not confirmed: nothing was deployed or started")
                return EXIT_NEGATIVE
        smoke = Smoke(
            config=config,
            plan=plan,
            clients=lambda service: aws.client(service, region=config.region),
            poll_seconds=args.poll_seconds,
            keep_stacks=args.keep_stacks,
            # cdk reads the directory this command read (app.py follows the same rule; named, it cannot differ).
            config_dir=config_dir(args),
        )
        return smoke.run()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
