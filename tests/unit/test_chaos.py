"""Chaos runs (bft_twin.chaos): the draw is a function of the seed, injected AWS errors go through botocore's
retries as AWS's would, and each invariant can fail (a summary that breaks it is caught)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bft.cli import EXIT_NEGATIVE, EXIT_OK, main
from bft_twin import chaos

# A run that held every invariant: what `run_scenario` returns, cut to what the invariants read.
GOOD: dict[str, Any] = {
    "status": "SUCCEEDED",
    "outcome": "deployed",
    "states_visited": ["Init", "StartJob", "WaitForJob", "CreateServing", "FinalizeSuccess", "Deployed"],
    "jobs_started": 1,
    "jobs_left_running": 0,
    "evaluation_jobs_left_running": 0,
    "provisioned_throughputs_left": ["arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc"],
    "deployments_left": [],
    "notifications": [
        {"subject": "[bft local] r-1: approval needed: r-1", "message": "..."},
        {"subject": "[bft local] r-1: deployed", "message": "Outcome: deployed (SUCCEEDED)"},
    ],
    "report_uri": "s3://reports/reports/moderation/r-1/run.json",
    "report": {"outcome": "deployed"},
}
FAILED: dict[str, Any] = {
    **GOOD,
    "status": "FAILED",
    "outcome": "job_failed",
    "states_visited": ["Init", "StartJob", "WaitForJob", "Cleanup", "FinalizeFailure", "RunFailed"],
    "provisioned_throughputs_left": [],
    "notifications": [{"subject": "[bft local] r-1: job failed", "message": "..."}],
    "report": {"outcome": "job_failed"},
}


def _broken(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    summary = copy.deepcopy(base)
    summary.update(changes)
    return summary


def test_good_runs_hold_every_invariant() -> None:
    assert chaos.check_invariants(GOOD) == dict.fromkeys(chaos.INVARIANTS, True)
    assert chaos.check_invariants(FAILED) == dict.fromkeys(chaos.INVARIANTS, True)


# Each case breaks exactly one invariant: the check must say so, and only that one.
CASES = [
    ("terminal_state", _broken(GOOD, status="RUNNING")),
    ("terminal_state", _broken(FAILED, states_visited=[*FAILED["states_visited"][:-1], "ReportFailed"])),
    ("terminal_state", _broken(GOOD, states_visited=[])),
    ("documented_outcome", _broken(FAILED, outcome="error", report={"outcome": "error"})),
    ("documented_outcome", _broken(FAILED, outcome="deployed", report={"outcome": "deployed"})),
    ("at_most_one_job", _broken(GOOD, jobs_started=2)),
    ("no_job_running", _broken(FAILED, jobs_left_running=1)),
    # The LLM judge's evaluation jobs bill the judge's tokens while they run (or are stopping).
    ("no_job_running", _broken(FAILED, evaluation_jobs_left_running=1)),
    ("nothing_serving_unless_deployed", _broken(FAILED, provisioned_throughputs_left=["arn:pt"])),
    ("nothing_serving_unless_deployed", _broken(FAILED, deployments_left=["arn:deployment"])),
    ("one_final_notification", _broken(FAILED, notifications=[])),
    ("one_final_notification", _broken(FAILED, notifications=FAILED["notifications"] * 2)),
    ("report_written", _broken(FAILED, report_uri=None, report=None)),
]


@pytest.mark.parametrize(("invariant", "summary"), CASES, ids=[f"{name}-{i}" for i, (name, _) in enumerate(CASES)])
def test_each_invariant_can_fail(invariant: str, summary: dict[str, Any]) -> None:
    assert chaos.check_invariants(summary)[invariant] is False


def test_every_invariant_has_a_case_that_breaks_it() -> None:
    assert {name for name, _ in CASES} == set(chaos.INVARIANTS)


def test_the_documented_outcomes_are_the_runbooks() -> None:
    """The outcome list the invariant accepts is the runbook's (docs/runbook.md): one entry per failure outcome."""
    runbook = (Path(__file__).resolve().parents[2] / "docs" / "runbook.md").read_text()
    for outcome in chaos.DOCUMENTED_OUTCOMES - {"deployed"}:
        assert f"### {outcome}\n" in runbook, f"{outcome} has no runbook entry"
    assert "error" not in chaos.DOCUMENTED_OUTCOMES


def test_the_draw_is_a_function_of_the_seed() -> None:
    first = [f.to_json() for f in chaos.draw(7)]
    assert first == [f.to_json() for f in chaos.draw(7)]
    assert any([f.to_json() for f in chaos.draw(seed)] != first for seed in range(8, 12))
    json.dumps(first)  # readable and JSON-able
    assert all(f["what"] for f in first)


THROUGHPUT = chaos.Reach(serving="provisioned-throughput", reviewers=True)
DEPLOYMENT = chaos.Reach(serving="on-demand-deployment", reviewers=True)


def test_the_draw_covers_every_kind_and_combines_faults() -> None:
    drawn = [chaos.draw(seed, reach) for reach in (THROUGHPUT, DEPLOYMENT) for seed in range(200)]
    kinds = {f.kind for faults in drawn for f in faults}
    assert kinds == set(chaos._KINDS)
    assert any(len(faults) >= 2 for faults in drawn)
    for faults in drawn:  # a run has one job, one throughput, one reviewer: at most one fault of each
        exclusive = [f.kind for f in faults if f.kind in chaos._EXCLUSIVE]
        assert len(exclusive) == len(set(exclusive))


