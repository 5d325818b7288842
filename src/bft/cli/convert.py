"""``bft convert SOURCE --to FAMILY_OR_MODEL``: write a dataset in the format a model family reads.

The conversion itself is :mod:`bft.dataset.convert`; this module reads the options, names the output and says
what happened. Exit codes: 0 converted, 1 refused (a record the target cannot take, a file in no known format:
nothing is written), 2 usage error (missing file, unknown family or model, the output is the source).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from bft.cli import EXIT_NEGATIVE, EXIT_OK, UsageError
from bft.dataset.convert import SOURCE_FORMATS, Conversion, Target, convert_file, resolve_target
from bft.dataset.report import issues_text
from bft.errors import BaseModelUnavailable

MAX_LISTED = 20  # error and warning groups printed, as bft validate prints


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a JSONL dataset to the format a model family reads",
        description="Convert a JSONL dataset (Claude messages, OpenAI chat, prompt/completion or Bedrock's "
        "conversation format) to the format of a model family, record by record. Nothing is written unless "
        "every record converts.",
    )
    parser.add_argument("source", metavar="SOURCE.jsonl", help="the dataset to convert")
    parser.add_argument(
        "--to",
        required=True,
        metavar="FAMILY_OR_MODEL",
        help="a model family (nova, nova-2, llama-3.1, llama-3.3, ...) or a base model id; `bft models` lists them",
    )
    parser.add_argument(
        "--from",
        dest="source_format",
        choices=SOURCE_FORMATS,
        help="the source's format (default: detected from its first records)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT.jsonl",
        help="where to write (default: SOURCE with the family's name before .jsonl, e.g. train.nova.jsonl); "
        "replaced only once every record converted",
    )
    parser.set_defaults(func=run)


def default_output(source: str, family: str) -> str:
    """``train.jsonl`` -> ``train.nova.jsonl``, beside the source."""
    stem, ext = os.path.splitext(source)
    return f"{stem if ext in ('.jsonl', '.json') else source}.{family}.jsonl"


def run(args: argparse.Namespace) -> int:
    if not os.path.isfile(args.source):
        raise UsageError(f"no such file: {args.source}")
    try:
        target = resolve_target(args.to)
    except BaseModelUnavailable as exc:
        raise UsageError(f"--to: {exc}") from exc
    output = args.output or default_output(args.source, target.family.name)
    if os.path.abspath(output) == os.path.abspath(args.source) or (
        os.path.exists(output) and os.path.samefile(output, args.source)
    ):
        raise UsageError(f"the output {output} is the source: name another with -o")
    if not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise UsageError(f"-o {output}: no such directory")
    _note_lifecycle(target)
    try:
        result = convert_file(args.source, output, target, args.source_format)
    except ValueError as exc:  # no record of a known shape
        print(f"NOT CONVERTED: {exc}; nothing written", file=sys.stderr)
        return EXIT_NEGATIVE
    except OSError as exc:
        raise UsageError(f"cannot read or write {exc.filename}: {exc.strerror}") from exc
    print(summary(result, output))
    return EXIT_OK if result.converted else EXIT_NEGATIVE


def summary(result: Conversion, output: str) -> str:
    target = result.target
    how = "detected from its first records" if result.detected else "as given"
    fmt = f"{result.source_format}, {how}"
    into = f"{target.family.name}'s format ({result.target_format})"
    if result.converted:
        out = [
            f"CONVERTED: {result.path} ({fmt}) to {into}: {result.written:,} records written to {output}",
            f"  format: {result.changes()}",
        ]
    elif result.records == 0:
        out = [f"NOT CONVERTED: {result.path} has no records; nothing written"]
    else:
        out = [f"NOT CONVERTED: {result.path} ({fmt}) to {into}: nothing written"]
    if result.error_count:
        groups = result.error_groups
        out.extend(issues_text("errors", groups.groups(), result.error_count, groups.ungrouped, MAX_LISTED))
    if result.warning_count:
        groups = result.warning_groups
        out.extend(issues_text("warnings", groups.groups(), result.warning_count, groups.ungrouped, MAX_LISTED))
    if result.converted:
        model = target.model_id or target.checker_model
        out.append(f"next: bft validate {output} --base-model {model}   (record counts, duplicates, the file's size)")
    return "\n".join(out)


def _note_lifecycle(target: Target) -> None:
    """A target no run can use today (Legacy, past its end of life) is still converted to, with a note."""
    from bft.catalog import catalog, today

    on = today()
    models = [target.model_id] if target.model_id else list(target.family.base_model_ids)
    found = [catalog().model(model_id) for model_id in models]
    if all(m is not None and m.lifecycle.state(on) != "ACTIVE" for m in found):
        first = found[0]
        assert first is not None
        refusal = catalog().refusal(first.model_id, first.regions[0], on)
        print(f"note: no run can use {target.name} today: {refusal}", file=sys.stderr)
