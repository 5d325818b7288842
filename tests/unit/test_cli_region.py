"""The deployed-environment commands act in the environment's region and say which config they read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from bft import aws
from bft.cli import main

EAST = "us-east-1"
STACK = "BftEastPipeline"
SUBMITTER = "arn:aws:iam::123456789012:role/BftEastTeamTickets-AccessSubmitterRole-1A2B3C"
# Not this checkout's version: the sheet must say the deployed one.
DEPLOYED_VERSION = "7.3.1"


def _write_config(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "east.yaml").write_text(
        "name: east\nregion: us-east-1\nallowed_base_models:\n  - amazon.nova-micro-v1:0:128k\n"
        "teams:\n  - name: tickets\n    submitters: [arn:aws:iam::123456789012:role/tickets-engineers]\n"
        "    notification_emails: [tickets@example.com]\n",
        encoding="utf-8",
    )
    return directory


@pytest.fixture
def east(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A us-east-1 environment deployed in moto, with the shell's default region set to us-west-2."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    config_dir = _write_config(tmp_path / "platform-config")
    with mock_aws():
        aws.reset()
        role = boto3.client("iam", region_name=EAST).create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")
        machine = boto3.client("stepfunctions", region_name=EAST).create_state_machine(
            name="tickets-machine",
            roleArn=role["Role"]["Arn"],
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        )["stateMachineArn"]
        outputs = {
            "DatasetsBucketName": "datasets",
            "ReportsBucketName": "reports",
            "StateTableName": "state",
            "NotificationsTopicArn": f"arn:aws:sns:{EAST}:123456789012:t",
            "PipelineVersion": DEPLOYED_VERSION,
        }
        # The team's registry entry, as its stack (BftEastTeamTickets) writes it.
        ssm = boto3.client("ssm", region_name=EAST)
        for key, value in (("state-machine-arn", machine), ("submitter-role-arn", SUBMITTER)):
            ssm.put_parameter(Name=f"/bft/east/teams/tickets/{key}", Value=value, Type="String")
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {k: {"Value": v} for k, v in outputs.items()},
        }
        boto3.client("cloudformation", region_name=EAST).create_stack(
            StackName=STACK, TemplateBody=json.dumps(template)
        )
        yield config_dir
        aws.reset()


def test_commands_call_the_environments_region_not_the_default_one(
    east: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The stack exists only in us-east-1: a client in AWS_DEFAULT_REGION (us-west-2) would not find it.
    assert main(["list", "--env", "east", "--team", "tickets", "--config-dir", str(east)]) == 0
    captured = capsys.readouterr()
    assert "no runs for team tickets in east" in captured.out
    assert aws.client("stepfunctions", region=EAST).meta.region_name == EAST
    assert f"config: {east / 'east.yaml'} (environment east, region us-east-1)" in captured.err


def test_config_dir_comes_from_bft_config_dir(
    east: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BFT_CONFIG_DIR", str(east))
    assert main(["list", "--env", "east", "--team", "tickets"]) == 0
    assert str(east / "east.yaml") in capsys.readouterr().err


def _no_aws_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    aws.reset()


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    problems = [line for line in err.splitlines() if "error:" in line]
    assert len(problems) == 1, err
    return problems[0]


def _without_aws_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *argv: str, moto: bool) -> int:
    """Run `bft` with no AWS variables or files at all (moto, when used, supplies credentials only)."""
    _no_aws_environment(tmp_path, monkeypatch)
    config_dir = _write_config(tmp_path / "cfg")
    try:
        if not moto:
            return main([*argv, "--config-dir", str(config_dir)])
        with mock_aws():
            return main([*argv, "--config-dir", str(config_dir)])
    finally:
        aws.reset()


def test_no_region_variable_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No AWS_DEFAULT_REGION: the config's region answers, no NoRegionError."""
    code = _without_aws_setup(
        tmp_path, monkeypatch, "status", "--env", "east", "--team", "tickets", "--request-id", "r1", moto=True
    )
    assert code == 2
    assert "environment east is not deployed in us-east-1" in _one_error_line(capsys.readouterr().err)


def test_no_credentials_and_no_region_give_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _without_aws_setup(tmp_path, monkeypatch, "list", "--env", "east", "--team", "tickets", moto=False)
    assert code == 2
    assert "no AWS credentials found" in _one_error_line(capsys.readouterr().err)
