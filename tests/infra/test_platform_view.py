"""The platform view as synthesized (issue #23 item 3 and finding L7): the dashboard finds every team by SEARCH,
the alarms no team owns exist, the platform viewer policy only reads, and a team's execution alarms reach the
team's own subscribers as well as the platform's."""

from __future__ import annotations

import json
from typing import Any

from bft.config import load_config
from tests.conftest import Assembly, resources

READ_ONLY = ("ssm:GetParameter", "states:List", "states:Describe", "s3:GetObject", "s3:List", "kms:Decrypt")


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources(template, "AWS::CloudWatch::Alarm")


def test_the_dashboard_finds_every_team_without_naming_one(assembly: Assembly) -> None:
    template = assembly.template("Pipeline")
    [dashboard] = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in ("Runs", "RunCostUsd", "ServingModelUnits", "ReaperActions"):
        assert f'MetricName=\\\\\\"{metric}\\\\\\"' in body, metric
    assert f"bft-{assembly.env}-team-" in body  # the team state machines' failures, by their name prefix
    for team in load_config(assembly.env).teams:  # onboarding a team changes nothing here
        assert team.name not in body.replace(f"bft-{assembly.env}-team-", "")


def test_dead_letters_and_reaper_errors_alarm_the_platform(assembly: Assembly) -> None:
    alarms = _alarms(assembly.template("Pipeline"))
    found = {
        alarm["Properties"]["MetricName"]: alarm for alarm in alarms.values() if "MetricName" in alarm["Properties"]
    }
    assert found["ApproximateNumberOfMessagesVisible"]["Properties"]["Namespace"] == "AWS/SQS"
    assert found["Errors"]["Properties"]["Namespace"] == "AWS/Lambda"
    for alarm in (found["ApproximateNumberOfMessagesVisible"], found["Errors"]):
        assert alarm["Properties"]["AlarmActions"], "an alarm nobody hears"


def test_the_platform_viewer_policy_only_reads(assembly: Assembly) -> None:
    template = assembly.template("Pipeline")
    [policy] = [p for k, p in resources(template, "AWS::IAM::ManagedPolicy").items() if "PlatformViewer" in k]
    actions = [
        action
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    ]
    assert actions
    writes = [a for a in actions if not a.startswith(READ_ONLY) and a != "cloudformation:DescribeStacks"]
    assert writes == [], writes
    assert "PlatformViewerPolicyArn" in template["Outputs"]


def test_a_teams_execution_alarms_reach_its_own_subscribers(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    for team in config.teams:
        template = assembly.template(f"Team{''.join(p.capitalize() for p in team.name.split('-'))}")
        own = [e for e in team.notification_emails if e not in config.notification_emails]
        topics = resources(template, "AWS::SNS::Topic")
        alarms = [a for a in _alarms(template).values() if a["Properties"].get("Namespace") == "AWS/States"]
        assert alarms
        if not own:
            assert not topics
            continue
        [(topic_id, topic)] = topics.items()
        assert "KmsMasterKeyId" in topic["Properties"]
        subscribed = {
            s["Properties"]["Endpoint"]
            for s in resources(template, "AWS::SNS::Subscription").values()
            if s["Properties"]["TopicArn"] == {"Ref": topic_id}
        }
        assert set(own) <= subscribed
        for alarm in alarms:
            assert {"Ref": topic_id} in alarm["Properties"]["AlarmActions"], alarm
            assert len(alarm["Properties"]["AlarmActions"]) == 2  # the platform's topic too
