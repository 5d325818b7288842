#!/usr/bin/env python3
"""CDK entry point: `cdk synth|deploy -c env=<name>` (default dev; `-c config_dir=...` to test a copy)."""

from __future__ import annotations

import sys
from pathlib import Path

from aws_cdk import App

from bft.config import DEFAULT_CONFIG_DIR, ConfigError, load_config
from stacks import build


def main() -> None:
    app = App()
    env_name = app.node.try_get_context("env") or "dev"
    try:
        config = load_config(str(env_name), Path(app.node.try_get_context("config_dir") or DEFAULT_CONFIG_DIR))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    build(app, config)
    app.synth()


if __name__ == "__main__":
    main()
