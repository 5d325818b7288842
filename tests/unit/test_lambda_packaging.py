"""Every handler imports, as Lambda imports it, from the synthesized assets alone: its own folder, the package
layer (the shared package and the pinned SDK) and the Powertools layer -- nothing else from this virtualenv."""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

from bft.synth import ROOT, cached_synth
from stacks.constructs.functions import LAYER_SDK, POWERTOOLS_LAYER, locked_layer_wheels
from tests.conftest import SYNTH_CACHE

HANDLERS = sorted(p.parent.name for p in (ROOT / "lambda").glob("*/handler.py"))
# The public Powertools layer (by ARN, not in the assembly): the package and the dependencies it requires.
POWERTOOLS_LAYER_PACKAGES = ("aws_lambda_powertools", "typing_extensions")

PROBE = """
import importlib.util, json, sys
sys.path[:0] = [{function!r}, {layer!r}, {powertools!r}]
spec = importlib.util.spec_from_file_location("handler", {function!r} + "/handler.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
assert callable(module.handler)
files = {{name: getattr(m, "__file__", None) for name, m in list(sys.modules.items())}}
print(json.dumps({{name: file for name, file in files.items() if file}}))
"""


@pytest.fixture(scope="module")
def assembly() -> Path:
    return cached_synth("local", SYNTH_CACHE)


@pytest.fixture(scope="module")
def east_assembly() -> Path:
    """The us-east-1 offline world: it allows reinforcement fine-tuning, so it deploys the grader function."""
    return cached_synth("local-us-east-1", SYNTH_CACHE)


# Functions deployed only where the environment opts in (the grader: customization_types reinforcement).
OPT_IN = ("grader",)


@pytest.fixture(scope="module")
def layer(assembly: Path) -> Path:
    """The package layer's ``python/`` folder as synthesized (what `cdk deploy` zips)."""
    found = [path.parent for path in assembly.glob("asset.*/python/bft")]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def powertools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("powertools") / "python"
    folder.mkdir()
    for name in POWERTOOLS_LAYER_PACKAGES:
        spec_origin = Path(__import__(name).__file__)
        source = spec_origin.parent if spec_origin.name == "__init__.py" else spec_origin
        (folder / source.name).symlink_to(source)
    return folder


def test_the_layer_pins_the_locked_sdk(layer: Path) -> None:
    """The layer's SDK is the version this virtualenv runs (the offline run's) and requirements.lock pins."""
    locked = dict(re.findall(r"^([a-z0-9-]+)==(\S+)", (ROOT / "requirements.lock").read_text(), re.MULTILINE))
    for name in LAYER_SDK:
        infos = list(layer.glob(f"{name.replace('-', '_')}-*.dist-info"))
        assert len(infos) == 1, f"the layer has no single {name} distribution: {infos}"
        shipped = metadata.PathDistribution(infos[0]).metadata["Version"]
        assert shipped == metadata.version(name) == locked[name], name
    # The files, not only the metadata: botocore's own idea of its version.
    source = (layer / "botocore" / "__init__.py").read_text()
    assert f"__version__ = '{locked['botocore']}'" in source
    assert not list(layer.rglob("*.pyc")), "bytecode of the synthesizing interpreter is not shipped"


def _locked(lock: str) -> dict[str, tuple[str, set[str]]]:
    """A pip lock file as {name: (version, sha256 hashes)}."""
    text = (ROOT / lock).read_text().replace("\\\n", " ")
    return {
        match[1]: (match[2], set(re.findall(r"sha256:([0-9a-f]{64})", match[3])))
        for match in re.finditer(r"^([a-z0-9-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)", text, re.MULTILINE)
    }


def test_the_layers_orjson_is_the_clis() -> None:
    """requirements-layer.lock pins the orjson requirements.lock pins (the CLI's, installed here), and its one
    hash, the ARM_64 wheel's, is among requirements.lock's hashes of that release."""
    version, hashes = _locked("requirements-layer.lock")["orjson"]
    cli_version, cli_hashes = _locked("requirements.lock")["orjson"]
    assert version == cli_version == metadata.version("orjson")
    assert len(hashes) == 1
    assert hashes <= cli_hashes
    assert locked_layer_wheels() == {"orjson": (version, frozenset(hashes))}


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    assert (header[4], header[5]) == (2, 1), "a 64-bit little-endian ELF"
    return int.from_bytes(header[18:20], "little")


