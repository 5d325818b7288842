"""The offline runner: a synthesized fixture assembly stood up in moto, its handlers run in process.

The fixture app (``offline_fixture/app.py``) is synthesized once per session;
every test that executes gets a fresh environment, so invocation counts and
tables start empty.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bft_twin.offline import IntrinsicError, OfflineAssembly
from bft_twin.offline._events import target_input
from bft_twin.offline._intrinsics import Pseudo, Resolver

FIXTURE_APP = Path(__file__).parent / "offline_fixture" / "app.py"
NODE_BIN = Path(__file__).resolve().parents[2] / "node_modules" / ".bin"
DATA, PIPELINE = "FixtureData", "FixturePipeline"
REGION, ACCOUNT = "us-west-2", "111122223333"
SUCCESS_STATES = ["Prepare", "DoWork", "Register", "Pause", "Notify", "Done"]


def _request(request_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "flaky_times": 0,
        "fatal": False,
        "resume_now": False,
        "callback_timeout": 30,
        "wait_seconds": 0,
        **overrides,
    }


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture app synthesized in process, as `cdk synth` writes it (path and asset metadata).

    Synthesis takes seconds: xdist workers of one session share the result through a file lock.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    outdir = shared / "offline-fixture"
    with open(shared / "offline-fixture.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (outdir / "manifest.json").is_file():
            _synth(outdir)
    return outdir


def _synth(outdir: Path) -> None:
    spec = importlib.util.spec_from_file_location("offline_fixture_app", FIXTURE_APP)
    assert spec is not None
    assert spec.loader is not None
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    saved_path = os.environ["PATH"]
    if NODE_BIN.is_dir():  # jsii runs `node`: use the project's Node 22 when pytest runs outside make
        os.environ["PATH"] = f"{NODE_BIN}{os.pathsep}{saved_path}"
    try:
        app.synth(outdir)
    finally:
        os.environ["PATH"] = saved_path


@pytest.fixture
def env(assembly: Path) -> Iterator[OfflineAssembly]:
    with OfflineAssembly(assembly, region=REGION, account_id=ACCOUNT) as environment:
        yield environment


def _wait_for_token(env: OfflineAssembly, request_id: str, timeout: float = 90.0) -> None:
    """Block until the Register function stored the task token of ``request_id`` (generous: CI machines are
    busy, and moto starts each execution on its own thread)."""
    dynamodb = env.clients("dynamodb")
    table = env.physical_id(PIPELINE, "Tokens")
    deadline = time.monotonic() + timeout
    while not dynamodb.get_item(TableName=table, Key={"pk": {"S": request_id}}).get("Item"):
        assert time.monotonic() < deadline, f"no task token stored for {request_id}"
        time.sleep(0.02)


def _job_event(request_id: str, outcome: str) -> dict[str, Any]:
    return {
        "source": "fixture.jobs",
        "detail-type": "Job State Change",
        "detail": {"request_id": request_id, "outcome": outcome},
    }


def _copy_with_templates(assembly: Path, destination: Path, edit: Any) -> Path:
    shutil.copytree(assembly, destination)
    for template_file in destination.glob("*.template.json"):
        template = json.loads(template_file.read_text())
        edit(template_file.name.removesuffix(".template.json"), template)
        template_file.write_text(json.dumps(template))
    return destination


# -- executions ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_success_path_retries_waits_for_the_event_and_notifies(env: OfflineAssembly) -> None:
    sqs, sns = env.clients("sqs"), env.clients("sns")
    queue_url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=env.physical_id(PIPELINE, "Notifications"), Protocol="sqs", Endpoint=queue_arn)

    execution = env.start_execution(_request("req-1", flaky_times=2, wait_seconds=1), name="req-1")
    _wait_for_token(env, "req-1")
    delivered = env.put_event(_job_event("req-1", "succeeded"))
    progress: list[str] = []
    result = env.wait(execution, timeout=120, progress=progress.append)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"outcome": "succeeded", "greeting": "hello"}
    assert result.states_visited == SUCCESS_STATES
    assert result.state_transitions == len(SUCCESS_STATES)
    # Two Flaky failures retried in place (no new StateEntered), then success on the third attempt.
    assert [event["taskFailedEventDetails"]["error"] for event in result.events("TaskFailed")] == ["Flaky", "Flaky"]
    assert env.invocations == {"WorkFunction": 3, "RegisterFunction": 1, "OnEventFunction": 1}
    assert result.lambda_invocations == 4  # scheduled by the execution; the rule's invocation is not
    assert progress[-1] == "req-1: Done"
    # The rule's input transformer shaped the event the function received.
    assert [(i.function, i.event, i.result) for i in delivered] == [
        ("OnEventFunction", {"kind": "event", "request_id": "req-1", "outcome": "succeeded"}, {"resumed": ["req-1"]})
    ]
    # Wait.SecondsPath slept for real.
    pause = [event["timestamp"] for event in result.history if event["type"] in ("WaitStateEntered", "WaitStateExited")]
    assert (pause[1] - pause[0]).total_seconds() >= 1
    message = json.loads(sqs.receive_message(QueueUrl=queue_url)["Messages"][0]["Body"])["Message"]
    assert message == "request req-1"  # States.Format in the Pass state, published by the sns:publish task
    assert [m["message"] for m in env.sns_messages(env.physical_id(PIPELINE, "Notifications"))] == [message]


@pytest.mark.slow
def test_handlers_get_environment_resolved_to_moto_physical_names(env: OfflineAssembly) -> None:
    invocation = env.invoke("WorkFunction", {"request_id": "env-1"})

    assert invocation.error is None, invocation.error
    bucket = env.physical_id(DATA, "Reports")
    assert invocation.result["environment"] == {
        "BUCKET_NAME": bucket,  # through Fn::ImportValue of the data stack's export
        "KEY_ARN": env.physical_id(DATA, "Key", "Arn"),
        "TABLE_NAME": env.physical_id(PIPELINE, "Tokens"),
        "TOPIC_ARN": env.physical_id(PIPELINE, "Notifications"),
        "GREETING": "hello",
        "AWS_LAMBDA_FUNCTION_NAME": env.physical_id(PIPELINE, "WorkFunction"),
    }
    assert invocation.result["written"] == f"s3://{bucket}/env-1/result.json"
    body = env.clients("s3").get_object(Bucket=bucket, Key="env-1/result.json")["Body"].read()
    assert json.loads(body) == {"attempts": 1}
    assert env.physical_id(DATA, "Key", "Arn").startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/")
    assert "TABLE_NAME" not in os.environ  # applied for the call only


@pytest.mark.slow
def test_custom_error_is_caught_into_the_fail_state_error_and_cause_paths(env: OfflineAssembly) -> None:
    result = env.wait(env.start_execution(_request("fatal-1", fatal=True)), timeout=120)

    assert result.status == "FAILED"
    assert result.error == "Fatal"
    assert result.cause is not None
    assert json.loads(result.cause)["errorMessage"] == "request fatal-1 cannot be processed"
    assert result.states_visited == ["Prepare", "DoWork", "Failed"]
    assert env.invocations == {"WorkFunction": 1}  # Fatal is caught, never retried


@pytest.mark.slow
def test_retries_stop_at_max_attempts(env: OfflineAssembly) -> None:
    result = env.wait(env.start_execution(_request("flaky-1", flaky_times=10)), timeout=120)

    assert (result.status, result.error) == ("FAILED", "Flaky")
    assert env.invocations["WorkFunction"] == 3  # the first attempt and MaxAttempts=2 retries
    assert result.states_visited == ["Prepare", "DoWork"]


@pytest.mark.slow
def test_rejection_sent_with_send_task_failure_is_caught(env: OfflineAssembly) -> None:
    execution = env.start_execution(_request("rej-1"))
    _wait_for_token(env, "rej-1")
    env.put_event(_job_event("rej-1", "failed"))
    result = env.wait(execution, timeout=120)

    assert (result.status, result.error, result.cause) == ("FAILED", "Rejected", "rej-1 was rejected")
    assert result.states_visited == ["Prepare", "DoWork", "Register", "Failed"]


@pytest.mark.slow
def test_task_token_timeout_from_the_input_is_caught(env: OfflineAssembly) -> None:
    result = env.wait(env.start_execution(_request("late-1", callback_timeout=1)), timeout=120)

    assert (result.status, result.error) == ("FAILED", "CallbackTimedOut")
    assert result.states_visited == ["Prepare", "DoWork", "Register", "TimedOut"]
    assert [event["type"] for event in result.history if event["type"] == "TaskTimedOut"] == ["TaskTimedOut"]


@pytest.mark.slow
def test_a_task_may_resume_its_own_token_while_it_runs(env: OfflineAssembly) -> None:
    result = env.wait(env.start_execution(_request("now-1", resume_now=True)), timeout=120)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"outcome": "immediate"}
    assert result.states_visited == SUCCESS_STATES


@pytest.mark.slow
def test_scheduled_rule_from_another_thread_resumes_every_waiting_execution(env: OfflineAssembly) -> None:
    executions = [env.start_execution(_request(request_id)) for request_id in ("sweep-1", "sweep-2")]
    for request_id in ("sweep-1", "sweep-2"):
        _wait_for_token(env, request_id)
    fired: list[Any] = []
    schedule = threading.Thread(target=lambda: fired.extend(env.run_scheduled_rules()))
    schedule.start()
    results = [env.wait(execution, timeout=120) for execution in executions]
    schedule.join()

    assert [result.output for result in results] == [{"outcome": "swept", "greeting": "hello"}] * 2
    assert [(i.function, i.event, i.result) for i in fired] == [
        ("OnEventFunction", {"kind": "sweep"}, {"resumed": ["sweep-1", "sweep-2"]})
    ]
    assert fired[0].source.startswith("schedule:")


@pytest.mark.slow
def test_events_put_through_the_eventbridge_api_reach_rule_targets(env: OfflineAssembly) -> None:
    execution = env.start_execution(_request("api-1"))
    _wait_for_token(env, "api-1")
    detail = json.dumps({"request_id": "api-1", "outcome": "via-api"})
    env.clients("events").put_events(
        Entries=[{"Source": "fixture.jobs", "DetailType": "Job State Change", "Detail": detail}]
    )

    assert env.wait(execution, timeout=120).output == {"outcome": "via-api", "greeting": "hello"}
    assert env.put_event({"source": "other.source", "detail-type": "Job State Change", "detail": {}}) == []
    assert env.invocations["OnEventFunction"] == 1


# -- lookups and assembly handling ---------------------------------------------------------------------


@pytest.mark.slow
def test_resources_exist_in_moto_and_are_found_by_logical_id_or_path(env: OfflineAssembly) -> None:
    bucket = env.physical_id(DATA, "Reports")
    assert bucket == env.physical_id(DATA, "Reports65402A0A") == env.physical_id(DATA, "/FixtureData/Reports/Resource")
    assert env.clients("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = env.clients("s3").get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == env.physical_id(DATA, "Key", "Arn")
    table = env.physical_id(PIPELINE, "Tokens")
    assert env.stack_output_by_key("TokensTableName") == table
    ttl = env.clients("dynamodb").describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    assert env.state_machine_arn() == env.physical_id(PIPELINE, "Workflow") == env.state_machine_arn("Workflow")
    assert env.state_machine_arn().startswith(f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:")
    assert set(env.skipped.values()) >= {"Custom::S3AutoDeleteObjects"}
    # Policies and permissions are not resources in moto, but the offline authorization holds them.
    assert "AWS::IAM::Policy" not in env.skipped.values()
    assert env.store.function_policy(env.physical_id(PIPELINE, "OnEventFunction", "Arn")) is not None
    with pytest.raises(LookupError, match="no stack"):
        env.physical_id("Nope", "Reports")
    with pytest.raises(IntrinsicError, match="does not create"):
        env.physical_id(DATA, "Reports/AutoDeleteObjectsCustomResource/Default")
    # A bucket policy is held by the offline authorization, under its bucket.
    assert env.store.bucket_policies[env.physical_id(DATA, "Reports")].source.startswith(DATA)


@pytest.mark.slow
def test_assembly_without_template_metadata_falls_back_to_metadata_and_asset_manifests(
    assembly: Path, tmp_path: Path
) -> None:
    def strip(_stack: str, template: dict[str, Any]) -> None:
        for resource in template["Resources"].values():
            resource.pop("Metadata", None)

    stripped = _copy_with_templates(assembly, tmp_path / "stripped", strip)
    with OfflineAssembly(stripped) as env:
        invocation = env.invoke("WorkFunction", {"request_id": "bare-1", "fatal": True})
        assert env.physical_id(PIPELINE, "Tokens/Resource") == env.physical_id(PIPELINE, "Tokens1180AAEA")

    assert invocation.error is not None
    assert (invocation.error["errorType"], invocation.error["errorMessage"]) == (
        "Fatal",
        "request bare-1 cannot be processed",
    )


def test_unknown_intrinsic_names_the_function_and_the_resource(assembly: Path, tmp_path: Path) -> None:
    def add_cidr(stack: str, template: dict[str, Any]) -> None:
        if stack == PIPELINE:
            variables = template["Resources"]["WorkFunctionF5477531"]["Properties"]["Environment"]["Variables"]
            variables["SUBNETS"] = {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}

    broken = _copy_with_templates(assembly, tmp_path / "broken", add_cidr)
    with (
        pytest.raises(IntrinsicError, match=r"FixturePipeline/WorkFunctionF5477531.*'Fn::Cidr'"),
        OfflineAssembly(broken),
    ):
        pass
    assert "MOTO_ACCOUNT_ID" not in os.environ  # a failed start leaves nothing behind


# -- pieces ---------------------------------------------------------------------------------------------


class _Lookup:
    def ref(self, stack: str, logical_id: str) -> Any:
        return {"Bucket": "my-bucket"}[logical_id]

    def get_att(self, stack: str, logical_id: str, attribute: str) -> Any:
        return f"arn:{logical_id}.{attribute}"

    def export(self, name: str) -> Any:
        return {"Data:Key": "exported"}[name]

    def stack_output(self, stack: str, output: str) -> Any:
        return f"{stack}.{output}"

    def dynamic_reference(self, service: str, key: str) -> str:
        return f"<{service}:{key}>"


def test_resolver_evaluates_intrinsics_like_cloudformation() -> None:
    template = {
        "Conditions": {
            "IsWest": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-west-2"]},
            "Not": {"Fn::Not": [{"Condition": "IsWest"}]},
        }
    }
    resolver = Resolver("S", template, Pseudo(region="us-west-2", account_id="1"), _Lookup(), {"Stage": "dev"})

    def resolve(value: Any) -> Any:
        return resolver.resolve(value, "S/X")

    assert resolve({"Fn::Sub": "${Bucket}-${Bucket.Arn}-${AWS::Region}-${!Literal}-${Stage}"}) == (
        "my-bucket-arn:Bucket.Arn-us-west-2-${Literal}-dev"
    )
    assert resolve({"Fn::Sub": ["${A}/${AWS::AccountId}", {"A": {"Fn::ImportValue": "Data:Key"}}]}) == "exported/1"
    assert resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert resolve({"Fn::Join": ["-", ["x", {"Ref": "AWS::Partition"}, {"Fn::Select": [0, {"Fn::GetAZs": ""}]}]]}) == (
        "x-aws-us-west-2a"
    )
    assert resolve({"Fn::Join": [":", ["x", {"Ref": "AWS::URLSuffix"}]]}) == "x:amazonaws.com"
    assert resolve({"Fn::GetAZs": ""}) == ["us-west-2a", "us-west-2b", "us-west-2c"]
    assert resolve({"Fn::If": ["IsWest", "west", "other"]}) == "west"
    assert resolve({"Fn::If": ["Not", "west", {"Ref": "AWS::NoValue"}]}) is None
    assert resolve({"a": {"Fn::If": ["Not", 1, {"Ref": "AWS::NoValue"}]}, "b": [{"Ref": "AWS::NoValue"}, 2]}) == {
        "b": [2]
    }
    assert resolve({"Fn::GetStackOutput": {"StackName": "Data", "OutputName": "Key"}}) == "Data.Key"
    assert resolve("{{resolve:ssm:/app/flag}}") == "<ssm:/app/flag>"
    assert resolve({"Fn::GetAtt": "Bucket.Arn"}) == resolve({"Fn::GetAtt": ["Bucket", "Arn"]}) == "arn:Bucket.Arn"
    assert resolver.resolve({"Ref": "AWS::NoValue"}, "S/X") is None
    with pytest.raises(IntrinsicError, match=r"S/X: unsupported intrinsic function 'Fn::Cidr'"):
        resolve({"Fn::Cidr": ["10.0.0.0/16", 2, 8]})
    with pytest.raises(IntrinsicError, match="condition 'Missing' is not defined"):
        resolve({"Fn::If": ["Missing", 1, 2]})


def test_input_transformer_quotes_values_outside_strings_only() -> None:
    event = {"detail": {"id": "j-1", "n": 3, "tags": {"a": 1}}}
    target = {
        "InputTransformer": {
            "InputPathsMap": {"id": "$.detail.id", "n": "$.detail.n", "tags": "$.detail.tags", "missing": "$.nope"},
            "InputTemplate": '{"id": <id>, "n": <n>, "tags": <tags>, "text": "job <id> has <n>", "missing": <missing>}',
        }
    }
    assert target_input(target, event, rule_name="r", rule_arn="arn:r") == {
        "id": "j-1",
        "n": 3,
        "tags": {"a": 1},
        "text": "job j-1 has 3",
        "missing": None,
    }
    assert target_input({"Input": '{"kind": "sweep"}'}, event, rule_name="r", rule_arn="arn:r") == {"kind": "sweep"}
    assert target_input({"InputPath": "$.detail.tags"}, event, rule_name="r", rule_arn="arn:r") == {"a": 1}
