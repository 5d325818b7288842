"""The scorer chosen from the evaluation data when the request names none (scoring.choose_scorer): labels,
tool calls and free text, and the rule at its edges."""

from __future__ import annotations

import json

import pytest

from bft.workflow.scoring import choose_scorer


def test_labels_are_scored_by_classification() -> None:
    labels = ["OK", "INSULT", "THREAT", "ok."] * 30  # 120 records, 3 labels once normalized
    choice = choose_scorer(labels)
    assert choice.scorer == "classification"
    assert choice.reason.startswith("the 120 expected answers take 3 distinct values, each at least 30 times")


def test_tool_calls_are_scored_by_json_match() -> None:
    calls = [json.dumps({"name": "get_weather", "input": {"city": f"city {i}"}}) for i in range(118)]
    choice = choose_scorer([*calls, "No tool applies.", "I cannot help with that."])
    assert choice.scorer == "json_match"
    assert choice.reason.startswith("118 of 120 expected answers are JSON objects or arrays")
    # A fenced block counts; prose around JSON in the data does not (that is text).
    assert choose_scorer([f"```json\n{calls[0]}\n```"] * 4).scorer == "json_match"
    assert choose_scorer([f"Calling {calls[0]}"] * 4).scorer != "json_match"


def test_free_text_is_scored_by_rouge_l_or_normalized_match_when_short() -> None:
    essays = [f"The capital of country number {i} is a city with a long history." for i in range(120)]
    choice = choose_scorer(essays)
    assert choice.scorer == "rouge_l"
    assert "median length of 13 words (more than 3: generative answers" in choice.reason
    cities = [f"City {i}" for i in range(120)]
    assert choose_scorer(cities).scorer == "normalized_match"


@pytest.mark.parametrize(
    ("answers", "scorer"),
    [
        (["a", "b"] * 10, "classification"),  # 2 labels, each 10 times
        ([f"label {i}" for i in range(20)] * 2, "classification"),  # 20 distinct, each twice: the most there may be
        ([f"label {i}" for i in range(21)] * 2, "normalized_match"),  # 21 distinct: not a label set
        (["a", "b", "b", "c", "c"], "normalized_match"),  # "a" once: not each repeated
        (['{"x": 1}'] * 8 + ["a", "b"], "json_match"),  # 80 %: the share json_match needs
        (['{"x": 1}'] * 7 + ["a", "b", "c"], "normalized_match"),  # 70 % JSON; a, b and c once: short text
        (["[1, 2]"] * 4, "json_match"),  # an array is structure too
        (["42", "7", "42", "7"], "classification"),  # bare numbers parse as JSON but are labels
    ],
)
def test_the_rule_at_its_edges(answers: list[str], scorer: str) -> None:
    assert choose_scorer(answers).scorer == scorer
