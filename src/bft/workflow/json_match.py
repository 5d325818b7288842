"""The ``json_match`` scorer: answers that are JSON (tool calls, structured extraction, custom API payloads).

For each record, the expected answer and the model's answer are parsed as JSON and compared:

- **structural equality** (the record scores 1): equal as JSON values, by JSON Schema's equality
  (:func:`bft.workflow.json_schema.canonical`): object keys in any order, numbers by value (``1`` equals
  ``1.0``), a boolean never equal to a number, strings exactly, arrays in order;
- **field precision and recall** over the leaves of the two values, each leaf named by its path
  (``name``, ``input.city``, ``input.stops[0]``; an empty object or array is a leaf too): precision is the
  share of the answer's leaves present in the expected answer with an equal value, recall the share of the
  expected leaves the answer has with an equal value, F1 their harmonic mean. A record's score is its F1,
  which is 1 exactly when the two values are structurally equal;
- **validity** against the request's optional ``evaluation.jsonSchema`` (:mod:`bft.workflow.json_schema`).

Parsing the model's answer tolerates what chat models wrap JSON in: the whole answer is tried first, then
the first fenced block (```` ```json ... ``` ```` or a bare ```` ``` ````) that parses, then the first JSON
object (from a ``{``) that parses inside leading or trailing prose. Only the first such object is taken.
An answer with no parsable JSON counts as a parse failure and scores 0. ``NaN`` and ``Infinity`` are not
JSON and do not parse.

Tool calls: a Converse ``toolUse`` content block (the model's answer, or the expected answer in the
evaluation data) is read as ``{"name": ..., "input": ...}`` (:func:`tool_call_text`); several blocks as a
list of them. When the expected answer names the arguments otherwise, an object with ``name`` and one other
object-valued key (``{"name": ..., "parameters": {...}}``, ``"arguments"``, ...), an answer of exactly
``{"name", "input"}`` is compared with ``input`` under that key: the same call, in the data's shape.

A record whose expected answer is not JSON (a plain reply where no tool applies) is scored as text: 1 when
the normalized answer equals it, else 0, in every mean; it counts in neither the parse rate nor the schema.

Standard library only: this module ships in the functions' layer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bft.workflow.json_schema import canonical, validate

__all__ = ["METRICS", "compare", "expected_value", "parse_answer", "record_f1", "score_json", "tool_call_text"]

# What json_match returns that a gate may use (each "higher is better"), in report order.
METRICS = ("structural_match", "field_f1", "field_precision", "field_recall", "parse_rate", "schema_valid")
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\r?\n(.*?)```", re.DOTALL)
_NOT_JSON = object()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _loads(text: str) -> Any:
    return _DECODER.decode(text)


def expected_value(text: str) -> Any:
    """The expected answer as JSON: the whole text, or the one fenced block it consists of; else
    :data:`_NOT_JSON` (a text answer). Stricter than :func:`parse_answer`: prose around JSON in the data
    makes it text."""
    stripped = text.strip()
    try:
        return _loads(stripped)
    except ValueError:
        pass
    fenced = _FENCE.fullmatch(stripped)
    if fenced:
        try:
            return _loads(fenced.group(1).strip())
        except ValueError:
            pass
    return _NOT_JSON


def is_json_structure(text: str) -> bool:
    """Whether an expected answer is a JSON object or array (what makes a set look like json_match's)."""
    return isinstance(expected_value(text), dict | list)


def parse_answer(text: str) -> Any:
    """The JSON in a model's answer (see the module docstring), or :data:`_NOT_JSON`."""
    stripped = text.strip()
    try:
        return _loads(stripped)
    except ValueError:
        pass
    for fenced in _FENCE.finditer(text):
        try:
            return _loads(fenced.group(1).strip())
        except ValueError:
            continue
    start = text.find("{")
    while start != -1:
        try:
            return _DECODER.raw_decode(text, start)[0]
        except ValueError:
            start = text.find("{", start + 1)
    return _NOT_JSON


def tool_call_text(blocks: Iterable[Any]) -> str | None:
    """``{"name", "input"}`` as JSON for the tool call among content blocks (Converse ``toolUse``, or an
    Anthropic ``tool_use``), a JSON list for several; None when there is none (the answer is its text)."""
    calls = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        use = block.get("toolUse") if "toolUse" in block else block if block.get("type") == "tool_use" else None
        if isinstance(use, dict):
            calls.append({"name": use.get("name"), "input": use.get("input")})
    if not calls:
        return None
    return json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)


