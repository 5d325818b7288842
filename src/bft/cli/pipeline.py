"""Commands for a deployed environment: submit, status, list, approve, reject, teardown.

Each finds the environment's resources through its stack outputs (`bft.deployment`), acts with the
caller's AWS credentials (the team's submitter role), and fails with a message that says what to do.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bft.cli import EXIT_NEGATIVE, EXIT_OK, UsageError
from bft.cli.settings import add_config_dir, default_base_model, team_config
from bft.errors import BaseModelUnavailable, RequestInvalid
from bft.names import REQUEST_ID

if TYPE_CHECKING:
    from bft.config import EnvironmentConfig
    from bft.deployment import Deployment

# boto3, pydantic and the workflow modules load inside the commands: `bft validate` (and --help) must not
# pay for them (memory and start-up time).


def register(subparsers: Any) -> None:
    def command(name: str, help_: str) -> argparse.ArgumentParser:
        parser = subparsers.add_parser(name, help=help_, description=help_)
        parser.add_argument("--env", default="dev", help="environment (<config dir>/<env>.yaml); default dev")
        parser.add_argument("--team", required=True, help="your team, as onboarded in the environment's config")
        add_config_dir(parser)
        return parser

    submit = command("submit", "validate locally, upload to the team's prefix and start a fine-tuning run")
    submit.add_argument("training", help="training JSONL file")
    submit.add_argument("--validation", help="validation JSONL file")
    submit.add_argument("--evaluation", help="evaluation JSONL file (scored against the base model after serving)")
    submit.add_argument(
        "--threshold",
        type=float,
        help="evaluation score (0 to 1) the custom model must reach (default 0: no minimum); needs --evaluation",
    )
    submit.add_argument(
        "--scorer",
        help="how evaluation answers are scored: classification, json_match, exact_match, normalized_match, "
        "contains or rouge_l (default: chosen from the evaluation file's expected answers, said below)",
    )
    submit.add_argument(
        "--metric",
        help="the scorer's metric the threshold applies to (classification: accuracy, macro_f1, ...; json_match: "
        "structural_match, field_f1, ...)",
    )
    submit.add_argument(
        "--json-schema",
        metavar="FILE",
        help="a JSON Schema (file) the answers must satisfy, for json_match; its subset: docs/evaluation.md",
    )
    submit.add_argument(
        "--base-prompt",
        metavar="FILE",
        help="the base model's production prompt (text file: instructions and examples) for a fair comparison of "
        "tokens per query; the custom model keeps the records' short prompt",
    )
    submit.add_argument("--eval-max-records", type=int, help="evaluation records scored (default 200, at most 10,000)")
    submit.add_argument(
        "--base-model", default=None, help="base model id (default: the team's first allowed model in the config)"
    )
    submit.add_argument(
        "--customization",
        choices=("fine-tuning", "reinforcement", "distillation"),
        help="fine-tuning (default), reinforcement (prompts + a grader) or distillation (not yet available)",
    )
    submit.add_argument(
        "--grader",
        metavar="NAME|ARN",
        help="reinforcement: a built-in grader (exact_match, normalized_match, json_match, regex, numeric) or your "
        "team's grader function ARN",
    )
    submit.add_argument(
        "--grader-option", action="append", default=[], metavar="NAME=VALUE", help="a built-in grader's option"
    )
    submit.add_argument("--request-id", help="idempotency key and execution name (default: derived, printed)")
    submit.add_argument("--epochs", type=int, help="epochCount hyperparameter")
    submit.add_argument("--hyperparameter", action="append", default=[], metavar="NAME=VALUE")
    submit.add_argument("--model-units", type=int, help="provisioned throughput model units")
    submit.add_argument(
        "--serving-kind",
        help="on-demand-deployment (Nova: billed per token) or provisioned-throughput (default: the environment's "
        "choice for the model, else its cheapest)",
    )
    submit.add_argument(
        "--commitment",
        help="provisioned throughput term: none (default, hourly), OneMonth or SixMonths (when the team may commit)",
    )
    submit.add_argument("--keep-on-failure", action="store_true", help="keep the throughput if a later step fails")
    endpoint = submit.add_mutually_exclusive_group()
    endpoint.add_argument(
        "--endpoint",
        metavar="NAME",
        help="the team's stable endpoint (an on-demand deployment) to point at the new model once it passed "
        "(default: the team's serving_endpoint in the config)",
    )
    endpoint.add_argument(
        "--no-endpoint", action="store_true", help="serve this run on its own deployment, not the team's endpoint"
    )
    approval = submit.add_mutually_exclusive_group()
    approval.add_argument("--approval", dest="approval", action="store_true", default=None)
    approval.add_argument("--no-approval", dest="approval", action="store_false")
    submit.add_argument("--dry-run", action="store_true", help="validate and estimate the cost; upload nothing")
    submit.set_defaults(func=run_submit)

    status = command("status", "show a run's state, outcome and report")
    status.add_argument("--request-id", required=True)
    status.set_defaults(func=run_status)

    listing = command("list", "list the team's recent runs")
    listing.add_argument("--max", type=int, default=20)
    listing.set_defaults(func=run_list)

    for name, approve in (("approve", True), ("reject", False)):
        parser = command(name, f"{name} a trained model that waits for review before serving")
        parser.add_argument("--request-id", required=True)
        parser.add_argument("--reason", default="", required=not approve)
        parser.set_defaults(func=run_decide, approve=approve)

    teardown = command("teardown", "delete the provisioned throughput a run created (stops its hourly cost)")
    teardown.add_argument("--request-id", required=True)
    teardown.add_argument("--delete-model", action="store_true", help="also delete the custom model")
    teardown.set_defaults(func=run_teardown)

    offboard = command(
        "offboard", "check that nothing of the team still runs or serves, then say how to destroy its stack"
    )
    offboard.set_defaults(func=run_offboard)


# -- shared --------------------------------------------------------------------------------------------------
def _config(args: argparse.Namespace) -> EnvironmentConfig:
    """The environment's config and its team, from --config-dir / BFT_CONFIG_DIR; says which file it read."""
    return team_config(args)


