"""Least privilege of the pipeline's roles, measured on every offline scenario (docs/least-privilege.md).

Synthesizes the `local` environment once (or takes --assembly DIR), runs every scenario of
`bft_twin.run.SCENARIOS` on it in this process, one after the other, unions the offline IAM's records
and prints: the calls authorized in `success`, the calls denied in each scenario, statements and actions
needed against granted, and every unused one with the reason it is kept (`bft_twin.iam.privilege.KEPT`).

Exit status 1 when an unused action grant has no reason, a KEPT / REMOVAL_CANDIDATES entry is stale, or a
scenario had a denial it does not mean (with --strict, also while removal candidates remain).

    .venv/bin/python scripts/least_privilege.py [--assembly DIR] [--scenario NAME ...] [--json] [--strict]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bft_twin.iam.privilege import REMOVAL_CANDIDATES, ActionGrant, PrivilegeReport, measure

# Scenarios whose point is a refusal: denials they are expected to record. None today: every failure
# scenario fails in Bedrock or in the pipeline's own checks, never in IAM.
EXPECTED_DENIALS: dict[str, int] = {}


def local_scenarios() -> list[str]:
    """The scenarios the us-west-2 world runs: those of its own models (a scenario about a model of another
    region, such as Nova 2 Lite, runs in that region's world)."""
    from bft_twin.run import ENV, SCENARIOS, offers

    return [name for name, s in SCENARIOS.items() if s.model is None or offers(ENV, s.model) is None]


def run_all(assembly: Path, names: list[str], *, progress: Any = None) -> dict[str, Any]:
    """Run ``names`` on ``assembly``; the store of the first run, every record, a line per scenario, and the
    scenarios the assembly's environment cannot run (a team endpoint needs a model served on demand, which
    `local` in us-west-2 does not allow today) with the reason, under ``skipped``."""
    from bft_twin.iam.authorizer import CallRecord
    from bft_twin.iam.store import PolicyStore
    from bft_twin.run import NoOfflineWorld, choose, environment_of, run_scenario

    store: PolicyStore | None = None
    records: list[CallRecord] = []
    scenarios: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    environment = environment_of(assembly)
    for name in names:
        try:
            choose(name, None, environment)
        except NoOfflineWorld as exc:
            skipped[name] = str(exc)
            if progress:
                progress(f"{name}: skipped: {exc}")
            continue
        captured: dict[str, Any] = {}

        def keep(env: Any, captured: dict[str, Any] = captured) -> None:
            captured["store"] = env.store
            captured["records"] = list(env.authorizer.records)

        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"bft-priv-{name}-") as workdir:
            summary = run_scenario(name, assembly=assembly, workdir=Path(workdir), on_finish=keep)
        store = store or captured["store"]
        records.extend(captured["records"])
        authorization = summary["authorization"]
        scenarios[name] = {
            "status": summary["status"],
            "outcome": summary["outcome"],
            "expected_outcome": summary["expected_outcome"],
            "calls_authorized": authorization["calls_authorized"],
            "calls_denied": authorization["calls_denied"],
            "denied": authorization["denied"] + authorization["deliveries_denied"],
            "seconds": round(time.monotonic() - started, 1),
        }
        if progress:
            progress(
                f"{name}: {summary['status']} {summary['outcome']}, {authorization['calls_authorized']} calls "
                f"authorized, {authorization['calls_denied']} denied ({scenarios[name]['seconds']} s)"
            )
    assert store is not None, "no scenario ran"
    return {"store": store, "records": records, "scenarios": scenarios, "skipped": skipped}


