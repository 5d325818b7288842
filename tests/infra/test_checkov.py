"""checkov (CloudFormation checks) over every synthesized template of every environment.

Every accepted finding is in ``checkov_skips.yaml`` with its reason; any other failure fails the
test, and so does a skip that no longer matches anything, so the list stays honest.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import Assembly

SKIP_FILE = Path(__file__).with_name("checkov_skips.yaml")
CHECKOV = Path(sys.executable).with_name("checkov")


@dataclass(frozen=True)
class Finding:
    check_id: str
    resource: str  # "<CloudFormation type>.<logical id>", as checkov names it
    file: str
    name: str

    def __str__(self) -> str:
        return f"{self.check_id} {self.resource} in {self.file}: {self.name}"


@dataclass(frozen=True)
class Skip:
    section: str
    check_id: str
    reason: str
    patterns: tuple[str, ...]  # empty: every resource

    def covers(self, finding: Finding) -> bool:
        if finding.check_id != self.check_id:
            return False
        return not self.patterns or any(fnmatchcase(finding.resource, p) for p in self.patterns)


@cache
def skips() -> tuple[Skip, ...]:
    data = yaml.safe_load(SKIP_FILE.read_text())
    assert set(data) <= {"false_positives", "pending"}, f"unknown sections in {SKIP_FILE.name}: {set(data)}"
    found = []
    for section, entries in data.items():
        for entry in entries:
            assert set(entry) <= {"check", "reason", "resources"}, f"{SKIP_FILE.name}: unknown keys in {entry}"
            found.append(Skip(section, entry["check"], entry["reason"].strip(), tuple(entry.get("resources", ()))))
    return tuple(found)


def _run_checkov(templates: list[Path]) -> dict[str, Any]:
    result = subprocess.run(
        [
            str(CHECKOV),
            "--framework",
            "cloudformation",
            "--quiet",
            "--compact",
            # Offline: no guidelines, severities or policies from the vendor's platform.
            "--skip-download",
            "-o",
            "json",
            *(arg for t in templates for arg in ("-f", t.name)),
        ],
        cwd=templates[0].parent,  # no .checkov.yaml there: the skip file above is the only config
        capture_output=True,
        text=True,
        check=False,
    )
    # Exit 1 means "some check failed"; anything else, or no JSON, is checkov itself failing.
    assert result.returncode in (0, 1), f"checkov exited {result.returncode}:\n{result.stderr[-3000:]}"
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert [r["check_type"] for r in reports] == ["cloudformation"], result.stdout[:2000]
    report: dict[str, Any] = reports[0]
    assert report["summary"]["parsing_errors"] == 0, json.dumps(report["summary"])
    return report


def checkov_report(assembly: Assembly) -> dict[str, Any]:
    """checkov's report on one assembly, computed once per synthesized source and checkov version."""
    cached = assembly.path / f"checkov-{version('checkov')}.json"
    with open(assembly.path / ".checkov.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not cached.is_file():
            templates = sorted(assembly.path.glob("*.template.json"))
            assert templates, f"no templates in {assembly.path}"
            cached.write_text(json.dumps(_run_checkov(templates)))
    report: dict[str, Any] = json.loads(cached.read_text())
    return report


def failures(assembly: Assembly) -> list[Finding]:
    return [
        Finding(f["check_id"], f["resource"], f["file_path"].lstrip("/"), f["check_name"])
        for f in checkov_report(assembly)["results"]["failed_checks"]
    ]


def test_checkov_finds_nothing_beyond_the_skip_file(assembly: Assembly) -> None:
    report = checkov_report(assembly)
    assert report["summary"]["passed"] > 0, "checkov ran no check"
    unskipped = [f for f in failures(assembly) if not any(s.covers(f) for s in skips())]
    assert not unskipped, f"checkov failures in {assembly.env} not in {SKIP_FILE.name}:\n" + "\n".join(
        map(str, unskipped)
    )


def test_every_skip_says_why() -> None:
    for skip in skips():
        assert len(skip.reason) >= 40, f"{skip.check_id}: skipped without a reason"


def test_every_skip_still_matches_a_failure(assemblies: dict[str, Assembly]) -> None:
    """A skip (or one of its resource patterns) that matches no failure anywhere is stale."""
    found = [f for assembly in assemblies.values() for f in failures(assembly)]
    stale = []
    for skip in skips():
        mine = [f for f in found if f.check_id == skip.check_id]
        if not skip.patterns and not mine:
            stale.append(f"{skip.section}: {skip.check_id} matches no failure")
        for pattern in skip.patterns:
            if not any(fnmatchcase(f.resource, pattern) for f in mine):
                stale.append(f"{skip.section}: {skip.check_id} {pattern} matches no failure")
    assert not stale, f"stale entries in {SKIP_FILE.name}:\n" + "\n".join(stale)
