"""``bft cost --env E``: what the environment's deployed stacks cost per month with no runs.

Counted from the synthesized templates (``--assembly cdk.out/<env>`` after ``make synth``, else synthesized
now from the environment's config, about 30 s), priced with the illustrative list prices of
``bft.idle_cost``. No AWS call is made.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bft.cli import EXIT_OK, UsageError
from bft.cli.settings import add_config_dir, config_dir, load_environment


def register(subparsers: Any) -> None:
    help_ = "the platform's monthly cost with no runs, counted from the synthesized stacks (illustrative prices)"
    parser = subparsers.add_parser("cost", help=help_, description=help_)
    parser.add_argument("--env", default="dev", help="environment (<config dir>/<env>.yaml); default dev")
    add_config_dir(parser)
    parser.add_argument(
        "--assembly",
        metavar="DIR",
        help="a synthesized assembly to count (e.g. cdk.out/dev after `make synth`); default: synthesize now",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bft.idle_cost import idle_cost, table_text

    load_environment(args)  # a wrong name or config stops here, naming the file
    if args.assembly is not None:
        assembly = Path(args.assembly)
        if not (assembly / "manifest.json").is_file():
            raise UsageError(f"--assembly {assembly}: no manifest.json; synthesize with `make synth` first")
        cost = idle_cost(assembly)
    else:
        from bft.synth import synth

        print(f"synthesizing {args.env} to count its resources (about 30 s)", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="bft-cost-") as scratch:
            try:
                assembly = synth(args.env, Path(scratch) / "assembly", config_dir=config_dir(args))
            except RuntimeError as exc:
                raise UsageError(str(exc)) from exc
            cost = idle_cost(assembly)
    if args.json:
        print(json.dumps({"environment": args.env, **cost.to_dict()}, indent=2))
    else:
        print(f"environment {args.env}: about ${cost.monthly_usd:,.2f} per month with no runs")
        print(table_text(cost))
    return EXIT_OK
