"""``bft validate``: check a fine-tuning dataset locally with the pipeline's own rules.

Exit codes: 0 valid, 1 invalid, 2 usage error (missing file, unknown model,
bad --epochs). With ``--json`` stdout carries the report JSON and nothing else.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from bft.cli import EXIT_NEGATIVE, EXIT_OK, UsageError
from bft.cli.settings import add_config_dir
from bft.dataset import summary_text, validate_paths
from bft.dataset.migration import Migration, family_of_format, plan_migration
from bft.dataset.parsing import dumps
from bft.errors import BaseModelUnavailable, RequestInvalid
from bft.families import ModelFamily, check_hyperparameters, default_epochs, family_for


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="validate a JSONL dataset for a base model",
        description="Validate a training (and optional validation) JSONL file against the base model's rules.",
    )
    parser.add_argument("training", metavar="TRAINING.jsonl", nargs="?", help="training data file")
    parser.add_argument("--validation", metavar="VALIDATION.jsonl", help="validation data file")
    parser.add_argument(
        "--evaluation",
        metavar="EVALUATION.jsonl",
        help="evaluation file, checked with the evaluation rules (each record's last assistant turn is the "
        "expected answer; at least 10 records); may be given without a training file",
    )
    parser.add_argument(
        "--eval-max-records",
        type=int,
        metavar="N",
        help="records the run will score (the request's evaluation.maxRecords; default 200)",
    )
    parser.add_argument(
        "--base-model",
        default=None,
        metavar="ID",
        help="customizable base model id or foundation-model ARN (default: with --env, the team's first allowed "
        "model; else the first model the catalog says is live today for the training file's format, named on "
        "stderr)",
    )
    parser.add_argument(
        "--from-model",
        default=None,
        metavar="ID",
        help="the base model the data was written for: the migration advice compares it with --base-model "
        "(default: the family whose format the training file is in)",
    )
    parser.add_argument(
        "--customization",
        choices=("fine-tuning", "reinforcement"),
        default="fine-tuning",
        help="fine-tuning (default: answered records) or reinforcement (prompts with a reference_answer, graded)",
    )
    parser.add_argument("--env", help="check against this environment's allowed models (<config dir>/<env>.yaml)")
    parser.add_argument("--team", help="with --env: the team whose allowed models apply")
    add_config_dir(parser)
    parser.add_argument(
        "--epochs", type=int, metavar="N", help="epochs for the billed-token estimate (default: the model's)"
    )
    parser.add_argument(
        "--by-record",
        action="store_true",
        help="list each record's errors together, line by line (default: the same error on many records once, "
        "with its lines)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout, nothing else")
    parser.set_defaults(func=run)


def _require_file(path: str | None) -> None:
    if path is not None and not os.path.isfile(path):
        raise UsageError(f"no such file: {path}")


def _base_model(args: argparse.Namespace) -> str:
    """--base-model, else the environment's (team's) first allowed model, else a live model for the file's
    format (said on stderr); with --env a model the environment does not allow is refused here, not after
    upload. A model that is no longer customizable is still checked (to plan a migration), with a note."""
    if args.env is None:
        if args.team is not None:
            raise UsageError("--team needs --env")
        if args.base_model is None and args.customization == "reinforcement":
            return _reinforcement_default()
        if args.base_model is None:
            return _live_default(args.training or args.evaluation)
        _note_lifecycle(str(args.base_model))
        return str(args.base_model)
    from bft.cli.settings import default_base_model, load_environment, team_models

    config = load_environment(args)
    if args.team is not None:
        from bft.config import ConfigError

        try:
            config.team(args.team)
        except ConfigError as exc:
            raise UsageError(str(exc)) from exc
        allowed = team_models(config, args.team)
    else:
        allowed = list(config.allowed_base_models)
    if args.base_model is None:
        return default_base_model(config, args.team)
    if args.base_model not in allowed:
        who = f"team {args.team} in {config.name}" if args.team else f"environment {config.name}"
        raise UsageError(f"--base-model {args.base_model} is not allowed for {who} (allowed: {', '.join(allowed)})")
    return str(args.base_model)


def _reinforcement_default() -> str:
    """The first model the catalog says takes reinforcement fine-tuning today (said on stderr)."""
    from bft.catalog import catalog, today

    live = [m for r in catalog().regions() for m in catalog().live(r, today(), "REINFORCEMENT_FINE_TUNING")]
    if not live:
        raise UsageError("no model takes reinforcement fine-tuning today (`bft models`)")
    print(f"checking reinforcement prompts for {live[0].model_id}; choose another with --base-model", file=sys.stderr)
    return live[0].model_id


def _live_default(training: str | None) -> str:
    """The first model the catalog says is customizable today whose family reads the file's format."""
    from bft.catalog import catalog, today
    from bft.dataset.migration import detect_file_format

    on = today()
    live = [m for m in catalog().models if m.lifecycle.state(on) == "ACTIVE" and "FINE_TUNING" in m.customizations]
    data_format = detect_file_format(training) if training and os.path.isfile(training) else None
    fits = [m for m in live if catalog().families[m.family].data_format == data_format]
    chosen = (fits or live)[0]
    if fits:
        why = f"the first live model that reads the file's format ({data_format})"
    elif data_format:
        why = f"no live model reads the file's format ({data_format}): the first live model (see the migration advice)"
    else:
        why = "the first live model of the catalog"
    print(
        f"checking against {chosen.model_id} ({chosen.name}, {chosen.lifecycle.describe(on)} on {on}): {why}; "
        "choose another with --base-model, or your environment's with --env (`bft models` lists them)",
        file=sys.stderr,
    )
    return chosen.model_id


