"""The Bedrock fake's evaluation jobs that use a model as judge, on precomputed answers
(docs/bedrock-behaviour.md#evaluation-jobs): each refusal with AWS's error code, the status lifecycle on the
simulated clock, idempotency, and the results written where AWS's guide says, labelled simulated."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bft_twin.bedrock_fake import FakeBedrock

NOW = 1_780_300_800.0
ROLE = "arn:aws:iam::123456789012:role/bedrock-eval"
JUDGE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
SCALE = [{"definition": d, "value": {"floatValue": v}} for d, v in (("wrong", 1.0), ("partly", 3.0), ("right", 5.0))]
SESSION = boto3.session.Session()
DEPLOYED = "custom-model-deployment/abcdefghijkl"
RECORDS = [
    ("Classify: you are an idiot", "toxic", "toxic"),
    ("Classify: nice post", "benign", "benign spam"),
    ("Classify: buy cheap pills", "spam", "benign"),
]


def dataset(source: str = "custom", rows: list[tuple[str, str, str]] = RECORDS) -> bytes:
    return b"\n".join(
        json.dumps(
            {"prompt": p, "referenceResponse": r, "modelResponses": [{"response": a, "modelIdentifier": source}]}
        ).encode()
        for p, r, a in rows
    )


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = SESSION.client("s3", region_name="us-west-2")
        client.create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        client.put_object(Bucket="data", Key="judge/in/custom.jsonl", Body=dataset())
        yield client


@pytest.fixture
def fake(s3: Any) -> FakeBedrock:
    return FakeBedrock(s3=s3, clock=lambda: NOW, time_scale=0)


def job(**changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "jobName": "bft-judge-custom",
        "roleArn": ROLE,
        "applicationType": "ModelEvaluation",
        "evaluationConfig": {
            "automated": {
                "datasetMetricConfigs": [
                    {
                        "taskType": "Custom",
                        "dataset": {
                            "name": "moderation",
                            "datasetLocation": {"s3Uri": "s3://data/judge/in/custom.jsonl"},
                        },
                        "metricNames": ["correctness"],
                    }
                ],
                "customMetricConfig": {
                    "customMetrics": [
                        {
                            "customMetricDefinition": {
                                "name": "correctness",
                                "instructions": "Is {{prediction}} right, given {{ground_truth}}?",
                                "ratingScale": SCALE,
                            }
                        }
                    ],
                    "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]},
                },
            }
        },
        "inferenceConfig": {"models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": "custom"}}]},
        "outputDataConfig": {"s3Uri": "s3://data/judge/out/"},
    }
    for path, value in changes.items():
        target = request
        *parents, leaf = path.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[leaf] = value
    return request


def refused(fake: FakeBedrock, request: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        fake.client("bedrock").create_evaluation_job(**request)
    error = caught.value.response["Error"]
    assert fake.counters.evaluation_jobs_started == 0
    return error["Code"], error["Message"]


def test_a_judge_job_runs_to_completed_and_writes_simulated_ratings(fake: FakeBedrock, s3: Any) -> None:
    bedrock = fake.client("bedrock")
    arn = bedrock.create_evaluation_job(**job())["jobArn"]
    assert arn.startswith("arn:aws:bedrock:us-west-2:123456789012:evaluation-job/")
    view = bedrock.get_evaluation_job(jobIdentifier=arn)
    assert (view["status"], view["jobType"]) == ("InProgress", "Automated")
    # 15 simulated minutes and a second per rating (an assumption): not done a second early.
    fake.advance(15 * 60 + 3 - 1)
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "InProgress"
    fake.advance(1)
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Completed"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="judge/out/")["Contents"]]
    job_id = arn.rsplit("/", 1)[1]
    outputs = [k for k in keys if k.endswith("_output.jsonl")]
    assert len(outputs) == 1
    assert outputs[0].startswith(
        f"judge/out/bft-judge-custom/{job_id}/models/custom/taskTypes/Custom/datasets/moderation/"
    )
    assert f"judge/out/bft-judge-custom/{job_id}/custom_metrics/correctness.json" in keys
    lines = [json.loads(line) for line in s3.get_object(Bucket="data", Key=outputs[0])["Body"].read().splitlines()]
    scores = [line["automatedEvaluationResult"]["scores"][0] for line in lines]
    # Exact answer: the top of the scale; a partial one in between; a wrong one at the bottom.
    assert [s["result"] for s in scores] == [5.0, 3.0, 1.0]
    assert all("Simulated judge" in s["evaluatorDetails"][0]["explanation"] for s in scores)
    assert lines[0]["inputRecord"]["referenceResponse"] == "toxic"


def test_stopping_a_job_goes_through_stopping_to_stopped_and_a_second_stop_conflicts(fake: FakeBedrock) -> None:
    bedrock = fake.client("bedrock")
    arn = bedrock.create_evaluation_job(**job())["jobArn"]
    bedrock.stop_evaluation_job(jobIdentifier=arn)
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Stopping"
    with pytest.raises(ClientError) as again:
        bedrock.stop_evaluation_job(jobIdentifier=arn)
    assert again.value.response["Error"]["Code"] == "ConflictException"
    fake.advance(120)
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Stopped"
    assert bedrock.list_evaluation_jobs(statusEquals="Stopped")["jobSummaries"][0]["jobArn"] == arn


def test_the_same_client_request_token_returns_the_same_job(fake: FakeBedrock) -> None:
    bedrock = fake.client("bedrock")
    first = bedrock.create_evaluation_job(**job(clientRequestToken="tok-1"))["jobArn"]
    assert bedrock.create_evaluation_job(**job(clientRequestToken="tok-1"))["jobArn"] == first
    assert fake.counters.evaluation_jobs_started == 1


def test_a_job_s_tags_are_read_and_changed_as_any_bedrock_resource_s(fake: FakeBedrock) -> None:
    """The SAR lists evaluation-job for ListTagsForResource, TagResource and UntagResource: cleanup reads them."""
    bedrock = fake.client("bedrock")
    arn = bedrock.create_evaluation_job(**job(jobTags=[{"key": "team", "value": "moderation"}]))["jobArn"]
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "team", "value": "moderation"}]
    bedrock.tag_resource(resourceARN=arn, tags=[{"key": "request", "value": "req-1"}])
    bedrock.untag_resource(resourceARN=arn, tagKeys=["team"])
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "request", "value": "req-1"}]


def test_an_unknown_job_is_not_found(fake: FakeBedrock) -> None:
    with pytest.raises(ClientError) as caught:
        fake.client("bedrock").get_evaluation_job(
            jobIdentifier="arn:aws:bedrock:us-west-2:123456789012:evaluation-job/aaaaaaaaaaaa"
        )
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_name_in_use_conflicts(fake: FakeBedrock) -> None:
    fake.client("bedrock").create_evaluation_job(**job())
    fake.counters.evaluation_jobs_started = 0
    assert refused(fake, job())[0] == "ConflictException"


def _metrics(count: int) -> list[dict[str, Any]]:
    return [
        {"customMetricDefinition": {"name": f"m{i}", "instructions": "Rate {{prediction}}", "ratingScale": SCALE}}
        for i in range(count)
    ]


REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("name pattern", {"jobName": "Bft_Judge"}, "failed to satisfy constraint: Member must satisfy regular expression"),
    (
        "11 custom metrics",
        {"evaluationConfig.automated.customMetricConfig.customMetrics": _metrics(11)},
        "length less than or equal to 10",
    ),
    (
        "judge not offered here",
        {
            "evaluationConfig.automated.customMetricConfig.evaluatorModelConfig.bedrockEvaluatorModels": [
                {"modelIdentifier": "amazon.nova-pro-v1:0"}
            ]
        },
        "is not supported for model evaluation jobs in us-west-2",
    ),
    (
        "undefined metric",
        {"evaluationConfig.automated.datasetMetricConfigs.0.metricNames": ["fluency"]},
        "Metric fluency is not",
    ),
    ("role of another account", {"roleArn": "arn:aws:iam::999999999999:role/x"}, "Could not assume provided IAM role"),
    (
        "missing dataset",
        {
            "evaluationConfig.automated.datasetMetricConfigs.0.dataset.datasetLocation": {
                "s3Uri": "s3://data/judge/none.jsonl"
            }
        },
        "could not access the evaluation dataset",
    ),
    (
        "two models",
        {
            "inferenceConfig": {
                "models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": s}} for s in ("a", "b")]
            }
        },
        "exactly one model",
    ),
    (
        "deployment ARN as the model",
        {
            "inferenceConfig": {
                "models": [{"bedrockModel": {"modelIdentifier": f"arn:aws:bedrock:us-west-2:123456789012:{DEPLOYED}"}}]
            }
        },
        "Member must satisfy regular expression pattern",
    ),
]


@pytest.mark.parametrize(("change", "message"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_a_bad_job_is_refused_with_validation_exception(
    fake: FakeBedrock, change: dict[str, Any], message: str
) -> None:
    code, text = refused(fake, job(**copy.deepcopy(change)))
    assert code == "ValidationException"
    assert message in text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (dataset(source="base"), "Line 1 of s3://data/judge/in/custom.jsonl is not a valid prompt"),
        (b'{"prompt": "x"}', "Line 1 of"),
        (b"not json", "Line 1 of"),
        (dataset(rows=RECORDS * 334), "has 1002 prompts; an evaluation job that uses a judge model takes 1 to 1000"),
    ],
    ids=["other source", "no responses", "not json", "over 1000 prompts"],
)
def test_a_dataset_that_does_not_parse_is_refused(fake: FakeBedrock, s3: Any, body: bytes, message: str) -> None:
    s3.put_object(Bucket="data", Key="judge/in/custom.jsonl", Body=body)
    code, text = refused(fake, job())
    assert code == "ValidationException"
    assert message in text


def test_a_judge_the_role_may_not_invoke_fails_the_job(s3: Any) -> None:
    def deny(role: str, job_arn: str, model: str) -> str:
        return f"User: {role} is not authorized to perform: bedrock:InvokeModel on resource: {model}"

    fake = FakeBedrock(s3=s3, clock=lambda: NOW, time_scale=0, service_role_invoke=deny)
    bedrock = fake.client("bedrock")
    arn = bedrock.create_evaluation_job(**job())["jobArn"]
    fake.advance(3600)
    view = bedrock.get_evaluation_job(jobIdentifier=arn)
    assert view["status"] == "Failed"
    assert "bedrock:InvokeModel" in view["failureMessages"][0]
