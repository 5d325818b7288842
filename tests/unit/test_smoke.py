"""`bft smoke` without AWS: the model it picks, the deploy path through an injected `cdk` runner, each failure
named by its step and followed by a teardown. The whole run against the offline twin is in
tests/workflow/test_cli_offline.py."""

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
from bft.smoke import NoSmokeModel, Smoke, SmokePlan, plan_smoke, smoke_model
from bft.synth import ROOT
from bft.workflow.ownership import run_tags

ENV = "local-us-east-1"
REQUEST = "smoke-unit-1"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:moderation"
DEPLOYMENT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123def456"
MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abc123def456"
JOB = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-micro-v1:0:128k/abc123def456"


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
            "Teams": json.dumps({"moderation": {"stateMachineArn": MACHINE}}),
        }
        return {"Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}]}


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

    def __init__(self, job_status: str = "Completed", busy: int = 0) -> None:
        self.job_status, self.deleted, self.busy = job_status, [], busy

    def list_tags_for_resource(self, resourceARN: str) -> dict[str, Any]:  # noqa: N803
        return {"tags": run_tags(ENV, "moderation", REQUEST)}

    def delete_custom_model_deployment(self, customModelDeploymentIdentifier: str) -> None:  # noqa: N803
        self.deleted.append(customModelDeploymentIdentifier)

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


def test_a_region_without_on_demand_serving_is_refused_naming_the_region_that_has_it() -> None:
    with pytest.raises(NoSmokeModel, match=r"region us-west-2 of environment dev offers no customizable model") as exc:
        smoke_model(load_config("dev"), "moderation")
    assert "us-east-1 would: amazon.nova-micro-v1:0:128k" in str(exc.value)


def test_the_teams_allowed_models_limit_the_choice(config: EnvironmentConfig) -> None:
    only_pro = config.model_copy(update={"allowed_base_models": ["amazon.nova-pro-v1:0:300k"]})
    assert smoke_model(only_pro, "moderation") == "amazon.nova-pro-v1:0:300k"
    team = config.team("moderation").model_copy(update={"allowed_base_models": ["amazon.nova-pro-v1:0:300k"]})
    assert smoke_model(config.model_copy(update={"teams": [team]}), "moderation") == "amazon.nova-pro-v1:0:300k"
    no_nova = config.model_copy(update={"allowed_base_models": ["meta.llama3-1-8b-instruct-v1:0:128k"]})
    with pytest.raises(NoSmokeModel, match=r"team moderation of environment local-us-east-1 may use only meta\.llama"):
        smoke_model(no_nova, "moderation")


def test_the_plan_is_a_tiny_on_demand_job_with_its_estimate(plan: SmokePlan) -> None:
    assert plan.request["hyperParameters"] == {"epochCount": "1"}
    assert plan.request["serving"] == {"kind": "on-demand-deployment"}
    assert plan.request["approvalRequired"] is False
    assert sorted(plan.files) == ["evaluation", "train"]
    assert len(plan.files["train"].read_text().splitlines()) == 100
    assert plan.cost["servingPerHourUsd"] == 0.0
    assert plan.cost["estimatedBilledTokens"] > 0
    assert "no hourly charge" in plan.cost_lines()[1]


def test_undeployed_stacks_are_deployed_with_cdk_and_destroyed_after_a_failure(
    config: EnvironmentConfig, plan: SmokePlan
) -> None:
    denied = _error("AccessDenied", "denied", "PutObject")
    clients = {"cloudformation": CloudFormation(deployed=False), "s3": S3(None, upload_error=denied)}
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
    clients = {"cloudformation": CloudFormation(deployed=False), "s3": S3(None, _error("AccessDenied", "x", "Put"))}
    smoke, calls, _ = _smoke(config, plan, clients)
    smoke.keep_stacks, smoke.config_dir = True, tmp_path
    assert smoke.run() == 1
    assert calls == [
        ["cdk", "deploy", "--all", "-c", f"env={ENV}", "-c", f"config_dir={tmp_path}", "--require-approval", "never"]
    ]


def test_a_failed_cdk_deploy_names_the_step_and_destroys_nothing(config: EnvironmentConfig, plan: SmokePlan) -> None:
    clients = {"cloudformation": CloudFormation(deployed=False)}
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
        "s3": S3(_report()),
        "stepfunctions": StepFunctions("SUCCEEDED"),
        "bedrock": bedrock,
    }
    smoke, _, said = _smoke(config, plan, clients)
    assert smoke.run() == 0, said
    assert bedrock.deleted == [DEPLOYMENT, MODEL]
    assert said.count("teardown: custom model not deletable yet (ConflictException); retrying") == 2
    assert said[-1].startswith("smoke PASSED")


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


def test_cli_names_the_region_that_would_work(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["smoke", "--env", "dev", "--yes"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "region us-west-2 of environment dev offers no customizable model that is served on demand" in err
    assert "nothing was deployed or started" in err
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert err.strip().splitlines()[-1] in readme  # the README quotes the refusal word for word


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


def test_the_readme_quotes_the_estimate_the_command_prints(tmp_path: Path) -> None:
    """The README's expected cost is the line `bft smoke` prints for dev moved to us-east-1 (shipped prices)."""
    dev = load_config("dev")
    east = dev.model_copy(update={"region": "us-east-1", "allowed_base_models": ["amazon.nova-micro-v1:0:128k"]})
    printed = plan_smoke(east, "moderation", workdir=tmp_path, request_id=REQUEST).cost_lines()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Smoke test in a real account") : readme.index("## Onboard a team")]
    assert printed[1] in section
    assert printed[2] in section
    assert "ILLUSTRATIVE" in printed[2]
    assert "make smoke ENV=dev" in section
