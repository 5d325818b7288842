"""The checks a synthesized assembly must pass before it is deployed: cdk-nag's report, cfn-lint and checkov.

One implementation for `bft config check` (a platform engineer's own environments) and for the infra tests
(the test organisation's). Each raises :class:`CheckFailed` when the tool itself cannot run, so a check that
did not happen never reads as a check that passed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import yaml

# cfn-lint rules that fire on what CDK or the stacks' design generate, each with why it is safe to skip.
IGNORED_CFN_LINT = {
    "W3005": "CDK's auto-delete provider declares a DependsOn that a GetAtt already implies",
    "W6001": (
        "the pipeline stack outputs the data stack's bucket names (imported values) on purpose: the CLI finds "
        "every name through that one stack's outputs"
    ),
}
SKIP_FILE = Path(__file__).with_name("checkov_skips.yaml")


class CheckFailed(Exception):
    """A checking tool could not run or gave no report: the message says which and why."""


def _tool(name: str) -> str:
    """The console script installed next to this interpreter (the virtualenv's), else the one on PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        raise CheckFailed(f"{name} is not installed: pip install 'bedrock-fine-tuning[dev]' (make setup installs it)")
    return found


def templates(assembly: Path) -> list[Path]:
    found = sorted(assembly.glob("*.template.json"))
    if not found:
        raise CheckFailed(f"no *.template.json in {assembly}")
    return found


# -- cdk-nag ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NagReport:
    conclusion: str
    violations: list[dict[str, Any]]
    suppressed: list[dict[str, Any]]  # acknowledged findings, each with its reason


def nag_report(assembly: Path) -> NagReport:
    """cdk-nag's AwsSolutions report, as synthesis wrote it (validation-report.json)."""
    path = assembly / "validation-report.json"
    if not path.is_file():
        raise CheckFailed(f"no {path.name} in {assembly}: cdk-nag did not run at synthesis")
    reports = [r for r in json.loads(path.read_text())["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    if len(reports) != 1:
        raise CheckFailed(f"{path}: expected one AwsSolutions report, found {len(reports)}")
    (nag,) = reports
    return NagReport(nag["conclusion"], list(nag["violations"]), list(nag.get("suppressedViolations", [])))


# -- cfn-lint -----------------------------------------------------------------------------------------------------
def cfn_lint(assembly: Path) -> list[dict[str, Any]]:
    """cfn-lint's findings over every template of the assembly (the ignored rules above excepted)."""
    files = [str(p) for p in templates(assembly)]
    result = subprocess.run(
        [_tool("cfn-lint"), "--format", "json", "--ignore-checks", *IGNORED_CFN_LINT, "--", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    # The exit code is a bit mask of the levels found (2 error, 4 warning, 8 informational); 1 is cfn-lint failing.
    try:
        findings = json.loads(result.stdout)
    except json.JSONDecodeError:
        findings = None
    if result.returncode & 1 or not isinstance(findings, list):
        raise CheckFailed(f"cfn-lint exited {result.returncode} without a report:\n{result.stderr[-2000:]}")
    return findings


def describe_cfn_lint(finding: dict[str, Any]) -> str:
    where = "/".join(str(part) for part in finding.get("Location", {}).get("Path", []))
    return f"{finding['Rule']['Id']} {finding['Filename']} {where}: {finding['Message']}"


# -- checkov ------------------------------------------------------------------------------------------------------
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
    """The accepted checkov findings of checkov_skips.yaml; a malformed file is refused, not half read."""
    data = yaml.safe_load(SKIP_FILE.read_text())
    if not set(data) <= {"false_positives", "pending"}:
        raise CheckFailed(f"unknown sections in {SKIP_FILE.name}: {sorted(set(data) - {'false_positives', 'pending'})}")
    found = []
    for section, entries in data.items():
        for entry in entries:
            if not set(entry) <= {"check", "reason", "resources"}:
                raise CheckFailed(f"{SKIP_FILE.name}: unknown keys in {entry}")
            found.append(Skip(section, entry["check"], entry["reason"].strip(), tuple(entry.get("resources", ()))))
    return tuple(found)


def run_checkov(files: list[Path]) -> dict[str, Any]:
    """checkov's CloudFormation report over ``files`` (all in one directory), offline."""
    result = subprocess.run(
        [
            _tool("checkov"),
            "--framework",
            "cloudformation",
            "--quiet",
            "--compact",
            # Offline: no guidelines, severities or policies from the vendor's platform.
            "--skip-download",
            "-o",
            "json",
            *(arg for t in files for arg in ("-f", t.name)),
        ],
        cwd=files[0].parent,  # no .checkov.yaml there: the skip file is the only configuration
        capture_output=True,
        text=True,
        check=False,
    )
    # Exit 1 means "some check failed"; anything else, or no JSON, is checkov itself failing.
    if result.returncode not in (0, 1):
        raise CheckFailed(f"checkov exited {result.returncode}:\n{result.stderr[-2000:]}")
    try:
        reports = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise CheckFailed(f"checkov printed no JSON report ({exc}):\n{result.stdout[:500]}") from None
    reports = reports if isinstance(reports, list) else [reports]
    if [r.get("check_type") for r in reports] != ["cloudformation"]:
        raise CheckFailed(f"checkov reported {[r.get('check_type') for r in reports]}, not cloudformation")
    report: dict[str, Any] = reports[0]
    if report["summary"]["parsing_errors"]:
        raise CheckFailed(f"checkov could not parse every template: {json.dumps(report['summary'])}")
    if not report["summary"]["passed"]:
        raise CheckFailed("checkov ran no check")
    return report


def failures(report: dict[str, Any]) -> list[Finding]:
    return [
        Finding(f["check_id"], f["resource"], f["file_path"].lstrip("/"), f["check_name"])
        for f in report["results"]["failed_checks"]
    ]


def unskipped(found: list[Finding]) -> list[Finding]:
    """The failures no entry of checkov_skips.yaml accepts."""
    return [f for f in found if not any(s.covers(f) for s in skips())]
