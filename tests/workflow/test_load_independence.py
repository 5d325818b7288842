"""No outcome depends on how busy the machine is (issue 22): a large own-data run ends the same way on an idle
machine and with every core kept busy by another process.

A new user's 52 MB training file once ended timed_out while the machine was busy and deployed when it was idle:
the stand-in's training, slower under load, ran while virtual time raced at its factor. The fake's learner and
answers now run with the clock frozen (VirtualClock.frozen), and handler code on the virtual clock.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bft import sample_data
from bft_twin.run import run_scenario

pytestmark = pytest.mark.slow

# 8,000 records of about 2.5 KB: 20 MB of prompt/completion data (the local world's Llama 3.1 8B), large enough
# that the stand-in's training takes real seconds (hours at the clock's factor, were it not frozen).
RECORDS = 8_000
PADDING = "Context from the thread, quoted for the moderator: " + "the discussion continues below. " * 75


def _large_training(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for example in sample_data.examples(RECORDS, seed=21):
            record = {"prompt": f"{sample_data.SYSTEM}\n\n{PADDING}\n{example.prompt}", "completion": example.label}
            out.write(json.dumps(record) + "\n")
    return path


def _spin(stop: Any) -> None:
    while not stop.is_set():
        sum(range(10_000))


@contextmanager
def _every_core_busy() -> Iterator[None]:
    """One busy-looping process per core, beside the run."""
    spawn = multiprocessing.get_context("spawn")  # not fork: the runner's process has threads
    stop = spawn.Event()
    hogs = [spawn.Process(target=_spin, args=(stop,), daemon=True) for _ in range(os.cpu_count() or 2)]
    for hog in hogs:
        hog.start()
    try:
        yield
    finally:
        stop.set()
        for hog in hogs:
            hog.join(timeout=10)


def _run(assembly: Path, work: Path, training: Path, evaluation: Path) -> dict[str, Any]:
    return run_scenario(
        "success-no-approval", assembly=assembly, workdir=work, training=training, evaluation=evaluation
    )


def test_a_large_own_run_ends_the_same_idle_and_under_a_cpu_hog(local_assembly: Path, tmp_path: Path) -> None:
    training = _large_training(tmp_path / "train.jsonl")
    assert training.stat().st_size > 15_000_000
    evaluation = sample_data.write_splits(tmp_path / "sample", data_format="prompt-completion")["evaluation"]
    idle = _run(local_assembly, tmp_path / "idle", training, evaluation)
    with _every_core_busy():
        busy = _run(local_assembly, tmp_path / "busy", training, evaluation)
    assert idle["outcome"] == "deployed", idle.get("executions")
    assert busy["outcome"] == idle["outcome"]
    assert busy["states_visited"] == idle["states_visited"]
    # The same computed results: the scores come from the data, not from the machine's speed.
    assert busy["report"]["evaluation"]["scores"] == idle["report"]["evaluation"]["scores"]
    # And about the same virtual time after the job: the serving waits and steps the configuration sets (about
    # half an hour), not the stand-in's compute. With that compute as virtual time (the clock not frozen) it was
    # 2.5 h idle and an hour more under the hog on this repository's 2-core machine.
    after_idle, after_busy = _after_the_job(idle), _after_the_job(busy)
    assert after_idle < 3600, after_idle
    assert after_busy < 3600, after_busy
    assert abs(after_busy - after_idle) < 1200, (after_idle, after_busy)


def _after_the_job(summary: dict[str, Any]) -> float:
    """Virtual seconds from the job's end (Bedrock's time) to Finalize's (the handler's): one clock for both."""
    report = summary["report"]
    ended = datetime.fromisoformat(report["jobResult"]["endTime"].replace("Z", "+00:00"))
    return (datetime.fromisoformat(report["finishedAt"]) - ended).total_seconds()
