"""Where the deployed-environment commands find their configuration, and how they say which one they read.

The directory follows :func:`bft.config.resolve_config_dir` (``--config-dir``, else ``BFT_CONFIG_DIR``, else this
checkout's ``config/``), the rule app.py follows too. Each command prints the file it read on stderr, so a team
member who is handed the platform's directory (or forgets it) sees at once which environment definition answered.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bft.cli import UsageError

if TYPE_CHECKING:
    from bft.config import EnvironmentConfig


def add_config_dir(parser: argparse.ArgumentParser) -> None:
    from bft.config import CONFIG_DIR_VARIABLE

    parser.add_argument(
        "--config-dir",
        metavar="DIR",
        default=None,
        help=f"directory holding <env>.yaml (default: ${CONFIG_DIR_VARIABLE}, else this checkout's config/)",
    )


def config_dir(args: argparse.Namespace) -> Path:
    from bft.config import resolve_config_dir

    return resolve_config_dir(getattr(args, "config_dir", None))


def load_environment(args: argparse.Namespace, *, announce: bool = True) -> EnvironmentConfig:
    """Load ``<config dir>/<env>.yaml``; a missing or invalid file is a usage error naming the file."""
    from bft.config import ConfigError, describe_source, load_config

    directory = config_dir(args)
    try:
        config = load_config(args.env, directory)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    if announce:
        print(describe_source(directory / f"{args.env}.yaml", config), file=sys.stderr)
    return config


def team_config(args: argparse.Namespace) -> EnvironmentConfig:
    """The environment's config, checked to onboard ``args.team``."""
    from bft.config import ConfigError

    config = load_environment(args)
    try:
        config.team(args.team)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    return config


def team_models(config: EnvironmentConfig, team: str) -> list[str]:
    """The base models a team may use: its own list, else the environment's."""
    return list(config.team(team).allowed_base_models or config.allowed_base_models)


def default_base_model(config: EnvironmentConfig, team: str | None) -> str:
    """The model commands use when no --base-model is given: the team's first allowed model."""
    return team_models(config, team)[0] if team else config.allowed_base_models[0]


def describe_aws_setup_error(exc: BaseException) -> str | None:
    """One line for a missing or refused AWS setup (credentials, region), or None for any other error."""
    if not type(exc).__module__.startswith("botocore"):
        return None
    from botocore.exceptions import (
        ClientError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
        TokenRetrievalError,
    )

    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return (
            "no AWS credentials found: set AWS_PROFILE (or run `aws configure` / `aws sso login`), "
            "or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, ProfileNotFound):
        return f"{exc}: check AWS_PROFILE against ~/.aws/config"
    if isinstance(exc, TokenRetrievalError):
        return f"the AWS SSO session has expired: run `aws sso login` ({exc})"
    if isinstance(exc, NoRegionError):
        return "no AWS region: set `region:` in the environment's config (the commands use it)"
    if isinstance(exc, ClientError):
        error: Any = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"):
            return f"AWS refused the credentials ({code}): refresh them (`aws sso login`, or new keys)"
        if code in ("AccessDenied", "AccessDeniedException"):
            return f"AWS denied {exc.operation_name} ({code}): {error.get('Message', '')}; use the team's role"
    return None
