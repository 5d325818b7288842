"""The report's LLM-judge blocks: who judged, the rubric's scores per model, and the simulation label."""

from __future__ import annotations

from bft.report.document import Table, Text
from bft.report.judge import SIMULATED_JUDGE, judge_blocks

DOCUMENT = {
    "judge": {
        "judgeModel": "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "rubric": [
            {"name": "correct", "instructions": "{{prediction}}", "ratingScale": [{"value": 1.0}, {"value": 5.0}]}
        ],
        "jobs": {"custom": "arn:1", "base": "arn:2"},
    },
    "metrics": {"custom": {"correct": 0.9}, "base": {"correct": 0.55}},
}


def test_a_run_without_a_judge_has_no_judge_blocks() -> None:
    assert judge_blocks({"metrics": {"custom": {"accuracy": 1.0}}}, simulated=True) == []


def test_the_judge_its_rubric_scores_and_the_simulation_label() -> None:
    blocks = judge_blocks(DOCUMENT, simulated=True)
    first = blocks[0]
    assert isinstance(first, Text)
    assert "anthropic.claude-3-5-sonnet-20240620-v1:0" in first.text
    assert "2 in all" in first.text
    assert Text(SIMULATED_JUDGE, "warn") in blocks
    (table,) = [b for b in blocks if isinstance(b, Table)]
    assert table.header == ("rubric metric", "rating scale", "custom model", "base model")
    assert list(table.rows) == [("correct", "1-5", "90.0%", "55.0%")]  # one decimal, no space: every percentage


def test_a_real_run_s_judge_is_not_labelled_simulated() -> None:
    assert not [b for b in judge_blocks(DOCUMENT, simulated=False) if isinstance(b, Text) and b.tone == "warn"]
