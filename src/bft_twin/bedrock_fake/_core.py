"""State and helpers shared by the fake's operation mixins."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from botocore.model import OperationModel
from botocore.utils import parse_to_aware_datetime

from bft_twin.bedrock_fake._learner import Learner
from bft_twin.bedrock_fake._records import (
    DEPLOYMENT_UPDATE_DELAY_S,
    Attempt,
    Counters,
    CustomModel,
    Deployment,
    Fault,
    Job,
    JobPlan,
    PlanQueue,
    ReadyPlan,
    Throughput,
)
from bft_twin.bedrock_fake._wire import ServiceError
from bft_twin.catalog import Catalog, FoundationModel

Event = dict[str, Any]

_PARAMS_KEY = "bft_bedrock_fake_params"
_ID_ALPHABET = string.ascii_lowercase + string.digits
_INVALID_MODEL = "The provided model identifier is invalid."
# Assumption: page size when maxResults is omitted (AWS does not document one).
_DEFAULT_PAGE = 100
# Assumption: committed terms counted as 31 and 183 days from creation.
_COMMITMENT_DAYS = {"OneMonth": 31, "SixMonths": 183}
# Assumption: record count used for the metric curves when no S3 client can count the training file.
_RECORDS_WITHOUT_S3 = 500
# Facts: a PT is InService in ~20-30 minutes. Assumption: deployments take 5 minutes.
_DEFAULT_THROUGHPUT = ReadyPlan(
    "InService", 25 * 60.0, "Provisioned throughput creation failed due to an internal error. Delete it and retry."
)
_DEFAULT_DEPLOYMENT = ReadyPlan(
    "Active", 5 * 60.0, "Custom model deployment failed due to an internal error. Delete it and retry."
)
# Assumption (docs/bedrock-behaviour.md#deployment-update): an update takes as long as a creation. Bedrock's
# GetCustomModelDeployment carries no reason for an UpdateFailed (failureMessage documents FAILED deployments).
_DEFAULT_DEPLOYMENT_UPDATE = ReadyPlan("UpdateCompleted", DEPLOYMENT_UPDATE_DELAY_S, "")
# Assumption: default messages of injected faults (real wording where known).
_FAULT_MESSAGES = {
    "ThrottlingException": "Too many requests, please wait before trying again.",
    "InternalServerException": "Internal server error. Try your request again.",
    "ServiceUnavailableException": "Service unavailable. Try your request again.",
    "AccessDeniedException": "You don't have access to the model with the specified model ID.",
    "ServiceQuotaExceededException": (
        "Your account does not currently have any no commitment model units reserved for this model."
    ),
}


class _Reply:
    """A handler result with extra response headers (InvokeModel's token counts)."""

    def __init__(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        self.body = body
        self.headers = headers


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _epoch(value: Any) -> float:
    return float(parse_to_aware_datetime(value).timestamp())


def _fingerprint(request: Mapping[str, Any]) -> str:
    rest = {k: v for k, v in request.items() if k != "clientRequestToken"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, default=str).encode()).hexdigest()


class _QuotaErrors:
    """Builders of the quota errors (kept together so their wording is easy to compare with AWS)."""

    @staticmethod
    def no_commit(base: FoundationModel, used: int, requested: int, quota: int) -> ServiceError:
        available = max(0, quota - used)
        if available == 0:
            # Facts: the message AWS returns when the account has no no-commitment units left.
            text = f"Your account does not currently have any no commitment model units reserved for {base.model_id}."
        else:
            # Assumption: wording when some units remain but fewer than requested.
            text = (
                f"Your account has {available} no commitment model units available for {base.model_id} "
                f"({used} of {quota} in use); {requested} were requested."
            )
        return ServiceError(
            "ServiceQuotaExceededException",
            text + " Request an increase of 'Model units no-commitment Provisioned Throughputs across custom models'.",
        )

    @staticmethod
    def commitment(base: FoundationModel, used: int, requested: int, quota: int) -> ServiceError:
        # Facts: no commitment units by default (API reference, CreateProvisionedModelThroughput, modelUnits).
        # Assumption: the code is the no-commitment quota's, the wording is the fake's.
        return ServiceError(
            "ServiceQuotaExceededException",
            f"Your account has {max(0, quota - used)} model units for Provisioned Throughput with commitment "
            f"available ({used} of {quota} in use); {requested} were requested for {base.model_id}. Request model "
            "units through the AWS Support center before purchasing with commitment.",
        )

    @staticmethod
    def running_jobs(quota: int) -> ServiceError:
        return ServiceError(
            "ServiceQuotaExceededException",
            f"You have reached the maximum of {quota} concurrent model customization jobs.",
        )


def _split_s3(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    return parts.netloc, parts.path.lstrip("/")


class _Core:
    """The fake's state; :class:`FakeBedrock`'s constructor sets every attribute."""

    region: str
    account_id: str
    catalog: Catalog
    counters: Counters
    _s3: Any
    _service_role_s3: Any
    _clock: Callable[[], float]
    _time_scale: float
    _origin: float
    _offset: float
    _learners: dict[str, Learner]
    _no_commit_units: int
    _commit_units: int
    _max_running_jobs: int | None
    _legacy_allows_customization: bool
    _seed: int
    _rng: random.Random
    _lock: threading.RLock
    _jobs: dict[str, Job]
    _models: dict[str, CustomModel]
    _throughputs: dict[str, Throughput]
    _deployments: dict[str, Deployment]
    _tags: dict[str, list[dict[str, str]]]
    _tokens: dict[tuple[str, str], str]
    _faults: list[Fault]
    _job_plans: PlanQueue[JobPlan]
    _throughput_plans: PlanQueue[ReadyPlan]
    _deployment_plans: PlanQueue[ReadyPlan]
    _deployment_update_plans: PlanQueue[ReadyPlan]
    _dropping: bool
    _outbox: deque[Event]
    _events: list[Event]
    _calls: list[tuple[str, dict[str, Any]]]
    _attempts: list[Attempt]
    # (service, operation) -> its handler: what the client wiring (bedrock_fake._wiring) answers, and nothing else.
    _handlers: dict[tuple[str, str], Callable[[dict[str, Any], float], dict[str, Any] | _Reply]]
    # Simulated latency and capacity (bft_twin.bedrock_fake._serving): None = latency reported, never slept.
    _latency_sleep: Callable[[float], None] | None
    _requests_per_model_unit: int
    _in_flight: dict[str, int]
    _holds: dict[int, Any]
    peak_in_flight: dict[str, int]
    # Entered while a stand-in computes (the learner training, a model's answer): the offline twin freezes its
    # virtual clock meanwhile (freeze_time_with), so the stand-ins' compute time is never simulated time.
    _stand_in: Callable[[], AbstractContextManager[Any]] = staticmethod(nullcontext)

    def freeze_time_with(self, frozen: Callable[[], AbstractContextManager[Any]]) -> None:
        """Enter ``frozen()`` around every stand-in's computation (``VirtualClock.frozen``): what the learner
        computes is instant in simulated time, however long a large file or a busy machine makes it take."""
        self._stand_in = frozen

    def now(self) -> datetime:
        """The simulated time."""
        with self._lock:
            return _dt(self._sim_now())

    def _sim_now(self) -> float:
        return self._origin + (self._clock() - self._origin) * self._time_scale + self._offset

    def _emit(self, job: Job, at: float) -> None:
        # An event "whenever there is a change in the state of a job", Stopping included
        # (docs/bedrock-behaviour.md#job-state-events). Assumption: one on creation (InProgress); detail
        # timestamps as ISO-8601 with milliseconds, "time" without (EventBridge's envelope format).
        request = job.request
        detail: dict[str, Any] = {
            "version": "0.0",
            "jobName": job.name,
            "jobArn": job.arn,
            "outputModelName": request["customModelName"],
            "roleArn": request["roleArn"],
            "jobStatus": job.status,
            "creationTime": _iso(job.created),
            "lastModifiedTime": _iso(job.modified),
            "baseModelArn": job.base.arn(self.region),
            "hyperParameters": dict(request.get("hyperParameters") or {}),
            "trainingDataConfig": {"s3Uri": request["trainingDataConfig"]["s3Uri"]},
            "outputDataConfig": {"s3Uri": request["outputDataConfig"]["s3Uri"]},
        }
        if job.output_model_arn:
            detail["outputModelArn"] = job.output_model_arn
        if job.failure_message and job.status == "Failed":
            detail["failureMessage"] = job.failure_message
        if job.end is not None:
            detail["endTime"] = _iso(job.end)
        validators = (request.get("validationDataConfig") or {}).get("validators") or []
        if validators:
            # Assumption: the event carries the first validator as {"s3Uri"}, like the facts' sample.
            detail["validationDataConfig"] = {"s3Uri": validators[0]["s3Uri"]}
        event = {
            "version": "0",
            "id": str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            "detail-type": "Model Customization Job State Change",
            "source": "aws.bedrock",
            "account": self.account_id,
            "time": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [job.arn],
            "detail": detail,
        }
        if self._dropping:
            self.counters.events_dropped += 1
            return
        self.counters.events_emitted += 1
        self._events.append(event)
        self._outbox.append(event)

    def _take_fault(self, model: OperationModel) -> None:
        # Called once per HTTP attempt, below botocore's retry handler (docs/bedrock-behaviour.md#throttling-retries).
        for fault in self._faults:
            if fault.operation == model.name and (fault.remaining is None or fault.remaining > 0):
                if fault.remaining is not None:
                    fault.remaining -= 1
                self.counters.faults_injected += 1
                raise ServiceError(fault.code, fault.message)

    def _new_id(self) -> str:
        return "".join(self._rng.choice(_ID_ALPHABET) for _ in range(12))

    def _arn(self, resource: str) -> str:
        return f"arn:aws:bedrock:{self.region}:{self.account_id}:{resource}"

    def _replay(self, operation: str, request: dict[str, Any]) -> str | None:
        """The ARN an earlier call with this idempotency token created, if any.

        "If this token matches a previous request, Amazon Bedrock ignores the request, but does not return an
        error" (the clientRequestToken of CreateModelCustomizationJob, CreateProvisionedModelThroughput and
        CreateCustomModelDeployment alike): the token alone decides, whatever the other parameters say
        (docs/bedrock-behaviour.md#client-request-token).
        """
        token = request.get("clientRequestToken")
        if token is None:
            return None
        return self._tokens.get((operation, token))

    def _remember(self, operation: str, request: dict[str, Any], arn: str) -> None:
        token = request.get("clientRequestToken")
        if token is not None:
            self._tokens[(operation, token)] = arn

    def _page(self, operation: str, items: list[Any], request: dict[str, Any]) -> tuple[list[Any], str | None]:
        filters = {k: v for k, v in request.items() if k not in ("maxResults", "nextToken")}
        key = f"{operation}:{_fingerprint(filters)}"
        start = 0
        token = request.get("nextToken")
        if token is not None:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
                if decoded["k"] != key:
                    raise ValueError("token from another query")
                start = int(decoded["o"])
            except (ValueError, KeyError, TypeError):
                # Assumption: wording; Bedrock rejects tokens it did not issue for this query.
                raise ServiceError("ValidationException", "The provided pagination token is invalid.") from None
        size = request.get("maxResults", _DEFAULT_PAGE)
        end = start + size
        following = None
        if end < len(items):
            following = base64.urlsafe_b64encode(json.dumps({"k": key, "o": end}).encode()).decode()
        return items[start:end], following

    @staticmethod
    def _order(items: list[Any], created: Callable[[Any], float], request: dict[str, Any]) -> list[Any]:
        # Assumption: default sort is CreationTime Descending (newest first).
        return sorted(items, key=created, reverse=request.get("sortOrder", "Descending") == "Descending")

    @staticmethod
    def _in_window(created: float, request: dict[str, Any], after: str, before: str) -> bool:
        # Assumption: both bounds are exclusive.
        if request.get(after) is not None and not created > _epoch(request[after]):
            return False
        return not (request.get(before) is not None and not created < _epoch(request[before]))

    def _find_custom_model(self, identifier: str) -> CustomModel | None:
        return self._models.get(identifier) or next((m for m in self._models.values() if m.name == identifier), None)

    def _custom_model(self, identifier: str) -> CustomModel:
        model = self._find_custom_model(identifier)
        if model is None:
            raise ServiceError("ResourceNotFoundException", f"Custom model {identifier} not found.")
        return model

    def _base_alive(self, base: FoundationModel, now: float) -> None:
        end_of_life = base.lifecycle.end_of_life
        if end_of_life is not None and now >= end_of_life.timestamp():
            # Assumption: code and wording for models past end of life.
            raise ServiceError("ValidationException", f"The model {base.model_id} has reached its end of life.")
