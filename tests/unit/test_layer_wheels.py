"""The wheels the package layer unpacks (requirements-layer.lock: orjson for ARM_64): found offline, checked
against the lock, in the asset hash, and synthesis refused with the fix when one is missing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs

from bft.synth import ROOT
from stacks.constructs import functions
from stacks.constructs.functions import (
    LayerWheel,
    LayerWheelError,
    bundle_layer,
    layer_asset_hash,
    layer_wheels,
    locked_layer_wheels,
)


@pytest.fixture(scope="module")
def pinned() -> LayerWheel:
    (wheel,) = layer_wheels()  # `make setup` fetched it
    return wheel


def lock_for(tmp_path: Path, wheel: Path, version: str) -> Path:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    lock = tmp_path / "requirements-layer.lock"
    lock.write_text(f"# a comment\norjson=={version} \\\n    --hash=sha256:{digest}\n")
    return lock


def test_the_pinned_wheel_is_the_functions_build(pinned: LayerWheel) -> None:
    version, hashes = locked_layer_wheels()["orjson"]
    assert pinned.version == version
    assert pinned.sha256 in hashes
    assert pinned.path.name.startswith(f"orjson-{version}-cp313-cp313-manylinux")
    assert pinned.path.name.endswith("_aarch64.whl")


def test_without_the_wheel_synthesis_stops_and_says_to_run_make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(LayerWheelError, match=r"orjson 3\.[0-9.]+ for the functions' runtime .* run `make setup`"):
        layer_wheels(tmp_path)
    # Where synthesis meets it: the function factory, before any asset is built.
    monkeypatch.setattr(functions, "LAYER_WHEELS", tmp_path)
    stack = Stack(App(outdir=str(tmp_path / "out")), "S")
    with pytest.raises(LayerWheelError, match=r"has no such wheel: run `make setup`"):
        functions.FunctionFactory(
            stack,
            "Functions",
            log_retention=logs.RetentionDays.ONE_WEEK,
            removal=RemovalPolicy.DESTROY,
            powertools_layer_version=27,
        )


def test_app_py_says_to_run_make_setup_without_a_traceback(tmp_path: Path) -> None:
    """What `cdk synth` shows: the fix on one line, exit 2 (as for a configuration error). app.py runs as
    bft.synth runs it, in a process of its own (the CDK reads its context at start), with no wheel found."""
    code = (
        "import sys; from pathlib import Path\n"
        "from stacks.constructs import functions\n"
        f"functions.LAYER_WHEELS = Path({str(tmp_path)!r})\n"
        "import app\n"
        "app.main()\n"
    )
    context = json.loads((ROOT / "cdk.json").read_text())["context"]  # the feature flags, as bft.synth passes them
    context |= {"env": "local", "config_dir": str(ROOT / "config")}
    environ = {**os.environ, "CDK_OUTDIR": str(tmp_path / "out"), "CDK_CONTEXT_JSON": json.dumps(context)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2, done.stderr[-3000:]
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("error: the functions' layer ships orjson "), error
    assert error.endswith("(synthesis works offline and will not ship the layer without them)"), error
    assert "run `make setup`" in error
    assert "Traceback" not in done.stderr


def test_a_wheel_for_another_machine_does_not_count(tmp_path: Path, pinned: LayerWheel) -> None:
    """Only cp313 manylinux aarch64 fits the functions: this machine's own build is not taken for it."""
    other = pinned.path.name.replace("aarch64", "x86_64")
    shutil.copy(pinned.path, tmp_path / other)
    with pytest.raises(LayerWheelError, match="has no such wheel"):
        layer_wheels(tmp_path)


def test_a_wheel_that_is_not_the_pinned_file_is_refused(tmp_path: Path, pinned: LayerWheel) -> None:
    altered = tmp_path / pinned.path.name
    altered.write_bytes(pinned.path.read_bytes() + b"\0")
    with pytest.raises(LayerWheelError, match=r"is not the file requirements-layer\.lock pins .* run `make setup`"):
        layer_wheels(tmp_path)


def test_a_version_other_than_the_clis_is_refused(tmp_path: Path, pinned: LayerWheel) -> None:
    wheel = tmp_path / pinned.path.name.replace(f"-{pinned.version}-", "-0.0.1-")
    shutil.copy(pinned.path, wheel)
    with pytest.raises(LayerWheelError, match=r"pins orjson 0\.0\.1, this virtualenv runs 3\."):
        layer_wheels(tmp_path, lock_for(tmp_path, wheel, "0.0.1"))


def test_the_layer_asset_hash_changes_with_the_wheel(tmp_path: Path, pinned: LayerWheel) -> None:
    """Another wheel (same name and version, other bytes: a rebuilt release, another platform's file) is
    another layer: the asset hash, and so the deployed layer version, change."""
    rebuilt = tmp_path / pinned.path.name
    with zipfile.ZipFile(pinned.path) as source, zipfile.ZipFile(rebuilt, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        target.writestr("orjson/NOTE", "rebuilt")
    (other,) = layer_wheels(tmp_path, lock_for(tmp_path, rebuilt, pinned.version))
    assert other.sha256 != pinned.sha256
    assert layer_asset_hash([other]) != layer_asset_hash([pinned]) != layer_asset_hash([])
    assert layer_asset_hash([pinned]) == layer_asset_hash(layer_wheels())


def test_bundling_unpacks_the_wheel_into_python(tmp_path: Path, pinned: LayerWheel) -> None:
    python = tmp_path / "python"
    bundle_layer(python, [pinned])
    with zipfile.ZipFile(pinned.path) as wheel:
        for name in wheel.namelist():
            assert (python / name).read_bytes() == wheel.read(name), name
    assert (python / "bft" / "dataset" / "parsing.py").is_file()
    assert (python / "botocore" / "__init__.py").is_file()


@pytest.mark.parametrize("member", ["../evil.py", "/abs.py", "orjson-3.13.0.data/scripts/x"])
def test_bundling_refuses_what_unpacking_cannot_install(tmp_path: Path, member: str) -> None:
    wheel = tmp_path / "orjson-3.13.0-cp313-cp313-manylinux_2_17_aarch64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(member, "x")
    with pytest.raises(ValueError, match="cannot be installed by unpacking"):
        functions._unpack(wheel, tmp_path / "python")
    assert not (tmp_path / "evil.py").exists()
