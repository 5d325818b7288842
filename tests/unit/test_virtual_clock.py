"""One virtual clock for the offline world: moto's Step Functions waits, the rate schedules and Lambda's
remaining time, compressed by one factor (bft_twin.offline._clock).

The ASL tests run hand-written definitions in bare moto with the clock's patches; the schedule and
Lambda tests use the offline fixture app through OfflineAssembly(time_factor=...).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from moto import mock_aws

from bft_twin.offline import OfflineAssembly
from bft_twin.offline._clock import RateSchedule, VirtualClock, VirtualEvent, moto_patches
from tests.unit.test_offline_runner import ACCOUNT, REGION, _request, assembly  # noqa: F401

HOUR = 3600.0
ROLE = "arn:aws:iam::123456789012:role/states"


class FakeReal:
    """A real monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


# -- the clock itself --------------------------------------------------------------------------------------


def test_virtual_time_runs_factor_times_faster_and_waits_divide_by_the_factor() -> None:
    real = FakeReal()
    clock = VirtualClock(HOUR, start=0.0, real=real)
    real.t += 2.5
    assert clock.elapsed() == pytest.approx(2.5 * HOUR)
    assert clock.now() == pytest.approx(2.5 * HOUR)
    assert clock.to_real(600) == pytest.approx(600 / HOUR)


def test_computing_runs_at_real_speed() -> None:
    real = FakeReal()
    clock = VirtualClock(HOUR, start=0.0, real=real)
    with clock.busy():
        real.t += 0.05  # a handler's 50 ms stay 50 virtual ms (not 3 virtual minutes)
        with clock.idle():  # ... unless it waits
            real.t += 1.0
    real.t += 1.0
    assert clock.elapsed() == pytest.approx(0.05 + 2 * HOUR)


def test_a_stand_in_computing_takes_no_virtual_time() -> None:
    """The Bedrock fake's learner on a large file, or on a loaded machine: however many real seconds it takes,
    virtual time stands still meanwhile, for every thread (so no outcome depends on the machine's speed)."""
    real = FakeReal()
    clock = VirtualClock(HOUR, start=0.0, real=real)
    with clock.frozen():
        real.t += 30.0  # a slow learner: 30 real s, which idle would make 30 virtual hours
        with clock.busy():  # a handler computing meanwhile does not restart the clock either
            real.t += 1.0
    assert clock.elapsed() == 0.0
    real.t += 1.0
    assert clock.elapsed() == pytest.approx(HOUR)


def test_the_product_reads_the_time_only_through_bft_clock() -> None:
    """Every module the functions run (the layer's bft, the handlers) asks bft.clock, which the twin makes
    virtual per function; a direct time.time() or datetime.now() would read the real wall clock offline."""
    import re

    root = Path(__file__).resolve().parents[2]
    direct = re.compile(r"\b(time\.time|time\.monotonic|datetime\.now|datetime\.utcnow|date\.today)\(")
    # What only the CLI runs (the config, synthesis, the smoke test's polling), and the source itself.
    layer_only = ("cli", "config", "synth.py", "smoke.py", "clock.py")
    found = []
    for path in [*(root / "src" / "bft").rglob("*.py"), *(root / "lambda").rglob("*.py")]:
        if any(part in layer_only for part in path.relative_to(root).parts):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if direct.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert found == []


def test_real_sleep_is_virtual_seconds_over_the_factor() -> None:
    clock = VirtualClock(HOUR)
    began = time.monotonic()
    clock.sleep(HOUR / 4)
    assert 0.2 <= time.monotonic() - began < 2.0


def test_a_waiter_notices_a_jump_of_virtual_time_at_once() -> None:
    """Found by the chaos runs: at factor 1 (the `local` environment) a reviewer who never decides jumps the clock
    past the 30 s approval timeout, but the task's wait slept its 30 real seconds regardless."""
    import threading

    clock = VirtualClock(1.0)
    event = threading.Event()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(clock.wait(event, 30.0)), daemon=True)
    began = time.monotonic()
    waiter.start()
    time.sleep(0.05)
    clock.advance(31.0)
    waiter.join(5)
    assert result == [False], "the wait ends as timed out"
    assert time.monotonic() - began < 2.0, "well below the 30 real seconds the wait would otherwise take"


