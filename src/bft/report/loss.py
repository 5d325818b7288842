"""The report's loss section (the chart and its figures) and the rule that flags a rising validation loss.

A validation loss that climbs at the end of training is the plainest sign a run memorized its examples instead of
learning the task; the report says so in the loss section and among its warnings, in the same words. The rule is
:func:`validation_rise`, a pure function of the curve metrics.json carries (``curves.validation``: points with
``step``, 0-based ``epoch`` and ``loss``).

Standard library only: this module ships in the functions' layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from bft.report.chart import finite, loss_chart
from bft.report.document import Block, Chart, Section, Table, Text
from bft.report.numbers import count, num

SIMULATED_LOSS = (
    "Simulated: the loss of a stand-in learner trained on your data by the Bedrock fake, not of a real model."
)
SIMULATED_CHART_NOTE = "simulated: a stand-in learner's loss, not a real model's"
# A validation loss measured on a few hundred records moves a percent or two between evaluations from sampling
# alone; 5 % above its lowest is beyond that jitter. It must also have climbed at each of the last RISE_POINTS
# evaluations: one high point after a low one is noise a later epoch can undo, a climb at the end is a trend.
RISE_MARGIN = 1.05
RISE_POINTS = 2


@dataclass(frozen=True)
class Rise:
    """The validation loss went up from its lowest point to its last one."""

    lowest: float
    lowest_at: str  # "epoch 2", or "step 120" when the curve has several points an epoch
    last: float
    last_at: str

    def words(self) -> str:
        return (
            f"validation loss rose from {num(self.lowest)} at {self.lowest_at} to {num(self.last)} at "
            f"{self.last_at}: the model may be overfitting; fewer epochs or more data"
        )


def validation_rise(points: Any) -> Rise | None:
    """The rise of a validation curve at its end, or None when it did not rise, or is too short to judge.

    Rising means: at least RISE_POINTS evaluations after the lowest one, the last loss above the lowest by more
    than RISE_MARGIN, and no fall over the last RISE_POINTS evaluations (a curve coming back down is left alone).
    """
    curve = sorted(
        (p for p in points or [] if isinstance(p, dict) and finite(p.get("step")) and finite(p.get("loss"))),
        key=lambda p: p["step"],
    )
    if len(curve) < RISE_POINTS + 1:
        return None
    losses = [float(p["loss"]) for p in curve]
    # The latest of equal lows: a rise is measured from where the curve last stood lowest.
    low = max(range(len(losses)), key=lambda i: (-losses[i], i))
    if len(losses) - 1 - low < RISE_POINTS or losses[-1] <= losses[low] * RISE_MARGIN:
        return None
    tail = losses[-(RISE_POINTS + 1) :]
    if any(later < earlier for earlier, later in pairwise(tail)):
        return None
    return Rise(losses[low], _where(curve, curve[low]), losses[-1], _where(curve, curve[-1]))


def _where(curve: list[dict[str, Any]], point: dict[str, Any]) -> str:
    """Where on the curve a point is, in the words a person tunes by: its epoch (1-based, as the chart labels
    them) when the curve has one point an epoch, else its step."""
    epochs = [p.get("epoch") for p in curve]
    if all(isinstance(e, int) for e in epochs) and len(set(epochs)) == len(epochs):
        return f"epoch {count(point['epoch'] + 1)}"
    return f"step {count(int(point['step']))}"


def loss_warning(documents: dict[str, Any]) -> str | None:
    """The warning line for a rising validation loss, if the run's metrics show one."""
    curves = (documents.get("metrics.json") or {}).get("curves") or {}
    rise = validation_rise(curves.get("validation"))
    return rise.words() if rise else None


def loss_section(documents: dict[str, Any], chart: str | None, simulated: bool = False) -> Section:
    title = "Training and validation loss"
    metrics = documents.get("metrics.json") or {}
    curves = metrics.get("curves") or {}
    if chart is None:
        why = metrics.get("note") or "the run ended before the job's metrics were collected"
        return Section(title, [Text(f"No loss curves: {why}.", "muted")])
    blocks: list[Block] = [Text(SIMULATED_LOSS, "warn")] if simulated else []
    note = SIMULATED_CHART_NOTE if simulated else None
    blocks.append(Chart(loss_chart(curves, standalone=False, note=note), "loss.svg", title))
    summary = metrics.get("summary") or {}
    rows = [
        (str(kind), count(s.get("points")), num(s.get("first")), num(s.get("final")), num(s.get("min")))
        for kind, s in summary.items()
    ]
    if rows:
        blocks.append(Table(("curve", "points", "first loss", "final loss", "lowest loss"), rows))
    if not curves.get("validation"):
        blocks.append(Text("No validation curve: the job had no validation data.", "muted"))
    rise = validation_rise(curves.get("validation"))
    if rise is not None:
        text = rise.words()
        blocks.append(Text(text[0].upper() + text[1:] + ".", "warn"))
    return Section(title, blocks)
