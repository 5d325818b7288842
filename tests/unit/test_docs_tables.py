"""The docs site's generated tables (scripts/docs_tables.py) are what the code says, and the generator refuses
markers it cannot honour."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bft.synth import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import docs_tables


def test_every_generated_table_in_the_docs_is_what_the_code_generates() -> None:
    problems = docs_tables.check()
    assert not problems, "\n".join([*problems, f"fix: run `{docs_tables.COMMAND}` (make docs-tables) and commit"])


def test_the_scenarios_table_has_one_row_per_scenario_in_order() -> None:
    from bft_twin.run import SCENARIOS

    rows = docs_tables.scenarios().splitlines()[2:]
    assert [row.split(" | ")[0].strip("| `") for row in rows] == list(SCENARIOS)
    assert "[`job_failed`](runbook.md#job_failed)" in rows[list(SCENARIOS).index("job-failed")]


def test_the_outcomes_table_quotes_each_runbook_line() -> None:
    from bft.workflow.report import OUTCOMES, RUNBOOK

    text = docs_tables.outcomes()
    assert len(text.splitlines()) == 2 + len(OUTCOMES) + 1  # header, rule, one per error type, the fallback
    for outcome, line in RUNBOOK.items():
        assert docs_tables.cell(line) in text, outcome
    assert "`make demo SCENARIO=job-failed`" in text


# The generator itself, on pages written here.


@pytest.fixture
def docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(docs_tables, "ROOT", tmp_path)
    monkeypatch.setattr(docs_tables, "DOCS", tmp_path / "docs")
    monkeypatch.setattr(docs_tables, "TABLES", {"demo": lambda: "| a |\n|---|\n| 1 |"})
    monkeypatch.setattr(docs_tables, "PENDING", frozenset({"later"}))
    (tmp_path / "docs").mkdir()
    return tmp_path / "docs"


def region(name: str, body: str = "\n") -> str:
    return f"<!-- BEGIN GENERATED: {name} -->\n{body}<!-- END GENERATED -->\n"


def test_the_generator_rewrites_a_stale_region_and_nothing_else(docs: Path) -> None:
    page = docs / "page.md"
    prose = "A region starts with `<!-- BEGIN GENERATED: name -->` and ends with `<!-- END GENERATED -->`.\n"
    page.write_text("# Page\n\n" + prose + "\n" + region("demo", "| old |\n") + "\nafter\n" + region("later"))
    (docs / "other.md").write_text("# Other\n")
    assert docs_tables.check(docs) == ["docs/page.md: region 'demo' differs from what the code generates"]
    assert [r.name for r in docs_tables.write(docs)] == ["demo"]
    assert page.read_text() == (
        "# Page\n\n" + prose + "\n" + region("demo", "\n| a |\n|---|\n| 1 |\n\n") + "\nafter\n" + region("later")
    )
    assert docs_tables.check(docs) == []
    assert docs_tables.write(docs) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (region("typo"), "docs/page.md: region 'typo' names no registered table"),
        ("<!-- BEGIN GENERATED: demo -->\n| a |\n", "docs/page.md:1: region 'demo' has no `<!-- END GENERATED -->`"),
        (region("demo").replace("-->\n", "--> x\n", 1), "docs/page.md:1: '<!-- BEGIN GENERATED: demo -->' is not a"),
        ("text\n<!-- END GENERATED -->\n", "docs/page.md:2: '<!-- END GENERATED -->' is not a region's start"),
        (
            "<!-- BEGIN GENERATED: demo -->\n" + region("later"),
            "docs/page.md:1: region 'demo' has no `<!-- END GENERATED -->` of its own",
        ),
    ],
    ids=["unknown-name", "no-end", "begin-not-alone", "stray-end", "nested"],
)
def test_the_generator_refuses_markers_it_cannot_honour(docs: Path, text: str, problem: str) -> None:
    (docs / "page.md").write_text(text)
    problems = docs_tables.check(docs)
    assert problems, text
    assert problems[0].startswith(problem), problems
    with pytest.raises(docs_tables.MarkerError):
        docs_tables.write(docs)


def test_a_registered_table_needs_a_region_and_a_pending_one_too(docs: Path) -> None:
    (docs / "page.md").write_text("# Nothing generated\n")
    assert docs_tables.check(docs) == [
        "table 'demo' is registered but no page has its region",
        "pending table 'later' has no region in any page",
    ]


def test_registering_a_table_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docs_tables, "TABLES", {})
    docs_tables.table("x")(lambda: "")
    with pytest.raises(ValueError, match="registered twice"):
        docs_tables.table("x")(lambda: "")


def test_the_check_command_says_how_to_fix(
    docs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(docs_tables, "DOCS", docs)
    (docs / "page.md").write_text(region("demo") + region("later"))
    assert docs_tables.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "docs/page.md: region 'demo' differs from what the code generates" in err
    assert f"fix: {docs_tables.COMMAND} (make docs-tables)" in err
    assert docs_tables.main([]) == 0
    assert docs_tables.main(["--check"]) == 0
