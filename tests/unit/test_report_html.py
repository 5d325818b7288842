"""The run report (HTML + Markdown twin) Finalize writes for every run, the CLI's verdict, and the committed
sample data."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from bft import sample_data
from bft.report.chart import loss_chart
from bft.report.render import failing_state, render
from bft.synth import ROOT, cached_synth
from bft.workflow.report import OUTCOMES, RUNBOOK
from bft_twin.cli import _print_summary, ended_as_intended

SAMPLE = ROOT / "data" / "sample"
SPLITS = ("train.jsonl", "validation.jsonl", "evaluation.jsonl")
EVIL = "<script>alert('x')</script> | *bold* [link](http://evil.example) & `tick`"
# Words only the offline twin's report may use: a real run's report must not pretend or apologise.
DEMO_WORDING = ("simulat", "illustrative", "naive bayes", "scenario", "local run", "fake")


def _run(name: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Path]]:
    from bft_twin.run import run_scenario

    assembly = cached_synth("local", ROOT / ".pytest_cache" / "synth")
    work = tmp_path_factory.mktemp(name)
    summary = run_scenario(name, assembly=assembly, workdir=work / "data", report_dir=work / "report")
    return summary, {path.name: path for path in (work / "report").iterdir()}


@pytest.fixture(scope="module")
def success(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Path]]:
    return _run("success", tmp_path_factory)


@pytest.fixture(scope="module")
def job_failed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Path]]:
    return _run("job-failed", tmp_path_factory)


def _offline_only(page: str) -> None:
    """Self-contained: nothing is fetched or executed when the page opens."""
    assert "<script" not in page
    assert not re.search(r"\b(src|href)\s*=", page)
    assert "url(" not in page
    assert "@import" not in page


@pytest.mark.slow
def test_success_report_has_chart_scores_and_throughput(success: tuple[dict[str, Any], dict[str, Path]]) -> None:
    summary, files = success
    assert summary["outcome"] == "deployed"
    # What the demo shows is what Finalize wrote into the (simulated) reports bucket, downloaded.
    prefix = summary["report_uri"].split("/", 3)[3].removesuffix("run.json")
    assert summary["report_objects"] == [prefix + name for name in ("report.html", "report.md", "loss.svg", "run.json")]
    assert set(files) == {"report.html", "report.md", "loss.svg", "run.json"}
    page = files["report.html"].read_text()
    _offline_only(page)
    assert '<div class="banner ok"' in page
    assert "Bedrock was simulated" in page
    # What the stand-in computed is labelled as simulated where a person reads it.
    assert "Simulated scenario parameter: loss curves and evaluation scores are computed by stand-ins" in page
    # The path comes from the execution's history, read by Finalize itself.
    assert '<li class="">RequestApproval</li>' in page
    assert '<li class="">FinalizeSuccess</li>' in page
    # One inline chart with a line for each curve.
    svg = re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)
    assert len(svg) == 1
    assert svg[0].count("<polyline") == 2
    assert ">training loss</text>" in svg[0]
    assert ">validation loss</text>" in svg[0]
    scores = summary["report"]["evaluation"]["scores"]
    assert f"{scores['custom']:.1%}" in page
    assert f"{scores['base']:.1%}" in page
    arn = summary["report"]["serving"]["arn"]
    assert arn in page
    assert arn in summary["provisioned_throughputs_left"]
    per_hour = summary["report"]["cost"]["servingPerHourUsd"]
    assert f"${per_hour:,.2f} per hour" in page
    assert '<li class="failed">' not in page
    # The Markdown twin tells the same story and points at the chart written next to it.
    markdown = files["report.md"].read_text()
    assert "SUCCESS: deployed" in markdown
    assert f"{scores['custom']:.1%}" in markdown
    assert f"{scores['base']:.1%}" in markdown
    assert arn in markdown
    assert "![Training and validation loss](loss.svg)" in markdown
    standalone = ET.fromstring(files["loss.svg"].read_text())
    assert len(standalone.findall(".//{http://www.w3.org/2000/svg}polyline")) == 2
    # The seed's other headline: tokens per query, base (given its production prompt) against custom.
    queries = summary["per_query"]
    assert queries["simulated"] is True
    assert queries["token_reduction"] < -0.5
    assert queries["models"]["base"]["tokens"] > queries["models"]["custom"]["tokens"]
    change = f"Tokens per query: {queries['token_reduction']:+.1%}"  # one decimal, as every percentage
    assert change in page
    assert change in markdown
    assert "The base model got its production prompt" in page
    # Served by provisioned throughput: billed by the hour, not per query; the base model per 1,000 queries.
    assert "billed by the hour (provisioned throughput)" in page
    assert queries["per_thousand_queries_usd"]["custom"] is None


@pytest.mark.slow
def test_failure_report_has_banner_failing_state_and_runbook(
    job_failed: tuple[dict[str, Any], dict[str, Path]],
) -> None:
    summary, files = job_failed
    assert summary["outcome"] == "job_failed"
    assert "loss.svg" not in files, "a job that failed in training has no loss curves"
    assert [key.rsplit("/", 1)[-1] for key in summary["report_objects"]] == ["report.html", "report.md", "run.json"]
    page = files["report.html"].read_text()
    _offline_only(page)
    assert '<div class="banner bad"' in page
    assert "FAILED: job_failed" in page
    assert "Training data exceeds the token limit on line 17" in page
    assert '<li class="failed">WaitForJob (failed here)</li>' in page
    assert html.escape(RUNBOOK["job_failed"]) in page
    assert "Nothing this run created is still running." in page
    assert "<polyline" not in page
    markdown = files["report.md"].read_text()
    assert "FAILED: job_failed" in markdown
    assert "**WaitForJob (failed here)**" in markdown
    assert "Runbook: Read Bedrock" in markdown


@pytest.mark.slow
def test_cli_says_the_failure_was_intended(
    job_failed: tuple[dict[str, Any], dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    summary, files = job_failed
    printed = {
        **summary,
        "lambda_log": "x.log",
        "report_html": str(files["report.html"]),
        "report_md": str(files["report.md"]),
    }
    assert ended_as_intended(printed)
    _print_summary(printed)
    out = capsys.readouterr().out
    assert "ended in the failure path as intended: job_failed: " in out
    assert f"Report: {files['report.html'].resolve()}" in out
    assert "Finalize wrote: report.html, report.md, run.json" in out
    # The same run would be a failure of the demo if the scenario had meant to deploy.
    assert not ended_as_intended({**summary, "expected_outcome": "deployed"})


def _handmade(*, simulated: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """A failed run's record whose every team-controlled string is hostile (no workflow run needed)."""
    row = {"line": 1, "expected": EVIL, "custom": {"answer": EVIL, "score": 0.0}, "base": {"answer": "OK", "score": 1}}
    report: dict[str, Any] = {
        "status": "FAILED",
        "outcome": "eval_below_threshold",
        "path": {"states": ["Init", "Evaluate", "Cleanup", "FinalizeFailure"], "stateTransitions": 4},
        "notification": {"subject": EVIL, "message": EVIL},
        "request": {"team": EVIL, "requestId": EVIL},
        "run": {"baseModelId": EVIL, "serving": {"modelUnits": 1}},
        "warnings": [EVIL],
        "error": {
            "Error": "EvaluationBelowThreshold",
            "Cause": '{"errorMessage": "' + EVIL.replace('"', "") + '"}',
        },
        "serving": {"arn": EVIL, "name": EVIL},
        "cleanup": {"actions": [EVIL]},
        "leftRunning": [],
        "cost": {"estimatedBilledTokens": None, "trainingUsd": None, "servingPerHourUsd": None},
        "runbook": RUNBOOK["eval_below_threshold"],
    }
    if simulated:
        report["simulation"] = {"scenario": EVIL, "expectedOutcome": "eval_below_threshold", "parameters": [EVIL]}
    return report, {
        "evaluation.json": {
            "scorer": "exact_match",
            "threshold": 0.95,
            "records": 1,
            "scores": {"custom": 0.0, "base": 1.0},
            "passed": False,
            "rows": [row],
        },
        "metrics.json": {
            "curves": {"training": [{"step": 0, "epoch": 0, "loss": 1.0}, {"step": 1, "epoch": 0, "loss": 0.5}]}
        },
    }


