"""The report's evaluation section: the gate's verdict, tokens and cost per query, the scorer's metrics and the
first wrong records, base beside custom.

It must fit any team's task, not only a few labels: the per-label table shows the LABEL_ROWS labels with the
most records, the confusion matrix the MATRIX_LABELS most frequent labels with the rest summed into one row and
one column, and long answers are folded (:class:`bft.report.document.Long`). Each fold says what it left out and
that evaluation.json, in the run's S3 folder, has it all. Everything here is computed from evaluation.json as
the evaluation step writes it; the report never needs a field the step does not write.

Standard library only: this module ships in the functions' layer.
"""

from __future__ import annotations

from typing import Any

from bft.report.document import Block, Bullets, Cell, KeyValues, Long, Section, Table, Text, Tone
from bft.report.judge import judge_blocks
from bft.report.numbers import count, num, pct, usd

EVALUATION_ROWS = 10
LABEL_ROWS = 20
# Ten labels and one column for the rest: with the label column, 12 columns, which fit an A4 page's width.
MATRIX_LABELS = 10
SIMULATED_SCORES = (
    "Simulated: scores of stand-ins, not of real models: the custom model answers with what a learner trained on "
    "your data predicts (naive Bayes for labels, the nearest training example for other answers); the base model "
    "from its prompt alone (the labels, tools or examples it lists)."
)
SIMULATED_USAGE = (
    "Simulated: tokens are counted by the Bedrock fake at about 4 characters a token and its latency is 400 ms "
    "plus 20 ms per answer token, not a real model's; the prices are the configuration's or illustrative."
)


