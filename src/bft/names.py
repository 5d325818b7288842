"""Identifiers shared by the CLI, the config and the workflow, in a module that imports nothing heavy."""

from __future__ import annotations

import re

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"  # the fine-tunable Claude 3 Haiku (200K context)
REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")  # also the execution name: keep it short
TEAM_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")  # used in S3 prefixes, IAM conditions and ids