def test_every_value_is_escaped() -> None:
    report, documents = _handmade()
    files = render(report, documents)
    page = files["report.html"]
    _offline_only(page)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "evil.example" in page  # shown as text, never as a link
    markdown = files["report.md"]
    # Fenced code is shown literally by every Markdown renderer; everywhere else data must be inert.
    prose = re.sub(r"^(`{3,})\n.*?^\1$", "", markdown, flags=re.DOTALL | re.MULTILINE)
    assert "alert(" in markdown
    assert "alert(" in prose
    assert "<script>" not in prose
    assert "[link](" not in prose, "a link from the data must not become a Markdown link"
    # A pipe from the data must not open a new table cell: the evaluation row keeps the header's columns.
    lines = markdown.splitlines()
    header = next(line for line in lines if line.startswith("| line | expected"))
    row = next(line for line in lines if line.startswith("| 1 | "))
    assert row.replace("\\|", "").count(" | ") == header.count(" | ")


def test_a_real_runs_report_has_no_demo_wording() -> None:
    """Only the offline twin sets ``simulation``: without it, nothing is labelled simulated or illustrative."""
    report, documents = _handmade(simulated=False)
    report["cost"] = {"estimatedBilledTokens": 1000, "trainingUsd": 0.01, "servingPerHourUsd": 21.18}
    files = render(report, documents)
    for name in ("report.html", "report.md", "loss.svg"):
        text = files[name].lower()
        assert not [word for word in DEMO_WORDING if word in text], name
    simulated, _ = _handmade(simulated=True)
    assert "simulated" in render(simulated, documents)["report.html"].lower()


