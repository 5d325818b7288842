"""``bft models [--env E | --region R] [--all] [--live] [--json]``: what can be customized and served where.

Read from the model catalog (:mod:`bft.catalog`): per region, each model's customization types, how its
custom models are served (on demand: no hourly charge; provisioned throughput: billed every hour), its
lifecycle on today's date and its illustrative price row. ``--env`` marks the models the environment
allows. ``--live`` asks the account's Bedrock (ListFoundationModels, GetFoundationModel) with the caller's
credentials and prints every difference from the shipped catalog: exit code 1 when there is one.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bft.cli import EXIT_NEGATIVE, EXIT_OK, UsageError
from bft.cli.settings import add_config_dir, load_environment

SERVING_WORDS = {
    "on-demand-deployment": "on demand (per token, no hourly charge)",
    "provisioned-throughput": "provisioned throughput (per model-unit hour)",
}


def register(subparsers: Any) -> None:
    help_ = "list the models that can be customized and served in a region, from the model catalog (--live: check it)"
    parser = subparsers.add_parser("models", help=help_, description=__doc__.split("\n\n")[1] if __doc__ else help_)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--env", default=None, help="an environment: its region, and which models it allows")
    where.add_argument("--region", default=None, help="a region (default: every region of the catalog)")
    add_config_dir(parser)
    parser.add_argument(
        "--all", action="store_true", help="also the models no longer customizable (Legacy, end of life)"
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="compare with the account's Bedrock (needs credentials); exit 1 on a difference",
    )
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bft.catalog import catalog, today

    shipped = catalog()
    on = today()
    allowed: set[str] | None = None
    if args.env:
        config = load_environment(args)
        regions = [config.region]
        allowed = set(config.allowed_base_models) | {m for t in config.teams for m in t.allowed_base_models or []}
    elif args.region:
        if args.region not in shipped.regions():
            raise UsageError(
                f"--region {args.region}: the catalog has no model customizable there "
                f"(regions: {', '.join(shipped.regions())})"
            )
        regions = [args.region]
    else:
        if args.live:
            raise UsageError("--live needs --env or --region: Bedrock answers for one region at a time")
        regions = shipped.regions()
    rows = [
        _row(model, region, on, allowed)
        for region in regions
        for model in shipped.models
        if region in model.regions and (args.all or model.lifecycle.state(on) == "ACTIVE")
    ]
    differences: list[str] = []
    if args.live:
        from bft import aws
        from bft.catalog.live import differences as live_differences

        differences = live_differences(aws.client("bedrock", region=regions[0]), shipped, regions[0], on)
    if args.json:
        document: dict[str, Any] = {"date": str(on), "catalogChecked": str(shipped.checked), "models": rows}
        if args.live:
            document["differences"] = differences
        print(json.dumps(document, indent=2))
    else:
        _print(rows, on, shipped.checked, shipped.prices_note)
        if args.live:
            if differences:
                print(f"\n{len(differences)} difference(s) between the catalog and Bedrock in {regions[0]}:")
                print("\n".join(f"  - {line}" for line in differences))
                print("update src/bft/catalog/models.json (with each fact's source and date) and redeploy")
            else:
                print(f"\nBedrock in {regions[0]} agrees with the catalog")
    return EXIT_NEGATIVE if differences else EXIT_OK


def _row(model: Any, region: str, on: Any, allowed: set[str] | None) -> dict[str, Any]:
    row = {
        "region": region,
        "modelId": model.model_id,
        "name": model.name,
        "customizations": list(model.customizations),
        "serving": list(model.serving),
        "lifecycle": model.lifecycle.describe(on),
        "live": model.lifecycle.state(on) == "ACTIVE",
        "illustrativePrices": dict(model.prices),
    }
    if allowed is not None:
        row["allowed"] = model.model_id in allowed
    return row


def _print(rows: list[dict[str, Any]], on: Any, checked: Any, prices_note: str) -> None:
    print(f"Bedrock models by the catalog (facts checked {checked}), lifecycle on {on}:")
    region = None
    for row in rows:
        if row["region"] != region:
            region = row["region"]
            print(f"\n{region}")
        mark = ""
        if "allowed" in row:
            mark = "  [allowed]" if row["allowed"] else "  [not allowed here]"
        print(f"  {row['modelId']}  {row['name']}{mark}")
        print(f"      customize: {', '.join(kind.lower().replace('_', '-') for kind in row['customizations'])}")
        print(f"      serve:     {'; '.join(SERVING_WORDS[kind] for kind in row['serving'])}")
        print(f"      lifecycle: {row['lifecycle']}")
        prices = row["illustrativePrices"]
        if prices:
            line = (
                f"training ${prices['training_per_1k_tokens']:g}/1k tokens, "
                f"model unit ${prices['model_unit_hour']:g}/hour"
            )
            if "on_demand_per_1k_input" in prices:
                line += (
                    f", on demand ${prices['on_demand_per_1k_input']:g}/"
                    f"${prices['on_demand_per_1k_output']:g} per 1k tokens in/out"
                )
            print(f"      prices:    {line} (illustrative)")
    if not rows:
        print("  (none)")
    print(f"\nprices: {prices_note}")
