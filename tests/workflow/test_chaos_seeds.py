"""Chaos runs in CI: a fixed set of seeds of `bft local-run --chaos SEED`, each holding every invariant.

The seeds are chosen so that together they combine faults of every kind the draw makes in CI's time budget
(about 10 s each); `scripts/chaos.py` runs 200 and more (docs/chaos.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bft_twin.chaos import INVARIANTS, Reach, draw, run_chaos

pytestmark = pytest.mark.slow

CI_SEEDS = (0, 2, 75)


def test_the_ci_seeds_cover_every_kind_of_fault() -> None:
    kinds = {fault.kind for seed in CI_SEEDS for fault in draw(seed)}
    assert kinds >= {"aws-error", "crash", "event", "throughput", "approval"}, kinds


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_a_chaos_seed_holds_every_invariant(seed: int, local_assembly: Path, tmp_path: Path) -> None:
    summary = run_chaos(seed, assembly=local_assembly, workdir=tmp_path)
    assert summary["seed"] == seed
    assert [f["what"] for f in summary["faults"]] == [f.description for f in draw(seed, Reach(**summary["reach"]))]
    assert summary["faults_could_not_act"] == []
    assert set(summary["invariants"]) == set(INVARIANTS)
    broken = [name for name, held in summary["invariants"].items() if not held]
    assert not broken, f"seed {seed} broke {broken}: outcome {summary['outcome']}, faults {summary['faults']}"
    assert any(f["exercised"] for f in summary["faults"]), "the run met at least one of its faults"


def test_a_deployment_fault_acts_on_a_run_served_on_demand(east_assembly: Path, tmp_path: Path) -> None:
    """Nova in us-east-1 is served by an on-demand deployment: seed 1 draws its deployment ending Failed, and the
    run ends pt_failed (the outcome of either way of serving failing) with every invariant held."""
    summary = run_chaos(1, assembly=east_assembly, workdir=tmp_path)
    assert summary["reach"] == {"serving": "on-demand-deployment", "reviewers": True}
    assert [(f["kind"], f["outcome"], f["exercised"]) for f in summary["faults"]] == [("deployment", "Failed", True)]
    assert summary["outcome"] == "pt_failed"
    assert all(summary["invariants"].values()), summary["invariants"]
