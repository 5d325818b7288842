"""Training curves and Bedrock's metric CSV files.

The curves are computed by :mod:`bft_twin.bedrock_fake._learner` (a naive Bayes stand-in trained on the
job's data): simulated, not a real model's. Only the file layout comes from
``docs/bedrock-behaviour.md#metrics-csv``.
"""

from __future__ import annotations

import math
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


def _csv(header: str, rows: list[tuple[int, int, float]]) -> str:
    lines = [header] + [f"{s},{e},{loss},{round(math.exp(loss), 6)}" for s, e, loss in rows]
    return "\n".join(lines) + "\n"


def training_csv(run: TrainingRun) -> str:
    return _csv("step_number,epoch_number,training_loss,perplexity", run.training)


def validation_csv(run: TrainingRun) -> str:
    return _csv("step_number,epoch_number,validation_loss,perplexity", run.validation)
