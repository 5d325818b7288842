"""EventBridge semantics the runner applies itself: event envelopes, rule matching and target input.

Matching uses moto's own pattern matcher (``moto.events.models.EventPattern``),
so a pattern behaves as in moto's PutEvents. Target input follows EventBridge:
``Input`` is constant JSON, ``InputPath`` selects part of the event and
``InputTransformer`` fills ``<name>`` placeholders, inserting a value as JSON
outside a string literal and as raw text inside one.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from moto.events.models import EventPattern
from moto.events.utils import EventMessageType

__all__ = ["complete_event", "json_path", "matches", "scheduled_event", "target_input"]

_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def complete_event(event: Mapping[str, Any], *, region: str, account_id: str) -> dict[str, Any]:
    """An event as a rule target receives it: the envelope filled in.

    Accepts the envelope form (``source``, ``detail-type``, ``detail``) or a
    PutEvents entry (``Source``, ``DetailType``, ``Detail`` as a JSON string).
    """
    if "Source" in event or "DetailType" in event:
        detail = event.get("Detail", "{}")
        event = {
            "source": event.get("Source"),
            "detail-type": event.get("DetailType"),
            "resources": list(event.get("Resources", [])),
            "detail": json.loads(detail) if isinstance(detail, str) else detail,
        }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": {},
        **event,
    }


def scheduled_event(rule_arn: str, *, region: str, account_id: str) -> dict[str, Any]:
    return complete_event(
        {"source": "aws.events", "detail-type": "Scheduled Event", "resources": [rule_arn]},
        region=region,
        account_id=account_id,
    )


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    return EventPattern.load(json.dumps(pattern)).matches_event(cast(EventMessageType, dict(event)))


def json_path(document: Any, path: str) -> Any:
    """Evaluate a simple JSON path (``$``, ``$.a.b``, ``$.a[0]``, ``$['a-b']``); missing parts give None."""
    if not path.startswith("$"):
        raise ValueError(f"not a JSON path: {path!r}")
    value = document
    position = 1
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if match is None:
            raise ValueError(f"unsupported JSON path {path!r} at {path[position:]!r}")
        key, index, quoted, double_quoted = match.groups()
        if index is not None:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        else:
            name = key if key is not None else quoted if quoted is not None else double_quoted
            value = value.get(name) if isinstance(value, dict) else None
        position = match.end()
    return value


def target_input(target: Mapping[str, Any], event: Mapping[str, Any], *, rule_name: str, rule_arn: str) -> Any:
    """What the target receives for ``event``."""
    if "Input" in target:
        text = target["Input"]
        return json.loads(text) if isinstance(text, str) else text
    if "InputPath" in target:
        return json_path(event, target["InputPath"])
    transformer = target.get("InputTransformer")
    if transformer:
        values = {name: json_path(event, path) for name, path in transformer.get("InputPathsMap", {}).items()}
        values.update(
            {
                "aws.events.rule-arn": rule_arn,
                "aws.events.rule-name": rule_name,
                "aws.events.event.ingestion-time": event.get("time"),
                "aws.events.event": event,
                "aws.events.event.json": event,
            }
        )
        text = _fill_template(transformer["InputTemplate"], values)
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text  # a plain-text template delivers a string
    return dict(event)


def _fill_template(template: str, values: Mapping[str, Any]) -> str:
    """Replace ``<name>`` placeholders, as JSON outside string literals and as raw text inside them."""
    out: list[str] = []
    in_string = False
    position = 0
    while position < len(template):
        char = template[position]
        if char == "\\" and in_string:
            out.append(template[position : position + 2])
            position += 2
            continue
        if char == '"':
            in_string = not in_string
        elif char == "<":
            end = template.find(">", position)
            name = template[position + 1 : end] if end != -1 else ""
            if name in values:
                value = values[name]
                if in_string:
                    raw = "" if value is None else value if isinstance(value, str) else json.dumps(value)
                    out.append(json.dumps(raw)[1:-1])
                else:
                    out.append(json.dumps(value))
                position = end + 1
                continue
        out.append(char)
        position += 1
    return "".join(out)
