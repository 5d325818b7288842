"""The bft CLI in the offline world, as the people who use it: a team member under the team's submitter role
(assumed through its trust policy) submits, follows, lists and tears down; a reviewer approves through the
approval function's URL. Every call the CLI makes is authorized from the synthesized templates."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from bft import aws, sample_data
from bft.cli import EXIT_NEGATIVE, EXIT_OK, main, signed_http
from bft.workflow.report import RUNBOOK
from bft_twin.bedrock_fake import FakeBedrock
from bft_twin.catalog import catalog
from bft_twin.offline import OfflineAssembly
from bft_twin.run import (
    ACCOUNT,
    REGION,
    TEAM,
    TIME_FACTOR,
    _service_role_s3,
    _submitter_session,
    target_for,
    team_refs,
)

pytestmark = pytest.mark.slow

REQUEST = "cli-offline-1"


OpenWorld = Callable[..., dict[str, Any]]  # (assembly, environment, *, no_commit_model_units=1)


@pytest.fixture
def open_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenWorld]:
    """Opens the offline world of an environment (its synthesized assembly, its region and account): moto, the
    Bedrock fake on the world's virtual clock, the team member's session. One world per test."""
    with ExitStack() as stack:

        def open_(assembly: Path, environment: str, *, no_commit_model_units: int = 1) -> dict[str, Any]:
            target = target_for(environment)
            monkeypatch.setenv("AWS_DEFAULT_REGION", target.region)
            env = stack.enter_context(
                OfflineAssembly(assembly, region=target.region, account_id=target.account, time_factor=TIME_FACTOR)
            )
            data = sample_data.write_splits(tmp_path / "data", data_format=sample_data.default_format(environment))
            fake = FakeBedrock(
                region=target.region,
                account_id=target.account,
                s3=env.clients("s3"),
                on_event=env.put_event,
                clock=env.clock.now,  # one virtual clock for the state machine, the schedules and Bedrock
                time_scale=1.0,
                # As the scenarios: Haiku's lifecycle simulated ACTIVE, one no-commitment model unit granted.
                catalog=catalog(),
                no_commit_model_units=no_commit_model_units,
                service_role_s3=_service_role_s3(env),
            )
            fake.plan_jobs("Completed", duration_s=3600, count=None)
            env.attach_bedrock(fake)
            fake.start_ticker()
            stack.callback(fake.stop_ticker)
            signed_http.use_transport(env.function_url_transport())
            stack.callback(signed_http.use_transport, None)
            return {"env": env, "fake": fake, "data": data, "submitter": _submitter_session(env, target)}

        yield open_


@pytest.fixture
def world(local_assembly: Path, open_world: OpenWorld) -> dict[str, Any]:
    return open_world(local_assembly, "local")


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
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
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
    reports_bucket = env.stack_output_by_key("ReportsBucketName")
    assert f"report: s3://{reports_bucket}/reports/{TEAM}/{REQUEST}/report.html" in status
    # `bft report` downloads what Finalize wrote, found through the stack outputs, as the team member.
    out = tmp_path / "report"
    assert _as_team_member(world, monkeypatch, "report", *common, "--request-id", REQUEST, "--out", str(out)) == EXIT_OK
    assert {p.name for p in out.iterdir()} == {"report.html", "report.md", "loss.svg", "run.json"}
    assert "SUCCESS: deployed" in (out / "report.html").read_text()
    # Submitted as a real run is (not through `bft local-run`): nothing tells Finalize it is simulated.
    assert "simulat" not in (out / "report.html").read_text().lower()
    assert out.joinpath("report.html").resolve().as_uri() in capsys.readouterr().out
    # Another team's reports are not the team member's to read.
    env.clients("s3").put_object(Bucket=reports_bucket, Key=f"reports/search/{REQUEST}/run.json", Body=b"{}")
    theirs = ["--env", "local", "--team", "search", "--request-id", REQUEST]
    assert _as_team_member(world, monkeypatch, "report", *theirs) == 2
    assert "a team reads its own reports only" in capsys.readouterr().err
    assert _as_team_member(world, monkeypatch, "list", *common) == EXIT_OK
    assert REQUEST in capsys.readouterr().out

    assert _as_team_member(world, monkeypatch, "teardown", *common, "--request-id", REQUEST) == EXIT_OK
    assert world["fake"].provisioned_throughputs() == []
    denied = [r for r in env.authorizer.records if not r.allowed]
    # The only refusals: the team member's attempt to approve (lambda:InvokeFunctionUrl on the approval function)
    # and to read another team's report.
    assert [r.action for r in denied] == ["lambda:InvokeFunctionUrl", "s3:GetObject"], denied
    role = team_refs(env, "local", TEAM).submitter_role_arn
    assert {r.principal for r in env.authorizer.records if r.service == "cloudformation"} >= {role}
    # The CLI found the team in its registry entry, with the team's own role (its path, nobody else's).
    assert {r.action for r in env.authorizer.records if r.service == "ssm" and r.principal == role} == {
        "ssm:GetParametersByPath"
    }


def _machine_name(env: OfflineAssembly) -> str:
    return team_refs(env, "local", TEAM).state_machine_arn.rsplit(":", 1)[-1]


# (environment, its assembly fixture, its region, the model and serving `bft smoke` picks there, the stack)
SMOKE_WORLDS = [
    pytest.param(
        "local-us-east-1",
        "east_assembly",
        "us-east-1",
        "amazon.nova-micro-v1:0:128k (nova)",
        "served on demand",
        "BftLocalUsEast-1Pipeline",
        id="us-east-1-on-demand",
    ),
    # dev's configuration offline: Llama 3.3 70B is served on demand in us-west-2.
    pytest.param(
        "local",
        "local_assembly",
        "us-west-2",
        "meta.llama3-3-70b-instruct-v1:0:128k (llama-3.3)",
        "served on demand",
        "BftLocalPipeline",
        id="us-west-2-on-demand",
    ),
    # The same, with Llama 3.3 70B taken out of the config the command reads: one no-commitment model unit.
    pytest.param(
        "local",
        "local_assembly",
        "us-west-2",
        "meta.llama3-1-8b-instruct-v1:0:128k (llama-3.1)",
        "served by provisioned throughput (1 model unit, no commitment)",
        "BftLocalPipeline",
        id="us-west-2-provisioned-throughput",
    ),
]
LLAMA_33 = "meta.llama3-3-70b-instruct-v1:0:128k"


def _without_llama_33(tmp_path: Path) -> list[str]:
    """``--config-dir`` arguments for a copy of the config whose local environment does not allow Llama 3.3 70B
    (a subset of what the deployed stacks allow), so that only provisioned throughput serves its models."""
    from argparse import Namespace

    from bft.cli.settings import config_dir

    copy = tmp_path / "config"
    copy.mkdir()
    for source in config_dir(Namespace()).glob("*.yaml"):
        (copy / source.name).write_text(source.read_text().replace(f"  - {LLAMA_33}\n", ""))
    return ["--config-dir", str(copy)]


@pytest.mark.parametrize(("environment", "assembly", "region", "model", "served", "stack"), SMOKE_WORLDS)
def test_smoke_runs_end_to_end_against_the_offline_twin(
    environment: str,
    assembly: str,
    region: str,
    model: str,
    served: str,
    stack: str,
    request: pytest.FixtureRequest,
    open_world: OpenWorld,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`make smoke ENV=<env>` is `bft smoke --env <env> --yes`: the same code path, on the environment's offline
    twin, as the team member (every call authorized from the templates). The twin has deployed the stacks: they
    are reused."""
    world = open_world(request.getfixturevalue(assembly), environment)
    request_id = "smoke-offline-1"
    argv = ["smoke", "--env", environment, "--yes", "--poll-seconds", "0.05", "--request-id", request_id]
    if "llama-3.1" in model:
        argv += _without_llama_33(request.getfixturevalue("tmp_path"))
    code = _as_team_member(world, monkeypatch, *argv)
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    lines = out.splitlines()
    # The estimate comes first, before anything is deployed or started.
    assert lines[0].startswith(f"smoke test of environment {environment} ({region}), team moderation: ")
    assert f"{model}, 100 training records, 1 epoch" in lines[0]
    estimate = next(line for line in lines if line.startswith("cost estimate: training ~"))
    deploy = next(index for index, line in enumerate(lines) if line.startswith("deploy: "))
    assert lines.index(estimate) < deploy
    assert lines[deploy] == f"deploy: reusing the deployed stacks ({stack} in {region})"
    assert "evaluate: 20 records, custom model " in out
    if served == "served on demand":
        assert "on-demand deployment, no hourly charge" in estimate
        assert "hourly charge 0" in out
        assert "custom-model-deployment/" in out
    else:
        assert "provisioned throughput, 1 model unit, no commitment, $24.00/hour" in estimate
        assert any(line.startswith("quota: the account needs 1 model unit") for line in lines[:deploy])
        assert "hourly charge 24.0" in out
        assert "provisioned-model/" in out
    short = model.split(" ")[0]
    assert lines[-1] == f"smoke PASSED: {short} trained, {served}, evaluated and deleted"

    # Trained once, served, then nothing left: no job running, no deployment, no throughput, no custom model.
    fake = world["fake"]
    assert fake.counters.jobs_started == 1
    assert fake.running_jobs() == []
    assert fake.custom_model_deployments() == []
    assert fake.provisioned_throughputs() == []
    assert fake.client("bedrock").list_custom_models()["modelSummaries"] == []
    assert "custom model deleted" in out
    denied = [r for r in world["env"].authorizer.records if not r.allowed]
    assert denied == []
    print(out)  # shown with -s: the run as a platform team sees it


def test_smoke_without_no_commitment_quota_names_the_step_and_leaves_nothing(
    local_assembly: Path,
    open_world: OpenWorld,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A new account has no no-commitment model units (docs/bedrock-behaviour.md#no-commit-quota): bft smoke
    cannot read the quota, so the run meets it, names the step, and still leaves nothing behind."""
    world = open_world(local_assembly, "local", no_commit_model_units=0)
    argv = ["smoke", "--env", "local", "--yes", "--poll-seconds", "0.05", "--request-id", "smoke-offline-quota"]
    argv += _without_llama_33(tmp_path)
    code = _as_team_member(world, monkeypatch, *argv)
    out = capsys.readouterr().out
    assert code == EXIT_NEGATIVE, out
    failed = out.splitlines()[-1]
    assert failed.startswith("smoke FAILED at step wait: execution FAILED, outcome pt_quota_exceeded: QuotaExceeded")
    assert failed.endswith(" -- " + RUNBOOK["pt_quota_exceeded"])  # the run's own advice
    assert "teardown: nothing this smoke run created is left billing" in out
    fake = world["fake"]
    assert fake.provisioned_throughputs() == []
    assert fake.client("bedrock").list_custom_models()["modelSummaries"] == []
