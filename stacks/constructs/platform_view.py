"""The platform team's view of one environment: a dashboard of every team's runs, spend and serving, the alarms
that no team owns (dead letters, the reaper's errors), and a managed policy for the platform's own roles to read
every team's runs (`bft runs --all-teams`).

The pipeline stack knows no team (bft.registry): the dashboard finds each team's metrics with SEARCH expressions
over the pipeline's own metrics (bft.metrics) and the team state machines' name prefix, so onboarding a team
changes nothing here.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from bft.metrics import NAMESPACE
from bft.registry import state_machine_prefix, teams_path
from stacks.nag import acknowledge, resource_text

DAY = 86400


def search(expression: str, stat: str, period_seconds: int, label: str) -> cloudwatch.MathExpression:
    """A SEARCH over the account's metrics: one line per team (or outcome) that has published any."""
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{expression}', '{stat}', {period_seconds})",
        label=label,
        using_metrics={},
        period=Duration.seconds(period_seconds),
    )


class PlatformView(Construct):
    """Dashboard, platform alarms and the platform viewer policy of one environment."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: str,
        region: str,
        topic: sns.ITopic,
        dead_letters: sqs.IQueue | None,
        reaper: lambda_.IFunction,
        reports: s3.IBucket,
        data_key: kms.IKey,
    ) -> None:
        super().__init__(scope, id_)
        self._region = region  # the widgets' region: the stacks are pinned to the config's, never the CLI's
        action = cw_actions.SnsAction(topic)
        self.alarms: list[cloudwatch.Alarm] = []
        if dead_letters is not None:
            self._alarm(
                "DeadLettersAlarm",
                dead_letters.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Max"),
                f"Events the {environment} pipeline's functions could not handle wait in the dead-letter queue; "
                "read them, fix the cause, and redrive or delete them",
                action,
            )
        self._alarm(
            "ReaperErrorsAlarm",
            reaper.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            f"The {environment} reaper finished with errors: some expired throughputs or old custom models may "
            "still bill; its log names each resource and error",
            action,
        )
        env = f'Environment="{environment}"'
        machines = state_machine_prefix(environment)
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            default_interval=Duration.days(30),
            widgets=[
                [
                    self._graph(
                        "Runs by team and outcome (per day)",
                        search(f'{{{NAMESPACE},Environment,Outcome,Team}} MetricName="Runs" {env}', "Sum", DAY, ""),
                        stacked=True,
                    ),
                    self._graph(
                        "Training spend per team, USD per day (run reports' estimates)",
                        search(f'{{{NAMESPACE},Environment,Team}} MetricName="RunCostUsd" {env}', "Sum", DAY, ""),
                        stacked=True,
                    ),
                ],
                [
                    self._graph(
                        "Provisioned throughputs serving, per team (model units; the reaper's count)",
                        search(
                            f'{{{NAMESPACE},Environment,Team}} MetricName="ServingModelUnits" {env}',
                            "Maximum",
                            3600,
                            "",
                        ),
                    ),
                    self._graph(
                        "Reaper actions",
                        search(f'{{{NAMESPACE},Action,Environment}} MetricName="ReaperActions" {env}', "Sum", 3600, ""),
                        stacked=True,
                    ),
                ],
                [
                    self._graph(
                        "Executions failed or timed out, per team state machine",
                        search(
                            f'{{AWS/States,StateMachineArn}} (MetricName="ExecutionsFailed" OR '
                            f'MetricName="ExecutionsTimedOut") "{machines}"',
                            "Sum",
                            3600,
                            "",
                        ),
                    ),
                    cloudwatch.AlarmStatusWidget(title="Platform alarms", alarms=self.alarms, width=12),
                ],
            ],
        )
        self.viewer_policy = self._viewer_policy(environment, reports, data_key)

    def _alarm(self, id_: str, metric: cloudwatch.IMetric, description: str, action: cw_actions.SnsAction) -> None:
        alarm = cloudwatch.Alarm(
            self,
            id_,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(action)
        self.alarms.append(alarm)

    def _graph(self, title: str, expression: cloudwatch.IMetric, *, stacked: bool = False) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(
            title=title, left=[expression], width=12, height=6, stacked=stacked, region=self._region
        )

    def _viewer_policy(self, environment: str, reports: s3.IBucket, data_key: kms.IKey) -> iam.ManagedPolicy:
        """What `bft runs --all-teams` reads: the registry, every team's executions and run reports. Read only."""
        stack = Stack.of(self)
        prefix = state_machine_prefix(environment)
        machines = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=f"{prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        executions = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{prefix}*:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        registry = stack.format_arn(service="ssm", resource="parameter", resource_name=teams_path(environment)[1:])
        reports_objects = reports.arn_for_objects("reports/*")
        stacks = stack.format_arn(service="cloudformation", resource="stack", resource_name=f"{stack.stack_name}/*")
        policy = iam.ManagedPolicy(
            self,
            "PlatformViewerPolicy",
            description=f"Read every team's runs of the {environment} fine-tuning pipeline (bft runs --all-teams)",
            statements=[
                iam.PolicyStatement(
                    sid="Registry", actions=["ssm:GetParametersByPath"], resources=[registry, f"{registry}/*"]
                ),
                iam.PolicyStatement(sid="TeamEntries", actions=["ssm:GetParameter"], resources=[f"{registry}/*"]),
                iam.PolicyStatement(sid="Executions", actions=["states:ListExecutions"], resources=[machines]),
                iam.PolicyStatement(sid="Execution", actions=["states:DescribeExecution"], resources=[executions]),
                iam.PolicyStatement(
                    sid="ListReports",
                    actions=["s3:ListBucket"],
                    resources=[reports.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": ["reports/*"]}},
                ),
                iam.PolicyStatement(sid="ReadReports", actions=["s3:GetObject"], resources=[reports_objects]),
                iam.PolicyStatement(
                    sid="DecryptReports",
                    actions=["kms:Decrypt"],
                    resources=[data_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
                ),
                iam.PolicyStatement(sid="FindTheStacks", actions=["cloudformation:DescribeStacks"], resources=[stacks]),
            ],
        )
        # Each wildcard is a name pattern of this environment only: teams come and go without this stack.
        for resource, reason in (
            (f"{registry}/*", "every team's registry entry of this environment, read to find its state machine"),
            (reports_objects, "every team's run reports (read only), the platform's view of all runs"),
            (machines, "every team's state machine of this environment (its fixed name prefix, bft.registry)"),
            (executions, "the executions of those state machines (DescribeExecution, read only)"),
            (stacks, "this pipeline stack's ids (a stack ARN ends in a generated id): read its outputs"),
        ):
            acknowledge(policy, f"IAM5[Resource::{resource_text(self, resource)}]", reason)
        return policy
