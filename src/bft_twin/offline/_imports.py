"""What an import statement in a function's code gets: Lambda's import path, one module tree per function.

In AWS each function is its own process, whose ``sys.path`` is its code (``/var/task``), then its layers'
``python/`` (``/opt/python``), then the runtime. Here the runner, moto, the Bedrock fake and the authorizer
share one process with every function, and they run the *installed* ``bft``; the handlers must run the
*layer's*. So, while an offline environment is open, ``builtins.__import__`` is wrapped, and the module that
executes an import statement decides what it gets:

- a function's code -- its handler module, or a module loaded from its asset folder or its layers -- importing
  a package its code or an asset layer provides (``bft``, ``bft.workflow.steps``) gets the function's own copy.
  For the duration of that statement, under one lock, ``sys.modules`` holds the function's modules for those
  names and ``sys.path`` starts with its code and layers; then the process's modules are put back. Lazy
  imports inside handlers at invocation time go the same way.
- a function's code importing anything else gets it only if Lambda would have it: the standard library, the
  runtime's SDK (boto3, botocore and their dependencies; also shipped in the layer, see below), the other
  distributions its asset layers ship (orjson) and the packages of public layers the function lists
  (Powertools). Anything else (pydantic, moto, the CLI's ``bft_twin``) raises ``ModuleNotFoundError``, as in
  Lambda.
- every other module (the runner, moto, the CLI, the authorizer called from inside a handler, a test) gets the
  process's modules, also from another thread while a handler runs: such imports wait for the lock.

One tree per function, not one per layer: two functions sharing a layer are two processes in AWS, so module
state (``bft.aws``'s client cache, any memo) is never shared between them. Each function's tree is built at its
cold start (tens of milliseconds) and dropped with the environment.

The SDK is the exception, deliberately: moto and the authorizer patch the process's botocore, so a second
botocore in the process would bypass both. The distributions a layer ships (each with its ``*.dist-info``)
resolve to the process's modules -- after :func:`layer_distributions` has checked that each is the *same
version* as installed here, so the deployed and offline functions run the same SDK. orjson goes the same way:
the layer's copy is built for the functions' ARM_64 and cannot load on another machine, the process's is the
same version built for this one.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["IMPORTS", "LayerVersionMismatch", "ModuleTree", "layer_distributions", "public_layer_packages"]

# What the Lambda Python runtime has besides the standard library (its bundled SDK).
RUNTIME_PACKAGES = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3"})
_POWERTOOLS_ARN = re.compile(r":layer:AWSLambdaPowertoolsPythonV(?P<major>\d+)")


class LayerVersionMismatch(Exception):
    """A layer ships a distribution at another version than this process runs: the offline run would not run
    the deployed SDK. Synthesize again (the layer copies what is installed)."""


@dataclass(eq=False)
class ModuleTree:
    """One function's modules for the packages its code and asset layers provide."""

    name: str  # for messages: "Stack/LogicalId"
    paths: tuple[str, ...]  # sys.path entries in Lambda's order: the code folder, then the layers' python/
    packages: frozenset[str]  # top-level names loaded from those folders (e.g. "bft")
    allowed: frozenset[str]  # top-level names the function may import from the process (runtime, public layers)
    modules: dict[str, ModuleType] = field(default_factory=dict)

    def owns_file(self, filename: Any) -> bool:
        return isinstance(filename, str) and filename.startswith(tuple(path + os.sep for path in self.paths))


