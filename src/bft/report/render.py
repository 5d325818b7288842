"""The run report a person reads: ``report.html`` and its Markdown twin ``report.md``, for every run.

FinalizeSuccess and FinalizeFailure render it from the run's record (``run.json``) and the documents the
steps wrote beside it (dataset validation, metrics, evaluation), and put it in the reports bucket; the
demo downloads what Finalize wrote. Both formats come from one list of sections, so they carry the same
facts. The HTML is self-contained (inline CSS, inline SVG, no script, no external URL) so it opens
offline; the Markdown refers to the loss chart as ``loss.svg`` next to it. This module chooses the sections and
their facts; :mod:`bft.report.evaluation` and :mod:`bft.report.loss` build the two largest, :mod:`bft.report.document`
holds the blocks and both renderers, :mod:`bft.report.chart` the chart, :mod:`bft.report.numbers` how every
figure is written.

Standard library only: this module ships in the functions' layer.

Figures are labelled simulated only when the run's record carries ``simulation``, which only the offline
twin sets (``bft_twin.run``): a real run's report has no demo wording.
"""

from __future__ import annotations

import json
from typing import Any

from bft.report.chart import finite, loss_chart
from bft.report.document import (
    Block,
    Bullets,
    Code,
    Document,
    Flow,
    KeyValues,
    Section,
    Table,
    Text,
    Tone,
    to_html,
    to_markdown,
)
from bft.report.endpoint import endpoint_rows
from bft.report.evaluation import evaluation_section
from bft.report.loss import SIMULATED_CHART_NOTE, loss_section, loss_warning
from bft.report.numbers import count, hours, num, pct, size, spread, usd

UNKNOWN_PRICE = "unknown — set prices in config"
# States the workflow passes through after a failure; the failing state is the one before them.
_RECOVERY_STATES = ("Cleanup", "FinalizeFailure")
_FILE_KINDS = {"train": "training"}  # the twin's upload names for the user's files, in words
# The label of what the offline run made up rather than measured (the others: bft.report.loss, .evaluation).
ILLUSTRATIVE_PRICES = (
    "Illustrative prices: the local configuration's price table, not AWS list prices; a real run is billed by AWS."
)
DATASET_ISSUES = 10
# The documents the steps write under the run's prefix, which the report reads.
DOCUMENTS = ("dataset-validation.json", "metrics.json", "evaluation.json")
HTML, MARKDOWN, CHART = "report.html", "report.md", "loss.svg"


# -- entry point -----------------------------------------------------------------------------------


def render(report: dict[str, Any], documents: dict[str, Any]) -> dict[str, str]:
    """The report's files by name: report.html, report.md and, when the run has loss curves, loss.svg."""
    document = build(report, documents)
    files = {HTML: to_html(document), MARKDOWN: to_markdown(document)}
    if document.chart_svg is not None:
        files[CHART] = document.chart_svg
    return files


def build(report: dict[str, Any], documents: dict[str, Any]) -> Document:
    outcome = str(report.get("outcome") or "unknown")
    request = report.get("request") or {}
    run = report.get("run") or {}
    request_id = str(run.get("requestId") or request.get("requestId") or (report.get("execution") or {}).get("name"))
    curves = (documents.get("metrics.json") or {}).get("curves") or {}
    simulation = report.get("simulation") or None
    simulated = simulation is not None
    note = SIMULATED_CHART_NOTE if simulated else None
    has_curves = curves.get("training") or curves.get("validation")
    chart = loss_chart(curves, standalone=True, note=note) if has_curves else None
    sections = [
        _header(report, request_id, simulation),
        _warnings(report, documents),
        _path(report, outcome),
        _dataset(report, documents),
        loss_section(documents, chart, simulated),
        evaluation_section(report, documents, simulated),
        _serving(report, simulated),
        _cost(report, simulated),
        _left_running(report),
        _cleanup(report, outcome),
    ]
    if outcome != "deployed":
        sections.append(_error(report))
    sections.append(_notification(report))
    environment = str(run.get("environment") or "")
    title = f"bft {environment} run {request_id}".replace("  ", " ")
    if simulation:
        what = "your data" if simulation.get("ownData") else simulation.get("scenario", "?")
        title = f"bft local run: {what} ({request_id})"
    return Document(
        title=title,
        banner=_banner(report, outcome, simulation),
        sections=[s for s in sections if s.blocks],
        chart_svg=chart,
    )


# -- sections --------------------------------------------------------------------------------------


