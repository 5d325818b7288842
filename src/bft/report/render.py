"""The run report a person reads: ``report.html`` and its Markdown twin ``report.md``, for every run.

FinalizeSuccess and FinalizeFailure render it from the run's record (``run.json``) and the documents the
steps wrote beside it (dataset validation, metrics, evaluation), and put it in the reports bucket; the
demo downloads what Finalize wrote. Both formats come from one list of sections, so they carry the same
facts. The HTML is self-contained (inline CSS, inline SVG, no script, no external URL) so it opens
offline; the Markdown refers to the loss chart as ``loss.svg`` next to it. Every value that came from a
run is escaped: requests, model answers and error messages are data a team controls.

Standard library only: this module ships in the functions' layer.

Figures are labelled simulated only when the run's record carries ``simulation``, which only the offline
twin sets (``bft_twin.run``): a real run's report has no demo wording.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bft.report.endpoint import endpoint_rows

Tone = Literal["", "ok", "bad", "warn", "muted"]
UNKNOWN_PRICE = "unknown — set prices in config"
# States the workflow passes through after a failure; the failing state is the one before them.
_RECOVERY_STATES = ("Cleanup", "FinalizeFailure")
EVALUATION_ROWS = 10
# Labels of what the offline run computed rather than measured (bft_twin.bedrock_fake._learner).
SIMULATED_LOSS = (
    "Simulated: the loss of a naive Bayes stand-in trained on your data by the Bedrock fake, not of a real model."
)
SIMULATED_SCORES = (
    "Simulated: scores of a naive Bayes stand-in trained on your data, not of a real model; the base model's "
    "answers come from fixed keyword rules over the labels the prompt lists."
)
ILLUSTRATIVE_PRICES = (
    "Illustrative prices: the local configuration's price table, not AWS list prices; a real run is billed by AWS."
)
SIMULATED_CHART_NOTE = "simulated: a naive Bayes stand-in's loss, not a real model's"
DATASET_ISSUES = 10
# The documents the steps write under the run's prefix, which the report reads.
DOCUMENTS = ("dataset-validation.json", "metrics.json", "evaluation.json")
HTML, MARKDOWN, CHART = "report.html", "report.md", "loss.svg"


# -- the document model shared by both renderers ---------------------------------------------------


@dataclass(frozen=True)
class Text:
    text: str
    tone: Tone = ""


@dataclass(frozen=True)
class Bullets:
    items: list[str]
    tone: Tone = ""


@dataclass(frozen=True)
class KeyValues:
    rows: list[tuple[str, str]]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


@dataclass(frozen=True)
class Flow:
    states: list[str]
    failed_at: int | None


@dataclass(frozen=True)
class Chart:
    inline_svg: str
    file_name: str
    alt: str


@dataclass(frozen=True)
class Code:
    text: str


Block = Text | Bullets | KeyValues | Table | Flow | Chart | Code


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True)
class Document:
    title: str
    banner: Text
    sections: list[Section]
    chart_svg: str | None  # the standalone SVG written as loss.svg


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
        _loss(documents, chart, simulated),
        _evaluation(report, documents, simulated),
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
        title = f"bft local run: {simulation.get('scenario', '?')} ({request_id})"
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
        text = f"FAILED: {outcome}. {message}" + ("" if message.endswith(".") else ".")
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
        rows[:0] = [
            ("Scenario", str(simulation.get("scenario", "?"))),
            ("Expected outcome", str(simulation.get("expectedOutcome", "?"))),
        ]
        factor = simulation.get("timeFactor")
        blocks.append(
            Text(
                "Bedrock was simulated: this run used moto and a local Bedrock fake, no AWS account and no money"
                + (f" (one real second stood for {factor:g} simulated seconds)" if _finite(factor) else "")
                + ". The loss curves and evaluation scores below are computed by a naive Bayes stand-in trained on "
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
        items.append(f"dataset: {validation['warning_count']} warnings in all, see dataset-validation.json")
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
            f"{_int(path.get('stateTransitions'))} state transitions, "
            f"{_int(path.get('lambdaInvocations'))} Lambda invocations, {_int(path.get('retries', 0))} retries "
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
        count = validation.get("error_count", "?")
        verdict = "valid" if validation.get("valid") else f"INVALID ({count} error{'' if count == 1 else 's'})"
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
                        (str(f.get("role")), _int(f.get("records")), _bytes(f.get("bytes")), str(f.get("path")))
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
                items.append(f"... and more kinds of errors ({_int(count)} in all): see dataset-validation.json")
            blocks.append(Bullets(items, "bad"))
        elif errors:  # a report written before errors were grouped
            blocks.append(Bullets([_issue(e) for e in errors[:DATASET_ISSUES]], "bad"))
    if stats.get("tokens"):
        tokens, turns = stats["tokens"], stats.get("turns") or {}
        epochs = stats.get("epochs")
        rows = [
            ("training records", _int(stats.get("records"))),
            ("tokens per record (estimate) min / mean / p95 / max", _spread(tokens, ("min", "mean", "p95", "max"))),
            ("training tokens in all (estimate)", _int(tokens.get("total"))),
            ("turns per record min / mean / max", _spread(turns, ("min", "mean", "max"))),
            ("records with a system prompt", _pct(stats.get("system_prompt_share"))),
            (
                f"estimated billed tokens ({epochs} epochs)" if epochs is not None else "estimated billed tokens",
                _int(stats.get("estimated_billed_tokens")),
            ),
        ]
        blocks.append(Table(("statistic", "value"), rows))
    if not blocks:
        blocks.append(Text("The run stopped before the dataset was validated.", "muted"))
    return Section("Dataset", blocks)


def _loss(documents: dict[str, Any], chart: str | None, simulated: bool = False) -> Section:
    metrics = documents.get("metrics.json") or {}
    curves = metrics.get("curves") or {}
    if chart is None:
        why = metrics.get("note") or "the run ended before the job's metrics were collected"
        return Section("Training and validation loss", [Text(f"No loss curves: {why}.", "muted")])
    note = "simulated: a naive Bayes stand-in's loss, not a real model's" if simulated else None
    blocks: list[Block] = [Text(SIMULATED_LOSS, "warn")] if simulated else []
    blocks.append(Chart(loss_chart(curves, standalone=False, note=note), "loss.svg", "Training and validation loss"))
    summary = metrics.get("summary") or {}
    rows = [
        (str(kind), _int(s.get("points")), _num(s.get("first")), _num(s.get("final")), _num(s.get("min")))
        for kind, s in summary.items()
    ]
    if rows:
        blocks.append(Table(("curve", "points", "first loss", "final loss", "lowest loss"), rows))
    if not curves.get("validation"):
        blocks.append(Text("No validation curve: the job had no validation data.", "muted"))
    return Section("Training and validation loss", blocks)


def _evaluation(report: dict[str, Any], documents: dict[str, Any], simulated: bool = False) -> Section:
    # The step result lacks a failed evaluation (it raised); evaluation.json has it either way.
    document = documents.get("evaluation.json") or {}
    result = report.get("evaluation") or document
    if not result:
        return Section("Evaluation", [Text("The run ended before the model was evaluated.", "muted")])
    if result.get("skipped"):
        return Section("Evaluation", [Text("Evaluation was not requested.", "muted")])
    scores = result.get("scores") or {}
    passed = bool(result.get("passed"))
    metric = str(result.get("metric") or document.get("metric") or result.get("scorer", "?"))
    threshold = _pct(result.get("threshold"))
    if (result.get("thresholdSource") or document.get("thresholdSource")) == "default":
        threshold += " (the default: no minimum; set evaluation.threshold to gate on one)"
    rows = [
        ("custom model", _pct(scores.get("custom"))),
        ("base model", _pct(scores.get("base")) if "base" in scores else "not compared"),
        ("threshold", threshold),
        ("records", _int(result.get("records"))),
        ("scorer and gate metric", f"{result.get('scorer', '?')}, {metric}"),
        ("result", "PASS" if passed else "FAIL"),
    ]
    if document.get("chunks"):
        chunks = int(document["chunks"])
        rows.append(
            ("scored in", f"{chunks} chunk{'s' if chunks != 1 else ''}, {document.get('concurrency', '?')} at a time")
        )
    blocks: list[Block] = [
        Text(
            f"{'PASS' if passed else 'FAIL'}: the custom model scored {_pct(scores.get('custom'))} ({metric}) against "
            f"a threshold of {_pct(result.get('threshold'))}"
            + (f"; the base model scored {_pct(scores.get('base'))}." if "base" in scores else "."),
            "ok" if passed else "bad",
        ),
        KeyValues(rows),
    ]
    source = result.get("scorerSource") or document.get("scorerSource")
    if source:
        reason = result.get("scorerReason") or document.get("scorerReason")
        how = f"chosen from the evaluation data: {reason}" if source == "chosen" else "requested (evaluation.scorer)"
        blocks.insert(1, Text(f"Scorer: {result.get('scorer', '?')}, {how}."))
    if simulated:
        blocks.insert(0, Text(SIMULATED_SCORES, "warn"))
    metrics = document.get("metrics") or {}
    blocks.extend(_classification(metrics))
    blocks.extend(_json_fields(metrics))
    sample = document.get("rows") or []
    wrong = document.get("wrong") or {
        model: sum(1 for row in sample if isinstance(row.get(model), dict) and row[model].get("score", 0) < 1)
        for model in ("custom", "base")
        if any(model in row for row in sample)
    }
    if wrong:
        blocks.append(
            Text(
                "Records answered wrong: "
                + ", ".join(f"{model} model {count} of {_int(result.get('records'))}" for model, count in wrong.items())
                + "."
            )
        )
    if sample:
        has_base = any("base" in row for row in sample)
        header = ("line", "expected", "custom answer", "custom score") + (
            ("base answer", "base score") if has_base else ()
        )
        table_rows = []
        for row in sample[:EVALUATION_ROWS]:
            cells = (str(row.get("line")), str(row.get("expected")), *_answer(row.get("custom")))
            table_rows.append(cells + (_answer(row.get("base")) if has_base else ()))
        what = "records the custom model answered wrong" if "wrong" in document else "evaluation records"
        blocks.append(Text(f"First {len(table_rows)} {what}, base against custom:", "muted"))
        blocks.append(Table(header, table_rows))
    return Section("Evaluation", blocks)


def _classification(metrics: dict[str, Any]) -> list[Block]:
    """Per-label precision, recall and F1, and the confusion matrix, of a classification scorer's run."""
    custom = metrics.get("custom") or {}
    labels = custom.get("labels")
    if not labels:
        return []
    base = (metrics.get("base") or {}).get("labels") or {}
    header = ("label", "support", "precision", "recall", "F1") + (("base F1",) if base else ())
    rows = [
        (label, _int(values.get("support")), _pct(values.get("precision")), _pct(values.get("recall")))
        + (_pct(values.get("f1")),)
        + ((_pct((base.get(label) or {}).get("f1")),) if base else ())
        for label, values in labels.items()
    ]
    confusion = custom.get("confusion") or {}
    columns = [str(c) for c in confusion.get("columns") or []]
    matrix = [(label, *(str(n) for n in counts)) for label, counts in (confusion.get("rows") or {}).items()]
    return [
        Text(
            f"Custom model per label: accuracy {_pct(custom.get('accuracy'))}, "
            f"macro F1 {_pct(custom.get('macro_f1'))}.",
            "muted",
        ),
        Table(header, rows),
        Text("Confusion matrix of the custom model (rows: expected label, columns: its answer):", "muted"),
        Table(("expected / answered", *columns), matrix),
    ]


