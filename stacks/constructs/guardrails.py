"""Cost guardrails: a scheduled reaper for idle provisioned throughput (and old custom models), an optional
AWS Budgets alarm per team, and an optional hard cap per team whose AWS Budgets action stops the team's runs."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Duration, Stack
from aws_cdk import aws_budgets as budgets_
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from bft.registry import teams_path
from bft.workflow.reaper import PROJECT_TAG  # one constant for the code's check and the IAM condition
from stacks.constructs.functions import FunctionFactory
from stacks.constructs.workflow import registry_arn
from stacks.nag import acknowledge, resource_text

# AWS Budgets accepts at most 10 e-mail subscribers per notification.
MAX_BUDGET_EMAILS = 10
# What the cap's deny policy refuses the team's submitter role once AWS's actual cost reaches the cap: starting
# or redriving a run (states:*, on the team's machine) and any Bedrock call that starts billing (whatever
# other policy grants it). Never a delete, stop or read: `bft teardown` must still end what bills.
CAP_DENIED_BEDROCK = (
    "bedrock:CreateModelCustomizationJob",
    "bedrock:CreateProvisionedModelThroughput",
    "bedrock:CreateCustomModelDeployment",
    "bedrock:CreateModelInvocationJob",
    "bedrock:CreateEvaluationJob",
)
CAP_DENIED_STATES = ("states:StartExecution", "states:RedriveExecution")


class CostGuardrails(Construct):
    """The reaper function on a schedule, with permissions that reach only this pipeline's resources.

    Bedrock supports resource-tag conditions (``aws:ResourceTag/<key>``) on its provisioned-model and
    custom-model resources (AWS Service Authorization Reference, Amazon Bedrock). Bedrock assigns
    throughput IDs, so the ARN pattern cannot narrow the reaper's reach; the tag conditions do: it may
    read tags of and delete only resources tagged ``project=bedrock-fine-tuning`` and
    ``environment=<this environment>``, the same test its code applies first.

    Each team's budget lives in the team's stack (``team_budget``).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        factory: FunctionFactory,
        topic_grant: Callable[[iam.IGrantable], None],
        topic_arn: str,
        environment: str,
        production: bool,
        default_ttl_hours: float,
        schedule_minutes: int,
        dry_run: bool,
        model_retention_days: int | None,
    ) -> None:
        super().__init__(scope, id_)
        settings = {
            "ENVIRONMENT": environment,
            "PRODUCTION": _flag(production),
            "TOPIC_ARN": topic_arn,
            # A team's time-to-live comes from its registry entry (bft.registry), read when the reaper meets
            # one of its throughputs: onboarding a team changes nothing here.
            "REGISTRY_PATH": teams_path(environment),
            "DEFAULT_TTL_HOURS": str(default_ttl_hours),
            "DRY_RUN": _flag(dry_run),
        }
        if model_retention_days is not None:
            settings["MODEL_RETENTION_DAYS"] = str(model_retention_days)
        self.function = factory.function(
            "reap_throughputs",
            description="Delete the pipeline's expired non-prod provisioned throughputs",
            timeout=Duration.minutes(5),
            environment=settings,
            asynchronous=True,
        )
        self.policy = self._permissions(self.function, environment, retain_models=model_retention_days is not None)
        registry = registry_arn(Stack.of(self), environment)
        self.function.add_to_role_policy(iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[registry]))
        acknowledge(
            self.function.role or self,
            f"IAM5[Resource::{resource_text(self, registry)}]",
            "The registry entries of this environment's teams (their time-to-live), read-only.",
        )
        topic_grant(self.function)

        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"Run the cost-guardrail reaper every {schedule_minutes} minutes",
            schedule=events.Schedule.rate(Duration.minutes(schedule_minutes)),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
        # No run before the function may list and delete (it would report every throughput as unreadable).
        self.schedule.node.add_dependency(self.policy)

    def _permissions(self, function: lambda_.Function, environment: str, *, retain_models: bool) -> iam.Policy:
        stack = Stack.of(self)
        provisioned = stack.format_arn(service="bedrock", resource="provisioned-model", resource_name="*")
        custom_model = stack.format_arn(service="bedrock", resource="custom-model", resource_name="*")
        deployment = stack.format_arn(service="bedrock", resource="custom-model-deployment", resource_name="*")
        ours = {
            "StringEquals": {
                "aws:ResourceTag/project": PROJECT_TAG,
                "aws:ResourceTag/environment": environment,
            }
        }
        listing = ["bedrock:ListProvisionedModelThroughputs"]
        if retain_models:
            listing += ["bedrock:ListCustomModels", "bedrock:ListCustomModelDeployments"]
        statements = [
            # Bedrock's List actions take no resource ARN.
            iam.PolicyStatement(actions=listing, resources=["*"]),
            # Reading tags is how the reaper tells its own resources apart; it is left unconditioned so that
            # an unsupported condition key can never make every throughput look foreign (a silent no-op).
            iam.PolicyStatement(actions=["bedrock:ListTagsForResource"], resources=[provisioned]),
            iam.PolicyStatement(
                actions=["bedrock:DeleteProvisionedModelThroughput"], resources=[provisioned], conditions=ours
            ),
        ]
        if retain_models:
            statements.append(iam.PolicyStatement(actions=["bedrock:ListTagsForResource"], resources=[custom_model]))
            statements.append(
                iam.PolicyStatement(actions=["bedrock:DeleteCustomModel"], resources=[custom_model], conditions=ours)
            )
            # What every deployment serves, and what a team endpoint keeps as its rollback target or is being
            # updated to (bft.workflow.promotion.protected_models): reads, so that none of these models is deleted.
            statements.append(
                iam.PolicyStatement(
                    actions=["bedrock:ListTagsForResource", "bedrock:GetCustomModelDeployment"], resources=[deployment]
                )
            )
        role = function.role
        if role is None:  # the factory always gives a function its own role
            raise ValueError("the reaper function has no role to attach its permissions to")
        # Its own policy (not the role's default one): the findings below are acknowledged on exactly these
        # statements, and the schedule can depend on it.
        policy = iam.Policy(self, "ReaperPermissions", roles=[role], statements=statements)
        acknowledge(
            policy,
            "IAM5[Resource::*]",
            "Bedrock ListProvisionedModelThroughputs/ListCustomModels/ListCustomModelDeployments support no "
            "resource-level scope; "
            "every delete is limited by aws:ResourceTag conditions to this pipeline and environment.",
        )
        limited = "aws:ResourceTag conditions limit the reaper to this pipeline and environment."
        scoped = {provisioned: f"Bedrock assigns throughput IDs; {limited}"}
        if retain_models:
            scoped[custom_model] = f"Custom model names are generated per request; {limited}"
            scoped[deployment] = (
                "Bedrock assigns deployment IDs; read-only: which models deployments use or keep, so that the "
                "reaper never deletes them."
            )
        for resource, why in scoped.items():
            acknowledge(policy, f"IAM5[Resource::{resource_text(self, resource)}]", why)
        return policy


