"""Deterministic training curves and Bedrock's metric CSV files.

Assumption: the curve's shape (exponential decay towards a floor with a few
percent of noise, faster with a higher learning rate) is illustrative; only the
file layout comes from ``docs/bedrock-behaviour.md#metrics-csv``.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingRun:
    training: list[tuple[int, int, float]]  # step_number, epoch_number, training_loss
    validation: list[tuple[int, int, float]]  # step_number, epoch_number, validation_loss

    @property
    def final_training_loss(self) -> float:
        return self.training[-1][2]

    @property
    def final_validation_loss(self) -> float | None:
        return self.validation[-1][2] if self.validation else None


def simulate(
    seed: str, *, records: int, epochs: int, batch_size: int, lr_factor: float, validation: bool
) -> TrainingRun:
    """One run; the same ``seed`` and arguments always give the same numbers."""
    rng = random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))
    steps_per_epoch = max(1, math.ceil(records / batch_size))
    total = steps_per_epoch * epochs
    start = 2.3 + rng.uniform(-0.3, 0.3)
    floor = 0.25 + rng.uniform(0.0, 0.15)
    rate = 4.0 * min(3.0, max(0.2, lr_factor))

    def smooth(progress: float) -> float:
        return floor + (start - floor) * math.exp(-rate * progress)

    training = []
    for step in range(total):
        expected = smooth((step + 1) / total)
        loss = max(0.01, expected + rng.gauss(0.0, 0.04 * expected))
        training.append((step, step // steps_per_epoch, round(loss, 6)))
    rows = []
    if validation:
        # Assumption: one post-fine-tuning validation row per epoch, at the epoch's last step.
        for epoch in range(epochs):
            step = (epoch + 1) * steps_per_epoch - 1
            gap = 1.08 + rng.uniform(0.0, 0.06)
            rows.append((step, epoch, round(smooth((step + 1) / total) * gap, 6)))
    return TrainingRun(training, rows)


def _csv(header: str, rows: list[tuple[int, int, float]]) -> str:
    lines = [header] + [f"{s},{e},{loss},{round(math.exp(loss), 6)}" for s, e, loss in rows]
    return "\n".join(lines) + "\n"


def training_csv(run: TrainingRun) -> str:
    return _csv("step_number,epoch_number,training_loss,perplexity", run.training)


def validation_csv(run: TrainingRun) -> str:
    return _csv("step_number,epoch_number,validation_loss,perplexity", run.validation)
