"""The report fits any team's task (issue #21): many labels are folded to the most frequent, long answers to
their head, a rising validation loss is said plainly, and every figure is written one way."""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path
from typing import Any

import pytest

from bft.report.document import FULL_CAP, HEAD
from bft.report.evaluation import LABEL_ROWS, MATRIX_LABELS, fold_confusion
from bft.report.loss import validation_rise
from bft.report.numbers import count, duration, hours, num, pct, size, usd
from bft.report.render import render
from tests.unit.report_runs import PREFIX, classification_run, metrics, run_record, tooluse_run

REPORT_MODULES = Path(__file__).resolve().parents[2] / "src" / "bft" / "report"


def _markdown_table(markdown: str, header_start: str) -> list[list[str]]:
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        if not line.startswith("|---"):
            table.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return table


def _html_tables(page: str) -> list[str]:
    return re.findall(r"<table\b.*?</table>", page, flags=re.DOTALL)


# -- many labels ---------------------------------------------------------------------------------------------------


def test_many_labels_show_the_most_frequent_and_say_where_the_rest_are() -> None:
    report, documents = classification_run(labels=150)
    labels = documents["evaluation.json"]["metrics"]["custom"]["labels"]
    files = render(report, documents)
    page, markdown = files["report.html"], files["report.md"]
    per_label = _markdown_table(markdown, "| label | support")
    assert len(per_label) == 1 + LABEL_ROWS
    supports = [int(row[1].replace(",", "")) for row in per_label[1:]]
    assert supports == sorted(supports, reverse=True)
    assert min(supports) >= sorted((v["support"] for v in labels.values()), reverse=True)[LABEL_ROWS - 1]
    where = f"130 more labels in evaluation.json in the run's S3 folder ({PREFIX}evaluation.json)"
    assert html.escape(where) in page
    assert where in markdown.replace("\\_", "_")
    # The confusion matrix: ten labels, one column and one row for the rest, in both formats.
    matrix = _markdown_table(markdown, "| expected / answered")
    assert len(matrix[0]) == 1 + MATRIX_LABELS + 1
    assert len(matrix) == 1 + MATRIX_LABELS + 1
    assert matrix[0][-1] == "any other answer"
    assert matrix[-1][0] == "140 other labels"
    # Folding loses no record: the cells still add up to every record evaluated.
    assert sum(int(cell.replace(",", "")) for row in matrix[1:] for cell in row[1:]) == 900
    grid = next(table for table in _html_tables(page) if 'class="grid"' in table)
    assert grid.count("<th>") == 1 + MATRIX_LABELS + 1
    assert "its 10 most frequent labels of 150: the last row sums the other 140 labels" in markdown


def test_a_few_labels_are_shown_whole() -> None:
    report, documents = classification_run(labels=6, records=60)
    markdown = render(report, documents)["report.md"]
    assert len(_markdown_table(markdown, "| label | support")) == 1 + 6
    assert "more labels in" not in markdown
    matrix = _markdown_table(markdown, "| expected / answered")
    assert "any other answer" not in matrix[0]
    assert "most frequent labels" not in markdown


def test_fold_confusion_keeps_the_most_frequent_labels_on_both_axes() -> None:
    columns = ["a", "b", "c", "d", "(other)"]
    rows = {"a": [1, 0, 0, 0, 0], "b": [0, 5, 1, 0, 2], "c": [3, 0, 4, 0, 0], "d": [0, 0, 0, 2, 1]}
    shown, table, folded = fold_confusion(columns, rows, keep=2)
    assert shown == ["b", "c", "any other answer"]  # b (8 records), c (7), then d (3) and a (1) folded
    assert table == [("b", "5", "1", "2"), ("c", "0", "4", "3"), ("2 other labels", "0", "0", "4")]
    assert folded == 2
    # A matrix that fits is left as it is, "(other)" column included.
    assert fold_confusion(columns, rows, keep=4) == (columns, [(k, *map(str, v)) for k, v in rows.items()], 0)


# -- long answers --------------------------------------------------------------------------------------------------


def test_long_answers_are_folded_to_their_head() -> None:
    report, documents = tooluse_run(records=120)
    row = documents["evaluation.json"]["rows"][0]
    echoed = row["base"]["answer"]
    assert len(echoed) > FULL_CAP
    files = render(report, documents)
    page, markdown = files["report.html"], files["report.md"]
    head = echoed[:HEAD].rstrip()
    # HTML: the head, then the value up to the cap behind <details>, saying it was cut.
    assert f"{html.escape(head)}<span" in page
    details = re.findall(r"<details><summary>(.*?)</summary><div>(.*?)</div></details>", page, flags=re.DOTALL)
    assert len(details) == 10, "the base answer of each of the ten records shown, not the short tool calls"
    summary, body = details[0]
    assert summary == f"{count(len(echoed) - len(head))} more characters"
    assert body.startswith(html.escape(echoed[:200]))
    assert html.escape(echoed[:FULL_CAP]) in body
    assert html.escape(echoed[: FULL_CAP + 1]) not in body
    assert f"…(cut: {count(len(echoed) - FULL_CAP)} more characters are not shown)" in body
    # Markdown: the head and how many characters were left out.
    table = _markdown_table(markdown, "| line | expected")
    assert len(table) == 1 + 10
    assert table[1][4].endswith(f"…({count(len(echoed) - len(head))} more characters)")
    assert len(table[1][4]) < HEAD + 80
    # A short answer (the custom model's tool call) is shown whole, in both formats.
    custom = row["custom"]["answer"]
    assert len(custom) < 400
    assert html.escape(custom) in page


