"""Streaming statistics in constant memory.

Token percentiles come from a fixed log-linear histogram (the HDR-histogram
idea): values below 256 have a bucket each, larger values share a bucket with
the others that agree in their top 8 significant bits, so a bucket spans at
most 1/128 (0.8%) of its values. The p95 reported is the upper bound of the
bucket holding the nearest-rank 95th percentile, clamped to the maximum, so it
never understates. 7,424 counters cover every value below 2**64.
"""

from __future__ import annotations

import math
from typing import Any

EXACT_BUCKETS = 256  # values below this are counted exactly
_SUB = 128  # buckets per power of two above it
_BUCKETS = EXACT_BUCKETS + 56 * _SUB


def bucket(value: int) -> int:
    if value < EXACT_BUCKETS:
        return value
    shift = value.bit_length() - 8
    return EXACT_BUCKETS + (shift - 1) * _SUB + (value >> shift) - _SUB


def _upper_bound(bucket: int) -> int:
    if bucket < EXACT_BUCKETS:
        return bucket
    shift, mantissa = divmod(bucket - EXACT_BUCKETS, _SUB)
    shift += 1
    return ((mantissa + _SUB + 1) << shift) - 1


class RecordStats:
    """Token, turn and system-prompt statistics over the records of one file."""

    __slots__ = (
        "count",
        "hist",
        "system",
        "tokens_max",
        "tokens_min",
        "tokens_total",
        "turns_max",
        "turns_min",
        "turns_total",
    )

    def __init__(self) -> None:
        self.hist = [0] * _BUCKETS
        self.count = 0
        self.tokens_total = 0
        self.tokens_min = 0
        self.tokens_max = 0
        self.turns_total = 0
        self.turns_min = 0
        self.turns_max = 0
        self.system = 0

    def add(self, tokens: int, turns: int, has_system: bool) -> None:
        if self.count == 0:
            self.tokens_min = self.tokens_max = tokens
            self.turns_min = self.turns_max = turns
        else:
            if tokens < self.tokens_min:
                self.tokens_min = tokens
            elif tokens > self.tokens_max:
                self.tokens_max = tokens
            if turns < self.turns_min:
                self.turns_min = turns
            elif turns > self.turns_max:
                self.turns_max = turns
        self.count += 1
        self.tokens_total += tokens
        self.turns_total += turns
        if has_system:
            self.system += 1
        self.hist[tokens if tokens < EXACT_BUCKETS else bucket(tokens)] += 1

    def merge(
        self,
        count: int,
        tokens_total: int,
        tokens_min: int,
        tokens_max: int,
        turns_total: int,
        turns_min: int,
        turns_max: int,
        system: int,
    ) -> None:
        """Fold in totals a hot loop kept in local variables (its histogram counts go to ``hist``)."""
        if not count:
            return
        if self.count == 0:
            self.tokens_min, self.tokens_max = tokens_min, tokens_max
            self.turns_min, self.turns_max = turns_min, turns_max
        else:
            self.tokens_min = min(self.tokens_min, tokens_min)
            self.tokens_max = max(self.tokens_max, tokens_max)
            self.turns_min = min(self.turns_min, turns_min)
            self.turns_max = max(self.turns_max, turns_max)
        self.count += count
        self.tokens_total += tokens_total
        self.turns_total += turns_total
        self.system += system

    def percentile(self, fraction: float) -> int:
        """Nearest-rank percentile, rounded up to its bucket's upper bound (0 when empty)."""
        if self.count == 0:
            return 0
        rank = max(1, math.ceil(round(fraction * self.count, 6)))
        seen = 0
        for index, n in enumerate(self.hist):
            seen += n
            if seen >= rank:
                return min(_upper_bound(index), self.tokens_max)
        return self.tokens_max

    def to_dict(self) -> dict[str, Any]:
        n = self.count
        return {
            "measured_records": n,
            "tokens": {
                "min": self.tokens_min,
                "mean": round(self.tokens_total / n, 1) if n else 0,
                "p95": self.percentile(0.95),
                "max": self.tokens_max,
                "total": self.tokens_total,
            },
            "turns": {
                "min": self.turns_min,
                "mean": round(self.turns_total / n, 2) if n else 0,
                "max": self.turns_max,
            },
            "system_prompt_share": round(self.system / n, 4) if n else 0,
        }
