"""The ``bft`` command line.

Each subcommand lives in its own module exposing ``register(subparsers)``,
which adds its parser and sets ``func`` to a callable taking the parsed
arguments and returning the exit code: 0 success, 1 a negative answer
(invalid data, failed run), 2 a usage error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

# Modules under bft.cli, each registering one or more commands, in --help order.
_SUBCOMMANDS = [
    "validate",
    "convert",
    "grader",
    "pipeline",
    "runs",
    "credentials",
    "rollback",
    "report",
    "onboarding",
    "smoke",
    "cost",
    "models",
    "config-check",
]
# Commands that other packages add, such as the offline twin's `local-run` (pyproject.toml's entry points):
# the product names no such package, so it installs and runs without them.
PLUGIN_GROUP = "bft.cli"

EXIT_OK = 0
EXIT_NEGATIVE = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A problem with how the command was called: printed, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bft",
        description="Validate, fine-tune, evaluate and serve custom Bedrock models.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMANDS:
        importlib.import_module(f"bft.cli.{name.replace('-', '_')}").register(sub)
    for plugin in sorted(entry_points(group=PLUGIN_GROUP), key=lambda ep: ep.name):
        try:
            register = plugin.load()
        except ImportError as exc:
            _register_missing(sub, plugin.name, exc)
        else:
            register(sub)
    return parser


def _register_missing(sub: Any, command: str, exc: ImportError) -> None:
    """A command whose package is declared but not importable: it says so and what to install, exit code 2."""

    def refuse(_args: argparse.Namespace) -> int:
        raise UsageError(
            f"bft {command} needs the offline twin, which is not installed ({exc.name or exc} missing): "
            "pip install 'bedrock-fine-tuning[local]' (make setup installs it)"
        )

    # No option prefix: it takes any arguments, so that the answer is always what to install.
    parser = sub.add_parser(
        command, help="(not installed: pip install 'bedrock-fine-tuning[local]')", prefix_chars="\0", add_help=False
    )
    parser.add_argument("ignored", nargs="*")
    parser.set_defaults(func=refuse)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except UsageError as exc:
        print(f"bft {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        # Missing or refused AWS credentials and region, a team not deployed (found when a command first looks
        # it up in the registry): one line that says what to do, not a traceback.
        from bft.cli.settings import describe_aws_setup_error
        from bft.deployment import DeploymentError

        message = str(exc) if isinstance(exc, DeploymentError) else describe_aws_setup_error(exc)
        if message is None:
            raise
        print(f"bft {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    return code


if __name__ == "__main__":
    raise SystemExit(main())