def _note_lifecycle(model_id: str) -> None:
    from bft.catalog import catalog, today

    found = catalog().model(model_id)
    if found is not None and found.lifecycle.state(today()) != "ACTIVE":
        refusal = catalog().refusal(model_id, found.regions[0], today())
        print(f"note: no run can use it: {refusal}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    args.base_model = _base_model(args)
    try:
        family = family_for(args.base_model)
        source = family_for(args.from_model) if args.from_model else None
    except BaseModelUnavailable as exc:
        raise UsageError(str(exc)) from exc
    epochs = default_epochs(family)
    if args.customization == "reinforcement":
        return _run_reinforcement(args)
    if args.epochs is not None:
        try:
            epochs = int(check_hyperparameters(family, {"epochCount": args.epochs})["epochCount"])
        except RequestInvalid as exc:
            raise UsageError(f"--epochs: {exc}") from exc
    if args.training is None and args.evaluation is None:
        raise UsageError("give a training file, an --evaluation file, or both")
    if args.validation is not None and args.training is None:
        raise UsageError("--validation needs the training file it goes with")
    _require_file(args.training)
    _require_file(args.validation)
    _require_file(args.evaluation)
    try:
        report = validate_paths(
            args.base_model,
            args.training,
            args.validation,
            evaluation=args.evaluation,
            scored_records=args.eval_max_records,
            epochs=epochs,
        )
        migration = _migration(args, family, source)
    except OSError as exc:  # unreadable file (permissions, a directory)
        raise UsageError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    if args.json:
        document = report.to_dict() | ({"migration": migration.to_dict()} if migration else {})
        print(dumps(document).decode("utf-8"))
        return EXIT_OK if report.valid else EXIT_NEGATIVE
    # A file in another family's format fails every record for that one reason: said once, with the advice
    # (unless each record's errors were asked for).
    mismatched = (
        {}
        if args.by_record
        else {
            check.path: (
                f"format: the records are in {check.data_format} ({family_of_format(str(check.data_format)).name}'s "
                f"format), not {family.data_format}, which {family.name} reads [wrong_format]; the file's "
                f"{report.errors_by_file.get(check.path, 0):,} errors follow from it and are not listed one by one: "
                "convert the records with bft convert, as the migration below says"
            )
            for check in (migration.files if migration else [])
            if check.data_format not in (None, family.data_format)
        }
    )
    print(summary_text(report, summarized=mismatched, by_record=args.by_record))
    if migration is not None:
        print(migration.text())
    return EXIT_OK if report.valid else EXIT_NEGATIVE


def _migration(args: argparse.Namespace, family: ModelFamily, source: ModelFamily | None) -> Migration | None:
    """What to change to move the training (and validation) data to ``family``, when it was written for another."""
    if args.training is None:
        return None
    files = [("training", args.training)] + ([("validation", args.validation)] if args.validation else [])
    return plan_migration(args.base_model, family, files, source=source)


def _run_reinforcement(args: argparse.Namespace) -> int:
    """Reinforcement prompts (bft.dataset.rft): no evaluation file, no migration advice (no other format)."""
    if args.training is None or args.evaluation is not None:
        raise UsageError("--customization reinforcement checks a prompts file (and --validation): no --evaluation")
    _require_file(args.training)
    _require_file(args.validation)
    try:
        report = validate_paths(args.base_model, args.training, args.validation, customization="reinforcement")
    except OSError as exc:
        raise UsageError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    if args.json:
        print(dumps(report.to_dict()).decode("utf-8"))
    else:
        print(summary_text(report, by_record=args.by_record))
    return EXIT_OK if report.valid else EXIT_NEGATIVE
