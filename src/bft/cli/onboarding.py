"""``bft onboarding --env E --team T``: the instruction sheet a platform engineer hands to a team.

Everything on it comes from the environment's config and, when AWS is reachable, from the deployed stack's
outputs (the team's auto-named submitter role, the datasets and reports buckets, the version deployed).
Without AWS access the sheet is still printed, with the stack outputs named where they would go. It names
nothing of the machine it is printed on: the team reads it on theirs (the file read is said on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bft.cli import EXIT_OK
from bft.cli.settings import add_config_dir, default_base_model, team_config, team_models

if TYPE_CHECKING:
    from bft.config import EnvironmentConfig
    from bft.deployment import Deployment

REPOSITORY_PLACEHOLDER = "<the platform repository's git URL>"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "onboarding",
        help="print a team's instruction sheet: install, role, data prefix, models, serving, limits, commands",
        description="Print the instruction sheet for one team of a deployed environment (hand it to the team).",
    )
    parser.add_argument("--env", required=True, help="environment (<config dir>/<env>.yaml)")
    parser.add_argument("--team", required=True, help="the team, as onboarded in the environment's config")
    add_config_dir(parser)
    parser.add_argument(
        "--repository",
        default=None,
        metavar="URL",
        help="the git URL teams install the CLI from (pipx install git+URL@v<version>); default: a placeholder",
    )
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
    print(sheet(config, args.team, deployment, why=why, repository=args.repository))
    if why and not args.offline:
        print(f"bft onboarding: stack outputs not read ({why}); placeholders are marked <...>", file=sys.stderr)
    return EXIT_OK


def serving_words(kind: str) -> str:
    """How a serving kind is billed, in the words a team decides by."""
    if kind == "on-demand-deployment":
        return "on demand (no hourly charge: you pay per token served)"
    return "on provisioned throughput (it costs money every hour until torn down)"


def sheet(
    config: EnvironmentConfig,
    team_name: str,
    deployment: Deployment | None,
    *,
    why: str | None = None,
    repository: str | None = None,
) -> str:
    from bft import package_version
    from bft.config import resource_prefix
    from bft.dataset.formats import CONVERSION, example_line, limits_text
    from bft.families import family_for, serving_kinds
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
    version = (deployment.version if deployment else None) or package_version()
    version_source = (
        "the version of the deployed stacks (their PipelineVersion output)"
        if deployment and deployment.version
        else "the version this sheet was printed with; the platform team deploys from it"
    )
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
    platform = ", ".join(config.notification_emails) or "the platform team that handed you this sheet"
    wheel = f"bedrock_fine_tuning-{version}-py3-none-any.whl"
    out = [
        f"# Fine-tuning on Bedrock: team {team_name}, environment {env} ({region})",
        *([f"(stack outputs not read: {why}; they are marked <...>)"] if why else []),
        "",
        "## Install the CLI",
        f"  Version {version}: {version_source}. Python 3.11-3.13; either",
        f"  pipx install 'git+{repository or REPOSITORY_PLACEHOLDER}@v{version}'",
        f"  or, with the wheel the platform team built at that version (make wheel): pipx install ./{wheel}",
        f"  The commands read this environment's definition, {env}.yaml, as the platform team keeps it (ask them",
        "  for the file, or take config/ of the repository at that version). Keep it in a directory of your own",
        "  and point the CLI at that directory once per shell (or pass --config-dir DIR to every command):",
        f"  export BFT_CONFIG_DIR=<the directory holding {env}.yaml>",
        "",
        "## Your role",
        f"  {role}",
        "Assume it with an AWS CLI profile (~/.aws/config), then `export AWS_PROFILE=" + profile + "`. The role",
        "  trusts only sessions that name their person (a source identity, recorded by CloudTrail), which a",
        "  role_arn profile cannot set: `bft credentials` assumes it for you, as the name you sign in with:",
        f"  [profile {profile}]",
        f"  credential_process = bft credentials --role-arn {role} --source-profile <the profile you sign in with>",
        f"  region = {region}",
        f"Allowed to assume it: {', '.join(team.submitters)}",
        "",
        "## Your data",
        f"  upload and runs: s3://{datasets}/{team_name}/   (bft submit uploads there for you)",
        f"  reports:         s3://{reports}/reports/{team_name}/<request id>/   (bft report downloads them)",
        "",
        "## What you may run",
        *_customizations(team.customization_types or config.customization_types),
        "",
        "## Models you may fine-tune, and how each is served",
    ]
    for model in models:
        family = family_for(model)
        kinds = serving_kinds(model)
        chosen = config.serving_kinds.get(model) or kinds[0]
        mark = "  (default: commands use it when you give no --base-model)" if model == default else ""
        others = [kind for kind in kinds if kind != chosen]
        out += [
            f"- {model}{mark}",
            f"  serving: {serving_words(chosen)}"
            + "".join(f"; or, with --serving-kind {kind}: {serving_words(kind)}" for kind in others),
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
        f"  provisioned throughput model units per run: default {pt.default_model_units}, "
        f"at most {team.max_model_units or pt.max_model_units}",
        f"  commitment terms: {'allowed' if team.allow_commitment else 'not allowed (no-commitment, hourly)'}",
        f"  a throughput lives at most {ttl:g} h"
        + (" (production: reported, not deleted)" if config.production else ", then the reaper deletes it"),
        f"  approval before serving: {approval}; reviewers: {', '.join(reviewers) or 'none configured'}",
        f"  monthly budget: {f'${team.monthly_budget_usd:,.0f}' if team.monthly_budget_usd else 'none'}",
        "  monthly cap: "
        + (
            f"${team.monthly_cap_usd:,.0f}: a run that would pass it is refused before any job, and AWS Budgets "
            "denies new runs once the month's actual cost reaches it"
            if team.monthly_cap_usd
            else "none"
        ),
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
        f"  bft report {run} --request-id <id> --open   # download the run's report and open it",
        f"  bft approve {run} --request-id <id>     # a reviewer; or: bft reject ... --reason '...'",
        f"  bft teardown {run} --request-id <id>    # stop serving (a throughput bills every hour until then)",
        "",
        "## Whom to ask",
        f"  access, quotas, another model or a larger limit: {platform}",
        f"  approving your runs: {', '.join(reviewers) or 'nobody is configured: ask the platform team'}",
    ]
    return "\n".join(out)


def _customizations(types: Sequence[str]) -> list[str]:
    """The sheet's lines on the customization types the team may use (its config, else the environment's)."""
    import json

    from bft.dataset.rft import EXAMPLE_RECORD
    from bft.workflow.customization import CUSTOMIZATIONS
    from bft.workflow.graders import BUILTINS

    if list(types) == ["fine-tuning"]:
        return [
            "  customization: fine-tuning only (FINE_TUNING: supervised, on your own records); reinforcement",
            "  fine-tuning and distillation are not allowed for your team here (customization_types).",
        ]
    lines = [f"  customization: {', '.join(f'{t} ({CUSTOMIZATIONS[t]})' for t in types)}"]
    if "reinforcement" in types:
        lines += [
            "  reinforcement: prompts with a reference answer, scored by a grader (bft submit --customization",
            f"  reinforcement --grader NAME|ARN; built-in: {', '.join(BUILTINS)}; bft grader test tries one).",
            "  A prompt:",
            f"    {json.dumps(EXAMPLE_RECORD, ensure_ascii=False)}",
        ]
    return lines
