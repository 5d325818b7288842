"""Tables in the docs site that are generated from the code, so they cannot drift from it.

A page marks a region; this script rewrites what lies between the markers:

    <!-- BEGIN GENERATED: scenarios -->
    (whatever the registered function `scenarios` returns)
    <!-- END GENERATED -->

    .venv/bin/python scripts/docs_tables.py           # rewrite every region of docs/*.md (make docs-tables)
    .venv/bin/python scripts/docs_tables.py --check   # change nothing; exit 1 naming each region that differs

tests/unit/test_docs_tables.py runs the check, so a page whose table differs from the code fails the tests.

Adding a table: write a function that returns the table's Markdown, register it with ``@table("<name>")``, put
an empty region with that name in a page (or take the name out of ``PENDING`` if the region is already there)
and run the script. A name that is neither registered nor pending is refused, so a typo in a marker fails.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
COMMAND = ".venv/bin/python scripts/docs_tables.py"

# name -> function returning the region's Markdown (registered with @table).
TABLES: dict[str, Callable[[], str]] = {}

# Regions a page already has whose function is still to be written; the script leaves them as they are.
PENDING: frozenset[str] = frozenset()

BEGIN = re.compile(r"^<!-- BEGIN GENERATED: (?P<name>[a-z0-9-]+) -->$", re.MULTILINE)
END = "<!-- END GENERATED -->"
# A marker starts a line; one mentioned inside a sentence (as here) is prose.
MARKER = re.compile(r"^<!-- (BEGIN|END) GENERATED\b.*?-->", re.MULTILINE)


def table(name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Register ``function`` as the generator of the regions named ``name``."""

    def register(function: Callable[[], str]) -> Callable[[], str]:
        if name in TABLES:
            raise ValueError(f"table {name!r} is registered twice")
        TABLES[name] = function
        return function

    return register


def cell(text: str) -> str:
    """One Markdown table cell: no line breaks, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def markdown_table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = [cell(h) for h in header]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def outcome_link(outcome: str, page: str = "runbook.md") -> str:
    """An outcome, linked to its runbook entry (``deployed`` has none)."""
    return f"`{outcome}`" if outcome == "deployed" else f"[`{outcome}`]({page}#{outcome})"


@table("models")
def models() -> str:
    """Every model of the catalog (bft/catalog/models.json): where it is customized, how it is served, its
    lifecycle as published and the source of that, live ones first. Lifecycles are stated by their dates, so
    the table does not change with the day it is generated."""
    from bft.catalog import catalog

    shipped = catalog()
    serving = {"on-demand-deployment": "on demand", "provisioned-throughput": "provisioned throughput"}

    def lifecycle(model: object) -> str:
        life = model.lifecycle  # type: ignore[attr-defined]
        dates = [f"{word} {day}" for word, day in (("Legacy", life.legacy), ("end of life", life.end_of_life)) if day]
        return f"{life.status}" + (f" ({', '.join(dates)})" if dates else "")

    rows = [
        (
            f"`{m.model_id}`",
            m.name,
            ", ".join(m.regions),
            ", ".join(kind.lower().replace("_", " ") for kind in m.customizations),
            ", ".join(serving[kind] for kind in m.serving),
            lifecycle(m),
            f"[{m.facts['lifecycle'].source.key}]({m.facts['lifecycle'].source.url})"
            + (" (guess)" if m.facts["lifecycle"].guess else ""),
        )
        for m in sorted(
            shipped.models, key=lambda m: m.lifecycle.end_of_life is not None or m.lifecycle.status != "ACTIVE"
        )
    ]
    note = (
        f"Facts checked {shipped.checked}; every fact's source is in `src/bft/catalog/models.json`. "
        "`bft models --env E --live` compares them with what your account's Bedrock says today."
    )
    header = ("model id", "model", "region", "customization", "served", "lifecycle", "source")
    return markdown_table(header, rows) + "\n\n" + note


@table("scorers")
def scorers() -> str:
    """The evaluation's scorers (bft.workflow.scoring.SCORERS): the metrics each produces, the one a threshold
    applies to by default, and what it compares."""
    from bft.workflow.scoring import SCORERS

    return markdown_table(
        ("`scorer`", "metrics (`evaluation.metric`)", "gate metric by default", "what it scores"),
        (
            (f"`{s.name}`", ", ".join(f"`{m}`" for m in s.metrics), f"`{s.default_metric}`", s.description)
            for s in SCORERS.values()
        ),
    )


@table("scenarios")
def scenarios() -> str:
    """The offline twin's scenarios (bft_twin.run.SCENARIOS): what each does and the outcome it must end with."""
    from bft_twin.run import SCENARIOS

    return markdown_table(
        ("`SCENARIO=`", "intended outcome", "what happens"),
        ((f"`{name}`", outcome_link(s.outcome), s.description) for name, s in SCENARIOS.items()),
    )


