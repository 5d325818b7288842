"""The json_match scorer: structural equality, field precision and recall over leaf paths, the tolerant
parsing of a model's answer, tool calls (toolUse blocks) in the data's shape, and JSON Schema validity."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bft.workflow.json_match import leaf_paths, parse_answer, tool_call_text
from bft.workflow.scoring import record_score, score
from tests.unit.test_json_schema import SCHEMA

CALL = {"name": "get_weather", "input": {"city": "Paris", "days": 3, "units": {"temp": "C"}}}
EXPECTED = json.dumps(CALL)


def _one(expected: Any, answer: Any, schema: Any = None) -> dict[str, Any]:
    pair = (
        expected if isinstance(expected, str) else json.dumps(expected),
        answer if isinstance(answer, str) else json.dumps(answer),
    )
    return score("json_match", [pair], schema=schema)


# -- structural equality ----------------------------------------------------------------------------------


def test_key_order_and_number_spelling_do_not_matter() -> None:
    reordered = '{"input": {"units": {"temp": "C"}, "days": 3.0, "city": "Paris"}, "name": "get_weather"}'
    metrics = _one(EXPECTED, reordered)
    assert metrics["structural_match"] == 1.0
    assert (metrics["field_precision"], metrics["field_recall"], metrics["field_f1"]) == (1.0, 1.0, 1.0)
    assert record_score("json_match", '{"n": 1}', '{"n": 1.0}') == 1.0
    assert record_score("json_match", '{"n": 1}', '{"n": 1e0}') == 1.0


def test_types_strings_and_arrays_are_compared_exactly() -> None:
    assert record_score("json_match", '{"n": 1}', '{"n": "1"}') == 0.0  # a string is not a number
    assert record_score("json_match", '{"n": 1}', '{"n": true}') == 0.0  # nor is a boolean
    assert record_score("json_match", '{"c": "Paris"}', '{"c": "paris"}') == 0.0
    assert record_score("json_match", "[1, 2]", "[2, 1]") == 0.0  # arrays are ordered
    assert record_score("json_match", '{"a": {}}', '{"a": []}') == 0.0  # an empty object is not an empty array
    # A dotted key is not a nested one, though both read "a.b".
    assert record_score("json_match", '{"a.b": 1}', '{"a": {"b": 1}}') == 0.0


def test_nested_fields_are_leaves_named_by_their_path() -> None:
    assert sorted(leaf_paths(CALL)) == ["input.city", "input.days", "input.units.temp", "name"]
    assert leaf_paths({"stops": ["A", {"x": []}], "a.b": 1}) == ["stops[0]", "stops[1].x", '["a.b"]']


def test_a_missing_field_costs_recall_and_an_extra_one_precision() -> None:
    missing = {"name": "get_weather", "input": {"city": "Paris", "units": {"temp": "C"}}}  # 3 of 4 leaves
    metrics = _one(CALL, missing)
    assert metrics["structural_match"] == 0.0
    assert (metrics["field_precision"], metrics["field_recall"]) == (1.0, 0.75)
    assert metrics["field_f1"] == pytest.approx(2 * 0.75 / 1.75, abs=1e-4)
    extra = {**CALL, "input": {**CALL["input"], "lang": "fr"}}  # 4 right of 5
    metrics = _one(CALL, extra)
    assert (metrics["field_precision"], metrics["field_recall"]) == (0.8, 1.0)
    wrong_value = {**CALL, "input": {**CALL["input"], "days": 4}}  # same paths, one value differs
    metrics = _one(CALL, wrong_value)
    assert (metrics["field_precision"], metrics["field_recall"]) == (0.75, 0.75)
    # A record's score is its field F1: 1 exactly when structurally equal.
    assert record_score("json_match", EXPECTED, json.dumps(wrong_value)) == pytest.approx(0.75)


def test_the_means_are_over_records() -> None:
    pairs = [(EXPECTED, EXPECTED), (EXPECTED, json.dumps({"name": "get_weather"}))]
    metrics = score("json_match", pairs)
    assert metrics["structural_match"] == 0.5
    assert metrics["field_precision"] == 1.0  # (1 + 1) / 2: the short answer's one leaf is right
    assert metrics["field_recall"] == pytest.approx((1 + 0.25) / 2)


# -- parsing the answer -----------------------------------------------------------------------------------


def test_a_fenced_block_or_prose_around_one_object_is_tolerated() -> None:
    fenced = f"Here is the call:\n```json\n{EXPECTED}\n```\nLet me know."
    bare_fence = f"```\n{EXPECTED}\n```"
    prose = f"Sure! I will call {EXPECTED} for you {{not json}}."
    for answer in (fenced, bare_fence, prose, f"  {EXPECTED}\n"):
        assert parse_answer(answer) == CALL, answer
        assert record_score("json_match", EXPECTED, answer) == 1.0
    # The first object that parses is the answer: a brace in the prose before it does not stop it.
    assert parse_answer('use {braces} then {"a": 1} and {"b": 2}') == {"a": 1}


def test_an_unparsable_answer_scores_zero_and_counts_as_a_parse_failure() -> None:
    pairs = [(EXPECTED, "I cannot call a tool for that."), (EXPECTED, '{"name": "get_weather", '), (EXPECTED, EXPECTED)]
    metrics = score("json_match", pairs)
    assert [record_score("json_match", e, a) for e, a in pairs] == [0.0, 0.0, 1.0]
    assert (metrics["parse_failures"], metrics["parse_failure_rate"]) == (2, pytest.approx(0.6667, abs=1e-4))
    assert metrics["parse_rate"] == pytest.approx(0.3333, abs=1e-4)
    assert record_score("json_match", '{"x": 1}', '{"x": NaN}') == 0.0  # NaN is not JSON


def test_a_record_whose_expected_answer_is_text_is_scored_as_text() -> None:
    # A tool-use set where no tool applies to some requests: the expected reply is plain text.
    pairs = [("No tool is needed.", "no tool is needed"), ("No tool is needed.", "Paris"), (EXPECTED, EXPECTED)]
    metrics = score("json_match", pairs)
    assert (metrics["json_records"], metrics["text_records"]) == (1, 2)
    assert metrics["structural_match"] == pytest.approx(2 / 3, abs=1e-4)
    assert (metrics["parse_failures"], metrics["parse_rate"]) == (0, 1.0)


def test_a_tool_call_answer_is_compared_in_the_datas_shape() -> None:
    blocks = [{"text": "<thinking>weather</thinking>"}, {"toolUse": {"toolUseId": "t1", **CALL}}]
    answer = tool_call_text(blocks)
    assert answer is not None
    assert json.loads(answer) == CALL
    assert record_score("json_match", EXPECTED, answer) == 1.0
    # The data names the arguments "parameters" (or "arguments"): the same call.
    data_shape = json.dumps({"name": "get_weather", "parameters": CALL["input"]})
    assert record_score("json_match", data_shape, answer) == 1.0
    assert record_score("json_match", data_shape, json.dumps({"name": "other", "input": CALL["input"]})) < 1
    two = tool_call_text([{"toolUse": {"toolUseId": "a", **CALL}}, {"toolUse": {"toolUseId": "b", **CALL}}])
    assert two is not None
    assert json.loads(two) == [CALL, CALL]
    assert tool_call_text([{"text": "just text"}]) is None
    assert tool_call_text([{"type": "tool_use", "id": "x", **CALL}]) == json.dumps(CALL)  # Anthropic's block


# -- validity against the request's JSON Schema -----------------------------------------------------------


def test_answers_are_checked_against_the_schema_and_violations_counted() -> None:
    wrong_type = {**CALL, "input": {**CALL["input"], "days": "three"}}
    pairs = [(EXPECTED, EXPECTED), (EXPECTED, json.dumps(wrong_type)), (EXPECTED, "no"), ("Plain text.", "x")]
    metrics = score("json_match", pairs, schema=SCHEMA)
    # Over the 3 records whose expected answer is JSON; the unparsable answer is not valid either.
    assert (metrics["schema_valid"], metrics["schema_violations"]) == (pytest.approx(0.3333, abs=1e-4), 2)
    assert metrics["schema_examples"] == ["input.days: expected integer, got string", "the answer is not JSON"]
    assert "schema_valid" not in score("json_match", pairs)  # no schema, no validity
