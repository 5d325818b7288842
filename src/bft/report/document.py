"""The report as a document: a list of sections of blocks (text, lists, tables, the run's path, a chart), and its
two renderers, self-contained HTML and Markdown. Both read the same document, so they carry the same facts.

Every text is escaped by the renderer: requests, model answers and error messages are data a team controls.
Standard library only: this module ships in the functions' layer.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from bft.report.numbers import count

Tone = Literal["", "ok", "bad", "warn", "muted"]


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
class Long:
    """A table cell that may be long (a record's expected answer, a model's answer): folded to its head when it
    is, so ten records stay a table a person reads and prints, not pages of echoed prompts."""

    text: str


Cell = str | Long


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: Sequence[tuple[Cell, ...]]
    # A grid of figures (the confusion matrix): columns of equal width, smaller type, so a dozen fit a page.
    grid: bool = False


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


# A long cell shows its first HEAD characters; past FOLD_AFTER it is folded (a little more than the head, so a
# value is never folded to hide a few characters). HTML keeps the full value, up to FULL_CAP, in <details>.
HEAD, FOLD_AFTER, FULL_CAP = 120, 160, 2_000


def folded(text: str) -> tuple[str, int] | None:
    """(head, characters after it) of a value long enough to fold, else None."""
    if len(text) <= FOLD_AFTER:
        return None
    return text[:HEAD].rstrip(), len(text) - len(text[:HEAD].rstrip())


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
table{border-collapse:collapse;width:100%;max-width:100%;margin:8px 0;font-size:.92rem}
th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f9fafb;overflow-wrap:break-word}
table.grid{table-layout:fixed;font-size:.8rem}table.grid th,table.grid td{padding:3px 4px}
table.grid th:first-child{width:24%}table.grid td:not(:first-child){text-align:right}
td details{margin-top:2px}td summary{cursor:pointer;color:#4b5563;font-size:.85em}
td details div{white-space:pre-wrap;margin-top:4px}
.more{color:#6b7280}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:8px 0}
dt{color:#4b5563}dd{margin:0;overflow-wrap:anywhere}
ol.flow{display:flex;flex-wrap:wrap;gap:6px;list-style:none;padding:0;margin:8px 0}
ol.flow li{padding:4px 10px;border-radius:14px;background:#e0e7ff;color:#1e3a8a;font-size:.9rem;
overflow-wrap:anywhere;min-width:0}
ol.flow li:not(:last-child)::after{content:" \\2192";color:#6b7280}
ol.flow li.failed{background:#dc2626;color:#fff;font-weight:700}
ol.flow li.recovery{background:#f3f4f6;color:#374151}
pre{background:#f9fafb;border:1px solid #e5e7eb;padding:8px;font-size:.85rem;
white-space:pre-wrap;overflow-wrap:anywhere}
svg.chart{width:100%;height:auto;max-width:720px}
h1,h2,p,li,dd,dt{overflow-wrap:anywhere}
@page{size:A4;margin:12mm}
@media print{body{background:#fff}main{max-width:none;padding:0}
section{border:0;border-radius:0;padding:0;margin:0 0 12px}h2{break-after:avoid}tr,svg.chart{break-inside:avoid}
svg.chart{max-width:560px}}
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
        body = "".join("<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in block.rows)
        css = ' class="grid"' if block.grid else ""
        return f"<table{css}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
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


def _html_cell(cell: Cell) -> str:
    """A cell's HTML: a long value is its head, then the whole value (up to FULL_CAP) behind a <details>."""
    esc = html.escape
    text = cell.text if isinstance(cell, Long) else cell
    fold = folded(text) if isinstance(cell, Long) else None
    if fold is None:
        return esc(text)
    head, rest = fold
    full = text[:FULL_CAP]
    cut = f" …(cut: {count(len(text) - FULL_CAP)} more characters are not shown)" if len(text) > FULL_CAP else ""
    # The summary is what prints (a closed <details> prints closed): the head and how much is behind it.
    return (
        f'{esc(head)}<span class="more">…</span><details><summary>{count(rest)} more characters</summary>'
        f"<div>{esc(full)}{esc(cut)}</div></details>"
    )


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
            *("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows),
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


def _md_cell(cell: Cell) -> str:
    """A cell's Markdown: a long value is cut to its head, saying how much more there is."""
    if not isinstance(cell, Long):
        return _md(cell)
    fold = folded(cell.text)
    if fold is None:
        return _md(cell.text)
    head, rest = fold
    return f"{_md(head)}…({count(rest)} more characters)"


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
