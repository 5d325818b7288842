"""The validation report: a stable JSON schema for machines, a summary for people.

``Report.to_dict()`` is what the Lambda writes to S3 and ``bft validate --json``
prints. Keys are only ever added; ``schema_version`` changes if one is removed
or changes meaning.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

REPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Issue:
    """One error or warning. ``line`` is 1-based, None for whole-file issues. ``more_on_record``: on the last
    error listed for a record, how many more errors that record has (counted, not listed)."""

    file: str
    line: int | None
    field: str | None
    code: str
    message: str
    more_on_record: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "code": self.code,
            "message": self.message,
            "more_on_record": self.more_on_record,
        }

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = f"{self.field}: " if self.field else ""
        more = f" (and {self.more_on_record:,} more on this record)" if self.more_on_record else ""
        return f"{where}: {what}{self.message} [{self.code}]{more}"


# Runs of consecutive lines kept per group; later lines are only counted ("... and 55 more").
MAX_GROUP_RANGES = 8


@dataclass
class IssueGroup:
    """The same issue (file, field, code and message) on ``count`` lines, or once for a whole-file issue."""

    file: str
    field: str | None
    code: str
    message: str
    count: int = 0
    # [first, last] runs of consecutive lines, at most MAX_GROUP_RANGES of them
    line_ranges: list[list[int]] = dataclasses.field(default_factory=list)
    lines_not_listed: int = 0

    def add_line(self, line: int) -> None:
        ranges = self.line_ranges
        if self.lines_not_listed == 0 and ranges and ranges[-1][1] == line - 1:
            ranges[-1][1] = line
        elif self.lines_not_listed == 0 and len(ranges) < MAX_GROUP_RANGES:
            ranges.append([line, line])
        else:
            self.lines_not_listed += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "field": self.field,
            "code": self.code,
            "message": self.message,
            "count": self.count,
            "line_ranges": [list(r) for r in self.line_ranges],
            "lines_not_listed": self.lines_not_listed,
        }


class IssueGroups:
    """Issues grouped as they stream in: at most ``limit`` groups (memory stays bounded whatever the file);
    issues of further kinds are only counted (``ungrouped``)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._groups: dict[tuple[str, str | None, str, str], IssueGroup] = {}
        self.ungrouped = 0

    def add(self, issue: Issue) -> None:
        key = (issue.file, issue.field, issue.code, issue.message)
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= self._limit:
                self.ungrouped += 1
                return
            group = self._groups[key] = IssueGroup(issue.file, issue.field, issue.code, issue.message)
        group.count += 1
        if issue.line is not None:
            group.add_line(issue.line)

    def groups(self) -> list[IssueGroup]:
        """Whole-file issues first (they are found after the lines), then in the order first seen."""
        return sorted(self._groups.values(), key=lambda g: bool(g.line_ranges) or g.lines_not_listed > 0)


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
    # Every error (and warning), the same one on many records as one group: what the summary prints.
    error_groups: list[IssueGroup] = field(default_factory=list)
    warning_groups: list[IssueGroup] = field(default_factory=list)
    ungrouped_errors: int = 0  # past the group limit: counted in error_count, in no group
    ungrouped_warnings: int = 0

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
            "error_groups": [g.to_dict() for g in self.error_groups],
            "ungrouped_errors": self.ungrouped_errors,
            "warning_groups": [g.to_dict() for g in self.warning_groups],
            "ungrouped_warnings": self.ungrouped_warnings,
            "statistics": {
                **self.statistics,
                "epochs": self.epochs,
                "estimated_billed_tokens": self.estimated_billed_tokens(),
            },
            "limits": self.limits,
        }


# An invalid dataset stops the run with an error, not a step result: its token estimate travels in the
# error's message (billed_tokens_phrase), and the run report's cost estimate reads it back (billed_tokens_in).
_BILLED_TOKENS = re.compile(r"about ([0-9,]+) billed training tokens over ([0-9]+) epochs?")


