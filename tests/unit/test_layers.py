"""The product's floors: each part of `bft` imports only parts on its own floor or below, never one above.

An import that runs back up (the config reading the evaluation step, the report reading the workflow's error
mapping) ties a lower part to everything above it: the loader would need the workflow to load, and a change in a
step could break the config. Checked on the source, so a function-local import counts as much as a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# Lowest first. A part is a top-level module or subpackage of `bft`.
FLOORS: list[set[str]] = [
    {"errors", "names", "clock", "catalog", "capacity", "aws", "aws_errors", "metrics"},
    {"families", "prices", "registry"},
    {"dataset", "config"},
    {"deployment", "sample_data", "synth", "report"},
    {"workflow"},
    {"teardown", "idle_cost"},
    {"smoke"},
    {"cli"},
]
FLOOR = {part: level for level, parts in enumerate(FLOORS) for part in parts}


def _part(path: Path) -> str:
    relative = path.relative_to(SRC / "bft")
    return relative.parts[0].removesuffix(".py") if relative.parts[0] != "__init__.py" else "__init__"


def _module_name(path: Path) -> str:
    """``bft.config.loader`` for src/bft/config/loader.py; a package's ``__init__`` is named as its package's
    member, so a relative import resolves from the package."""
    return ".".join(path.relative_to(SRC).with_suffix("").parts)


def _imported_parts(source: str, module: str) -> set[str]:
    """The `bft` parts a module imports (absolute or relative, anywhere in the file, function-local too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {name.split(".")[1] for name in names if name.startswith("bft.")}
    return found


def _modules() -> list[Path]:
    return sorted(path for path in (SRC / "bft").rglob("*.py"))


def test_every_part_has_a_floor() -> None:
    parts = {_part(path) for path in _modules()} - {"__init__"}
    assert sorted(parts - FLOOR.keys()) == []


def test_no_import_runs_back_up() -> None:
    upward = {}
    for path in _modules():
        part = _part(path)
        if part == "__init__":
            continue
        imported = _imported_parts(path.read_text(encoding="utf-8"), _module_name(path))
        above = sorted(p for p in imported if p != part and FLOOR.get(p, -1) > FLOOR[part])
        if above:
            upward[str(path.relative_to(SRC))] = above
    assert upward == {}


def test_the_check_sees_an_upward_import() -> None:
    """The rule is not vacuous: a function-local import of the workflow, and a relative one, are found."""
    source = "def f():\n    from bft.workflow.evaluation import plan\n    from ..report import render\n"
    assert _imported_parts(source, "bft.config.probe") >= {"workflow", "report"}
    assert FLOOR["workflow"] > FLOOR["config"]
    assert FLOOR["report"] > FLOOR["config"]
