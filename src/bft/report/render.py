"""The run report a person reads: ``report.html`` and its Markdown twin ``report.md``, for every run.

FinalizeSuccess and FinalizeFailure render it from the run's record (``run.json``) and the documents the
steps wrote beside it (dataset validation, metrics, evaluation), and put it in the reports bucket; the
demo downloads what Finalize wrote. Both formats come from one list of sections, so they carry the same
facts. The HTML is self-contained (inline CSS, inline SVG, no script, no external URL) so it opens
offline; the Markdown refers to the loss chart as ``loss.svg`` next to it. This module chooses the sections and
their facts; :mod:`bft.report.document` holds the blocks and both renderers, :mod:`bft.report.chart` the chart.

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
    Chart,
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
from bft.report.judge import judge_blocks

UNKNOWN_PRICE = "unknown — set prices in config"
# States the workflow passes through after a failure; the failing state is the one before them.
_RECOVERY_STATES = ("Cleanup", "FinalizeFailure")
EVALUATION_ROWS = 10
_FILE_KINDS = {"train": "training"}  # the twin's upload names for the user's files, in words
# Labels of what the offline run computed rather than measured (bft_twin.bedrock_fake._learner).
SIMULATED_LOSS = (
    "Simulated: the loss of a stand-in learner trained on your data by the Bedrock fake, not of a real model."
)
SIMULATED_SCORES = (
    "Simulated: scores of stand-ins, not of real models: the custom model answers with what a learner trained on "
    "your data predicts (naive Bayes for labels, the nearest training example for other answers); the base model "
    "from its prompt alone (the labels, tools or examples it lists)."
)
ILLUSTRATIVE_PRICES = (
    "Illustrative prices: the local configuration's price table, not AWS list prices; a real run is billed by AWS."
)
SIMULATED_USAGE = (
    "Simulated: tokens are counted by the Bedrock fake at about 4 characters a token and its latency is 400 ms "
    "plus 20 ms per answer token, not a real model's; the prices are the configuration's or illustrative."
)
SIMULATED_CHART_NOTE = "simulated: a stand-in learner's loss, not a real model's"
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
                + (f" (one real second stood for {factor:g} simulated seconds)" if finite(factor) else "")
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
    note = SIMULATED_CHART_NOTE if simulated else None
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
    blocks.extend(_per_query(report, result, document))
    metrics = document.get("metrics") or {}
    blocks.extend(_classification(metrics))
    blocks.extend(_json_fields(metrics))
    blocks.extend(judge_blocks(document, simulated))
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


def _per_query(report: dict[str, Any], result: dict[str, Any], document: dict[str, Any]) -> list[Block]:
    """The seed's other headline: tokens per query and cost per 1,000 queries, base against custom."""
    figures = result.get("perQuery") or document.get("perQuery") or {}
    if not figures:
        return []
    costs = ((report.get("cost") or {}).get("perQuery") or {}).get("perThousandQueriesUsd") or {}
    hourly = ((report.get("cost") or {}).get("perQuery") or {}).get("customBilledHourly")

    def cost(name: str) -> str:
        if name == "custom" and hourly:
            return "billed by the hour (provisioned throughput)"
        value = costs.get(name)
        if not isinstance(value, int | float):
            return "unknown (no on-demand price)"
        return _usd(value) if value >= 1 else f"${value:.4f}"  # cents would round a cheap model's cost to nothing

    models = [name for name in ("base", "custom") if name in figures]
    rows = [
        (
            f"{name} model",
            f"{_num(figures[name]['tokens'])} ({_num(figures[name]['inputTokens'])} in, "
            f"{_num(figures[name]['outputTokens'])} out)",
            f"{_int(figures[name]['latencyMsP50'])} / {_int(figures[name]['latencyMsP95'])} ms",
            cost(name),
        )
        for name in models
    ]
    change = result.get("tokenReduction", document.get("tokenReduction"))
    blocks: list[Block] = []
    if report.get("simulation"):
        blocks.append(Text(SIMULATED_USAGE, "warn"))
    if isinstance(change, int | float):
        fewer = "fewer" if change < 0 else "more"
        # More tokens than the base model is worth a look: a fine-tuned model should need a shorter prompt.
        tone: Tone = "ok" if change < 0 else "warn"
        blocks.append(Text(f"Tokens per query: {change:+.0%} ({abs(change):.0%} {fewer}), custom against base.", tone))
    prompt = document.get("basePrompt")
    if prompt == "production":
        blocks.append(Text("The base model got its production prompt (evaluation.baseSystemPrompt).", "muted"))
    blocks.append(Table(("model", "tokens per query", "latency p50 / p95", "per 1,000 queries"), rows))
    return blocks


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
    if per_hour is None and finite(serving.get("hourly_cost_usd")):
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
    return f"{value:.1%}" if finite(value) else "unknown"


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