def billed_tokens_phrase(report: Report) -> str | None:
    """The token estimate of the records that passed, in words; None when no training record did."""
    measured = int(report.statistics.get("measured_records") or 0)
    if not measured:
        return None
    epochs = report.epochs
    return (
        f"its {measured:,} valid training record{'s' if measured != 1 else ''}: about "
        f"{report.estimated_billed_tokens():,} billed training tokens over {epochs} epoch{'s' if epochs != 1 else ''}"
    )


def billed_tokens_in(text: str) -> int | None:
    """The estimated billed tokens a ``billed_tokens_phrase`` in ``text`` states, else None."""
    match = _BILLED_TOKENS.search(text)
    return int(match[1].replace(",", "")) if match else None


def _n(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _size(num: int) -> str:
    value = float(num)
    for unit in ("B", "KB", "MB"):
        if value < 1000:
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{value:,.1f} GB"


def line_ranges(ranges: list[list[int]], not_listed: int = 0) -> str:
    """``[[1, 3], [7, 7], [9, 10]]`` -> ``"1-3, 7, 9-10"``; with lines not listed, ``"..., … and 55 more"``."""
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)
    return f"{text}, … and {not_listed:,} more" if not_listed else text


def group_text(group: IssueGroup) -> str:
    """``file:line: field: message [code]`` for one occurrence, else the message once with all its lines."""
    what = f"{group.field}: " if group.field else ""
    if not group.line_ranges:
        return f"{group.file}: {what}{group.message} [{group.code}]"
    if group.count == 1:
        return f"{group.file}:{group.line_ranges[0][0]}: {what}{group.message} [{group.code}]"
    return (
        f"{group.file}: {what}{group.message} [{group.code}]: the same error on {group.count:,} records: "
        f"lines {line_ranges(group.line_ranges, group.lines_not_listed)}"
    )


def issues_text(title: str, groups: list[IssueGroup], total: int, ungrouped: int, max_issues: int) -> list[str]:
    shown = groups[:max_issues]
    noun = title if total != 1 else title[:-1]
    head = f"{total:,} {noun}"
    if len(shown) < len(groups):
        head += f", {len(groups):,}{'+' if ungrouped else ''} different: first {len(shown):,} shown"
    elif total > len(groups) + ungrouped:
        head += f", {len(groups):,} different"
    out = [f"{head}:"]
    out.extend(f"  {group_text(group)}" for group in shown)
    if ungrouped:
        out.append(f"  … and {ungrouped:,} more {noun} of other kinds, not listed")
    return out


def summary_text(
    report: Report, max_issues: int = 20, *, by_record: bool = False, summarized: Mapping[str, str] | None = None
) -> str:
    """A terminal summary: verdict, files, the errors (the same one on many records said once, with its lines),
    statistics. ``by_record``: each listed error as ``file:line: field: message`` instead, a record's together.

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
    error_count = report.error_count - sum(report.errors_by_file.get(path, 0) for path in summarized)
    for title, groups, issues, total, ungrouped in (
        (
            "errors",
            [group for group in report.error_groups if group.file not in summarized],
            [issue for issue in report.errors if issue.file not in summarized],
            error_count,
            report.ungrouped_errors,
        ),
        ("warnings", report.warning_groups, report.warnings, report.warning_count, report.ungrouped_warnings),
    ):
        if not total:
            continue
        if not groups and not by_record:  # the listed groups were all the summarized files'
            noun = title if total != 1 else title[:-1]
            out.append(f"{total:,} more {noun}, not listed: validate the converted files again to see them")
            continue
        if by_record:
            listed = issues[:max_issues]
            counted = len(listed) + sum(i.more_on_record for i in listed)
            more = f", first {len(listed):,} listed" if total > counted else ""
            out.append(f"{total:,} {title if total != 1 else title[:-1]}{more}:")
            out.extend(f"  {issue}" for issue in listed)
        else:
            out.extend(issues_text(title, groups, total, ungrouped, max_issues))
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
