"""`bft cost`: the platform's monthly idle cost, counted from the synthesized templates, never hard-coded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bft.cli import main
from bft.idle_cost import (
    ALARM_MONTH,
    BUDGET_ACTION_MONTH,
    KMS_KEY_MONTH,
    MINUTES_PER_MONTH,
    idle_cost,
    runs_per_month,
    templates_of,
)
from bft.synth import cached_synth
from tests.conftest import SYNTH_CACHE


def _assembly(tmp_path: Path, resources: dict[str, Any], asset_bytes: int = 0) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "Stack.template.json").write_text(json.dumps({"Resources": resources}))
    manifest = {
        "artifacts": {
            "Stack": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "Stack.template.json"}}
        }
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    if asset_bytes:
        (tmp_path / "asset.abc").mkdir()
        (tmp_path / "asset.abc" / "layer.zip").write_bytes(b"x" * asset_bytes)
    return tmp_path


def _line(cost: Any, prefix: str) -> Any:
    return next(line for line in cost.lines if line.item.startswith(prefix))


def test_keys_and_alarms_are_counted_from_the_template(tmp_path: Path) -> None:
    resources = {f"Key{i}": {"Type": "AWS::KMS::Key"} for i in range(3)}
    resources |= {f"Alarm{i}": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Period": 300}} for i in range(5)}
    cost = idle_cost(_assembly(tmp_path, resources))
    assert (_line(cost, "KMS customer").count, _line(cost, "KMS customer").monthly_usd) == (3, 3 * KMS_KEY_MONTH[0])
    assert _line(cost, "CloudWatch alarms").monthly_usd == pytest.approx(5 * ALARM_MONTH[0])
    assert cost.monthly_usd == pytest.approx(3.5)
    assert all(line.source.startswith("https://aws.amazon.com/") for line in cost.lines)


def test_a_budget_with_an_action_is_billed_by_the_day_one_without_is_free(tmp_path: Path) -> None:
    resources = {f"Budget{i}": {"Type": "AWS::Budgets::Budget"} for i in range(3)}
    resources |= {"CapAction": {"Type": "AWS::Budgets::BudgetsAction"}}
    cost = idle_cost(_assembly(tmp_path, resources))
    assert (_line(cost, "AWS Budgets (no actions)").count, _line(cost, "AWS Budgets (no actions)").monthly_usd) == (
        2,
        0,
    )
    with_action = _line(cost, "AWS Budgets with an action")
    assert (with_action.count, with_action.monthly_usd) == (1, BUDGET_ACTION_MONTH[0])
    assert BUDGET_ACTION_MONTH[0] == pytest.approx(3.04)


def test_scheduled_functions_are_priced_from_their_rate_memory_and_architecture(tmp_path: Path) -> None:
    def rule(rate: str, target: str) -> dict[str, Any]:
        return {
            "Type": "AWS::Events::Rule",
            "Properties": {"ScheduleExpression": rate, "Targets": [{"Arn": {"Fn::GetAtt": [target, "Arn"]}}]},
        }

    resources = {
        "Fast": {"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": 1024, "Architectures": ["arm64"]}},
        "Slow": {"Type": "AWS::Lambda::Function", "Properties": {}},
        "Every30": rule("rate(30 minutes)", "Fast"),
        "Hourly": rule("rate(1 hour)", "Slow"),
        "Events": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["aws.bedrock"]}}},
        "Table": {"Type": "AWS::DynamoDB::GlobalTable"},
    }
    cost = idle_cost(_assembly(tmp_path, resources))
    lam = _line(cost, "Lambda: scheduled")
    runs = MINUTES_PER_MONTH / 30 + MINUTES_PER_MONTH / 60
    assert lam.count == 2
    assert f"{runs:,.0f} invocations/month" in lam.basis
    expected = (
        runs / 1e6 * 0.20
        + (MINUTES_PER_MONTH / 30) * 1.0 * 0.0000133334
        + (MINUTES_PER_MONTH / 60) * 0.125 * 0.0000166667
    )
    assert lam.monthly_usd == round(expected, 2)
    assert "assumption" in lam.basis
    assert _line(cost, "EventBridge rules").count == 3
    assert f"{runs:,.0f} read units/month" in _line(cost, "DynamoDB").basis


def test_the_assets_are_measured_in_the_assembly(tmp_path: Path) -> None:
    cost = idle_cost(_assembly(tmp_path, {"B": {"Type": "AWS::S3::Bucket"}}, asset_bytes=2_000_000))
    assert "0.002 GB of assets (measured in the assembly)" in _line(cost, "S3:").basis


def test_a_schedule_it_cannot_count_is_refused_not_guessed() -> None:
    assert runs_per_month("rate(1 day)") == MINUTES_PER_MONTH / 1440
    with pytest.raises(ValueError, match=r"cron\(0 \* \* \* \? \*\).*only rate"):
        runs_per_month("cron(0 * * * ? *)")


def test_a_directory_without_a_manifest_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "--env", "dev", "--assembly", str(tmp_path)]) == 2
    assert "no manifest.json; synthesize with `make synth` first" in capsys.readouterr().err


def test_the_local_environments_idle_cost_matches_its_templates(capsys: pytest.CaptureFixture[str]) -> None:
    assembly = cached_synth("local", SYNTH_CACHE)
    keys = sum(
        1
        for template in templates_of(assembly).values()
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::KMS::Key"
    )
    cost = idle_cost(assembly)
    assert _line(cost, "KMS customer").count == keys >= 2
    assert main(["cost", "--env", "local", "--assembly", str(assembly), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["monthlyUsd"] == cost.monthly_usd > 0
    assert printed["pricesTaken"] == "2026-11-29"
    assert "ILLUSTRATIVE list prices" in printed["note"]