@pytest.mark.parametrize("outcome", sorted({*OUTCOMES.values(), "error", "deployed"}))
def test_every_outcome_renders_and_a_failure_names_its_runbook_entry(outcome: str) -> None:
    report, documents = _handmade(simulated=False)
    report.update(outcome=outcome, runbook=RUNBOOK.get(outcome))
    if outcome == "deployed":
        report.update(status="SUCCEEDED", error=None)
        report["path"]["states"] = ["Init", "Evaluate", "FinalizeSuccess"]
    files = render(report, documents)
    page, markdown = files["report.html"], files["report.md"]
    _offline_only(page)
    if outcome == "deployed":
        assert "SUCCESS: deployed" in page
        assert "Runbook:" not in page
    else:
        assert f"FAILED: {outcome}" in page
        assert f"FAILED: {outcome.replace('_', chr(92) + '_')}" in markdown or f"FAILED: {outcome}" in markdown
        assert html.escape(f"Runbook: {RUNBOOK[outcome]}") in page
        assert '<li class="failed">Evaluate (failed here)</li>' in page
    for title in ("Path through the states", "Dataset", "Training and validation loss", "Evaluation", "Serving"):
        assert f"<h2>{title}</h2>" in page
    assert "<h2>What still costs money</h2>" in page
    assert "<h2>Cleanup</h2>" in page


def test_unknown_prices_say_how_to_set_them() -> None:
    report, documents = _handmade()
    page = render(report, documents)["report.html"]
    assert "unknown — set prices in config" in page
    assert "deleted during cleanup" in page  # the serving ARN appears among the cleanup actions


def test_chart_without_validation_has_one_line_and_says_so() -> None:
    report, documents = _handmade()
    files = render(report, documents)
    page = files["report.html"]
    assert page.count("<polyline") == 1
    assert ">validation loss</text>" not in page  # no legend entry for a curve that is not there
    assert "No validation curve" in page
    assert "No validation curve" in files["report.md"]


