"""The alarms on one team's state machine, in the team's own stack (stacks.constructs.workflow.TeamWorkflow):
a failed or timed-out execution notifies the environment's topic (the platform) and the team's own alarm topic
(its subscribers), where it has one."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


def execution_alarms(scope: Construct, state_machine: sfn.StateMachine, topics: list[sns.ITopic], team: str) -> None:
    """One alarm per outcome, on any execution in five minutes; the alarm names the team, the run report says
    what happened."""
    actions = [cw_actions.SnsAction(topic) for topic in topics]
    for name, metric in (
        ("ExecutionsFailed", state_machine.metric_failed()),
        ("ExecutionsTimedOut", state_machine.metric_timed_out()),
    ):
        alarm = cloudwatch.Alarm(
            scope,
            f"{name}Alarm",
            metric=metric.with_(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"Fine-tuning executions of team {team} "
            f"{name.removeprefix('Executions').lower()}; see the run report",
        )
        alarm.add_alarm_action(*actions)