def team_budget(
    scope: Construct, id_: str, *, team: str, environment: str, limit_usd: float, emails: list[str]
) -> budgets_.CfnBudget:
    """An AWS Budgets cost budget on the ``team`` cost-allocation tag, alerting at 80 % of actual and 100 % of
    forecasted spend (in the team's stack)."""
    if len(emails) > MAX_BUDGET_EMAILS:
        raise ValueError(
            f"team {team}: AWS Budgets notifies at most {MAX_BUDGET_EMAILS} e-mail addresses, got {len(emails)}"
        )
    subscribers = [budgets_.CfnBudget.SubscriberProperty(address=e, subscription_type="EMAIL") for e in emails]
    alerts = [
        # 80 % of what was actually spent, and 100 % of what AWS forecasts for the month.
        ("ACTUAL", 80),
        ("FORECASTED", 100),
    ]
    return budgets_.CfnBudget(
        scope,
        id_,
        budget=budgets_.CfnBudget.BudgetDataProperty(
            budget_type="COST",
            time_unit="MONTHLY",
            budget_limit=budgets_.CfnBudget.SpendProperty(amount=limit_usd, unit="USD"),
            # Named: the alert e-mail quotes the name, and the team must recognise it.
            budget_name=f"bft-{environment}-{team}",
            # The `team` tag must be activated as a cost-allocation tag in Billing (no CloudFormation resource).
            cost_filters={"TagKeyValue": [f"user:team${team}"]},
        ),
        notifications_with_subscribers=[
            budgets_.CfnBudget.NotificationWithSubscribersProperty(
                notification=budgets_.CfnBudget.NotificationProperty(
                    notification_type=kind,
                    comparison_operator="GREATER_THAN",
                    threshold=percent,
                    threshold_type="PERCENTAGE",
                ),
                subscribers=subscribers,
            )
            for kind, percent in alerts
        ]
        if subscribers
        else None,
    )