def test_only_faults_that_can_act_are_drawn() -> None:
    """A run served by a deployment draws no throughput or quota fault and no throughput operation, a run served
    by a throughput no deployment fault, a team without a reviewer no approval fault or RequestApproval crash."""
    alone = chaos.Reach(serving="on-demand-deployment", reviewers=False)
    for reach in (THROUGHPUT, DEPLOYMENT, alone):
        for seed in range(300):
            faults = chaos.draw(seed, reach)
            assert chaos.could_not_act(faults, reach) == [], (seed, reach)
    on_deployment = [f for seed in range(300) for f in chaos.draw(seed, DEPLOYMENT)]
    assert not {"throughput", "quota"} & {f.kind for f in on_deployment}
    assert "deployment" in {f.kind for f in on_deployment}
    operations = {f.params["operation"] for f in on_deployment if f.kind == "aws-error"}
    assert "CreateCustomModelDeployment" in operations
    assert not {"CreateProvisionedModelThroughput", "GetProvisionedModelThroughput"} & operations
    assert "deployment" not in {f.kind for seed in range(300) for f in chaos.draw(seed, THROUGHPUT)}
    lonely = [f for seed in range(300) for f in chaos.draw(seed, alone)]
    assert "approval" not in {f.kind for f in lonely}
    assert "RequestApproval" not in {f.params["function"] for f in lonely if f.kind == "crash"}


def test_the_check_sees_a_fault_that_could_not_act() -> None:
    throughput = chaos.Fault("throughput", {"outcome": "Failed"})
    create_pt = chaos.Fault("aws-error", {"service": "bedrock", "operation": "CreateProvisionedModelThroughput"})
    approval_crash = chaos.Fault("crash", {"function": "RequestApproval", "when": "before", "invocation": 1})
    alone = chaos.Reach(serving="on-demand-deployment", reviewers=False)
    assert chaos.could_not_act([throughput, create_pt, approval_crash], alone) == [
        throughput,
        create_pt,
        approval_crash,
    ]


def test_a_fault_that_did_not_act_is_not_exercised() -> None:
    fault = chaos.Fault("crash", {"function": "Evaluate", "when": "after", "invocation": 2})
    assert fault.to_json()["fired"] == 0
    assert fault.to_json()["exercised"] is False
    fault.fire()
    assert fault.to_json()["exercised"] is True


@pytest.mark.parametrize(
    ("service", "operation", "params", "kind"),
    [
        ("s3", "put_object", {"Bucket": "b", "Key": "k", "Body": b"x"}, "throttle"),
        ("sns", "publish", {"TopicArn": "arn:aws:sns:us-west-2:123456789012:t", "Message": "m"}, "throttle"),
        ("dynamodb", "get_item", {"TableName": "t", "Key": {"pk": {"S": "a"}}}, "5xx"),
        ("stepfunctions", "send_task_success", {"taskToken": "t", "output": "{}"}, "throttle"),
        ("ssm", "get_parameter", {"Name": "p"}, "5xx"),
    ],
)
def test_an_injected_error_is_parsed_and_retried_by_botocore_as_awss(
    service: str, operation: str, params: dict[str, Any], kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer is in the service's own wire format: the handlers' client (bft.aws: standard mode, 3 retries)
    retries it, 4 attempts in all, and the caller gets the service's error code, as from AWS."""
    from bft.aws import _CONFIG

    monkeypatch.setattr("time.sleep", lambda _s: None)  # botocore's backoff between attempts
    code, status = chaos._ERRORS[service][kind]
    session = boto3.session.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="us-west-2")
    client = session.client(service, config=_CONFIG)  # type: ignore[call-overload]
    attempts: list[str] = []

    def answer(request: Any, **_: Any) -> Any:
        attempts.append(request.url)
        return chaos.error_response(service, request.url, code, status)

    client.meta.events.register_first("before-send", answer)
    with pytest.raises(ClientError) as raised:
        getattr(client, operation)(**params)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert len(attempts) == 4, "botocore's standard retries act on it"


def test_the_cli_exits_non_zero_when_an_invariant_breaks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run_chaos(seed: int, **_: Any) -> dict[str, Any]:
        summary = _broken(FAILED, notifications=[], seed=seed, faults=[f.to_json() for f in chaos.draw(seed)])
        summary.pop("states_visited")  # no report to render: the printing needs only the chaos block
        summary["invariants"] = chaos.check_invariants(summary)
        return summary

    monkeypatch.setattr(chaos, "run_chaos", run_chaos)
    assert main(["local-run", "--chaos", "3"]) == EXIT_NEGATIVE
    out = capsys.readouterr().out
    assert "chaos seed 3" in out
    assert "BROKEN one_final_notification" in out
    for fault in chaos.draw(3):
        assert fault.description in out


def test_the_cli_prints_the_seed_faults_and_invariants_as_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def run_chaos(seed: int, **_: Any) -> dict[str, Any]:
        summary = _broken(FAILED, seed=seed, faults=[f.to_json() for f in chaos.draw(seed)])
        summary["invariants"] = chaos.check_invariants(summary)
        summary.pop("states_visited")  # no report to render
        return summary

    monkeypatch.setattr(chaos, "run_chaos", run_chaos)
    assert main(["local-run", "--chaos", "5", "--json", "--report-dir", str(tmp_path)]) == EXIT_OK
    printed = json.loads(capsys.readouterr().out)
    assert printed["seed"] == 5
    assert printed["faults"] == [f.to_json() for f in chaos.draw(5)]
    assert printed["invariants"] == dict.fromkeys(chaos.INVARIANTS, True)


def test_the_cli_refuses_chaos_with_a_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local-run", "--chaos", "1", "--scenario", "job-failed"]) != EXIT_OK
