"""The loss chart: one SVG line chart of a run's training and validation loss, built from numbers and fixed labels
only, inline in the HTML report and as ``loss.svg`` beside the Markdown. Standard library only (the functions' layer).
"""

from __future__ import annotations

import html
import math
from typing import Any

_SERIES = {"training": "#2563eb", "validation": "#ea580c"}
_W, _H = 720, 320
_LEFT, _RIGHT, _TOP, _BOTTOM = 60, 20, 20, 50


def loss_chart(curves: dict[str, Any], *, standalone: bool, note: str | None = None) -> str:
    """One SVG line chart of the loss curves (x: training step, y: loss), with axes, ticks and a legend;
    ``note`` is written above the plot (what the curves are, e.g. simulated)."""
    series = {
        kind: sorted(
            (float(p["step"]), float(p["loss"]))
            for p in curves.get(kind) or []
            if isinstance(p, dict) and finite(p.get("step")) and finite(p.get("loss"))
        )
        for kind in _SERIES
    }
    series = {kind: points for kind, points in series.items() if points}
    xs = [x for points in series.values() for x, _ in points] or [0.0]
    ys = [y for points in series.values() for _, y in points] or [1.0]
    x_ticks = _ticks(min(xs), max(xs), integer=True)
    y_ticks = _ticks(0.0, max(ys), integer=False)
    x_lo, x_hi, y_hi = x_ticks[0], x_ticks[-1], y_ticks[-1]
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def px(x: float) -> float:
        return _LEFT + (x - x_lo) / ((x_hi - x_lo) or 1.0) * plot_w

    def py(y: float) -> float:
        return _TOP + plot_h - y / (y_hi or 1.0) * plot_h

    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}"'
            if standalone
            else f'<svg class="chart" viewBox="0 0 {_W} {_H}"'
        )
        + ' role="img" aria-label="Training and validation loss by step" font-family="sans-serif" font-size="12">',
        "<title>Training and validation loss by step</title>",
        f'<rect x="0" y="0" width="{_W}" height="{_H}" fill="#ffffff"/>',
    ]
    if note:
        out.append(f'<text class="note" x="{_LEFT}" y="14" font-size="11" fill="#b45309">{html.escape(note)}</text>')
    for y in y_ticks:
        out.append(
            f'<line x1="{_LEFT}" y1="{py(y):.1f}" x2="{_W - _RIGHT}" y2="{py(y):.1f}" stroke="#e5e7eb"/>'
            f'<text x="{_LEFT - 6}" y="{py(y) + 4:.1f}" text-anchor="end" fill="#374151">{_tick_label(y)}</text>'
        )
    for x in x_ticks:
        bottom = _TOP + plot_h
        out.append(
            f'<line x1="{px(x):.1f}" y1="{bottom}" x2="{px(x):.1f}" y2="{bottom + 5}" stroke="#374151"/>'
            f'<text x="{px(x):.1f}" y="{bottom + 18}" text-anchor="middle" fill="#374151">{_tick_label(x)}</text>'
        )
    out.append(
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plot_h}" stroke="#374151"/>'
        f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_W - _RIGHT}" y2="{_TOP + plot_h}" stroke="#374151"/>'
        f'<text x="{_LEFT + plot_w / 2:.1f}" y="{_H - 10}" text-anchor="middle" fill="#111827">training step</text>'
        f'<text transform="translate(16 {_TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" '
        'fill="#111827">loss</text>'
    )
    for step, epoch in _epoch_starts(curves.get("training") or []):
        out.append(
            f'<line x1="{px(step):.1f}" y1="{_TOP}" x2="{px(step):.1f}" y2="{_TOP + plot_h}" stroke="#9ca3af" '
            'stroke-dasharray="4 4"/>'
            f'<text x="{px(step) + 4:.1f}" y="{_TOP + 12}" fill="#6b7280">epoch {epoch}</text>'
        )
    for kind, points in series.items():
        color = _SERIES[kind]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        out.append(f'<polyline class="{kind}" fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
        # Validation has one point per epoch: markers keep a one-point curve visible.
        if kind == "validation" or len(points) == 1:
            out.extend(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{color}"/>' for x, y in points)
    for row, kind in enumerate(series):
        y = _TOP + 10 + row * 18
        x = _W - _RIGHT - 120
        out.append(
            f'<line x1="{x}" y1="{y}" x2="{x + 24}" y2="{y}" stroke="{_SERIES[kind]}" stroke-width="3"/>'
            f'<text x="{x + 30}" y="{y + 4}" fill="#111827">{html.escape(kind)} loss</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _epoch_starts(points: list[Any]) -> list[tuple[float, int]]:
    """(first step, 1-based epoch number) of every epoch after the first: where the chart marks a boundary."""
    starts = []
    previous = None
    for point in points:
        if not isinstance(point, dict) or not finite(point.get("step")) or not isinstance(point.get("epoch"), int):
            continue
        if previous is not None and point["epoch"] != previous:
            starts.append((float(point["step"]), point["epoch"] + 1))
        previous = point["epoch"]
    return starts


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _ticks(lo: float, hi: float, *, integer: bool, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw)
    if integer:
        step = max(1.0, round(step))
    start = math.floor(lo / step) * step
    ticks = [start]
    while ticks[-1] < hi - step * 1e-9:
        ticks.append(start + len(ticks) * step)
    return ticks


def _tick_label(value: float) -> str:
    return f"{value:.10g}" if abs(value) >= 1e-9 else "0"
