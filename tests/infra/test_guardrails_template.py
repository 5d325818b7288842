"""The CostGuardrails construct synthesized in a small app of its own: schedule, scoped permissions, budgets,
and cdk-nag over the result. (The construct is wired into the pipeline stack separately.)"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, RemovalPolicy, Stack, Validations
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from stacks.constructs.functions import FunctionFactory, pascal
from stacks.constructs.guardrails import CostGuardrails, team_budget
from stacks.constructs.notifications import Notifications
from tests.conftest import resources

TAG_CONDITION = {
    "StringEquals": {"aws:ResourceTag/project": "bedrock-fine-tuning", "aws:ResourceTag/environment": "dev"}
}
REAPER_ACTIONS = {
    "bedrock:ListProvisionedModelThroughputs",
    "bedrock:ListCustomModels",
    "bedrock:ListTagsForResource",
    "bedrock:DeleteProvisionedModelThroughput",
    "bedrock:DeleteCustomModel",
    # What deployments use or keep as their rollback target (bft.workflow.promotion.protected_models): reads.
    "bedrock:ListCustomModelDeployments",
    "bedrock:GetCustomModelDeployment",
}


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    retaining: dict[str, Any]  # model retention on, two teams with budgets
    plain: dict[str, Any]  # production, dry run, no retention, no budgets

    def nag(self) -> dict[str, Any]:
        report = json.loads((self.outdir / "validation-report.json").read_text())
        (found,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
        return dict(found)


def guarded_stack(
    app: App, id_: str, *, budgets: dict[str, tuple[float, list[str]]], environment: str, **options: Any
) -> Stack:
    stack = Stack(app, id_)
    notifications = Notifications(stack, "Notifications", emails=[], removal=RemovalPolicy.DESTROY)
    factory = FunctionFactory(
        stack,
        "Functions",
        log_retention=logs.RetentionDays.ONE_WEEK,
        removal=RemovalPolicy.DESTROY,
        powertools_layer_version=27,
    )
    CostGuardrails(
        stack,
        "CostGuardrails",
        factory=factory,
        topic_grant=notifications.grant_publish,
        topic_arn=notifications.topic.topic_arn,
        default_ttl_hours=8.0,
        environment=environment,
        **options,
    )
    # Budgets live in the team stacks (stacks/team_stack.py); the same function builds them here.
    for team, (limit_usd, emails) in budgets.items():
        team_budget(
            stack, f"Budget{pascal(team)}", team=team, environment=environment, limit_usd=limit_usd, emails=emails
        )
    return stack


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("guardrails")
    app = App(outdir=str(outdir))
    retaining = guarded_stack(
        app,
        "Retaining",
        environment="dev",
        production=False,
        schedule_minutes=30,
        dry_run=False,
        model_retention_days=90,
        budgets={"moderation": (2000.0, ["moderation-ml@example.com"]), "search": (500.0, [])},
    )
    plain = guarded_stack(
        app,
        "Plain",
        environment="dev",
        production=True,
        schedule_minutes=60,
        dry_run=True,
        model_retention_days=None,
        budgets={},
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return Synthesized(
        outdir, dict(Template.from_stack(retaining).to_json()), dict(Template.from_stack(plain).to_json())
    )


def reaper(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (key, fn)
        for key, fn in resources(template, "AWS::Lambda::Function").items()
        if fn["Properties"]["Handler"] == "handler.handler"
        and "DRY_RUN" in fn["Properties"]["Environment"]["Variables"]
    ]
    return found


def reaper_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of every policy attached to the reaper function's role."""
    _, fn = reaper(template)
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions(statement: dict[str, Any]) -> list[str]:
    found = statement["Action"]
    return [found] if isinstance(found, str) else list(found)


def arn_text(value: Any) -> str:
    """An ARN as text, pseudo parameters as <Ref>, for matching by suffix."""
    if isinstance(value, str):
        return value
    return "".join(p if isinstance(p, str) else f"<{p.get('Ref', 'token')}>" for p in value["Fn::Join"][1])


def test_reaper_runs_on_the_configured_schedule(synthesized: Synthesized) -> None:
    for template, rate in ((synthesized.retaining, "rate(30 minutes)"), (synthesized.plain, "rate(1 hour)")):
        key, _ = reaper(template)
        (rule,) = resources(template, "AWS::Events::Rule").values()
        assert rule["Properties"]["ScheduleExpression"] == rate
        assert rule["Properties"]["State"] == "ENABLED"
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [key, "Arn"]}
        assert any(dep.startswith("CostGuardrailsReaperPermissions") for dep in rule.get("DependsOn", [])), (
            "the schedule waits for the reaper's permissions"
        )


def test_reaper_settings_come_from_the_construct(synthesized: Synthesized) -> None:
    _, fn = reaper(synthesized.retaining)
    variables = fn["Properties"]["Environment"]["Variables"]
    assert variables["ENVIRONMENT"] == "dev"
    assert variables["PRODUCTION"] == "false"
    assert variables["DRY_RUN"] == "false"
    # Each team's time-to-live comes from its registry entry, read when the reaper meets its throughput.
    assert variables["REGISTRY_PATH"] == "/bft/dev/teams"
    assert float(variables["DEFAULT_TTL_HOURS"]) == 8.0
    assert variables["MODEL_RETENTION_DAYS"] == "90"
    assert "Ref" in variables["TOPIC_ARN"]
    _, fn = reaper(synthesized.plain)
    variables = fn["Properties"]["Environment"]["Variables"]
    assert (variables["PRODUCTION"], variables["DRY_RUN"]) == ("true", "true")
    assert "MODEL_RETENTION_DAYS" not in variables


