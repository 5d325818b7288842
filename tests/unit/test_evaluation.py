"""The evaluation at production size: scorers, the plan's chunks and capacity, idempotent chunks, the
aggregate's checks, the request's scorer and metric, and the fake's capacity (throttling past it)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import botocore.endpoint
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bft import capacity
from bft.errors import EvaluationBelowThreshold, RequestInvalid
from bft.workflow import evaluation, serving
from bft.workflow.scoring import SCORERS, rouge_l, score
from bft_twin.catalog import catalog
from tests.unit.test_workflow_steps import completed_job
from tests.unit.workflow_support import Env, make_env

# -- scorers ----------------------------------------------------------------------------------------------


def test_rouge_l_is_the_lcs_f_measure_worked_by_hand() -> None:
    # reference 6 tokens, candidate 4, LCS "the cat on mat" = 4: P 4/4, R 4/6, F 2PR/(P+R) = 0.8
    assert rouge_l("The cat sat on the mat.", "the cat on mat") == pytest.approx(0.8)
    # LCS "police killed the gunman" (4 of 4 and 4 of 4 tokens in order)... Lin 2004's example, S1 vs S2:
    # S1 "police killed the gunman", S2 "police kill the gunman": LCS 3, P = R = 3/4, F = 0.75
    assert rouge_l("police killed the gunman", "police kill the gunman") == pytest.approx(0.75)
    # S3 "the gunman kill police": LCS "the gunman" = 2, F = 0.5 (Lin's point: order matters)
    assert rouge_l("police killed the gunman", "the gunman kill police") == pytest.approx(0.5)
    assert rouge_l("anything", "") == 0.0
    assert rouge_l("", "") == 0.0


def test_classification_metrics_worked_by_hand() -> None:
    pairs = [("OK", "ok"), ("OK", "OK"), ("OK", "INSULT"), ("INSULT", "INSULT"), ("INSULT", "OK"), ("THREAT", "hmm")]
    metrics = score("classification", pairs)
    assert metrics["accuracy"] == pytest.approx(3 / 6)
    ok, insult, threat = (metrics["labels"][label] for label in ("ok", "insult", "threat"))
    # ok: predicted 3 times, 2 right (P 2/3); 3 true, 2 found (R 2/3)
    assert (ok["precision"], ok["recall"], ok["support"]) == (pytest.approx(0.6667), pytest.approx(0.6667), 3)
    # insult: predicted twice, once right (P 1/2); 2 true, 1 found (R 1/2)
    assert (insult["precision"], insult["recall"], insult["f1"]) == (0.5, 0.5, 0.5)
    assert (threat["precision"], threat["recall"], threat["f1"]) == (0.0, 0.0, 0.0)
    assert metrics["macro_f1"] == pytest.approx((0.6667 + 0.5 + 0.0) / 3, abs=1e-4)
    # An answer that is no label gets its own column; rows are the true labels.
    assert metrics["confusion"]["columns"] == ["insult", "ok", "threat", "(other)"]
    assert metrics["confusion"]["rows"]["threat"] == [0, 0, 0, 1]
    assert metrics["confusion"]["rows"]["ok"] == [1, 2, 0, 0]


def test_every_scorer_names_its_gate_metric_among_what_it_computes() -> None:
    for name, scorer in SCORERS.items():
        # json_match's schema_valid is computed when the request gives a schema (and refused as a gate without).
        computed = score(name, [("INSULT", "INSULT"), ("OK", "INSULT")], schema={} if name == "json_match" else None)
        assert scorer.default_metric in scorer.metrics
        assert set(scorer.metrics) <= set(computed), name


# -- request ----------------------------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda _seconds: None)
    with mock_aws():
        yield make_env(tmp_path, catalog=catalog(haiku_status="ACTIVE"), no_commit_model_units=1)


@pytest.mark.parametrize(
    ("evaluation_fields", "message"),
    [
        ({"scorer": "bleu"}, r"evaluation.scorer: 'bleu' is not one of exact_match, .*classification"),
        ({"scorer": "classification", "metric": "rouge_l"}, r"evaluation.metric: 'rouge_l' is not a metric of"),
        ({"maxRecords": 10_001}, r"evaluation.maxRecords must be an integer from 1 to 10,000"),
    ],
)
def test_request_refuses_an_unknown_scorer_metric_or_size(
    env: Env, evaluation_fields: dict[str, Any], message: str
) -> None:
    request = env.request()
    with pytest.raises(RequestInvalid, match=message):
        env.run(evaluation={**request["evaluation"], **evaluation_fields})


def test_request_takes_the_scorers_gate_metric_by_default(env: Env) -> None:
    request = env.request()
    run = env.run(evaluation={**request["evaluation"], "scorer": "classification", "maxRecords": 10_000})
    assert (run["evaluation"]["metric"], run["evaluation"]["maxRecords"]) == ("accuracy", 10_000)


# -- plan -------------------------------------------------------------------------------------------------


def _served(env: Env, **evaluation_fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    run, _, _ = completed_job(env)
    run = {**run, "evaluation": {**run["evaluation"], **evaluation_fields}}
    created = serving.create_serving(run, bedrock=env.bedrock)
    env.fake.advance(3600)
    return run, created


def _upload(env: Env, name: str, records: list[dict[str, Any]]) -> str:
    body = "".join(json.dumps(record) + "\n" for record in records)
    env.s3.put_object(Bucket=env.datasets, Key=f"moderation/{name}", Body=body.encode())
    return f"s3://{env.datasets}/moderation/{name}"


def _records(count: int, answer: str = "INSULT") -> list[dict[str, Any]]:
    return [
        {"messages": [{"role": "user", "content": f"comment {i}"}, {"role": "assistant", "content": answer}]}
        for i in range(count)
    ]


def test_plan_cuts_10000_records_into_chunks_that_cover_each_record_once(env: Env) -> None:
    uri = _upload(env, "big.jsonl", _records(10_000))
    run, created = _served(env, dataUri=uri, maxRecords=10_000)
    planned = evaluation.plan(run, created, bedrock=env.bedrock, s3=env.s3, execution_name="exec-1")
    body = env.s3.get_object(Bucket=env.datasets, Key="moderation/big.jsonl")["Body"].read()
    covered = b"".join(body[c["bytes"][0] : c["bytes"][1]] for c in planned["chunks"])
    assert covered == body  # contiguous, no gap, no overlap
    assert sum(c["records"] for c in planned["chunks"]) == planned["records"] == 10_000
    assert len(planned["chunks"]) <= capacity.MAX_CHUNKS
    # Each chunk inside its budget at the assumed latency, for both models.
    per_call = evaluation.seconds_per_call(planned["answerTokens"])
    assert planned["chunkRecords"] * 2 * per_call <= capacity.CHUNK_BUDGET_SECONDS
    # The plan rides in the execution's state: far below Step Functions' 256 KB.
    assert len(json.dumps(planned)) < 64 * 1024
    # One model unit: as many chunks at once as it serves (assumed 2 requests per unit).
    assert planned["concurrency"] == capacity.CONCURRENT_REQUESTS_PER_MODEL_UNIT


def test_long_answers_make_smaller_chunks_and_too_many_are_refused_before_any_call(env: Env) -> None:
    essay = " ".join(["word"] * 300)  # ~500 tokens planned per answer: ~10.5 s a call at the assumed speed
    uri = _upload(env, "essays.jsonl", _records(2_000, answer=essay))
    run, created = _served(env, dataUri=uri, maxRecords=2_000)
    planned = evaluation.plan(run, created, bedrock=env.bedrock, s3=env.s3, execution_name="exec-1")
    assert planned["answerTokens"] == evaluation.MAX_ANSWER_TOKENS
    assert planned["chunkRecords"] < 20
    many = _upload(env, "many-essays.jsonl", _records(10_000, answer=essay))
    run = {**run, "evaluation": {**run["evaluation"], "dataUri": many, "maxRecords": 10_000}}
    with pytest.raises(RequestInvalid, match=r"evaluation.maxRecords: 10,000 records .* more than 400"):
        evaluation.plan(run, created, bedrock=env.bedrock, s3=env.s3, execution_name="exec-1")
    assert not [op for op, _ in env.fake.calls if op in ("Converse", "InvokeModel")]


def test_concurrency_follows_model_units_and_the_base_models_share() -> None:
    def run(units: int, kind: str = serving.PT, compare: bool = True) -> dict[str, Any]:
        return {"serving": {"kind": kind, "modelUnits": units}, "evaluation": {"compareBase": compare}}

    assert evaluation.concurrency(run(1), chunks=100) == 2
    assert evaluation.concurrency(run(3), chunks=100) == 6
    assert evaluation.concurrency(run(3), chunks=4) == 4  # never more than there are chunks
    assert evaluation.concurrency(run(50), chunks=100) == capacity.BASE_MODEL_CONCURRENT_REQUESTS
    assert evaluation.concurrency(run(50, compare=False), chunks=100) == capacity.INLINE_MAP_MAX_CONCURRENCY
    deployment = run(0, kind="on-demand-deployment")
    assert evaluation.concurrency(deployment, chunks=100) == capacity.DEPLOYMENT_CONCURRENT_REQUESTS


# -- chunks and aggregate ---------------------------------------------------------------------------------


def _items(run: dict[str, Any], planned: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "chunk": chunk,
            "dataUri": run["evaluation"]["dataUri"],
            "models": planned["models"],
            "partsPrefix": planned["partsPrefix"],
        }
        for chunk in planned["chunks"]
    ]


def _planned(env: Env, count: int = 600, **evaluation_fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    uri = _upload(env, "set.jsonl", _records(count))
    fields = {"scorer": "classification", "metric": "accuracy", "threshold": 0.0, **evaluation_fields}
    run, created = _served(env, dataUri=uri, maxRecords=count, **fields)
    planned = evaluation.plan(run, created, bedrock=env.bedrock, s3=env.s3, execution_name="exec-1")
    assert len(planned["chunks"]) > 1 or count < 200
    return run, planned


def test_a_retried_chunk_overwrites_its_part_and_is_counted_once(env: Env) -> None:
    run, planned = _planned(env)
    items = _items(run, planned)
    for item in items:
        evaluation.score_chunk(item, s3=env.s3, runtime=env.runtime, reports_bucket=env.reports)
    evaluation.score_chunk(items[0], s3=env.s3, runtime=env.runtime, reports_bucket=env.reports)  # a retry
    parts = env.s3.list_objects_v2(Bucket=env.reports, Prefix=planned["partsPrefix"])["Contents"]
    assert len(parts) == len(planned["chunks"])
    result = evaluation.aggregate(run, planned, s3=env.s3, reports_bucket=env.reports)
    assert result["records"] == 600
    document = json.loads(
        env.s3.get_object(Bucket=env.reports, Key="reports/moderation/req-1/evaluation.json")["Body"].read()
    )
    assert document["metrics"]["custom"]["confusion"]["columns"][0] == "insult"
    assert sum(sum(row) for row in document["metrics"]["custom"]["confusion"]["rows"].values()) == 600


def test_aggregate_refuses_a_missing_or_foreign_part(env: Env) -> None:
    run, planned = _planned(env)
    items = _items(run, planned)
    for item in items[1:]:
        evaluation.score_chunk(item, s3=env.s3, runtime=env.runtime, reports_bucket=env.reports)
    with pytest.raises(ClientError, match="NoSuchKey"):
        evaluation.aggregate(run, planned, s3=env.s3, reports_bucket=env.reports)
    evaluation.score_chunk(items[0], s3=env.s3, runtime=env.runtime, reports_bucket=env.reports)
    other = {**planned, "chunks": [{**planned["chunks"][0], "records": 1}, *planned["chunks"][1:]]}
    with pytest.raises(RequestInvalid, match="part 0 does not hold the planned records"):
        evaluation.aggregate(run, other, s3=env.s3, reports_bucket=env.reports)


def test_a_set_changed_after_the_plan_is_refused(env: Env) -> None:
    run, planned = _planned(env)
    _upload(env, "set.jsonl", _records(10))  # replaced between the plan and its chunks
    with pytest.raises(RequestInvalid, match=r"set.jsonl changed during the evaluation"):
        evaluation.score_chunk(_items(run, planned)[-1], s3=env.s3, runtime=env.runtime, reports_bucket=env.reports)


def test_the_gate_uses_the_requested_metric_and_names_it(env: Env) -> None:
    # The metric rides in the plan (which may have chosen the scorer): the request's, checked there.
    run, planned = _planned(env, count=50, metric="macro_f1", threshold=1.0)
    assert planned["scorer"] == {
        "name": "classification",
        "metric": "macro_f1",
        "source": "requested",
        "reason": "named in the request (evaluation.scorer)",
    }
    for item in _items(run, planned):
        evaluation.score_chunk(item, s3=env.s3, runtime=env.runtime, reports_bucket=env.reports)
    # The custom model answers comments it never saw: not every one INSULT, so macro F1 < 1.
    with pytest.raises(EvaluationBelowThreshold, match=r"\(classification macro_f1\) on 50 records"):
        evaluation.aggregate(run, planned, s3=env.s3, reports_bucket=env.reports)
    document = json.loads(
        env.s3.get_object(Bucket=env.reports, Key="reports/moderation/req-1/evaluation.json")["Body"].read()
    )
    assert document["metric"] == "macro_f1"
    assert document["wrong"]["custom"] == len(document["rows"]) or len(document["rows"]) == evaluation.WRONG_ROWS_KEPT
    assert all(row["custom"]["score"] < 1 and "base" in row for row in document["rows"])


# -- the fake's capacity ----------------------------------------------------------------------------------


def test_the_fake_throttles_requests_past_a_throughputs_capacity(env: Env) -> None:
    """With simulated latency, each request holds one of its target's slots while answered: one model unit
    serves CONCURRENT_REQUESTS_PER_MODEL_UNIT at once, the next is throttled as Bedrock throttles."""
    from bft_twin.bedrock_fake._serving import CONCURRENT_REQUESTS_PER_MODEL_UNIT

    _, created = _served(env)
    inside, release = threading.Semaphore(0), threading.Event()

    def sleep(_seconds: float) -> None:  # the answer is "being generated" until released
        inside.release()
        release.wait(10)

    env.fake._latency_sleep = sleep
    runtime = env.fake.client("bedrock-runtime")
    request = {"modelId": created["arn"], "messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    workers = [
        threading.Thread(target=runtime.converse, kwargs=request) for _ in range(CONCURRENT_REQUESTS_PER_MODEL_UNIT)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        assert inside.acquire(timeout=10)
    try:
        with pytest.raises(ClientError, match="ThrottlingException"):
            runtime.converse(**request)
    finally:
        release.set()
        for worker in workers:
            worker.join(10)
    assert env.fake.counters.throttled == 3  # each of the client's three attempts
    assert env.fake.peak_in_flight[created["arn"]] == CONCURRENT_REQUESTS_PER_MODEL_UNIT
    runtime.converse(**request)  # capacity is back once the answers are out


class _ThrottledAt:
    """bedrock-runtime whose ``at``-th call is throttled past the client's retries; counts the calls."""

    def __init__(self, runtime: Any, at: int | None) -> None:
        self.runtime, self.at, self.calls = runtime, at, 0

    def converse(self, **request: Any) -> Any:
        self.calls += 1
        if self.calls == self.at:
            error = {"Code": "ThrottlingException", "Message": "Too many requests, please wait before trying again."}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 429}}, "Converse")
        return self.runtime.converse(**request)


