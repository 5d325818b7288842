"""State of the fake: plans, resources and their timelines in simulated seconds."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from bft_twin.catalog import FoundationModel

JobOutcome = Literal["Completed", "Failed", "Stopped", "Never"]
ThroughputOutcome = Literal["InService", "Failed"]
DeploymentOutcome = Literal["Active", "Failed"]
DeploymentUpdateOutcome = Literal["UpdateCompleted", "UpdateFailed"]
Phase = Literal["validation", "dataProcessing", "training"]

PHASES: tuple[Phase, ...] = ("validation", "dataProcessing", "training")
# Assumption: share of a job's duration spent in each sub-task (Bedrock publishes none).
_PHASE_SHARE = {"validation": 0.1, "dataProcessing": 0.2, "training": 0.7}
# Assumption: simulated seconds from Stopping to Stopped.
STOP_DELAY_S = 120.0
# Assumption: simulated seconds an UpdateProvisionedModelThroughput model swap takes.
UPDATE_DELAY_S = 600.0
# Assumption (docs/bedrock-behaviour.md#deployment-update): simulated seconds an UpdateCustomModelDeployment
# takes, as long as a deployment's creation.
DEPLOYMENT_UPDATE_DELAY_S = 300.0


@dataclass(frozen=True)
class JobPlan:
    """How the next customization job ends and when (simulated seconds after creation)."""

    outcome: JobOutcome = "Completed"
    # Facts: jobs take "several hours".
    duration_s: float = 4 * 3600.0
    # Assumption: wording of the default failure message.
    failure_message: str = (
        "Internal error: the training job failed. Retry the job; contact AWS Support if it fails again."
    )
    failed_phase: Phase = "training"


@dataclass(frozen=True)
class ReadyPlan:
    """How the next provisioned throughput, deployment or deployment update ends (InService/Active or Failed;
    UpdateCompleted or UpdateFailed)."""

    outcome: str
    duration_s: float
    failure_message: str


T = TypeVar("T")


class PlanQueue(Generic[T]):
    """Plans for the next resources, then a default for the rest."""

    def __init__(self, default: T) -> None:
        self.default = default
        self._queue: deque[T] = deque()

    def push(self, plan: T, count: int | None) -> None:
        if count is None:
            self.default = plan
            return
        if count < 1:
            raise ValueError("count must be >= 1, or None for the default plan")
        self._queue.extend([plan] * count)

    def take(self) -> T:
        return self._queue.popleft() if self._queue else self.default


@dataclass(frozen=True)
class Step:
    """A transition due at simulated time ``at``."""

    at: float
    kind: Literal["advance", "complete", "fail", "stopping", "stopped", "ready", "updated", "update_failed"]


@dataclass
class PhaseState:
    status: str = "NotStarted"
    created: float | None = None
    modified: float | None = None


def job_steps(plan: JobPlan, start: float) -> list[Step]:
    """The transitions of a job created at ``start`` that ends as ``plan`` says."""
    used = PHASES[: PHASES.index(plan.failed_phase) + 1] if plan.outcome == "Failed" else PHASES
    total = sum(_PHASE_SHARE[p] for p in used)
    steps: list[Step] = []
    elapsed = 0.0
    for phase in used[:-1]:
        elapsed += _PHASE_SHARE[phase] / total * plan.duration_s
        steps.append(Step(start + elapsed, "advance"))
    end = start + plan.duration_s
    if plan.outcome == "Completed":
        steps.append(Step(end, "complete"))
    elif plan.outcome == "Failed":
        steps.append(Step(end, "fail"))
    elif plan.outcome == "Stopped":
        stopping = start + max(0.0, plan.duration_s - STOP_DELAY_S)
        steps = [s for s in steps if s.at < stopping]
        steps += [Step(stopping, "stopping"), Step(end, "stopped")]
    return steps


@dataclass
class Job:
    arn: str
    job_id: str
    name: str
    request: dict[str, Any]
    base: FoundationModel
    created: float
    plan: JobPlan
    records: int
    steps: list[Step]
    status: str = "InProgress"
    phases: dict[str, PhaseState] = field(default_factory=lambda: {p: PhaseState() for p in PHASES})
    modified: float = 0.0
    s3: Any = None  # the S3 client the job reads and writes with (its service role's, when checked)
    end: float | None = None
    failure_message: str | None = None
    output_model_arn: str | None = None
    training_loss: float | None = None
    validation_losses: list[float] = field(default_factory=list)

    def current_phase(self) -> Phase | None:
        return next((p for p in PHASES if self.phases[p].status in ("InProgress", "Stopping")), None)


@dataclass
class CustomModel:
    arn: str
    name: str
    job: Job
    created: float
    kms_key_arn: str | None


@dataclass
class Throughput:
    arn: str
    name: str
    model_arn: str
    foundation: FoundationModel
    custom: bool
    units: int
    commitment: str | None
    commitment_expiration: float | None
    created: float
    steps: list[Step]
    failure_message_if_failed: str
    status: str = "Creating"
    modified: float = 0.0
    failure_message: str | None = None
    desired_model_arn: str | None = None


@dataclass
class Deployment:
    arn: str
    name: str
    model_arn: str
    # The foundation model of the custom model it was created with: an update must keep it
    # (docs/bedrock-behaviour.md#deployment-update).
    base_model_id: str
    description: str | None
    created: float
    steps: list[Step]
    failure_message_if_failed: str
    status: str = "Creating"
    modified: float = 0.0
    failure_message: str | None = None
    # The last UpdateCustomModelDeployment: GetCustomModelDeployment's updateDetails {modelArn, updateStatus}.
    update_model_arn: str | None = None
    update_status: str | None = None

    def updating_to(self) -> str | None:
        """The custom model an update in flight is moving to (None when no update is in flight)."""
        return self.update_model_arn if self.update_status == "Updating" else None


@dataclass
class Counters:
    """What happened so far, for assertions."""

    jobs_started: int = 0
    jobs_completed: int = 0
    jobs_failed: int = 0
    jobs_stopped: int = 0
    custom_models_deleted: int = 0
    throughputs_created: int = 0
    throughputs_in_service: int = 0
    throughputs_failed: int = 0
    throughputs_deleted: int = 0
    deployments_created: int = 0
    deployments_deleted: int = 0
    deployments_updated: int = 0  # UpdateCustomModelDeployment calls accepted
    evaluation_jobs_started: int = 0
    evaluation_jobs_completed: int = 0
    evaluation_jobs_stopped: int = 0
    invocations: int = 0
    throttled: int = 0  # invocations refused past a target's capacity (simulated latency only)
    latency_ms: int = 0  # simulated latency of every answered invocation, added up
    events_emitted: int = 0
    events_dropped: int = 0
    faults_injected: int = 0


@dataclass
class Fault:
    operation: str
    code: str
    message: str
    remaining: int | None


@dataclass(frozen=True)
class Attempt:
    """One HTTP attempt of an API call (botocore retries a call as further attempts of one invocation)."""

    operation: str
    invocation: str
    attempt: int
    error: str | None
