"""Step Functions executions in moto: polled until they end, their history, and how they ended
(:class:`ExecutionResult`)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from moto.stepfunctions.parser.models import stepfunctions_parser_backends

__all__ = ["ExecutionResult", "execution_history", "stop_running_executions", "wait_for_execution"]

logger = logging.getLogger(__name__)

_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class ExecutionResult:
    """How an execution ended, with its full history."""

    execution_arn: str
    status: str  # SUCCEEDED, FAILED, TIMED_OUT or ABORTED
    output: Any  # the parsed JSON output (usually a dict), None unless SUCCEEDED
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]
    state_transitions: int  # number of *StateEntered events
    states_visited: list[str]  # state names in the order they were entered
    lambda_invocations: int  # Lambda invocations the execution scheduled (retries included)

    def events(self, event_type: str) -> list[dict[str, Any]]:
        """History events of one type, e.g. ``"TaskFailed"`` or ``"LambdaFunctionFailed"``."""
        return [event for event in self.history if event["type"] == event_type]


def wait_for_execution(
    sfn: Any,
    execution_arn: str,
    *,
    timeout: float,
    poll_interval: float,
    progress: Callable[[str], None] | None,
) -> ExecutionResult:
    """Poll ``sfn`` (a Step Functions client) until the execution leaves RUNNING: see :meth:`OfflineAssembly.wait`."""
    deadline = time.monotonic() + timeout
    reported = 0
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if progress is not None:
            entered = _states_visited(execution_history(sfn, execution_arn))
            for state in entered[reported:]:
                progress(f"{described['name']}: {state}")
            reported = len(entered)
        if described["status"] in _TERMINAL:
            break
        if time.monotonic() > deadline:
            visited = _states_visited(execution_history(sfn, execution_arn))
            raise TimeoutError(f"{execution_arn} still RUNNING after {timeout}s; states entered: {visited}")
        time.sleep(poll_interval)
    history = execution_history(sfn, execution_arn)
    failed = next(
        (event for event in reversed(history) if event["type"] in ("ExecutionFailed", "ExecutionAborted")), None
    )
    details: Mapping[str, Any] = {}
    if failed is not None:
        details = failed.get("executionFailedEventDetails") or failed.get("executionAbortedEventDetails") or {}
    visited = _states_visited(history)
    return ExecutionResult(
        execution_arn=execution_arn,
        status=described["status"],
        output=_parse_output(described.get("output")),
        error=described.get("error") or details.get("error"),
        cause=described.get("cause") or details.get("cause"),
        history=history,
        state_transitions=len(visited),
        states_visited=visited,
        lambda_invocations=sum(1 for event in history if _is_lambda_scheduled(event)),
    )


def execution_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return events


def stop_running_executions(sfn: Any, state_machine_arns: Iterable[str], *, account_id: str, region: str) -> None:
    """Stop every RUNNING execution of the state machines: executions run in moto's worker threads, and none
    may outlive the mock."""
    for arn in state_machine_arns:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter="RUNNING"):
            for execution in page["executions"]:
                try:
                    sfn.stop_execution(executionArn=execution["executionArn"], error="OfflineAssembly.Closed")
                except Exception:  # already finished between list and stop
                    logger.debug("could not stop %s", execution["executionArn"], exc_info=True)
    # A stopped execution's worker still waits for its task token until the task's timeout:
    # wake it so the thread ends now rather than after the mock is gone.
    backend = stepfunctions_parser_backends[account_id][region]
    for execution in backend._get_executions():
        environment = getattr(execution.exec_worker, "env", None)
        pool = getattr(getattr(environment, "callback_pool_manager", None), "_pool", {})
        for endpoint in list(pool.values()):
            endpoint.interrupt_all()


def _parse_output(output: str | None) -> Any:
    if output is None:
        return None
    try:
        return json.loads(output)
    except json.JSONDecodeError:
        return output  # moto returns a string output unquoted


def _is_lambda_scheduled(event: Mapping[str, Any]) -> bool:
    if event["type"] == "LambdaFunctionScheduled":
        return True
    return event["type"] == "TaskScheduled" and event["taskScheduledEventDetails"].get("resourceType") == "lambda"


def _states_visited(history: list[dict[str, Any]]) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in history
        if event["type"].endswith("StateEntered") and "stateEnteredEventDetails" in event
    ]