def _json_fields(metrics: dict[str, Any]) -> list[Block]:
    """Field precision, recall and F1, parse failures and schema validity of a json_match run, per model."""
    models = [m for m in ("custom", "base") if "field_f1" in (metrics.get(m) or {})]
    if not models:
        return []

    def failures(values: dict[str, Any]) -> str:
        return f"{_int(values.get('parse_failures'))} of {_int(values.get('json_records'))}"

    rows = [
        ("exact matches (structurally equal)", *(_pct(metrics[m].get("structural_match")) for m in models)),
        ("field precision", *(_pct(metrics[m].get("field_precision")) for m in models)),
        ("field recall", *(_pct(metrics[m].get("field_recall")) for m in models)),
        ("field F1", *(_pct(metrics[m].get("field_f1")) for m in models)),
        ("answers that are not JSON", *(failures(metrics[m]) for m in models)),
    ]
    if all("schema_valid" in metrics[m] for m in models):
        rows.append(("valid against the JSON Schema", *(_pct(metrics[m].get("schema_valid")) for m in models)))
    blocks: list[Block] = [Table(("JSON answers", *(f"{m} model" for m in models)), rows)]
    examples = metrics["custom"].get("schema_examples") if "custom" in models else None
    if examples:
        blocks.append(Text("Schema violations of the custom model, first ones:", "muted"))
        blocks.append(Bullets([str(example) for example in examples]))
    return blocks