def _in_expected_shape(expected: Any, answer: Any) -> Any:
    """A ``{"name", "input"}`` answer with its ``input`` under the expected answer's arguments key."""
    if not (isinstance(expected, dict) and isinstance(answer, dict)) or set(answer) != {"name", "input"}:
        return answer
    if "name" not in expected or "input" in expected:
        return answer
    others = [key for key in expected if key != "name"]
    if len(others) == 1 and isinstance(expected[others[0]], dict):
        return {"name": answer["name"], others[0]: answer["input"]}
    return answer


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], Any]:
    """Each leaf's path (a tuple of keys and indexes, so ``{"a.b": 1}`` and ``{"a": {"b": 1}}`` differ) to
    its canonical value; an empty object or array is a leaf."""
    if isinstance(value, dict) and value:
        found: dict[tuple[Any, ...], Any] = {}
        for key, item in value.items():
            found.update(_leaves(item, (*path, key)))
        return found
    if isinstance(value, list) and value:
        found = {}
        for index, item in enumerate(value):
            found.update(_leaves(item, (*path, index)))
        return found
    return {path: canonical(value)}


def leaf_paths(value: Any) -> list[str]:
    """The leaves' paths as a reader writes them (``input.city``, ``stops[0]``), for messages and tests."""
    names = []
    for path in _leaves(value):
        text = ""
        for part in path:
            if isinstance(part, int):
                text += f"[{part}]"
            elif part and not any(c in part for c in '.[]" '):
                text += f".{part}" if text else part
            else:
                text += f"[{json.dumps(part)}]"
        names.append(text)
    return names


@dataclass(frozen=True)
class _Record:
    is_json: bool  # the expected answer is JSON
    parsed: bool  # the answer parsed (or the record is text)
    precision: float
    recall: float
    f1: float
    value: Any = None  # the parsed answer, in the expected shape


def _record(expected_text: str, answer_text: str, normalize: Callable[[str], str]) -> _Record:
    expected = expected_value(expected_text)
    if expected is _NOT_JSON:
        same = float(normalize(expected_text) == normalize(answer_text))
        return _Record(False, True, same, same, same)
    answer = parse_answer(answer_text)
    if answer is _NOT_JSON:
        return _Record(True, False, 0.0, 0.0, 0.0)
    answer = _in_expected_shape(expected, answer)
    want, got = _leaves(expected), _leaves(answer)
    common = sum(1 for path, value in got.items() if want.get(path, _NOT_JSON) == value)
    precision, recall = common / len(got), common / len(want)
    f1 = 2 * precision * recall / (precision + recall) if common else 0.0
    return _Record(True, True, precision, recall, f1, answer)


def compare(expected: str, answer: str, normalize: Callable[[str], str]) -> tuple[float, float, float, bool]:
    """One record's (precision, recall, F1, parsed): what a grader reports per answer."""
    found = _record(expected, answer, normalize)
    return found.precision, found.recall, found.f1, found.parsed


def record_f1(expected: str, answer: str, normalize: Callable[[str], str]) -> float:
    """One record's score: its field F1 (1 exactly when structurally equal; 0 when the answer does not parse)."""
    return _record(expected, answer, normalize).f1


def score_json(pairs: list[tuple[str, str]], normalize: Callable[[str], str], schema: Any = None) -> dict[str, Any]:
    """json_match's metrics over (expected, answer) pairs; ``schema_valid`` only with a schema."""
    records = [_record(expected, answer, normalize) for expected, answer in pairs]
    count = len(records)
    structured = [r for r in records if r.is_json]
    failures = sum(1 for r in structured if not r.parsed)
    metrics: dict[str, Any] = {
        "structural_match": round(sum(r.f1 == 1 for r in records) / count, 4),
        "field_f1": round(sum(r.f1 for r in records) / count, 4),
        "field_precision": round(sum(r.precision for r in records) / count, 4),
        "field_recall": round(sum(r.recall for r in records) / count, 4),
        "parse_rate": round(1 - failures / len(structured), 4) if structured else 1.0,
        "parse_failures": failures,
        "parse_failure_rate": round(failures / len(structured), 4) if structured else 0.0,
        "json_records": len(structured),
        "text_records": count - len(structured),
    }
    if schema is not None:
        valid, examples = 0, list[str]()
        for record in structured:
            errors = validate(record.value, schema) if record.parsed else ["the answer is not JSON"]
            valid += not errors
            if errors and len(examples) < 5:
                examples.append(errors[0])
        metrics["schema_valid"] = round(valid / len(structured), 4) if structured else 1.0
        metrics["schema_violations"] = len(structured) - valid
        metrics["schema_examples"] = examples
    return metrics
