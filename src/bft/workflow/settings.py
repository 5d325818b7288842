"""Handler settings from environment variables, read when first needed, with clear errors."""

from __future__ import annotations

import json
import os
from typing import Any

from bft.errors import PipelineError


class Misconfigured(PipelineError):
    """A function's environment lacks a variable the stack should have set (a deployment bug)."""


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise Misconfigured(f"environment variable {name} is not set; redeploy the pipeline stack")
    return value


def env_json(name: str) -> Any:
    try:
        return json.loads(env(name))
    except json.JSONDecodeError as exc:
        raise Misconfigured(f"environment variable {name} is not valid JSON: {exc}") from exc


def env_optional(name: str) -> str | None:
    return os.environ.get(name) or None
