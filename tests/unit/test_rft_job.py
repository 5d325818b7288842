"""StartJob for reinforcement fine-tuning, against the Bedrock fake behind a real boto3 client: the request
botocore shapes (customizationType, customizationConfig.rftConfig with the grader and typed hyperparameters),
the fake's refusals (a model or region without RFT, out-of-range values, no grader), and the custom model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws

from bft.errors import RequestInvalid
from bft.workflow.job import start_job
from bft_twin.bedrock_fake import FakeBedrock
from tests.unit.test_dataset_rft import NOVA2, prompt

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/bedrock-ft"
PIPELINE_GRADER = "arn:aws:lambda:us-east-1:123456789012:function:BftGrader"
TEAM_GRADER = "arn:aws:lambda:us-east-1:123456789012:function:bft_dev_search_score"
NOW = 1_796_000_000.0  # 2026-12-01


@pytest.fixture
def fake() -> Iterator[FakeBedrock]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="data")
        body = b"".join(json.dumps(prompt(i)).encode() + b"\n" for i in range(40))
        s3.put_object(Bucket="data", Key="search/prompts.jsonl", Body=body)
        yield FakeBedrock(s3=s3, region=REGION, clock=lambda: NOW, time_scale=1.0)


def run(**changes: Any) -> dict[str, Any]:
    described = {
        "jobName": "bft-dev-search-r1",
        "customModelName": "bft-dev-search-r1",
        "clientRequestToken": "token-1",
        "baseModelId": NOVA2,
        "customizationType": "REINFORCEMENT_FINE_TUNING",
        "grader": {"builtin": "json_match", "options": {}},
        "trainingDataUri": "s3://data/search/prompts.jsonl",
        "hyperParameters": {"epochCount": 3, "batchSize": 32, "reasoningEffort": "low"},
        "team": "search",
        "requestId": "r1",
        "attempt": 1,
        "tags": [{"key": "team", "value": "search"}],
    } | changes
    return {key: value for key, value in described.items() if value is not None}


def start(fake: FakeBedrock, **changes: Any) -> dict[str, Any]:
    return start_job(
        run(**changes),
        bedrock=fake.client("bedrock"),
        role_arn=ROLE,
        outputs_bucket="data",
        kms_key_arn=None,
        vpc=None,
        grader_function_arn=PIPELINE_GRADER,
        dataset={"preparedTrainingDataUri": "s3://data/search/prompts.jsonl"},
    )


def test_a_reinforcement_job_names_the_grader_and_its_hyperparameters(fake: FakeBedrock) -> None:
    job = fake.client("bedrock").get_model_customization_job(jobIdentifier=start(fake)["jobArn"])
    assert job["customizationType"] == "REINFORCEMENT_FINE_TUNING"
    assert job["customizationConfig"]["rftConfig"] == {
        "graderConfig": {"lambdaGrader": {"lambdaArn": PIPELINE_GRADER}},
        "hyperParameters": {"epochCount": 3, "batchSize": 32, "reasoningEffort": "low"},
    }
    assert job["hyperParameters"] == {}


def test_a_teams_own_grader_is_the_jobs_grader(fake: FakeBedrock) -> None:
    job_arn = start(fake, grader={"functionArn": TEAM_GRADER})["jobArn"]
    job = fake.client("bedrock").get_model_customization_job(jobIdentifier=job_arn)
    assert job["customizationConfig"]["rftConfig"]["graderConfig"]["lambdaGrader"]["lambdaArn"] == TEAM_GRADER


def test_the_job_completes_with_a_custom_model_of_its_type(fake: FakeBedrock) -> None:
    fake.plan_jobs("Completed", duration_s=3600)
    job_arn = start(fake)["jobArn"]
    fake.advance(3600)
    bedrock = fake.client("bedrock")
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert job["status"] == "Completed"
    model = bedrock.get_custom_model(modelIdentifier=job["outputModelArn"])
    assert model["customizationType"] == "REINFORCEMENT_FINE_TUNING"


def test_a_model_without_reinforcement_is_refused_with_bedrocks_error(fake: FakeBedrock) -> None:
    with pytest.raises(RequestInvalid, match="does not support REINFORCEMENT_FINE_TUNING customization in us-east-1"):
        start(fake, baseModelId="amazon.nova-lite-v1:0:300k")


def test_out_of_range_values_are_refused_by_botocore_or_bedrocks_shape_check(fake: FakeBedrock) -> None:
    with pytest.raises(ParamValidationError):  # botocore checks the minimum itself
        start(fake, hyperParameters={"batchSize": 8})
    with pytest.raises(RequestInvalid, match=r"batchSize' failed to satisfy constraint: .* less than or equal to 512"):
        start(fake, hyperParameters={"batchSize": 1024})


def test_the_fake_refuses_rft_without_a_grader_and_rft_hyperparameters_in_the_string_map(fake: FakeBedrock) -> None:
    bedrock = fake.client("bedrock")
    args = {
        "jobName": "j",
        "customModelName": "m",
        "roleArn": ROLE,
        "baseModelIdentifier": NOVA2,
        "customizationType": "REINFORCEMENT_FINE_TUNING",
        "trainingDataConfig": {"s3Uri": "s3://data/search/prompts.jsonl"},
        "outputDataConfig": {"s3Uri": "s3://data/out/"},
    }
    with pytest.raises(ClientError, match=r"requires customizationConfig\.rftConfig\.graderConfig"):
        bedrock.create_model_customization_job(**args)
    grader = {"rftConfig": {"graderConfig": {"lambdaGrader": {"lambdaArn": PIPELINE_GRADER}}}}
    with pytest.raises(ClientError, match=r"go in customizationConfig\.rftConfig\.hyperParameters"):
        bedrock.create_model_customization_job(**args, customizationConfig=grader, hyperParameters={"epochCount": "2"})
    other = {"rftConfig": {"graderConfig": {"lambdaGrader": {"lambdaArn": TEAM_GRADER.replace("1234", "9999")}}}}
    with pytest.raises(ClientError, match="not in this account and Region"):
        bedrock.create_model_customization_job(**args, customizationConfig=other)


def test_supervised_jobs_are_unchanged(fake: FakeBedrock) -> None:
    job_arn = start(fake, customizationType=None, grader=None, hyperParameters={"epochCount": "2"})["jobArn"]
    job = fake.client("bedrock").get_model_customization_job(jobIdentifier=job_arn)
    assert job["customizationType"] == "FINE_TUNING"
    assert "customizationConfig" not in job
