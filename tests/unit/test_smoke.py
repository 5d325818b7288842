"""`bft smoke` without AWS: the model and serving it picks in each region, its estimate, the deploy path through
an injected `cdk` runner, each failure named by its step and followed by a teardown. The whole run against the
offline twins (us-east-1 on demand, us-west-2 by provisioned throughput) is in tests/workflow/test_cli_offline.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bft.cli import EXIT_USAGE, main
from bft.config import EnvironmentConfig, load_config
from bft.smoke import (
    ON_DEMAND,
    PT,
    NoSmokeModel,
    Smoke,
    SmokeChoice,
    SmokePlan,
    ThroughputEstimate,
    estimate_throughput,
    plan_smoke,
    smoke_choice,
    smoke_model,
)
from bft.synth import ROOT
from bft.workflow.ownership import run_tags
from tests.conftest import CONFIG

ENV = "local-us-east-1"
REQUEST = "smoke-unit-1"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:moderation"
DEPLOYMENT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123def456"
MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abc123def456"
JOB = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-micro-v1:0:128k/abc123def456"
THROUGHPUT = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc123def456"
LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"  # the cheapest us-west-2 model served by provisioned throughput
LLAMA_33 = "meta.llama3-3-70b-instruct-v1:0:128k"  # served on demand in us-west-2


def _throughput_dev() -> EnvironmentConfig:
    """dev without Llama 3.3 70B: no model it allows is served on demand in us-west-2."""
    dev = load_config("dev")
    return dev.model_copy(update={"allowed_base_models": [m for m in dev.allowed_base_models if m != LLAMA_33]})


def _error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class CloudFormation:
    def __init__(self, deployed: bool) -> None:
        self.deployed = deployed

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803  (boto3's parameter name)
        if not self.deployed:
            raise _error("ValidationError", f"Stack with id {StackName} does not exist", "DescribeStacks")
        outputs = {
            "DatasetsBucketName": "datasets",
            "ReportsBucketName": "reports",
            "StateTableName": "state",
            "NotificationsTopicArn": "arn:aws:sns:us-east-1:123456789012:t",
        }
        return {"Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}]}


class Ssm:
    """The team's registry entry (bft.registry), as its stack writes it."""

    def get_paginator(self, name: str) -> Any:
        assert name == "get_parameters_by_path"
        return self

    def paginate(self, Path: str) -> list[dict[str, Any]]:  # noqa: N803  (boto3's parameter name)
        assert Path.endswith("/teams/moderation")
        return [{"Parameters": [{"Name": f"{Path}/state-machine-arn", "Value": MACHINE}]}]


class S3:
    def __init__(self, report: dict[str, Any] | None, upload_error: ClientError | None = None) -> None:
        self.report, self.upload_error, self.uploads = report, upload_error, []

    def upload_file(self, path: str, bucket: str, key: str) -> None:
        if self.upload_error is not None:
            raise self.upload_error
        self.uploads.append(f"s3://{bucket}/{key}")

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        if self.report is None:
            raise _error("NoSuchKey", "no such key", "GetObject")
        return {"Body": _Body(json.dumps(self.report).encode())}


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


class StepFunctions:
    def __init__(self, status: str) -> None:
        self.status, self.inputs = status, []

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict[str, str]:  # noqa: N803
        self.inputs.append(json.loads(input))
        return {"executionArn": stateMachineArn.replace(":stateMachine:", ":execution:") + f":{name}"}

    def describe_execution(self, executionArn: str) -> dict[str, str]:  # noqa: N803
        return {"status": self.status}

    def get_execution_history(self, **_: Any) -> dict[str, Any]:
        return {"events": []}