def test_a_folded_value_is_escaped_in_full_and_in_its_head() -> None:
    report, documents = tooluse_run(records=5)
    evil = "<script>alert('x')</script> | [link](http://evil.example) " * 10
    documents["evaluation.json"]["rows"][0]["expected"] = evil
    files = render(report, documents)
    assert "<script>" not in files["report.html"]
    assert html.escape(evil) in files["report.html"]
    prose = files["report.md"]
    assert "<script>" not in prose
    assert "[link](" not in prose


# -- a rising validation loss --------------------------------------------------------------------------------------


def _curve(losses: list[float], per_epoch: int = 1) -> list[dict[str, Any]]:
    return [{"step": (i + 1) * 10, "epoch": i // per_epoch, "loss": loss} for i, loss in enumerate(losses)]


def test_a_rising_validation_loss_is_flagged_from_its_lowest_point() -> None:
    rise = validation_rise(_curve([1.2, 0.9, 0.8, 0.86, 0.95]))
    assert rise is not None
    assert rise.words() == (
        "validation loss rose from 0.8 at epoch 3 to 0.95 at epoch 5: the model may be overfitting; fewer epochs or "
        "more data"
    )


@pytest.mark.parametrize(
    ("losses", "why"),
    [
        ([0.8, 0.79, 0.8, 0.81, 0.82], "flat: up at the end by less than the margin, noise"),
        ([2.0, 1.5, 1.6, 1.2, 1.25, 1.0], "noisy but falling: the last point is the lowest"),
        ([1.0, 0.8, 0.95, 0.9], "rose, then came back down at the end"),
        ([1.0, 0.7, 0.9], "one evaluation after the lowest is too few to call a trend"),
        ([0.7, 0.9], "too short to judge"),
        ([], "no validation curve"),
    ],
)
def test_a_validation_loss_that_did_not_rise_is_not_flagged(losses: list[float], why: str) -> None:
    assert validation_rise(_curve(losses)) is None, why


def test_no_validation_curve_at_all_is_not_a_rise() -> None:
    assert validation_rise(None) is None
    assert validation_rise([{"step": 1, "loss": float("nan")}] * 4) is None


def test_several_evaluations_an_epoch_are_named_by_step() -> None:
    rise = validation_rise(_curve([1.0, 0.6, 0.7, 0.8], per_epoch=2))
    assert rise is not None
    assert "from 0.6 at step 20 to 0.8 at step 40" in rise.words()


def test_the_report_says_the_rise_in_the_loss_section_and_its_warnings() -> None:
    words = "validation loss rose from 0.55 at epoch 2 to 0.7 at epoch 4: the model may be overfitting"
    for name in ("report.html", "report.md"):
        text = render(run_record(), {"metrics.json": metrics([0.8, 0.55, 0.6, 0.7])})[name]
        warnings = text[text.index("Warnings") : text.index("Path through the states")]
        loss = text[text.index("Training and validation loss") : text.index("Evaluation")]
        assert words in warnings, name
        assert words.capitalize() in loss, name
    calm = render(run_record(), {"metrics.json": metrics([0.8, 0.55, 0.5])})["report.md"]
    assert "overfitting" not in calm
    assert "## Warnings" not in calm


# -- numbers, one way ----------------------------------------------------------------------------------------------


def test_numbers_are_written_one_way() -> None:
    assert pct(0.15) == "15.0%"
    assert pct(-0.4321, signed=True) == "-43.2%"
    assert pct(0.5, signed=True) == "+50.0%"
    assert pct(None) == pct(float("nan")) == "unknown"
    assert count(1234567) == "1,234,567"
    assert count(True) == "True"  # a flag is not a count
    assert num(0.123456) == "0.1235"
    assert num(12345.678) == "12,345.7"
    assert num(3.0) == "3"
    assert usd(21.18) == "$21.18"
    assert usd(1234.5) == "$1,234.50"
    assert usd(0.0035) == "$0.0035"
    assert usd(0.5) == "$0.50"
    assert usd(0.12345) == "$0.1235"
    assert usd(0) == "$0.00"
    assert size(512) == "512 B"
    assert size(1_500_000) == "1.5 MB"
    assert size(7_000_000_000) == "7.0 GB"
    assert duration(3 * 86_400) == "3 days"
    assert duration(45 * 60) == "45 minutes"
    assert hours(12) == "12 hours"
    assert hours(1) == "1 hour"
    assert hours("x") == "unknown"


def test_the_report_writes_durations_in_words_and_counts_with_separators() -> None:
    markdown = render(run_record(), {})["report.md"]
    assert "deleted by the pipeline after 12 hours (non-prod TTL)" in markdown
    assert "| 12 hours |" in markdown
    assert "1,234,567" in markdown


def test_report_sections_format_figures_only_through_the_helpers() -> None:
    """An f-string format spec in a section (``{x:.1%}``, ``{n:,}``) would write a figure its own way."""
    for module in ("render.py", "document.py", "evaluation.py", "loss.py", "judge.py"):
        tree = ast.parse((REPORT_MODULES / module).read_text())
        specs = [
            ast.unparse(node)
            for node in ast.walk(tree)
            if isinstance(node, ast.FormattedValue) and node.format_spec is not None
        ]
        assert not specs, f"{module}: {specs}"