def test_a_rate_schedule_fires_24_times_in_a_virtual_day() -> None:
    real = FakeReal()
    clock = VirtualClock(HOUR, start=0.0, real=real)
    schedule = RateSchedule.parse("rate(1 hour)", origin=clock.now())
    fired = 0
    for _ in range(24 * 16):  # checked 16 times per virtual hour, as the background loop does
        real.t += 1 / 16
        fired += len(schedule.due(clock.now()))
    assert fired == 24
    assert schedule.due(clock.now()) == []


def test_missed_occurrences_fire_once_each_in_order() -> None:
    schedule = RateSchedule.parse("rate(30 minutes)", origin=0.0)
    assert schedule.due(7200.0) == [1800.0, 3600.0, 5400.0, 7200.0]
    assert RateSchedule.parse("rate(1 day)", origin=0.0).period == 86400


@pytest.mark.parametrize("expression", ["rate(1 hours)", "rate(5 minute)", "rate(0 minutes)", "every hour"])
def test_invalid_rates_are_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="schedule"):
        RateSchedule.parse(expression, origin=0.0)


def test_cron_is_not_implemented_and_says_so() -> None:
    with pytest.raises(NotImplementedError, match="cron"):
        RateSchedule.parse("cron(0 12 * * ? *)", origin=0.0)


# -- moto's interpreter on the clock -----------------------------------------------------------------------


@pytest.fixture
def sfn() -> Iterator[tuple[Any, VirtualClock, list[float]]]:
    """Bare moto executing ASL, its waits on a clock at 1 real second = 1 virtual hour.

    The third element lists every retry interval (virtual seconds) the interpreter asked the clock for.
    """
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        import boto3

        clock = VirtualClock(HOUR)
        retries: list[float] = []
        sleep = clock.sleep

        def recorded_sleep(seconds: float) -> None:
            retries.append(seconds)
            sleep(seconds)

        clock.sleep = recorded_sleep  # type: ignore[method-assign,assignment]
        patches = moto_patches(clock)
        for patch in patches:
            patch.start()
        try:
            yield boto3.client("stepfunctions", region_name=REGION), clock, retries
        finally:
            for patch in reversed(patches):
                patch.stop()


def _run(client: Any, definition: dict[str, Any], payload: dict[str, Any] | None = None) -> tuple[Any, float]:
    machine = client.create_state_machine(
        name=f"m{time.monotonic_ns()}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    began = time.monotonic()
    arn = client.start_execution(stateMachineArn=machine, input=json.dumps(payload or {}))["executionArn"]
    while (described := client.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() - began < 30, "the execution should have ended on the virtual clock"
        time.sleep(0.01)
    return described | {"history": client.get_execution_history(executionArn=arn)["events"]}, time.monotonic() - began


def test_a_wait_of_one_virtual_hour_takes_one_real_second(sfn: Any) -> None:
    client, _clock, _ = sfn
    described, took = _run(client, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})
    assert described["status"] == "SUCCEEDED"
    assert 0.95 <= took < 5.0  # the upper bound leaves room for a loaded CI machine, far below an hour


def test_a_timestamp_wait_compares_with_the_virtual_now(sfn: Any) -> None:
    client, clock, _ = sfn
    # Four virtual hours from now (moto alone would compare with the real, local now: four real hours).
    until = clock.datetime().replace(microsecond=0) + timedelta(hours=4)
    described, took = _run(
        client,
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.until", "End": True}}},
        {"until": until.strftime("%Y-%m-%dT%H:%M:%SZ")},
    )
    assert described["status"] == "SUCCEEDED"
    assert clock.datetime() >= until
    assert 1.5 <= took < 7.5  # less the virtual hour or so that creating and starting the execution take


def test_retry_intervals_and_backoff_are_virtual_seconds(sfn: Any) -> None:
    client, _clock, retries = sfn
    failing = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
        "Parameters": {"TableName": "missing", "Key": {"pk": {"S": "x"}}},
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 600, "BackoffRate": 2, "MaxAttempts": 2}],
        "End": True,
    }
    described, took = _run(client, {"StartAt": "T", "States": {"T": failing}})
    assert described["status"] == "FAILED"
    assert retries == [600, 1200]
    assert len([e for e in described["history"] if e["type"] == "TaskFailed"]) == 3
    assert 0.45 <= took < 5.0  # 1800 virtual seconds (slack for a loaded machine)


