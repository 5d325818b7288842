"""Deployment units and the function that assembles them for one environment."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, Environment, Tags, Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks

from bft import package_version
from bft.config import EnvironmentConfig, resource_prefix
from bft.registry import team_stack_name
from stacks.data_stack import DataStack
from stacks.pipeline_stack import PipelineStack
from stacks.team_stack import TeamStack

PROJECT_TAG = "bedrock-fine-tuning"


@dataclass(frozen=True)
class Deployment:
    data: DataStack
    pipeline: PipelineStack
    teams: dict[str, TeamStack]


def build(app: App, config: EnvironmentConfig) -> Deployment:
    """Add one environment's stacks to ``app``, tagged, bounded and checked by cdk-nag."""
    prefix = resource_prefix(config)
    # The region is always pinned: the guardrails (policy document, ARNs, kms:ViaService) assume the config's
    # region, and `cdk deploy` then targets it whatever the CLI's default region is. The account stays
    # env-agnostic (a pseudo parameter) when none is configured.
    env = Environment(account=config.account or None, region=config.region)
    data = DataStack(
        app,
        f"{prefix}Data",
        export_prefix=prefix,
        production=config.production,
        auto_delete_objects=config.data_retention.auto_delete_objects,
        noncurrent_version_days=config.data_retention.noncurrent_version_days,
        access_log_days=config.data_retention.access_log_days,
        report_expiration_days=config.data_retention.report_expiration_days,
        env=env,
        description=f"Bedrock fine-tuning pipeline ({config.name}): keys and buckets",
        termination_protection=config.production,
    )
    pipeline = PipelineStack(
        app,
        f"{prefix}Pipeline",
        config=config,
        data_export_prefix=prefix,
        version=package_version(),
        env=env,
        description=f"Bedrock fine-tuning pipeline ({config.name}): roles, workflow, alarms",
    )
    pipeline.add_stack_dependency(data)
    # One stack per team (`cdk deploy Bft<Env>Team<Name>` onboards it): the pipeline stack knows no team, so
    # adding one changes no other template. Dependencies only order `cdk deploy --all`; nothing is exported.
    teams: dict[str, TeamStack] = {}
    for team in config.teams:
        team_stack = TeamStack(
            app,
            team_stack_name(prefix, team.name),
            config=config,
            team=team,
            data_export_prefix=prefix,
            pipeline_stack_name=pipeline.stack_name,
            env=env,
            description=f"Bedrock fine-tuning pipeline ({config.name}): team {team.name}",
            termination_protection=config.production,
        )
        team_stack.add_stack_dependency(pipeline)
        teams[team.name] = team_stack

    for stack in (data, pipeline, *teams.values()):
        tags = Tags.of(stack)
        tags.add("project", PROJECT_TAG)
        tags.add("environment", config.name)
        for key, value in config.tags.items():
            tags.add(key, value)
        if config.permissions_boundary_arn:
            iam.PermissionsBoundary.of(stack).apply(
                iam.ManagedPolicy.from_managed_policy_arn(stack, "PermissionsBoundary", config.permissions_boundary_arn)
            )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return Deployment(data=data, pipeline=pipeline, teams=teams)
