"""AWS clients, created once per process and replaceable in tests.

Handlers call :func:`client` at invocation time; the first call creates the
client (outside the hot path on warm starts) and later calls reuse it. Tests and
the offline runner call :func:`override` to put moto or the Bedrock fake behind
the same name.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode already retries throttling a few times inside one call;
# the state machine's Retry handles what is left with longer backoff.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, user_agent_extra="bft/0.1")

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    """Return the process-wide client for ``service``."""
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        if service not in _clients:
            _clients[service] = boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]
        return _clients[service]


def override(service: str, value: Any) -> None:
    """Use ``value`` as the client for ``service`` from now on (tests, offline runs)."""
    with _lock:
        _clients[service] = value


def reset() -> None:
    """Forget every client, so the next call creates fresh ones."""
    with _lock:
        _clients.clear()


def resource_table(name: str) -> Any:
    """A DynamoDB Table resource on the shared client's session and endpoint (plain Python values in and out)."""
    key = f"dynamodb-table:{name}"
    found = _clients.get(key)
    if found is None:
        dynamodb = client("dynamodb")
        resource = boto3.resource(
            "dynamodb",
            region_name=dynamodb.meta.region_name,
            endpoint_url=dynamodb.meta.endpoint_url,
            config=_CONFIG,
        )
        found = _clients.setdefault(key, resource.Table(name))
    return found