def test_the_layer_ships_orjson_built_for_the_functions(layer: Path) -> None:
    """The functions run python3.13 on ARM_64: the layer's orjson is the cp313 aarch64 build, at the pinned
    version, with its dist-info (which the offline run checks against the installed version)."""
    version = _locked("requirements.lock")["orjson"][0]
    extensions = sorted(path.name for path in (layer / "orjson").glob("*.so"))
    assert extensions == ["orjson.cpython-313-aarch64-linux-gnu.so"], extensions
    assert _elf_machine(layer / "orjson" / extensions[0]) == 183  # EM_AARCH64
    (info,) = layer.glob("orjson-*.dist-info")
    assert info.name == f"orjson-{version}.dist-info"
    assert metadata.PathDistribution(info).metadata["Version"] == version == metadata.version("orjson")
    tags = metadata.PathDistribution(info).read_text("WHEEL") or ""
    assert "Tag: cp313-cp313-manylinux_2_17_aarch64" in tags, tags
    assert (layer / "orjson" / "__init__.py").is_file()


def test_the_layer_alone_parses_with_orjson_where_it_loads_else_the_stdlib(layer: Path) -> None:
    """The layer's packages in an interpreter that has nothing else (-I -S): on ARM_64 and Python 3.13 (Lambda)
    its orjson loads; on another machine (x86_64 here) the aarch64 extension cannot load, the import raises
    ImportError, and the dataset parser falls back to the standard library -- without crashing."""
    code = (
        f"import sys; sys.path.insert(0, {str(layer)!r})\n"
        "from bft.dataset import validate_lines\n"
        "from bft.dataset import parsing\n"
        "line = parsing.dumps({'schemaVersion': 'bedrock-conversation-2024', 'messages': ["
        "{'role': 'user', 'content': [{'text': 'q'}]}, {'role': 'assistant', 'content': [{'text': 'a'}]}]})\n"
        "report = validate_lines('amazon.nova-micro-v1:0:128k', [line.replace(b'q', b'q%d' % i) for i in range(8)])\n"
        "print(report.parser, parsing.dumps is parsing.stdlib_dumps, report.valid, 'orjson' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    native = platform.machine() in ("aarch64", "arm64") and sys.version_info[:2] == (3, 13)
    expected = "orjson False True True" if native else "json True True False"
    assert result.stdout.split("\n")[0] == expected, (platform.machine(), result.stdout)


def test_the_powertools_layer_is_the_installed_major() -> None:
    """Powertools comes from its public layer (by ARN); offline it is the installed package, same major."""
    major = re.search(r"PythonV(\d+)", POWERTOOLS_LAYER)
    assert major is not None
    assert metadata.version("aws-lambda-powertools").split(".")[0] == major[1]


@pytest.mark.parametrize("name", HANDLERS)
def test_handler_imports_from_its_assets_alone(
    name: str, assembly: Path, layer: Path, powertools: Path, request: pytest.FixtureRequest
) -> None:
    # The function's folder in the assembly: the asset whose handler.py is lambda/<name>'s.
    source = (ROOT / "lambda" / name / "handler.py").read_bytes()
    if name in OPT_IN:
        assembly = request.getfixturevalue("east_assembly")
    functions = [p.parent for p in assembly.glob("asset.*/handler.py") if p.read_bytes() == source]
    assert functions, f"lambda/{name} is not in the assembly"
    function = functions[0]
    code = PROBE.format(function=str(function), layer=str(layer), powertools=str(powertools))
    # -I -S: no site-packages, no PYTHONPATH: the standard library and the three folders only.
    # -B: the probe must not write bytecode into the synthesized layer, which another test checks has none.
    result = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
    allowed = (str(function), str(layer), str(powertools), *stdlib)
    files = json.loads(result.stdout)
    strays = {module: file for module, file in files.items() if not file.startswith(allowed)}
    assert not strays, f"imported from outside Lambda's path: {strays}"
    assert files["bft"].startswith(str(layer))
    assert files["botocore"].startswith(str(layer))


def test_every_handler_is_deployed() -> None:
    source = (ROOT / "stacks" / "constructs" / "workflow.py").read_text() + (
        ROOT / "stacks" / "constructs" / "guardrails.py"
    ).read_text()
    assert HANDLERS
    for name in HANDLERS:
        assert f'"{name}"' in source, f"lambda/{name} is not built by any construct"
