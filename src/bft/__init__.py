"""Self-service customization of Amazon Bedrock models: the CDK app's domain code and the ``bft`` CLI."""

from __future__ import annotations

DISTRIBUTION = "bedrock-fine-tuning"


def package_version() -> str:
    """The installed version of this package (pyproject.toml's): what the stacks report as PipelineVersion and
    what a team installs the CLI at. "unknown" when run from sources that were never installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"
