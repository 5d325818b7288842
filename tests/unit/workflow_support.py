"""Shared set-up for the workflow step tests: moto for AWS, the Bedrock fake for Bedrock."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from bft.config import load_config
from bft.sample_data import write_splits
from bft.workflow.request import Context, validate_request
from bft_twin.bedrock_fake import FakeBedrock
from bft_twin.catalog import catalog

REGION = "us-west-2"
ACCOUNT = "123456789012"
# A model customizable today in us-west-2 and served by provisioned throughput (the model catalog).
MODEL = "meta.llama3-1-8b-instruct-v1:0:128k"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/bft-service"


@dataclass
class RecordingSfn:
    """Stands in for Step Functions' task-token API and remembers what it was sent."""

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    gone: bool = False

    def send_task_success(self, **kwargs: Any) -> None:
        self._send("success", kwargs)

    def send_task_failure(self, **kwargs: Any) -> None:
        self._send("failure", kwargs)

    def _send(self, kind: str, kwargs: dict[str, Any]) -> None:
        if self.gone:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "gone"}}, "SendTask")
        self.sent.append((kind, kwargs))


@dataclass
class Env:
    s3: Any
    table: Any
    sns: Any
    topic_arn: str
    fake: FakeBedrock
    bedrock: Any
    runtime: Any
    datasets: str = "datasets-bucket"
    outputs: str = "outputs-bucket"
    reports: str = "reports-bucket"

    def policy(self, **overrides: Any) -> dict[str, Any]:
        document = load_config("local").policy_document(self.datasets)
        document.update(overrides)
        return document

    def request(self, **overrides: Any) -> dict[str, Any]:
        request = {
            "team": "moderation",
            "baseModelId": MODEL,
            "trainingDataUri": f"s3://{self.datasets}/moderation/train.jsonl",
            "validationDataUri": f"s3://{self.datasets}/moderation/validation.jsonl",
            "hyperParameters": {"epochCount": "2"},
            "evaluation": {"dataUri": f"s3://{self.datasets}/moderation/evaluation.jsonl", "threshold": 0.9},
            "requestId": "req-1",
        }
        request.update(overrides)
        return request

    def run(self, execution: str = "exec-1", **overrides: Any) -> dict[str, Any]:
        context = Context(
            execution_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:execution:sm:{execution}",
            execution_name=execution,
            now=datetime.now(UTC),
        )
        return validate_request(
            self.request(**overrides), self.policy(), context, bedrock=self.bedrock, table=self.table
        )


def make_env(tmp_path: Any, **fake_options: Any) -> Env:
    """Call inside an active moto mock."""
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("datasets-bucket", "outputs-bucket", "reports-bucket"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    # Llama 3.1 takes at least 100 training records, in its prompt/completion format.
    paths = write_splits(tmp_path / "data", training=100, validation=8, evaluation=20, data_format="prompt-completion")
    for name, path in paths.items():
        s3.upload_file(str(path), "datasets-bucket", f"moderation/{name}.jsonl")
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    table = dynamodb.create_table(
        TableName="state",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sns = boto3.client("sns", region_name=REGION)
    topic_arn = sns.create_topic(Name="notes")["TopicArn"]
    # The fake's custom models learn from the uploaded training file (bedrock_fake._learner); its models
    # have their published lifecycles unless a test passes another catalog.
    fake_options.setdefault("catalog", catalog())
    fake = FakeBedrock(region=REGION, account_id=ACCOUNT, s3=s3, **fake_options)
    return Env(
        s3=s3,
        table=table,
        sns=sns,
        topic_arn=topic_arn,
        fake=fake,
        bedrock=fake.client("bedrock"),
        runtime=fake.client("bedrock-runtime"),
    )


def load_handler(name: str) -> Any:
    """The handler function of ``lambda/<name>/handler.py``, loaded as the Lambda runtime loads it."""
    path = Path(__file__).resolve().parents[2] / "lambda" / name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"handler_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


class FakeContext:
    """The few LambdaContext attributes Powertools reads."""

    function_name = "fn"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:fn"
    aws_request_id = "req"
