"""The fake itself: state, simulated time, events, fault injection and the operations."""

from __future__ import annotations

import copy
import email.utils
import functools
import logging
import random
import re
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.hooks import BaseEventHooks
from botocore.model import OperationModel, ServiceModel

from bft_twin import catalog as catalog_module
from bft_twin.bedrock_fake import _wire
from bft_twin.bedrock_fake._core import (
    _DEFAULT_DEPLOYMENT,
    _DEFAULT_DEPLOYMENT_UPDATE,
    _DEFAULT_THROUGHPUT,
    _FAULT_MESSAGES,
    _INVALID_MODEL,
    _PARAMS_KEY,
    Event,
    _Reply,
)
from bft_twin.bedrock_fake._jobs import _Jobs
from bft_twin.bedrock_fake._learner import Learner
from bft_twin.bedrock_fake._records import (
    PHASES,
    Attempt,
    Counters,
    CustomModel,
    Deployment,
    DeploymentOutcome,
    DeploymentUpdateOutcome,
    Fault,
    Job,
    JobOutcome,
    JobPlan,
    Phase,
    PlanQueue,
    ReadyPlan,
    Step,
    Throughput,
    ThroughputOutcome,
)
from bft_twin.bedrock_fake._serving import CONCURRENT_REQUESTS_PER_MODEL_UNIT, _Serving
from bft_twin.bedrock_fake._wire import ServiceError
from bft_twin.catalog import Catalog, FoundationModel

if TYPE_CHECKING:
    from mypy_boto3_bedrock import BedrockClient
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

logger = logging.getLogger(__name__)

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


