"""The scorer of a run: chosen by the Evaluate step from the data when the request names none, carried with
its reason into evaluation.json; the gate on any metric of it; a threshold nobody set shown as the default;
the request's JSON Schema and metric refused, naming the field, at submission or at plan time; tool calls
(Converse toolUse blocks) read as JSON from both the data and the model's answer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import botocore.endpoint
import pytest
from moto import mock_aws

from bft.errors import EvaluationBelowThreshold, RequestInvalid
from bft.workflow import evaluation, serving
from bft_twin.catalog import catalog
from tests.unit.test_workflow_steps import completed_job
from tests.unit.workflow_support import Env, make_env

CITIES = ["Paris", "Oslo", "Lima", "Pune", "Kyiv", "Rome", "Doha", "Suva", "Bern", "Riga"]


@pytest.fixture
def env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda _seconds: None)
    with mock_aws():
        yield make_env(tmp_path, catalog=catalog(haiku_status="ACTIVE"), no_commit_model_units=1)


def _call(i: int) -> dict[str, Any]:
    return {"name": "get_weather", "input": {"city": CITIES[i % 10], "days": 1 + i % 3}}


def _tool_records(count: int) -> list[dict[str, Any]]:
    """Nova-format records whose expected answer is a toolUse block, with the tools offered."""
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]}
    return [
        {
            "schemaVersion": "bedrock-conversation-2024",
            "system": [{"text": "Call a tool."}],
            "toolConfig": tools,
            "messages": [
                {"role": "user", "content": [{"text": f"request {i}: weather in {CITIES[i % 10]}?"}]},
                {"role": "assistant", "content": [{"toolUse": {"toolUseId": f"t{i}", **_call(i)}}]},
            ],
        }
        for i in range(count)
    ]


def _json_records(count: int) -> list[dict[str, Any]]:
    """prompt/completion records whose completion is a tool call in the data's own shape ("parameters")."""
    return [
        {"prompt": f"request {i}", "completion": json.dumps({"name": "get_weather", "parameters": _call(i)["input"]})}
        for i in range(count)
    ]


