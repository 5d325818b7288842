"""A product install (`pip install bedrock-fine-tuning`) works without the offline twin's packages."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter where the twin cannot be imported (its own package and its third-party ones, as
# named by the first argument), as after a product install: a finder refuses them before the installed ones are found.
_WITHOUT_TWIN = """
import importlib, importlib.abc, pkgutil, sys
TWIN = set(sys.argv.pop(1).split(","))
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in TWIN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Refuse())
import bft
if sys.argv[1] == "import-product":
    for module in pkgutil.walk_packages(bft.__path__, "bft."):
        importlib.import_module(module.name)
    print("imported")
else:
    from bft.cli import main
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
    sys.exit(code)
"""


TWIN_PACKAGES = "bft_twin,moto"


def _without_twin(*argv: str, absent: str = TWIN_PACKAGES) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_TWIN, absent, *argv], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_product_module_imports_the_twin() -> None:
    product = [
        *(ROOT / "src" / "bft").rglob("*.py"),
        *(ROOT / "stacks").rglob("*.py"),
        *(ROOT / "lambda").rglob("*.py"),
    ]
    importers = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imported_modules(path) if name.split(".")[0] == "bft_twin"
        )
        for path in [*product, ROOT / "app.py"]
    }
    assert len(product) > 50
    assert {path: names for path, names in importers.items() if names} == {}


def test_the_twin_is_an_extra_not_a_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [dep for dep in project["dependencies"] if dep.startswith("moto")]
    assert [dep for dep in project["optional-dependencies"]["local"] if dep.startswith("moto")]


def test_product_modules_and_commands_run_without_the_twin() -> None:
    imported = _without_twin("import-product")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "imported"
    validated = _without_twin("validate", "data/sample/train.jsonl")
    assert validated.returncode == 0, validated.stderr
    assert "VALID" in validated.stdout
    # The smoke test writes its data with the sample generator (standard library only), not with the twin.
    smoke = _without_twin("smoke", "--env", "local-us-east-1", "--dry-run")
    assert smoke.returncode == 0, smoke.stderr
    assert "dry run: nothing was deployed or started" in smoke.stdout


@pytest.mark.parametrize("absent", [TWIN_PACKAGES, "moto"], ids=["twin-absent", "moto-absent"])
def test_local_run_without_the_twin_says_which_extra_to_install(absent: str) -> None:
    result = _without_twin("local-run", "--scenario", "success", absent=absent)
    assert result.returncode == 2
    assert "pip install 'bedrock-fine-tuning[local]'" in result.stderr
    assert "Traceback" not in result.stderr
