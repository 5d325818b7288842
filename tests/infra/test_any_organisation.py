"""`make check` passes on any valid organisation in config/, not only on the one the tests are written against.

The tests read tests/fixtures/config (tests/conftest.py), so config/ is the platform engineer's to edit. The proof
runs in a copy of the repository whose config/ holds a different valid organisation (tests/fixtures/other-org:
three teams, us-east-1, Amazon Nova only): there, the tests that once read config/ pass, and `make check-config`,
the shipped-config part of `make check`, passes. That no test names config/ is checked here too, by the issue's
own pattern; BFT_CONFIG_DIR, set by tests/conftest.py, covers what reads it without naming it. To stay near a
minute on CI's two cores, check-config runs in full (cfn-lint, checkov, the offline success run) on prod, the
environment with the most rules, and quick (validate, synth, cdk-nag, limits) on dev and staging.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bft.config import CONFIG_DIR_VARIABLE, known_environments, load_config
from bft.synth import ROOT
from tests.conftest import CONFIG, FIXTURES

OTHER_ORG = FIXTURES / "other-org"
# Test modules that read the shipped organisation before it moved to tests/fixtures (the 70 failures came
# from these), none of which synthesizes: they run in full in the copy.
CONFIG_DEPENDENT = [
    "tests/unit/test_config.py",
    "tests/unit/test_onboarding.py",
    "tests/unit/test_cli_region.py",
    "tests/unit/test_local_environment.py",
    "tests/unit/test_prices.py",
    "tests/unit/test_dry_run_checks.py",
    "tests/unit/test_smoke.py",
    "tests/unit/test_pipeline_cli.py",
    "tests/unit/test_offboarding.py",
    "tests/unit/test_evaluation_file.py",
]
# What no test may name (the acceptance check, kept true here), written so that it does not name it.
READS_CONFIG = re.compile(r'"config"\s*/|DEFAULT_' + r"CONFIG_DIR|config" + r"/(dev|prod|staging|local)")
# Not sources: built, installed or cached on this machine.
_NOT_SOURCES = (".git", ".venv", "node_modules", ".layer-wheels", "cdk.out", "reports", "dist", "build", "*.egg-info")
_NOT_SOURCES += ("__pycache__",)
_NOT_SOURCES += (".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", "benchmarks/.data")


def test_the_other_organisation_is_valid_and_unlike_the_tests_own() -> None:
    environments = known_environments(OTHER_ORG)
    assert environments == ["dev", "prod", "staging"]
    for env in environments:
        config, ours = load_config(env, OTHER_ORG), load_config(env, CONFIG)
        assert config.region == "us-east-1" != ours.region
        assert len(config.teams) == 3
        assert not {team.name for team in config.teams} & {team.name for team in ours.teams}
        assert all(model.startswith("amazon.nova-") for model in config.allowed_base_models)
    assert load_config("prod", OTHER_ORG).production


def test_the_tests_read_their_own_organisation() -> None:
    assert os.environ[CONFIG_DIR_VARIABLE] == str(CONFIG)
    assert known_environments() == known_environments(CONFIG)
    offending = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("*.py")
        if READS_CONFIG.search(path.read_text(encoding="utf-8"))
    ]
    assert offending == []


def _copy_with_config(target: Path, organisation: Path) -> Path:
    """The repository's sources (its tracked and new files, else everything that is not built or installed) in
    ``target``, with ``organisation`` as config/ and this checkout's node_modules, virtualenv, the layer's wheels
    (what `make setup` fetched) and the layer's SDK cache linked in."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if listed.returncode == 0 and listed.stdout:
        for name in listed.stdout.decode().split("\0"):
            if name and (ROOT / name).is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, target / name)
    else:  # not a git checkout
        shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(*_NOT_SOURCES), dirs_exist_ok=True)
    shutil.rmtree(target / "config")
    shutil.copytree(organisation, target / "config")
    for linked in ("node_modules", ".venv", ".layer-wheels"):
        (target / linked).symlink_to(ROOT / linked)
    # The layer's copy of the installed SDK (2,000 files, keyed by their versions): built once, shared.
    sdk = ROOT / "cdk.out" / ".layer-sdk"
    sdk.mkdir(parents=True, exist_ok=True)
    (target / "cdk.out").mkdir()
    (target / "cdk.out" / ".layer-sdk").symlink_to(sdk)
    return target


def _environ(copy: Path) -> dict[str, str]:
    """The copy's own packages first (the virtualenv's editable install points at this checkout); no config
    directory named, so the copy's config/ is what the rule finds; not a sub-make of a running `make check`."""
    environ = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEFILES")}
    environ.pop(CONFIG_DIR_VARIABLE)
    environ["PYTHONPATH"] = os.pathsep.join([str(copy / "src"), str(copy)])
    environ["PYTHONDONTWRITEBYTECODE"] = "1"
    return environ


@pytest.mark.slow
def test_make_check_passes_with_another_organisation_in_config(tmp_path: Path) -> None:
    copy = _copy_with_config(tmp_path / "repository", OTHER_ORG)
    environ = _environ(copy)
    which = subprocess.run(
        [sys.executable, "-c", "import bft.config as c; print(c.resolve_config_dir())"],
        cwd=copy,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    assert which.stdout.strip() == str(copy / "config"), "the copy's own package and config/ must answer"

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *CONFIG_DEPENDENT],
        cwd=copy,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout[-4000:]
    assert re.search(r"\d+ passed", tests.stdout)
    assert " failed" not in tests.stdout

    make = ["make", "--no-print-directory", "-o", "setup", "check-config"]
    runs = {"quick": [*make, "ENV=dev staging", "QUICK=1"], "full": [*make, "ENV=prod"]}
    outputs = {}
    for kind, argv in runs.items():
        checked = subprocess.run(argv, cwd=copy, env=environ, capture_output=True, text=True, check=False)
        outputs[kind] = checked.stdout + checked.stderr
        assert checked.returncode == 0, outputs[kind][-4000:]
        assert f"in {copy / 'config'}" in outputs[kind], "check-config read the copy's config/"
        assert "FAIL" not in outputs[kind]
        assert "SKIP" not in outputs[kind]
    assert outputs["quick"].count("  PASS  ") == 2 * 3, outputs["quick"]
    # The full check of prod ran every step, the offline run on the organisation's own model and account.
    assert outputs["full"].count("  PASS  ") == 6, outputs["full"]
    assert re.search(r"PASS  offline success .* deployed \(amazon\.nova-", outputs["full"]), outputs["full"]