class _Models:
    """bedrock-runtime answering each Converse request with ``answer(model, index)``'s content blocks, the
    index read from the prompt; remembers the requests."""

    def __init__(self, answer: Callable[[str, int], list[dict[str, Any]]]) -> None:
        self.answer, self.requests = answer, list[dict[str, Any]]()

    def converse(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        prompt = request["messages"][-1]["content"][0]["text"]
        index = int(prompt.split()[1].rstrip(":"))  # "request 7" or "request 7: weather in ..."
        model = "custom" if request["modelId"].startswith("arn:") else "base"
        return {"output": {"message": {"role": "assistant", "content": self.answer(model, index)}}}


def _upload(env: Env, records: list[dict[str, Any]]) -> str:
    body = "".join(json.dumps(record) + "\n" for record in records)
    env.s3.put_object(Bucket=env.datasets, Key="moderation/calls.jsonl", Body=body.encode())
    return f"s3://{env.datasets}/moderation/calls.jsonl"


def _checked(env: Env, uri: str, **fields: Any) -> dict[str, Any]:
    """The request's evaluation ``fields`` on ``uri`` as ValidateRequest normalizes them (a scorer not named
    is None), each under a request id of its own."""
    count = len(env.fake.calls)
    run = env.run(execution=f"check-{count}", requestId=f"check-{count}", evaluation={"dataUri": uri, **fields})
    return dict(run["evaluation"])


def _run(env: Env, records: list[dict[str, Any]], **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A served run whose evaluation is ``fields`` on the uploaded records."""
    uri = _upload(env, records)
    run, _, _ = completed_job(env)
    run = {**run, "evaluation": _checked(env, uri, **fields)}
    created = serving.create_serving(run, bedrock=env.bedrock)
    env.fake.advance(3600)
    return run, created


def _evaluate(env: Env, run: dict[str, Any], created: dict[str, Any], models: _Models) -> dict[str, Any]:
    planned = evaluation.plan(run, created, bedrock=env.bedrock, s3=env.s3, execution_name="exec-1")
    for chunk in planned["chunks"]:
        item = {
            "chunk": chunk,
            "dataUri": run["evaluation"]["dataUri"],
            "models": planned["models"],
            "partsPrefix": planned["partsPrefix"],
        }
        evaluation.score_chunk(item, s3=env.s3, runtime=models, reports_bucket=env.reports)
    return planned


def _document(env: Env) -> dict[str, Any]:
    key = "reports/moderation/req-1/evaluation.json"
    return dict(json.loads(env.s3.get_object(Bucket=env.reports, Key=key)["Body"].read()))


def test_tool_calls_get_json_match_chosen_with_its_reason_and_the_default_threshold(env: Env) -> None:
    run, created = _run(env, _tool_records(20))
    assert (run["evaluation"]["scorer"], run["evaluation"]["metric"]) == (None, None)
    assert (run["evaluation"]["threshold"], run["evaluation"]["thresholdSource"]) == (0.0, "default")

    def answer(model: str, i: int) -> list[dict[str, Any]]:
        if model == "base":  # the base model answers in prose
            return [{"text": f"I would check the weather in {CITIES[i % 10]}."}]
        return [{"text": "<thinking>a call</thinking>"}, {"toolUse": {"toolUseId": "x", **_call(i)}}]

    models = _Models(answer)
    planned = _evaluate(env, run, created, models)
    assert planned["scorer"] == {
        "name": "json_match",
        "metric": "structural_match",
        "source": "chosen",
        "reason": "20 of 20 expected answers are JSON objects or arrays (tool calls included); json_match is "
        "chosen when at least 80 % are",
    }
    # The record's tools and its conversation's blocks go to both models, so they can answer with a tool call.
    assert all(request["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather" for request in models.requests)
    result = evaluation.aggregate(run, planned, s3=env.s3, reports_bucket=env.reports)
    assert result["scores"] == {"custom": 1.0, "base": 0.0}
    assert (result["scorerSource"], result["thresholdSource"]) == ("chosen", "default")
    document = _document(env)
    assert (document["scorer"], document["metric"], document["scorerSource"]) == (
        "json_match",
        "structural_match",
        "chosen",
    )
    assert document["scorerReason"].startswith("20 of 20 expected answers are JSON")
    assert document["thresholdSource"] == "default"
    assert document["metrics"]["base"]["parse_failures"] == 20
    assert document["metrics"]["custom"]["field_f1"] == 1.0


def _half_right(model: str, i: int) -> list[dict[str, Any]]:
    """Every call names the right tool and city; every other one the wrong number of days."""
    call = _call(i)
    if i % 2:
        call = {**call, "input": {**call["input"], "days": 9}}
    return [{"toolUse": {"toolUseId": "x", **call}}]


def test_the_gate_takes_a_metric_the_request_names(env: Env) -> None:
    # Exact matches: half. Field F1 per record: 1 or 2/3 (2 of 3 leaves right), so 0.8333 on average.
    run, created = _run(env, _json_records(20), threshold=0.8)
    planned = _evaluate(env, run, created, _Models(_half_right))
    with pytest.raises(EvaluationBelowThreshold, match=r"scored 0\.500 \(json_match structural_match\) on 20"):
        evaluation.aggregate(run, planned, s3=env.s3, reports_bucket=env.reports)
    run = {**run, "evaluation": _checked(env, run["evaluation"]["dataUri"], threshold=0.8, metric="field_f1")}
    assert run["evaluation"]["thresholdSource"] == "requested"
    planned = _evaluate(env, run, created, _Models(_half_right))
    result = evaluation.aggregate(run, planned, s3=env.s3, reports_bucket=env.reports)
    assert (result["metric"], result["passed"], result["scores"]["custom"]) == ("field_f1", True, 0.8333)
    assert _document(env)["metrics"]["custom"]["structural_match"] == 0.5


def test_a_metric_the_chosen_scorer_does_not_produce_is_refused_at_plan_time(env: Env) -> None:
    # accuracy is classification's: valid at submission, since the scorer is not known until the data is read.
    run, created = _run(env, _json_records(20), metric="accuracy")
    models = _Models(_half_right)
    with pytest.raises(
        RequestInvalid,
        match=r"evaluation.metric: 'accuracy' is not a metric of scorer json_match, chosen from the data \(20 of 20 "
        r".*choose one of structural_match, field_f1, field_precision, field_recall, parse_rate, schema_valid",
    ):
        _evaluate(env, run, created, models)
    assert models.requests == []  # refused before any model is asked


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metric": "bleu"}, r"evaluation.metric: 'bleu' is no scorer's metric \(exact_match: exact_match; .*"),
        ({"scorer": "json_match", "metric": "accuracy"}, r"evaluation.metric: 'accuracy' is not a metric of scorer "),
        ({"scorer": "json_match", "metric": "schema_valid"}, r"evaluation.metric: schema_valid needs evaluation.json"),
        ({"jsonSchema": {"type": "object", "minProperties": 1}}, r"evaluation.jsonSchema.minProperties: keyword"),
        ({"jsonSchema": {"type": "dict"}}, r"evaluation.jsonSchema.type: 'dict' is not a type"),
        ({"jsonSchema": "an object"}, r"evaluation.jsonSchema: a schema is an object"),
        ({"scorer": "rouge_l", "jsonSchema": {}}, r"evaluation.jsonSchema: only scorer json_match checks answers"),
        ({"jsonSchema": {}, "metric": "accuracy"}, r"evaluation.metric: 'accuracy' is not a metric of scorer json_m"),
    ],
)
def test_the_request_refuses_a_metric_or_schema_naming_the_field(
    env: Env, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(RequestInvalid, match=message):
        env.run(evaluation={"dataUri": f"s3://{env.datasets}/moderation/evaluation.jsonl", **fields})


def test_a_json_schema_means_json_match_and_its_validity_can_gate(env: Env) -> None:
    schema = {
        "type": "object",
        "required": ["name", "parameters"],
        "properties": {"parameters": {"type": "object", "properties": {"days": {"enum": [1, 2, 3]}}}},
    }
    run, created = _run(env, _json_records(20), jsonSchema=schema, metric="schema_valid", threshold=0.9)
    assert (run["evaluation"]["scorer"], run["evaluation"]["jsonSchema"]) == (None, schema)
    planned = _evaluate(env, run, created, _Models(_half_right))
    assert planned["scorer"]["reason"] == "the request gives evaluation.jsonSchema, which only json_match reads"
    # The answers say "input"; the data "parameters": checked in the data's shape, days 9 is no allowed value.
    with pytest.raises(EvaluationBelowThreshold, match=r"scored 0\.500 \(json_match schema_valid\)"):
        evaluation.aggregate(run, planned, s3=env.s3, reports_bucket=env.reports)
    custom = _document(env)["metrics"]["custom"]
    assert (custom["schema_violations"], custom["schema_examples"][0]) == (
        10,
        "parameters.days: 9 is not one of 1, 2, 3",
    )


def test_json_match_named_for_a_set_with_no_json_is_refused_at_plan_time(env: Env) -> None:
    records = [{"prompt": f"request {i}", "completion": "OK"} for i in range(12)]
    run, created = _run(env, records, scorer="json_match")
    with pytest.raises(RequestInvalid, match=r"evaluation.scorer: json_match compares JSON answers, and none of"):
        _evaluate(env, run, created, _Models(_half_right))


def test_a_requested_scorer_is_kept_and_said_so(env: Env) -> None:
    run, created = _run(env, _json_records(20), scorer="exact_match", threshold=0.0)
    planned = _evaluate(env, run, created, _Models(_half_right))
    assert (planned["scorer"]["name"], planned["scorer"]["source"]) == ("exact_match", "requested")


def test_tool_blocks_in_a_conversation_without_tools_are_kept_as_text() -> None:
    """Without a toolConfig, Converse refuses tool blocks in the history: they are sent as their JSON text,
    not dropped; the expected answer is the last turn's tool call."""
    call = {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Oslo"}}}
    result = {"toolResult": {"toolUseId": "t1", "content": [{"json": {"temp": 3}}]}}
    record = {
        "messages": [
            {"role": "user", "content": [{"text": "Weather in Oslo, then Lima?"}]},
            {"role": "assistant", "content": [{"text": "Checking. "}, call]},
            {"role": "user", "content": [result]},
            {"role": "assistant", "content": [{"toolUse": {**call["toolUse"], "input": {"city": "Lima"}}}]},
        ]
    }
    system, messages, expected, tools = evaluation._split(record)
    assert (system, tools) == (None, None)
    assert [m["content"] for m in messages[1:]] == [
        [{"text": 'Checking. {"name": "get_weather", "input": {"city": "Oslo"}}'}],
        [{"text": '{"temp": 3}'}],
    ]
    assert json.loads(expected) == {"name": "get_weather", "input": {"city": "Lima"}}
    # A plain answer is its text, as before.
    plain = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "OK"}]}
    assert evaluation._split(plain)[2] == "OK"
