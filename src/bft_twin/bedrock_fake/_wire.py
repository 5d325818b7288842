"""Botocore glue: server-side constraint checks, output checks and HTTP-shaped answers.

Botocore validates only required members, types and minimum lengths on the client;
Bedrock itself (Coral) rejects pattern, maximum-length, range and enum violations
with a ``ValidationException``. :func:`constraint_errors` does that server half.

Answers are serialized to a rest-json HTTP response (status, headers, body bytes)
that botocore receives at ``before-send``, in place of the network: its own parser,
retry handler and error factory then act on it exactly as on the same bytes from
AWS (timestamps as botocore's datetimes, ``StreamingBody`` for ``InvokeModel``,
modeled error fields, ``ResponseMetadata`` with ``RetryAttempts``).
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from typing import Any

from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.model import ListShape, MapShape, OperationModel, Shape, StringShape, StructureShape


class ServiceError(Exception):
    """An error the fake answers with, as Bedrock would (``code`` is the AWS error code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@cache
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error:
        # A few Java-only patterns (\p{L}) do not compile in Python; none is on an operation the fake serves.
        return None


def _shown(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def constraint_errors(shape: Shape, value: Any, path: str = "") -> list[str]:
    """Coral-style messages for every constraint ``value`` breaks (botocore checks none of these)."""
    errors: list[str] = []
    meta = shape.metadata

    def fail(constraint: str) -> None:
        errors.append(f"Value '{_shown(value)}' at '{path}' failed to satisfy constraint: {constraint}")

    def check_length(size: int) -> None:
        if "max" in meta and size > meta["max"]:
            fail(f"Member must have length less than or equal to {meta['max']}")
        if "min" in meta and size < meta["min"]:
            fail(f"Member must have length greater than or equal to {meta['min']}")

    if isinstance(shape, StructureShape):
        if shape.is_document_type or not isinstance(value, dict):
            return errors
        for name, member in shape.members.items():
            if value.get(name) is not None:
                errors += constraint_errors(member, value[name], f"{path}.{name}" if path else name)
    elif isinstance(shape, ListShape) and isinstance(value, list):
        check_length(len(value))
        for index, item in enumerate(value):
            errors += constraint_errors(shape.member, item, f"{path}.{index + 1}.member")
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for key, item in value.items():
            errors += constraint_errors(shape.value, item, f"{path}.{key}")
    elif isinstance(shape, StringShape) and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            fail(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        check_length(len(value))
        compiled = _pattern(meta["pattern"]) if "pattern" in meta else None
        # Coral matches the whole value (Java's Pattern.matches), unlike an unanchored search.
        if compiled is not None and compiled.fullmatch(value) is None:
            fail(f"Member must satisfy regular expression pattern: {meta['pattern']}")
    elif shape.type_name in ("integer", "long", "float", "double") and isinstance(value, int | float):
        if "min" in meta and value < meta["min"]:
            fail(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            fail(f"Member must have value less than or equal to {meta['max']}")
    return errors


def validation_message(errors: list[str]) -> str:
    plural = "error" if len(errors) == 1 else "errors"
    return f"{len(errors)} validation {plural} detected: " + "; ".join(errors)


def check_output(shape: Shape, value: Any, path: str) -> None:
    """Fail loudly when the fake builds a response its service model does not allow.

    Stricter than botocore's parser, which silently drops unknown keys: unknown or
    missing members, wrong types, enum values, naive datetimes and ARN patterns all
    raise ``AssertionError`` (a bug in the fake, never a simulated AWS error).
    """

    def bad(reason: str) -> AssertionError:
        return AssertionError(f"Bedrock fake built an invalid response at {path}: {reason} ({value!r:.200})")

    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if shape.is_document_type:
            return
        if not isinstance(value, dict):
            raise bad("expected a dict")
        unknown = set(value) - set(shape.members)
        if unknown:
            raise bad(f"unknown members {sorted(unknown)}")
        missing = [n for n in shape.required_members if value.get(n) is None]
        if missing:
            raise bad(f"missing required members {missing}")
        for name, item in value.items():
            if item is not None:
                check_output(shape.members[name], item, f"{path}.{name}")
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise bad("expected a list")
        for index, item in enumerate(value):
            check_output(shape.member, item, f"{path}[{index}]")
    elif isinstance(shape, MapShape):
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise bad("expected a dict with string keys")
        for key, item in value.items():
            check_output(shape.value, item, f"{path}.{key}")
    elif isinstance(shape, StringShape):
        if not isinstance(value, str):
            raise bad("expected a str")
        if shape.enum and value not in shape.enum:
            raise bad(f"not one of {shape.enum}")
        compiled = _pattern(shape.metadata["pattern"]) if "pattern" in shape.metadata else None
        if compiled is not None and compiled.fullmatch(value) is None:
            raise bad(f"does not match {shape.metadata['pattern']}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad("expected an int")
    elif kind in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise bad("expected a number")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise bad("expected a bool")
    elif kind == "timestamp":
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise bad("expected an aware datetime")
    elif kind == "blob" and not isinstance(value, bytes):
        raise bad("expected bytes")


def _json_value(shape: Shape, value: Any) -> Any:
    if isinstance(shape, StructureShape) and not shape.is_document_type:
        members = shape.members
        return {
            members[k].serialization.get("name", k): _json_value(members[k], v)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(shape, ListShape):
        return [_json_value(shape.member, v) for v in value]
    if isinstance(shape, MapShape):
        return {k: _json_value(shape.value, v) for k, v in value.items()}
    if shape.type_name == "timestamp":
        if shape.serialization.get("timestampFormat") == "unixTimestamp":
            return value.timestamp()
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if shape.type_name == "blob":
        return base64.b64encode(value).decode()
    return value


def _headers(request_id: str, extra: dict[str, str]) -> HeadersDict:
    return HeadersDict(
        {
            "content-type": "application/json",
            "connection": "keep-alive",
            "x-amzn-requestid": request_id,
            **extra,
        }
    )


class RawBody(io.BytesIO):
    """An HTTP response body as urllib3 hands it to botocore (``read`` and ``stream``)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


def _response(url: str, status: int, headers: HeadersDict, body: bytes) -> AWSResponse:
    headers["content-length"] = str(len(body))
    return AWSResponse(url, status, headers, RawBody(body))  # type: ignore[arg-type]


def success(
    url: str,
    operation: OperationModel,
    result: dict[str, Any],
    request_id: str,
    headers: dict[str, str] | None = None,
) -> AWSResponse:
    """Check ``result`` against the output shape, then serialize it as Bedrock's HTTP response."""
    shape = operation.output_shape
    extra: dict[str, str] = dict(headers or {})
    body = b"{}"
    if isinstance(shape, StructureShape):
        check_output(shape, result, operation.name)
        payload = shape.serialization.get("payload")
        document: dict[str, Any] = {}
        for name, value in result.items():
            member = shape.members[name]
            location = member.serialization.get("location")
            if location == "header":
                extra[member.serialization["name"].lower()] = str(value)
            elif name == payload:
                body = value
            else:
                document[member.serialization.get("name", name)] = _json_value(member, value)
        if payload is None:
            body = json.dumps(document).encode()
    status = int(operation.http.get("responseCode", 200))
    return _response(url, status, _headers(request_id, extra), body)


def error_status(operation: OperationModel, code: str) -> int:
    shape = operation.service_model.shape_for_error_code(code)  # type: ignore[arg-type]
    if shape is None:
        raise ValueError(f"{code} is not an error of the {operation.service_model.service_name} model")
    return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))


def modeled_errors(operation: OperationModel) -> set[str]:
    return {shape.name for shape in operation.error_shapes}


def failure(
    url: str,
    operation: OperationModel,
    error: ServiceError,
    request_id: str,
    headers: dict[str, str] | None = None,
) -> AWSResponse:
    """Bedrock's rest-json error response (``x-amzn-errortype`` header, ``{"message"}`` body) with the error's
    HTTP status; botocore parses it into ``ClientError`` and its retry handler sees the real status and code."""
    if error.code not in modeled_errors(operation):
        # The fake must only answer with errors the real operation declares.
        raise AssertionError(f"Bedrock fake raised {error.code}, which {operation.name} does not declare")
    error_type = f"{error.code}:http://internal.amazon.com/coral/com.amazon.bedrock/"
    all_headers = _headers(request_id, {**(headers or {}), "x-amzn-errortype": error_type})
    body = json.dumps({"message": error.message}).encode()
    return _response(url, error_status(operation, error.code), all_headers, body)
