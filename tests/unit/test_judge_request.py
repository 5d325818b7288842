"""The LLM-as-judge scorer's request: every refusal names the key, and happens before anything starts
(check_request is what ValidateRequest and the CLI's dry run both run)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bft.config import load_config
from bft.errors import RequestInvalid
from bft.workflow.request import check_request
from bft.workflow.rubric import normalized
from tests.unit.workflow_support import MODEL

BUCKET = "datasets-bucket"
JUDGE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
SCALE = [
    {"definition": "wrong", "value": 1},
    {"definition": "partly right", "value": 3},
    {"definition": "right", "value": 5},
]
RUBRIC = [
    {
        "name": "correctness",
        "instructions": "Is {{prediction}} the answer {{ground_truth}} to {{prompt}}?",
        "ratingScale": SCALE,
    },
    {"name": "tone", "instructions": "Rate the tone of {{prediction}}.", "ratingScale": SCALE[::2]},
]


def policy(**changes: Any) -> dict[str, Any]:
    return load_config("local").policy_document(BUCKET) | changes


def request(**evaluation: Any) -> dict[str, Any]:
    spec = {
        "dataUri": f"s3://{BUCKET}/moderation/eval.jsonl",
        "scorer": "llm_judge",
        "judgeModel": JUDGE,
        "rubric": copy.deepcopy(RUBRIC),
        "threshold": 0.6,
    } | evaluation
    return {
        "team": "moderation",
        "baseModelId": MODEL,
        "trainingDataUri": f"s3://{BUCKET}/moderation/train.jsonl",
        "approvalRequired": False,
        "evaluation": {k: v for k, v in spec.items() if v is not None},
    }


def check(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return check_request(event, policy(**changes), assigned_team=None, default_request_id="req-1")


def test_a_judge_request_carries_the_judge_the_rubric_and_the_gate_metric() -> None:
    evaluation = check(request(metric="tone"))["evaluation"]
    assert evaluation["scorer"] == "llm_judge"
    assert evaluation["judgeModel"] == JUDGE
    assert evaluation["metric"] == "tone"
    assert [m["name"] for m in evaluation["rubric"]] == ["correctness", "tone"]
    assert evaluation["rubric"][0]["ratingScale"][1] == {"definition": "partly right", "value": 3.0}
    # Without a metric the gate takes the rubric's first.
    assert check(request())["evaluation"]["metric"] == "correctness"


def test_a_rating_maps_onto_zero_to_one_between_the_scale_s_ends() -> None:
    metric = check(request())["evaluation"]["rubric"][0]
    assert [normalized(metric, r) for r in (1, 3, 5, 9)] == [0.0, 0.5, 1.0, 1.0]


RUBRIC_REFUSALS = [
    ({"rubric": None}, r"evaluation.rubric: required with scorer llm_judge"),
    ({"rubric": []}, r"evaluation.rubric: required with scorer llm_judge, a list of 1 to 10"),
    ({"rubric": [RUBRIC[0] | {"name": f"m{i}"} for i in range(11)]}, r"evaluation.rubric: 11 metrics, .* at most 10"),
    ({"rubric": ["correctness"]}, r"evaluation.rubric\[0\]: must be an object"),
    ({"rubric": [RUBRIC[0] | {"weight": 2}]}, r"evaluation.rubric\[0\].weight: unknown field"),
    ({"rubric": [RUBRIC[0] | {"name": "has space"}]}, r"evaluation.rubric\[0\].name: 'has space' must be 1-63"),
    ({"rubric": [RUBRIC[0], RUBRIC[0]]}, r"evaluation.rubric\[1\].name: 'correctness' is named twice"),
    ({"rubric": [RUBRIC[0] | {"instructions": ""}]}, r"evaluation.rubric\[0\].instructions: must be a non-empty"),
    ({"rubric": [RUBRIC[0] | {"instructions": "x" * 5001}]}, r"evaluation.rubric\[0\].instructions: .* 5,000"),
    (
        {"rubric": [RUBRIC[0] | {"instructions": "Rate it."}]},
        r"evaluation.rubric\[0\].instructions: must show .*prediction",
    ),
    ({"rubric": [RUBRIC[0] | {"ratingScale": None}]}, r"evaluation.rubric\[0\].ratingScale: must be a list of 2 to 10"),
    ({"rubric": [RUBRIC[0] | {"ratingScale": SCALE[:1]}]}, r"evaluation.rubric\[0\].ratingScale: must be a list of 2"),
    (
        {
            "rubric": [
                RUBRIC[0] | {"ratingScale": [{"definition": "x", "value": 1}, {"definition": "y", "value": "good"}]}
            ]
        },
        r"evaluation.rubric\[0\].ratingScale\[1\].value: 'good' must be a number",
    ),
    (
        {"rubric": [RUBRIC[0] | {"ratingScale": [{"definition": "x", "value": 1}, {"definition": "y", "value": 1}]}]},
        r"evaluation.rubric\[0\].ratingScale\[1\].value: 1 is in the scale twice",
    ),
    (
        {
            "rubric": [
                RUBRIC[0] | {"ratingScale": [{"definition": "x" * 101, "value": 1}, {"definition": "y", "value": 2}]}
            ]
        },
        r"evaluation.rubric\[0\].ratingScale\[0\].definition: .* at most 100",
    ),
    (
        {"rubric": [RUBRIC[0] | {"ratingScale": [{"value": 1}, {"definition": "y", "value": 2}]}]},
        r"ratingScale\[0\]: must be an object with exactly",
    ),
    ({"metric": "fluency"}, r"evaluation.metric: 'fluency' is not a metric of the rubric; .* correctness, tone"),
    ({"maxRecords": 1001}, r"evaluation.maxRecords: 1,001 records, .* at most 1,000 prompts"),
]


@pytest.mark.parametrize(("change", "message"), RUBRIC_REFUSALS, ids=[m[:40] for _, m in RUBRIC_REFUSALS])
def test_a_malformed_rubric_is_refused_naming_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(RequestInvalid, match=message):
        check(request(**change))


def test_a_judge_not_offered_in_the_region_is_refused_naming_the_offered_ones() -> None:
    # Nova Pro judges in us-east-1 only (the model catalog); the local environment is us-west-2.
    with pytest.raises(RequestInvalid) as refused:
        check(request(judgeModel="amazon.nova-pro-v1:0"))
    message = str(refused.value)
    assert message.startswith("evaluation.judgeModel: amazon.nova-pro-v1:0 is not offered as a judge in us-west-2")
    assert JUDGE in message
    assert "meta.llama3-1-70b-instruct-v1:0" in message
    assert "nothing was started" in message


def test_a_model_that_is_no_judge_is_refused() -> None:
    with pytest.raises(
        RequestInvalid, match=r"evaluation.judgeModel: 'amazon.titan-text-express-v1' is not an evaluator"
    ):
        check(request(judgeModel="amazon.titan-text-express-v1"))


def test_a_missing_judge_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(RequestInvalid, match=rf"evaluation.judgeModel: required .*allowed in local: {JUDGE}"):
        check(request(judgeModel=None))


def test_an_environment_without_judges_refuses_every_judge() -> None:
    with pytest.raises(
        RequestInvalid, match=r"no judge model is allowed there: ask the platform team to set judge_models"
    ):
        check(request(), judgeModels=[])


def test_a_judge_offered_here_but_not_allowed_is_refused() -> None:
    with pytest.raises(
        RequestInvalid,
        match=rf"meta.llama3-1-70b-instruct-v1:0 is not allowed as a judge in local \(allowed: {JUDGE}\)",
    ):
        check(request(judgeModel="meta.llama3-1-70b-instruct-v1:0"))


@pytest.mark.parametrize("field", ["judgeModel", "rubric"])
def test_a_judge_or_rubric_with_another_scorer_is_refused(field: str) -> None:
    event = request(scorer="rouge_l", metric=None)
    event["evaluation"] = {k: v for k, v in event["evaluation"].items() if k in ("dataUri", "scorer", field)}
    with pytest.raises(RequestInvalid, match=rf"evaluation.{field}: only scorer llm_judge has a judge and a rubric"):
        check(event)


def test_an_unknown_scorer_lists_llm_judge_among_the_known() -> None:
    with pytest.raises(RequestInvalid, match=r"evaluation.scorer: 'bleu' is not one of .*json_match, llm_judge"):
        check(request(scorer="bleu"))
