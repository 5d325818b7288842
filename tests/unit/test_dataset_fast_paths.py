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

from bft.dataset.reserved import CASELESS, anchored_screen, reserved_finder
from bft.dataset.rules import RecordInvalid, _converse_checker
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
    assert reserved_finder(NOVA)(text) == reference(text)


def test_the_screen_gives_up_to_the_full_search_on_text_dense_in_anchors() -> None:
    dense = json.dumps({f"k{i}": {"v": i} for i in range(400)}) + " ASSISTANT:"
    assert reserved_finder(NOVA)(dense) == "Assistant:"
    assert reserved_finder(NOVA)(dense[:-11]) is None


def test_no_other_character_lowercases_to_an_anchor() -> None:
    """The screen looks for anchors in the text as it is, not lowercased: sound only if nothing else becomes one."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if char not in CASELESS:
            assert not set(char.lower()) & CASELESS, hex(code)
    assert all(char.lower() == char for char in CASELESS)


def test_a_needle_without_an_anchor_gets_no_screen() -> None:
    assert anchored_screen(("user:", "eos")) is None
    assert anchored_screen(("user:", "[é]")) is None


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


plain = st.text(max_size=12).filter(lambda t: bool(t.strip()) and reference(t) is None)
FAULTS = (
    *(None, "role", "message_key", "no_content", "content_string", "no_blocks", "two_blocks", "block_string"),
    *("block_key", "image", "text_number", "text_empty", "text_blank", "text_reserved", "message_string"),
    *(
        "system_string",
        "system_key",
        "system_block_key",
        "system_block_string",
        "system_number",
        "system_reserved",
        "system_blank",
        "system_two",
    ),
    *("schema", "top_key", "odd", "one", "many", "messages_object"),
)


@st.composite
def simple_records(draw: st.DrawFn, fault: str | None) -> dict[str, Any]:
    """The fast path's shape (one text block per message), valid (``fault`` None) or with that one fault: each
    fault alone, so that the fast path is the one that must notice it."""
    turns = 2 * draw(st.integers(1, 4))
    messages: list[Any] = [
        {"role": ("user", "assistant")[t % 2], "content": [{"text": draw(plain)}]} for t in range(turns)
    ]
    record: dict[str, Any] = {"messages": messages}
    if draw(st.booleans()):
        record["schemaVersion"] = "bedrock-conversation-2024"
    if draw(st.booleans()):
        record["system"] = draw(st.sampled_from([None, [], [{"text": draw(plain)}], [{"text": ""}]]))
    i = draw(st.integers(0, turns - 1))
    message, block = messages[i], messages[i]["content"][0]
    blank = draw(st.sampled_from([" ", "\n\t", "\u2003", "\r\n"]))
    changes: dict[str | None, Any] = {
        None: lambda: None,
        "role": lambda: message.update(role=draw(st.sampled_from(["user", "assistant", "system", None, 1]))),
        "message_key": lambda: message.update(x=1),
        "no_content": lambda: message.pop("content"),
        "content_string": lambda: message.update(content="t"),
        "no_blocks": lambda: message.update(content=[]),
        "two_blocks": lambda: message["content"].append({"text": draw(plain)}),
        "block_string": lambda: message.update(content=["t"]),
        "block_key": lambda: block.update(x=1),
        "image": lambda: message.update(
            content=[{"image": {"format": "png", "source": {"s3Location": {"uri": "s3://b/i.png"}}}}]
        ),
        "text_number": lambda: block.update(text=1),
        "text_empty": lambda: block.update(text=""),
        "text_blank": lambda: block.update(text=blank),
        "text_reserved": lambda: block.update(text=draw(texts)),
        "message_string": lambda: messages.__setitem__(i, "m"),
        "system_string": lambda: record.update(system="s"),
        "system_key": lambda: record.update(system=[{"txt": "a"}]),
        "system_block_key": lambda: record.update(system=[{"text": draw(plain), "x": 1}]),
        "system_block_string": lambda: record.update(system=["s"]),
        "system_number": lambda: record.update(system=[{"text": 1}]),
        "system_reserved": lambda: record.update(system=[{"text": draw(texts)}]),
        "system_blank": lambda: record.update(
            system=[{"text": blank}, {"text": draw(plain)}][: draw(st.integers(1, 2))]
        ),
        "system_two": lambda: record.update(system=[{"text": draw(plain)}, {"text": draw(plain)}]),
        "schema": lambda: record.update(schemaVersion=draw(st.sampled_from(["tooluse-dataset-2024", 1, None]))),
        "top_key": lambda: record.update(extra=1),
        "odd": lambda: messages.append({"role": "user", "content": [{"text": draw(plain)}]}),
        "one": lambda: messages.__delitem__(slice(1, None)),
        "many": lambda: messages.extend(copy.deepcopy(messages[:2]) for _ in range(33)),
        "messages_object": lambda: record.update(messages=message),
    }
    changes[fault]()
    return record


@pytest.mark.parametrize("fault", FAULTS, ids=str)
@pytest.mark.parametrize("model", sorted(CHECKERS))
@settings(SETTINGS, max_examples=25)
@given(data=st.data())
def test_the_fast_path_decides_as_the_walk(model: str, fault: str | None, data: st.DataObject) -> None:
    record = data.draw(simple_records(fault))
    fast, walk = CHECKERS[model]
    expected = outcome(walk, record)
    assert outcome(fast, record) == expected
    if fault is None:
        assert isinstance(expected, tuple), expected  # the valid record: the fast path's own answer was checked


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
