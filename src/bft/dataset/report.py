"""The validation report: a stable JSON schema for machines, a summary for people.

``Report.to_dict()`` is what the Lambda writes to S3 and ``bft validate --json``
prints. Keys are only ever added; ``schema_version`` changes if one is removed
or changes meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

REPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Issue:
    """One error or warning. ``line`` is 1-based, None for whole-file issues."""

    file: str
    line: int | None
    field: str | None
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "code": self.code,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = f"{self.field}: " if self.field else ""
        return f"{where}: {what}{self.message} [{self.code}]"


@dataclass(frozen=True)
class FileSummary:
    role: str  # "training" | "validation" | "evaluation"
    path: str  # local path or s3:// URI
    records: int  # lines read (Bedrock counts every line as a record)
    bytes: int
    read: bool  # False when the file could not be read (missing, denied, over the size limit)
    statistics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "path": self.path,
            "records": self.records,
            "bytes": self.bytes,
            "read": self.read,
            "statistics": self.statistics,
        }


@dataclass(frozen=True)
class Report:
    base_model_id: str
    family: str
    data_format: str
    parser: str  # "orjson" or "json"
    files: list[FileSummary]
    errors: list[Issue]  # whole-file errors first, then line errors in file order; capped
    error_count: int
    warnings: list[Issue]
    warning_count: int
    statistics: dict[str, Any]  # of the training file: what a job is billed for
    epochs: int
    limits: dict[str, Any] = field(default_factory=dict)
    errors_by_file: dict[str, int] = field(default_factory=dict)  # path -> errors counted, uncapped

    @property
    def valid(self) -> bool:
        return self.error_count == 0

    def estimated_billed_tokens(self, epochs: int | None = None) -> int:
        """Training tokens x epochs: the estimate Bedrock's per-token training price applies to."""
        return int(self.statistics["tokens"]["total"]) * (self.epochs if epochs is None else epochs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "valid": self.valid,
            "base_model_id": self.base_model_id,
            "family": self.family,
            "data_format": self.data_format,
            "parser": self.parser,
            "files": [f.to_dict() for f in self.files],
            "error_count": self.error_count,
            "errors": [e.to_dict() for e in self.errors],
            "warning_count": self.warning_count,
            "warnings": [w.to_dict() for w in self.warnings],
            "statistics": {
                **self.statistics,
                "epochs": self.epochs,
                "estimated_billed_tokens": self.estimated_billed_tokens(),
            },
            "limits": self.limits,
        }


def _n(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _size(num: int) -> str:
    value = float(num)
    for unit in ("B", "KB", "MB"):
        if value < 1000:
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{value:,.1f} GB"


def grouped(issues: list[Issue]) -> list[tuple[Issue, list[int]]]:
    """Issues with the same file, field, code and message as one entry with all their lines, in first-seen order.

    Data converted from another family breaks the same rule on every record: one line says so.
    """
    groups: dict[tuple[str, str | None, str, str], tuple[Issue, list[int]]] = {}
    for issue in issues:
        key = (issue.file, issue.field, issue.code, issue.message)
        entry = groups.setdefault(key, (issue, []))
        if issue.line is not None:
            entry[1].append(issue.line)
    return list(groups.values())


def line_ranges(lines: list[int]) -> str:
    """``[1, 2, 3, 7, 9, 10]`` -> ``"1-3, 7, 9-10"``."""
    parts: list[str] = []
    start = previous = lines[0]
    for line in [*lines[1:], None]:
        if line is not None and line == previous + 1:
            previous = line
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if line is not None:
            start = previous = line
    return ", ".join(parts)


def _group_line(issue: Issue, lines: list[int]) -> str:
    if len(lines) < 2:
        return str(issue)
    what = f"{issue.field}: " if issue.field else ""
    return (
        f"{issue.file}: {what}{issue.message} [{issue.code}]: the same error on {len(lines):,} records: "
        f"lines {line_ranges(lines)}"
    )


def summary_text(report: Report, max_issues: int = 20, *, summarized: Mapping[str, str] | None = None) -> str:
    """A terminal summary: verdict, files, the first errors as ``file:line: field: message``, statistics.

    ``summarized`` maps a file to one line that stands for all of its errors (data in another family's format
    breaks the same rule on every record: said once, not once per record).
    """
    summarized = summarized or {}
    verdict = "VALID" if report.valid else "INVALID"
    out = [f"{verdict}: {report.family} dataset for {report.base_model_id}"]
    for f in report.files:
        state = "" if f.read else "  (not read)"
        out.append(f"  {f.role:<10} {f.path}  {f.records:,} records, {_size(f.bytes)}{state}")
    out.extend(f"{path}: {line}" for path, line in summarized.items())
    errors = [issue for issue in report.errors if issue.file not in summarized]
    error_count = report.error_count - sum(report.errors_by_file.get(path, 0) for path in summarized)
    for title, issues, total in (
        ("errors", errors, error_count),
        ("warnings", report.warnings, report.warning_count),
    ):
        if not total:
            continue
        groups = grouped(issues)
        shown = groups[:max_issues]
        listed = sum(max(1, len(lines)) for _, lines in shown)  # a file-level issue has no line
        more = f", first {listed:,} shown" if total > listed else ""
        noun = title if total != 1 else title[:-1]
        if not shown:  # the listed issues were all the summarized files' (the list is capped)
            out.append(f"{total:,} more {noun}, not listed: validate the converted files again to see them")
            continue
        out.append(f"{total:,} {noun}{more}:")
        out.extend(f"  {_group_line(issue, lines)}" for issue, lines in shown)
    stats = report.statistics
    if stats.get("measured_records"):
        tok, turns = stats["tokens"], stats["turns"]
        out.append(
            f"training tokens per record (estimate): min {_n(tok['min'])}, mean {_n(tok['mean'])}, "
            f"p95 {_n(tok['p95'])}, max {_n(tok['max'])}, total {_n(tok['total'])}"
        )
        out.append(f"turns per record: min {turns['min']}, mean {turns['mean']:.2f}, max {turns['max']}")
        out.append(f"records with a system prompt: {stats['system_prompt_share']:.1%}")
        out.append(
            f"estimated billed training tokens ({report.epochs} epoch{'s' if report.epochs != 1 else ''}): "
            f"{_n(report.estimated_billed_tokens())}"
        )
    return "\n".join(out)
