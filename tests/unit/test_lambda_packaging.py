"""Every handler imports from the layer as deployed: the shared package minus what the layer excludes,
and nothing the Lambda Python runtime lacks (pydantic, PyYAML, orjson, moto, CDK)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bft.synth import ROOT

HANDLERS = sorted(p.parent.name for p in (ROOT / "lambda").glob("*/handler.py"))
NOT_IN_LAMBDA = ("pydantic", "yaml", "orjson", "moto", "aws_cdk", "jsii", "cdk_nag")

PROBE = """
import importlib.abc, importlib.util, sys
blocked = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{{name}} is not available in the Lambda runtime")
        return None
sys.meta_path.insert(0, Block())
sys.path.insert(0, {layer!r})
sys.path.insert(0, {function!r})
spec = importlib.util.spec_from_file_location("handler", {function!r} + "/handler.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import bft
assert bft.__file__.startswith({layer!r}), bft.__file__
assert callable(module.handler)
"""


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stacks.constructs.functions import LAYER_EXCLUDES, PACKAGE_DIR

    root = tmp_path_factory.mktemp("layer") / "python"
    shutil.copytree(PACKAGE_DIR, root / "bft", ignore=shutil.ignore_patterns(*LAYER_EXCLUDES))
    return root


@pytest.mark.parametrize("name", HANDLERS)
def test_handler_imports_from_the_layer_alone(name: str, layer: Path) -> None:
    code = PROBE.format(blocked=NOT_IN_LAMBDA, layer=str(layer), function=str(ROOT / "lambda" / name))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def test_every_handler_is_deployed() -> None:
    source = (ROOT / "stacks" / "constructs" / "workflow.py").read_text() + (
        ROOT / "stacks" / "constructs" / "guardrails.py"
    ).read_text()
    assert HANDLERS
    for name in HANDLERS:
        assert f'"{name}"' in source, f"lambda/{name} is not built by any construct"
