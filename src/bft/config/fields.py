"""The configuration's vocabulary: its error, the value types and their rules in words, the defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from bft.names import ENDPOINT_NAME, ENDPOINT_NAME_LIMIT, TEAM_NAME

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"
# The variable every entry point reads when no directory is named (see resolve_config_dir).
CONFIG_DIR_VARIABLE = "BFT_CONFIG_DIR"
DEFAULT_REGION = "us-west-2"  # where Meta Llama fine-tuning runs (Amazon Nova: us-east-1)

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
SubnetId = Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8,17}$")]
SecurityGroupId = Annotated[str, StringConstraints(pattern=r"^sg-[0-9a-f]{8,17}$")]
PrincipalArn = Annotated[
    str,
    StringConstraints(pattern=r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(root|role/.+|user/.+|assumed-role/.+)$"),
]
# Reviewers are named in a Lambda resource policy: IAM users, roles or an account root (not STS sessions).
ReviewerArn = Annotated[
    str,
    StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:(root|role/.+|user/.+)$"),
]
TeamName = Annotated[str, StringConstraints(pattern=TEAM_NAME.pattern)]
EndpointName = Annotated[str, StringConstraints(pattern=ENDPOINT_NAME.pattern, max_length=ENDPOINT_NAME_LIMIT)]
ModelId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+\.[a-zA-Z0-9.:_-]+$")]


# What each pattern allows, in words: a raw regular expression is no help to the person editing the file.
PATTERN_WORDS: dict[str, str] = {
    TEAM_NAME.pattern: (
        "a team name is lowercase letters, digits and hyphens, 3-32 characters, starting with a letter and "
        "not ending with a hyphen (it becomes an S3 prefix and part of IAM names)"
    ),
    r"^[a-z][a-z0-9-]{0,15}$": "lowercase letters, digits and hyphens, 1-16 characters, starting with a letter",
    r"^\d{12}$": "an AWS account id is exactly 12 digits, quoted",
    r"^[a-z]{2}(-gov)?-[a-z]+-\d$": "an AWS region such as us-east-1 or us-west-2",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": "an e-mail address such as team@example.com",
    r"^[a-z0-9-]+\.[a-zA-Z0-9.:_-]+$": "a Bedrock model id such as anthropic.claude-3-haiku-20240307-v1:0:200k",
    ENDPOINT_NAME.pattern: (
        "an endpoint name is lowercase letters and digits, words joined by single hyphens (e.g. moderation-live), "
        f"at most {ENDPOINT_NAME_LIMIT} characters"
    ),
}


class ConfigError(Exception):
    """The configuration is missing or invalid; the message says where and why."""


class _Invalid(ValueError):
    """A cross-field rule broken at ``loc`` (a key path such as ``("teams", 0, "reviewers")``).

    Model validators have no location of their own; this one carries it so the error names the line.
    ``anchor`` is where to point when ``loc`` is absent from the file (a missing key).
    """

    def __init__(self, loc: tuple[Any, ...], message: str, *, anchor: tuple[Any, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc
        self.anchor = anchor


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
