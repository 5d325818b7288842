"""checkov (CloudFormation checks) over every synthesized template of every environment (bft.cli.checks).

Every accepted finding is in ``src/bft/cli/checkov_skips.yaml`` with its reason; any other failure fails the
test, and so does a skip that no longer matches anything, so the list stays honest.
"""

from __future__ import annotations

import fcntl
import json
from fnmatch import fnmatchcase
from importlib.metadata import version
from typing import Any

from bft.cli.checks import SKIP_FILE, Finding, failures, run_checkov, skips, templates, unskipped
from tests.conftest import Assembly


def checkov_report(assembly: Assembly) -> dict[str, Any]:
    """checkov's report on one assembly, computed once per synthesized source and checkov version."""
    cached = assembly.path / f"checkov-{version('checkov')}.json"
    with open(assembly.path / ".checkov.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not cached.is_file():
            cached.write_text(json.dumps(run_checkov(templates(assembly.path))))
    report: dict[str, Any] = json.loads(cached.read_text())
    return report


def failures_of(assembly: Assembly) -> list[Finding]:
    return failures(checkov_report(assembly))


def test_checkov_finds_nothing_beyond_the_skip_file(assembly: Assembly) -> None:
    report = checkov_report(assembly)
    assert report["summary"]["passed"] > 0, "checkov ran no check"
    beyond = unskipped(failures_of(assembly))
    assert not beyond, f"checkov failures in {assembly.env} not in {SKIP_FILE.name}:\n" + "\n".join(map(str, beyond))


def test_every_skip_says_why() -> None:
    for skip in skips():
        assert len(skip.reason) >= 40, f"{skip.check_id}: skipped without a reason"


def test_every_skip_still_matches_a_failure(assemblies: dict[str, Assembly]) -> None:
    """A skip (or one of its resource patterns) that matches no failure anywhere is stale."""
    found = [f for assembly in assemblies.values() for f in failures_of(assembly)]
    stale = []
    for skip in skips():
        mine = [f for f in found if f.check_id == skip.check_id]
        if not skip.patterns and not mine:
            stale.append(f"{skip.section}: {skip.check_id} matches no failure")
        for pattern in skip.patterns:
            if not any(fnmatchcase(f.resource, pattern) for f in mine):
                stale.append(f"{skip.section}: {skip.check_id} {pattern} matches no failure")
    assert not stale, f"stale entries in {SKIP_FILE.name}:\n" + "\n".join(stale)
