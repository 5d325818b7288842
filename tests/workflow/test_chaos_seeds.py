"""Chaos runs in CI: a fixed set of seeds of `bft local-run --chaos SEED`, each holding every invariant.

The seeds are chosen so that together they combine faults of every kind the draw makes in CI's time budget
(about 10 s each); `scripts/chaos.py` runs 200 and more (docs/chaos.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bft_twin.chaos import INVARIANTS, draw, run_chaos

pytestmark = pytest.mark.slow

CI_SEEDS = (0, 2, 75)


def test_the_ci_seeds_cover_every_kind_of_fault() -> None:
    kinds = {fault.kind for seed in CI_SEEDS for fault in draw(seed)}
    assert kinds >= {"aws-error", "crash", "event", "throughput", "approval"}, kinds


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_a_chaos_seed_holds_every_invariant(seed: int, local_assembly: Path, tmp_path: Path) -> None:
    summary = run_chaos(seed, assembly=local_assembly, workdir=tmp_path)
    assert summary["seed"] == seed
    assert [f["what"] for f in summary["faults"]] == [f.description for f in draw(seed)]
    assert set(summary["invariants"]) == set(INVARIANTS)
    broken = [name for name, held in summary["invariants"].items() if not held]
    assert not broken, f"seed {seed} broke {broken}: outcome {summary['outcome']}, faults {summary['faults']}"
    assert any(f["fired"] for f in summary["faults"]), "the run met at least one of its faults"