@table("outcomes")
def outcomes() -> str:
    """Every outcome a failed run can end with (bft.workflow.report.OUTCOMES), with the runbook line its
    notification and report print (RUNBOOK) and the offline scenarios that end with it."""
    from bft.workflow.report import OUTCOMES, RUNBOOK
    from bft_twin.run import SCENARIOS

    def shown_by(outcome: str) -> str:
        names = [f"`make demo SCENARIO={name}`" for name, s in SCENARIOS.items() if s.outcome == outcome]
        return ", ".join(names) or "—"

    rows = [
        (f"[`{outcome}`](#{outcome})", f"`{error}`", RUNBOOK[outcome], shown_by(outcome))
        for error, outcome in OUTCOMES.items()
    ]
    rows.append(("`error`", "any other", RUNBOOK["error"], "—"))
    return markdown_table(("outcome", "error type", "next step (the notification's `Next step:`)", "offline"), rows)


@dataclass(frozen=True)
class Region:
    page: Path
    name: str
    start: int  # offset of the region's body (after the BEGIN line)
    end: int  # offset of its END marker

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}: region {self.name!r}"


class MarkerError(ValueError):
    pass


def regions(page: Path, text: str) -> list[Region]:
    """The page's generated regions, in order; malformed or nested markers are refused with their line."""
    found: list[Region] = []
    position = 0
    for marker in MARKER.finditer(text):
        if marker.start() < position:
            continue
        line = text.count("\n", 0, marker.start()) + 1
        begin = BEGIN.match(text, marker.start())  # ^ and $: the marker alone on its line
        if not begin:
            raise MarkerError(
                f"{page.relative_to(ROOT)}:{line}: {marker.group(0)!r} is not a region's start: expected "
                "`<!-- BEGIN GENERATED: <name> -->` alone on its line, then `<!-- END GENERATED -->` alone on a "
                "later one"
            )
        body = begin.end() + 1
        end = text.find("\n" + END, begin.end())
        end = end + 1 if end >= 0 else -1
        nested = BEGIN.search(text, body, end if end >= 0 else len(text))
        if end < 0 or nested:
            raise MarkerError(
                f"{page.relative_to(ROOT)}:{line}: region {begin['name']!r} has no `{END}` of its own "
                "(alone on a line, before the next region starts)"
            )
        found.append(Region(page, begin["name"], body, end))
        position = end + len(END)
    return found


def pages(docs: Path | None = None) -> list[Path]:
    return sorted((docs or DOCS).rglob("*.md"))


def generated(name: str) -> str:
    """A region's body: the table between blank lines, so Markdown reads it apart from the markers."""
    return f"\n{TABLES[name]().strip()}\n\n"


def render(page: Path, text: str) -> tuple[str, list[Region]]:
    """The page with every registered region regenerated, and the regions whose text changed."""
    out, changed, last = [], [], 0
    for region in regions(page, text):
        if region.name not in TABLES:
            if region.name in PENDING:
                continue
            raise MarkerError(
                f"{region.where()} names no registered table (registered: {', '.join(sorted(TABLES))}; "
                f"pending: {', '.join(sorted(PENDING))})"
            )
        body = generated(region.name)
        if text[region.start : region.end] != body:
            changed.append(region)
        out += [text[last : region.start], body]
        last = region.end
    out.append(text[last:])
    return "".join(out), changed


def check(docs: Path | None = None) -> list[str]:
    """What is wrong with the generated regions of ``docs``: one sentence each, empty when all is true."""
    problems: list[str] = []
    used: set[str] = set()
    for page in pages(docs):
        text = page.read_text(encoding="utf-8")
        try:
            used.update(r.name for r in regions(page, text))
            _, changed = render(page, text)
        except MarkerError as error:
            problems.append(str(error))
            continue
        problems += [f"{r.where()} differs from what the code generates" for r in changed]
    problems += [f"table {name!r} is registered but no page has its region" for name in sorted(set(TABLES) - used)]
    problems += [f"pending table {name!r} has no region in any page" for name in sorted(PENDING - used)]
    problems += [f"table {name!r} is registered and still PENDING" for name in sorted(PENDING & set(TABLES))]
    return problems


def write(docs: Path | None = None) -> list[Region]:
    """Rewrite every page whose generated regions differ; return those regions."""
    changed: list[Region] = []
    for page in pages(docs):
        text = page.read_text(encoding="utf-8")
        new, regions_changed = render(page, text)
        if regions_changed:
            page.write_text(new, encoding="utf-8")
            changed += regions_changed
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a region differs")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"fix: {COMMAND} (make docs-tables), then review and commit the pages", file=sys.stderr)
        return 1 if problems else 0
    try:
        changed = write()
    except MarkerError as error:
        print(error, file=sys.stderr)
        return 1
    for region in changed:
        print(f"rewrote {region.where()}")
    if not changed:
        print("every generated table is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
