"""A small JSON Schema (Draft 2020-12) validator: the subset ``json_match`` needs, in the standard library.

The functions' layer is the standard library and boto3, so ``jsonschema`` (and its dependencies) is not
there. This module validates a team's ``evaluation.jsonSchema`` with these keywords only, with their Draft
2020-12 meaning (the same in Draft 2019-09 and Draft 7 for this subset):

- ``type``: one of ``null``, ``boolean``, ``object``, ``array``, ``number``, ``string``, ``integer``, or a
  list of them (``integer`` also takes a number with no fractional part, such as ``1.0``; a boolean is never
  a number);
- ``properties``: a schema per property name, applied to the properties present;
- ``required``: property names that must be present;
- ``enum``: the value equals one of these (JSON equality: :func:`canonical`);
- ``items``: one schema every element of an array satisfies (the tuple form, ``prefixItems`` in 2020-12,
  is not supported);
- ``additionalProperties``: the schema of the properties ``properties`` does not name (``false``: none);
- ``true`` and ``false`` as schemas (anything, nothing).

Annotations that never change whether a value is valid are accepted and ignored: ``title``,
``description``, ``default``, ``examples``, ``deprecated``, ``readOnly``, ``writeOnly``, ``$comment`` and a
``$schema`` naming Draft 2020-12, 2019-09 or 7. Every other keyword (``$ref``, ``minLength``, ``pattern``,
``oneOf``, ...) is refused by :func:`check_schema`, not ignored: a schema that says more than the validator
checks would pass answers it should fail.
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

__all__ = ["SUPPORTED", "SchemaError", "canonical", "check_schema", "validate"]

SUPPORTED = ("type", "properties", "required", "enum", "items", "additionalProperties")
ANNOTATIONS = ("title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly", "$comment")
DIALECTS = (
    "https://json-schema.org/draft/2020-12/schema",
    "https://json-schema.org/draft/2019-09/schema",
    "http://json-schema.org/draft-07/schema",
)
TYPES = ("null", "boolean", "object", "array", "number", "string", "integer")
# A schema rides in the run's state (256 KB per state in Step Functions) and is walked recursively.
MAX_SCHEMA_BYTES = 32 * 1024
MAX_DEPTH = 32
# Errors one validation reports at most (one is enough to fail an answer; a few help a reader).
MAX_ERRORS = 5


class SchemaError(ValueError):
    """The schema is not a JSON Schema of the supported subset; the message names where and why."""


def canonical(value: Any) -> Any:
    """A hashable form under which two JSON values are equal exactly when JSON Schema calls them equal
    (2020-12 core, section 4.2.2): numbers by value (``1 == 1.0``), a boolean never a number, object keys
    in any order, arrays in order."""
    if value is None or isinstance(value, bool | str):
        return (type(value).__name__, value)
    if isinstance(value, int | float):
        return ("number", Fraction(value))
    if isinstance(value, list):
        return ("array", tuple(canonical(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((key, canonical(item)) for key, item in value.items()))
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def check_schema(schema: Any, where: str = "evaluation.jsonSchema") -> None:
    """Raise SchemaError naming ``where`` and the keyword when ``schema`` is not a valid schema of the subset."""
    try:
        size = len(json.dumps(schema, allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"{where}: not a JSON value ({exc})") from exc
    if size > MAX_SCHEMA_BYTES:
        raise SchemaError(f"{where}: {size:,} bytes, more than {MAX_SCHEMA_BYTES:,}")
    _check(schema, where, 0)


def _check(schema: Any, where: str, depth: int) -> None:
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise SchemaError(f"{where}: a schema is an object (or true / false), not {_kind(schema)}")
    if depth > MAX_DEPTH:
        raise SchemaError(f"{where}: nested more than {MAX_DEPTH} levels deep")
    for keyword, value in schema.items():
        at = f"{where}.{keyword}"
        if keyword in ANNOTATIONS:
            continue
        if keyword == "$schema":
            if value not in DIALECTS and str(value).rstrip("#") not in DIALECTS:
                raise SchemaError(f"{at}: {value!r} is not one of {', '.join(DIALECTS)}")
        elif keyword == "type":
            names = value if isinstance(value, list) else [value]
            if not names or any(name not in TYPES for name in names) or len(set(names)) != len(names):
                raise SchemaError(f"{at}: {value!r} is not a type ({', '.join(TYPES)}) or a list of distinct types")
        elif keyword == "properties":
            if not isinstance(value, dict):
                raise SchemaError(f"{at}: an object of property name to schema, not {_kind(value)}")
            for name, sub in value.items():
                _check(sub, f"{at}.{name}", depth + 1)
        elif keyword == "required":
            names_ok = isinstance(value, list) and all(isinstance(n, str) for n in value)
            if not names_ok or len(set(value)) != len(value):
                raise SchemaError(f"{at}: a list of distinct property names, not {value!r}")
        elif keyword == "enum":
            if not isinstance(value, list):
                raise SchemaError(f"{at}: a list of the allowed values, not {_kind(value)}")
        elif keyword == "items":
            if isinstance(value, list):
                raise SchemaError(
                    f"{at}: the list (tuple) form is Draft 7's and prefixItems in 2020-12, outside the supported subset"
                )
            _check(value, at, depth + 1)
        elif keyword == "additionalProperties":
            _check(value, at, depth + 1)
        else:
            raise SchemaError(
                f"{at}: keyword {keyword!r} is outside the subset this pipeline validates "
                f"({', '.join(SUPPORTED)}, and annotations such as description); remove it rather than have it "
                "ignored"
            )


def validate(instance: Any, schema: Any) -> list[str]:
    """Why ``instance`` does not satisfy ``schema`` (a schema :func:`check_schema` accepted): at most
    :data:`MAX_ERRORS` messages, each naming the value's path; empty when it does."""
    errors: list[str] = []
    _validate(instance, schema, "", errors)
    return errors[:MAX_ERRORS]


def _validate(instance: Any, schema: Any, path: str, errors: list[str]) -> None:
    if len(errors) >= MAX_ERRORS or schema is True:
        return
    where = path or "the value"
    if schema is False:
        errors.append(f"{where}: no value is allowed here")
        return
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        if not any(_is(instance, name) for name in names):
            errors.append(f"{where}: expected {' or '.join(names)}, got {_kind(instance)}")
            return
    if "enum" in schema and canonical(instance) not in {canonical(v) for v in schema["enum"]}:
        allowed = ", ".join(json.dumps(v) for v in schema["enum"][:5]) + (", ..." if len(schema["enum"]) > 5 else "")
        errors.append(f"{where}: {_short(instance)} is not one of {allowed}")
    if isinstance(instance, dict):
        for name in schema.get("required") or []:
            if name not in instance:
                errors.append(f"{where}: required property {name!r} is missing")
        properties = schema.get("properties") or {}
        for name, value in instance.items():
            sub = properties.get(name, schema.get("additionalProperties", True))
            if sub is False and name not in properties:
                errors.append(f"{_join(path, name)}: property not allowed (additionalProperties is false)")
                continue
            _validate(value, sub, _join(path, name), errors)
    if isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            _validate(item, schema["items"], f"{path}[{index}]", errors)


def _is(value: Any, name: str) -> bool:
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return _kind(value) == name


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _join(path: str, name: str) -> str:
    """A property's path as a reader writes it: ``input.city``; a name with a dot or bracket quoted."""
    if name and not any(c in name for c in '.[]" '):
        return f"{path}.{name}" if path else name
    return f"{path}[{json.dumps(name)}]"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