class Bedrock:
    """The calls of the teardown path, on resources tagged as the smoke run's."""

    def __init__(self, job_status: str = "Completed", busy: int = 0, environment: str = ENV) -> None:
        self.job_status, self.deleted, self.busy, self.environment = job_status, [], busy, environment

    def list_tags_for_resource(self, resourceARN: str) -> dict[str, Any]:  # noqa: N803
        return {"tags": run_tags(self.environment, "moderation", REQUEST)}

    def delete_custom_model_deployment(self, customModelDeploymentIdentifier: str) -> None:  # noqa: N803
        self.deleted.append(customModelDeploymentIdentifier)

    def delete_provisioned_model_throughput(self, provisionedModelId: str) -> None:  # noqa: N803
        self.deleted.append(provisionedModelId)

    def get_model_customization_job(self, jobIdentifier: str) -> dict[str, Any]:  # noqa: N803
        job = {"jobArn": JOB, "status": self.job_status}
        return job | ({"outputModelArn": MODEL} if self.job_status == "Completed" else {})

    def delete_custom_model(self, modelIdentifier: str) -> None:  # noqa: N803
        if self.busy:  # the deployment is still Deleting
            self.busy -= 1
            raise _error("ConflictException", "the model is in use by a deployment", "DeleteCustomModel")
        self.deleted.append(modelIdentifier)


@pytest.fixture
def config() -> EnvironmentConfig:
    return load_config(ENV)


@pytest.fixture
def plan(config: EnvironmentConfig, tmp_path: Path) -> SmokePlan:
    return plan_smoke(config, "moderation", workdir=tmp_path, request_id=REQUEST)


def _report(**changes: Any) -> dict[str, Any]:
    report = {
        "outcome": "deployed",
        "run": {"attempt": 1},
        "serving": {"kind": "on-demand-deployment", "arn": DEPLOYMENT},
        "evaluation": {"records": 20, "scores": {"custom": 0.9, "base": 0.7}, "scorer": "exact_match"},
        "leftRunning": [{"type": "on-demand-deployment", "arn": DEPLOYMENT, "hourlyCostUsd": 0.0}],
    }
    return report | changes


def _smoke(
    config: EnvironmentConfig, plan: SmokePlan, clients: dict[str, Any], runner_codes: dict[str, int] | None = None
) -> tuple[Smoke, list[list[str]], list[str]]:
    calls: list[list[str]] = []
    said: list[str] = []

    def runner(argv: list[str]) -> int:
        calls.append(argv)
        if argv[1] == "deploy" and (runner_codes or {}).get("deploy", 0) == 0:
            clients["cloudformation"].deployed = True
        return (runner_codes or {}).get(argv[1], 0)

    smoke = Smoke(
        config=config, plan=plan, clients=clients.__getitem__, runner=runner, say=said.append, sleep=lambda _s: None
    )
    return smoke, calls, said


def test_the_cheapest_model_served_on_demand_is_chosen(config: EnvironmentConfig) -> None:
    assert smoke_model(config, "moderation") == "amazon.nova-micro-v1:0:128k"
    # Priced by the environment's table: a cheaper Lite wins.
    cheaper_lite = config.model_copy(
        update={
            "prices": config.prices.model_copy(
                update={"training_per_1k_tokens_usd": {"amazon.nova-lite-v1:0:300k": 0.0001, "nova": 0.001}}
            )
        }
    )
    assert smoke_model(cheaper_lite, "moderation") == "amazon.nova-lite-v1:0:300k"


def test_dev_as_shipped_is_served_on_demand_by_llama_3_3() -> None:
    """us-west-2 serves Llama 3.3 70B custom models on demand: the shipped dev's smoke test has no hourly charge."""
    assert smoke_choice(load_config("dev"), "moderation") == SmokeChoice(LLAMA_33, ON_DEMAND)
    assert smoke_choice(load_config("local"), "moderation") == SmokeChoice(LLAMA_33, ON_DEMAND)


def test_without_an_on_demand_model_the_cheapest_throughput_is_chosen() -> None:
    # Llama 3.1 8B has the lowest illustrative model-unit hour of the models left.
    choice = smoke_choice(_throughput_dev(), "moderation")
    assert (choice.model, choice.serving) == (LLAMA, PT)
    assert choice.why.startswith(f"team moderation may use none of the models us-west-2 serves on demand ({LLAMA_33})")
    assert "(served on demand, no hourly charge: us-east-1: amazon.nova-micro-v1:0:128k" in choice.why
    assert f"us-west-2: {LLAMA_33})" in choice.why


