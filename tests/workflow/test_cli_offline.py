"""The bft CLI in the offline world, as the people who use it: a team member under the team's submitter role
(assumed through its trust policy) submits, follows, lists and tears down; a reviewer approves through the
approval function's URL. Every call the CLI makes is authorized from the synthesized templates."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bft import aws
from bft.cli import EXIT_NEGATIVE, EXIT_OK, main, signed_http
from bft.local import sample_data
from bft.local.bedrock_fake import FakeBedrock
from bft.local.catalog import catalog
from bft.local.offline import OfflineAssembly
from bft.local.run import ACCOUNT, REGION, TEAM, TIME_FACTOR, _service_role_s3, _submitter_session, team_refs

pytestmark = pytest.mark.slow

REQUEST = "cli-offline-1"


@pytest.fixture
def world(local_assembly: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with OfflineAssembly(local_assembly, region=REGION, account_id=ACCOUNT, time_factor=TIME_FACTOR) as env:
        now = datetime.now(UTC)
        data = sample_data.write_splits(tmp_path / "data", data_format=sample_data.default_format("local"))
        fake = FakeBedrock(
            region=REGION,
            account_id=ACCOUNT,
            s3=env.clients("s3"),
            on_event=env.put_event,
            clock=env.clock.now,  # one virtual clock for the state machine, the schedules and Bedrock
            time_scale=1.0,
            # As the scenarios: Haiku's lifecycle simulated ACTIVE, one no-commitment model unit granted.
            catalog=catalog(now=now, haiku_status="ACTIVE"),
            no_commit_model_units=1,
            service_role_s3=_service_role_s3(env),
        )
        fake.plan_jobs("Completed", duration_s=3600, count=None)
        env.attach_bedrock(fake)
        fake.start_ticker()
        signed_http.use_transport(env.function_url_transport())
        try:
            yield {"env": env, "fake": fake, "data": data, "submitter": _submitter_session(env)}
        finally:
            signed_http.use_transport(None)
            fake.stop_ticker()


def _as_team_member(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    """Run `bft ...` with the team member's credentials (the submitter role's session), as a profile gives them."""
    frozen = world["submitter"].get_credentials().get_frozen_credentials()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", frozen.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", frozen.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", frozen.token)
    with aws.scoped({}, world["submitter"]):
        return main(list(argv))


def _as_reviewer(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    reviewer = "arn:aws:iam::123456789012:role/moderation-reviewers"
    world["env"].store.attach_to_external(reviewer, world["env"].stack_output_by_key("ReviewerPolicyArn"))
    issued = world["env"].authorizer.credentials(reviewer, "reviewer-alice")
    for name, value in issued.environment().items():
        monkeypatch.setenv(name, value)
    session = world["env"].authorizer.session(issued)
    with aws.scoped({}, session):
        return main(list(argv))


def _wait_for_approval(world: dict[str, Any], timeout: float = 90.0) -> None:
    table = world["env"].resource("dynamodb").Table(world["env"].stack_output_by_key("StateTableName"))
    deadline = time.monotonic() + timeout
    while not table.get_item(Key={"pk": f"approval#{TEAM}#{REQUEST}"}).get("Item"):
        assert time.monotonic() < deadline, "the run never asked for approval"
        time.sleep(0.1)


def test_team_member_and_reviewer_use_the_cli_under_their_own_roles(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env, data = world["env"], world["data"]
    files = [str(data["train"]), "--validation", str(data["validation"]), "--evaluation", str(data["evaluation"])]
    common = ["--env", "local", "--team", TEAM]
    assert (
        _as_team_member(world, monkeypatch, "submit", *common, *files, "--request-id", REQUEST, "--approval") == EXIT_OK
    )
    assert f"submitted {REQUEST}" in capsys.readouterr().out

    _wait_for_approval(world)
    # The team member cannot approve its own run: it is not a reviewer (and the submitter role never is).
    assert _as_team_member(world, monkeypatch, "approve", *common, "--request-id", REQUEST) == EXIT_NEGATIVE
    assert "HTTP 403" in capsys.readouterr().err
    assert _as_reviewer(world, monkeypatch, "approve", *common, "--request-id", REQUEST) == EXIT_OK

    execution = env.wait(f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{_machine_name(env)}:{REQUEST}", timeout=180)
    assert execution.status == "SUCCEEDED", execution.cause
    capsys.readouterr()
    assert _as_team_member(world, monkeypatch, "status", *common, "--request-id", REQUEST) == EXIT_OK
    status = capsys.readouterr().out
    assert "outcome: deployed" in status
    assert "still running: provisioned-throughput" in status
    assert _as_team_member(world, monkeypatch, "list", *common) == EXIT_OK
    assert REQUEST in capsys.readouterr().out

    assert _as_team_member(world, monkeypatch, "teardown", *common, "--request-id", REQUEST) == EXIT_OK
    assert world["fake"].provisioned_throughputs() == []
    denied = [r for r in env.authorizer.records if not r.allowed]
    # The only refusal: the team member's attempt to approve (lambda:InvokeFunctionUrl on the approval function).
    assert [r.action for r in denied] == ["lambda:InvokeFunctionUrl"], denied
    role = team_refs(env, "local", TEAM).submitter_role_arn
    assert {r.principal for r in env.authorizer.records if r.service == "cloudformation"} >= {role}
    # The CLI found the team in its registry entry, with the team's own role (its path, nobody else's).
    assert {r.action for r in env.authorizer.records if r.service == "ssm" and r.principal == role} == {
        "ssm:GetParametersByPath"
    }


def _machine_name(env: OfflineAssembly) -> str:
    return team_refs(env, "local", TEAM).state_machine_arn.rsplit(":", 1)[-1]
