"""The platform team's view, offline: `bft runs --all-teams` under a platform role with the pipeline stack's
PlatformViewerPolicy lists every team's runs, their outcomes and costs; without the policy, and for a team's
submitter, the listing is refused with what to attach (issue #23 item 3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bft import aws, sample_data
from bft.cli import EXIT_OK, EXIT_USAGE, main
from bft_twin.bedrock_fake import FakeBedrock
from bft_twin.catalog import catalog
from bft_twin.offline import OfflineAssembly
from bft_twin.run import TIME_FACTOR, _service_role_s3, _submitter_session, target_for, team_refs

pytestmark = pytest.mark.slow

PLATFORM = "arn:aws:iam::123456789012:role/platform-engineers"


@pytest.fixture
def world(local_assembly: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    target = target_for("local")
    monkeypatch.setenv("AWS_DEFAULT_REGION", target.region)
    with OfflineAssembly(
        local_assembly, region=target.region, account_id=target.account, time_factor=TIME_FACTOR
    ) as env:
        fake = FakeBedrock(
            region=target.region,
            account_id=target.account,
            s3=env.clients("s3"),
            on_event=env.put_event,
            clock=env.clock.now,
            time_scale=1.0,
            catalog=catalog(),
            no_commit_model_units=1,
            service_role_s3=_service_role_s3(env),
        )
        fake.plan_jobs("Completed", duration_s=3600, count=None)
        env.attach_bedrock(fake)
        fake.start_ticker()
        try:
            yield {"env": env, "target": target, "tmp": tmp_path}
        finally:
            fake.stop_ticker()


def _as(env: OfflineAssembly, principal: str, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    issued = env.authorizer.credentials(principal, "platform-alice")
    for name, value in issued.environment().items():
        monkeypatch.setenv(name, value)
    with aws.scoped({}, env.authorizer.session(issued)):
        return main(list(argv))


def _start(env: OfflineAssembly, target: Any, team: str, request: dict[str, Any]) -> str:
    session = _submitter_session(env, replace(target, team=team))
    machine = team_refs(env, "local", team).state_machine_arn
    started = session.client("stepfunctions").start_execution(
        stateMachineArn=machine, name=f"{request['requestId']}-0", input=json.dumps(request)
    )
    return str(started["executionArn"])


def test_a_platform_role_lists_every_teams_runs(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env, target = world["env"], world["target"]
    datasets = env.stack_output_by_key("DatasetsBucketName")
    data = sample_data.write_splits(world["tmp"] / "data", data_format=sample_data.default_format("local"))
    session = _submitter_session(env, replace(target, team="moderation"))
    session.client("s3").upload_file(str(data["train"]), datasets, "moderation/mine/train.jsonl")
    # moderation: a run that trains and serves; search: a request refused before anything starts.
    trained = _start(
        env,
        target,
        "moderation",
        {
            "team": "moderation",
            "requestId": "platform-view-1",
            "baseModelId": "meta.llama3-1-8b-instruct-v1:0:128k",
            "trainingDataUri": f"s3://{datasets}/moderation/mine/train.jsonl",
            "hyperParameters": {"epochCount": "1"},
            "approvalRequired": False,
        },
    )
    refused = _start(env, target, "search", {"team": "search", "requestId": "platform-view-2", "baseModelId": "x"})
    for arn in (trained, refused):
        env.wait(arn, timeout=180)
    capsys.readouterr()

    # Without the policy: refused, saying what to attach.
    assert _as(env, PLATFORM, monkeypatch, "runs", "--env", "local", "--all-teams") == EXIT_USAGE
    assert "PlatformViewerPolicyArn" in capsys.readouterr().err
    # A team's submitter lists its own team, not every team.
    moderation = team_refs(env, "local", "moderation").submitter_role_arn
    assert moderation is not None
    assert _as(env, moderation, monkeypatch, "runs", "--env", "local", "--all-teams") == EXIT_USAGE
    capsys.readouterr()

    env.store.attach_to_external(PLATFORM, str(env.stack_output_by_key("PlatformViewerPolicyArn")))
    assert _as(env, PLATFORM, monkeypatch, "runs", "--env", "local", "--all-teams", "--json") == EXIT_OK
    document = json.loads(capsys.readouterr().out)
    teams = document["teams"]
    assert set(teams) == {"moderation", "search"}
    [ours] = teams["moderation"]["runs"]
    assert (ours["requestId"], ours["status"], ours["outcome"]) == ("platform-view-1", "SUCCEEDED", "deployed")
    assert ours["trainingUsd"] > 0
    assert teams["moderation"]["trainingUsdThisMonth"] == round(ours["trainingUsd"], 2)
    # The throughput it left serving bills by the hour, and the platform sees it.
    assert [item["type"] for item in teams["moderation"]["stillBilling"]] == ["provisioned-throughput"]
    assert teams["moderation"]["billingPerHourUsd"] > 0
    [theirs] = teams["search"]["runs"]
    assert (theirs["status"], theirs["outcome"]) == ("FAILED", "request_invalid")

    assert _as(env, PLATFORM, monkeypatch, "runs", "--env", "local", "--all-teams") == EXIT_OK
    shown = capsys.readouterr().out
    assert "team moderation: 1 runs (every run): deployed 1;" in shown
    assert "team search: 1 runs (every run): request_invalid 1;" in shown
    assert "still running: provisioned-throughput" in shown
