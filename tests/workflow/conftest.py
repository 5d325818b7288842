from __future__ import annotations

from pathlib import Path

import pytest

from bft.synth import cached_synth
from tests.conftest import SYNTH_CACHE


@pytest.fixture(scope="session")
def local_assembly() -> Path:
    """The synthesized `local` environment: the workflow tests run exactly this template."""
    return cached_synth("local", SYNTH_CACHE)


@pytest.fixture(scope="session")
def east_assembly() -> Path:
    """The us-east-1 offline world (the local-us-east-1 fixture config), where Amazon Nova is customizable."""
    return cached_synth("local-us-east-1", SYNTH_CACHE)