def _client(config: EnvironmentConfig, service: str) -> Any:
    """A client in the environment's configured region, whatever AWS_DEFAULT_REGION says."""
    from bft import aws

    return aws.client(service, region=config.region)


def _deployment(config: EnvironmentConfig) -> Deployment:
    from bft.deployment import DeploymentError, discover

    try:
        return discover(config, cloudformation=_client(config, "cloudformation"), ssm=_client(config, "ssm"))
    except DeploymentError as exc:
        raise UsageError(str(exc)) from exc


def _request_id(value: str) -> str:
    if not REQUEST_ID.match(value):
        raise UsageError(f"--request-id {value!r}: 1-40 letters, digits or '-', starting alphanumeric")
    return value


# -- submit --------------------------------------------------------------------------------------------------
def run_submit(args: argparse.Namespace) -> int:
    from botocore.exceptions import ClientError

    from bft.dataset import summary_text, validate_paths
    from bft.families import default_epochs, family_for
    from bft.workflow.report import estimate_cost
    from bft.workflow.request import check_request

    config = _config(args)
    if args.base_model is None:
        args.base_model = default_base_model(config, args.team)
        print(f"base model: {args.base_model} (the team's default; --base-model to choose another)")
    try:
        family = family_for(args.base_model)
    except BaseModelUnavailable as exc:
        raise UsageError(str(exc)) from exc
    for path in (args.training, args.validation, args.evaluation, args.json_schema, args.base_prompt):
        if path and not Path(path).is_file():
            raise UsageError(f"no such file: {path}")
    hyper: dict[str, str] = {}
    for item in args.hyperparameter:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--hyperparameter {item!r}: expected NAME=VALUE")
        hyper[name] = value
    if args.epochs is not None:
        hyper["epochCount"] = str(args.epochs)
    request_id = _request_id(args.request_id or _derived_request_id(args))

    # Guardrails first: what the workflow would refuse, refused here before anything is uploaded.
    placeholder_bucket = "bucket-to-be-discovered"
    prefix = f"s3://{placeholder_bucket}/{args.team}/{request_id}"
    request: dict[str, Any] = {
        "team": args.team,
        "baseModelId": args.base_model,
        "trainingDataUri": f"{prefix}/train.jsonl",
        "hyperParameters": hyper,
        "requestId": request_id,
        "serving": {"keep": args.keep_on_failure}
        | ({"modelUnits": args.model_units} if args.model_units is not None else {})
        | ({"kind": args.serving_kind} if args.serving_kind is not None else {})
        | ({"commitment": args.commitment} if args.commitment is not None else {})
        | ({"endpoint": args.endpoint} if args.endpoint else {"endpoint": None} if args.no_endpoint else {}),
    }
    if args.validation:
        request["validationDataUri"] = f"{prefix}/validation.jsonl"
    schema = _json_schema(args.json_schema) if args.json_schema else None
    base_prompt = _text_file("--base-prompt", args.base_prompt) if args.base_prompt else None
    if args.evaluation:
        # A threshold not given is left out: the request's default, which the report names as such.
        request["evaluation"] = {"dataUri": f"{prefix}/evaluation.jsonl"} | {
            key: value
            for key, value in (
                ("threshold", args.threshold),
                ("scorer", args.scorer),
                ("metric", args.metric),
                ("maxRecords", args.eval_max_records),
                ("jsonSchema", schema),
                ("baseSystemPrompt", base_prompt),
            )
            if value is not None
        }
    elif any(
        value is not None
        for value in (args.threshold, args.scorer, args.metric, args.eval_max_records, schema, base_prompt)
    ):
        option, field = next(
            (name, field)
            for name, field, value in (
                ("--threshold", "threshold", args.threshold),
                ("--scorer", "scorer", args.scorer),
                ("--metric", "metric", args.metric),
                ("--eval-max-records", "maxRecords", args.eval_max_records),
                ("--json-schema", "jsonSchema", schema),
                ("--base-prompt", "baseSystemPrompt", base_prompt),
            )
            if value is not None
        )
        print(
            f"refused before upload: evaluation.{field}: {option} needs --evaluation FILE (without an evaluation "
            "set nothing is scored, so the run would deploy whatever it trains)"
        )
        return EXIT_NEGATIVE
    if args.approval is not None:
        request["approvalRequired"] = args.approval
    if args.customization is not None:
        request["customization"] = args.customization
    if args.grader is not None or args.grader_option:
        request["grader"] = _grader(args.grader, args.grader_option)
    try:
        checked = check_request(
            request, config.policy_document(placeholder_bucket), assigned_team=args.team, default_request_id=request_id
        )
    except (RequestInvalid, BaseModelUnavailable) as exc:
        print(f"refused before upload: {exc}")
        return EXIT_NEGATIVE

    epochs = int(checked["hyperParameters"].get("epochCount", default_epochs(family)))
    print(_customization_line(checked))
    report = validate_paths(
        args.base_model,
        args.training,
        args.validation,
        evaluation=args.evaluation,
        epochs=epochs,
        customization=checked["customization"],
    )
    print(summary_text(report))
    if not report.valid:
        print("refused before upload: the dataset is invalid (see above); nothing was uploaded or started")
        return EXIT_NEGATIVE
    cost = estimate_cost(
        {"family": family.name, "baseModelId": args.base_model, "serving": checked["serving"]},
        {"statistics": report.to_dict()["statistics"]},
        config.price_document(),
    )
    if checked["customization"] == "reinforcement":
        # Reinforcement fine-tuning bills the rollouts the grader scores, not the tokens of answered records.
        print("cost estimate: not yet for reinforcement fine-tuning (its training is billed otherwise)")
    else:
        print(_cost_line(cost, epochs, checked["serving"]["modelUnits"]))
    over_cap = _spend_cap(config, args.team, checked["serving"], cost)
    if over_cap:
        print(f"refused before upload: {over_cap}")
        return EXIT_NEGATIVE
    if checked["evaluation"]:
        try:
            print(_scorer_line(checked["evaluation"], args.evaluation))
        except RequestInvalid as exc:  # the Evaluate step would refuse it, after the training
            print(f"refused before upload: {exc}")
            return EXIT_NEGATIVE
    promoted = checked["serving"].get("endpoint")
    if promoted:
        print(
            f"endpoint: once evaluated, the new model replaces what endpoint {promoted['name']} serves "
            f"(deployment {promoted['deploymentName']}, same ARN; `bft rollback` points it back)"
        )
    elif checked["serving"].get("endpointSkipped"):
        print(f"warning: {checked['serving']['endpointSkipped']}")
    if args.dry_run:
        print(f"dry run: request {request_id} is valid; nothing was uploaded or started")
        return EXIT_OK

    deployment = _deployment(config)
    team = deployment.team(args.team)
    s3, sfn = _client(config, "s3"), _client(config, "stepfunctions")
    uploads = {"train.jsonl": args.training, "validation.jsonl": args.validation, "evaluation.jsonl": args.evaluation}
    final = json.loads(json.dumps(request).replace(placeholder_bucket, deployment.datasets_bucket))
    for key, path in uploads.items():
        if path:
            s3.upload_file(path, deployment.datasets_bucket, f"{args.team}/{request_id}/{key}")
    try:
        started = sfn.start_execution(stateMachineArn=team.state_machine_arn, name=request_id, input=json.dumps(final))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            print(
                f"request {request_id} was already submitted: bft status --env {args.env} --team {args.team} "
                f"--request-id {request_id}"
            )
            return EXIT_NEGATIVE
        raise
    print(f"submitted {request_id}: {started['executionArn']}")
    print(f"follow it: bft status --env {args.env} --team {args.team} --request-id {request_id}")
    return EXIT_OK