def evaluation_section(report: dict[str, Any], documents: dict[str, Any], simulated: bool = False) -> Section:
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
    threshold = pct(result.get("threshold"))
    if (result.get("thresholdSource") or document.get("thresholdSource")) == "default":
        threshold += " (the default: no minimum; set evaluation.threshold to gate on one)"
    rows = [
        ("custom model", pct(scores.get("custom"))),
        ("base model", pct(scores.get("base")) if "base" in scores else "not compared"),
        ("threshold", threshold),
        ("records", count(result.get("records"))),
        ("scorer and gate metric", f"{result.get('scorer', '?')}, {metric}"),
        ("result", "PASS" if passed else "FAIL"),
    ]
    if document.get("chunks"):
        chunks = int(document["chunks"])
        at_once = document.get("concurrency")
        rows.append(
            (
                "scored in",
                f"{count(chunks)} chunk{'s' if chunks != 1 else ''}, {count(at_once) if at_once else '?'} at a time",
            )
        )
    blocks: list[Block] = [
        Text(
            f"{'PASS' if passed else 'FAIL'}: the custom model scored {pct(scores.get('custom'))} ({metric}) against "
            f"a threshold of {pct(result.get('threshold'))}"
            + (f"; the base model scored {pct(scores.get('base'))}." if "base" in scores else "."),
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
    blocks.extend(_classification(metrics, _full_list(report)))
    blocks.extend(_json_fields(metrics))
    blocks.extend(judge_blocks(document, simulated))
    blocks.extend(_wrong_records(result, document))
    return Section("Evaluation", blocks)


def _full_list(report: dict[str, Any]) -> str:
    """Where a fold's whole list is: evaluation.json in the run's S3 folder, named when the record has it."""
    prefix = (report.get("location") or {}).get("prefixUri")
    where = "evaluation.json in the run's S3 folder"
    return f"{where} ({prefix}evaluation.json)" if prefix else where


def _wrong_records(result: dict[str, Any], document: dict[str, Any]) -> list[Block]:
    sample = document.get("rows") or []
    wrong = document.get("wrong") or {
        model: sum(1 for row in sample if isinstance(row.get(model), dict) and row[model].get("score", 0) < 1)
        for model in ("custom", "base")
        if any(model in row for row in sample)
    }
    blocks: list[Block] = []
    if wrong:
        blocks.append(
            Text(
                "Records answered wrong: "
                + ", ".join(f"{model} model {count(n)} of {count(result.get('records'))}" for model, n in wrong.items())
                + "."
            )
        )
    if sample:
        has_base = any("base" in row for row in sample)
        header = ("line", "expected", "custom answer", "custom score") + (
            ("base answer", "base score") if has_base else ()
        )
        table_rows: list[tuple[Cell, ...]] = []
        for row in sample[:EVALUATION_ROWS]:
            cells: tuple[Cell, ...] = (
                str(row.get("line")),  # a line number to look up in the file, not a quantity: no separators
                Long(str(row.get("expected"))),
                *_answer(row.get("custom")),
            )
            table_rows.append(cells + (_answer(row.get("base")) if has_base else ()))
        what = "records the custom model answered wrong" if "wrong" in document else "evaluation records"
        blocks.append(Text(f"First {count(len(table_rows))} {what}, base against custom:", "muted"))
        blocks.append(Table(header, table_rows))
    return blocks


def _answer(cell: Any) -> tuple[Cell, str]:
    if not isinstance(cell, dict):
        return ("", "")
    score = cell.get("score")
    mark = "" if score is None else (" ✓" if score >= 1 else " ✗")
    return (Long(str(cell.get("answer", ""))), f"{num(score)}{mark}")


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
        return usd(value) if isinstance(value, int | float) else "unknown (no on-demand price)"

    models = [name for name in ("base", "custom") if name in figures]
    rows = [
        (
            f"{name} model",
            f"{num(figures[name]['tokens'])} ({num(figures[name]['inputTokens'])} in, "
            f"{num(figures[name]['outputTokens'])} out)",
            f"{count(figures[name]['latencyMsP50'])} / {count(figures[name]['latencyMsP95'])} ms",
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
        blocks.append(
            Text(
                f"Tokens per query: {pct(change, signed=True)} ({pct(abs(change))} {fewer}), custom against base.", tone
            )
        )
    prompt = document.get("basePrompt")
    if prompt == "production":
        blocks.append(Text("The base model got its production prompt (evaluation.baseSystemPrompt).", "muted"))
    blocks.append(Table(("model", "tokens per query", "latency p50 / p95", "per 1,000 queries"), rows))
    return blocks


def _classification(metrics: dict[str, Any], full_list: str) -> list[Block]:
    """Per-label precision, recall and F1, and the confusion matrix, of a classification scorer's run; the
    labels with the most records when there are more than a page holds."""
    custom = metrics.get("custom") or {}
    labels = custom.get("labels")
    if not labels:
        return []
    base = (metrics.get("base") or {}).get("labels") or {}
    header = ("label", "support", "precision", "recall", "F1") + (("base F1",) if base else ())
    ranked = sorted(labels, key=lambda label: (-_support(labels[label]), str(label)))
    rows = [
        (str(label), count(labels[label].get("support")), pct(labels[label].get("precision")))
        + (pct(labels[label].get("recall")), pct(labels[label].get("f1")))
        + ((pct((base.get(label) or {}).get("f1")),) if base else ())
        for label in ranked[:LABEL_ROWS]
    ]
    blocks: list[Block] = [
        Text(
            f"Custom model per label: accuracy {pct(custom.get('accuracy'))}, macro F1 {pct(custom.get('macro_f1'))}.",
            "muted",
        ),
        Table(header, rows),
    ]
    hidden = len(ranked) - len(rows)
    if hidden:
        blocks.append(
            Text(
                f"The {count(len(rows))} labels with the most records are shown, of {count(len(ranked))}: "
                f"{count(hidden)} more label{'s' if hidden != 1 else ''} in {full_list}.",
                "muted",
            )
        )
    confusion = custom.get("confusion") or {}
    columns = [str(c) for c in confusion.get("columns") or []]
    matrix = {str(label): [int(n) for n in counts] for label, counts in (confusion.get("rows") or {}).items()}
    if not matrix:
        return blocks
    columns, table, folded = fold_confusion(columns, matrix, MATRIX_LABELS)
    what = "Confusion matrix of the custom model (rows: expected label, columns: its answer)"
    if folded:
        what += (
            f", its {count(MATRIX_LABELS)} most frequent labels of {count(len(matrix))}: the last row sums the other "
            f"{count(folded)} labels, the last column every other answer (those labels, and answers that are no "
            f"label at all); the whole matrix is in {full_list}"
        )
    blocks.append(Text(what + ":", "muted"))
    blocks.append(Table(("expected / answered", *columns), table, grid=True))
    return blocks


def _json_fields(metrics: dict[str, Any]) -> list[Block]:
    """Field precision, recall and F1, parse failures and schema validity of a json_match run, per model."""
    models = [m for m in ("custom", "base") if "field_f1" in (metrics.get(m) or {})]
    if not models:
        return []

    def failures(values: dict[str, Any]) -> str:
        return f"{count(values.get('parse_failures'))} of {count(values.get('json_records'))}"

    rows = [
        ("exact matches (structurally equal)", *(pct(metrics[m].get("structural_match")) for m in models)),
        ("field precision", *(pct(metrics[m].get("field_precision")) for m in models)),
        ("field recall", *(pct(metrics[m].get("field_recall")) for m in models)),
        ("field F1", *(pct(metrics[m].get("field_f1")) for m in models)),
        ("answers that are not JSON", *(failures(metrics[m]) for m in models)),
    ]
    if all("schema_valid" in metrics[m] for m in models):
        rows.append(("valid against the JSON Schema", *(pct(metrics[m].get("schema_valid")) for m in models)))
    blocks: list[Block] = [Table(("JSON answers", *(f"{m} model" for m in models)), rows)]
    examples = metrics["custom"].get("schema_examples") if "custom" in models else None
    if examples:
        blocks.append(Text("Schema violations of the custom model, first ones:", "muted"))
        blocks.append(Bullets([str(example) for example in examples]))
    return blocks


def _support(values: Any) -> int:
    support = values.get("support") if isinstance(values, dict) else None
    return support if isinstance(support, int) else 0


def fold_confusion(
    columns: list[str], rows: dict[str, list[int]], keep: int
) -> tuple[list[str], list[tuple[str, ...]], int]:
    """(columns, rows, labels folded) of a confusion matrix at most ``keep`` + 1 answers wide: as it is when it
    fits, else its ``keep`` most frequent expected labels (most records first, then most answered, then by name)
    in rank order on both axes, one column summing every other answer and one row summing every other label."""
    if len(columns) <= keep + 1:
        return columns, [(label, *(count(n) for n in counts)) for label, counts in rows.items()], 0
    index = {column: i for i, column in enumerate(columns)}

    def answered(label: str) -> int:
        return sum(counts[index[label]] for counts in rows.values()) if label in index else 0

    ranked = sorted(rows, key=lambda label: (-sum(rows[label]), -answered(label), label))
    kept, rest = ranked[:keep], ranked[keep:]
    kept_at = [index[label] for label in kept if label in index]
    names = [label for label in kept if label in index]

    def fold(counts: list[int]) -> list[int]:
        shown = [counts[i] for i in kept_at]
        return [*shown, sum(counts) - sum(shown)]

    table = [(label, *(count(n) for n in fold(rows[label]))) for label in kept]
    if rest:
        summed = [sum(column) for column in zip(*(fold(rows[label]) for label in rest), strict=True)]
        table.append((f"{count(len(rest))} other labels", *(count(n) for n in summed)))
    return [*names, "any other answer"], table, len(rest)
