#!/usr/bin/env python3
"""CDK entry point: `cdk synth|deploy -c env=<name>` (default dev).

The configuration directory follows the rule of every `bft` command (bft.config.resolve_config_dir):
`-c config_dir=DIR`, else the BFT_CONFIG_DIR variable, else this checkout's config/. The file read is said on
stderr, as the CLI says it.
"""

from __future__ import annotations

import sys

from aws_cdk import App

from bft.config import ConfigError, config_path, describe_source, load_config
from stacks import build
from stacks.constructs.functions import LayerWheelError


def main() -> None:
    app = App()
    env_name = str(app.node.try_get_context("env") or "dev")
    path = config_path(env_name, app.node.try_get_context("config_dir"))
    try:
        config = load_config(env_name, path.parent)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(describe_source(path, config), file=sys.stderr)
    try:
        build(app, config)
    except LayerWheelError as exc:  # the layer's wheels are fetched by `make setup`, never at synth
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    app.synth()


if __name__ == "__main__":
    main()
