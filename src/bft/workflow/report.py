"""Step 8: the run report and the notification, on every path."""

from __future__ import annotations

import json
import logging
from typing import Any

from bft import clock, metrics
from bft.errors import TransientError
from bft.names import TEAM_NAME
from bft.report import notification
from bft.report.publish import write_report
from bft.workflow import state as state_table
from bft.workflow.s3io import report_key

logger = logging.getLogger(__name__)

# errorType -> outcome, the vocabulary of notifications, reports and `bft local-run`.
# Where the documents of a run ValidateRequest refused go, under the team's reports (see finalize).
REFUSED_FOLDER = "_refused"

OUTCOMES = {
    "RequestInvalid": "request_invalid",
    "BaseModelUnavailable": "model_unavailable",
    "DuplicateRequest": "duplicate",
    "OverCap": "over_cap",
    "DatasetInvalid": "dataset_invalid",
    "GraderInvalid": "grader_invalid",
    "JobFailed": "job_failed",
    "JobStopped": "job_stopped",
    "ThroughputFailed": "pt_failed",
    "PromotionFailed": "promotion_failed",
    "QuotaExceeded": "pt_quota_exceeded",
    "ApprovalRejected": "rejected",
    "EvaluationBelowThreshold": "eval_below_threshold",
    "States.Timeout": "timed_out",
    "Sandbox.Timedout": "step_timed_out",
    "AccessDenied": "access_denied",
    "ForeignResource": "foreign_resource",
}

# Fail states may not raise names starting with "States." (AWS and moto agree).
ERROR_NAMES = {
    "States.Timeout": "TimedOut",
    "States.TaskFailed": "TaskFailed",
    "States.Runtime": "RuntimeError",
    "States.Permissions": "PermissionDenied",
}

RUNBOOK = {
    "request_invalid": "Fix the field named above and submit again with the same requestId.",
    "model_unavailable": (
        "Move to a base model that is ACTIVE and fine-tunable in this region: the error names those allowed "
        "for your team (all of them: aws bedrock list-foundation-models --by-customization-type FINE_TUNING)."
    ),
    "duplicate": "Nothing was started. Use a new requestId to train again.",
    "over_cap": (
        "Nothing was started: the team's month-to-date spend plus this run's estimate passes its monthly_cap_usd "
        "(the error names both and the config key). Wait for next month (UTC), make the run cheaper (fewer "
        "epochs or records, serving on demand), or ask the platform team to raise the cap."
    ),
    "dataset_invalid": "Open the validation report, fix the lines it names, run `bft validate` locally, resubmit.",
    "grader_invalid": (
        "The grader failed its check on your prompts (the message says which: contract, spread or time); no job "
        "was started. Reproduce it with `bft grader test GRADER --data FILE`, fix the grader, resubmit."
    ),
    "job_failed": "Read Bedrock's failure message above; most are data or quota problems. Resubmit after fixing.",
    "job_stopped": "Someone or the timeout stopped the job. Resubmit if it was not intended.",
    # pt_*: the outcome names predate on-demand deployments; they cover both ways of serving.
    "pt_failed": (
        "Bedrock could not serve the model (its provisioned throughput or on-demand deployment ended Failed); "
        "check the message, then resubmit or serve manually."
    ),
    "promotion_failed": (
        "The team's endpoint still serves the model it served before (the error names both). Check the endpoint "
        "with `aws bedrock get-custom-model-deployment`, then resubmit."
    ),
    "pt_quota_exceeded": (
        "A Bedrock quota is full (the error names the action): for a provisioned throughput, request "
        "no-commitment model units for this model via AWS Support; for an on-demand deployment, delete unused "
        "custom model deployments or ask for more in Service Quotas; then resubmit."
    ),
    "rejected": "The reviewer's reason is above. The custom model was deleted if configured.",
    "eval_below_threshold": "Open the evaluation table; improve the data or hyperparameters, or lower the threshold.",
    "timed_out": "A step exceeded its timeout; the job was stopped. Check Bedrock quotas and resubmit.",
    "step_timed_out": (
        "A step's Lambda function ran past its own timeout; what the run started was cleaned up. Resubmit; "
        "if it times out again, ask the platform team to raise that function's timeout."
    ),
    "access_denied": (
        "A function lacked a permission: the error names the action. Ask the platform team to check the "
        "pipeline's IAM policies (a redeploy of the pipeline stack usually fixes it), then resubmit."
    ),
    "foreign_resource": (
        "A resource this run was about to use or delete does not carry its tags (project, environment, team, "
        "request): it was left untouched. Tell the platform team; the error names the resource and the tag."
    ),
    "error": "An unexpected error; see the execution history in the Step Functions console.",
}