def test_the_configured_hourly_price_ranks_the_throughput_models_first() -> None:
    dev = _throughput_dev()
    cheaper_70b = dev.model_copy(
        update={
            "prices": dev.prices.model_copy(
                # Training dearer, but the hour is what a smoke run on provisioned throughput pays for.
                update={
                    "model_unit_hour_usd": {"meta.llama3-1-70b-instruct-v1:0:128k": 5.0},
                    "training_per_1k_tokens_usd": {"meta.llama3-1-70b-instruct-v1:0:128k": 0.01},
                }
            )
        }
    )
    assert smoke_model(cheaper_70b, "moderation") == "meta.llama3-1-70b-instruct-v1:0:128k"


def test_the_teams_allowed_models_limit_the_choice(config: EnvironmentConfig) -> None:
    only_pro = config.model_copy(update={"allowed_base_models": ["amazon.nova-pro-v1:0:300k"]})
    assert smoke_model(only_pro, "moderation") == "amazon.nova-pro-v1:0:300k"
    team = config.team("moderation").model_copy(update={"allowed_base_models": ["amazon.nova-pro-v1:0:300k"]})
    assert smoke_model(config.model_copy(update={"teams": [team]}), "moderation") == "amazon.nova-pro-v1:0:300k"
    # Nova is served on demand here, but not allowed: the team's model on provisioned throughput, and why.
    titan = "amazon.titan-text-express-v1:0:8k"
    no_nova = config.model_copy(update={"allowed_base_models": [titan]})
    choice = smoke_choice(no_nova, "moderation")
    assert (choice.model, choice.serving) == (titan, PT)
    assert choice.why.startswith("team moderation may use none of the models us-east-1 serves on demand")
    nothing_here = config.model_copy(update={"allowed_base_models": [LLAMA]})
    with pytest.raises(NoSmokeModel, match=r"team moderation of environment local-us-east-1 may use no model"):
        smoke_model(nothing_here, "moderation")


def test_the_plan_is_a_tiny_on_demand_job_with_its_estimate(plan: SmokePlan) -> None:
    assert plan.request["hyperParameters"] == {"epochCount": "1"}
    assert plan.request["serving"] == {"kind": "on-demand-deployment"}
    assert plan.request["approvalRequired"] is False
    assert sorted(plan.files) == ["evaluation", "train"]
    assert len(plan.files["train"].read_text().splitlines()) == 100
    assert plan.cost["servingPerHourUsd"] == 0.0
    assert plan.cost["estimatedBilledTokens"] > 0
    assert "no hourly charge" in plan.cost_lines()[1]


def test_the_us_west_2_plan_buys_one_unit_without_commitment_in_the_familys_format(tmp_path: Path) -> None:
    plan = plan_smoke(_throughput_dev(), "moderation", workdir=tmp_path, request_id=REQUEST)
    assert (plan.model, plan.family, plan.serving) == (LLAMA, "llama-3.1", PT)
    assert plan.request["serving"] == {"kind": PT, "modelUnits": 1, "commitment": "none"}
    assert plan.cost["commitment"] == "no commitment"
    records = plan.files["train"].read_text().splitlines()
    assert len(records) == 100  # Llama's minimum
    assert set(json.loads(records[0])) == {"prompt", "completion"}  # Llama 3.1's format


def test_the_throughput_estimate_covers_creation_evaluation_and_teardown_in_whole_hours() -> None:
    dev = _throughput_dev()
    estimate = estimate_throughput(dev, LLAMA, poll_seconds=60)
    # The workflow looks at 20 min, then every 5: a PT ready at 30 min (the slow end) is seen at 30 min.
    # 40 calls (custom and base) at 0.5 s + 512 tokens / 50 per s, two at a time on one model unit.
    assert estimate.phases == (("creation", 1800.0), ("evaluation", 214.8), ("teardown", 60))
    assert (estimate.per_hour_usd, estimate.billed_hours, estimate.usd) == (25.0, 1, 25.0)
    slower = dev.model_copy(
        update={"workflow": dev.workflow.model_copy(update={"throughput_first_poll_seconds": 50 * 60})}
    )
    assert estimate_throughput(slower, LLAMA, poll_seconds=900).billed_hours == 2  # 50 + 3.6 + 15 min
    assert ThroughputEstimate(2, None, (("creation", 60.0),)).usd is None