def main(argv: list[str] | None = None) -> int:
    from bft.synth import ROOT, cached_synth
    from bft_twin.run import ENV, SCENARIOS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assembly", type=Path, help="a synthesized `local` assembly (default: synthesize, cached)")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="only these (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 while removal candidates remain")
    args = parser.parse_args(argv)
    # The handlers log every step at INFO; the measurement is what this script prints.
    logging.disable(logging.WARNING)

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.monotonic()
    assembly = args.assembly or cached_synth(ENV, ROOT / "cdk.out" / ".local-run")
    names = args.scenario or local_scenarios()
    ran = run_all(assembly, names, progress=say)
    report = measure(ran["store"], ran["records"])
    figures = report.figures()
    unexpected = {
        name: line["denied"]
        for name, line in ran["scenarios"].items()
        if line["calls_denied"] != EXPECTED_DENIALS.get(name, 0)
    }
    candidates = report.candidate_grants()
    # With only some scenarios, "unused" means "unused by these": stale entries are expected then.
    failed = (
        bool(figures["unexplained"])
        or bool(unexpected)
        or (args.strict and bool(candidates))
        or (not args.scenario and bool(figures["stale"]))
    )
    elapsed = round(time.monotonic() - started, 1)

    if args.json:
        out = {
            "scenarios": ran["scenarios"],
            "skipped": ran["skipped"],
            "calls_authorized_success": ran["scenarios"].get("success", {}).get("calls_authorized"),
            **figures,
            "actions_never_used": [g.key for g in report.actions_never_used()],
            "seconds": elapsed,
        }
        print(json.dumps(out, indent=2))
        return 1 if failed else 0

    print(f"assembly: {assembly}")
    print(f"scenarios: {len(ran['scenarios'])} in {elapsed} s")
    for name, why in ran["skipped"].items():
        print(f"  skipped {name}: {why}")
    if "success" in ran["scenarios"]:
        print(f"calls authorized in `success`: {ran['scenarios']['success']['calls_authorized']}")
    print("calls denied per scenario:")
    for name, line in ran["scenarios"].items():
        expected = EXPECTED_DENIALS.get(name, 0)
        mark = "" if line["calls_denied"] == expected else f"  <-- expected {expected}"
        print(f"  {name:22} {line['calls_denied']}{mark}")
        for denial in line["denied"]:
            print(f"      {denial}")
    print(
        f"statements needed / granted: {figures['statements_needed']} / {figures['statements_granted']} "
        f"({figures['statements_ratio']:.0%})"
    )
    print(
        f"actions needed / granted:    {figures['actions_needed']} / {figures['actions_granted']} "
        f"({figures['actions_ratio']:.0%})"
    )
    print(
        f"unused actions: {len(report.unused_actions)} = {figures['actions_kept']} kept with a reason + "
        f"{len(candidates)} removal candidates + {len(figures['unexplained'])} unexplained"
    )

    print(f"\nstatements no scenario needs ({len(report.unused)}):")
    for statement in report.unused:
        print(f"  {statement.key}  [{', '.join(statement.actions)}]")
        for action in statement.actions:
            _print_reason(report, ActionGrant(statement, action), indent="      ")
    never = report.actions_never_used()
    print(f"\nactions never used in statements that are needed ({len(never)}):")
    for grant in never:
        _print_reason(report, grant, indent="  ", key=True)
    if figures["stale"]:
        print("\nstale KEPT / REMOVAL_CANDIDATES entries (they explain nothing any more: remove them):")
        for pattern in figures["stale"]:
            print(f"  {pattern}")
    if candidates:
        print(f"\nREMOVAL CANDIDATES ({len(candidates)} action grants; routed to the stacks' owner):")
        for pattern, why in REMOVAL_CANDIDATES.items():
            print(f"  {pattern}\n      {why}")
    if figures["unexplained"]:
        print(f"\nUNEXPLAINED ({len(figures['unexplained'])}): granted, unused, no reason in KEPT:")
        for key in figures["unexplained"]:
            print(f"  {key}")
    return 1 if failed else 0


def _print_reason(report: PrivilegeReport, grant: ActionGrant, *, indent: str, key: bool = False) -> None:
    label = grant.key if key else grant.action
    found = report.explain(grant)
    if found is None:
        print(f"{indent}{label}: NO REASON")
    elif found.kind == "candidate":
        print(f"{indent}{label}: REMOVAL CANDIDATE: {found.reason}")
    else:
        print(f"{indent}{label}: kept: {found.reason}")


if __name__ == "__main__":
    sys.exit(main())
