"""`bft submit / status / list / approve / reject / teardown` against moto (and the Bedrock fake)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSRequest
from moto import mock_aws

from bft import aws
from bft.cli import main, signed_http
from bft.sample_data import default_format, write_splits
from bft.workflow import approval
from bft.workflow.approval import ApprovalSettings
from bft.workflow.ownership import run_tags
from bft_twin.bedrock_fake import FakeBedrock
from bft_twin.catalog import catalog
from tests.unit.workflow_support import RecordingSfn

REGION = "us-west-2"
STACK = "BftDevPipeline"
ACCOUNT = "123456789012"
APPROVAL_URL = "https://abcdefghijklmnop.lambda-url.us-west-2.on.aws/"
REVIEWER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/reviewers/moderation-reviewers"
SUBMITTER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/BftDevModerationSubmitter"


@pytest.fixture
def data(tmp_path: Path) -> dict[str, Path]:
    # In the format of dev's first allowed model: what `bft submit` trains without --base-model.
    return write_splits(tmp_path / "data", training=100, validation=8, evaluation=10, data_format=default_format("dev"))


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for key, value in (
        ("AWS_DEFAULT_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ):
        monkeypatch.setenv(key, value)
    with mock_aws():
        aws.reset()
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("datasets", "reports"):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        machine = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name="moderation-machine",
            roleArn=role,
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        )["stateMachineArn"]
        table = boto3.resource("dynamodb", region_name=REGION).create_table(
            TableName="state",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        # The team's registry entry, as its stack (BftDevTeamModeration) writes it; no submitter role here.
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name="/bft/dev/teams/moderation/state-machine-arn", Value=machine, Type="String"
        )
        outputs = {
            "DatasetsBucketName": "datasets",
            "ReportsBucketName": "reports",
            "StateTableName": "state",
            "NotificationsTopicArn": f"arn:aws:sns:{REGION}:123456789012:t",
            "ApprovalFunctionUrl": APPROVAL_URL,
        }
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {k: {"Value": v} for k, v in outputs.items()},
        }
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=STACK, TemplateBody=json.dumps(template)
        )
        yield {"s3": s3, "machine": machine, "table": table}
        aws.reset()


def cli(*args: str) -> int:
    return main(list(args))


def test_dry_run_validates_and_estimates_without_uploading(
    deployed: dict[str, Any], data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli("submit", "--env", "dev", "--team", "moderation", str(data["train"]), "--dry-run")
    out = capsys.readouterr().out
    assert code == 0
    assert "cost estimate: training ~" in out
    assert "nothing was uploaded" in out
    assert deployed["s3"].list_objects_v2(Bucket="datasets").get("KeyCount", 0) == 0


def test_submit_uploads_to_the_team_prefix_and_starts_the_team_machine(
    deployed: dict[str, Any], data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli(
        "submit",
        "--env",
        "dev",
        "--team",
        "moderation",
        str(data["train"]),
        "--validation",
        str(data["validation"]),
        "--evaluation",
        str(data["evaluation"]),
        "--threshold",
        "0.9",
        "--request-id",
        "req-7",
    )
    assert code == 0, capsys.readouterr()
    keys = sorted(o["Key"] for o in deployed["s3"].list_objects_v2(Bucket="datasets")["Contents"])
    assert keys == [
        "moderation/req-7/evaluation.jsonl",
        "moderation/req-7/train.jsonl",
        "moderation/req-7/validation.jsonl",
    ]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    (execution,) = sfn.list_executions(stateMachineArn=deployed["machine"])["executions"]
    assert execution["name"] == "req-7"
    payload = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert payload["trainingDataUri"] == "s3://datasets/moderation/req-7/train.jsonl"
    assert payload["evaluation"]["threshold"] == 0.9

    assert cli("submit", "--env", "dev", "--team", "moderation", str(data["train"]), "--request-id", "req-7") == 1
    assert "already submitted" in capsys.readouterr().out
    assert cli("status", "--env", "dev", "--team", "moderation", "--request-id", "req-7") == 0
    assert "req-7: " in capsys.readouterr().out
    assert cli("list", "--env", "dev", "--team", "moderation") == 0
    assert "req-7" in capsys.readouterr().out


def test_guardrail_breach_is_refused_before_upload(
    deployed: dict[str, Any], data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("submit", "--env", "dev", "--team", "moderation", str(data["train"]), "--model-units", "3") == 1
    assert "serving.modelUnits: 3 breaks team moderation's limit of 1 to 1 model units" in capsys.readouterr().out
    assert deployed["s3"].list_objects_v2(Bucket="datasets").get("KeyCount", 0) == 0


def test_invalid_dataset_is_refused_before_upload(
    deployed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"messages": [{"role": "assistant", "content": "hi"}]}\n')
    assert cli("submit", "--env", "dev", "--team", "moderation", str(broken)) == 1
    out = capsys.readouterr().out
    assert "broken.jsonl:1" in out
    assert "nothing was uploaded" in out


def test_unknown_team_lists_the_onboarded_ones(
    deployed: dict[str, Any], data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("submit", "--env", "dev", "--team", "payments", str(data["train"])) == 2
    assert "team 'payments' is not onboarded in environment 'dev' (known: moderation)" in capsys.readouterr().err


def test_environment_not_deployed(deployed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("status", "--env", "staging", "--team", "moderation", "--request-id", "r1") == 2
    assert "environment staging is not deployed in us-west-2: stack BftStagingPipeline not found" in (
        capsys.readouterr().err
    )


def test_missing_credentials_are_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    aws.reset()
    try:
        assert cli("list", "--env", "dev", "--team", "moderation") == 2
    finally:
        aws.reset()
    assert "no AWS credentials found" in capsys.readouterr().err


@pytest.fixture(autouse=True)
def sts_answers_the_url_caller() -> Iterator[None]:
    """The approval function checks `bft approve`'s caller proof with STS (bft.workflow.caller_proof): here STS
    names whoever the function URL says called (the signature is checked offline in tests/workflow)."""
    from bft.workflow import caller_proof

    def sts(_request: Any) -> tuple[int, bytes]:
        return 200, caller_proof.identity_document(_URL_CALLER[0], ACCOUNT, "AROAEXAMPLE:x")

    caller_proof.use_transport(sts)
    yield
    caller_proof.use_transport(None)


_URL_CALLER = [""]  # the caller the current FunctionUrl stands for


class FunctionUrl:
    """Stands in for the approval function's URL with AWS_IAM auth: checks the request is SigV4-signed for
    lambda in the environment's region, takes the caller Lambda would verify, and runs the function's code."""

    def __init__(self, table: Any, caller: str) -> None:
        self.table, self.caller = table, caller
        _URL_CALLER[0] = caller
        self.sfn = RecordingSfn()
        self.requests: list[AWSRequest] = []

    def __call__(self, request: AWSRequest) -> tuple[int, bytes]:
        self.requests.append(request)
        authorization = request.headers["Authorization"]
        assert authorization.startswith("AWS4-HMAC-SHA256 Credential=")
        assert f"/{REGION}/lambda/aws4_request" in authorization
        assert request.headers["X-Amz-Date"]
        event = {
            "version": "2.0",
            "requestContext": {
                "http": {"method": request.method},
                "authorizer": {"iam": {"userArn": self.caller, "accountId": ACCOUNT, "callerId": "AROA:x"}},
            },
            "body": request.body.decode() if isinstance(request.body, bytes) else request.body,
            "isBase64Encoded": False,
        }
        settings = ApprovalSettings(
            state_table="state",
            environment="dev",
            production=False,
            reviewers={"moderation": [REVIEWER_ROLE]},
            submitters={"moderation": SUBMITTER_ROLE},
            region=REGION,
        )
        answer = approval.handle_function_url(
            event, settings=lambda: settings, table=lambda name: self.table, sfn=lambda: self.sfn
        )
        return answer["statusCode"], answer["body"].encode()


class Forbidden:
    """A client the command must not use."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"bft approve must not call {name}: it needs no DynamoDB or Step Functions access")


