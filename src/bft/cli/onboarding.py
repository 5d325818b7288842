"""``bft onboarding --env E --team T``: the instruction sheet a platform engineer hands to a team.

Everything on it comes from the environment's config and, when AWS is reachable, from the deployed stack's
outputs (the team's auto-named submitter role, the datasets and reports buckets). Without AWS access the
sheet is still printed, with the stack outputs named where they would go.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bft.cli import EXIT_OK
from bft.cli.settings import add_config_dir, config_dir, default_base_model, team_config, team_models

if TYPE_CHECKING:
    from bft.config import EnvironmentConfig
    from bft.deployment import Deployment


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "onboarding",
        help="print a team's instruction sheet: role, data prefix, models, formats, limits, commands",
        description="Print the instruction sheet for one team of a deployed environment (hand it to the team).",
    )
    parser.add_argument("--env", required=True, help="environment (config/<env>.yaml)")
    parser.add_argument("--team", required=True, help="the team, as onboarded in the environment's config")
    add_config_dir(parser)
    parser.add_argument(
        "--offline", action="store_true", help="do not read the stack outputs (no AWS call); placeholders instead"
    )
    parser.set_defaults(func=run)


def _deployment(config: EnvironmentConfig, team: str) -> tuple[Deployment | None, str | None]:
    """The deployed stack's outputs and the team's registry entry, or why they could not be read (the sheet
    is printed either way)."""
    from bft import aws
    from bft.cli.settings import describe_aws_setup_error
    from bft.deployment import DeploymentError, discover

    try:
        deployment = discover(
            config,
            cloudformation=aws.client("cloudformation", region=config.region),
            ssm=aws.client("ssm", region=config.region),
        )
        deployment.team(team)
        return deployment, None
    except DeploymentError as exc:
        return None, str(exc)
    except Exception as exc:
        reason = describe_aws_setup_error(exc)
        if reason is None:
            raise
        return None, reason


def run(args: argparse.Namespace) -> int:
    config = team_config(args)
    deployment, why = (None, "--offline") if args.offline else _deployment(config, args.team)
    print(sheet(config, args.team, deployment, config_path=str(config_dir(args) / f"{args.env}.yaml"), why=why))
    if why and not args.offline:
        print(f"bft onboarding: stack outputs not read ({why}); placeholders are marked <...>", file=sys.stderr)
    return EXIT_OK


def sheet(
    config: EnvironmentConfig,
    team_name: str,
    deployment: Deployment | None,
    *,
    config_path: str,
    why: str | None = None,
) -> str:
    from bft.config import resource_prefix
    from bft.dataset.formats import CONVERSION, example_line, limits_text
    from bft.families import family_for
    from bft.registry import SUBMITTER_ROLE_ARN, team_parameter, team_stack_name

    team = config.team(team_name)
    env, region = config.name, config.region
    pt = config.provisioned_throughput
    refs = deployment.teams.get(team_name) if deployment else None
    role = (refs.submitter_role_arn if refs else None) or (
        f"<the SSM parameter {team_parameter(env, team_name, SUBMITTER_ROLE_ARN)}, written by stack "
        f"{team_stack_name(resource_prefix(config), team_name)}>"
    )
    datasets = deployment.datasets_bucket if deployment else "<DatasetsBucketName output>"
    reports = deployment.reports_bucket if deployment else "<ReportsBucketName output>"
    models = team_models(config, team_name)
    default = default_base_model(config, team_name)
    profile = f"bft-{env}-{team_name}"
    approval = (
        "always (production)"
        if config.approval_mandatory
        else ("by default" if config.approval_required else "only when the request asks (--approval)")
    )
    reviewers = config.team_reviewers(team)
    ttl = team.throughput_ttl_hours or pt.default_ttl_hours
    out = [
        f"# Fine-tuning on Bedrock: team {team_name}, environment {env} ({region})",
        "",
        f"Configuration: {config_path}" + (f"  (stack outputs not read: {why})" if why else ""),
        "Point the CLI at it once per shell (or pass --config-dir to every command):",
        f"  export BFT_CONFIG_DIR={Path(config_path).parent}",
        "",
        "## Your role",
        f"  {role}",
        "Assume it with an AWS CLI profile (~/.aws/config), then `export AWS_PROFILE=" + profile + "`:",
        f"  [profile {profile}]",
        f"  role_arn = {role}",
        "  source_profile = <the profile you sign in with>",
        f"  region = {region}",
        f"Allowed to assume it: {', '.join(team.submitters) or '(nobody yet: ask the platform team)'}",
        "",
        "## Your data",
        f"  upload and runs: s3://{datasets}/{team_name}/   (bft submit uploads there for you)",
        f"  reports:         s3://{reports}/reports/{team_name}/<request id>/",
        "",
        "## Models you may fine-tune",
    ]
    for model in models:
        family = family_for(model)
        mark = "  (default: commands use it when you give no --base-model)" if model == default else ""
        out += [
            f"- {model}{mark}",
            f"  family {family.name}, format {family.data_format}: one JSON object per line, e.g.",
            f"  {example_line(family.data_format)}",
            f"  limits: {limits_text(family)}",
        ]
    out += [
        f"  {CONVERSION}",
        "  The evaluation file has the training format; each record's last assistant turn is the expected answer; "
        "at least 10 records.",
        "",
        "## Your limits",
        f"  model units per run: default {pt.default_model_units}, "
        f"at most {team.max_model_units or pt.max_model_units}",
        f"  commitment terms: {'allowed' if team.allow_commitment else 'not allowed (no-commitment, hourly)'}",
        f"  a throughput lives at most {ttl:g} h"
        + (" (production: reported, not deleted)" if config.production else ", then the reaper deletes it"),
        f"  approval before serving: {approval}; reviewers: {', '.join(reviewers) or 'none configured'}",
        f"  monthly budget: {f'${team.monthly_budget_usd:,.0f}' if team.monthly_budget_usd else 'none'}",
        f"  notifications to: {', '.join(team.notification_emails) or 'none configured'}",
        "",
        "## Commands",
        "  bft validate train.jsonl --validation validation.jsonl --evaluation evaluation.jsonl "
        f"--env {env} --team {team_name}",
    ]
    run = f"--env {env} --team {team_name}"
    out += [
        f"  bft submit {run} train.jsonl --validation validation.jsonl --evaluation evaluation.jsonl "
        "--threshold 0.9 --dry-run",
        f"  bft submit {run} train.jsonl --validation validation.jsonl --evaluation evaluation.jsonl --threshold 0.9",
        f"  bft status {run} --request-id <id>      # follow it",
        f"  bft list {run}",
        f"  bft approve {run} --request-id <id>     # a reviewer; or: bft reject ... --reason '...'",
        f"  bft teardown {run} --request-id <id>    # delete the throughput: it costs money every hour",
        f"  aws s3 cp s3://{reports}/reports/{team_name}/<id>/run.json -   # the run's report",
    ]
    return "\n".join(out)
