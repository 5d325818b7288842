"""The time every step reads: the one place the product asks for it.

In AWS this is the machine's clock. The offline twin points each function's own copy of this module (each
function is its own process, with its own module tree) at its virtual clock at the cold start, so a handler
sees the same time as the state machine's waits and Bedrock's jobs: a throughput's age, a token's expiry, a
run's finish time are all virtual there, and the reaper's time-to-live fires offline as it does in AWS.

Standard library only: this module ships in the functions' layer.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from datetime import UTC, date, datetime

__all__ = ["monotonic", "now", "sleep", "time", "today", "use"]

_time_source: Callable[[], float] = _time.time
_monotonic_source: Callable[[], float] = _time.monotonic
_sleep: Callable[[float], None] = _time.sleep


def time() -> float:
    """Epoch seconds (``time.time``)."""
    return _time_source()


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.fromtimestamp(_time_source(), UTC)


def today() -> date:
    """Today's date in UTC."""
    return now().date()


def monotonic() -> float:
    """Seconds on a clock that never goes back (``time.monotonic``), for intervals."""
    return _monotonic_source()


def sleep(seconds: float) -> None:
    """Wait ``seconds`` (``time.sleep``)."""
    _sleep(seconds)


def use(
    *,
    time: Callable[[], float],
    monotonic: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    """Read the time from these sources from now on (the offline twin's virtual clock, for one function)."""
    global _time_source, _monotonic_source, _sleep
    _time_source, _monotonic_source, _sleep = time, monotonic, sleep
