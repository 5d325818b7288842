"""The fake itself: its state and the operations it serves, what it recorded, simulated time and event
delivery, and the lookups for the offline authorization.

The rest are mixins, one part of Bedrock's behaviour each: the client wiring (:mod:`._wiring`), the scenario
controls (:mod:`._plans`), customization jobs (:mod:`._jobs`), evaluation jobs (:mod:`._evaluations`),
serving (:mod:`._serving`), the foundation-model views (:mod:`._foundation`) and tagging (:mod:`._tags`).
"""

from __future__ import annotations

import copy
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from bft_twin import catalog as catalog_module
from bft_twin.bedrock_fake._core import (
    _DEFAULT_DEPLOYMENT,
    _DEFAULT_DEPLOYMENT_UPDATE,
    _DEFAULT_THROUGHPUT,
    Event,
    _Reply,
)
from bft_twin.bedrock_fake._evaluations import EvaluationJob, _Evaluations
from bft_twin.bedrock_fake._foundation import _Foundation
from bft_twin.bedrock_fake._jobs import _Jobs
from bft_twin.bedrock_fake._learner import Learner
from bft_twin.bedrock_fake._plans import _Plans
from bft_twin.bedrock_fake._records import (
    Attempt,
    Counters,
    CustomModel,
    Deployment,
    Fault,
    Job,
    JobPlan,
    PlanQueue,
    ReadyPlan,
    Step,
    Throughput,
)
from bft_twin.bedrock_fake._serving import CONCURRENT_REQUESTS_PER_MODEL_UNIT, _Serving
from bft_twin.bedrock_fake._tags import _Tags
from bft_twin.bedrock_fake._wire import ServiceError
from bft_twin.bedrock_fake._wiring import _Wiring
from bft_twin.catalog import Catalog

logger = logging.getLogger(__name__)


class FakeBedrock(_Wiring, _Plans, _Jobs, _Evaluations, _Serving, _Foundation, _Tags):
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
    custom model sets it; ``commit_model_units``, the model units AWS Support granted for committed
    throughputs, 0 by default as the API reference says (``docs/bedrock-behaviour.md#commit-quota``);
    ``legacy_allows_customization`` (a **guess**, default True)
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
    stand-in that never sees the training data (:func:`bft_twin.bedrock_fake._base_model.base_answer`).
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
        commit_model_units: int = 0,
        max_running_jobs: int | None = None,
        legacy_allows_customization: bool = True,
        seed: int = 0,
        service_role_s3: Callable[[str, str], Any] | None = None,
        service_role_invoke: Callable[[str, str, str], str | None] | None = None,
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
        # (role ARN, job ARN, model id) -> None when the job's role may invoke the model (an evaluation job's judge),
        # else AWS's denial. None: the judge is invoked unchecked.
        self._service_role_invoke = service_role_invoke
        self._on_event = on_event
        self._clock = clock
        self._time_scale = time_scale
        self._origin = clock()
        self._offset = 0.0
        self.catalog = catalog or catalog_module.catalog()
        # Custom model ARN -> what its job learned from the training data (bedrock_fake._learner).
        self._learners: dict[str, Learner] = {}
        self._no_commit_units = no_commit_model_units
        self._commit_units = commit_model_units
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
        self._evaluations: dict[str, EvaluationJob] = {}
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
            ("bedrock", "CreateEvaluationJob"): self._create_evaluation,
            ("bedrock", "GetEvaluationJob"): self._get_evaluation,
            ("bedrock", "StopEvaluationJob"): self._stop_evaluation,
            ("bedrock", "ListEvaluationJobs"): self._list_evaluations,
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

    def evaluation_jobs(self) -> list[dict[str, Any]]:
        """GetEvaluationJob views of every evaluation job, oldest first."""
        with self._lock:
            self._advance(self._sim_now())
            found = [self._evaluation_view(j) for j in sorted(self._evaluations.values(), key=lambda j: j.created)]
        self._deliver()
        return found

    def customization_jobs(self) -> list[dict[str, Any]]:
        """GetModelCustomizationJob views of every customization job, oldest first."""
        with self._lock:
            self._advance(self._sim_now())
            found = [self._job_view(j) for j in sorted(self._jobs.values(), key=lambda j: j.created)]
        self._deliver()
        return found

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
        due: list[tuple[float, int, Job | Throughput | Deployment | EvaluationJob, Step]] = []
        order = 0
        entities: list[Job | Throughput | Deployment | EvaluationJob] = [
            *self._jobs.values(),
            *self._throughputs.values(),
            *self._deployments.values(),
            *self._evaluations.values(),
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
            elif isinstance(entity, EvaluationJob):
                self._apply_evaluation(entity, step)
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
            "evaluation-job": self._find_evaluation,
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