def _banner(report: dict[str, Any], outcome: str, simulation: dict[str, Any] | None) -> Text:
    expected = (simulation or {}).get("expectedOutcome")
    if outcome == "deployed":
        text = "SUCCESS: deployed. The custom model is trained, evaluated and serving."
        tone: Tone = "ok"
    else:
        message = error_message(report.get("error")).strip() or "no error recorded"
        # On the user's own data a refusal or a low score is an honest answer about the data, not a failure.
        verdict = "NOT DEPLOYED" if (simulation or {}).get("ownData") else "FAILED"
        text = f"{verdict}: {outcome}. {message}" + ("" if message.endswith(".") else ".")
        tone = "bad"
    if expected and expected == outcome and outcome != "deployed":
        text += " This is the scenario's intended outcome."
    elif expected and expected != outcome:
        text += f" UNEXPECTED: the scenario should have ended with {expected}."
        tone = "bad"
    return Text(text, tone)


def _header(report: dict[str, Any], request_id: str, simulation: dict[str, Any] | None) -> Section:
    run = report.get("run") or {}
    request = report.get("request") or {}
    execution = report.get("execution") or {}
    location = report.get("location") or {}
    rows = [
        ("Outcome", f"{report.get('outcome')} (execution {report.get('status')})"),
        ("Request id", request_id),
        ("Team", str(run.get("team") or request.get("team") or "unknown")),
        ("Base model", str(run.get("baseModelId") or request.get("baseModelId") or "unknown")),
        ("Environment", str(run.get("environment") or "unknown")),
        ("Execution", str(execution.get("id") or execution.get("name") or "unknown")),
        ("Started", str(execution.get("startTime") or "unknown")),
        ("Finished", str(report.get("finishedAt") or "unknown")),
    ]
    if location.get("prefixUri"):
        rows.append(("Report and documents (S3)", str(location["prefixUri"])))
    blocks: list[Block] = []
    if simulation is not None:
        own = simulation.get("ownData") or {}
        # A run on the user's files is no scenario: it names the files and expects no outcome.
        rows[:0] = (
            [(f"Your {_FILE_KINDS.get(kind, kind)} file", str(path)) for kind, path in own.items()]
            if own
            else [
                ("Scenario", str(simulation.get("scenario", "?"))),
                ("Expected outcome", str(simulation.get("expectedOutcome", "?"))),
            ]
        )
        factor = simulation.get("timeFactor")
        blocks.append(
            Text(
                "Bedrock was simulated: this run used moto and a local Bedrock fake, no AWS account and no money"
                + (f" (one real second stood for {num(factor)} simulated seconds)" if finite(factor) else "")
                + ". The loss curves and evaluation scores below are computed by a stand-in learner trained on "
                "the data, not by a real model; prices are illustrative (the local configuration's table, not AWS "
                "list prices).",
                "warn",
            )
        )
        for parameter in simulation.get("parameters") or []:
            blocks.append(Text(f"Simulated scenario parameter: {parameter}", "warn"))
    blocks.append(KeyValues(rows))
    return Section("Run", blocks)


def _warnings(report: dict[str, Any], documents: dict[str, Any]) -> Section:
    items = [str(w) for w in report.get("warnings") or []]
    validation = documents.get("dataset-validation.json") or {}
    issues = validation.get("warnings") or []
    items += [f"dataset: {_issue(w)}" for w in issues[:DATASET_ISSUES]]
    if (validation.get("warning_count") or 0) > len(issues[:DATASET_ISSUES]):
        items.append(f"dataset: {count(validation['warning_count'])} warnings in all, see dataset-validation.json")
    rising = loss_warning(documents)
    if rising:
        items.append(rising)
    return Section("Warnings", [Bullets(items, "warn")] if items else [])


def _path(report: dict[str, Any], outcome: str) -> Section:
    path = report.get("path") or {}
    states = [str(s) for s in path.get("states") or []]
    if not states:
        why = path.get("unavailable") or "the run's record has no execution history"
        return Section("Path through the states", [Text(f"Not known: {why}.", "muted")])
    failed_at = failing_state(states) if outcome != "deployed" else None
    blocks: list[Block] = [Flow(states, failed_at)]
    if failed_at is not None:
        blocks.append(Text(f"Failed in {states[failed_at]}; the workflow then cleaned up and reported.", "bad"))
    blocks.append(
        Text(
            f"{count(path.get('stateTransitions'))} state transitions, "
            f"{count(path.get('lambdaInvocations'))} Lambda invocations, {count(path.get('retries', 0))} retries "
            "(until the report was written).",
            "muted",
        )
    )
    return Section("Path through the states", blocks)


def failing_state(states: list[str]) -> int | None:
    """Index of the state that failed: the last one before the recovery states (or the last one)."""
    if not states:
        return None
    for index, state in enumerate(states):
        if state in _RECOVERY_STATES:
            return index - 1 if index > 0 else None
    return len(states) - 1