def _serving(report: dict[str, Any], simulated: bool = False) -> Section:
    run = report.get("run") or {}
    planned = run.get("serving") or (report.get("request") or {}).get("serving") or {}
    serving = report.get("serving") or {}
    per_hour = (report.get("cost") or {}).get("servingPerHourUsd")
    if per_hour is None and _finite(serving.get("hourly_cost_usd")):
        per_hour = serving["hourly_cost_usd"]
    price = f"{_usd(per_hour)} per hour" if per_hour is not None else UNKNOWN_PRICE
    if simulated and per_hour is not None:
        price += " (illustrative price)"
    if not serving:
        if not planned:
            return Section("Serving", [Text("No serving was requested.", "muted")])
        return Section(
            "Serving",
            [
                Text("Nothing was created: the run ended before serving.", "muted"),
                KeyValues([("model units requested", _int(planned.get("modelUnits"))), ("would cost", price)]),
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
            ("model units", _int(planned.get("modelUnits"))),
            ("commitment", str(planned.get("commitment") or "none (no-commitment, billed per hour)")),
        ]
    rows += [("status", state), ("cost", price)]
    if planned.get("ttlHours"):
        rows.append(("lifetime limit", f"deleted by the pipeline after {planned['ttlHours']} h (non-prod TTL)"))
    rows += endpoint_rows(report)  # promotion in place (bft.report.endpoint)
    return Section("Serving", [KeyValues(rows)])


def _cost(report: dict[str, Any], simulated: bool = False) -> Section:
    cost = report.get("cost") or {}
    if not cost:
        return Section("Cost estimate", [Text("No cost estimate was recorded.", "muted")])
    training = cost.get("trainingUsd")
    per_hour = cost.get("servingPerHourUsd")
    rows = [
        ("estimated billed training tokens", _int(cost.get("estimatedBilledTokens"))),
        ("training", _usd(training) if training is not None else UNKNOWN_PRICE),
        (
            "serving (on-demand deployment)" if per_hour == 0 else "serving (provisioned throughput)",
            f"{_usd(per_hour)} per hour" if per_hour is not None else UNKNOWN_PRICE,
        ),
    ]
    if per_hour is not None:
        rows.append(("serving for a day", _usd(per_hour * 24)))
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
            f"{_usd(item['hourlyCostUsd'])} per hour" if item.get("hourlyCostUsd") is not None else UNKNOWN_PRICE,
            f"{item['expiresAfterHours']} h" if item.get("expiresAfterHours") else "never (delete it yourself)",
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


# -- the loss chart --------------------------------------------------------------------------------

_SERIES = {"training": "#2563eb", "validation": "#ea580c"}
_W, _H = 720, 320
_LEFT, _RIGHT, _TOP, _BOTTOM = 60, 20, 20, 50


def loss_chart(curves: dict[str, Any], *, standalone: bool, note: str | None = None) -> str:
    """One SVG line chart of the loss curves (x: training step, y: loss), with axes, ticks and a legend;
    ``note`` is written above the plot (what the curves are, e.g. simulated)."""
    series = {
        kind: sorted(
            (float(p["step"]), float(p["loss"]))
            for p in curves.get(kind) or []
            if isinstance(p, dict) and _finite(p.get("step")) and _finite(p.get("loss"))
        )
        for kind in _SERIES
    }
    series = {kind: points for kind, points in series.items() if points}
    xs = [x for points in series.values() for x, _ in points] or [0.0]
    ys = [y for points in series.values() for _, y in points] or [1.0]
    x_ticks = _ticks(min(xs), max(xs), integer=True)
    y_ticks = _ticks(0.0, max(ys), integer=False)
    x_lo, x_hi, y_hi = x_ticks[0], x_ticks[-1], y_ticks[-1]
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def px(x: float) -> float:
        return _LEFT + (x - x_lo) / ((x_hi - x_lo) or 1.0) * plot_w

    def py(y: float) -> float:
        return _TOP + plot_h - y / (y_hi or 1.0) * plot_h

    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}"'
            if standalone
            else f'<svg class="chart" viewBox="0 0 {_W} {_H}"'
        )
        + ' role="img" aria-label="Training and validation loss by step" font-family="sans-serif" font-size="12">',
        "<title>Training and validation loss by step</title>",
        f'<rect x="0" y="0" width="{_W}" height="{_H}" fill="#ffffff"/>',
    ]
    if note:
        out.append(f'<text class="note" x="{_LEFT}" y="14" font-size="11" fill="#b45309">{html.escape(note)}</text>')
    for y in y_ticks:
        out.append(
            f'<line x1="{_LEFT}" y1="{py(y):.1f}" x2="{_W - _RIGHT}" y2="{py(y):.1f}" stroke="#e5e7eb"/>'
            f'<text x="{_LEFT - 6}" y="{py(y) + 4:.1f}" text-anchor="end" fill="#374151">{_tick_label(y)}</text>'
        )
    for x in x_ticks:
        bottom = _TOP + plot_h
        out.append(
            f'<line x1="{px(x):.1f}" y1="{bottom}" x2="{px(x):.1f}" y2="{bottom + 5}" stroke="#374151"/>'
            f'<text x="{px(x):.1f}" y="{bottom + 18}" text-anchor="middle" fill="#374151">{_tick_label(x)}</text>'
        )
    out.append(
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plot_h}" stroke="#374151"/>'
        f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_W - _RIGHT}" y2="{_TOP + plot_h}" stroke="#374151"/>'
        f'<text x="{_LEFT + plot_w / 2:.1f}" y="{_H - 10}" text-anchor="middle" fill="#111827">training step</text>'
        f'<text transform="translate(16 {_TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" '
        'fill="#111827">loss</text>'
    )
    for step, epoch in _epoch_starts(curves.get("training") or []):
        out.append(
            f'<line x1="{px(step):.1f}" y1="{_TOP}" x2="{px(step):.1f}" y2="{_TOP + plot_h}" stroke="#9ca3af" '
            'stroke-dasharray="4 4"/>'
            f'<text x="{px(step) + 4:.1f}" y="{_TOP + 12}" fill="#6b7280">epoch {epoch}</text>'
        )
    for kind, points in series.items():
        color = _SERIES[kind]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        out.append(f'<polyline class="{kind}" fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
        # Validation has one point per epoch: markers keep a one-point curve visible.
        if kind == "validation" or len(points) == 1:
            out.extend(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{color}"/>' for x, y in points)
    for row, kind in enumerate(series):
        y = _TOP + 10 + row * 18
        x = _W - _RIGHT - 120
        out.append(
            f'<line x1="{x}" y1="{y}" x2="{x + 24}" y2="{y}" stroke="{_SERIES[kind]}" stroke-width="3"/>'
            f'<text x="{x + 30}" y="{y + 4}" fill="#111827">{html.escape(kind)} loss</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _epoch_starts(points: list[Any]) -> list[tuple[float, int]]:
    """(first step, 1-based epoch number) of every epoch after the first: where the chart marks a boundary."""
    starts = []
    previous = None
    for point in points:
        if not isinstance(point, dict) or not _finite(point.get("step")) or not isinstance(point.get("epoch"), int):
            continue
        if previous is not None and point["epoch"] != previous:
            starts.append((float(point["step"]), point["epoch"] + 1))
        previous = point["epoch"]
    return starts


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _ticks(lo: float, hi: float, *, integer: bool, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw)
    if integer:
        step = max(1.0, round(step))
    start = math.floor(lo / step) * step
    ticks = [start]
    while ticks[-1] < hi - step * 1e-9:
        ticks.append(start + len(ticks) * step)
    return ticks


def _tick_label(value: float) -> str:
    return f"{value:.10g}" if abs(value) >= 1e-9 else "0"


# -- renderers -------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#111827;background:#f3f4f6}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:1.5rem;margin:0 0 12px}h2{font-size:1.15rem;margin:0 0 10px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:16px 20px;margin:0 0 16px}
.banner{border-radius:8px;padding:14px 18px;margin:0 0 16px;font-weight:600;font-size:1.05rem}
.banner.ok{background:#dcfce7;border:2px solid #16a34a;color:#14532d}
.banner.bad{background:#fee2e2;border:2px solid #dc2626;color:#7f1d1d}
p{margin:8px 0}p.ok{color:#15803d}p.bad{color:#b91c1c}p.muted{color:#6b7280}
p.warn,ul.warn{background:#fef9c3;border-left:4px solid #ca8a04;padding:8px 12px}
ul.bad{color:#b91c1c}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:.92rem}
th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f9fafb}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:8px 0}
dt{color:#4b5563}dd{margin:0;overflow-wrap:anywhere}
ol.flow{display:flex;flex-wrap:wrap;gap:6px;list-style:none;padding:0;margin:8px 0}
ol.flow li{padding:4px 10px;border-radius:14px;background:#e0e7ff;color:#1e3a8a;font-size:.9rem}
ol.flow li:not(:last-child)::after{content:" \\2192";color:#6b7280}
ol.flow li.failed{background:#dc2626;color:#fff;font-weight:700}
ol.flow li.recovery{background:#f3f4f6;color:#374151}
pre{background:#f9fafb;border:1px solid #e5e7eb;padding:8px;font-size:.85rem;
white-space:pre-wrap;overflow-wrap:anywhere}
svg.chart{width:100%;height:auto;max-width:720px}
"""


def to_html(document: Document) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(document.title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{esc(document.title)}</h1>",
        f'<div class="banner {document.banner.tone}" role="status">{esc(document.banner.text)}</div>',
    ]
    for section in document.sections:
        parts.append(f"<section><h2>{esc(section.title)}</h2>")
        parts.extend(_html_block(block) for block in section.blocks)
        parts.append("</section>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _html_block(block: Block) -> str:
    esc = html.escape
    if isinstance(block, Text):
        return f'<p class="{block.tone}">{esc(block.text)}</p>'
    if isinstance(block, Bullets):
        return f'<ul class="{block.tone}">' + "".join(f"<li>{esc(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, KeyValues):
        return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in block.rows) + "</dl>"
    if isinstance(block, Table):
        head = "".join(f"<th>{esc(h)}</th>" for h in block.header)
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in block.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, Flow):
        items = []
        for index, state in enumerate(block.states):
            css = _flow_class(block, index)
            mark = " (failed here)" if css == "failed" else ""
            items.append(f'<li class="{css}">{esc(state)}{mark}</li>')
        return '<ol class="flow">' + "".join(items) + "</ol>"
    if isinstance(block, Chart):
        return block.inline_svg  # built from numbers and fixed labels only
    return f"<pre>{esc(block.text)}</pre>"


def _flow_class(block: Flow, index: int) -> str:
    if index == block.failed_at:
        return "failed"
    if block.failed_at is not None and index > block.failed_at:
        return "recovery"
    return ""


def to_markdown(document: Document) -> str:
    lines = [f"# {_md(document.title)}", ""]
    marker = "✅" if document.banner.tone == "ok" else "❌"
    lines += [f"> {marker} **{_md(document.banner.text)}**", ""]
    for section in document.sections:
        lines += [f"## {_md(section.title)}", ""]
        for block in section.blocks:
            lines += [*_md_block(block), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _md_block(block: Block) -> list[str]:
    if isinstance(block, Text):
        text = _md(block.text)
        return [f"> {text}" if block.tone == "warn" else (f"**{text}**" if block.tone == "bad" else text)]
    if isinstance(block, Bullets):
        return [f"- {_md(item)}" for item in block.items]
    if isinstance(block, KeyValues):
        return [f"- **{_md(k)}:** {_md(v)}" for k, v in block.rows]
    if isinstance(block, Table):
        return [
            "| " + " | ".join(_md(h) for h in block.header) + " |",
            "|" + "---|" * len(block.header),
            *("| " + " | ".join(_md(c) for c in row) + " |" for row in block.rows),
        ]
    if isinstance(block, Flow):
        steps = [
            f"**{_md(state)} (failed here)**" if _flow_class(block, i) == "failed" else _md(state)
            for i, state in enumerate(block.states)
        ]
        return [" → ".join(steps)]
    if isinstance(block, Chart):
        return [f"![{_md(block.alt)}]({block.file_name})"]
    fence = "`" * max(3, _longest_backtick_run(block.text) + 1)
    return [fence, block.text, fence]


_MD_SPECIAL = re.compile(r"([\\`*\[\]|])")
# An underscore only starts or ends emphasis at a word boundary; job_failed is left readable.
_MD_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def _md(text: str) -> str:
    """Markdown-safe inline text: no raw HTML, no links or emphasis from data, one line (table cells)."""
    escaped = html.escape(" ".join(str(text).split()), quote=False)
    escaped = _MD_SPECIAL.sub(r"\\\1", escaped)
    return _MD_UNDERSCORE.sub(r"\\_", escaped)


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


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
    more = f" (and {issue['more_on_record']:,} more on this record)" if issue.get("more_on_record") else ""
    return f"{where}: {what}{issue.get('message', '')} [{issue.get('code', '?')}]{more}"


def _answer(cell: Any) -> tuple[str, str]:
    if not isinstance(cell, dict):
        return ("", "")
    score = cell.get("score")
    mark = "" if score is None else (" ✓" if score >= 1 else " ✗")
    return (str(cell.get("answer", "")), f"{_num(score)}{mark}")


def _int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else _num(value)


def _num(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    if isinstance(value, int | float):
        return f"{int(value):,}"
    return str(value)


def _spread(values: dict[str, Any], keys: tuple[str, ...]) -> str:
    return " / ".join(_num(values.get(k)) for k in keys)


def _pct(value: Any) -> str:
    return f"{value:.1%}" if _finite(value) else "unknown"


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _bytes(value: Any) -> str:
    if not isinstance(value, int):
        return "unknown"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{size:,.1f} GB"