def _spend_cap(config: Any, team_name: str, serving: dict[str, Any], cost: dict[str, Any]) -> str | None:
    """The team's monthly cap, as the workflow's CheckSpendCap state checks it (bft.workflow.spend): the
    refusal, or None after printing where the month stands. Not checked (said so) when the reports cannot be
    read from here: the workflow checks it before any job anyway."""
    from botocore.exceptions import BotoCoreError, ClientError

    from bft import clock
    from bft.errors import OverCap
    from bft.workflow.spend import CAP_KEY, check_cap, month_of, month_to_date, run_estimate

    team = config.team(team_name)
    if team.monthly_cap_usd is None:
        return None
    estimate = run_estimate(cost, serving)
    try:
        deployment = _deployment(config)
        spend = month_to_date(_client(config, "s3"), deployment.reports_bucket, team_name, month_of(clock.now()))
        check_cap(team_name, team.monthly_cap_usd, config.team_guardrails(team)["capConfigKey"], spend, estimate)
    except OverCap as exc:
        return str(exc)
    except (UsageError, BotoCoreError, ClientError) as exc:
        print(f"{CAP_KEY}: not checked here ({exc}); the workflow checks it before any job starts")
        return None
    total = spend.total_usd + estimate.usd
    print(
        f"{CAP_KEY}: {spend.words()} + this run's estimate ${estimate.usd:,.2f} = ${total:,.2f} of "
        f"${team.monthly_cap_usd:,.2f}"
    )
    for warning in spend.warnings:
        print(f"warning: {warning}")
    return None


