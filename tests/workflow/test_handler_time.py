"""Handlers read the world's virtual clock, as the state machine's waits and Bedrock's jobs do (bft.clock).

In AWS a run's finish time comes after its job's hours. Offline those hours are virtual: were a handler to read
the real wall clock, Finalize would date a two-hour job's run a few real seconds after it started, and the
reaper would measure a throughput's age in real seconds, so its time-to-live could never fire.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

from bft_twin.run import SCENARIOS, run_scenario


def test_finalize_dates_the_run_on_the_virtual_clock(local_assembly: Path, tmp_path: Path) -> None:
    began = time.time()
    summary = run_scenario("success", assembly=local_assembly, workdir=tmp_path, report_dir=tmp_path / "report")
    assert summary["outcome"] == "deployed"
    record = json.loads((tmp_path / "report" / "run.json").read_text())
    finished = datetime.fromisoformat(record["finishedAt"]).timestamp()
    job_seconds = SCENARIOS["success"].job_hours * 3600
    # Virtual time ran at least the job's hours ahead of the real start; the real run took seconds.
    assert finished - began >= job_seconds, (finished - began, job_seconds)
    assert time.time() - began < job_seconds / 10


def test_the_reaper_deletes_a_throughput_past_its_ttl(local_assembly: Path, tmp_path: Path) -> None:
    """The reaper measures a throughput's age on the clock the throughput was created on: past the team's
    time-to-live, its schedule deletes it and tells the team (scenario reaper-ttl)."""
    summary = run_scenario("reaper-ttl", assembly=local_assembly, workdir=tmp_path)
    assert summary["outcome"] == "deployed"
    ((follow_up,),) = [summary["afterwards"]]
    reaper = follow_up["reaper"]
    assert reaper["throughputs_before"], "the scenario serves by a provisioned throughput"
    assert reaper["throughputs_after"] == []
    assert summary["provisioned_throughputs_left"] == []
    assert len(reaper["notified"]) == len(reaper["throughputs_before"])
    assert follow_up["as_intended"] is True