def test_deletes_are_limited_to_the_pipelines_tagged_resources(synthesized: Synthesized) -> None:
    statements = reaper_statements(synthesized.retaining)
    bedrock = [s for s in statements if any(a.startswith("bedrock:") for a in actions(s))]
    assert {a for s in bedrock for a in actions(s)} == REAPER_ACTIONS
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert not any(a == "*" or a.endswith(":*") for a in actions(statement)), statement
        resources_ = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if any(a.startswith("bedrock:Delete") for a in actions(statement)):
            assert statement["Condition"] == TAG_CONDITION, statement
        if any(a.startswith("bedrock:Delete") for a in actions(statement)):
            assert all(arn_text(r).endswith((":provisioned-model/*", ":custom-model/*")) for r in resources_), statement
        if "bedrock:ListTagsForResource" in actions(statement):
            # Tag reads stay unconditioned on purpose (see guardrails.py); deployments' only to keep their models.
            kinds = (":provisioned-model/*", ":custom-model/*", ":custom-model-deployment/*")
            assert all(arn_text(r).endswith(kinds) for r in resources_), statement
        joined = [arn_text(r) for r in resources_ if isinstance(r, str) or "Fn::Join" in r]
        if any(text.endswith(":custom-model-deployment/*") for text in joined):
            assert set(actions(statement)) <= {"bedrock:ListTagsForResource", "bedrock:GetCustomModelDeployment"}
        if "*" in resources_:
            assert all(a.startswith(("bedrock:List", "xray:")) for a in actions(statement)), statement
            assert "bedrock:ListTagsForResource" not in actions(statement)
    deletes = {a: arn_text(s["Resource"]) for s in bedrock for a in actions(s) if a.startswith("bedrock:Delete")}
    assert deletes["bedrock:DeleteProvisionedModelThroughput"].endswith(":provisioned-model/*")
    assert deletes["bedrock:DeleteCustomModel"].endswith(":custom-model/*")


def test_without_retention_custom_models_are_out_of_reach(synthesized: Synthesized) -> None:
    granted = {a for s in reaper_statements(synthesized.plain) for a in actions(s)}
    assert "bedrock:DeleteProvisionedModelThroughput" in granted
    assert not {"bedrock:ListCustomModels", "bedrock:DeleteCustomModel"} & granted


def test_reaper_may_publish_to_the_topic_only(synthesized: Synthesized) -> None:
    (topic,) = resources(synthesized.retaining, "AWS::SNS::Topic")
    statements = reaper_statements(synthesized.retaining)
    (publish,) = [s for s in statements if "sns:Publish" in actions(s)]
    assert publish["Resource"] == {"Ref": topic}


def test_one_budget_per_team_on_its_cost_allocation_tag(synthesized: Synthesized) -> None:
    budgets = {
        b["Properties"]["Budget"]["BudgetName"]: b["Properties"]
        for b in resources(synthesized.retaining, "AWS::Budgets::Budget").values()
    }
    assert set(budgets) == {"bft-dev-moderation", "bft-dev-search"}
    moderation = budgets["bft-dev-moderation"]
    assert moderation["Budget"]["BudgetType"] == "COST"
    assert moderation["Budget"]["TimeUnit"] == "MONTHLY"
    assert moderation["Budget"]["BudgetLimit"] == {"Amount": 2000, "Unit": "USD"}
    assert moderation["Budget"]["CostFilters"] == {"TagKeyValue": ["user:team$moderation"]}
    alerts = {
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"]): n
        for n in moderation["NotificationsWithSubscribers"]
    }
    assert set(alerts) == {("ACTUAL", 80), ("FORECASTED", 100)}
    for alert in alerts.values():
        assert alert["Notification"]["ComparisonOperator"] == "GREATER_THAN"
        assert alert["Notification"]["ThresholdType"] == "PERCENTAGE"
        assert alert["Subscribers"] == [{"Address": "moderation-ml@example.com", "SubscriptionType": "EMAIL"}]
    assert budgets["bft-dev-search"]["Budget"]["CostFilters"] == {"TagKeyValue": ["user:team$search"]}
    assert "NotificationsWithSubscribers" not in budgets["bft-dev-search"], "no e-mails: a budget without alerts"
    assert resources(synthesized.plain, "AWS::Budgets::Budget") == {}


def test_too_many_budget_emails_fail_at_synth() -> None:
    app = App()
    with pytest.raises(ValueError, match="at most 10 e-mail addresses"):
        guarded_stack(
            app,
            "TooMany",
            environment="dev",
            production=False,
            schedule_minutes=60,
            dry_run=False,
            model_retention_days=None,
            budgets={"moderation": (100.0, [f"m{n}@example.com" for n in range(11)])},
        )


def test_cdk_nag_has_no_unacknowledged_findings(synthesized: Synthesized) -> None:
    nag = synthesized.nag()
    assert nag["conclusion"] == "success", json.dumps(nag["violations"], indent=1)[:3000]
    assert nag["violations"] == []


def test_the_reapers_wildcards_are_acknowledged_with_reasons_on_its_own_policy(synthesized: Synthesized) -> None:
    ours = [
        finding
        for finding in synthesized.nag()["suppressedViolations"]
        if finding["acknowledgedAt"].startswith("Retaining/CostGuardrails/ReaperPermissions")
    ]
    rules = {finding["ruleName"] for finding in ours}
    assert rules == {
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:provisioned-model/*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:custom-model/*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:"
        "custom-model-deployment/*]",
    }
    for finding in ours:
        assert (
            "aws:ResourceTag" in finding["reason"]
            or "no resource-level scope" in finding["reason"]
            or "read-only" in finding["reason"]
        )