def cap_budget_name(environment: str, team: str) -> str:
    return f"bft-{environment}-{team}-cap"


class TeamCap(Construct):
    """The backstop of a team's ``monthly_cap_usd`` for what the workflow's own check cannot see (costs outside
    the pipeline, serving hours past the estimates): an AWS Budgets cost budget on the ``team`` cost-allocation
    tag and a budget action that, at 100 % of ACTUAL cost, attaches a deny policy to the team's submitter role
    (APPLY_IAM_POLICY, AUTOMATIC approval) and e-mails the subscribers.

    Budgets runs the action as ``execution_role``: trusted by budgets.amazonaws.com for this account only
    (aws:SourceAccount), allowed to attach and detach that one policy on that one role (AWS Cost Management
    User Guide, "Setting up a role for AWS Budgets to run budget actions"; the example policy "Allow AWS
    Budgets to apply IAM policies and SCPs" grants iam:Attach*/Detach*Policy, narrowed here by resource and
    iam:PolicyARN).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        team: str,
        environment: str,
        cap_usd: float,
        submitter_role: iam.IRole,
        state_machine_arn: str,
        emails: list[str],
    ) -> None:
        super().__init__(scope, id_)
        if not 1 <= len(emails) <= MAX_BUDGET_EMAILS:
            raise ValueError(
                f"team {team}: a budget action notifies 1 to {MAX_BUDGET_EMAILS} e-mail addresses, got {len(emails)}"
            )
        self.deny_policy = iam.ManagedPolicy(
            self,
            "DenyPolicy",
            description=f"Team {team}: attached by AWS Budgets once the team's monthly cap is reached",
            statements=[
                iam.PolicyStatement(
                    sid="NoNewRuns",
                    effect=iam.Effect.DENY,
                    actions=list(CAP_DENIED_STATES),
                    resources=[state_machine_arn],
                ),
                iam.PolicyStatement(
                    sid="NoNewBedrockSpending",
                    effect=iam.Effect.DENY,
                    actions=list(CAP_DENIED_BEDROCK),
                    resources=["*"],
                ),
            ],
        )
        account = Stack.of(self).account
        self.execution_role = iam.Role(
            self,
            "ActionRole",
            assumed_by=iam.ServicePrincipal("budgets.amazonaws.com").with_conditions(
                {"StringEquals": {"aws:SourceAccount": account}}
            ),
            description=f"Team {team}: AWS Budgets attaches the cap's deny policy to the team's submitter role",
        )
        self.execution_role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                resources=[submitter_role.role_arn],
                conditions={"ArnEquals": {"iam:PolicyARN": self.deny_policy.managed_policy_arn}},
            )
        )
        self.budget = budgets_.CfnBudget(
            self,
            "Budget",
            budget=budgets_.CfnBudget.BudgetDataProperty(
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets_.CfnBudget.SpendProperty(amount=cap_usd, unit="USD"),
                budget_name=cap_budget_name(environment, team),
                # The `team` tag must be activated as a cost-allocation tag (docs/set-up.md), or this reads zero.
                cost_filters={"TagKeyValue": [f"user:team${team}"]},
            ),
        )
        self.action = budgets_.CfnBudgetsAction(
            self,
            "Action",
            budget_name=self.budget.ref,
            action_type="APPLY_IAM_POLICY",
            action_threshold=budgets_.CfnBudgetsAction.ActionThresholdProperty(type="PERCENTAGE", value=100),
            notification_type="ACTUAL",
            approval_model="AUTOMATIC",
            definition=budgets_.CfnBudgetsAction.DefinitionProperty(
                iam_action_definition=budgets_.CfnBudgetsAction.IamActionDefinitionProperty(
                    policy_arn=self.deny_policy.managed_policy_arn, roles=[submitter_role.role_name]
                )
            ),
            execution_role_arn=self.execution_role.role_arn,
            subscribers=[budgets_.CfnBudgetsAction.SubscriberProperty(address=e, type="EMAIL") for e in emails],
        )
        # The policy must exist before the action names it; the role's permissions before Budgets may use them.
        self.action.node.add_dependency(self.execution_role)


def _flag(value: bool) -> str:
    return "true" if value else "false"