def _dataset(report: dict[str, Any], documents: dict[str, Any]) -> Section:
    validation = documents.get("dataset-validation.json") or {}
    stats = validation.get("statistics") or (report.get("dataset") or {}).get("statistics") or {}
    blocks: list[Block] = []
    if validation:
        errors_in_all = validation.get("error_count", "?")
        verdict = (
            "valid"
            if validation.get("valid")
            else f"INVALID ({count(errors_in_all)} error{'' if errors_in_all == 1 else 's'})"
        )
        blocks.append(
            Text(
                f"The dataset is {verdict} for {validation.get('base_model_id', '?')} "
                f"({validation.get('family', '?')}, format {validation.get('data_format', '?')}).",
                "ok" if validation.get("valid") else "bad",
            )
        )
        files = validation.get("files") or []
        if files:
            blocks.append(
                Table(
                    ("file", "records", "size", "path"),
                    [
                        (str(f.get("role")), count(f.get("records")), size(f.get("bytes")), str(f.get("path")))
                        for f in files
                    ],
                )
            )
        groups = validation.get("error_groups")
        errors = validation.get("errors") or []
        if groups:  # the same error on many records is one line with its lines, as `bft validate` prints it
            from bft.dataset.report import IssueGroup, group_text

            items = [group_text(IssueGroup(**group)) for group in groups[:DATASET_ISSUES]]
            hidden = len(groups) - len(groups[:DATASET_ISSUES])
            if hidden or validation.get("ungrouped_errors"):
                items.append(
                    f"... and more kinds of errors ({count(errors_in_all)} in all): see dataset-validation.json"
                )
            blocks.append(Bullets(items, "bad"))
        elif errors:  # a report written before errors were grouped
            blocks.append(Bullets([_issue(e) for e in errors[:DATASET_ISSUES]], "bad"))
    if stats.get("tokens"):
        tokens, turns = stats["tokens"], stats.get("turns") or {}
        epochs = stats.get("epochs")
        rows = [
            ("training records", count(stats.get("records"))),
            ("tokens per record (estimate) min / mean / p95 / max", spread(tokens, ("min", "mean", "p95", "max"))),
            ("training tokens in all (estimate)", count(tokens.get("total"))),
            ("turns per record min / mean / max", spread(turns, ("min", "mean", "max"))),
            ("records with a system prompt", pct(stats.get("system_prompt_share"))),
            (
                f"estimated billed tokens ({epochs} epochs)" if epochs is not None else "estimated billed tokens",
                count(stats.get("estimated_billed_tokens")),
            ),
        ]
        blocks.append(Table(("statistic", "value"), rows))
    if not blocks:
        blocks.append(Text("The run stopped before the dataset was validated.", "muted"))
    return Section("Dataset", blocks)


def _serving(report: dict[str, Any], simulated: bool = False) -> Section:
    run = report.get("run") or {}
    planned = run.get("serving") or (report.get("request") or {}).get("serving") or {}
    serving = report.get("serving") or {}
    per_hour = (report.get("cost") or {}).get("servingPerHourUsd")
    if per_hour is None and finite(serving.get("hourly_cost_usd")):
        per_hour = serving["hourly_cost_usd"]
    price = f"{usd(per_hour)} per hour" if per_hour is not None else UNKNOWN_PRICE
    if simulated and per_hour is not None:
        price += " (illustrative price)"
    if not serving:
        if not planned:
            return Section("Serving", [Text("No serving was requested.", "muted")])
        return Section(
            "Serving",
            [
                Text("Nothing was created: the run ended before serving.", "muted"),
                KeyValues([("model units requested", count(planned.get("modelUnits"))), ("would cost", price)]),
            ],
        )
    kind = str(serving.get("kind", "provisioned-throughput"))
    arn = str(serving.get("arn", "unknown"))
    if kind == "on-demand-deployment":
        price = "no hourly charge (on-demand: billed per token served)"
    left = {str(item.get("arn")) for item in report.get("leftRunning") or []}
    if (report.get("promotion") or {}).get("ready"):
        state = "deleted: the team's endpoint serves the model (below)"
    elif arn in left and kind == "on-demand-deployment":
        state = "still deployed (billed only for the tokens it serves)"
    elif arn in left:
        state = "still running (costs money until deleted)"
    elif any(arn in str(action) for action in (report.get("cleanup") or {}).get("actions") or []):
        state = "deleted during cleanup"
    else:
        state = str(serving.get("status", "unknown"))
    rows = [("ARN", arn), ("name", str(serving.get("name", "unknown"))), ("kind", kind)]
    if kind == "provisioned-throughput":
        rows += [
            ("model units", count(planned.get("modelUnits"))),
            ("commitment", str(planned.get("commitment") or "none (no-commitment, billed per hour)")),
        ]
    rows += [("status", state), ("cost", price)]
    if planned.get("ttlHours"):
        rows.append(("lifetime limit", f"deleted by the pipeline after {hours(planned['ttlHours'])} (non-prod TTL)"))
    rows += endpoint_rows(report)  # promotion in place (bft.report.endpoint)
    return Section("Serving", [KeyValues(rows)])


