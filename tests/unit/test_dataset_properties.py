"""Property tests: generated valid files pass; one mutation fails the file at the mutated line."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bft.dataset import iter_lines, validate_lines
from bft.dataset.parsing import stdlib_backend
from tests.unit.test_dataset_rules import HAIKU, LLAMA31, NOVA_LITE

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text without the reserved strings of any family and not whitespace-only.
_RESERVED = (
    "\nhuman:",
    "\nassistant:",
    "user:",
    "bot:",
    "assistant:",
    "system:",
    "<image>",
    "<video>",
    "[eos]",
    "<unk>",
)
text = st.text(min_size=1, max_size=60).filter(lambda s: not s.isspace() and not any(r in s.lower() for r in _RESERVED))


@st.composite
def haiku_records(draw: st.DrawFn) -> dict[str, Any]:
    turns = 2 * draw(st.integers(1, 4))
    record: dict[str, Any] = {
        "messages": [{"role": ("user", "assistant")[t % 2], "content": draw(text)} for t in range(turns)]
    }
    if draw(st.booleans()):
        record["system"] = draw(st.one_of(text, st.just("")))
    return record


@st.composite
def nova_records(draw: st.DrawFn) -> dict[str, Any]:
    turns = 2 * draw(st.integers(1, 3))
    messages = []
    for t in range(turns):
        blocks: list[dict[str, Any]] = [{"text": draw(text)} for _ in range(draw(st.integers(1, 3)))]
        if t % 2 == 0 and draw(st.booleans()):
            blocks.append({"image": {"format": "png", "source": {"s3Location": {"uri": "s3://b/img/x.png"}}}})
        messages.append({"role": ("user", "assistant")[t % 2], "content": blocks})
    record: dict[str, Any] = {"schemaVersion": "bedrock-conversation-2024", "messages": messages}
    if draw(st.booleans()):
        record["system"] = [{"text": draw(text)}]
    return record


@st.composite
def pc_records(draw: st.DrawFn) -> dict[str, Any]:
    return {"prompt": draw(text), "completion": draw(text)}


FORMATS: dict[str, tuple[str, Callable[[], st.SearchStrategy[dict[str, Any]]], int]] = {
    "haiku": (HAIKU, haiku_records, 32),
    "nova": (NOVA_LITE, nova_records, 8),
    "llama": (LLAMA31, pc_records, 100),
}


def encode(record: dict[str, Any], ascii_only: bool) -> bytes:
    return json.dumps(record, ensure_ascii=ascii_only).encode("utf-8")


def files(fmt: str) -> st.SearchStrategy[list[bytes]]:
    _, records, minimum = FORMATS[fmt]
    return st.tuples(st.lists(records(), min_size=minimum, max_size=minimum + 20), st.booleans()).map(
        lambda pair: [encode(r, pair[1]) for r in pair[0]]
    )


def assert_valid(model: str, lines: list[bytes]) -> None:
    report = validate_lines(model, lines)
    assert report.valid, [str(e) for e in report.errors]
    assert report.files[0].records == len(lines)
    assert report.statistics["measured_records"] == len(lines)
    # Through a real byte stream (chunk boundaries anywhere) the verdict is the same.
    data = b"\n".join(lines) + b"\n"
    streamed = validate_lines(model, iter_lines(data[i : i + 97] for i in range(0, len(data), 97)))
    assert streamed.to_dict()["statistics"] == report.to_dict()["statistics"]


@SETTINGS
@given(lines=files("haiku"))
def test_generated_haiku_files_are_valid(lines: list[bytes]) -> None:
    assert_valid(HAIKU, lines)


@SETTINGS
@given(lines=files("nova"))
def test_generated_nova_files_are_valid(lines: list[bytes]) -> None:
    assert_valid(NOVA_LITE, lines)


@SETTINGS
@given(lines=files("llama"))
def test_generated_prompt_completion_files_are_valid(lines: list[bytes]) -> None:
    assert_valid(LLAMA31, lines)


# -- mutations: each turns one valid line into an invalid one -------------------------------


def _raw(fn: Callable[[bytes], bytes]) -> Callable[[bytes, Any], bytes]:
    return lambda raw, obj: fn(raw)


def _obj(fn: Callable[[Any], Any]) -> Callable[[bytes, Any], bytes]:
    def apply(raw: bytes, obj: Any) -> bytes:
        return json.dumps(fn(obj)).encode()

    return apply


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    target = obj
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return obj


GENERIC_MUTATIONS: dict[str, Callable[[bytes, Any], bytes]] = {
    "truncate": _raw(lambda raw: raw[: len(raw) // 2]),
    "empty_line": _raw(lambda raw: b""),
    "whitespace_line": _raw(lambda raw: b"  \t"),
    "invalid_utf8": _raw(lambda raw: raw[:-2] + b"\xff" + raw[-2:]),
    "array": _raw(lambda raw: b"[" + raw + b"]"),
    "bom": _raw(lambda raw: b"\xef\xbb\xbf" + raw),
    "unknown_key": _obj(lambda o: {**o, "extra": 1}),
}

HAIKU_MUTATIONS: dict[str, Callable[[bytes, Any], bytes]] = {
    **GENERIC_MUTATIONS,
    "drop_messages": _obj(lambda o: {k: v for k, v in o.items() if k != "messages"}),
    "swap_first_roles": _obj(lambda o: _set(o, ("messages", 0, "role"), "assistant")),
    "drop_last_message": _obj(lambda o: {**o, "messages": o["messages"][:-1]}),
    "empty_content": _obj(lambda o: _set(o, ("messages", -1, "content"), "")),
    "reserved": _obj(lambda o: _set(o, ("messages", 0, "content"), "x\nHuman: y")),
    "content_list": _obj(lambda o: _set(o, ("messages", 0, "content"), [{"type": "text", "text": "hi"}])),
    "bad_role": _obj(lambda o: _set(o, ("messages", 1, "role"), "bot")),
    "huge": _obj(lambda o: _set(o, ("messages", 0, "content"), "z" * 96_001)),
    "system_type": _obj(lambda o: {**o, "system": 1}),
}

NOVA_MUTATIONS: dict[str, Callable[[bytes, Any], bytes]] = {
    **GENERIC_MUTATIONS,
    "schema_version": _obj(lambda o: {**o, "schemaVersion": 2}),  # any string is accepted, a number is not
    "text_content": _obj(lambda o: _set(o, ("messages", 0, "content"), "hi")),
    "assistant_image": _obj(
        lambda o: _set(
            o, ("messages", 1, "content"), [{"image": {"format": "png", "source": {"s3Location": {"uri": "s3://b/x"}}}}]
        )
    ),
    "reserved": _obj(lambda o: _set(o, ("messages", 0, "content", 0, "text"), "Bot: hi")),
    "two_keys_block": _obj(lambda o: _set(o, ("messages", 0, "content", 0), {"text": "a", "video": {}})),
}

PC_MUTATIONS: dict[str, Callable[[bytes, Any], bytes]] = {
    **GENERIC_MUTATIONS,
    "drop_completion": _obj(lambda o: {"prompt": o["prompt"]}),
    "empty_prompt": _obj(lambda o: {**o, "prompt": ""}),
    "number_completion": _obj(lambda o: {**o, "completion": 3}),
}

CASES = {"haiku": HAIKU_MUTATIONS, "nova": NOVA_MUTATIONS, "llama": PC_MUTATIONS}


@st.composite
def mutated_files(draw: st.DrawFn, fmt: str) -> tuple[list[bytes], int, str]:
    lines = draw(files(fmt))
    index = draw(st.integers(0, len(lines) - 1))
    name = draw(st.sampled_from(sorted(CASES[fmt])))
    if name == "bom":
        index = 0  # a BOM is only meaningful at the start of the file
    lines = list(lines)
    lines[index] = CASES[fmt][name](lines[index], json.loads(lines[index]))
    return lines, index + 1, name


def assert_fails_at(model: str, case: tuple[list[bytes], int, str], backend: Any = None) -> None:
    lines, number, name = case
    report = validate_lines(model, lines, backend=backend)
    assert not report.valid, name
    assert report.error_count == 1, (name, [str(e) for e in report.errors])
    assert report.errors[0].line == number, (name, str(report.errors[0]))
    assert report.files[0].records == len(lines)


@SETTINGS
@given(case=mutated_files("haiku"))
def test_one_mutation_fails_a_haiku_file_at_that_line(case: tuple[list[bytes], int, str]) -> None:
    assert_fails_at(HAIKU, case)


@SETTINGS
@given(case=mutated_files("haiku"))
def test_one_mutation_fails_at_that_line_without_orjson(case: tuple[list[bytes], int, str]) -> None:
    assert_fails_at(HAIKU, case, backend=stdlib_backend())


@SETTINGS
@given(case=mutated_files("nova"))
def test_one_mutation_fails_a_nova_file_at_that_line(case: tuple[list[bytes], int, str]) -> None:
    assert_fails_at(NOVA_LITE, case)


@SETTINGS
@given(case=mutated_files("llama"))
def test_one_mutation_fails_a_prompt_completion_file_at_that_line(case: tuple[list[bytes], int, str]) -> None:
    assert_fails_at(LLAMA31, case)