def _grader(name: str | None, options: list[str]) -> dict[str, Any]:
    """--grader NAME|ARN and its --grader-option NAME=VALUE (values read as JSON, else as text)."""
    if name is None:
        raise UsageError("--grader-option needs --grader NAME")
    if name.startswith("arn:"):
        if options:
            raise UsageError("--grader-option applies to a built-in grader, not to a function ARN")
        return {"functionArn": name}
    from bft.cli.grader import _options

    return {"builtin": name, **_options(options, "--grader-option")}


def _customization_line(checked: dict[str, Any]) -> str:
    line = f"customization: {checked['customization']} ({checked['customizationType']})"
    grader = checked.get("grader")
    if grader and "builtin" in grader:
        options = ", ".join(f"{k}={v!r}" for k, v in grader["options"].items())
        line += f"; grader: built-in {grader['builtin']}" + (f" ({options})" if options else "")
    elif grader:
        line += f"; grader: function {grader['functionArn']}"
    return line


def _text_file(option: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{option} {path}: {getattr(exc, 'strerror', None) or exc}") from exc


def _json_schema(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--json-schema {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(f"--json-schema {path}: not JSON ({exc})") from exc


def _scorer_line(spec: dict[str, Any], path: str) -> str:
    """Which scorer, gate metric and threshold the run will use, and why: the request's scorer, or the one
    the Evaluate step will choose from the same file (read here as it will read it). RequestInvalid when the
    Evaluate step would refuse the metric."""
    from bft.workflow.evaluation import expected_answers, resolve_scorer

    threshold = f"threshold {spec['threshold']:g}" + (
        " (the default: no minimum; --threshold to set one)" if spec.get("thresholdSource") == "default" else ""
    )
    try:
        with open(path, "rb") as lines:
            expected = expected_answers(lines, path, spec["maxRecords"])
    except (OSError, RequestInvalid):
        expected = []
    if not expected:  # not readable here: the Evaluate step reads it (and refuses what does not fit)
        if spec.get("scorer") is None:
            return f"evaluation: the scorer will be chosen from the evaluation data at run time; {threshold}"
        return f"evaluation: scorer {spec['scorer']} (requested), gate metric {spec['metric']}, {threshold}"
    choice = resolve_scorer(spec, expected)
    how = "requested" if choice["source"] == "requested" else f"chosen from {path}: {choice['reason']}"
    return f"evaluation: scorer {choice['name']} ({how}), gate metric {choice['metric']}, {threshold}"


def _derived_request_id(args: argparse.Namespace) -> str:
    """Same files and options, same id: resubmitting by accident is caught as a duplicate."""
    import hashlib

    digest = hashlib.sha256()
    for path in (args.training, args.validation, args.evaluation):
        if path:
            digest.update(Path(path).read_bytes())
    digest.update(json.dumps([args.base_model, args.epochs, args.hyperparameter, args.model_units]).encode())
    # Options added later count only when given, so the ids of earlier submissions stay the same.
    added = (
        [args.serving_kind, args.commitment, args.threshold, args.scorer],
        [args.metric, args.eval_max_records],
        [Path(args.json_schema).read_text(encoding="utf-8") if args.json_schema else None],
        [Path(args.base_prompt).read_text(encoding="utf-8") if args.base_prompt else None],
    )
    for later in added:
        if any(option is not None for option in later):
            digest.update(json.dumps(later).encode())
    return f"{re.sub(r'[^a-z0-9]', '', args.team)[:16]}-{digest.hexdigest()[:12]}"


def _cost_line(cost: dict[str, Any], epochs: int, units: int) -> str:
    tokens = cost.get("estimatedBilledTokens")
    training = f"${cost['trainingUsd']:.2f}" if cost.get("trainingUsd") is not None else "unknown (no price configured)"
    served = cost.get("onDemandPer1kTokensUsd")
    if served is not None:
        rates = " / ".join(
            f"${served[k]:.6f}".rstrip("0") if served.get(k) is not None else "unknown" for k in ("input", "output")
        )
        serving = f"on-demand deployment, no hourly charge; {rates} per 1,000 input / output tokens served"
    elif cost.get("servingPerHourUsd") is not None:
        serving = f"{units} model unit(s) with {cost.get('commitment')} = ${cost['servingPerHourUsd']:.2f}/hour"
    else:
        serving = f"{units} model unit(s) = unknown per hour (no price configured)"
    line = f"cost estimate: training ~{tokens} billed tokens ({epochs} epochs) = {training}; serving {serving}"
    if cost.get("priceSource") == "illustrative":
        line += f"\n  {cost['note']}"
    return line


# -- status / list -------------------------------------------------------------------------------------------
def run_status(args: argparse.Namespace) -> int:
    from botocore.exceptions import ClientError

    config = _config(args)
    deployment = _deployment(config)
    request_id = _request_id(args.request_id)
    sfn = _client(config, "stepfunctions")
    try:
        execution = sfn.describe_execution(executionArn=deployment.execution_arn(args.team, request_id))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
            raise UsageError(f"no run {request_id} for team {args.team} in {args.env}") from exc
        raise
    status = execution["status"]
    print(f"{request_id}: {status} (started {execution['startDate']:%Y-%m-%d %H:%M:%S %Z})")
    if status == "RUNNING":
        # No execution history for submitters: it carries the approval's task token (issue #23).
        print(f"now: {_running_in_words(execution, args)}")
    report = _read_report(deployment, args.team, request_id)
    if report:
        print(f"outcome: {report['outcome']}")
        for warning in report.get("warnings", []):
            print(f"warning: {warning}")
        for item in report.get("leftRunning", []):
            print(f"still running: {item['type']} {item['arn']} ({item['reason']})")
        if report.get("error"):
            print(f"error: {report['error'].get('Error')}: {report['error'].get('Cause', '')[:500]}")
        prefix = f"s3://{deployment.reports_bucket}/reports/{args.team}/{request_id}/"
        print(f"report: {prefix}report.html (run record: {prefix}run.json)")
        print(f"  open it: bft report --env {args.env} --team {args.team} --request-id {request_id} --open")
    return EXIT_OK if execution["status"] in ("RUNNING", "SUCCEEDED") else EXIT_NEGATIVE


def _running_in_words(execution: dict[str, Any], args: argparse.Namespace) -> str:
    """What a submitter can say of a running run: how long it has run, and how a reviewer decides if it waits.

    The state it is in is in the execution's history, which submitters may not read: the history carries the
    task token of a run waiting for approval, and a token is all SendTaskSuccess needs."""
    from datetime import UTC, datetime

    hours = (datetime.now(UTC) - execution["startDate"]).total_seconds() / 3600
    return (
        f"running for {hours:.1f} h (training, serving, evaluating; a run that waits for approval is announced "
        f"to the team's reviewers, who decide with `bft approve --env {args.env} --team {args.team} "
        f"--request-id {args.request_id}`)"
    )


def run_list(args: argparse.Namespace) -> int:

    config = _config(args)
    deployment = _deployment(config)
    sfn = _client(config, "stepfunctions")
    found = sfn.list_executions(
        stateMachineArn=deployment.team(args.team).state_machine_arn, maxResults=max(1, min(args.max, 100))
    )["executions"]
    if not found:
        print(f"no runs for team {args.team} in {args.env}")
    for execution in found:
        print(f"{execution['name']:<42} {execution['status']:<10} {execution['startDate']:%Y-%m-%d %H:%M}")
    return EXIT_OK


def _read_report(deployment: Deployment, team: str, request_id: str) -> dict[str, Any] | None:
    from bft import aws
    from bft.workflow.s3io import find_json, report_key

    s3 = aws.client("s3", region=deployment.region)
    found: dict[str, Any] | None = find_json(s3, deployment.reports_bucket, report_key(team, request_id, "run.json"))
    return found


# -- approve / reject / teardown ---------------------------------------------------------------------------
def run_decide(args: argparse.Namespace) -> int:
    """POST the decision, SigV4-signed with the caller's credentials, to the approval function's URL.

    The function checks that the caller is a reviewer of the team (and not its submitter role) and resumes
    the run; this command needs no DynamoDB or Step Functions permission, only lambda:InvokeFunctionUrl.
    """
    import boto3

    from bft.cli.signed_http import NotSigned, post_decision
    from bft.deployment import DeploymentError

    config = _config(args)
    request_id = _request_id(args.request_id)
    if not args.approve and not args.reason.strip():
        raise UsageError("--reason: a rejection needs a reason")
    deployment = _deployment(config)
    try:
        url = deployment.approval_url()
    except DeploymentError as exc:
        raise UsageError(str(exc)) from exc
    decision: dict[str, Any] = {
        "team": args.team,
        "requestId": request_id,
        "approve": args.approve,
        "reason": args.reason,
    }
    try:
        # Who decides, proved by STS to the function as well (bft.workflow.caller_proof).
        status, answer = post_decision(
            url, decision, credentials=boto3.session.Session().get_credentials(), region=deployment.region
        )
    except NotSigned as exc:
        raise UsageError(str(exc)) from exc
    except (OSError, ValueError) as exc:  # DNS, TLS, connection refused, timeout; not https
        raise UsageError(f"cannot reach the approval function at {url}: {exc}") from exc
    message = str(answer.get("message") or answer)
    if 200 <= status < 300:
        print(f"{'approved' if args.approve else 'rejected'} {request_id} ({answer.get('executionArn', '?')})")
        print(message)
        return EXIT_OK
    print(f"bft {args.command}: the approval function refused (HTTP {status}): {message}", file=sys.stderr)
    return EXIT_NEGATIVE


def run_teardown(args: argparse.Namespace) -> int:
    from bft.errors import AccessDenied, ForeignResource, JobFailed
    from bft.teardown import ModelKept, teardown_run

    config = _config(args)
    deployment = _deployment(config)
    request_id = _request_id(args.request_id)
    report = _read_report(deployment, args.team, request_id)
    if not ((report or {}).get("serving") or {}).get("arn"):
        print(f"run {request_id} has no throughput or deployment to tear down")
        return EXIT_OK
    try:
        teardown_run(
            _client(config, "bedrock"),
            environment=deployment.env,
            team=args.team,
            request_id=request_id,
            report=report,
            delete_model=args.delete_model,
            say=print,
        )
    except ModelKept as exc:
        print(exc)
        return EXIT_NEGATIVE
    except (ForeignResource, AccessDenied, JobFailed) as exc:
        print(f"bft teardown: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_NEGATIVE
    return EXIT_OK


def run_offboard(args: argparse.Namespace) -> int:
    """Refuses (exit 1) while the team has runs in flight or serving resources alive: destroying its stack
    then would skip the runs' cleanup or leave a throughput billing with nobody to tear it down."""
    from bft.config import resource_prefix
    from bft.registry import team_stack_name
    from bft.workflow.offboarding import blockers

    config = _config(args)
    deployment = _deployment(config)
    team = deployment.team(args.team)
    found = blockers(
        sfn=_client(config, "stepfunctions"),
        bedrock=_client(config, "bedrock"),
        state_machine_arn=team.state_machine_arn,
        environment=config.name,
        team=args.team,
    )
    stack = team_stack_name(resource_prefix(config), args.team)
    if found:
        print(f"bft offboard: team {args.team} cannot be offboarded from {config.name} yet:", file=sys.stderr)
        for arn in found.running:
            print(f"  run in flight: {arn} (let it end: its cleanup runs only inside the workflow)", file=sys.stderr)
        for item in found.serving:
            if item.get("endpoint") and not item.get("request"):
                # The team's endpoint is no run's: no teardown deletes it (applications may still call it).
                how = (
                    f"team endpoint {item['endpoint']}: once no application calls it, "
                    f"aws bedrock delete-custom-model-deployment --custom-model-deployment-identifier {item['arn']}"
                )
            else:
                how = f"bft teardown --env {config.name} --team {args.team} --request-id {item['request']}"
            print(f"  {item['kind']} still serving ({item['status']}): {item['arn']}\n    {how}", file=sys.stderr)
        print(f"Run `bft offboard --env {config.name} --team {args.team}` again when they are gone.", file=sys.stderr)
        return EXIT_NEGATIVE
    print(f"team {args.team}: no run in flight, nothing serving in {config.name}. Offboard it with")
    print(f"  cdk destroy -c env={config.name} {stack}")
    print(
        f"then remove it from config/{config.name}.yaml. Its data and reports stay in the data stack's buckets "
        f"(s3://{deployment.datasets_bucket}/{args.team}/, s3://{deployment.reports_bucket}/reports/{args.team}/)."
    )
    return EXIT_OK