class FakeBedrock(_Jobs, _Serving):
    """A strict, in-process Amazon Bedrock behind real boto3 clients.

    The fake answers at botocore's HTTP layer (the ``before-send`` event, in place of
    the network): botocore has already validated the request against the service
    model (``ParamValidationError`` as with AWS), the fake then checks what Bedrock
    itself checks (patterns, lengths, enums, then the operation's rules) and answers
    with Bedrock's rest-json HTTP response, which botocore parses, so errors surface as
    real ``ClientError`` exceptions with Bedrock's code and HTTP status.

    Time is simulated: ``time_scale`` simulated seconds pass per second of ``clock``
    (plus whatever :meth:`advance` adds). Every call, :meth:`tick` and the optional
    ticker thread bring jobs, provisioned throughputs and deployments up to date and
    emit job state-change events (EventBridge-shaped) to ``on_event``, in order and
    outside the state lock. An exception from ``on_event`` reaches whoever triggered
    the delivery: the API caller, :meth:`tick`/:meth:`advance`, or :meth:`stop_ticker`.

    Botocore's retry handler sits above ``before-send``, so it sees every answer as it
    would see AWS's: an injected 429/500/503 is retried by the client's retry mode
    (``standard`` with 3 attempts in all for :meth:`client`), and only what is left after
    the client's attempts are spent reaches the caller
    (``docs/bedrock-behaviour.md#throttling-retries``). Each HTTP attempt is one entry
    of :attr:`calls` and :attr:`attempts`, and consumes one injected fault.

    Parameters beyond the obvious ones: ``s3`` (a boto3 S3 client, e.g. moto's) lets
    the fake check training data and write metric CSVs; ``catalog`` replaces the
    foundation-model catalog (see :func:`bft_twin.catalog.catalog`); ``no_commit_model_units`` is the
    quota of no-commitment model units across custom models, 0 by default as on a new
    account (``docs/bedrock-behaviour.md#no-commit-quota``): a scenario that serves a
    custom model sets it; ``legacy_allows_customization`` (a **guess**, default True)
    decides whether a LEGACY base model still accepts customization jobs
    (``docs/bedrock-behaviour.md#legacy-restrictions``); ``latency_sleep`` (the offline world passes its
    virtual clock's sleep) makes each Converse/InvokeModel take its simulated latency and occupy one of its
    target's concurrent slots meanwhile: past a throughput's, deployment's or base model's capacity the
    request is throttled (``docs/bedrock-behaviour.md#evaluation-capacity``; ``requests_per_model_unit``
    sets a model unit's share, an assumption); ``seed`` makes ids, events and
    metrics reproducible.

    Simulated results are computed, not preset: when a job completes the fake trains a small learner
    (:mod:`bft_twin.bedrock_fake._learner`, a naive Bayes stand-in) on the job's training file; its loss is
    the job's metrics and its predictions are the custom model's answers. A base model answers from a fixed
    zero-shot heuristic that never sees the training data (:func:`bft_twin.bedrock_fake._inference.zero_shot`).
    """

    def __init__(
        self,
        *,
        region: str = "us-west-2",
        account_id: str = "123456789012",
        s3: Any = None,
        on_event: Callable[[Event], None] | None = None,
        clock: Callable[[], float] = time.time,
        time_scale: float = 3600.0,
        catalog: Catalog | None = None,
        no_commit_model_units: int = 0,
        max_running_jobs: int | None = None,
        legacy_allows_customization: bool = True,
        seed: int = 0,
        service_role_s3: Callable[[str, str], Any] | None = None,
        latency_sleep: Callable[[float], None] | None = None,
        requests_per_model_unit: int = CONCURRENT_REQUESTS_PER_MODEL_UNIT,
    ) -> None:
        if not re.fullmatch(r"\d{12}", account_id):
            raise ValueError("account_id must be 12 digits")
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0 (0 freezes time except for advance())")
        self.region = region
        self.account_id = account_id
        self._s3 = s3
        # (role ARN, job ARN) -> an S3 client acting as the job's service role, after its trust policy let
        # Bedrock assume it; raises ServiceError when it does not. None: S3 access through ``s3`` unchecked.
        self._service_role_s3 = service_role_s3
        self._on_event = on_event
        self._clock = clock
        self._time_scale = time_scale
        self._origin = clock()
        self._offset = 0.0
        self.catalog = catalog or catalog_module.catalog()
        # Custom model ARN -> what its job learned from the training data (bedrock_fake._learner).
        self._learners: dict[str, Learner] = {}
        self._no_commit_units = no_commit_model_units
        self._max_running_jobs = max_running_jobs
        self._legacy_allows_customization = legacy_allows_customization
        self._seed = seed
        self._rng = random.Random(seed)

        self._lock = threading.RLock()
        self._dispatch_lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._models: dict[str, CustomModel] = {}
        self._throughputs: dict[str, Throughput] = {}
        self._deployments: dict[str, Deployment] = {}
        self._tags: dict[str, list[dict[str, str]]] = {}
        self._tokens: dict[tuple[str, str], str] = {}
        self._faults: list[Fault] = []
        self._job_plans: PlanQueue[JobPlan] = PlanQueue(JobPlan())
        self._throughput_plans: PlanQueue[ReadyPlan] = PlanQueue(_DEFAULT_THROUGHPUT)
        self._deployment_plans: PlanQueue[ReadyPlan] = PlanQueue(_DEFAULT_DEPLOYMENT)
        self._deployment_update_plans: PlanQueue[ReadyPlan] = PlanQueue(_DEFAULT_DEPLOYMENT_UPDATE)
        self._dropping = False
        self._outbox: deque[Event] = deque()
        self._events: list[Event] = []
        self._calls: list[tuple[str, dict[str, Any]]] = []
        self._attempts: list[Attempt] = []
        self.counters = Counters()
        self._latency_sleep = latency_sleep
        self._requests_per_model_unit = requests_per_model_unit
        self._in_flight = {}
        self._holds = {}
        self.peak_in_flight = {}
        self._ticker: threading.Thread | None = None
        self._ticker_stop = threading.Event()
        self._ticker_error: BaseException | None = None
        self._handlers: dict[tuple[str, str], Callable[[dict[str, Any], float], dict[str, Any] | _Reply]] = {
            ("bedrock", "CreateModelCustomizationJob"): self._create_job,
            ("bedrock", "GetModelCustomizationJob"): self._get_job,
            ("bedrock", "StopModelCustomizationJob"): self._stop_job,
            ("bedrock", "ListModelCustomizationJobs"): self._list_jobs,
            ("bedrock", "GetCustomModel"): self._get_custom_model,
            ("bedrock", "DeleteCustomModel"): self._delete_custom_model,
            ("bedrock", "ListCustomModels"): self._list_custom_models,
            ("bedrock", "CreateProvisionedModelThroughput"): self._create_throughput,
            ("bedrock", "GetProvisionedModelThroughput"): self._get_throughput,
            ("bedrock", "UpdateProvisionedModelThroughput"): self._update_throughput,
            ("bedrock", "DeleteProvisionedModelThroughput"): self._delete_throughput,
            ("bedrock", "ListProvisionedModelThroughputs"): self._list_throughputs,
            ("bedrock", "CreateCustomModelDeployment"): self._create_deployment,
            ("bedrock", "GetCustomModelDeployment"): self._get_deployment,
            ("bedrock", "UpdateCustomModelDeployment"): self._update_deployment,
            ("bedrock", "DeleteCustomModelDeployment"): self._delete_deployment,
            ("bedrock", "ListCustomModelDeployments"): self._list_deployments,
            ("bedrock", "GetFoundationModel"): self._get_foundation_model,
            ("bedrock", "ListFoundationModels"): self._list_foundation_models,
            ("bedrock", "TagResource"): self._tag_resource,
            ("bedrock", "UntagResource"): self._untag_resource,
            ("bedrock", "ListTagsForResource"): self._list_tags,
            ("bedrock-runtime", "Converse"): self._converse,
            ("bedrock-runtime", "InvokeModel"): self._invoke_model,
        }

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

    def inject(self, operation: str, code: str, *, times: int | None = 1, message: str | None = None) -> None:
        """Answer the next ``times`` HTTP attempts of ``operation`` (``None`` = every one) with error ``code``.

        Each attempt botocore makes takes one: with the client's standard retry mode (3 attempts), ``times=2``
        of a retryable error (``ThrottlingException`` 429, ``InternalServerException`` 500,
        ``ServiceUnavailableException`` 503) is absorbed inside one call, ``times=3`` reaches the caller.
        """
        model = self._operation_model(operation)
        if code not in _wire.modeled_errors(model):
            raise ValueError(f"{operation} never returns {code}; it declares {sorted(_wire.modeled_errors(model))}")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1, or None for always")
        text = message or _FAULT_MESSAGES.get(code, f"Injected fault: {code}")
        with self._lock:
            self._faults.append(Fault(operation, code, text, times))

    def plan_jobs(
        self,
        outcome: JobOutcome = "Completed",
        *,
        duration_s: float | None = None,
        failure_message: str | None = None,
        failed_phase: Phase = "training",
        count: int | None = 1,
    ) -> None:
        """How the next ``count`` customization jobs end (``count=None``: every later job)."""
        if outcome not in ("Completed", "Failed", "Stopped", "Never"):
            raise ValueError(f"unknown job outcome {outcome!r}")
        if failed_phase not in PHASES:
            raise ValueError(f"unknown phase {failed_phase!r}")
        default = JobPlan()
        plan = JobPlan(
            outcome,
            default.duration_s if duration_s is None else duration_s,
            failure_message or default.failure_message,
            failed_phase,
        )
        with self._lock:
            self._job_plans.push(plan, count)

    def plan_throughput(
        self,
        outcome: ThroughputOutcome = "InService",
        *,
        duration_s: float | None = None,
        failure_message: str | None = None,
        count: int | None = 1,
    ) -> None:
        """How the next ``count`` provisioned throughputs end (``count=None``: every later one)."""
        if outcome not in ("InService", "Failed"):
            raise ValueError(f"unknown throughput outcome {outcome!r}")
        plan = ReadyPlan(
            outcome,
            _DEFAULT_THROUGHPUT.duration_s if duration_s is None else duration_s,
            failure_message or _DEFAULT_THROUGHPUT.failure_message,
        )
        with self._lock:
            self._throughput_plans.push(plan, count)

    def plan_deployments(
        self,
        outcome: DeploymentOutcome = "Active",
        *,
        duration_s: float | None = None,
        failure_message: str | None = None,
        count: int | None = 1,
    ) -> None:
        """How the next ``count`` custom model deployments end (``count=None``: every later one)."""
        if outcome not in ("Active", "Failed"):
            raise ValueError(f"unknown deployment outcome {outcome!r}")
        plan = ReadyPlan(
            outcome,
            _DEFAULT_DEPLOYMENT.duration_s if duration_s is None else duration_s,
            failure_message or _DEFAULT_DEPLOYMENT.failure_message,
        )
        with self._lock:
            self._deployment_plans.push(plan, count)

    def plan_deployment_updates(
        self,
        outcome: DeploymentUpdateOutcome = "UpdateCompleted",
        *,
        duration_s: float | None = None,
        count: int | None = 1,
    ) -> None:
        """How the next ``count`` UpdateCustomModelDeployment calls end (``count=None``: every later one)."""
        if outcome not in ("UpdateCompleted", "UpdateFailed"):
            raise ValueError(f"unknown deployment update outcome {outcome!r}")
        plan = ReadyPlan(outcome, _DEFAULT_DEPLOYMENT_UPDATE.duration_s if duration_s is None else duration_s, "")
        with self._lock:
            self._deployment_update_plans.push(plan, count)

    def drop_events(self, drop: bool = True) -> None:
        """Lose state-change events from now on (EventBridge delivery is best-effort)."""
        with self._lock:
            self._dropping = drop

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """Every HTTP attempt that reached the fake (botocore-rejected calls never do; a call botocore
        retried appears once per attempt), oldest first."""
        with self._lock:
            return list(self._calls)

    @property
    def attempts(self) -> list[Attempt]:
        """Every HTTP attempt, oldest first: its operation, botocore's invocation id (one per API call,
        shared by its retries), its attempt number and the error code it was answered with (None: success)."""
        with self._lock:
            return list(self._attempts)

    @property
    def events(self) -> list[Event]:
        """Every state-change event emitted and not dropped, oldest first."""
        with self._lock:
            return list(self._events)

    def running_jobs(self) -> list[dict[str, Any]]:
        """GetModelCustomizationJob views of jobs still InProgress or Stopping."""
        with self._lock:
            self._advance(self._sim_now())
            found = [self._job_view(j) for j in self._jobs.values() if j.status in ("InProgress", "Stopping")]
        self._deliver()
        return found

    def provisioned_throughputs(self) -> list[dict[str, Any]]:
        """GetProvisionedModelThroughput views of every provisioned throughput not deleted."""
        with self._lock:
            self._advance(self._sim_now())
            found = [self._throughput_view(t) for t in self._throughputs.values()]
        self._deliver()
        return found

    def custom_model_deployments(self) -> list[dict[str, Any]]:
        """GetCustomModelDeployment views of every deployment not deleted."""
        with self._lock:
            self._advance(self._sim_now())
            found = [self._deployment_view(d) for d in self._deployments.values()]
        self._deliver()
        return found

    def tick(self) -> None:
        """Bring every resource up to the simulated time and deliver due events."""
        with self._lock:
            self._advance(self._sim_now())
        self._deliver()

    def advance(self, seconds: float) -> None:
        """Jump the simulated clock forward by ``seconds``, then :meth:`tick`."""
        if seconds < 0:
            raise ValueError("simulated time only moves forward")
        with self._lock:
            self._offset += seconds
        self.tick()

    def start_ticker(self, interval: float = 0.05) -> None:
        """Call :meth:`tick` every ``interval`` real seconds on a daemon thread."""
        with self._lock:
            if self._ticker is not None:
                raise RuntimeError("the ticker is already running")
            self._ticker_stop = threading.Event()
            self._ticker_error = None
            stop = self._ticker_stop

            def run() -> None:
                while not stop.wait(interval):
                    try:
                        self.tick()
                    except BaseException as error:  # reported by stop_ticker, never swallowed
                        logger.exception("Bedrock fake ticker failed")
                        with self._lock:
                            self._ticker_error = self._ticker_error or error

            self._ticker = threading.Thread(target=run, name="bedrock-fake-ticker", daemon=True)
            self._ticker.start()

    def stop_ticker(self) -> None:
        """Stop the ticker thread; re-raise the first exception it hit (e.g. from ``on_event``)."""
        with self._lock:
            ticker, self._ticker = self._ticker, None
            self._ticker_stop.set()
        if ticker is not None:
            ticker.join()
        error, self._ticker_error = self._ticker_error, None
        if error is not None:
            raise error

    def _advance(self, now: float) -> None:
        due: list[tuple[float, int, Job | Throughput | Deployment, Step]] = []
        order = 0
        entities: list[Job | Throughput | Deployment] = [
            *self._jobs.values(),
            *self._throughputs.values(),
            *self._deployments.values(),
        ]
        for entity in entities:
            while entity.steps and entity.steps[0].at <= now:
                due.append((entity.steps[0].at, order, entity, entity.steps.pop(0)))
                order += 1
        # Apply in simulated-time order across resources, so events come out chronologically.
        for _, _, entity, step in sorted(due, key=lambda d: (d[0], d[1])):
            if isinstance(entity, Job):
                self._apply_job(entity, step)
            elif isinstance(entity, Throughput):
                self._apply_throughput(entity, step)
            else:
                self._apply_deployment(entity, step)

    def _deliver(self) -> None:
        # Outside the state lock, in order: on_event may call the fake or hand off to other threads.
        # One thread delivers at a time and drains the outbox; another thread never waits for it. Waiting
        # deadlocked: the delivering thread runs an event's Lambda target, which waits for the runtime's
        # invocation lock, while the thread holding that lock (a handler calling Bedrock) waited here.
        while True:
            if not self._dispatch_lock.acquire(blocking=False):
                return  # the delivering thread takes this event too
            try:
                while True:
                    with self._lock:
                        if not self._outbox:
                            break
                        event = self._outbox.popleft()
                    if self._on_event is not None:
                        self._on_event(copy.deepcopy(event))
            finally:
                self._dispatch_lock.release()
            with self._lock:  # an event queued while the lock was being released is not left behind
                if not self._outbox:
                    return

    def _operation_model(self, operation: str) -> OperationModel:
        for service in ("bedrock", "bedrock-runtime"):
            if (service, operation) in self._handlers:
                return _service_model(service).operation_model(operation)
        raise ValueError(f"the Bedrock fake does not serve operation {operation!r}")

    def _foundation_view(self, model: FoundationModel) -> dict[str, Any]:
        life = model.lifecycle
        lifecycle: dict[str, Any] = {"status": life.status}
        for key, value in (
            ("startOfLifeTime", life.start_of_life),
            ("endOfLifeTime", life.end_of_life),
            ("legacyTime", life.legacy_time),
            ("publicExtendedAccessTime", life.public_extended_access_time),
        ):
            if value is not None:
                lifecycle[key] = value
        return {
            "modelArn": model.arn(self.region),
            "modelId": model.model_id,
            "modelName": model.name,
            "providerName": model.provider,
            "inputModalities": list(model.input_modalities),
            "outputModalities": list(model.output_modalities),
            "responseStreamingSupported": model.streaming,
            "customizationsSupported": list(model.customizations),
            "inferenceTypesSupported": list(model.inference_types),
            "modelLifecycle": lifecycle,
        }

    def _get_foundation_model(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        model = self.catalog.get(request["modelIdentifier"], self.region)
        if model is None:
            # Assumption: unknown or out-of-region ids answer ValidationException (as InvokeModel does).
            raise ServiceError("ValidationException", _INVALID_MODEL)
        return {"modelDetails": self._foundation_view(model)}

    def _list_foundation_models(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        provider = request.get("byProvider")
        found = [
            m
            for m in self.catalog.in_region(self.region)
            # Assumption: byProvider is case-insensitive.
            if (provider is None or provider.lower() == m.provider.lower())
            and request.get("byCustomizationType") in (None, *m.customizations)
            and request.get("byInferenceType") in (None, *m.inference_types)
            and request.get("byOutputModality") in (None, *m.output_modalities)
        ]
        return {"modelSummaries": [self._foundation_view(m) for m in found]}

    def _taggable(self, arn: str) -> str:
        if (
            arn not in self._jobs
            and arn not in self._models
            and arn not in self._throughputs
            and arn not in self._deployments
        ):
            raise ServiceError("ResourceNotFoundException", f"Resource {arn} not found.")
        return arn

    def _tag_resource(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        tags = {t["key"]: t["value"] for t in self._tags.get(self._taggable(request["resourceARN"]), [])}
        tags |= {t["key"]: t["value"] for t in request["tags"]}
        # Facts: tag lists hold at most 200. Assumption: the same cap applies to a resource's total.
        if len(tags) > 200:
            raise ServiceError("TooManyTagsException", "A resource can have at most 200 tags.")
        self._tags[request["resourceARN"]] = [{"key": k, "value": v} for k, v in tags.items()]
        return {}

    def _untag_resource(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        arn = self._taggable(request["resourceARN"])
        drop = set(request["tagKeys"])
        self._tags[arn] = [t for t in self._tags.get(arn, []) if t["key"] not in drop]
        return {}

    def _list_tags(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        return {"tags": copy.deepcopy(self._tags.get(self._taggable(request["resourceARN"]), []))}

    # -- lookups for the offline authorization (read-only; not Bedrock API) ------------------------------

    def resource_tags(self, arn: str) -> dict[str, str]:
        """The tags of a job, custom model, throughput or deployment (empty if unknown)."""
        with self._lock:
            return {t["key"]: t["value"] for t in self._tags.get(arn, [])}

    def resolve_arn(self, identifier: str, kind: str) -> str | None:
        """The ARN of a Bedrock resource named or ARN'd by ``identifier`` (None if it does not exist)."""
        finders: dict[str, Callable[[str], Any]] = {
            "custom-model": self._find_custom_model,
            "model-customization-job": self._find_job,
            "provisioned-model": self._find_throughput,
            "custom-model-deployment": self._find_deployment,
        }
        finder = finders.get(kind)
        if finder is None:
            return None
        with self._lock:
            try:
                found = finder(identifier)
            except ServiceError:
                return None
        return str(found.arn) if found is not None else None

    def custom_model_kms_key(self, model_arn: str) -> str | None:
        with self._lock:
            model = self._find_custom_model(model_arn)
            return model.kms_key_arn if model is not None else None

    def serving_model(self, arn: str) -> str | None:
        """The custom model a provisioned throughput or deployment serves."""
        with self._lock:
            found = self._throughputs.get(arn) or self._deployments.get(arn)
            return found.model_arn if found is not None else None


# Sessions are not thread-safe for creating clients; clients themselves are.
_SESSION_LOCK = threading.Lock()


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@functools.cache
def _service_model(service: str) -> ServiceModel:
    with _SESSION_LOCK:
        return _session()._session.get_service_model(service)