def test_retry_max_delay_caps_each_virtual_interval(sfn: Any) -> None:
    client, _clock, retries = sfn
    failing = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
        "Parameters": {"TableName": "missing", "Key": {"pk": {"S": "x"}}},
        "Retry": [
            {
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": 600,
                "BackoffRate": 4,
                "MaxAttempts": 3,
                "MaxDelaySeconds": 1800,
                "JitterStrategy": "FULL",
            }
        ],
        "End": True,
    }
    described, _took = _run(client, {"StartAt": "T", "States": {"T": failing}})
    assert described["status"] == "FAILED"
    assert len(retries) == 3
    assert all(0 <= seconds <= 1800 for seconds in retries)


def test_a_task_timeout_fires_at_its_virtual_seconds(sfn: Any) -> None:
    client, _clock, _ = sfn
    import boto3

    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="tokens")["QueueUrl"]
    waiting = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
        "TimeoutSeconds": 7200,
        "End": True,
    }
    described, took = _run(client, {"StartAt": "T", "States": {"T": waiting}})
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Timeout"
    assert 1.9 <= took < 6.0  # two virtual hours (slack for a loaded machine)


def test_a_timeout_seconds_path_and_a_heartbeat_are_virtual(sfn: Any) -> None:
    client, _clock, _ = sfn
    import boto3

    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="beats")["QueueUrl"]
    waiting = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
        "TimeoutSecondsPath": "$.timeout",
        "HeartbeatSeconds": 3600,
        "End": True,
    }
    described, took = _run(client, {"StartAt": "T", "States": {"T": waiting}}, {"timeout": 8 * 3600})
    assert described["error"] == "States.Timeout"
    assert 0.9 <= took < 5.0  # the heartbeat's virtual hour, well before the 8-hour timeout (8 s)


def test_the_execution_timeout_is_virtual(sfn: Any) -> None:
    client, _clock, _ = sfn
    definition = {
        "TimeoutSeconds": 3600,
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 86400, "End": True}},
    }
    described, took = _run(client, definition)
    assert described["status"] == "TIMED_OUT"
    assert 0.95 <= took < 5.0


# -- the offline environment on the clock ------------------------------------------------------------------


def test_scheduled_rules_fire_by_their_rate_in_virtual_time(assembly: Path) -> None:  # noqa: F811
    # The fixture's Sweep rule is rate(5 minutes): at 300 virtual seconds per real second, once a second.
    with OfflineAssembly(assembly, region=REGION, account_id=ACCOUNT, time_factor=300) as env:
        assert env.run_due_schedules() == []
        fired = []
        began, real_began = env.clock.now(), time.monotonic()
        # Two periods and a bit of virtual time (handlers run at real speed, so not a fixed real time).
        while env.clock.now() - began < 650:
            assert time.monotonic() - real_began < 30
            fired.extend(env.run_due_schedules())
            time.sleep(0.02)
    assert [invocation.function for invocation in fired] == ["OnEventFunction"] * 2
    assert all(invocation.source.startswith("schedule:") for invocation in fired)
    assert all(invocation.event == {"kind": "sweep"} for invocation in fired)


def test_lambda_remaining_time_is_virtual_and_overruns_are_sandbox_timeouts(assembly: Path) -> None:  # noqa: F811
    with OfflineAssembly(assembly, region=REGION, account_id=ACCOUNT, time_factor=HOUR) as env:
        function = env._find_function("OnEventFunction")
        seen: list[int] = []

        def handler(event: Any, context: Any) -> dict[str, Any]:
            seen.append(context.get_remaining_time_in_millis())
            if event.get("overrun"):
                # Handlers run at real speed on the clock: only a handler that waits past its Timeout
                # (here on the clock's idle time) is one that overruns.
                with env.clock.idle():
                    time.sleep((function.timeout_s + 60) / HOUR)
            return {"ok": True}

        function._handler_fn = handler
        fine = env.invoke("OnEventFunction", {"kind": "noop"})
        overrun = env.invoke("OnEventFunction", {"overrun": True})
    assert fine.result == {"ok": True}
    assert 0 < function.timeout_s * 1000 - seen[0] < 1000
    assert overrun.error is not None
    assert overrun.error["errorType"] == "Sandbox.Timedout"
    assert f"Task timed out after {function.timeout_s:.2f} seconds" in overrun.error["errorMessage"]


