"""`bft credentials`, the onboarding profile's credential_process, against the offline twin: a person the team
lists assumes the submitter role naming themselves as the source identity the role's trust requires; the
plain role_arn profile (no source identity) is refused, and so is a person the team does not list."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from bft import aws
from bft.cli import EXIT_OK, EXIT_USAGE, main
from bft_twin.offline import OfflineAssembly
from bft_twin.run import ACCOUNT, REGION, team_refs

pytestmark = pytest.mark.slow

PERSON = f"arn:aws:iam::{ACCOUNT}:role/moderation-ml-engineers"
STRANGER = f"arn:aws:iam::{ACCOUNT}:role/search-ml-engineers"


def _signed_in(env: OfflineAssembly, principal: str, session: str, monkeypatch: pytest.MonkeyPatch) -> None:
    issued = env.authorizer.credentials(principal, session)
    for name, value in issued.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def test_a_listed_person_assumes_the_submitter_role_as_themselves(
    local_assembly: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with OfflineAssembly(local_assembly, region=REGION, account_id=ACCOUNT) as env:
        role = team_refs(env, "local", "moderation").submitter_role_arn
        assert role is not None
        _signed_in(env, PERSON, "alice@example.com", monkeypatch)
        # What a role_arn profile does: AssumeRole without a source identity, refused by the role's trust.
        with pytest.raises(ClientError, match="AccessDenied"):
            boto3.client("sts").assume_role(RoleArn=role, RoleSessionName="plain")
        with aws.scoped({}, None):
            assert main(["credentials", "--role-arn", role]) == EXIT_OK
        issued = json.loads(capsys.readouterr().out)
        assert issued["Version"] == 1
        assert {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"} <= set(issued)
        who = boto3.client(
            "sts",
            aws_access_key_id=issued["AccessKeyId"],
            aws_secret_access_key=issued["SecretAccessKey"],
            aws_session_token=issued["SessionToken"],
        ).get_caller_identity()["Arn"]
        # The session is named after the person it came from (the signed-in session's name).
        assert who.endswith("/alice@example.com"), who
        assert ":assumed-role/" in who

        _signed_in(env, STRANGER, "mallory", monkeypatch)
        with aws.scoped({}, None):
            assert main(["credentials", "--role-arn", role]) == EXIT_USAGE
        assert "is your identity among the team's submitters?" in capsys.readouterr().err
