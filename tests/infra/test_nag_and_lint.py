"""cdk-nag (AwsSolutions) and cfn-lint over every synthesized template (bft.cli.checks, as `bft config check`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bft.cli import checks
from tests.conftest import Assembly


def test_cdk_nag_has_no_unacknowledged_findings(assembly: Assembly) -> None:
    nag = checks.nag_report(assembly.path)
    assert nag.conclusion == "success", json.dumps(nag.violations, indent=1)[:3000]
    assert nag.violations == []


def test_every_acknowledgement_says_why(assembly: Assembly) -> None:
    nag = checks.nag_report(assembly.path)
    assert nag.suppressed, "expected the documented acknowledgements to be reported"
    for finding in nag.suppressed:
        assert len(finding["reason"].strip()) >= 20, f"{finding['ruleName']}: acknowledged without a reason"


def test_cfn_lint_reports_no_findings(assembly: Assembly) -> None:
    findings = checks.cfn_lint(assembly.path)
    assert findings == [], "\n".join(map(checks.describe_cfn_lint, findings))[:3000]


def test_every_ignored_cfn_lint_rule_says_why() -> None:
    for rule, reason in checks.IGNORED_CFN_LINT.items():
        assert len(reason) >= 40, f"{rule}: ignored without a reason"


def test_cfn_lint_reports_what_it_finds(tmp_path: Path, assemblies: dict[str, Assembly]) -> None:
    """The lint runs and is read: a template with an error is reported (cfn-lint once ran as `python -m
    cfnlint`, which printed nothing, and this test's predecessor read nothing as no finding)."""
    source = next(iter(checks.templates(assemblies["dev"].path)))
    template = json.loads(source.read_text())
    next(iter(template["Resources"].values()))["Type"] = "AWS::S3::Bucketz"
    (tmp_path / source.name).write_text(json.dumps(template))
    findings = checks.cfn_lint(tmp_path)
    assert any(f["Level"] == "Error" for f in findings), findings


def test_a_lint_tool_that_is_missing_fails_the_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(checks.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    (tmp_path / "A.template.json").write_text("{}")
    with pytest.raises(checks.CheckFailed, match=r"cfn-lint is not installed"):
        checks.cfn_lint(tmp_path)