def waiting(deployed: dict[str, Any], *requests: str) -> None:
    for request in requests:
        deployed["table"].put_item(
            Item={
                "pk": f"approval#moderation#{request}",
                "token": f"tok-{request}",
                "executionArn": f"arn:exec:{request}",
                "team": "moderation",
            }
        )


def test_approve_and_reject_post_signed_decisions_to_the_function_url(
    deployed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    url = FunctionUrl(deployed["table"], f"arn:aws:sts::{ACCOUNT}:assumed-role/moderation-reviewers/alice")
    signed_http.use_transport(url)
    for service in ("stepfunctions", "dynamodb"):
        aws.override(service, Forbidden())
    waiting(deployed, "r1", "r2")
    try:
        assert cli("approve", "--env", "dev", "--team", "moderation", "--request-id", "r1") == 0
        assert cli("reject", "--env", "dev", "--team", "moderation", "--request-id", "r2", "--reason", "overfits") == 0
        assert [(kind, sent["taskToken"]) for kind, sent in url.sfn.sent] == [
            ("success", "tok-r1"),
            ("failure", "tok-r2"),
        ]
        assert {r.url for r in url.requests} == {APPROVAL_URL}
        sent = [json.loads(r.body) for r in url.requests][1]
        # The decision, and the proof of who sends it (an STS request signed for this decision).
        assert {k: v for k, v in sent.items() if k != "proof"} == {
            "team": "moderation",
            "requestId": "r2",
            "approve": False,
            "reason": "overfits",
        }
        assert "/sts/aws4_request" in sent["proof"]["Authorization"]
        assert "approved r1 (arn:exec:r1)" in capsys.readouterr().out
        assert cli("approve", "--env", "dev", "--team", "moderation", "--request-id", "r1") == 1
        assert "(HTTP 404): request r1 of team moderation is not waiting for approval" in capsys.readouterr().err
    finally:
        signed_http.use_transport(None)


def test_a_refusal_prints_the_servers_message(deployed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    url = FunctionUrl(deployed["table"], f"arn:aws:sts::{ACCOUNT}:assumed-role/BftDevModerationSubmitter/carol")
    signed_http.use_transport(url)
    waiting(deployed, "r1")
    try:
        assert cli("approve", "--env", "dev", "--team", "moderation", "--request-id", "r1") == 1
    finally:
        signed_http.use_transport(None)
    err = capsys.readouterr().err
    assert "the approval function refused (HTTP 403)" in err
    assert "a submitter never decides on its own team's runs" in err
    assert url.sfn.sent == []


def test_approve_needs_the_function_url_output(deployed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    body = cloudformation.get_template(StackName=STACK)["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else dict(body)
    del template["Outputs"]["ApprovalFunctionUrl"]
    cloudformation.update_stack(StackName=STACK, TemplateBody=json.dumps(template))
    assert cli("approve", "--env", "dev", "--team", "moderation", "--request-id", "r1") == 2
    assert "no ApprovalFunctionUrl output" in capsys.readouterr().err


def test_urllib_transport_refuses_plain_http() -> None:
    with pytest.raises(ValueError, match="plain HTTP"):
        signed_http.urllib_transport(AWSRequest(method="POST", url="http://example.com/", data=b"{}"))


def test_reject_needs_a_reason(deployed: dict[str, Any]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli("reject", "--env", "dev", "--team", "moderation", "--request-id", "r2")
    assert exited.value.code == 2


def test_teardown_deletes_the_runs_throughput(deployed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeBedrock(region=REGION, catalog=catalog(haiku_status="ACTIVE"))  # Legacy models get no new PT
    bedrock = fake.client("bedrock")
    aws.override("bedrock", bedrock)
    arn = bedrock.create_provisioned_model_throughput(
        modelUnits=1,
        provisionedModelName="pt1",
        modelId="anthropic.claude-3-haiku-20240307-v1:0:200k",
        tags=run_tags("dev", "moderation", "r9"),
    )["provisionedModelArn"]
    report = {
        "outcome": "deployed",
        "run": {"attempt": 1},
        "serving": {"kind": "provisioned-throughput", "arn": arn},
    }
    deployed["s3"].put_object(Bucket="reports", Key="reports/moderation/r9/run.json", Body=json.dumps(report))
    assert cli("teardown", "--env", "dev", "--team", "moderation", "--request-id", "r9") == 0
    assert f"{arn}: deleted" in capsys.readouterr().out
    assert fake.provisioned_throughputs() == []


def test_teardown_never_deletes_another_teams_throughput(
    deployed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """A report naming a throughput of another team (or environment) deletes nothing."""
    fake = FakeBedrock(region=REGION, catalog=catalog(haiku_status="ACTIVE"))
    bedrock = fake.client("bedrock")
    aws.override("bedrock", bedrock)
    arn = bedrock.create_provisioned_model_throughput(
        modelUnits=1,
        provisionedModelName="theirs",
        modelId="anthropic.claude-3-haiku-20240307-v1:0:200k",
        tags=run_tags("dev", "payments", "r9"),
    )["provisionedModelArn"]
    report = {"outcome": "deployed", "serving": {"kind": "provisioned-throughput", "arn": arn}}
    deployed["s3"].put_object(Bucket="reports", Key="reports/moderation/r9/run.json", Body=json.dumps(report))
    assert cli("teardown", "--env", "dev", "--team", "moderation", "--request-id", "r9") == 1
    assert "ForeignResource" in capsys.readouterr().err
    assert [pt["provisionedModelArn"] for pt in fake.provisioned_throughputs()] == [arn]