def test_the_us_west_2_estimate_prices_the_throughput_and_warns_of_the_quota(tmp_path: Path) -> None:
    lines = plan_smoke(_throughput_dev(), "moderation", workdir=tmp_path, request_id=REQUEST).cost_lines()
    assert lines[1].startswith("serving: team moderation may use none of the models us-west-2 serves on demand")
    assert lines[2].startswith("cost estimate: training ~6,360 billed tokens = $0.01; serving: provisioned throughput")
    assert "1 model unit, no commitment, $25.00/hour for ~35 min once trained" in lines[2]
    assert "billed as 1 hour (assumed: every started hour in full) = $25.00; total ~$25.01" in lines[2]
    assert lines[3].startswith("  ILLUSTRATIVE prices")
    assert lines[4].startswith('quota: the account needs 1 model unit of the Bedrock quota "Model units no-commitment')
    assert "docs/bedrock-behaviour.md#no-commit-quota" in lines[4]


def test_a_throughput_ttl_shorter_than_the_run_is_refused_before_anything(tmp_path: Path) -> None:
    dev = _throughput_dev()
    team = dev.team("moderation").model_copy(update={"throughput_ttl_hours": 0.25})
    refused = r"keeps a provisioned throughput 0.25 h at most .* Raise it to at least 1 h"
    with pytest.raises(NoSmokeModel, match=refused):
        plan_smoke(dev.model_copy(update={"teams": [team]}), "moderation", workdir=tmp_path, request_id=REQUEST)


def test_undeployed_stacks_are_deployed_with_cdk_and_destroyed_after_a_failure(
    config: EnvironmentConfig, plan: SmokePlan
) -> None:
    denied = _error("AccessDenied", "denied", "PutObject")
    clients = {"cloudformation": CloudFormation(deployed=False), "ssm": Ssm(), "s3": S3(None, upload_error=denied)}
    smoke, calls, said = _smoke(config, plan, clients)
    assert smoke.run() == 1
    assert calls == [
        ["cdk", "deploy", "--all", "-c", f"env={ENV}", "--require-approval", "never"],
        ["cdk", "destroy", "--all", "-c", f"env={ENV}", "--force"],
    ]
    assert said[-1] == (
        "smoke FAILED at step submit: ClientError: An error occurred (AccessDenied) when calling the PutObject "
        "operation: denied"
    )


def test_keep_stacks_and_config_dir_reach_cdk(config: EnvironmentConfig, plan: SmokePlan, tmp_path: Path) -> None:
    clients = {
        "cloudformation": CloudFormation(deployed=False),
        "ssm": Ssm(),
        "s3": S3(None, _error("AccessDenied", "x", "Put")),
    }
    smoke, calls, _ = _smoke(config, plan, clients)
    smoke.keep_stacks, smoke.config_dir = True, tmp_path
    assert smoke.run() == 1
    assert calls == [
        ["cdk", "deploy", "--all", "-c", f"env={ENV}", "-c", f"config_dir={tmp_path}", "--require-approval", "never"]
    ]


def test_a_failed_cdk_deploy_names_the_step_and_destroys_nothing(config: EnvironmentConfig, plan: SmokePlan) -> None:
    clients = {"cloudformation": CloudFormation(deployed=False), "ssm": Ssm()}
    smoke, calls, said = _smoke(config, plan, clients, runner_codes={"deploy": 1})
    assert smoke.run() == 1
    assert len(calls) == 1
    assert said[-1] == (
        f"smoke FAILED at step deploy: `cdk deploy --all -c env={ENV} --require-approval never` exited 1"
    )


