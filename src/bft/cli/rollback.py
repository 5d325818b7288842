"""`bft rollback`: point a team's stable endpoint back at the model it served before its last promotion.

Runs with the team member's credentials (the team's submitter role), which may update only deployments tagged
with the team: another team's endpoint is refused by IAM as well as by the tag check
(:func:`bft.workflow.promotion.rollback`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bft.cli import EXIT_NEGATIVE, EXIT_OK, UsageError
from bft.cli.settings import add_config_dir, team_config
from bft.names import ENDPOINT_NAME, ENDPOINT_NAME_LIMIT


def register(subparsers: Any) -> None:
    help_ = "point the team's endpoint back at the model it served before its last promotion"
    parser = subparsers.add_parser("rollback", help=help_, description=help_)
    parser.add_argument("--env", default="dev", help="environment (config/<env>.yaml); default dev")
    parser.add_argument("--team", required=True, help="your team, as onboarded in the environment's config")
    parser.add_argument(
        "--endpoint", metavar="NAME", help="the endpoint (default: the team's serving_endpoint in the config)"
    )
    parser.add_argument(
        "--wait-seconds",
        type=float,
        default=1800.0,
        help="wait this long for the update to complete (default 1800; 0: return once Bedrock accepted it)",
    )
    parser.add_argument("--poll-seconds", type=float, default=30.0, help="how often to check while waiting")
    add_config_dir(parser)
    parser.set_defaults(func=run_rollback)


def run_rollback(args: argparse.Namespace) -> int:
    from bft import aws
    from bft.errors import AccessDenied, ForeignResource, RollbackRefused
    from bft.workflow.promotion import rollback

    config = team_config(args)
    endpoint = args.endpoint or config.team(args.team).serving_endpoint
    if not endpoint:
        raise UsageError(
            f"team {args.team} has no serving_endpoint in environment {config.name}'s config: name the endpoint "
            "with --endpoint NAME"
        )
    if len(endpoint) > ENDPOINT_NAME_LIMIT or not ENDPOINT_NAME.match(endpoint):
        raise UsageError(
            f"--endpoint {endpoint!r}: lowercase letters and digits, words joined by single hyphens, at most "
            f"{ENDPOINT_NAME_LIMIT} characters"
        )
    if args.wait_seconds < 0 or args.poll_seconds <= 0:
        raise UsageError("--wait-seconds must be 0 or more and --poll-seconds more than 0")
    try:
        result = rollback(
            aws.client("bedrock", region=config.region),
            environment=config.name,
            team=args.team,
            endpoint=endpoint,
            wait_seconds=args.wait_seconds,
            poll_seconds=args.poll_seconds,
            say=print,
        )
    except (RollbackRefused, ForeignResource, AccessDenied) as exc:
        print(f"bft rollback: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_NEGATIVE
    done = result["updateStatus"] == "UpdateCompleted"
    print(
        f"endpoint {endpoint} ({result['arn']}) "
        + (f"serves {result['after']}" if done else f"is being pointed at {result['after']}")
        + f" (before: {result['before']})"
    )
    return EXIT_OK
