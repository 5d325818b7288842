"""`bft grader test GRADER --data FILE`: try a reinforcement fine-tuning grader on a team's own prompts.

GRADER is a built-in grader's name (``--option NAME=VALUE`` for its options), a local Python file whose
``lambda_handler`` (or ``handler``) takes the batch as its event, or a deployed function's ARN (invoked with the
caller's AWS credentials). The checks are ValidateRequest's (:func:`bft.workflow.graders.check_grader`): the
contract, the spread of rewards and the time per batch; the exit code is 1 when one fails, saying which.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bft.cli import EXIT_NEGATIVE, EXIT_OK, UsageError

DEFAULT_RECORDS = 16


def register(subparsers: Any) -> None:
    grader = subparsers.add_parser("grader", help="reinforcement fine-tuning graders", description=__doc__)
    commands = grader.add_subparsers(dest="grader_command", required=True, metavar="COMMAND")
    test = commands.add_parser(
        "test",
        help="run a grader on stand-in answers to your prompts and check the contract, spread and time",
        description="Run GRADER on two stand-in answers per prompt (the reference answer and a wrong one) and "
        "check Bedrock's grader contract, that the rewards differ, and the time per batch.",
    )
    test.add_argument("grader", metavar="GRADER", help="built-in name, a .py file with a handler, or a function ARN")
    test.add_argument("--data", required=True, metavar="FILE", help="reinforcement prompts (JSONL)")
    test.add_argument(
        "--records", type=int, default=DEFAULT_RECORDS, metavar="N", help=f"prompts to try (default {DEFAULT_RECORDS})"
    )
    test.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help="a built-in's option")
    test.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="the grader function's timeout (default 900, the most Bedrock allows); a batch may take half of it",
    )
    test.add_argument("--batch", type=int, default=16, metavar="N", help="answers per batch (default 16)")
    test.set_defaults(func=run_test)


def _prompts(path: str, count: int) -> list[dict[str, Any]]:
    if count < 1:
        raise UsageError("--records must be at least 1")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    prompts = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise UsageError(
                f"{path}:{number}: not JSON ({exc}); `bft validate --customization reinforcement`"
            ) from exc
        if not isinstance(record, dict) or "reference_answer" not in record or "messages" not in record:
            raise UsageError(
                f"{path}:{number}: reference_answer: a prompt needs messages and a reference_answer "
                "(`bft validate --customization reinforcement` checks the whole file)"
            )
        prompts.append(record)
        if len(prompts) == count:
            break
    if not prompts:
        raise UsageError(f"{path}: no prompts")
    return prompts


def _options(items: list[str], flag: str = "--option") -> dict[str, Any]:
    """A built-in grader's NAME=VALUE options (values read as JSON, else as text); ``bft submit`` reads its
    --grader-option the same way."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"{flag} {item!r}: expected NAME=VALUE")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


def _file_handler(path: Path) -> Callable[[list[dict[str, Any]]], Any]:
    spec = importlib.util.spec_from_file_location(f"bft_grader_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler = getattr(module, "lambda_handler", None) or getattr(module, "handler", None)
    if not callable(handler):
        raise UsageError(f"{path}: defines neither lambda_handler nor handler")
    return lambda batch: handler(batch, None)


def grader_caller(name: str, options: dict[str, Any]) -> tuple[str, Callable[[list[dict[str, Any]]], Any]]:
    """(what is tested, in words; the function that scores one batch)."""
    from bft.workflow.grader_check import caller
    from bft.workflow.graders import BUILTINS, GraderError, check_options

    if name in BUILTINS:
        try:
            check_options(name, options)
        except GraderError as exc:
            raise UsageError(f"--option: {exc}") from exc
        return f"built-in grader {name}", caller({"builtin": name, "options": options})
    if options:
        raise UsageError("--option applies to a built-in grader")
    if name.startswith("arn:"):
        from bft import aws

        region = name.split(":")[3]
        return f"grader function {name}", caller({"functionArn": name}, aws.client("lambda", region=region))
    path = Path(name)
    if path.suffix == ".py" and path.is_file():
        return f"grader file {path}", _file_handler(path)
    raise UsageError(f"{name!r} is neither a built-in grader ({', '.join(BUILTINS)}), a .py file nor a function ARN")


def run_test(args: argparse.Namespace) -> int:
    from bft.workflow.graders import check_grader

    prompts = _prompts(args.data, args.records)
    what, call = grader_caller(args.grader, _options(args.option))
    if args.batch < 1:
        raise UsageError("--batch must be at least 1")
    result = check_grader(call, prompts, batch_records=args.batch, limit_seconds=args.timeout)
    print(f"{what} on {len(prompts)} prompts of {args.data}: {result.summary()}")
    if result.ok:
        print("OK: the grader keeps the contract, its rewards differ, and a batch fits the time limit")
        return EXIT_OK
    checks = sorted({failure.split(":", 1)[0] for failure in result.failures})
    print(f"FAILED: {', '.join(checks)}: fix the grader before a run uses it (ValidateDataset runs these checks)")
    return EXIT_NEGATIVE
