"""ValidateDataset on a reinforcement run: the prompts format, then the grader tried on the team's prompts, so a
broken grader fails here, before any job (GraderInvalid names its fault)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from bft.dataset.s3 import ValidationRequest
from bft.errors import DatasetInvalid, GraderInvalid
from bft.workflow.grader_check import validate_with_grader as validate_request
from bft.workflow.graders import GraderError
from tests.unit.test_dataset_rft import NOVA2, lines, prompt
from tests.unit.test_graders import FakeLambda
from tests.unit.test_validate_handler import DATA, REPORTS, FakeContext, put, s3  # noqa: F401 (the fixture)


def event(uri: str, grader: dict[str, Any] | None) -> ValidationRequest:
    return ValidationRequest.from_event(
        {
            "requestId": "req-1",
            "team": "search",
            "baseModelId": NOVA2,
            "trainingDataUri": uri,
            "hyperParameters": {"epochCount": 2, "batchSize": 32},
            "customization": "reinforcement",
            "grader": grader,
        }
    )


def test_valid_prompts_and_a_working_grader_pass_with_the_check_recorded(s3: Any) -> None:  # noqa: F811
    uri = put(s3, "search/prompts.jsonl", lines([prompt(i) for i in range(20)]))
    result = validate_request(event(uri, {"builtin": "json_match", "options": {}}), s3=s3, reports_bucket=REPORTS)
    assert result["graderCheck"]["answers"] == 16
    # The wrong stand-in shifts the numbers only: the item still matches, field F1 one half.
    assert result["graderCheck"]["rewards"] == [0.5, 1.0]


def test_a_grader_whose_rewards_never_differ_is_refused_before_any_job(s3: Any) -> None:  # noqa: F811
    uri = put(s3, "search/prompts.jsonl", lines([prompt(i) for i in range(20)]))
    grader = {"builtin": "regex", "options": {"pattern": ".*", "fullmatch": False}}
    with pytest.raises(
        GraderInvalid, match=r"built-in grader regex failed its check.*spread: every answer got reward 1"
    ):
        validate_request(event(uri, grader), s3=s3, reports_bucket=REPORTS)


def test_a_crashing_team_grader_function_is_refused_naming_its_error(s3: Any) -> None:  # noqa: F811
    uri = put(s3, "search/prompts.jsonl", lines([prompt(i) for i in range(20)]))
    arn = "arn:aws:lambda:us-east-1:123456789012:function:bft_dev_search_grader"
    client = FakeLambda(lambda batch: [{"id": r["id"]} for r in batch])
    with pytest.raises(GraderInvalid, match=r"grader function .*aggregate_reward_score must be a finite float"):
        validate_request(event(uri, {"functionArn": arn}), s3=s3, reports_bucket=REPORTS, lambda_client=client)


def test_supervised_records_are_invalid_prompts_and_the_grader_is_not_tried(s3: Any) -> None:  # noqa: F811
    records = [prompt(i) for i in range(20)]
    records[4].pop("reference_answer")
    uri = put(s3, "search/prompts.jsonl", lines(records))
    client = FakeLambda(lambda batch: [])
    arn = "arn:aws:lambda:us-east-1:123456789012:function:bft_dev_search_grader"
    with pytest.raises(DatasetInvalid, match="reference_answer"):
        validate_request(event(uri, {"functionArn": arn}), s3=s3, reports_bucket=REPORTS, lambda_client=client)
    assert client.calls == []
    assert DATA in uri


def test_a_builtin_graders_run_trains_on_a_copy_that_names_the_grader(s3: Any) -> None:  # noqa: F811
    uri = put(s3, "search/prompts.jsonl", lines([prompt(i) for i in range(20)]))
    grader = {"builtin": "numeric", "options": {"field": "quantity", "tolerance": 0.5}}
    result = validate_request(event(uri, grader), s3=s3, reports_bucket=REPORTS, outputs_bucket=REPORTS)
    assert result["preparedTrainingDataUri"] == f"s3://{REPORTS}/search/req-1/rft-prompts.jsonl"
    body = s3.get_object(Bucket=REPORTS, Key="search/req-1/rft-prompts.jsonl")["Body"].read()
    copied = [json.loads(line) for line in body.splitlines()]
    assert len(copied) == 20
    assert copied[3] == prompt(3) | {"bft_grader": grader}


def test_the_pipeline_grader_function_grades_by_the_copys_metadata() -> None:
    handler = load_grader_handler()
    record = prompt(2) | {"bft_grader": {"builtin": "numeric", "options": {"field": "quantity"}}}
    metadata = {key: value for key, value in record.items() if key != "messages"}
    batch = [
        {"id": "a", "messages": [*record["messages"], {"role": "assistant", "content": "2"}], "metadata": metadata},
        {"id": "b", "messages": [*record["messages"], {"role": "assistant", "content": "5"}], "metadata": metadata},
    ]
    results = handler.handler(batch, FakeContext())
    assert [(r["id"], r["aggregate_reward_score"]) for r in results] == [("a", 1.0), ("b", 0.0)]
    with pytest.raises(GraderError, match="no bft_grader"):
        handler.handler([{**batch[0], "metadata": {"reference_answer": 2}}], FakeContext())


def load_grader_handler() -> Any:
    path = Path(__file__).resolve().parents[2] / "lambda" / "grader" / "handler.py"
    spec = importlib.util.spec_from_file_location("grader_handler", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
