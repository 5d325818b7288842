"""Wildcard patterns of policies (Action, Resource, the String/Arn condition operators), compiled once.

Part of the offline policy evaluator, :mod:`bft_twin.iam.evaluate`, whose docstring lists the pages cited
here by short name.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["VARIABLE", "action_regex", "arn_regex", "string_like_regex"]


def _glob(text: str, star: str, qmark: str) -> str:
    return "".join(star if c == "*" else qmark if c == "?" else re.escape(c) for c in text)


@lru_cache(maxsize=8192)
def action_regex(pattern: str) -> re.Pattern[str]:
    # Actions are not case-sensitive; * and ? are wildcards ("IAM JSON policy elements: Action").
    return re.compile(_glob(pattern, ".*", "."), re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=8192)
def arn_regex(pattern: str) -> re.Pattern[str]:
    """An ARN pattern as Resource and the Arn* operators match it (RESOURCE, OPS "ARN condition operators").

    Case-sensitive. The first five colon-separated segments (arn, partition, service, region, account) are
    matched each on its own, so a wildcard there does not cross a colon; the sixth (the resource part,
    which may itself contain colons and slashes) is matched as a whole, ``*`` matching anything.
    A pattern with fewer than six segments (e.g. ``*``) is matched as a whole string.
    """
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        return re.compile(_glob(pattern, ".*", "."), re.DOTALL)
    head = ":".join(_glob(p, "[^:]*", "[^:]") for p in parts[:5])
    return re.compile(head + ":" + _glob(parts[5], ".*", "."), re.DOTALL)


@lru_cache(maxsize=8192)
def string_like_regex(pattern: str) -> re.Pattern[str]:
    # StringLike: case-sensitive, * and ? anywhere in the string (OPS).
    return re.compile(_glob(pattern, ".*", "."), re.DOTALL)


VARIABLE = re.compile(r"\$\{")
