"""A broken evaluation file stops the run in ValidateDataset, before CreateModelCustomizationJob: it used to be
read first by Evaluate, after hours of training and with a provisioned throughput already billed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bft.sample_data import default_format, write_splits
from bft_twin.run import run_scenario

pytestmark = pytest.mark.slow


def test_a_truncated_evaluation_file_starts_no_job(local_assembly: Path, tmp_path: Path) -> None:
    data = write_splits(tmp_path / "data", data_format=default_format("local"))
    lines = data["evaluation"].read_text(encoding="utf-8").splitlines()
    lines[41] = lines[41][:60]  # line 42 cut mid-record, as an interrupted copy leaves it
    data["evaluation"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = run_scenario(
        "success",
        assembly=local_assembly,
        workdir=tmp_path / "run",
        training=data["train"],
        validation=data["validation"],
        evaluation=data["evaluation"],
        threshold=0.9,
    )
    assert summary["jobs_started"] == 0
    assert summary["outcome"] == "dataset_invalid"
    cause = summary["executions"][0]["cause"]
    assert "evaluation.jsonl:42: invalid JSON" in cause
    assert "StartJob" not in summary["states_visited"]