def test_deployed_stacks_are_reused_and_a_failed_evaluation_still_tears_down(
    config: EnvironmentConfig, plan: SmokePlan
) -> None:
    bedrock = Bedrock()
    sfn = StepFunctions("SUCCEEDED")
    clients = {
        "cloudformation": CloudFormation(deployed=True),
        "ssm": Ssm(),
        "s3": S3(_report(evaluation=None)),
        "stepfunctions": sfn,
        "bedrock": bedrock,
    }
    smoke, calls, said = _smoke(config, plan, clients)
    assert smoke.run() == 1
    assert calls == []  # reused: no cdk at all
    assert said[0].startswith("deploy: reusing the deployed stacks")
    (request,) = sfn.inputs
    assert request["trainingDataUri"] == f"s3://datasets/moderation/{REQUEST}/train.jsonl"
    assert clients["s3"].uploads == [
        f"s3://datasets/moderation/{REQUEST}/train.jsonl",
        f"s3://datasets/moderation/{REQUEST}/evaluation.jsonl",
    ]
    assert bedrock.deleted == [DEPLOYMENT, MODEL]
    assert said[-1].startswith("smoke FAILED at step evaluate: the run was not evaluated")


def test_the_models_delete_is_retried_while_its_deployment_goes(config: EnvironmentConfig, plan: SmokePlan) -> None:
    bedrock = Bedrock(busy=2)
    clients = {
        "cloudformation": CloudFormation(deployed=True),
        "ssm": Ssm(),
        "s3": S3(_report()),
        "stepfunctions": StepFunctions("SUCCEEDED"),
        "bedrock": bedrock,
    }
    smoke, _, said = _smoke(config, plan, clients)
    assert smoke.run() == 0, said
    assert bedrock.deleted == [DEPLOYMENT, MODEL]
    assert said.count("teardown: custom model not deletable yet (ConflictException); retrying") == 2
    assert said[-1].startswith("smoke PASSED")


def test_a_throughput_run_passes_and_deletes_the_throughput_then_the_model(tmp_path: Path) -> None:
    dev = _throughput_dev()
    plan = plan_smoke(dev, "moderation", workdir=tmp_path, request_id=REQUEST)
    report = _report(
        serving={"kind": PT, "arn": THROUGHPUT},
        leftRunning=[{"type": PT, "arn": THROUGHPUT, "hourlyCostUsd": 20.0}],
    )
    bedrock = Bedrock(environment="dev")
    clients = {
        "cloudformation": CloudFormation(deployed=True),
        "ssm": Ssm(),
        "s3": S3(report),
        "stepfunctions": StepFunctions("SUCCEEDED"),
        "bedrock": bedrock,
    }
    smoke, _, said = _smoke(dev, plan, clients)
    assert smoke.run() == 0, said
    assert bedrock.deleted == [THROUGHPUT, MODEL]
    assert any(line.endswith(f"served by {THROUGHPUT}, hourly charge 20.0") for line in said)
    assert said[-1] == (
        f"smoke PASSED: {LLAMA} trained, served by provisioned throughput (1 model unit, no commitment), "
        "evaluated and deleted"
    )


def test_a_run_served_otherwise_than_planned_fails_the_evaluate_step(tmp_path: Path) -> None:
    dev = _throughput_dev()
    plan = plan_smoke(dev, "moderation", workdir=tmp_path, request_id=REQUEST)
    clients = {
        "cloudformation": CloudFormation(deployed=True),
        "ssm": Ssm(),
        "s3": S3(_report()),  # an on-demand deployment
        "stepfunctions": StepFunctions("SUCCEEDED"),
        "bedrock": Bedrock(environment="dev"),
    }
    smoke, _, said = _smoke(dev, plan, clients)
    assert smoke.run() == 1
    assert said[-1].startswith(
        "smoke FAILED at step evaluate: the custom model is not served by provisioned throughput (1 model unit"
    )


def test_a_failed_run_names_the_wait_step_and_checks_nothing_is_left(
    config: EnvironmentConfig, plan: SmokePlan
) -> None:
    failed = _report(
        outcome="job_failed",
        serving=None,
        evaluation=None,
        leftRunning=[],
        error={"Error": "JobFailed", "Cause": "Training data exceeds the token limit on line 17"},
    )
    bedrock = Bedrock(job_status="Failed")
    clients = {
        "cloudformation": CloudFormation(deployed=True),
        "ssm": Ssm(),
        "s3": S3(failed),
        "stepfunctions": StepFunctions("FAILED"),
        "bedrock": bedrock,
    }
    smoke, _, said = _smoke(config, plan, clients)
    assert smoke.run() == 1
    assert bedrock.deleted == []
    assert any(line.startswith("teardown: no custom model to delete") for line in said)
    assert "teardown: nothing this smoke run created is left billing" in said
    assert said[-1] == (
        "smoke FAILED at step wait: execution FAILED, outcome job_failed: JobFailed: Training data exceeds the "
        "token limit on line 17"
    )