def _cost(report: dict[str, Any], simulated: bool = False) -> Section:
    cost = report.get("cost") or {}
    if not cost:
        return Section("Cost estimate", [Text("No cost estimate was recorded.", "muted")])
    training = cost.get("trainingUsd")
    per_hour = cost.get("servingPerHourUsd")
    rows = [
        ("estimated billed training tokens", count(cost.get("estimatedBilledTokens"))),
        ("training", usd(training) if training is not None else UNKNOWN_PRICE),
        (
            "serving (on-demand deployment)" if per_hour == 0 else "serving (provisioned throughput)",
            f"{usd(per_hour)} per hour" if per_hour is not None else UNKNOWN_PRICE,
        ),
    ]
    if per_hour is not None:
        rows.append(("serving for a day", usd(per_hour * 24)))
    blocks: list[Block] = [Text(ILLUSTRATIVE_PRICES, "warn")] if simulated else []
    blocks.append(KeyValues(rows))
    if cost.get("note"):
        blocks.append(Text(str(cost["note"]), "muted"))
    return Section("Cost estimate", blocks)


def _left_running(report: dict[str, Any]) -> Section:
    left = report.get("leftRunning") or []
    if not left:
        return Section("What still costs money", [Text("Nothing this run created is still running.", "ok")])
    rows = [
        (
            str(item.get("type")),
            str(item.get("arn")),
            str(item.get("reason", "")),
            f"{usd(item['hourlyCostUsd'])} per hour" if item.get("hourlyCostUsd") is not None else UNKNOWN_PRICE,
            hours(item["expiresAfterHours"]) if item.get("expiresAfterHours") else "never (delete it yourself)",
        )
        for item in left
    ]
    return Section(
        "What still costs money",
        [
            Text("Still running and costing money:", "warn"),
            Table(("resource", "ARN", "why", "cost", "deleted after"), rows),
        ],
    )


def _cleanup(report: dict[str, Any], outcome: str) -> Section:
    actions = [str(a) for a in (report.get("cleanup") or {}).get("actions") or []]
    problems = [
        f"{p.get('step', 'Cleanup')}: {p.get('error')}: {p.get('message', '')}"
        for p in report.get("cleanupErrors") or []
    ]
    blocks: list[Block] = [Bullets(actions)] if actions else []
    if problems:
        blocks.append(Text("What went wrong while cleaning up:", "bad"))
        blocks.append(Bullets(problems, "bad"))
    if not blocks:
        text = "No cleanup was needed: the run succeeded." if outcome == "deployed" else "Cleanup had nothing to do."
        blocks.append(Text(text, "muted"))
    return Section("Cleanup", blocks)


def _error(report: dict[str, Any]) -> Section:
    error = report.get("error") or {}
    blocks: list[Block] = [KeyValues([("error", str(error.get("Error") or "unknown"))])]
    message = error_message(error)
    if message:
        blocks.append(Code(message))
    runbook = report.get("runbook")
    if runbook:
        blocks.append(Text(f"Runbook: {runbook}", "warn"))
    return Section("Error and next step", blocks)


def _notification(report: dict[str, Any]) -> Section:
    note = report.get("notification") or {}
    if not note:
        return Section("Notification sent", [])
    subject, text = str(note.get("subject", "")), str(note.get("message", ""))
    return Section("Notification sent", [Text(subject, "muted"), Code(text)])


# -- formatting ------------------------------------------------------------------------------------


def error_message(error: Any) -> str:
    """The message of a step's error: Lambda errors carry a JSON Cause whose errorMessage is the point."""
    if not isinstance(error, dict):
        return ""
    cause = str(error.get("Cause") or "")
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        return str(parsed["errorMessage"])
    return cause


def _issue(issue: Any) -> str:
    if not isinstance(issue, dict):
        return str(issue)
    where = str(issue.get("file", "?")) + (f":{issue['line']}" if issue.get("line") is not None else "")
    what = f"{issue['field']}: " if issue.get("field") else ""
    more = f" (and {count(issue['more_on_record'])} more on this record)" if issue.get("more_on_record") else ""
    return f"{where}: {what}{issue.get('message', '')} [{issue.get('code', '?')}]{more}"