def test_a_throttled_chunk_saves_its_answers_and_its_retry_goes_on_from_them(env: Env) -> None:
    from bft.errors import TransientError

    run, planned = _planned(env)
    item = _items(run, planned)[0]
    records, models = item["chunk"]["records"], len(planned["models"])
    first = _ThrottledAt(env.runtime, at=2 * 25 + 1)  # throttled on record 26's first model
    with pytest.raises(TransientError, match="ThrottlingException"):
        evaluation.score_chunk(item, s3=env.s3, runtime=first, reports_bucket=env.reports)
    key = evaluation.part_key(planned["partsPrefix"], 0)
    saved = json.loads(env.s3.get_object(Bucket=env.reports, Key=key)["Body"].read())
    assert (saved["complete"], len(saved["rows"])) == (False, 25)
    with pytest.raises(RequestInvalid, match="part 0 does not hold the planned records"):  # never scored half-done
        evaluation.aggregate(run, {**planned, "chunks": planned["chunks"][:1]}, s3=env.s3, reports_bucket=env.reports)
    again = _ThrottledAt(env.runtime, at=None)
    evaluation.score_chunk(item, s3=env.s3, runtime=again, reports_bucket=env.reports)
    assert again.calls == (records - 25) * models  # the 25 answered records are not asked again
    part = json.loads(env.s3.get_object(Bucket=env.reports, Key=key)["Body"].read())
    assert part["complete"] is True
    assert [row["line"] for row in part["rows"]] == list(range(1, records + 1))
