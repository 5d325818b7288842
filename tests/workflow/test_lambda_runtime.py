"""Lambda as Lambda runs it: the offline run executes the layer's code (not src/bft), each function with its
own modules, the SDK the layer pins, on the functions' Python version."""

from __future__ import annotations

import json
import platform
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

import bft.aws
from bft.synth import ROOT
from bft_twin.offline import OfflineAssembly
from bft_twin.run import run_scenario

SRC = str(ROOT / "src" / "bft")


def _layer(assembly: Path) -> Path:
    found = [path.parent for path in assembly.glob("asset.*/python/bft")]
    assert len(found) == 1, found
    return found[0]


def test_the_layers_code_is_what_runs(local_assembly: Path, tmp_path: Path) -> None:
    """Alter the layer's copy of bft.aws in a copy of the assembly: the handler runs the altered copy."""
    assembly = tmp_path / "assembly"
    shutil.copytree(local_assembly, assembly, ignore=shutil.ignore_patterns("botocore", "boto3"))
    layer = _layer(assembly)
    # The SDK is the process's (see _imports.py), only its metadata is read: skip copying 2,000 files.
    for name in ("botocore", "boto3"):
        (layer / name).symlink_to(_layer(local_assembly) / name)
    altered = layer / "bft" / "aws.py"
    altered.write_text(
        altered.read_text()
        + "\n\nclass LayerCopyRan(Exception):\n    pass\n\n\n"
        + "def client(service: str) -> Any:\n    raise LayerCopyRan(__file__)\n"
    )
    event = {"run": {"requestId": "r-1"}, "serving": {"arn": "arn:aws:bedrock:us-west-2:123456789012:x/y"}}
    with OfflineAssembly(assembly, region="us-west-2", account_id="123456789012") as env:
        invocation = env.invoke("Workflow/Functions/CheckServing", event)
        assert invocation.error is not None
        assert invocation.error["errorType"] == "LayerCopyRan", invocation.error
        assert invocation.error["errorMessage"] == str(altered)
        # The installed package is untouched and still what the process (the runner, the CLI) runs.
        assert bft.aws.__file__.startswith(SRC)
        assert not hasattr(bft.aws, "LayerCopyRan")
    with OfflineAssembly(local_assembly, region="us-west-2", account_id="123456789012") as env:
        invocation = env.invoke("Workflow/Functions/CheckServing", event)
        assert invocation.error is None or invocation.error["errorType"] != "LayerCopyRan"


@pytest.fixture(scope="module")
def run(local_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A whole deployed-path scenario, and what each function's modules were at its end."""
    seen: dict[str, Any] = {}

    def inspect(env: OfflineAssembly) -> None:
        functions = env._functions.values()
        seen["modules"] = {function.friendly_name: function.modules for function in functions}
        seen["layers"] = {function.friendly_name: [str(p) for p in function.layer_dirs] for function in functions}
        seen["code"] = {function.friendly_name: str(function.code_dir) for function in functions}
        seen["parsing"] = env.function_module("Workflow/Functions/ValidateDataset", "bft.dataset.parsing")
        seen["backend"] = seen["parsing"].default_backend()[0]  # its lazy `import orjson`, while the run is open
        try:  # an import statement executed as the function's code: pydantic is in no layer
            exec("import pydantic", seen["parsing"].__dict__)  # its module globals: the import is the function's
        except ModuleNotFoundError as exc:
            seen["pydantic"] = str(exc)
        seen["process_modules"] = {
            name: getattr(module, "__file__", None) for name, module in sys.modules.items() if name.startswith("bft")
        }
        seen["sdk"] = {name: sys.modules[name].__file__ for name in ("boto3", "botocore", "s3transfer", "urllib3")}

    summary = run_scenario(
        "success", assembly=local_assembly, workdir=tmp_path_factory.mktemp("run"), on_finish=inspect
    )
    return {"summary": summary, **seen}


def test_each_function_runs_its_layers_modules_of_its_own(run: dict[str, Any]) -> None:
    assert run["summary"]["outcome"] == "deployed"
    ran = {name: modules for name, modules in run["modules"].items() if modules}
    assert len(ran) >= 8, sorted(ran)  # every function the success path invoked
    for name, modules in ran.items():
        layer = run["layers"][name]
        assert layer, f"{name} has no asset layer"
        assert "bft.aws" in modules, sorted(modules)
        for module_name, module in modules.items():
            file = getattr(module, "__file__", None) or ""
            assert file.startswith(tuple(layer)), f"{name}: {module_name} is {file}"
    # One tree per function (one process each in AWS): no module object is shared between two functions.
    owners: dict[int, str] = {}
    for name, modules in ran.items():
        for module in modules.values():
            assert owners.setdefault(id(module), name) == name, f"{name} shares a module with {owners[id(module)]}"
    # The process (runner, CLI, authorizer) kept the installed package.
    for module_name, file in run["process_modules"].items():
        assert file is None or file.startswith(SRC), f"{module_name} in the process is {file}"


def test_the_sdk_is_the_processs_one_instance(run: dict[str, Any]) -> None:
    """moto and the authorizer patch this process's botocore: the layer's copy (same version, checked at the
    cold start and by test_lambda_packaging) is never imported a second time."""
    layers = {layer for layers in run["layers"].values() for layer in layers}
    for name, file in run["sdk"].items():
        assert not file.startswith(tuple(layers)), f"{name} loaded from a layer: {file}"


def test_packages_lambda_lacks_are_not_importable_by_handlers(run: dict[str, Any]) -> None:
    """pydantic is installed here (the CLI's config) and in no layer: a function's import of it fails."""
    import pydantic  # noqa: F401  (installed: the CLI uses it)

    assert "No module named 'pydantic'" in run["pydantic"], run.get("pydantic")


def test_the_layers_orjson_is_what_the_functions_parse_with(run: dict[str, Any]) -> None:
    """The package layer ships orjson (its ARM_64 wheel, requirements-layer.lock): like the SDK, a distribution
    the layer ships resolves offline to the process's copy, whose version the cold start checks is the layer's.
    So the function's dataset parser uses orjson here as when deployed (the ARM_64 build could not load here)."""
    import orjson

    assert run["backend"] == "orjson"
    assert run["parsing"].dumps is orjson.dumps  # chosen when the function imported it


def test_the_run_reports_its_python_and_the_functions_runtime(run: dict[str, Any]) -> None:
    runtime = run["summary"]["runtime"]
    assert runtime["python"] == platform.python_version()
    assert runtime["function_runtimes"] == ["python3.13"]
    choice = Path(sys.prefix, "bft-python-choice")
    if not runtime["matches"] and choice.is_file() and choice.read_text().strip() == "fallback":
        pytest.skip(f"`make setup` found no Python 3.13 and fell back to {runtime['python']}: {json.dumps(runtime)}")
    assert runtime["matches"], runtime
