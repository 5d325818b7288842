"""The converse checker's fast path and Nova's reserved-string screen decide exactly as the walk and the full
search they stand in front of: same result, same errors, on generated and mutated records."""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bft.dataset.rules import _CASELESS, RecordInvalid, _anchored_screen, _converse_checker, _reserved_finder
from bft.families import family_for
from tests.unit.test_dataset_properties import mutated_files
from tests.unit.test_dataset_rules import LLAMA32_TEXT, NOVA_LITE, NOVA_MICRO

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOVA = family_for(NOVA_MICRO)
# Fragments that meet the screen's edges: reserved strings in any case, their anchors and neighbours, the
# characters whose lowercase is not one ASCII letter (U+0130 lowercases to two characters, the Kelvin sign
# to "k", the long s stays itself), NUL and \1 (the join's separators).
FRAGMENTS = [
    *NOVA.reserved_strings,
    "USER",
    "uSeR",
    "Bot",
    "ASSISTANT",
    "sYsTeM",
    "<IMAGE",
    "VIDEO>",
    "[EOS",
    "<UN",
    "\u212a>",
    "\u0130",
    "\u017f",
    "i",
    "I",
    "ystem:",
    ":",
    "<",
    "[",
    "]",
    ">",
    " ",
    "\n",
    "\0",
    "\1",
    "Note:",
    "robot",
    "é",
    "東京",
    "👍",
]
texts = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=5), max_size=30).map("".join)


def reference(text: str) -> str | None:
    """Nova's rule as its official validator states it: the first reserved string in text.lower()."""
    low = text.lower()
    return next((s for s in NOVA.reserved_strings if s.lower() in low), None)


@SETTINGS
@given(text=texts)
def test_the_screened_search_finds_what_the_full_search_finds(text: str) -> None:
    assert _reserved_finder(NOVA)(text) == reference(text)


def test_the_screen_gives_up_to_the_full_search_on_text_dense_in_anchors() -> None:
    dense = json.dumps({f"k{i}": {"v": i} for i in range(400)}) + " ASSISTANT:"
    assert _reserved_finder(NOVA)(dense) == "Assistant:"
    assert _reserved_finder(NOVA)(dense[:-11]) is None


def test_no_other_character_lowercases_to_an_anchor() -> None:
    """The screen looks for anchors in the text as it is, not lowercased: sound only if nothing else becomes one."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if char not in _CASELESS:
            assert not set(char.lower()) & _CASELESS, hex(code)
    assert all(char.lower() == char for char in _CASELESS)


def test_a_needle_without_an_anchor_gets_no_screen() -> None:
    assert _anchored_screen(("user:", "eos")) is None
    assert _anchored_screen(("user:", "[é]")) is None


def outcome(check: Any, record: Any) -> Any:
    try:
        return check(copy.deepcopy(record))
    except RecordInvalid as exc:
        return [(e.code, e.field, e.message) for e in exc.errors]


CHECKERS = {
    model: (
        _converse_checker(family_for(model), model, None, None),
        _converse_checker(family_for(model), model, None, None, fast=False),
    )
    for model in (NOVA_MICRO, NOVA_LITE, LLAMA32_TEXT)
}


@st.composite
def simple_records(draw: st.DrawFn) -> dict[str, Any]:
    """The fast path's shape (one text block per message), with every field open to a wrong value."""
    value = st.one_of(texts, st.just(""), st.just("  "), st.none(), st.integers(), st.just(["x"]), st.just({}))
    turns = draw(st.integers(0, 7))
    messages: list[Any] = []
    for t in range(turns):
        block: Any = {"text": draw(texts) if draw(st.integers(0, 9)) else draw(value)}
        if not draw(st.integers(0, 14)):
            block = draw(st.sampled_from([{}, {"text": "a", "x": 1}, {"image": {}}, "t", None]))
        content: Any = [block] if draw(st.integers(0, 14)) else draw(st.sampled_from([[], [block, block], "t"]))
        role: Any = ("user", "assistant")[t % 2] if draw(st.integers(0, 14)) else draw(value | st.just("user"))
        message: Any = {"role": role, "content": content}
        if not draw(st.integers(0, 19)):
            message = draw(st.sampled_from([{"role": role}, {"content": content}, {**message, "x": 1}, "m"]))
        messages.append(message)
    record: dict[str, Any] = {"messages": messages}
    if draw(st.booleans()):
        record["schemaVersion"] = draw(st.sampled_from(["bedrock-conversation-2024", "tooluse-dataset-2024", 1]))
    if draw(st.booleans()):
        blocks = [{"text": draw(texts)} for _ in range(draw(st.integers(0, 2)))]
        record["system"] = draw(st.sampled_from([blocks, None, "s", [{"txt": "a"}], [{"text": 1}]]))
    if not draw(st.integers(0, 14)):
        record["extra"] = 1
    return record


@pytest.mark.parametrize("model", sorted(CHECKERS))
@SETTINGS
@given(record=simple_records())
def test_the_fast_path_decides_as_the_walk(model: str, record: dict[str, Any]) -> None:
    fast, walk = CHECKERS[model]
    assert outcome(fast, record) == outcome(walk, record)


@settings(SETTINGS, max_examples=60)
@given(case=mutated_files("nova"))
def test_the_fast_path_decides_as_the_walk_on_mutated_files(case: tuple[list[bytes], int, str]) -> None:
    fast, walk = CHECKERS[NOVA_LITE]
    for line in case[0]:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            assert outcome(fast, record) == outcome(walk, record)