class _Imports:
    """The ``builtins.__import__`` wrapper (installed while an offline environment is open)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._installed = 0
        self._original: Any = None
        self._current: ModuleTree | None = None  # whose modules sys.modules holds now (None: the process's)
        self._owners: dict[int, tuple[dict[str, Any], ModuleTree]] = {}  # id(module globals) -> its tree
        self._watched: frozenset[str] = frozenset()  # top-level names some tree provides
        self._process_modules: dict[str, ModuleType] = {}  # the process's, set aside while a tree is switched in

    # -- lifecycle ----------------------------------------------------------------------------------

    def install(self) -> None:
        with self._lock:
            if self._installed == 0:
                self._original = builtins.__import__
                builtins.__import__ = self._import
            self._installed += 1

    def uninstall(self) -> None:
        with self._lock:
            self._installed -= 1
            if self._installed == 0:
                builtins.__import__ = self._original
                self._owners.clear()
                self._watched = frozenset()

    def forget(self, tree: ModuleTree) -> None:
        """Drop a tree's modules (its function's environment is closed)."""
        with self._lock:
            for key in [key for key, (_, owner) in self._owners.items() if owner is tree]:
                del self._owners[key]
            tree.modules.clear()

    # -- trees --------------------------------------------------------------------------------------

    def adopt(self, module: ModuleType, tree: ModuleTree) -> None:
        """``module`` (a handler module, created by the loader) imports as a module of ``tree``."""
        with self._lock:
            self._owners[id(module.__dict__)] = (module.__dict__, tree)
            self._watched |= tree.packages

    @contextmanager
    def switched(self, tree: ModuleTree | None) -> Iterator[None]:
        """``sys.modules`` and ``sys.path`` as ``tree``'s function sees them (None: the process), meanwhile."""
        with self._lock:
            previous = self._current
            self._switch(tree)
            try:
                yield
            finally:
                self._switch(previous)

    def _switch(self, tree: ModuleTree | None) -> None:
        current = self._current
        if tree is current:
            return
        if current is not None:  # put the function's modules (including any it just imported) back in its tree
            names = [name for name in sys.modules if name.partition(".")[0] in current.packages]
            current.modules = {name: sys.modules.pop(name) for name in names}
            for module in current.modules.values():
                self._owners.setdefault(id(module.__dict__), (module.__dict__, current))
            for path in current.paths:
                if path in sys.path:
                    sys.path.remove(path)
            sys.modules.update(self._process_modules)
        if tree is not None:
            names = [name for name in sys.modules if name.partition(".")[0] in tree.packages]
            self._process_modules = {name: sys.modules.pop(name) for name in names}
            sys.modules.update(tree.modules)
            sys.path[0:0] = list(tree.paths)
        self._current = tree

    # -- the hook -----------------------------------------------------------------------------------

    def _tree_of(self, globals_: Any) -> ModuleTree | None:
        if not isinstance(globals_, dict):
            return None
        found = self._owners.get(id(globals_))
        if found is not None and found[0] is globals_:
            return found[1]
        current = self._current  # a module of the tree being switched in, executing for the first time
        if current is not None and current.owns_file(globals_.get("__file__")):
            return current
        return None

    def _import(
        self,
        name: str,
        globals: Any = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> Any:
        original = self._original
        tree = self._tree_of(globals) if self._owners else None
        if tree is None:
            top = name.partition(".")[0] if level == 0 else ""
            if level == 0 and top not in self._watched:
                return original(name, globals, locals, fromlist, level)
            # The process's modules, also while another thread (or a caller) has a function's switched in.
            with self.switched(None):
                return original(name, globals, locals, fromlist, level)
        absolute = name if level == 0 else importlib.util.resolve_name("." * level + name, globals.get("__package__"))
        top = absolute.partition(".")[0]
        if top not in tree.packages:
            if top in tree.allowed or top in sys.stdlib_module_names:
                return original(name, globals, locals, fromlist, level)
            raise ModuleNotFoundError(
                f"No module named {top!r}: not in {tree.name}'s code, its layers or the Lambda runtime", name=top
            )
        with self.switched(tree):
            return original(name, globals, locals, fromlist, level)


IMPORTS = _Imports()


@dataclass(frozen=True)
class LayerDistribution:
    name: str
    version: str
    top_level: frozenset[str]


def layer_distributions(python_dir: Path) -> list[LayerDistribution]:
    """The distributions a layer's ``python/`` ships (its ``*.dist-info``), each checked to be the version this
    process runs (:class:`LayerVersionMismatch` otherwise)."""
    found = []
    for info in sorted(python_dir.glob("*.dist-info")):
        fields = metadata.PathDistribution(info).metadata
        name, version = fields["Name"], fields["Version"]
        record = info / "RECORD"
        top = {
            Path(line.split(",", 1)[0]).parts[0].removesuffix(".py")
            for line in (record.read_text().splitlines() if record.is_file() else [])
            if line and not line.startswith("..")
        }
        top = {entry for entry in top if not entry.endswith((".dist-info", ".data")) and entry != "__pycache__"}
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            raise LayerVersionMismatch(
                f"layer {python_dir.parent.name} ships {name} {version}, this process runs {installed or 'none'}: "
                "synthesize again so that the offline run runs the SDK that deploys"
            )
        found.append(LayerDistribution(name, version, frozenset(top)))
    return found


def public_layer_packages(arn: str) -> frozenset[str]:
    """Top-level packages of a layer referenced by ARN (not in the assembly), resolved from this process.

    Only Powertools is known: its layer's major version (``...PythonV3...``) must be the installed major, the
    same API. Any other ARN layer provides nothing here, so a handler importing from it fails to load.
    """
    match = _POWERTOOLS_ARN.search(arn)
    if match is None:
        return frozenset()
    installed = metadata.version("aws-lambda-powertools")
    if installed.split(".")[0] != match["major"]:
        raise LayerVersionMismatch(f"{arn} is Powertools v{match['major']}, this process runs {installed}")
    return frozenset({"aws_lambda_powertools"})


def top_level_names(folder: Path) -> set[str]:
    """Importable top-level names in a folder (packages and modules)."""
    names = set()
    for entry in folder.iterdir() if folder.is_dir() else ():
        if entry.name.startswith((".", "_")) or entry.name.endswith((".dist-info", ".data")):
            continue
        if entry.is_dir() or entry.suffix == ".py":
            names.add(entry.name.removesuffix(".py"))
    return names


def tree_for(name: str, code_dir: Path | None, layer_python_dirs: Iterable[Path], public: Iterable[str]) -> ModuleTree:
    """The module tree of a function whose code is ``code_dir`` and whose asset layers are ``layer_python_dirs``
    (in the function's order: a later layer overwrites an earlier one's files in /opt, so it comes first here)."""
    layers = list(layer_python_dirs)[::-1]
    packages: set[str] = set()
    process: set[str] = set(RUNTIME_PACKAGES) | set(public)
    for layer in layers:
        distributions = layer_distributions(layer)
        shipped = {top for distribution in distributions for top in distribution.top_level}
        process |= shipped
        packages |= top_level_names(layer) - shipped
    if code_dir is not None:
        packages |= top_level_names(code_dir)
    packages -= process  # the SDK resolves to the process's (one botocore, the one moto patches)
    for top in sorted(process):
        if importlib.util.find_spec(top) is not None:
            importlib.import_module(top)  # loaded from the process before any layer is on sys.path
    paths = tuple(str(path) for path in ([code_dir] if code_dir is not None else []) + layers)
    return ModuleTree(name=name, paths=paths, packages=frozenset(packages), allowed=frozenset(process))
