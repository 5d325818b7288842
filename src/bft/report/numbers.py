"""How the report writes numbers, one way each: percentages with one decimal, counts with thousands separators,
money in dollars, sizes, durations in words, measured figures to four significant digits. Every section formats
through these, so the same figure reads the same in every table, sentence, HTML and Markdown.

Standard library only: this module ships in the functions' layer.
"""

from __future__ import annotations

import math
from typing import Any

UNKNOWN = "unknown"


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def pct(value: Any, *, signed: bool = False) -> str:
    """A share as a percentage with one decimal: 0.15 -> "15.0%" (``signed``: "+15.0%" / "-43.0%")."""
    if not _finite(value):
        return UNKNOWN
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def count(value: Any) -> str:
    """A count with thousands separators: 12345 -> "12,345"; a float is a measured figure (:func:`num`)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return num(value)


def num(value: Any) -> str:
    """A measured figure (a loss, a mean): four significant digits below 1,000, one decimal above, whole numbers
    without a decimal point."""
    if value is None:
        return UNKNOWN
    if isinstance(value, float) and not math.isfinite(value):
        return UNKNOWN
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{int(value):,}"
    return str(value)


def usd(value: Any) -> str:
    """Dollars: cents from $1 up; below $1, up to four decimals, so a cheap model's cost per 1,000 queries does
    not round to $0.00 ($0.0035), while a round figure keeps two ($0.50)."""
    if not _finite(value):
        return UNKNOWN
    if abs(value) >= 1 or value == 0:
        return f"${value:,.2f}"
    digits = f"{value:.4f}".rstrip("0")
    whole, _, decimals = digits.partition(".")
    return f"${whole}.{decimals.ljust(2, '0')}"


def size(value: Any) -> str:
    """Bytes in decimal units: "512 B", "1.5 MB"."""
    if not isinstance(value, int) or isinstance(value, bool):
        return UNKNOWN
    amount = float(value)
    if amount < 1000:
        return f"{amount:,.0f} B"
    for unit in ("KB", "MB"):
        amount /= 1000
        if amount < 1000:
            return f"{amount:,.1f} {unit}"
    return f"{amount / 1000:,.1f} GB"


def duration(seconds: float) -> str:
    """A wait as a person says it: "3 days", "36 hours", "45 minutes" (the largest unit that keeps it whole or
    nearly so), never "259200 seconds"."""
    for unit, length in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= length and (seconds % length == 0 or seconds >= 10 * length):
            amount = round(seconds / length)
            return f"{amount:,} {unit}{'s' if amount != 1 else ''}"
    amount = round(seconds)
    return f"{amount} second{'s' if amount != 1 else ''}"


def hours(value: Any) -> str:
    """A number of hours in words ("12 hours", "2 days"); ``unknown`` when it is not a number."""
    return duration(float(value) * 3_600) if _finite(value) else UNKNOWN


def spread(values: dict[str, Any], keys: tuple[str, ...]) -> str:
    """Figures of one statistic side by side: "12 / 40.5 / 98"."""
    return " / ".join(num(values.get(key)) for key in keys)
