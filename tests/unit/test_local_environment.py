"""`local` is dev offline: every difference between the two configurations has a written reason."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bft.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "local-environment.md"


def _flat(value: Any, key: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for name, item in value.items():
            out |= _flat(item, f"{key}.{name}" if key else str(name))
        return out
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out |= _flat(item, f"{key}[{index}]")
        return out or {key: []}
    return {key: value}


def differences(a: dict[str, Any], b: dict[str, Any]) -> set[str]:
    left, right = _flat(a), _flat(b)
    return {key for key in left.keys() | right.keys() if left.get(key, ...) != right.get(key, ...)}


def documented_patterns(text: str) -> list[re.Pattern[str]]:
    """The first column's backticked key patterns: ``[*]`` is any index, ``*`` any rest of the key."""
    patterns = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`"):
            continue
        for key in re.findall(r"`([^`]+)`", cells[0]):
            body = re.escape(key).replace(r"\[\*\]", r"\[\d+\]").replace(r"\*", ".*")
            patterns.append(re.compile(body + r"$"))
    return patterns


def unexplained(diff: set[str], patterns: list[re.Pattern[str]]) -> tuple[list[str], list[str]]:
    missing = sorted(key for key in diff if not any(p.match(key) for p in patterns))
    stale = [p.pattern for p in patterns if not any(p.match(key) for key in diff)]
    return missing, stale


def test_every_difference_from_dev_has_a_written_reason() -> None:
    local, dev = (load_config(name).model_dump(mode="json") for name in ("local", "dev"))
    missing, stale = unexplained(differences(local, dev), documented_patterns(DOC.read_text()))
    assert not missing, f"local differs from dev in {missing} without a reason in docs/local-environment.md"
    assert not stale, f"docs/local-environment.md explains differences that no longer exist: {stale}"


def test_local_runs_dev_timings() -> None:
    assert load_config("local").workflow == load_config("dev").workflow


def test_an_unexplained_difference_is_caught() -> None:
    patterns = documented_patterns("| `name` | a | b | why |\n| `teams[*].submitters[*]` | a | b | why |")
    diff = differences(
        {"name": "local", "teams": [{"submitters": ["x"], "max_model_units": 2}], "log_retention_days": 7},
        {"name": "dev", "teams": [{"submitters": ["y"], "max_model_units": 1}], "log_retention_days": 30},
    )
    assert unexplained(diff, patterns) == (["log_retention_days", "teams[0].max_model_units"], [])
    assert unexplained({"name"}, patterns) == ([], [r"teams\[\d+\]\.submitters\[\d+\]$"])
