"""The client wiring: real boto3 clients whose Bedrock calls the fake answers at botocore's HTTP layer."""

from __future__ import annotations

import copy
import email.utils
import functools
import sys
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.hooks import BaseEventHooks
from botocore.model import OperationModel, ServiceModel

from bft_twin.bedrock_fake import _wire
from bft_twin.bedrock_fake._core import _PARAMS_KEY, _Core, _Reply
from bft_twin.bedrock_fake._records import Attempt
from bft_twin.bedrock_fake._serving import _Hold
from bft_twin.bedrock_fake._wire import ServiceError

if TYPE_CHECKING:
    from mypy_boto3_bedrock import BedrockClient
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient


_MODEL_KEY = "bft_bedrock_fake_operation"


def _detach_moto(events: BaseEventHooks) -> None:
    """Keep moto's stubber off a client the fake serves.

    moto answers every AWS URL at ``before-send`` on the clients it is registered on, and botocore calls
    every ``before-send`` handler even after one has answered: a Bedrock client served by the fake must not
    also reach moto's own Bedrock backend (its side effects, its NotImplementedError for other operations).
    """
    moto_models = sys.modules.get("moto.core.models")
    stubber = getattr(moto_models, "botocore_stubber", None)
    if stubber is not None:
        events.unregister("before-send", stubber)


class _Wiring(_Core):
    """:meth:`client` and :meth:`attach`: botocore's hooks that route each HTTP attempt to an operation's handler."""

    # The rest of the fake, on :class:`FakeBedrock`: simulated time and event delivery, and (from _Serving) the
    # capacity a model call holds while it takes its simulated latency.
    _advance: Callable[[float], None]
    _deliver: Callable[[], None]
    _release_capacity: Callable[[], _Hold | None]
    _end_hold: Callable[[_Hold], None]

    @overload
    def client(self, service: Literal["bedrock"]) -> BedrockClient: ...

    @overload
    def client(self, service: Literal["bedrock-runtime"]) -> BedrockRuntimeClient: ...

    def client(self, service: str) -> Any:
        """A real boto3 client for ``service`` (dummy credentials) with the fake attached."""
        with _SESSION_LOCK:
            # One shared session: it caches the parsed service models (a new one costs ~0.15 s per client).
            created = _session().client(  # type: ignore[call-overload]
                service,
                region_name=self.region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                # Three attempts in all (botocore's retries["max_attempts"] would count retries only).
                config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
            )
        return self.attach(created)

    def attach(self, client: Any) -> Any:
        """Answer every call of ``client`` (a bedrock or bedrock-runtime client) from this fake."""
        service = client.meta.service_model.service_name
        if service not in ("bedrock", "bedrock-runtime"):
            raise ValueError(f"the Bedrock fake cannot serve a {service!r} client")
        if client.meta.region_name != self.region:
            # Assumption: one fake is one region, as each Bedrock endpoint is.
            raise ValueError(f"client region {client.meta.region_name} differs from the fake's {self.region}")
        owner = getattr(client, "_bft_bedrock_fake", None)
        if owner is self:
            return client
        if owner is not None:
            raise ValueError("client is already attached to another FakeBedrock")
        service_id = client.meta.service_model.service_id.hyphenize()
        events = client.meta.events
        # Last, so botocore's own handlers (idempotency-token autofill) have run.
        events.register_last(f"before-parameter-build.{service_id}", self._capture_params)
        events.register_first(f"before-call.{service_id}", self._before_call)
        events.register_first(f"before-send.{service_id}", self._before_send)
        _detach_moto(events)
        client._bft_bedrock_fake = self
        return client

    @staticmethod
    def _capture_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # before-call only sees the serialized request; keep the caller's parameters beside it.
        context[_PARAMS_KEY] = params

    def _before_call(self, model: OperationModel, context: dict[str, Any], **_: Any) -> None:
        # Unserved operations fail here, once, rather than as an HTTP answer botocore might retry.
        service = model.service_model.service_name
        if (service, model.name) not in self._handlers:
            raise NotImplementedError(
                f"Bedrock fake: {service} operation {model.name} is not implemented; "
                "add it to bft_twin.bedrock_fake instead of relying on an empty answer"
            )
        context[_MODEL_KEY] = model

    def _before_send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        """Answer one HTTP attempt, as Bedrock's endpoint would (botocore retries above this)."""
        # botocore hands the call's request context along on the prepared request (absent from its stubs).
        context: dict[str, Any] = getattr(request, "context", None) or {}
        model: OperationModel | None = context.get(_MODEL_KEY)
        if model is None or _PARAMS_KEY not in context:
            return None  # not a call this fake attached to
        handler = self._handlers[(model.service_model.service_name, model.name)]
        params = dict(context[_PARAMS_KEY])
        body = params.get("body")
        if body is not None and hasattr(body, "read"):
            # A stream: read it, then put it back where it was for botocore's own retry of this request.
            start = body.tell() if hasattr(body, "tell") else None
            params["body"] = body.read()
            if start is not None and hasattr(body, "seek"):
                body.seek(start)
        elif isinstance(body, str | bytearray):
            params["body"] = body.encode() if isinstance(body, str) else bytes(body)
        request_params = copy.deepcopy(params)
        retries = context.get("retries") or {}
        with self._lock:
            request_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            now = self._sim_now()
        headers = {"date": email.utils.formatdate(now, usegmt=True)}
        code: str | None = None
        try:
            with self._lock:
                self._calls.append((model.name, copy.deepcopy(request_params)))
                self._advance(now)
                # Assumption: injected faults (throttling, outages) win over request validation.
                self._take_fault(model)
                errors = _wire.constraint_errors(model.input_shape, request_params) if model.input_shape else []
                if errors:
                    raise ServiceError("ValidationException", _wire.validation_message(errors))
                try:
                    result = handler(request_params, now)
                except BaseException:
                    failed = self._release_capacity()
                    if failed is not None:
                        self._in_flight[failed.target] -= 1
                    raise
                hold = self._release_capacity()
            if hold is not None and self._latency_sleep is not None:
                # The answer takes its latency, outside the state lock: other requests run meanwhile, and
                # those past the target's capacity are throttled.
                try:
                    self._latency_sleep(hold.seconds)
                finally:
                    self._end_hold(hold)
            if isinstance(result, _Reply):
                return _wire.success(request.url, model, result.body, request_id, headers | result.headers)
            return _wire.success(request.url, model, result, request_id, headers)
        except ServiceError as error:
            code = error.code
            return _wire.failure(request.url, model, error, request_id, headers)
        finally:
            with self._lock:
                self._attempts.append(
                    Attempt(
                        operation=model.name,
                        invocation=str(retries.get("invocation-id", request_id)),
                        attempt=int(retries.get("attempt", 1)),
                        error=code,
                    )
                )
            self._deliver()

    def _operation_model(self, operation: str) -> OperationModel:
        for service in ("bedrock", "bedrock-runtime"):
            if (service, operation) in self._handlers:
                return _service_model(service).operation_model(operation)
        raise ValueError(f"the Bedrock fake does not serve operation {operation!r}")


# Sessions are not thread-safe for creating clients; clients themselves are.
_SESSION_LOCK = threading.Lock()


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@functools.cache
def _service_model(service: str) -> ServiceModel:
    with _SESSION_LOCK:
        return _session()._session.get_service_model(service)
