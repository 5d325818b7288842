"""How a test or scenario tells the fake to behave: injected faults, planned outcomes, lost events."""

from __future__ import annotations

from collections.abc import Callable

from botocore.model import OperationModel

from bft_twin.bedrock_fake import _wire
from bft_twin.bedrock_fake._core import (
    _DEFAULT_DEPLOYMENT,
    _DEFAULT_DEPLOYMENT_UPDATE,
    _DEFAULT_THROUGHPUT,
    _FAULT_MESSAGES,
    _Core,
)
from bft_twin.bedrock_fake._records import (
    PHASES,
    DeploymentOutcome,
    DeploymentUpdateOutcome,
    Fault,
    JobOutcome,
    JobPlan,
    Phase,
    ReadyPlan,
    ThroughputOutcome,
)


class _Plans(_Core):
    """:meth:`inject`, the ``plan_*`` methods and :meth:`drop_events`."""

    # From the client wiring (_Wiring): the botocore model of an operation the fake serves.
    _operation_model: Callable[[str], OperationModel]

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
