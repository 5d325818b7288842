"""The built-in graders keep Bedrock's grader contract and score as documented; the grader check catches a
grader that breaks the contract, cannot teach (all rewards equal) or is too slow, and ValidateDataset runs it
before any job."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from bft.errors import GraderInvalid
from bft.workflow.grader_check import caller, require_working_grader
from bft.workflow.graders import BUILTINS, GraderError, check_contract, check_grader, grade, stand_in_batch


def record(answer: Any, reference: Any, rid: str = "r1", **metadata: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": answer}],
        "metadata": {"reference_answer": reference, **metadata},
    }


def score(name: str, answer: Any, reference: Any, **options: Any) -> float:
    result = grade(name, options, [record(answer, reference)])
    assert check_contract([record(answer, reference)], result) == []
    return float(result[0]["aggregate_reward_score"])


@pytest.mark.parametrize(
    ("name", "answer", "reference", "options", "expected"),
    [
        ("exact_match", "Paris", "Paris", {}, 1.0),
        ("exact_match", "paris", "Paris", {}, 0.0),
        ("normalized_match", "  paris. ", "Paris", {}, 1.0),
        ("normalized_match", "Lyon", "Paris", {}, 0.0),
        ("json_match", '{"b": 2, "a": 1}', {"a": 1, "b": 2}, {}, 1.0),
        ("json_match", 'Sure: {"a": 1, "b": 3}', {"a": 1, "b": 2}, {}, 0.5),
        ("json_match", "no json here", {"a": 1}, {}, 0.0),
        ("json_match", [{"toolUse": {"name": "f", "input": {"x": 1}}}], {"name": "f", "input": {"x": 1}}, {}, 1.0),
        ("regex", "ID-1234", r"ID-\d{4}", {}, 1.0),
        ("regex", "my ID-1234 ok", "ignored", {"pattern": r"ID-\d+", "fullmatch": False}, 1.0),
        ("regex", "ID-12", r"ID-\d{4}", {}, 0.0),
        ("numeric", "The answer is 41.9", 42, {"tolerance": 0.5}, 1.0),
        ("numeric", "The answer is 40", 42, {"tolerance": 0.5}, 0.0),
        ("numeric", "1,050", 1000, {"tolerance": 0.1, "relative": True}, 1.0),
        ("numeric", "x", {"total": 4}, {"field": "total"}, 0.0),
        ("exact_match", "4", {"total": 4}, {"field": "total"}, 1.0),
    ],
)
def test_builtin_graders_score_as_documented(
    name: str, answer: Any, reference: Any, options: dict[str, Any], expected: float
) -> None:
    assert score(name, answer, reference, **options) == pytest.approx(expected)


def test_every_result_has_a_reward_metric_named_after_the_grader() -> None:
    for name in BUILTINS:
        result = grade(name, {}, [record("1", "1", rid="x")])[0]
        assert result["id"] == "x"
        assert result["metrics_list"][0] == {"name": name, "value": 1.0, "type": "Reward"}


def test_a_batch_without_an_assistant_answer_is_an_error() -> None:
    broken = record("a", "a")
    broken["messages"].pop()
    with pytest.raises(GraderError, match="not the assistant's answer"):
        grade("exact_match", {}, [broken])


def prompts(count: int = 8) -> list[dict[str, Any]]:
    return [
        {"messages": [{"role": "user", "content": f"q{i}"}], "reference_answer": {"n": i}, "tag": "t"}
        for i in range(count)
    ]


def test_stand_in_answers_are_the_reference_and_a_wrong_one_with_the_metadata() -> None:
    batch = stand_in_batch(prompts(1))
    assert [r["id"] for r in batch] == ["0-reference", "0-perturbed"]
    assert batch[0]["messages"][-1] == {"role": "assistant", "content": '{"n":0}'}
    assert batch[1]["messages"][-1]["content"] != '{"n":0}'
    assert batch[0]["metadata"] == {"reference_answer": {"n": 0}, "tag": "t"}


def test_a_working_builtin_passes_the_check_with_a_spread() -> None:
    result = check_grader(caller({"builtin": "json_match", "options": {}}), prompts())
    assert result.ok, result.failures
    assert (min(result.rewards), max(result.rewards)) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("grader", "failure"),
    [
        (lambda batch: [{"id": r["id"], "aggregate_reward_score": 1, "metrics_list": []} for r in batch], "float"),
        (lambda batch: [{"id": r["id"], "aggregate_reward_score": 0.5, "metrics_list": []} for r in batch], "spread"),
        (lambda batch: [{"id": "?", "aggregate_reward_score": 0.5, "metrics_list": []} for r in batch], "missing"),
        (lambda batch: {"scores": []}, "not a list"),
        (
            lambda batch: [
                {"id": r["id"], "aggregate_reward_score": 0.5, "metrics_list": [{"name": "m", "value": 1}]}
                for r in batch
            ],
            "Reward|Metric",
        ),
        (lambda batch: 1 / 0, "raised ZeroDivisionError"),
    ],
)
def test_the_check_names_what_a_broken_grader_does(grader: Any, failure: str) -> None:
    result = check_grader(grader, prompts())
    assert not result.ok
    assert failure in " ".join(result.failures)


def test_a_grader_too_slow_for_the_lambda_limit_fails_on_time() -> None:
    ticks = iter(range(0, 100_000, 600))  # every batch "takes" 600 s of a 900 s limit
    result = check_grader(caller({"builtin": "exact_match"}), prompts(), clock=lambda: next(ticks))
    assert [f.split(":")[0] for f in result.failures] == ["time"]


def test_a_grader_that_cannot_read_the_data_fails_before_any_job() -> None:
    # numeric on a reference that is no number: the grader's own fault, named.
    with pytest.raises(GraderInvalid, match=r"built-in grader numeric failed its check.*not a number"):
        require_working_grader({"builtin": "numeric", "options": {}}, prompts())


class FakeLambda:
    """Lambda's Invoke as boto3 answers it: a payload stream, FunctionError when the handler raised."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.calls: list[str] = []

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        self.calls.append(FunctionName)
        try:
            body = json.dumps(self.handler(json.loads(Payload))).encode()
            return {"StatusCode": 200, "Payload": io.BytesIO(body)}
        except Exception as exc:
            error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(json.dumps(error).encode())}


def test_a_team_function_is_invoked_and_its_crash_is_named() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:bft_dev_moderation_grader"
    client = FakeLambda(lambda batch: batch[0]["metadata"]["missing"])
    with pytest.raises(GraderInvalid, match=r"KeyError: 'missing'"):
        require_working_grader({"functionArn": arn}, prompts(), lambda_client=client)
    assert client.calls == [arn]
