"""One virtual clock for an offline environment: every wait of the state machine, the schedules and the
Bedrock fake run on it, compressed by one factor.

``VirtualClock(factor)``: virtual now = start + (real elapsed) x factor. At factor 3600 one real second is
one virtual hour, so an environment's own configuration (a 5 s retry interval, a 2 h job, a 14-day
execution timeout) runs unchanged and in proportion: the retry waits 1.4 ms, the job 2 s, and the
execution timeout never fires in a run of seconds.

:func:`moto_patches` points moto 5.2.5's Step Functions interpreter at the clock. It waits in these
places, each patched here (module attributes and methods, with ``mock.patch``):

- ``asl/component/common/retry/retrier_decl.py``: ``time.sleep(interval)`` between retries -- the module's
  ``time`` becomes a shim whose ``sleep`` is virtual (IntervalSeconds, BackoffRate, MaxDelaySeconds and
  FULL jitter are computed by moto in seconds, so all of them are virtual).
- ``asl/component/state/wait/wait_function/wait_function.py``: ``WaitFunction._wait_interval`` (``Seconds``,
  ``SecondsPath``, ``TimestampPath``) waits until a virtual deadline, still interruptible by
  ``env.program_state_event`` (a stopped execution ends its Wait at once).
- ``.../wait_function/timestamp.py``: ``Timestamp._get_wait_seconds`` compares with the virtual now
  (moto compares a UTC timestamp with the *local* ``datetime.now()``).
- ``asl/component/state/exec/execute_state.py``: ``terminated_event.wait(TimeoutSeconds)`` -- the module's
  ``threading`` becomes a shim whose ``Event`` waits in virtual seconds (TimeoutSeconds, TimeoutSecondsPath).
- ``asl/eval/callback/callback.py``: the module's ``Event`` (task-token waits, heartbeats, activity starts).
- ``asl/component/program/program.py``: ``Program.eval`` joins the execution's worker for the state
  machine's top-level ``TimeoutSeconds`` in virtual seconds.
- ``StateTaskService``, ``StateTaskLambda``, ``StateTaskActivity``: ``_eval_execution`` runs
  :meth:`VirtualClock.busy` (calling the service is computing, at real speed; its waits are idle).
- ``.../state_map/iteration/inline_iteration_component.py``: a Map's iteration workers are started as the
  task workers above; ``.../iteration/job.py``: ``JobPool``'s termination ``Event`` waits idle.
- ``.../state_task/service/state_task_service_callback.py``: the ``.sync`` poll (0.5 s in moto, an
  implementation detail, not ASL time) is 0.5 virtual seconds with a floor of 10 real ms, so it never spins.

Lambda handlers read the virtual clock too: each function's own copy of :mod:`bft.clock` (the only place the
product reads the time) is pointed at it at the function's cold start (``_runner.py``), and their
``context.get_remaining_time_in_millis()`` is virtual. While a stand-in computes (the Bedrock fake's learner,
its answers) the clock is :meth:`~VirtualClock.frozen`.

Not virtual: the timestamps moto writes in the execution history and the API's dates (real wall clock),
``GetActivityTask``'s long poll (an API call), and botocore's request signing (moto does not check its time).
"""

from __future__ import annotations

import datetime as _dt
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from unittest import mock

__all__ = ["RateSchedule", "VirtualClock", "VirtualEvent", "moto_patches"]

# The .sync poll's floor in real seconds: at factor 3600 moto's 0.5 s would be a 0.14 ms busy loop.
_SYNC_POLL_FLOOR_S = 0.01
# How often a waiter re-reads the clock while some thread computes (the clock runs at real speed then).
_BUSY_POLL_S = 0.005
# How often an idle waiter re-reads the clock at the latest, so a jump of virtual time (advance) is noticed
# promptly even at factor 1, where a 30 s approval timeout would otherwise sleep 30 real seconds regardless.
_ADVANCE_POLL_S = 0.1