def test_something_left_running_fails_the_teardown(config: EnvironmentConfig, plan: SmokePlan) -> None:
    left = {"type": "provisioned-throughput", "arn": "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/x"}
    clients = {
        "cloudformation": CloudFormation(deployed=True),
        "ssm": Ssm(),
        "s3": S3(_report(leftRunning=[left])),
        "stepfunctions": StepFunctions("SUCCEEDED"),
        "bedrock": Bedrock(),
    }
    smoke, _, said = _smoke(config, plan, clients)
    assert smoke.run() == 1
    assert said[-1].startswith("smoke FAILED at step teardown: the run reports still running: [{'type': 'provisioned")


def test_cli_refuses_without_a_terminal_or_yes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["smoke", "--env", ENV]) == EXIT_USAGE  # pytest's stdin is not a terminal
    captured = capsys.readouterr()
    assert "cost estimate: training ~" in captured.out  # the estimate is printed before the refusal
    assert "stdin is not a terminal, so nobody can confirm the cost: pass --yes" in captured.err


def test_cli_dry_run_prints_the_estimate_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["smoke", "--env", ENV, "--dry-run", "--request-id", REQUEST]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"smoke test of environment {ENV} (us-east-1), team moderation:")
    assert out.splitlines()[-1] == "dry run: nothing was deployed or started"


def test_cli_dry_run_for_dev_prints_the_on_demand_estimate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["smoke", "--env", "dev", "--dry-run", "--request-id", REQUEST]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"smoke test of environment dev (us-west-2), team moderation: {LLAMA_33} (llama-3.3)")
    assert "no hourly charge" in "\n".join(out)
    assert out[-1] == "dry run: nothing was deployed or started"


def test_cli_refuses_a_plan_the_environment_forbids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (CONFIG / "dev.yaml").read_text(encoding="utf-8")
    text = text.replace(f"  - {LLAMA_33}\n", "")  # served by provisioned throughput, which the TTL would cut short
    (tmp_path / "dev.yaml").write_text(text.replace("throughput_ttl_hours: 4", "throughput_ttl_hours: 0.25"))
    assert main(["smoke", "--env", "dev", "--config-dir", str(tmp_path), "--yes"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "the reaper would delete it before the evaluation ends" in err
    assert err.strip().endswith("nothing was deployed or started")


def test_make_smoke_runs_bft_smoke() -> None:
    # Run as from a shell, not as a sub-make of `make check` (which would add its flags and directory lines).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    shown = subprocess.run(
        ["make", "--no-print-directory", "-n", "smoke", "ENV=staging", "YES=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    assert shown.splitlines()[-1].endswith("/bft smoke --env staging --yes")


def test_the_smoke_test_page_quotes_the_estimates_the_command_prints(tmp_path: Path) -> None:
    """docs/smoke-test.md's expected costs are the lines `bft smoke` prints for dev as shipped (Llama 3.3 70B on
    demand in us-west-2), for dev without it (provisioned throughput) and for dev moved to us-east-1 (Nova Micro
    on demand), at the shipped illustrative prices."""
    section = (ROOT / "docs" / "smoke-test.md").read_text(encoding="utf-8")
    assert "make smoke ENV=dev" in section
    dev = load_config("dev")
    east = dev.model_copy(update={"region": "us-east-1", "allowed_base_models": ["amazon.nova-micro-v1:0:128k"]})
    for config, serving in ((dev, ON_DEMAND), (_throughput_dev(), PT), (east, ON_DEMAND)):
        plan = plan_smoke(config, "moderation", workdir=tmp_path / f"{config.region}-{serving}", request_id=REQUEST)
        assert plan.serving == serving
        printed = plan.cost_lines()[1:]  # the first line names the request id
        assert "ILLUSTRATIVE" in "\n".join(printed)
        for line in printed:
            assert line in section, line