def finalize(
    state: dict[str, Any],
    status: str,
    *,
    s3: Any,
    sns: Any,
    table: Any,
    reports_bucket: str,
    topic_arn: str,
    policy_prices: dict[str, Any],
    execution: dict[str, str],
    environment: str,
    sfn: Any = None,
    simulation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the run's record and report (bft.report) under its prefix, finish its claim, and notify.

    ``simulation``: what the offline twin simulated (bft_twin.run sets it); a real run has none, and its
    report carries no simulated labels."""
    run = state.get("run") or {}
    request = state.get("input") or {}
    error = readable_error(state.get("error"))
    outcome = "deployed" if status == "SUCCEEDED" else OUTCOMES.get((error or {}).get("Error", ""), "error")
    # A run ValidateRequest refused names nothing it claimed: its team is the state machine's own (Init puts
    # it beside the input) and its documents go under the execution's name, so a request claiming another
    # team, or an accepted run's id, can neither overwrite that run's report nor notify its subscribers.
    assigned = state.get("assignedTeam")
    team = run.get("team") or (assigned if isinstance(assigned, str) and TEAM_NAME.match(assigned) else "_unknown")
    request_id = run.get("requestId") or execution["name"]
    # A refused run's documents go under _refused/<execution name>: no request id starts with '_' (REQUEST_ID),
    # so a refused execution named like an accepted run cannot overwrite that run's record (audit L2).
    folder = run.get("requestId") or f"{REFUSED_FOLDER}/{execution['name']}"
    cleanup = state.get("cleanup") or {}
    left = list(cleanup.get("leftRunning", []))
    # What went wrong while cleaning up is reported, never dropped: refusals the cleanup step recorded, and
    # the error of a cleanup step that failed outright (caught into $.cleanupError by the state machine).
    cleanup_errors = list(cleanup.get("errors", []))
    failed_cleanup = readable_error(state.get("cleanupError"))
    if failed_cleanup:
        cleanup_errors.append(
            {"step": "Cleanup", "error": failed_cleanup.get("Error"), "message": failed_cleanup.get("Cause", "")}
        )
    serving = state.get("serving")
    promotion = state.get("promotion") or None
    if status == "SUCCEEDED" and promotion and promotion.get("ready"):
        # The run's own deployment was deleted once the team's endpoint served its model: the endpoint serves it.
        left.append(
            {
                "type": "on-demand-deployment",
                "arn": promotion["arn"],
                "reason": f"team endpoint {promotion['endpoint']}, serving the custom model",
            }
        )
    elif status == "SUCCEEDED" and serving:
        left.append({"type": serving["kind"], "arn": serving["arn"], "reason": "serving the custom model"})
    cost = estimate_cost(run, state.get("dataset") or _invalid_dataset_size(error), policy_prices)
    queries = per_query_cost(run, state.get("evaluation"), policy_prices)
    if queries is not None:
        cost["perQuery"] = queries
    for item in left:
        if item["type"] == "on-demand-deployment":
            item["hourlyCostUsd"] = 0.0  # billed per token used, no hourly charge
        if item["type"] == "provisioned-throughput" and cost.get("servingPerHourUsd") is not None:
            item["hourlyCostUsd"] = cost["servingPerHourUsd"]
        if run.get("serving", {}).get("ttlHours") and item["type"] == "provisioned-throughput":
            item["expiresAfterHours"] = run["serving"]["ttlHours"]
    report = {
        "schema": "bft.run/1",
        "outcome": outcome,
        "status": status,
        "execution": execution,
        "finishedAt": clock.now().isoformat(),
        "request": request,
        "run": run,
        "warnings": run.get("warnings", []),
        "dataset": state.get("dataset"),
        "job": state.get("job"),
        "jobResult": state.get("jobResult"),
        "metrics": state.get("metrics"),
        "approval": state.get("approval"),
        "serving": serving,
        "promotion": promotion,
        "evaluation": state.get("evaluation"),
        # The spending cap's check (bft.workflow.spend): the month, this run's estimate, the spend it added up.
        "spend": state.get("spend"),
        "error": error,
        "cleanup": cleanup or None,
        "cleanupErrors": cleanup_errors,
        "leftRunning": left,
        "cost": cost,
        "runbook": RUNBOOK.get(outcome),
    }
    if simulation:
        report["simulation"] = simulation
    prefix = report_key(team, folder, "")
    written = write_report(
        report,
        s3=s3,
        sfn=sfn,
        bucket=reports_bucket,
        prefix=prefix,
        subject=notification.subject(environment, request_id, outcome),
    )
    uri = f"s3://{reports_bucket}/{prefix}run.json"
    if run.get("requestId") and outcome != "duplicate":
        state_table.finish_request(table, run["team"], run["requestId"], execution["id"], status)
    # Exactly one notification per execution: Finalize is retried after a lost result (Lambda.ServiceException)
    # or a transient error, and the report and claim above are idempotent, a publish is not.
    if not state_table.notification_sent(table, execution["id"]):
        sns.publish(
            TopicArn=topic_arn,
            Subject=report["notification"]["subject"],
            Message=report["notification"]["message"],
            MessageAttributes={
                "team": {"DataType": "String", "StringValue": team},
                "outcome": {"DataType": "String", "StringValue": outcome},
            },
        )
        # The run in the environment's metrics, as often as its notification (bft.metrics; the dashboard).
        run_cost = float((report.get("cost") or {}).get("trainingUsd") or 0.0)
        metrics.put(
            {"Runs": (1, "Count"), "RunCostUsd": (run_cost, "None")},
            {"Environment": environment, "Team": team, "Outcome": outcome},
            dimension_sets=[["Environment", "Team", "Outcome"], ["Environment", "Team"]],
        )
        try:
            state_table.mark_notified(table, execution["id"])
        except TransientError:
            # The notification went out; failing the step now would send it again on the retry. A later
            # retry of this step (a lost result) may then notify twice: at least once, never zero.
            logger.warning("could not record the notification of %s; it was sent", execution["id"])
    result = {
        "outcome": outcome,
        "reportUri": uri,
        "reportObjects": written,
        "leftRunning": left,
        "warnings": report["warnings"],
    }
    if error:
        name = str(error.get("Error", "Error"))
        result["errorType"] = ERROR_NAMES.get(name, name)
        during_cleanup = "".join(f"; cleanup: {e.get('error')}: {e.get('message', '')}" for e in cleanup_errors)
        result["cause"] = f"{error.get('Cause', '')}{during_cleanup} (report: {uri})"[:32000]
    return result


def _invalid_dataset_size(error: dict[str, Any] | None) -> dict[str, Any]:
    """An invalid dataset has no step result; its DatasetInvalid message states the valid records' tokens, so
    the cost estimate says what the data would have cost rather than "unknown"."""
    from bft.dataset.report import billed_tokens_in

    if not error or error.get("Error") != "DatasetInvalid":
        return {}
    tokens = billed_tokens_in(str(error.get("Cause", "")))
    if tokens is None:
        return {}
    return {"statistics": {"estimated_billed_tokens": tokens}, "fromInvalidDataset": True}


def readable_error(error: dict[str, Any] | None) -> dict[str, Any] | None:
    """A Lambda failure's Cause is the runtime's JSON envelope (message, type, stack trace): keep the message."""
    if not error:
        return error
    cause = error.get("Cause", "")
    try:
        envelope = json.loads(cause) if isinstance(cause, str) and cause.startswith("{") else None
    except ValueError:
        envelope = None
    if isinstance(envelope, dict) and "errorMessage" in envelope:
        return {**error, "Cause": str(envelope["errorMessage"])}
    return error


def per_query_cost(
    run: dict[str, Any], evaluation: dict[str, Any] | None, prices: dict[str, Any]
) -> dict[str, Any] | None:
    """Cost per 1,000 queries, base model against custom, from the tokens per query the evaluation measured and
    the model's on-demand token prices (environment's table, else the catalog's illustrative one). None when the
    run was not evaluated. A custom model served by provisioned throughput bills by the hour, not per query."""
    from bft.prices import ON_DEMAND_KEYS, lookup
    from bft.workflow.usage import query_costs

    figures = (evaluation or {}).get("perQuery") or {}
    if not figures:
        return None
    model, family = run.get("baseModelId"), run.get("family")
    per_1k_input, input_source = lookup(prices, ON_DEMAND_KEYS[0], model, family)
    per_1k_output, output_source = lookup(prices, ON_DEMAND_KEYS[1], model, family)
    hourly = (run.get("serving") or {}).get("kind") == "provisioned-throughput"
    costs = query_costs(figures, per_1k_input=per_1k_input, per_1k_output=per_1k_output, custom_hourly=hourly)
    return {
        **costs,
        "tokensPerQuery": {name: figure["tokens"] for name, figure in figures.items()},
        "tokenReduction": (evaluation or {}).get("tokenReduction"),
        "priceSource": "illustrative" if "illustrative" in (input_source, output_source) else input_source,
        # The base model and an on-demand custom deployment at the same per-token rates (docs/costs.md).
        "note": "at the model's on-demand token prices, the same for the base model and a custom deployment"
        if per_1k_input is not None
        else "no on-demand token price for this model: set prices.on_demand_*_per_1k_tokens_usd in the config",
    }


def estimate_cost(run: dict[str, Any], dataset: dict[str, Any], prices: dict[str, Any]) -> dict[str, Any]:
    """Training tokens x epochs at the price for the model, and model-unit hours for serving at the request's
    commitment (all USD); an on-demand deployment has no hourly charge and is priced per 1,000 tokens served.

    Prices come from the environment's table by model id, then by family, then from the shipped illustrative
    table (``bft.prices``); ``priceSource`` says which, and an illustrative estimate says so in its note.
    """
    from bft.prices import COMMITMENT_KEYS, COMMITMENT_WORDS, ON_DEMAND_KEYS, SOURCE, lookup

    family, model = run.get("family"), run.get("baseModelId")
    serving = run.get("serving") or {}
    commitment = serving.get("commitment")
    tokens = (dataset.get("statistics") or {}).get("estimated_billed_tokens")
    per_1k, training_source = lookup(prices, "trainingPer1kTokensUsd", model, family)
    per_mu_hour, serving_source = lookup(prices, COMMITMENT_KEYS.get(commitment, "modelUnitHourUsd"), model, family)
    units = serving.get("modelUnits")
    on_demand = serving.get("kind") == "on-demand-deployment"
    sources = [training_source, serving_source]
    per_1k_served: dict[str, float | None] = {}
    if on_demand:
        for key, name in zip(ON_DEMAND_KEYS, ("input", "output"), strict=True):
            per_1k_served[name], source = lookup(prices, key, model, family)
            sources.append(source)
    illustrative = "illustrative" in sources
    per_hour = round(units * per_mu_hour, 2) if units and per_mu_hour is not None else None
    note = (
        f"ILLUSTRATIVE prices ({SOURCE}); set prices in the environment's config"
        if illustrative
        else "estimates from the configured price table; Bedrock's bill is authoritative"
    )
    if dataset.get("fromInvalidDataset"):
        note += "; tokens estimated from the records of the invalid dataset that passed validation"
    cost: dict[str, Any] = {
        "estimatedBilledTokens": tokens,
        "trainingUsd": round(tokens / 1000 * per_1k, 2) if tokens is not None and per_1k is not None else None,
        "servingPerHourUsd": per_hour,
        "commitment": COMMITMENT_WORDS.get(commitment, str(commitment)),
        "priceSource": "illustrative" if illustrative else training_source,
        "note": note,
    }
    if on_demand:
        # An on-demand custom model deployment bills the tokens it serves, not hours
        # (docs/bedrock-behaviour.md#on-demand-deployments).
        cost["servingPerHourUsd"] = 0.0
        cost["commitment"] = None
        cost["onDemandPer1kTokensUsd"] = per_1k_served
        cost["note"] += "; on-demand deployment: no hourly charge, billed per token served"
    return cost