class VirtualClock:
    """Virtual time that runs ``factor`` times faster than real time, from ``start`` (epoch seconds).

    Waiting is compressed, computing is not: while a thread is :meth:`busy` (a Lambda handler, the
    interpreter calling a task's service) the clock runs at real speed, so a handler's 50 real ms are 50
    virtual ms, not 3 virtual minutes against its task's TimeoutSeconds. Virtual time fast-forwards only
    while nothing computes. Every wait is :meth:`block`: until a virtual deadline, re-checked whenever the
    rate may have changed. ``real`` is the real monotonic source (tests may pass their own).

    Fast-forwarding stops at the earliest deadline of the threads waiting on the clock, and at "now" for a
    waiter whose :class:`VirtualEvent` was set, until that thread has resumed: the time a loaded machine
    takes to schedule it is not multiplied by the factor. A Wait state then ends at its deadline and a
    task's callback resumes at the moment its token was sent, however late the OS runs the thread.
    """

    def __init__(self, factor: float = 1.0, *, start: float | None = None, real: Callable[[], float] = time.monotonic):
        if not factor > 0:
            raise ValueError(f"time factor must be > 0, not {factor!r}")
        self.factor = float(factor)
        self._real = real
        self._lock = threading.Lock()
        self._mark_real = real()  # the clock is piecewise linear: (real, virtual) at the last rate change
        self._mark_virtual = 0.0
        # thread id -> nesting depth of busy sections; a started thread's pending hold is keyed by its token
        self._busy: dict[object, int] = {}
        self._frozen: set[object] = set()  # stand-ins computing: virtual time stands still (frozen())
        self._deadlines: dict[object, float] = {}  # waiter token -> virtual deadline (elapsed seconds)
        self.start = time.time() if start is None else float(start)

    def __repr__(self) -> str:
        return f"VirtualClock(factor={self.factor:g}, now={self.datetime().isoformat()})"

    def _rate(self) -> float:
        if self._frozen:
            return 0.0
        return min(1.0, self.factor) if self._busy else self.factor

    def _flowing(self) -> float:  # with the lock held
        value = self._mark_virtual + (self._real() - self._mark_real) * self._rate()
        if self._deadlines:  # never past a waiter that is due but has not resumed; never backwards
            value = min(value, max(self._mark_virtual, min(self._deadlines.values())))
        return value

    def _rebase(self) -> None:  # with the lock held, before the rate or the deadlines change
        now = self._real()
        self._mark_virtual = self._flowing()
        self._mark_real = now

    def elapsed(self) -> float:
        """Virtual seconds since the clock started (a virtual ``time.monotonic``)."""
        with self._lock:
            return self._flowing()

    def now(self) -> float:
        """Virtual epoch seconds (a virtual ``time.time``)."""
        return self.start + self.elapsed()

    def datetime(self) -> _dt.datetime:
        """The virtual now, timezone-aware UTC."""
        return _dt.datetime.fromtimestamp(self.now(), _dt.UTC)

    def advance(self, virtual_seconds: float) -> None:
        """Jump virtual time forward (a scenario's step that takes long: a handler "running" for minutes; a
        reviewer who never decides). Waiters notice at their next look at the clock, within 0.1 real s."""
        if virtual_seconds < 0:
            raise ValueError("virtual time only moves forward")
        with self._lock:
            self._rebase()
            self._mark_virtual += float(virtual_seconds)

    def to_real(self, virtual_seconds: float) -> float:
        """How long ``virtual_seconds`` of idle waiting take in real seconds (never negative)."""
        return max(0.0, float(virtual_seconds)) / self.factor

    @contextmanager
    def busy(self) -> Iterator[None]:
        """The calling thread computes: the clock runs at real speed until it leaves (re-entrant)."""
        ident = threading.get_ident()
        with self._lock:
            self._rebase()
            self._busy[ident] = self._busy.get(ident, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._rebase()
                depth = self._busy.pop(ident) - 1
                if depth:
                    self._busy[ident] = depth

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """A stand-in computes (the Bedrock fake training its learner, answering a prompt): virtual time stands
        still until it is done. What the stand-in computes is simulated as instant, so its real cost -- larger
        for a large file, and larger again on a loaded machine -- never becomes simulated time."""
        key = object()
        with self._lock:
            self._rebase()
            self._frozen.add(key)
        try:
            yield
        finally:
            with self._lock:
                self._rebase()
                self._frozen.discard(key)

    @contextmanager
    def idle(self) -> Iterator[None]:
        """The calling thread waits (inside a busy section, e.g. a task waiting for its token)."""
        ident = threading.get_ident()
        with self._lock:
            self._rebase()
            depth = self._busy.pop(ident, 0)
        try:
            yield
        finally:
            if depth:
                with self._lock:
                    self._rebase()
                    self._busy[ident] = depth

    def thread(self, target: Callable[..., Any], *args: Any, daemon: bool = True) -> threading.Thread:
        """A thread that computes from the moment ``start()`` returns, not from when it is first scheduled.

        A task's worker is started, then its parent waits for it with a virtual timeout. Were the worker
        counted only once it runs, the clock would race at full factor while it is being scheduled: on a
        loaded machine 20 real ms are 72 virtual seconds at 3600, past CheckServing's 60 s TimeoutSeconds.
        The worker is busy until it waits itself (its waits are idle, as every wait on this clock).
        """
        pending = object()
        clock = self

        def run() -> None:
            with clock.busy():
                clock._release(pending)
                target(*args)

        worker = threading.Thread(target=run, daemon=daemon)
        original_start = worker.start

        def start() -> None:
            clock._hold(pending)
            try:
                original_start()
            except BaseException:
                clock._release(pending)
                raise

        worker.start = start  # type: ignore[method-assign]
        return worker

    def _hold(self, key: object) -> None:
        with self._lock:
            self._rebase()
            self._busy[key] = 1

    def _release(self, key: object) -> None:
        with self._lock:
            self._rebase()
            self._busy.pop(key, None)

    def block(
        self, wait: Callable[[float | None], Any], virtual_seconds: float | None, *, waiters: set[object] | None = None
    ) -> bool:
        """Call ``wait(real_timeout)`` until it returns true (True) or ``virtual_seconds`` passed (False).

        ``wait`` is e.g. ``event.wait``; None waits without a deadline. ``waiters``: the waiting tokens of
        the event ``wait`` waits on, which :meth:`wake` stops the clock for when the event is set.
        """
        token = object()
        with self.idle():
            with self._lock:
                self._rebase()
                deadline = (
                    float("inf") if virtual_seconds is None else self._mark_virtual + max(0.0, float(virtual_seconds))
                )
                self._deadlines[token] = deadline
                if waiters is not None:
                    waiters.add(token)
            try:
                if virtual_seconds is None:
                    return bool(wait(None))
                while True:
                    remaining = deadline - self.elapsed()
                    if remaining <= 0:
                        return False
                    with self._lock:
                        busy = bool(self._busy or self._frozen)
                    # Idle: exact (the rate can only drop; then the loop waits the rest). Busy: poll, because
                    # the clock speeds up again when the computing thread is done.
                    real = min(remaining, _BUSY_POLL_S) if busy else min(remaining / self.factor, _ADVANCE_POLL_S)
                    if wait(real):
                        return True
            finally:
                with self._lock:
                    self._rebase()
                    self._deadlines.pop(token, None)
                    if waiters is not None:
                        waiters.discard(token)

    def wake(self, waiters: set[object]) -> None:
        """An event was set: its waiters are due now, so the clock holds until each has resumed."""
        with self._lock:
            self._rebase()
            for token in waiters:
                if token in self._deadlines:
                    self._deadlines[token] = self._mark_virtual

    def sleep(self, virtual_seconds: float) -> None:
        self.block(threading.Event().wait, virtual_seconds)

    def wait(self, event: threading.Event, virtual_seconds: float | None) -> bool:
        """``event.wait`` for ``virtual_seconds`` (None: until set); True if the event was set."""
        return self.block(lambda real: threading.Event.wait(event, real), virtual_seconds)

    def event(self) -> VirtualEvent:
        return VirtualEvent(self)


class VirtualEvent(threading.Event):
    """A ``threading.Event`` whose ``wait(timeout)`` takes virtual seconds."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self.clock = clock
        self._waiters: set[object] = set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.clock.block(self._wait_real, timeout, waiters=self._waiters)

    def _wait_real(self, timeout: float | None) -> bool:
        return super().wait(timeout)

    def set(self) -> None:
        super().set()
        self.clock.wake(self._waiters)


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass
class RateSchedule:
    """An EventBridge ``rate(N unit)`` schedule, due every ``period`` virtual seconds after ``origin``."""

    expression: str
    period: float
    next_due: float

    @classmethod
    def parse(cls, expression: str, *, origin: float) -> RateSchedule:
        found = _RATE.match(expression.strip())
        if found is None:
            if expression.strip().startswith("cron("):
                raise NotImplementedError(
                    f"schedule {expression!r}: cron expressions are not run on the virtual clock offline "
                    "(only rate(N minutes|hours|days)); fire the rule with OfflineAssembly.run_scheduled_rules()"
                )
            raise ValueError(f"schedule {expression!r} is not an EventBridge rate() or cron() expression")
        amount, unit = int(found.group(1)), found.group(2).removesuffix("s")
        if amount < 1 or (amount == 1) != (found.group(2) == unit):
            # EventBridge: rate(1 hour), rate(2 hours); rate(1 hours) and rate(0 minutes) are invalid.
            raise ValueError(f"schedule {expression!r}: EventBridge refuses this rate (value and unit's plural)")
        period = float(amount * _UNIT_SECONDS[unit])
        return cls(expression=expression, period=period, next_due=origin + period)

    def due(self, now: float) -> list[float]:
        """The occurrences (virtual epoch seconds) that came due up to ``now``, each once, oldest first."""
        fired: list[float] = []
        while self.next_due <= now:
            fired.append(self.next_due)
            self.next_due += self.period
        return fired


def moto_patches(clock: VirtualClock) -> list[Any]:
    """The patches (not started) that put moto's Step Functions interpreter on ``clock``."""
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.program import program as program_module
    from moto.stepfunctions.parser.asl.component.program.program import Program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        inline_iteration_component,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import job as map_jobs
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_activitiy import StateTaskActivity
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.eval.callback import callback

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        # moto: waits on env.program_state_event (set and cleared on every change of the program's state)
        # and re-waits while the program runs; here until a virtual deadline.
        deadline = clock.elapsed() + wait_seconds
        while env.is_running():
            remaining = deadline - clock.elapsed()
            if remaining <= 0:
                return
            clock.block(env.program_state_event.wait, remaining)

    def get_wait_seconds(self: Any, env: Any) -> int:
        self.string.eval(env=env)
        timestamp_str: str = env.stack.pop()
        timestamp = self._from_timestamp_string(timestamp=timestamp_str)
        if timestamp is None:
            raise FailureEventException(self._create_failure_event(env, timestamp_str))
        # moto parses the "Z" timestamp to a naive UTC datetime: compare with the virtual UTC now.
        delta = timestamp - clock.datetime().replace(tzinfo=None)
        return int(delta.total_seconds())

    def program_eval(self: Program, env: Any) -> None:
        timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
        env.next_state_name = self.start_at.start_at_name
        # The interpreter between states computes too (Choice, Pass, history): busy, but for its waits.
        worker_thread = clock.thread(super(Program, self).eval, env)
        program_module.TMP_THREADS.append(worker_thread)
        worker_thread.start()

        def joined(real: float | None) -> bool:
            worker_thread.join(real)
            return not worker_thread.is_alive()

        clock.block(joined, timeout)
        if worker_thread.is_alive():
            env.set_timed_out()

    def sync_sleep(seconds: float) -> None:
        with clock.idle():
            time.sleep(max(clock.to_real(seconds), _SYNC_POLL_FLOOR_S))

    def computing(method: Callable[..., Any]) -> Callable[..., Any]:
        def _eval_execution(self: Any, env: Any) -> None:
            with clock.busy():  # the waits inside (task tokens, heartbeats, activities) are idle again
                method(self, env)

        return _eval_execution

    threading_shim = _Shim(threading, Event=clock.event)

    def task_thread(*, target: Callable[[], None], daemon: bool = True) -> threading.Thread:
        return clock.thread(target, daemon=daemon)

    return [
        *(
            mock.patch.object(task, "_eval_execution", computing(task._eval_execution))
            for task in (StateTaskService, StateTaskLambda, StateTaskActivity)
        ),
        mock.patch.object(retrier_decl, "time", _Shim(time, sleep=clock.sleep)),
        mock.patch.object(WaitFunction, "_wait_interval", wait_interval),
        mock.patch.object(Timestamp, "_get_wait_seconds", get_wait_seconds),
        mock.patch.object(execute_state, "threading", threading_shim),
        mock.patch.object(execute_state, "Thread", task_thread),
        # A Map's iterations run on worker threads (busy from their start, as a task's); the Map waits for
        # them idle, so their waits (a model's latency, a Retry's interval) overlap in virtual time.
        mock.patch.object(inline_iteration_component, "threading", _Shim(threading, Thread=task_thread)),
        mock.patch.object(map_jobs, "threading", threading_shim),
        mock.patch.object(callback, "Event", clock.event),
        mock.patch.object(Program, "eval", program_eval),
        mock.patch.object(
            state_task_service_callback,
            "time",
            _Shim(time, sleep=sync_sleep),
        ),
    ]


class _Shim(SimpleNamespace):
    """A module stand-in: the given attributes replaced, everything else the real module's."""

    def __init__(self, module: Any, **replaced: Any) -> None:
        super().__init__(**replaced)
        self._module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_module"], name)
