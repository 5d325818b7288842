"""The report's account of an LLM-judge evaluation (evaluation.scorer llm_judge, bft.workflow.judge): which
judge rated the answers, on which rubric, and each model's score per rubric metric; in an offline run, that
the ratings are the twin's simulation. Rendered inside the Evaluation section by bft.report.evaluation."""

from __future__ import annotations

from typing import Any

from bft.report.document import Block, Table, Text
from bft.report.numbers import count, num, pct

SIMULATED_JUDGE = (
    "Simulated judge: the offline twin rates each answer by its ROUGE-L overlap with the expected answer mapped "
    "onto the rubric's rating scale, not by a model's judgement."
)


def judge_blocks(document: dict[str, Any], simulated: bool) -> list[Block]:
    """The judge's blocks from evaluation.json (none unless the run was judged)."""
    judge = document.get("judge") or {}
    if not judge:
        return []
    rubric = judge.get("rubric") or []
    metrics = document.get("metrics") or {}
    models = [model for model in ("custom", "base") if model in metrics]
    jobs = judge.get("jobs") or {}
    blocks: list[Block] = [
        Text(
            f"LLM judge {judge.get('judgeModel', '?')} rated every answer on the team's rubric, through one "
            f"Bedrock evaluation job per model ({count(len(jobs))} in all); a metric's score is its mean rating mapped "
            "onto 0-100 % between the lowest and the highest value of its scale."
        )
    ]
    if simulated:
        blocks.append(Text(SIMULATED_JUDGE, "warn"))
    rows = []
    for metric in rubric:
        values = [item.get("value") for item in metric.get("ratingScale") or []]
        scale = f"{num(min(values))}-{num(max(values))}" if values else "?"
        scores = tuple(pct((metrics.get(model) or {}).get(metric.get("name"))) for model in models)
        rows.append((str(metric.get("name")), scale, *scores))
    blocks.append(Table(("rubric metric", "rating scale", *(f"{model} model" for model in models)), rows))
    return blocks
