"""`bft local-run --scenario NAME [--json]`: the real workflow on this machine, Bedrock simulated.

`bft local-run --chaos SEED [--json]` runs it under a fault schedule drawn from SEED and checks the invariants
every run must hold (:mod:`bft_twin.chaos`); the exit code is 1 if one breaks.

`bft local-run --training FILE [--validation FILE] [--evaluation FILE] [--threshold X]` runs it on your own
files (in the base model family's format): validated by the workflow as usual, trained by the fake's stand-in
learner, so the loss and scores are computed from your data but are not a real model's. Such a run is a run,
not a scenario: it expects no outcome, and its exit code says what the run said (0 deployed, 1 not: the
dataset refused, the evaluation under its threshold, a step failed).

Progress goes to stderr as the execution runs (each state, the simulated job while WaitForJob waits,
elapsed time); the summary goes to stdout, followed by where the HTML/Markdown report was written.
A scenario's exit code 0 means it ended the way it is meant to, including an intended failure.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bft.cli import EXIT_NEGATIVE, EXIT_OK, UsageError
from bft.cli.settings import add_config_dir

# What the `local` extra adds to a product install (pyproject.toml): the offline twin's AWS services.
TWIN_MODULES = ("moto",)

if TYPE_CHECKING:
    from bft_twin.bedrock_fake import FakeBedrock

# The runner reports a state entry as "<execution name>: <StateName>" (state names hold no spaces).
_STATE_ENTERED = re.compile(r"\S+: (\S+)")
# Real seconds between two lines about the simulated job (half a simulated hour at the default scale).
_JOB_PROGRESS_EVERY = 0.5


def register(subparsers: Any) -> None:
    from bft.workflow.scoring import SCORERS
    from bft_twin.run import SCENARIOS

    parser = subparsers.add_parser(
        "local-run",
        help="run one scenario of the synthesized workflow offline (moto + simulated Bedrock)",
        description="Runs the 'local' environment's synthesized state machine end to end on this machine,\n"
        "Bedrock simulated, and downloads the report its Finalize step wrote. Exit code 0 when the scenario ends\n"
        "with its intended outcome (a failure scenario's failure included), 1 otherwise.\n\nscenarios:\n"
        + "\n".join(f"  {name:<22}{s.description} ({s.outcome})" for name, s in SCENARIOS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scenario", default=None, help="one of: " + ", ".join(SCENARIOS) + " (default success)")
    parser.add_argument(
        "--chaos",
        type=int,
        default=None,
        metavar="SEED",
        help="instead of a scenario, faults drawn from SEED (throttles and 5xx, lost or late events, Lambda "
        "crashes, job, throughput, quota and approval failures); exit code 1 if an invariant breaks",
    )
    parser.add_argument(
        "--model",
        default=None,
        metavar="MODEL_ID",
        help="base model to fine-tune, e.g. amazon.nova-lite-v1:0:300k or meta.llama3-1-8b-instruct-v1:0:128k "
        "(default: the scenario's, else amazon.nova-micro-v1:0:128k); without --env, the offline world whose "
        "region offers it runs (local: us-west-2, local-us-east-1: us-east-1)",
    )
    parser.add_argument(
        "--env",
        default=None,
        help="whose assembly and configuration run (default: the offline world for the model). dev, staging "
        "and prod run with their configuration unchanged on one virtual clock, 1 real second = 1 virtual hour",
    )
    parser.add_argument("--job-hours", type=float, default=None, help="simulated duration of the training job")
    parser.add_argument("--json", action="store_true", help="print one JSON summary on stdout and nothing else")
    parser.add_argument(
        "--assembly",
        default=None,
        metavar="DIR",
        help="run this already-synthesized cloud assembly (what `cdk synth -c env=ENV -o DIR` wrote) "
        "instead of synthesizing: the exact templates you are about to deploy",
    )
    data = parser.add_argument_group(
        "your own data",
        "run the workflow on your files instead of the sample (in the base model family's data format); the loss and "
        "scores come from a stand-in learner trained on them, not from a real model",
    )
    data.add_argument("--training", default=None, metavar="FILE", help="training JSONL")
    data.add_argument("--validation", default=None, metavar="FILE", help="validation JSONL (default: none)")
    data.add_argument(
        "--evaluation", default=None, metavar="FILE", help="evaluation JSONL (default: the run is not evaluated)"
    )
    data.add_argument(
        "--team", default=None, help="submit as this team of the environment (default: moderation, else the first)"
    )
    data.add_argument("--threshold", type=float, default=None, metavar="X", help="evaluation threshold, 0 to 1")
    data.add_argument(
        "--scorer", choices=sorted(SCORERS), default=None, help="evaluation scorer (default: chosen from your data)"
    )
    data.add_argument("--metric", default=None, help="the scorer's metric the threshold applies to")
    data.add_argument(
        "--base-prompt",
        default=None,
        metavar="FILE",
        help="the base model's production prompt (instructions and examples), for tokens per query base vs custom",
    )
    add_config_dir(parser)
    parser.add_argument(
        "--report-dir",
        default=None,
        help="where to download the report Finalize wrote: report.html, report.md, loss.svg, run.json "
        "(default: reports/local/<scenario>/ in the repository)",
    )
    parser.set_defaults(func=run)


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def run(args: argparse.Namespace) -> int:
    missing = [name for name in TWIN_MODULES if not _importable(name)]
    if missing:
        raise UsageError(
            f"bft local-run needs the offline twin, which is not installed ({', '.join(missing)} missing): "
            "pip install 'bedrock-fine-tuning[local]' (make setup installs it)"
        )
    with _config_dir_for_the_run(args.config_dir):
        return _run(args)


@contextlib.contextmanager
def _config_dir_for_the_run(explicit: str | None) -> Iterator[None]:
    """The twin reads the environment's config in many places (the runner, scenarios, chaos, the synthesis it
    starts): --config-dir becomes BFT_CONFIG_DIR for the run, the rule's next level, then the variable is
    restored."""
    from bft.config import CONFIG_DIR_VARIABLE, resolve_config_dir

    before = os.environ.get(CONFIG_DIR_VARIABLE)
    os.environ[CONFIG_DIR_VARIABLE] = str(resolve_config_dir(explicit))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(CONFIG_DIR_VARIABLE, None)
        else:
            os.environ[CONFIG_DIR_VARIABLE] = before


def _run(args: argparse.Namespace) -> int:
    from bft.config import ConfigError, config_path, describe_source, load_config
    from bft.synth import ROOT
    from bft_twin.run import SCENARIOS, NoOfflineWorld, choose, environment_of, run_scenario
    from bft_twin.run.targets import UnknownTeam, target_for

    if args.chaos is not None:
        if args.scenario is not None or args.training is not None or args.threshold is not None or args.team:
            raise UsageError(
                "--chaos draws its own faults on the sample data: drop --scenario, --training, --threshold and --team"
            )
        if args.chaos < 0:
            raise UsageError("--chaos SEED must be 0 or more")
    args.scenario = args.scenario or "success"
    if args.scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {args.scenario!r}; choose one of: {', '.join(SCENARIOS)}")
    if args.job_hours is not None and not 0 < args.job_hours <= 48:
        raise UsageError("--job-hours must be above 0 and at most 48")
    assembly = Path(args.assembly) if args.assembly else None
    if assembly is not None and not (assembly / "manifest.json").is_file():
        raise UsageError(f"--assembly {args.assembly}: no cloud assembly there (manifest.json missing)")
    try:
        env_name = args.env or (environment_of(assembly) if assembly else None)
        model, environment = choose(args.scenario, args.model, env_name)
        target_for(environment, args.team)  # an unknown --team is refused before anything runs
    except (NoOfflineWorld, ConfigError, UnknownTeam) as exc:
        raise UsageError(str(exc)) from None
    print(describe_source(config_path(environment), load_config(environment)), file=sys.stderr)
    files = _own_files(args)
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        raise UsageError("--threshold must be a number from 0 to 1")
    live = LiveProgress(enabled=not args.json)

    # The handlers log structured JSON to stdout as in Lambda; keep it out of the terminal and of --json.
    name = args.scenario if args.chaos is None else f"chaos-{args.chaos}"
    # One file per run: two runs of one scenario at once (two terminals, a test beside a demo) never share one.
    handle, chosen = tempfile.mkstemp(prefix=f"bft-local-run-{name}-", suffix=".log")
    os.close(handle)
    log_path = Path(chosen)
    out_dir = Path(args.report_dir) if args.report_dir else ROOT / "reports" / "local" / name
    try:
        with log_path.open("w") as log, contextlib.redirect_stdout(log):
            common: dict[str, Any] = {
                "job_hours": args.job_hours,
                "progress": live.say,
                "on_bedrock": live.watch_jobs,
                "assembly": assembly,
                "environment": environment,
                "model": model,
                "report_dir": out_dir,
            }
            if args.chaos is not None:
                from bft_twin.chaos import run_chaos

                summary = run_chaos(args.chaos, **common)
            else:
                summary = _refused_or(
                    lambda: run_scenario(
                        args.scenario,
                        training=files.get("training"),
                        validation=files.get("validation"),
                        evaluation=files.get("evaluation"),
                        threshold=args.threshold,
                        evaluation_options=_evaluation_options(args),
                        team=args.team,
                        **common,
                    ),
                    name=args.scenario,
                    environment=environment,
                )
    finally:
        live.close()
    summary["lambda_log"] = str(log_path)
    # The report is the one Finalize wrote into the simulated bucket, downloaded by run_scenario.
    if summary.get("report_objects"):  # a chaos run whose execution never ended has no report
        summary["report_html"] = str((out_dir / "report.html").resolve())
        summary["report_md"] = str((out_dir / "report.md").resolve())
    if summary.get("own_data"):
        # A run on your files: no outcome was expected, so none is "intended"; it deployed or it did not.
        summary["deployed"] = summary.get("outcome") == "deployed"
        succeeded = summary["deployed"]
    else:
        summary["ended_as_intended"] = succeeded = ended_as_intended(summary)
    summary["verdict"] = _verdict(summary)
    if args.json:
        # The run and its documents are in the report files; stdout stays one readable summary.
        printable = {k: v for k, v in summary.items() if k not in ("report", "documents")}
        print(json.dumps(printable, indent=1, default=str))
    elif summary.get("status") == "REFUSED":
        print(f"{_what_ran(summary)}: refused before the run started: {summary['error']}")
    elif "states_visited" not in summary:
        print(f"chaos seed {summary['seed']}: the execution never ended: {summary.get('error')}")
        _print_chaos(summary)
    else:
        _print_summary(summary)
    return EXIT_OK if succeeded else EXIT_NEGATIVE


def _refused_or(run: Any, *, name: str, environment: str) -> dict[str, Any]:
    """The run's summary; or, when AWS (the offline IAM) refused the team member's own call before or while
    submitting (an AccessDenied on the submitter's side), a summary that says so, so --json prints one either way."""
    from botocore.exceptions import ClientError

    from bft_twin.iam.authorizer import AccessDeniedError
    from bft_twin.run import SCENARIOS

    try:
        result: dict[str, Any] = run()
        return result
    except (ClientError, AccessDeniedError) as exc:
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else exc.code
        if "AccessDenied" not in str(code) and "Unauthorized" not in str(code):
            raise
        return {
            "scenario": name,
            "environment": environment,
            "status": "REFUSED",
            "outcome": "access_denied",
            "expected_outcome": SCENARIOS[name].outcome if name in SCENARIOS else "deployed",
            "error": f"{code}: {exc}",
        }


# Scenarios that swap the training file for one of their own: they cannot run on the user's.
_OWN_TRAINING_FILE = ("invalid-dataset", "eval-below-threshold")


def _own_files(args: argparse.Namespace) -> dict[str, Path]:
    named = {"training": args.training, "validation": args.validation, "evaluation": args.evaluation}
    files = {kind: Path(value) for kind, value in named.items() if value is not None}
    if files and "training" not in files:
        raise UsageError("--validation and --evaluation need --training")
    if files and args.scenario in _OWN_TRAINING_FILE:
        raise UsageError(f"--training cannot be used with --scenario {args.scenario}: it brings its own training file")
    for kind, path in files.items():
        if not path.is_file():
            raise UsageError(f"--{kind} {path}: no such file")
    return files


def _evaluation_options(args: argparse.Namespace) -> dict[str, Any]:
    """The evaluation fields the command line sets (ValidateRequest checks them as it checks any request's)."""
    options: dict[str, Any] = {}
    if args.scorer is not None:
        options["scorer"] = args.scorer
    if args.metric is not None:
        options["metric"] = args.metric
    if args.base_prompt is not None:
        try:
            options["baseSystemPrompt"] = Path(args.base_prompt).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--base-prompt {args.base_prompt}: {getattr(exc, 'strerror', None) or exc}") from exc
    return options


def ended_as_intended(summary: dict[str, Any]) -> bool:
    """The scenario's expected outcome, reached on the matching path (a deployment succeeds, the rest fail);
    a chaos run's outcome is not known in advance: it ends as intended when every invariant held."""
    if "invariants" in summary:
        return all(summary["invariants"].values())
    expected = summary["expected_outcome"]
    # A scenario's follow-ups (a rollback, the reaper's TTL) say whether they showed what they had to.
    followed_up = all(item.get("as_intended", True) for item in summary.get("afterwards") or [])
    on_its_path = (summary["status"] == "SUCCEEDED") == (expected == "deployed")
    return bool(summary["outcome"] == expected and on_its_path and followed_up)


class LiveProgress:
    """Progress on stderr: each state as it is entered, the simulated job while WaitForJob waits, elapsed time."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.began = time.monotonic()
        self.state = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def say(self, message: str) -> None:
        entered = _STATE_ENTERED.fullmatch(message)
        if entered:
            self.state = entered.group(1)
        if self.enabled:
            with self._lock:  # the runner, the reviewer and the job watcher all speak from their own threads
                print(f"[{time.monotonic() - self.began:6.1f}s] {message}", file=sys.stderr, flush=True)

    def watch_jobs(self, fake: FakeBedrock) -> None:
        if self.enabled:
            self._thread = threading.Thread(target=self._watch, args=(fake,), daemon=True, name="bft-local-progress")
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self, fake: FakeBedrock) -> None:
        while not self._stop.wait(_JOB_PROGRESS_EVERY):
            if self.state != "WaitForJob":
                continue
            try:
                jobs, now = fake.running_jobs(), fake.now()
            except Exception as exc:  # progress is cosmetic: it must never disturb the run
                self.say(f"  (simulated job progress unavailable: {exc})")
                return
            for job in jobs:
                self.say(job_progress_line(job, now))


def job_progress_line(job: dict[str, Any], now: datetime) -> str:
    """One line about a simulated customization job: status, active phase, simulated hours so far."""
    phases = {
        name.removesuffix("Details"): str(detail.get("status"))
        for name, detail in (job.get("statusDetails") or {}).items()
        if isinstance(detail, dict)
    }
    active = next((name for name, status in phases.items() if status == "InProgress"), None)
    hours = (now - job["creationTime"]).total_seconds() / 3600
    phase = f", phase {active}" if active else ""
    return f"  simulated Bedrock: job {job.get('jobName', '?')} {job.get('status')}{phase}, {hours:.1f} h simulated"


def _print_summary(summary: dict[str, Any]) -> None:
    report = summary.get("report") or {}
    expected = "" if summary.get("own_data") else f" (expected {summary['expected_outcome']})"
    print(
        f"\n{_what_ran(summary)}: execution {summary['status']}, outcome {summary['outcome']}{expected}; "
        "Bedrock was simulated"
    )
    print(f"  base model {summary['model']} in environment {summary['environment']} ({summary['region']})")
    print(f"  path: {' -> '.join(summary['states_visited'])}")
    errors = summary.get("dataset_errors") or []
    if errors:
        document = (summary.get("documents") or {}).get("dataset-validation.json") or {}
        total = int(document.get("error_count") or len(errors))
        shown = f", the first {len(errors)}:" if total > len(errors) else ":"
        print(f"  dataset refused: {total:,} error{'s' if total != 1 else ''}{shown}")
        for line in errors:
            print(f"    {line}")
    print(
        f"  jobs started {summary['jobs_started']}, left running {summary['jobs_left_running']}; "
        + (
            f"judge evaluation jobs left running {summary.get('evaluation_jobs_left_running', 0)}; "
            if summary.get("evaluation_jobs")
            else ""
        )
        + f"provisioned throughputs left: {summary['provisioned_throughputs_left'] or 'none'}; "
        f"on-demand deployments left: {summary['deployments_left'] or 'none'}"
    )
    serving = summary.get("serving")
    if serving:
        hourly = serving["hourly_cost_usd"]
        cost = "no hourly charge" if hourly == 0 else (f"{hourly} USD per hour" if hourly is not None else "unknown")
        print(f"  serving: {serving['kind']} {serving['arn']}, {cost}" + (" (illustrative price)" if hourly else ""))
    _print_endpoint(summary)
    scored = (summary.get("documents") or {}).get("evaluation.json") or {}
    if scored.get("scorerSource"):
        how = "requested" if scored["scorerSource"] == "requested" else f"chosen: {scored.get('scorerReason')}"
        default = " (the default)" if scored.get("thresholdSource") == "default" else ""
        print(f"  evaluation: scorer {scored['scorer']} ({how}); threshold {scored.get('threshold')}{default}")
    queries = summary.get("per_query")
    if queries:
        costs = queries.get("per_thousand_queries_usd") or {}
        for name, figure in queries["models"].items():
            usd = costs.get(name)
            price = f"{usd:.4f} USD per 1,000 queries" if isinstance(usd, int | float) else "no per-query price"
            print(
                f"  {name} model: {figure['tokens']:g} tokens per query, latency p50 {figure['latencyMsP50']} ms, "
                f"{price} (simulated)"
            )
        if queries.get("token_reduction") is not None:
            print(f"  tokens per query, custom against base: {queries['token_reduction']:+.0%} (simulated)")
    print(
        f"  {summary['state_transitions']} state transitions, {summary['lambda_invocations']} Lambda invocations, "
        f"{summary['elapsed_seconds']} s"
    )
    authorization = summary["authorization"]
    print(
        f"  IAM (from the templates): {authorization['calls_authorized']} calls authorized, "
        f"{authorization['calls_denied']} refused"
    )
    for refused in authorization["denied"]:
        print(f"    refused: {refused}")
    for parameter in summary.get("scenario_parameters") or []:
        print(f"  simulated scenario parameter: {parameter}")
    for note in summary["notifications"]:
        print(f"  notification: {note['subject']}")
    print(f"  run.json (in the simulated S3): {summary['report_uri']}")
    print(f"  Finalize wrote: {', '.join(key.rsplit('/', 1)[-1] for key in summary.get('report_objects') or [])}")
    print(f"  Lambda logs: {summary['lambda_log']}")
    if "invariants" in summary:
        _print_chaos(summary)
    print()
    print(summary.get("verdict") or _verdict(summary))
    if summary["outcome"] != "deployed" and report.get("runbook"):
        print(f"Next step (runbook): {report['runbook']}")
    if "report_html" not in summary:
        print("Report: none (Finalize wrote no report for this run; see the Lambda logs)")
        return
    html_path = Path(summary["report_html"])
    print(f"Report: {_shown(html_path)}")
    print(f"        {_shown(Path(summary['report_md']))} (Markdown)")
    print(f"Open it in a browser (works offline): {html_path.as_uri()}")


def _print_endpoint(summary: dict[str, Any]) -> None:
    """The runs of a scenario that runs the team several times, its team endpoint, and what followed."""
    runs = summary.get("runs") or []
    if len(runs) > 1:
        for number, run in enumerate(runs, 1):
            promotion = run.get("promotion") or {}
            moved = (
                f"; endpoint {promotion.get('endpoint')}: {promotion.get('before') or 'nothing'} -> "
                f"{promotion.get('after')}"
                if promotion.get("ready")
                else ""
            )
            print(f"  run {number}: {run['requestId']} {run['status']}, {run['outcome']}, model {run['model']}{moved}")
    endpoint = summary.get("endpoint")
    if endpoint:
        print(
            f"  team endpoint {endpoint['name']} after the runs: {endpoint['arn']} serves {endpoint['serves']} "
            f"(previous model: {endpoint['previous_model'] or 'none'})"
        )
    for follow_up in summary.get("afterwards") or []:
        done = follow_up.get("rollback") or {}
        if done:
            print(f"  then, as the team member: {' '.join(done['command'])} -> exit {done['exit_code']}")
            for line in (done["stdout"] + done["stderr"]).splitlines():
                print(f"    {line}")
        after = follow_up.get("endpoint")
        if after:
            print(f"  team endpoint {after['name']} now: {after['arn']} serves {after['serves']}")


def _print_chaos(summary: dict[str, Any]) -> None:
    print(f"  chaos seed {summary['seed']}, faults drawn:")
    for fault in summary["faults"]:
        # A fault that did not act was not survived: it was not exercised, and says so.
        fired = f" (acted {fault['fired']} times)" if fault.get("fired") else " (NOT exercised: it never acted)"
        print(f"    - {fault['what']}{fired}")
    for fault in summary.get("faults_could_not_act") or []:
        print(f"    - could not act on this run: {fault}")
    print("  invariants:")
    for name, held in summary["invariants"].items():
        print(f"    {'held  ' if held else 'BROKEN'} {name}")


def _what_ran(summary: dict[str, Any]) -> str:
    own = summary.get("own_data")
    return f"your data ({own['train']})" if own else f"scenario {summary['scenario']}"


def _own_verdict(summary: dict[str, Any]) -> str:
    """What a run on the user's files said, in its own terms: deployed, or which check said no and why."""
    from bft.report.render import error_message
    from bft_twin.run.collect import in_your_files

    outcome = summary["outcome"]
    paths = summary["own_data"] or {}
    own_files = {uri: paths[kind] for kind, uri in (summary.get("own_data_uris") or {}).items() if kind in paths}
    scored = (summary.get("documents") or {}).get("evaluation.json") or {}
    score = ""
    if scored.get("scores"):
        metric, custom = scored.get("metric"), scored["scores"].get("custom")
        threshold = scored.get("threshold")
        default = " (the default)" if scored.get("thresholdSource") == "default" else ""
        if isinstance(custom, int | float) and isinstance(threshold, int | float):
            score = f"{scored.get('scorer')} {metric} {custom:.1%} against a threshold of {threshold:.1%}{default}"
    if outcome == "deployed":
        serving = summary.get("serving") or {}
        evaluated = f"passed its evaluation ({score})" if score else "was not evaluated (no --evaluation file)"
        return f"your data: deployed: the custom model {evaluated} and serves on {serving.get('arn', '?')} (simulated)"
    if outcome == "eval_below_threshold":
        return f"your data: not deployed: the evaluation said no: {score or 'under the threshold'}"
    if outcome == "dataset_invalid":
        return "your data: not deployed: the dataset was refused before any job (the errors above, in your files)"
    message = in_your_files(error_message((summary.get("report") or {}).get("error")) or "no error message", own_files)
    return f"your data: not deployed: {outcome}: {message}"


def _verdict(summary: dict[str, Any]) -> str:
    from bft.report.render import error_message

    if summary.get("own_data"):
        return _own_verdict(summary)
    scenario, outcome, expected = summary.get("scenario"), summary.get("outcome"), summary.get("expected_outcome")
    if "invariants" in summary:
        broken = [name for name, held in summary["invariants"].items() if not held]
        if broken:
            return f"chaos seed {summary['seed']} BROKE invariants {', '.join(broken)} (outcome {outcome})"
        return f"chaos seed {summary['seed']} held every invariant: outcome {outcome} (execution {summary['status']})"
    if not ended_as_intended(summary):
        return (
            f"scenario {scenario} did NOT end as intended: expected {expected}, "
            f"got {outcome} (execution {summary['status']})"
        )
    if outcome == "deployed":
        serving = summary.get("serving") or (summary.get("report") or {}).get("serving") or {}
        return f"scenario {scenario} ended as intended: deployed, serving on {serving.get('arn', '?')} (simulated)"
    message = error_message((summary.get("report") or {}).get("error")) or "no error message"
    return f"scenario {scenario} ended in the failure path as intended: {outcome}: {message}"


def _shown(path: Path) -> str:
    """The path relative to the working directory when it lies under it (what a reader types), else absolute."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)
