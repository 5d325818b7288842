"""One rule for where the config lives (bft.config.resolve_config_dir), followed by app.py as by the CLI:
--config-dir / -c config_dir=, else BFT_CONFIG_DIR, else the checkout's config/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bft.config import CONFIG_DIR_VARIABLE, config_path, resolve_config_dir
from bft.synth import ROOT
from tests.conftest import FIXTURES

OTHER_ORG = FIXTURES / "other-org"


def test_the_named_directory_wins_then_the_variable_then_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_DIR_VARIABLE, str(tmp_path / "from-variable"))
    assert resolve_config_dir(tmp_path / "named") == tmp_path / "named"
    assert resolve_config_dir() == tmp_path / "from-variable"
    monkeypatch.delenv(CONFIG_DIR_VARIABLE)
    assert resolve_config_dir() == ROOT / "config"


def test_a_relative_directory_is_made_absolute_for_the_processes_started_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(CONFIG_DIR_VARIABLE, "platform/config")
    assert resolve_config_dir() == tmp_path / "platform" / "config"
    assert config_path("dev") == resolve_config_dir() / "dev.yaml"


def _app(tmp_path: Path, *, variable: Path, context: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """app.py as the CDK CLI runs it (`cdk synth -c env=... [-c config_dir=...]`), BFT_CONFIG_DIR=``variable``."""
    environ = dict(os.environ)
    environ[CONFIG_DIR_VARIABLE] = str(variable)
    environ["CDK_OUTDIR"] = str(tmp_path / "out")
    # The CDK CLI passes cdk.json's context (feature flags) with the command line's.
    environ["CDK_CONTEXT_JSON"] = json.dumps(json.loads((ROOT / "cdk.json").read_text())["context"] | context)
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=environ, capture_output=True, text=True, check=False
    )


def test_app_reads_bft_config_dir(tmp_path: Path) -> None:
    empty = tmp_path / "platform"
    empty.mkdir()
    result = _app(tmp_path, variable=empty, context={"env": "dev"})
    assert result.returncode == 2
    assert f"unknown environment 'dev': no {empty / 'dev.yaml'}" in result.stderr


def test_app_context_config_dir_wins_over_the_variable(tmp_path: Path) -> None:
    empty = tmp_path / "named"
    empty.mkdir()
    result = _app(tmp_path, variable=OTHER_ORG, context={"env": "dev", "config_dir": str(empty)})
    assert result.returncode == 2
    assert f"no {empty / 'dev.yaml'}" in result.stderr


@pytest.mark.slow
def test_app_synthesizes_the_variables_organisation_and_says_which_file_it_read(tmp_path: Path) -> None:
    result = _app(tmp_path, variable=OTHER_ORG, context={"env": "dev"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"config: {OTHER_ORG / 'dev.yaml'} (environment dev, region us-east-1)" in result.stderr
    stacks = json.loads((tmp_path / "out" / "manifest.json").read_text())["artifacts"]
    assert {"BftDevTeamSupport", "BftDevTeamFraud", "BftDevTeamCatalog"} <= set(stacks)
