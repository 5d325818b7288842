"""The JSON Schema subset json_match validates answers with, in the standard library: what it accepts, the
errors it names by path, and the schemas (and keywords outside the subset) it refuses."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bft.workflow.json_schema import SchemaError, check_schema, validate

CALL = {"name": "get_weather", "input": {"city": "Paris", "days": 3, "units": {"temp": "C"}}}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "get_weather call",
    "type": "object",
    "required": ["name", "input"],
    "additionalProperties": False,
    "properties": {
        "name": {"enum": ["get_weather", "get_time"]},
        "input": {
            "type": "object",
            "description": "the tool's arguments",
            "required": ["city"],
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "units": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
                "stops": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}


def test_a_valid_answer_satisfies_the_schema() -> None:
    check_schema(SCHEMA)
    assert validate(CALL, SCHEMA) == []
    assert validate({**CALL, "input": {"city": "Oslo", "days": 2.0, "units": None}}, SCHEMA) == []  # 2.0 is integer


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"name": "get_weather"}, "the value: required property 'input' is missing"),
        ({**CALL, "id": 7}, "id: property not allowed (additionalProperties is false)"),
        ({**CALL, "name": "get_news"}, 'name: "get_news" is not one of "get_weather", "get_time"'),
        ({**CALL, "input": {"city": 75001}}, "input.city: expected string, got number"),
        ({**CALL, "input": {"city": "Paris", "days": 2.5}}, "input.days: expected integer, got number"),
        ({**CALL, "input": {"city": "Paris", "days": True}}, "input.days: expected integer, got boolean"),
        ({**CALL, "input": {"city": "Paris", "units": {"temp": 1}}}, "input.units.temp: expected string, got number"),
        ({**CALL, "input": {"city": "Paris", "stops": ["A", 2]}}, "input.stops[1]: expected string, got number"),
        (["not", "an", "object"], "the value: expected object, got array"),
    ],
)
def test_schema_violations_are_named_by_path(answer: Any, error: str) -> None:
    assert validate(answer, SCHEMA)[0] == error


def test_true_and_false_are_schemas() -> None:
    check_schema({"properties": {"anything": True, "nothing": False}})
    assert validate({"anything": [1]}, {"properties": {"anything": True}}) == []
    assert validate({"nothing": 1}, {"properties": {"nothing": False}}) == ["nothing: no value is allowed here"]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("object", r"evaluation.jsonSchema: a schema is an object \(or true / false\), not string"),
        ({"type": "text"}, r"evaluation.jsonSchema.type: 'text' is not a type"),
        ({"type": ["string", "string"]}, r"evaluation.jsonSchema.type: .* a list of distinct types"),
        ({"type": []}, r"evaluation.jsonSchema.type"),
        ({"properties": []}, r"evaluation.jsonSchema.properties: an object of property name to schema, not array"),
        ({"properties": {"city": "string"}}, r"evaluation.jsonSchema.properties.city: a schema is an object"),
        ({"required": "city"}, r"evaluation.jsonSchema.required: a list of distinct property names"),
        ({"required": ["a", "a"]}, r"evaluation.jsonSchema.required"),
        ({"enum": "a"}, r"evaluation.jsonSchema.enum: a list of the allowed values"),
        ({"items": [{"type": "string"}]}, r"evaluation.jsonSchema.items: the list \(tuple\) form"),
        ({"additionalProperties": 1}, r"evaluation.jsonSchema.additionalProperties: a schema is an object"),
        ({"$schema": "http://json-schema.org/draft-04/schema#"}, r"evaluation.jsonSchema.\$schema: .* is not one of"),
    ],
)
def test_a_schema_that_is_not_json_schema_is_refused_naming_where(schema: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        check_schema(schema)


@pytest.mark.parametrize("keyword", ["minLength", "pattern", "$ref", "oneOf", "prefixItems", "format", "$defs"])
def test_a_keyword_outside_the_subset_is_refused_not_ignored(keyword: str) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string", keyword: 3}}}
    with pytest.raises(
        SchemaError, match=rf"properties.city.{re.escape(keyword)}: keyword '{re.escape(keyword)}' is outside"
    ):
        check_schema(schema)


def test_draft_7_and_2019_dialects_are_accepted_for_the_subset() -> None:
    check_schema({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"})
    check_schema({"$schema": "https://json-schema.org/draft/2019-09/schema", "type": "object"})
