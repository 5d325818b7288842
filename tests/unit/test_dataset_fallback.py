"""Without orjson (not installed, or a build for another machine) the standard-library backend gives the same
report."""

from __future__ import annotations

import importlib.machinery
import json
import platform
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bft.dataset import parsing
from bft.dataset.parsing import default_backend, dumps, stdlib_backend
from bft.synth import ROOT
from tests.unit.test_dataset_rules import HAIKU, NOVA_LITE, dataset, validate

BAD_LINES: dict[int, Any] = {
    1: b"\xef\xbb\xbf" + b'{"messages": []}',
    2: b"",
    3: b'{"messages": [',
    4: b'{"messages": "caf\xe9"}',
    5: b"[1]",
    6: {"messages": [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]},
    7: {"messages": [{"role": "user", "content": "a\nHuman: b"}, {"role": "assistant", "content": "y"}]},
    8: b'{"messages": NaN}',
    9: b'{"messages": [{"role": "user", "content": "\\ud800"}, {"role": "assistant", "content": "y"}]}',
    10: b"   \r",
    11: b"[" * 5000 + b"]" * 5000,
}


def without_parser(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "parser"}


def test_default_backend_falls_back_to_json_without_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "orjson", None)  # makes `import orjson` raise ImportError
    name, loads = default_backend()
    assert name == "json"
    assert loads(b'{"a": [1, "\xc3\xa9"]}') == {"a": [1, "é"]}
    report = validate(HAIKU, dataset(HAIKU))
    assert report.parser == "json"
    assert report.valid


@pytest.mark.skipif(platform.machine() in ("aarch64", "arm64"), reason="the ARM_64 build loads on this machine")
def test_an_orjson_built_for_another_machine_counts_as_not_importable(tmp_path: Path) -> None:
    """The layer's orjson is the ARM_64 build. Here, named as this machine's extension so that the loader does
    try it, it fails to load (ImportError, not a crash): the parser and dumps fall back to the standard library."""
    # The wheel `make setup` fetched for the layer (stacks/constructs/functions.py checks it; not imported here:
    # the CDK takes seconds to import).
    (wheel,) = (ROOT / ".layer-wheels").glob("orjson-*_aarch64.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path, [n for n in archive.namelist() if n.startswith("orjson/")])
    (built,) = (tmp_path / "orjson").glob("*aarch64*.so")
    renamed = built.rename(built.with_name("orjson" + importlib.machinery.EXTENSION_SUFFIXES[0]))
    code = (
        f"import sys; sys.path[:0] = [{str(tmp_path)!r}, {str(Path(parsing.__file__).parents[2])!r}]\n"
        "try:\n    import orjson\nexcept ImportError as exc:\n    print('ImportError:', exc)\n"
        "from bft.dataset import parsing\n"
        "print(parsing.default_backend()[0], parsing.dumps is parsing.stdlib_dumps, parsing.dumps([1]))\n"
    )
    result = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.startswith("ImportError:"), first
    assert renamed.name in first, first  # the loader tried the file and refused it
    assert second == "json True b'[1]'"


def test_orjson_is_used_when_importable() -> None:
    pytest.importorskip("orjson")
    assert default_backend()[0] == "orjson"


@pytest.mark.parametrize("model", [HAIKU, NOVA_LITE])
def test_both_backends_give_the_same_report(model: str) -> None:
    lines = dataset(model, 40, BAD_LINES if model == HAIKU else {3: b"{", 4: b"", 5: b"\xff"})
    fast = validate(model, lines).to_dict()
    slow = validate(model, lines, backend=stdlib_backend()).to_dict()
    assert without_parser(fast) == without_parser(slow)
    assert slow["parser"] == "json"


def test_the_fallback_is_strict_about_utf8_and_bom() -> None:
    # json.loads(bytes) would decode UTF-16 and strip a BOM; the fallback must not.
    report = validate(HAIKU, dataset(HAIKU, replace=BAD_LINES), backend=stdlib_backend())
    codes = {e.line: e.code for e in report.errors}
    assert codes[1] == "bom"
    assert codes[2] == "empty_line"
    assert codes[4] == "invalid_utf8"
    assert codes[8] == "invalid_json"  # NaN: json.loads accepts it, orjson and Bedrock do not
    assert codes[9] == "invalid_json"  # an unpaired surrogate escape
    assert codes[11] == "invalid_json"  # nested too deeply
    messages = {e.line: e.message for e in report.errors}
    assert "NaN" in messages[8]
    assert "surrogate" in messages[9]


def test_dumps_fallback_writes_the_same_json(monkeypatch: pytest.MonkeyPatch) -> None:
    report = validate(HAIKU, dataset(HAIKU, replace={2: b"x"})).to_dict()
    report["errors"][0]["message"] += ' caf\u00e9 \U0001f44d \n " \\'
    assert json.loads(parsing.stdlib_dumps(report)) == json.loads(dumps(report)) == report
    monkeypatch.setitem(sys.modules, "orjson", None)
    assert parsing._fast_dumps() is parsing.stdlib_dumps


def test_the_fallback_stops_at_orjsons_nesting_limit_whatever_the_python() -> None:
    from bft.dataset.parsing import MAX_DEPTH, _stdlib_loads

    assert _stdlib_loads(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    with pytest.raises(ValueError, match="nested deeper than 1024 levels"):
        _stdlib_loads(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    brackets_in_a_string = b'{"content": "' + b"[{" * MAX_DEPTH + b'\\"]"}'
    assert _stdlib_loads(brackets_in_a_string)["content"].startswith("[{")
