"""AWS clients, created once per process and replaceable in tests.

Handlers call :func:`client` at invocation time; the first call creates the
client (outside the hot path on warm starts) and later calls reuse it. Tests and
the offline runner call :func:`override` to put moto or the Bedrock fake behind
the same name.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode already retries throttling a few times inside one call;
# the state machine's Retry handles what is left with longer backoff.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, user_agent_extra="bft/0.1")

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_overrides: dict[str, Any] = {}
# The offline run gives each Lambda function a cache of its own, as each function is its own process in
# AWS: its clients carry its execution role's credentials, not another function's.
_scoped: ContextVar[tuple[dict[str, Any], Any] | None] = ContextVar("bft_aws_clients", default=None)


def _cache() -> dict[str, Any]:
    scoped = _scoped.get()
    return _clients if scoped is None else scoped[0]


def _factory() -> Any:
    """Where clients come from: boto3's default session, or the scope's own session."""
    scoped = _scoped.get()
    return boto3 if scoped is None or scoped[1] is None else scoped[1]


def client(service: str, *, region: str | None = None) -> Any:
    """Return the process-wide client for ``service``.

    ``region`` pins the client to a region whatever AWS_DEFAULT_REGION says: the CLI passes the environment's
    configured region (handlers run in their function's region and leave it out).
    """
    found = _overrides.get(service)
    if found is not None:
        return found
    key = service if region is None else f"{service}@{region}"
    cache = _cache()
    found = cache.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in cache:
            cache[key] = _factory().client(service, region_name=region, config=_CONFIG)
        return cache[key]


def override(service: str, value: Any) -> None:
    """Use ``value`` as the client for ``service`` from now on (tests, offline runs)."""
    with _lock:
        _overrides[service] = value


def reset() -> None:
    """Forget every client, so the next call creates fresh ones."""
    with _lock:
        _clients.clear()
        _overrides.clear()


@contextmanager
def scoped(cache: dict[str, Any], session: Any = None) -> Iterator[None]:
    """Keep this thread's clients in ``cache`` meanwhile, created from ``session`` if given (overrides win)."""
    token = _scoped.set((cache, session))
    try:
        yield
    finally:
        _scoped.reset(token)


def resource_table(name: str) -> Any:
    """A DynamoDB Table resource on the shared client's session and endpoint (plain Python values in and out)."""
    key = f"dynamodb-table:{name}"
    cache = _cache()
    found = cache.get(key)
    if found is None:
        dynamodb = client("dynamodb")
        resource = _factory().resource(
            "dynamodb",
            region_name=dynamodb.meta.region_name,
            endpoint_url=dynamodb.meta.endpoint_url,
            config=_CONFIG,
        )
        found = cache.setdefault(key, resource.Table(name))
    return found


def send_https(request: Any, *, timeout: float) -> tuple[int, bytes]:
    """Send a signed botocore ``AWSRequest`` over HTTPS with the standard library: (status, body) for every HTTP
    answer, errors included. Refuses plain HTTP: a signature is never sent in the clear. Used where no client
    exists for the call (a function URL, an STS request signed by someone else)."""
    import urllib.error
    import urllib.request

    url = request.url or ""
    if not url.startswith("https://"):
        raise ValueError(f"refusing to send a signed request over plain HTTP: {url!r}")
    body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
    outgoing = urllib.request.Request(url, data=body, headers=dict(request.headers.items()), method=request.method)
    try:
        with urllib.request.urlopen(outgoing, timeout=timeout) as answer:
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read() or b"")
