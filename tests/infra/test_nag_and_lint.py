"""cdk-nag (AwsSolutions) and cfn-lint over every synthesized template."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import Assembly

# cfn-lint rules that fire on code CDK itself generates, each with why it is safe to skip.
IGNORED_CFN_LINT = {
    "W3005": "CDK's auto-delete provider declares a DependsOn that a GetAtt already implies",
}


def test_cdk_nag_has_no_unacknowledged_findings(assembly: Assembly) -> None:
    report = json.loads((assembly.path / "validation-report.json").read_text())
    (nag,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success", json.dumps(nag["violations"], indent=1)[:3000]
    assert nag["violations"] == []


def test_every_acknowledgement_says_why(assembly: Assembly) -> None:
    report = json.loads((assembly.path / "validation-report.json").read_text())
    (nag,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag["suppressedViolations"], "expected the documented acknowledgements to be reported"
    for finding in nag["suppressedViolations"]:
        assert len(finding["reason"].strip()) >= 20, f"{finding['ruleName']}: acknowledged without a reason"


def test_cfn_lint_reports_no_errors(assembly: Assembly) -> None:
    templates = sorted(str(p) for p in assembly.path.glob("*.template.json"))
    assert templates
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cfnlint",
            "--format",
            "json",
            "--ignore-checks",
            *IGNORED_CFN_LINT,
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)[:3000]