def test_chart_axes_cover_the_data() -> None:
    curves = {
        "training": [{"step": s, "epoch": s // 50, "loss": 2.4 - s / 50} for s in range(100)],
        "validation": [{"step": 49, "epoch": 0, "loss": 0.7}, {"step": 99, "epoch": 1, "loss": float("nan")}],
    }
    svg = loss_chart(curves, standalone=True)
    root = ET.fromstring(svg)  # well-formed on its own (loss.svg)
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert {"0", "2.5", "100", "training step", "loss", "epoch 2"} <= set(labels)
    validation = root.find(".//{http://www.w3.org/2000/svg}polyline[@class='validation']")
    assert validation is not None
    assert len(validation.attrib["points"].split()) == 1, "a non-finite loss is dropped, not drawn"


def test_a_run_without_curves_has_no_chart() -> None:
    report, documents = _handmade()
    assert "loss.svg" in render(report, documents)
    del documents["metrics.json"]
    assert "loss.svg" not in render(report, documents)


def test_failing_state_is_the_one_before_cleanup() -> None:
    assert failing_state(["Init", "StartJob", "WaitForJob", "Cleanup", "FinalizeFailure", "RunFailed"]) == 2
    assert failing_state(["Init", "ValidateRequest", "FinalizeFailure"]) == 1
    assert failing_state(["Init", "Broken"]) == 1
    assert failing_state([]) is None


def test_committed_sample_data_is_what_the_script_writes(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "make_sample_data.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True)
    for folder in ("", "prompt-completion", "anthropic-messages"):  # bedrock-conversation-2024 at the top
        for name in SPLITS:
            assert (tmp_path / folder / name).read_bytes() == (SAMPLE / folder / name).read_bytes(), (
                f"data/sample/{folder}/{name} drifted: run `.venv/bin/python scripts/make_sample_data.py` and "
                "commit the result"
            )


@pytest.mark.parametrize(
    ("folder", "model"),
    [
        ("", "amazon.nova-micro-v1:0:128k"),
        ("", "amazon.nova-2-lite-v1:0:256k"),
        ("", "meta.llama3-3-70b-instruct-v1:0:128k"),
        ("prompt-completion", "meta.llama3-1-8b-instruct-v1:0:128k"),
        ("anthropic-messages", "anthropic.claude-3-haiku-20240307-v1:0:200k"),
    ],
)
def test_committed_sample_data_is_valid_for_each_family(folder: str, model: str) -> None:
    from bft.dataset.validator import validate_paths

    report = validate_paths(model, SAMPLE / folder / "train.jsonl", SAMPLE / folder / "validation.jsonl", epochs=2)
    assert report.valid, report.errors[:3]


def test_the_formats_carry_the_same_records() -> None:
    answers = {
        folder: [sample_data.answer_of(json.loads(line)) for line in (SAMPLE / folder / "train.jsonl").open()]
        for folder in ("", "prompt-completion", "anthropic-messages")
    }
    assert answers[""] == answers["prompt-completion"] == answers["anthropic-messages"]


def test_committed_sample_data_is_the_demos_data(tmp_path: Path) -> None:
    # `bft local-run` regenerates its splits with the defaults: the shipped files must be those bytes.
    written = sample_data.write_splits(tmp_path)
    for name in SPLITS:
        assert written[name.removesuffix(".jsonl")].read_bytes() == (SAMPLE / name).read_bytes()
    assert sum(1 for _ in (SAMPLE / "train.jsonl").open()) >= 100, "Llama needs at least 100 records"


def test_each_runbook_entry_quotes_the_line_its_notification_prints() -> None:
    # The scenarios' and outcomes' tables are generated (tests/unit/test_docs_tables.py); the entries are prose,
    # and each one's **Do** must still start from the runbook line the notification prints.
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    entries = dict(re.findall(r"^### (\w+)\n(.*?)(?=^##|\Z)", runbook, flags=re.MULTILINE | re.DOTALL))
    assert set(entries) == set(RUNBOOK) - {"error"}
    for outcome, line in RUNBOOK.items():
        if outcome != "error":
            entry = " ".join(entries[outcome].split())
            assert f"**Do**: {' '.join(line.split())}" in entry, f"docs/runbook.md differs for {outcome}"


def test_the_dataset_section_groups_the_same_error_on_many_records() -> None:
    from bft.dataset import validate_lines
    from tests.unit.test_dataset_rules import HAIKU, dataset

    report, documents = _handmade(simulated=False)
    validation = validate_lines("amazon.nova-lite-v1:0:300k", dataset(HAIKU, 60)).to_dict()
    files = render(report, {**documents, "dataset-validation.json": validation})
    page = files["report.html"]
    assert "INVALID (180 errors)" in page
    line = (
        "system: must be an array of {text} objects, got string [wrong_type]: the same error on 60 records: lines 1-60"
    )
    assert line in page
    assert page.count("[wrong_type]") == 3  # one line per kind, not one per record
    assert files["report.md"].count("wrong_type") == 3


def test_the_evaluation_section_says_the_scorer_why_and_a_default_threshold() -> None:
    report, documents = _handmade(simulated=False)
    fields = {"field_precision": 0.9, "field_recall": 0.8, "field_f1": 0.8471, "structural_match": 0.75}
    documents["evaluation.json"] = {
        "scorer": "json_match",
        "scorerSource": "chosen",
        "scorerReason": "118 of 120 expected answers are JSON objects or arrays (tool calls included)",
        "metric": "structural_match",
        "threshold": 0.0,
        "thresholdSource": "default",
        "records": 120,
        "scores": {"custom": 0.75, "base": 0.1},
        "passed": True,
        "metrics": {
            "custom": {**fields, "parse_failures": 2, "json_records": 118, "schema_valid": 0.95},
            "base": {**fields, "field_f1": 0.2, "parse_failures": 90, "json_records": 118, "schema_valid": 0.1},
        },
        "rows": [],
    }
    documents["evaluation.json"]["metrics"]["custom"]["schema_examples"] = ["input.days: expected integer, got string"]
    page, markdown = (render(report, documents)[name] for name in ("report.html", "report.md"))
    for text in (page, markdown):
        assert (
            "Scorer: json_match, chosen from the evaluation data: 118 of 120 expected answers are JSON objects or "
            "arrays (tool calls included)." in text
        )
        assert "0.0% (the default: no minimum; set evaluation.threshold to gate on one)" in text
        assert "input.days: expected integer, got string" in text
    assert "| field F1 | 84.7% | 20.0% |" in markdown
    assert "| answers that are not JSON | 2 of 118 | 90 of 118 |" in markdown
    assert "| valid against the JSON Schema | 95.0% | 10.0% |" in markdown
    # A scorer and threshold the request named are said to be requested, with no "default".
    documents["evaluation.json"].update(scorerSource="requested", thresholdSource="requested", threshold=0.9)
    markdown = render(report, documents)["report.md"]
    assert "Scorer: json_match, requested (evaluation.scorer)." in markdown
    assert "the default" not in markdown