def test_the_default_factor_keeps_real_time(assembly: Path) -> None:  # noqa: F811
    with OfflineAssembly(assembly, region=REGION, account_id=ACCOUNT) as env:
        assert env.clock.factor == 1.0
        assert abs(env.clock.now() - time.time()) < 5
        arn = env.start_execution(_request("real-1", resume_now=True, wait_seconds=1))
        result = env.wait(arn, timeout=60)
    assert result.status == "SUCCEEDED"


def test_a_started_worker_computes_before_the_scheduler_runs_it() -> None:
    """A task's worker thread counts as computing from start(): the scheduler's delay is not 3600x virtual."""
    real = [0.0]
    clock = VirtualClock(3600, real=lambda: real[0])
    ran: list[float] = []
    with mock.patch.object(threading.Thread, "start", return_value=None):  # started, not yet scheduled
        worker = clock.thread(lambda: ran.append(clock.elapsed()))
        worker.start()
    real[0] += 0.02
    assert clock.elapsed() == pytest.approx(0.02), "a 20 ms scheduling delay must not be 72 virtual seconds"
    worker.run()  # the scheduler gets to it: it computes (real speed), then ends
    assert ran == [pytest.approx(0.02)]
    real[0] += 0.02
    assert clock.elapsed() == pytest.approx(0.02 + 0.02 * 3600), "nothing computes: virtual time races again"


class _SlowToResume(VirtualEvent):
    """An event whose waiter, once woken, is not scheduled until ``resume`` is set (a loaded machine)."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(clock)
        self.resume = threading.Event()
        self.woken = threading.Event()

    def _wait_real(self, timeout: float | None) -> bool:
        result = super()._wait_real(timeout)
        self.woken.set()
        self.resume.wait(10)
        return result


def _waiting(clock: VirtualClock, event: VirtualEvent, seconds: float, into: list[Any]) -> threading.Thread:
    waiter = threading.Thread(target=lambda: into.append((event.wait(seconds), clock.elapsed())), daemon=True)
    waiter.start()
    for _ in range(1000):  # until the waiter is registered with the clock
        if event._waiters:
            break
        time.sleep(0.001)
    assert event._waiters
    return waiter


def test_a_woken_waiter_resumes_when_its_event_was_set_however_late_it_is_scheduled() -> None:
    real = [0.0]
    clock = VirtualClock(3600, real=lambda: real[0])
    event, got = _SlowToResume(clock), []
    waiter = _waiting(clock, event, 3600.0, got)
    real[0] += 0.01  # 36 virtual seconds of idle waiting
    event.set()
    assert event.woken.wait(10)
    real[0] += 0.05  # the OS takes 50 ms to run the woken thread: not 180 virtual seconds
    assert clock.elapsed() == pytest.approx(36.0)
    event.resume.set()
    waiter.join(10)
    assert got == [(True, pytest.approx(36.0))]
    real[0] += 0.01
    assert clock.elapsed() == pytest.approx(72.0), "once it resumed, idle time races again"


def test_virtual_time_stops_at_a_due_waiters_deadline_until_it_resumes() -> None:
    real = [0.0]
    clock = VirtualClock(3600, real=lambda: real[0])
    event, got = _SlowToResume(clock), []
    waiter = _waiting(clock, event, 60.0, got)  # e.g. CheckServing's TimeoutSeconds
    real[0] += 1.0  # a whole real second (an hour at 3600) before the waiter runs again
    assert event.woken.wait(10), "its real wait (60/3600 s) ended"
    assert clock.elapsed() == pytest.approx(60.0)
    event.resume.set()
    waiter.join(10)
    assert got == [(False, pytest.approx(60.0))], "the waiter timed out at its deadline, not an hour later"
