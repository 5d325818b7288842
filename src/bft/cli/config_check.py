"""``bft config check [--env E ...] [--config-dir D] [--quick]``: what a platform engineer runs before ``cdk deploy``.

For each environment (``--env``, else every ``<env>.yaml`` of the config directory): validate the file,
synthesize it as ``cdk synth`` does (cdk-nag runs at synthesis: an unacknowledged finding fails it), check
the CloudFormation and IAM limits, run cfn-lint and checkov over the templates, and run the offline ``success``
scenario on that environment's own assembly (``bft local-run --env E --assembly DIR``). One line per check with
its time, then PASS or FAIL. ``--quick`` stops after synthesis and cdk-nag (and the limits, which cost nothing).
Exit code 0 when every environment passes, 1 when one fails, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bft.cli import EXIT_NEGATIVE, EXIT_OK, UsageError
from bft.cli.settings import add_config_dir, config_dir

QUICK = ("validate", "synth + cdk-nag", "limits")
FULL = (*QUICK, "cfn-lint", "checkov", "offline success")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "config",
        help="check the platform's configuration: validate, synthesize, lint and run offline (bft config check)",
        description="Commands for the platform's configuration.",
    )
    sub = parser.add_subparsers(dest="config_command", required=True, metavar="SUBCOMMAND")
    check = sub.add_parser(
        "check",
        help="validate, synthesize (cdk-nag), cfn-lint, checkov and the offline success run, per environment",
        description=(__doc__ or "").split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "--env",
        action="append",
        default=None,
        help="an environment to check, repeatable (default: every <env>.yaml of the config dir)",
    )
    add_config_dir(check)
    check.add_argument("--quick", action="store_true", help="validate, synthesize and cdk-nag only")
    check.add_argument(
        "--jobs",
        type=int,
        default=min(os.cpu_count() or 1, 4),
        metavar="N",
        help="environments checked at once (default: the CPUs, at most 4)",
    )
    check.add_argument(
        "--output",
        default=None,
        metavar="DIR",
        help="keep each environment's assembly in DIR/<env> (default: a temporary directory, removed)",
    )
    check.set_defaults(func=run)


@dataclass
class Step:
    name: str
    ok: bool | None = None  # None: not run (an earlier step failed)
    seconds: float = 0.0
    summary: str = ""
    details: list[str] = field(default_factory=list)

    def line(self) -> str:
        verdict = {True: "PASS", False: "FAIL", None: "SKIP"}[self.ok]
        timing = f"{self.seconds:6.1f} s" if self.ok is not None else "        "
        return f"  {verdict}  {self.name:<16}{timing}  {self.summary}".rstrip()


def run(args: argparse.Namespace) -> int:
    from bft.config import known_environments

    directory = config_dir(args)
    if not directory.is_dir():
        raise UsageError(f"config directory {directory} does not exist or is not a directory")
    environments = list(dict.fromkeys(args.env)) if args.env else known_environments(directory)
    if not environments:
        raise UsageError(f"no <env>.yaml in {directory}")
    if args.jobs < 1:
        raise UsageError("--jobs must be 1 or more")
    began = time.monotonic()
    with contextlib.ExitStack() as stack:
        if args.output:
            outputs = {env: Path(args.output) / env for env in environments}
        else:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bft-config-check-")))
            outputs = {env: scratch / env for env in environments}
        failed = check_environments(environments, directory, outputs, quick=args.quick, jobs=args.jobs, say=print)
    total = time.monotonic() - began
    kind = "quick check" if args.quick else "check"
    if failed:
        print(f"FAIL  {kind} of {', '.join(failed)} in {directory} ({len(environments)} checked, {total:.0f} s)")
        return EXIT_NEGATIVE
    print(f"PASS  {kind} of {', '.join(environments)} in {directory} ({total:.0f} s)")
    return EXIT_OK


def check_environments(
    environments: list[str],
    directory: Path,
    outputs: dict[str, Path],
    *,
    quick: bool,
    jobs: int,
    say: Callable[[str], None],
) -> list[str]:
    """Check each environment, saying its lines in order; the environments that failed.

    Every check runs in a process of its own (synthesis, the linters, the offline run: the twin swaps
    ``sys.modules``, ``sys.path`` and ``os.environ`` while a handler runs, which no other thread of this process
    may see), so up to ``jobs`` environments are checked at once."""
    from concurrent.futures import ThreadPoolExecutor

    from bft.config import config_path

    names = QUICK if quick else FULL
    failed = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running = {
            env: pool.submit(_run_steps, [Step(name) for name in names], env, directory, outputs)
            for env in environments
        }
        for env in environments:
            steps = running[env].result()
            say(f"{env}: {config_path(env, directory)}")
            for step in steps:
                say(step.line())
                for detail in step.details:
                    say(f"        {detail}")
            passed = all_passed(steps)
            say(f"{'PASS' if passed else 'FAIL'}  {env}  {sum(step.seconds for step in steps):.1f} s")
            if not passed:
                failed.append(env)
    return failed


def all_passed(steps: list[Step]) -> bool:
    return all(step.ok for step in steps)


def _run_steps(steps: list[Step], env: str, directory: Path, outputs: dict[str, Path]) -> list[Step]:
    """Run ``steps`` in order; after a failed one, the rest are marked not run (they would check nothing)."""
    blocked = False
    out = outputs[env]
    actions: dict[str, Callable[[Step], None]] = {
        "validate": lambda step: _validate(step, env, directory),
        "synth + cdk-nag": lambda step: _synth(step, env, directory, out),
        "limits": lambda step: _limits(step, out),
        "cfn-lint": lambda step: _cfn_lint(step, out),
        "checkov": lambda step: _checkov(step, out),
        "offline success": lambda step: _offline_success(step, env, directory, out),
    }
    for step in steps:
        if blocked:
            step.summary = "not run: an earlier check failed"
            continue
        began = time.monotonic()
        try:
            actions[step.name](step)
        except Exception as exc:  # a check that cannot run fails, saying why
            message = str(exc).splitlines() or [""]
            step.ok, step.summary = False, f"{type(exc).__name__}: {message[0]}"
            step.details += message[1:][-20:]
        step.seconds = time.monotonic() - began
        # Nothing after a failed validation or synthesis has an assembly to check.
        blocked = step.ok is False and step.name in ("validate", "synth + cdk-nag")
    return steps


def _validate(step: Step, env: str, directory: Path) -> None:
    from bft.config import ConfigError, load_config

    try:
        config = load_config(env, directory)
    except ConfigError as exc:
        lines = str(exc).splitlines()
        problems = [line.strip() for line in lines if line.strip() and line.strip() != "invalid configuration:"]
        step.ok, step.summary, step.details = False, problems[0], problems[1:]
        return
    teams = ", ".join(team.name for team in config.teams) or "no team"
    step.ok = True
    step.summary = f"region {config.region}, {len(config.allowed_base_models)} models, teams: {teams}"


def _synth(step: Step, env: str, directory: Path, out: Path) -> None:
    from bft.cli import checks
    from bft.synth import synth

    try:
        synth(env, out, config_dir=directory)
    except RuntimeError as exc:
        lines = [line for line in str(exc).splitlines()[1:] if line.strip()]
        step.ok, step.summary, step.details = False, "synthesis failed (cdk-nag errors fail it too)", lines[-20:]
        return
    nag = checks.nag_report(out)
    stacks = len(checks.templates(out))
    if nag.conclusion != "success" or nag.violations:
        step.ok, step.summary = False, f"cdk-nag: {len(nag.violations)} unacknowledged findings"
        step.details = [f"{v.get('ruleName')}: {json.dumps(v)[:300]}" for v in nag.violations[:20]]
        return
    step.ok = True
    step.summary = f"{stacks} stacks; cdk-nag: no finding, {len(nag.suppressed)} acknowledged with their reasons"


def _limits(step: Step, out: Path) -> None:
    from bft.synth import RESOURCE_LIMIT, assembly_limits

    limits = assembly_limits(out)
    stack, resources = limits.largest_template
    over = [p for p in limits.policies if p.chars > p.limit]
    step.details = [f"{p.kind} policy {p.where}: {p.chars} characters, the limit is {p.limit}" for p in over]
    if resources > RESOURCE_LIMIT:
        step.details.insert(0, f"{stack}: {resources} resources, CloudFormation allows {RESOURCE_LIMIT}")
    step.ok = not step.details
    largest = limits.largest_policy
    step.summary = (
        f"largest template {resources}/{RESOURCE_LIMIT} resources; "
        f"largest policy {largest.chars}/{largest.limit} characters"
    )


def _cfn_lint(step: Step, out: Path) -> None:
    from bft.cli import checks

    findings = checks.cfn_lint(out)
    step.ok = not findings
    step.summary = f"{len(findings)} findings" if findings else "no finding"
    step.details = [checks.describe_cfn_lint(f) for f in findings[:20]]


def _checkov(step: Step, out: Path) -> None:
    from bft.cli import checks

    report = checks.run_checkov(checks.templates(out))
    found = checks.failures(report)
    beyond = checks.unskipped(found)
    step.ok = not beyond
    accepted = len(found) - len(beyond)
    step.summary = f"{report['summary']['passed']} passed, {accepted} accepted in {checks.SKIP_FILE.name}" + (
        f", {len(beyond)} failures not accepted there" if beyond else ""
    )
    step.details = [str(f) for f in beyond[:20]]


def _offline_success(step: Step, env: str, directory: Path, out: Path) -> None:
    """`bft local-run --scenario success` on this assembly: the offline twin is a plugin of the product (its
    `local-run` command), never imported by it, and runs in a process of its own."""
    with tempfile.TemporaryDirectory(prefix="bft-check-report-") as reports:
        argv = ["local-run", "--env", env, "--assembly", str(out), "--scenario", "success", "--json"]
        argv += ["--config-dir", str(directory), "--report-dir", reports]
        code, stdout, stderr = local_run(argv)
    errors = [line for line in stderr.splitlines() if line.strip() and not line.startswith("config:")]
    try:
        summary = json.loads(stdout)
    except json.JSONDecodeError:
        step.ok, step.summary, step.details = False, f"bft local-run exited {code} without a summary", errors[-20:]
        return
    left = summary.get("jobs_left_running", 0)
    serving = (summary.get("serving") or {}).get("kind") or "nothing"
    step.ok = code == EXIT_OK and bool(summary.get("ended_as_intended"))
    step.summary = (
        f"{summary.get('outcome')} ({summary.get('model')}, served by {serving}), {summary.get('status')}, "
        f"{left} jobs left running"
    )
    if not step.ok:
        step.details = [f"expected {summary.get('expected_outcome')}; what the team was told:"]
        for note in (summary.get("notifications") or [])[-1:]:
            step.details += [note.get("subject", ""), *str(note.get("message", "")).splitlines()[:6]]
        step.details += [str(error) for error in summary.get("background_errors") or []][:5] + errors[-10:]


def local_run(argv: list[str]) -> tuple[int, str, str]:
    """``bft <argv>`` in a fresh interpreter of this one: exit code, stdout, stderr."""
    command = "from bft.cli import main; raise SystemExit(main())"
    result = subprocess.run([sys.executable, "-c", command, *argv], capture_output=True, text=True, check=False)
    return result.returncode, result.stdout, result.stderr
