"""`bft smoke`: one tiny real run through a deployed environment, then nothing left billing.

A platform team runs it in its sandbox account (`make smoke ENV=<env>`); the tests run the same code against
the offline twin. Steps, each named when it fails:

* **deploy**: reuse the environment's stacks (found from their outputs, :mod:`bft.deployment`), else
  `cdk deploy --all -c env=<env>`;
* **submit**: upload 100 sample training and 20 evaluation records (:mod:`bft.sample_data`) to the
  team's prefix and start the team's state machine, one epoch, on the cheapest customizable model the team
  may use that the region serves on demand (no hourly charge); where there is none (us-west-2), on the
  cheapest one served by provisioned throughput, 1 model unit, no commitment, billed by the hour;
* **wait**: follow the execution until it ends;
* **evaluate**: the run's report says `deployed`, served as planned, evaluated against the base model;
* **teardown**: delete the deployment or throughput, then the custom model (:mod:`bft.teardown`, tags
  checked), and the stacks when this command deployed them.

Every AWS call goes through ``clients`` (a service name -> client factory) and ``cdk`` through ``runner``,
so tests inject moto, the offline twin or a recorder. A failure at any step still tears down what the run
created, and the exit code is non-zero.
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bft.catalog import catalog, today
from bft.errors import RequestInvalid
from bft.families import FAMILIES, family_for

if TYPE_CHECKING:
    from bft.config import EnvironmentConfig
    from bft.deployment import Deployment

STEPS = ("deploy", "submit", "wait", "evaluate", "teardown")
TRAINING_RECORDS = 100
EVALUATION_RECORDS = 20  # the evaluation file's minimum is 10 (bft.dataset.validator)
EPOCHS = 1
# Bounds the customization job: past it the workflow stops the job and cleans up by itself, so the execution
# always ends and a smoke run never trains for the environment's full job timeout.
JOB_TIMEOUT_SECONDS = 6 * 3600
ON_DEMAND = "on-demand-deployment"
PT = "provisioned-throughput"
# The smallest throughput there is, and never a commitment term: a committed PT cannot be deleted before its
# term ends (docs/bedrock-behaviour.md#pt-commitment), so teardown could not stop the charge.
PT_MODEL_UNITS = 1
# A new PT takes roughly 20-30 minutes to reach InService (docs/bedrock-behaviour.md#pt-statuses): the
# estimate takes the slow end, as seen by the workflow's own polls.
PT_CREATION_SECONDS = 30 * 60
QUOTA_NAME = "Model units no-commitment Provisioned Throughputs across custom models"
# DeleteCustomModel while the deployment is still Deleting: which error Bedrock answers is not documented
# (a guess: docs/bedrock-behaviour.md#smoke-test), so both of the operation's client errors are retried.
RETRIED_MODEL_DELETE_ERRORS = ("ConflictException", "ValidationException")
MODEL_DELETE_ATTEMPTS = 10

Clients = Callable[[str], Any]
Runner = Callable[[list[str]], int]


class NoSmokeModel(Exception):
    """The environment cannot run the smoke test as configured; the message says what would."""


class SmokeFailed(Exception):
    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message


def on_demand_models() -> list[str]:
    """Models customizable today whose custom models are served on demand (the model catalog)."""
    on = today()
    return [m.model_id for m in catalog().models if ON_DEMAND in m.serving and m.lifecycle.state(on) == "ACTIVE"]


def training_price(config: EnvironmentConfig, model: str) -> float | None:
    from bft.prices import lookup

    return lookup(config.price_document(), "trainingPer1kTokensUsd", model, family_for(model).name)[0]


def model_unit_hour_price(config: EnvironmentConfig, model: str) -> float | None:
    """The no-commitment model-unit hour (the smoke test never commits)."""
    from bft.prices import lookup

    return lookup(config.price_document(), "modelUnitHourUsd", model, family_for(model).name)[0]


@dataclass(frozen=True)
class SmokeChoice:
    model: str
    serving: str  # ON_DEMAND or PT
    why: str = ""  # for PT: why nothing is served on demand, and what would be


def smoke_choice(config: EnvironmentConfig, team: str) -> SmokeChoice:
    """The cheapest model the team may use, customizable in the environment's region, served on demand (no
    hourly charge) when one is; else the cheapest served by provisioned throughput (billed by the hour)."""
    from bft.prices import ILLUSTRATIVE

    allowed = set(config.team(team).allowed_base_models or config.allowed_base_models)
    # Registry order: among equal prices the earlier (smaller) model wins, as min() keeps the first.
    here = [m for f in FAMILIES if config.region in f.regions for m in f.base_model_ids if m in allowed]
    if not here:  # config validation refuses this already; kept so the message is ours if it ever slips
        raise NoSmokeModel(f"team {team} of environment {config.name} may use no model customizable in {config.region}")
    on_demand = [model for model in here if ON_DEMAND in family_for(model).serving]
    if on_demand:
        # Unknown prices sort last.
        return SmokeChoice(
            min(on_demand, key=lambda m: (training_price(config, m) is None, training_price(config, m) or 0)),
            ON_DEMAND,
        )
    servable = on_demand_models()
    here_servable = [m for m in servable if config.region in family_for(m).regions]
    where = (
        f"region {config.region} offers no customizable model that is served on demand"
        if not here_servable
        else f"team {team} may use none of the models {config.region} serves on demand ({', '.join(here_servable)})"
    )
    offered = "; ".join(
        f"{region}: {', '.join(m for m in servable if region in family_for(m).regions)}"
        for region in sorted({region for m in servable for region in family_for(m).regions})
    )
    why = (
        f"{where}, so the custom model is served by provisioned throughput, billed by the hour "
        f"(served on demand, no hourly charge: {offered})"
    )

    # A model-unit hour costs far more than training 100 records, so the hourly price ranks first. Equal
    # configured prices (set per family) fall back to the shipped table, which tells the sizes apart.
    def rank(model: str) -> tuple[bool, float, bool, float, float]:
        hour, training = model_unit_hour_price(config, model), training_price(config, model)
        shipped = ILLUSTRATIVE.get(model)
        return (
            hour is None,
            hour or 0.0,
            training is None,
            training or 0.0,
            shipped.model_unit_hour if shipped else math.inf,
        )

    return SmokeChoice(min(here, key=rank), PT, why)


def smoke_model(config: EnvironmentConfig, team: str) -> str:
    """The model :func:`smoke_choice` picks."""
    return smoke_choice(config, team).model


@dataclass(frozen=True)
class ThroughputEstimate:
    """How long the smoke run's provisioned throughput lives and what that bills, before anything starts.

    It is bought once the job has produced the custom model, so the training hours are not billed by the
    hour: it lives while Bedrock creates it, while the evaluation runs, and until the smoke run sees the
    execution end and deletes it."""

    model_units: int
    per_hour_usd: float | None  # all the units, no commitment
    phases: tuple[tuple[str, float], ...]  # (what, seconds)

    @property
    def seconds(self) -> float:
        return sum(seconds for _, seconds in self.phases)

    @property
    def billed_hours(self) -> int:
        # Assumption (docs/bedrock-behaviour.md#pt-billing): every started hour is billed in full.
        return max(1, math.ceil(self.seconds / 3600))

    @property
    def usd(self) -> float | None:
        return None if self.per_hour_usd is None else round(self.per_hour_usd * self.billed_hours, 2)


def estimate_throughput(config: EnvironmentConfig, model: str, *, poll_seconds: float) -> ThroughputEstimate:
    from bft.capacity import CONCURRENT_REQUESTS_PER_MODEL_UNIT, MAX_ANSWER_TOKENS
    from bft.workflow.evaluation import seconds_per_call

    timing = config.workflow
    # The workflow first looks after throughput_first_poll_seconds, then every throughput_poll_seconds.
    late = max(0, PT_CREATION_SECONDS - timing.throughput_first_poll_seconds)
    creation = timing.throughput_first_poll_seconds + math.ceil(late / timing.throughput_poll_seconds) * (
        timing.throughput_poll_seconds
    )
    # Each record asks the custom and the base model, every answer as long as the limit lets it (errs slow),
    # as many at once as one model unit serves (docs/bedrock-behaviour.md#evaluation-capacity).
    calls = EVALUATION_RECORDS * 2
    evaluation = calls * seconds_per_call(MAX_ANSWER_TOKENS) / (PT_MODEL_UNITS * CONCURRENT_REQUESTS_PER_MODEL_UNIT)
    hour = model_unit_hour_price(config, model)
    return ThroughputEstimate(
        model_units=PT_MODEL_UNITS,
        per_hour_usd=None if hour is None else round(hour * PT_MODEL_UNITS, 2),
        phases=(("creation", float(creation)), ("evaluation", evaluation), ("teardown", poll_seconds)),
    )


@dataclass(frozen=True)
class SmokePlan:
    """What the smoke run will do and what it should cost, decided before anything is deployed or started."""

    environment: str
    region: str
    team: str
    model: str
    family: str
    request_id: str
    files: dict[str, Path]
    request: dict[str, Any]  # with the placeholder bucket; submit puts the deployed one in
    cost: dict[str, Any]  # bft.workflow.report.estimate_cost, the dry run's and the report's estimate
    serving: str = ON_DEMAND
    why: str = ""  # why provisioned throughput (SmokeChoice.why)
    throughput: ThroughputEstimate | None = None  # None when served on demand

    @property
    def served(self) -> str:
        if self.serving == ON_DEMAND:
            return "served on demand"
        return f"served by provisioned throughput ({PT_MODEL_UNITS} model unit, no commitment)"

    def cost_lines(self) -> list[str]:
        cost = self.cost
        usd = cost.get("trainingUsd")
        training = "unknown (no price configured)" if usd is None else _usd(usd)
        lines = [
            f"smoke test of environment {self.environment} ({self.region}), team {self.team}: {self.model} "
            f"({self.family}), {TRAINING_RECORDS} training records, {EPOCHS} epoch, {EVALUATION_RECORDS} evaluation "
            f"records, request {self.request_id}",
        ]
        if self.throughput is None:
            lines.append(
                f"cost estimate: training ~{cost['estimatedBilledTokens']:,} billed tokens = {training}; serving: "
                f"on-demand deployment, no hourly charge (the {EVALUATION_RECORDS} evaluation prompts to it and to "
                f"the base model are billed per token, not estimated); deployment and custom model deleted at the end"
            )
            return [*lines, f"  {cost['note']}"]
        pt = self.throughput
        phases = ", ".join(f"{name} {seconds / 60:.0f} min" for name, seconds in pt.phases)
        hourly = "unknown (no price configured)" if pt.per_hour_usd is None else f"${pt.per_hour_usd:.2f}/hour"
        serving = "unknown" if pt.usd is None else f"${pt.usd:.2f}"
        total = "unknown" if pt.usd is None or usd is None else f"${pt.usd + usd:.2f}"
        hours = f"{pt.billed_hours} hour" + ("s" if pt.billed_hours > 1 else "")
        return [
            *lines,
            f"serving: {self.why}",
            f"cost estimate: training ~{cost['estimatedBilledTokens']:,} billed tokens = {training}; serving: "
            f"provisioned throughput, {pt.model_units} model unit, no commitment, {hourly} for ~{pt.seconds / 60:.0f} "
            f"min once trained ({phases}), billed as {hours} (assumed: every started hour in full) = {serving}; "
            f"total ~{total}; throughput and custom model deleted at the end",
            f"  {cost['note']}",
            f'quota: the account needs {pt.model_units} model unit of the Bedrock quota "{QUOTA_NAME}", 0 on a new '
            f"account until AWS Support grants it (docs/bedrock-behaviour.md#no-commit-quota); bft smoke cannot "
            f"read it: without it the run fails at step wait (pt_quota_exceeded) and tears down what it created",
        ]


def _usd(amount: float) -> str:
    return f"${amount:.2f}" + (" (under one cent)" if amount == 0 else "")


PLACEHOLDER_BUCKET = "bucket-to-be-discovered"


def plan_smoke(
    config: EnvironmentConfig, team: str, *, workdir: Path, request_id: str, poll_seconds: float = 60.0
) -> SmokePlan:
    """Choose the model and its serving, write the data in its family's format, check the request against the
    environment's guardrails (RequestInvalid, BaseModelUnavailable, NoSmokeModel) and estimate the cost, all
    before any AWS call."""
    from bft.dataset import validate_paths
    from bft.sample_data import write_splits
    from bft.workflow.report import estimate_cost
    from bft.workflow.request import check_request

    choice = smoke_choice(config, team)
    model = choice.model
    family = family_for(model)
    # In the family's own format; 100 records meet every family's minimum (Llama's is 100, checked below).
    files = write_splits(
        workdir,
        training=TRAINING_RECORDS,
        validation=0,
        evaluation=EVALUATION_RECORDS,
        data_format=family.data_format,
    )
    files.pop("validation")  # optional for every family; a smoke run keeps the job as small as it can be
    prefix = f"s3://{PLACEHOLDER_BUCKET}/{team}/{request_id}"
    serving: dict[str, Any] = {"kind": choice.serving}
    if choice.serving == PT:
        serving |= {"modelUnits": PT_MODEL_UNITS, "commitment": "none"}
    request: dict[str, Any] = {
        "team": team,
        "requestId": request_id,
        "baseModelId": model,
        "trainingDataUri": f"{prefix}/train.jsonl",
        "hyperParameters": {"epochCount": str(EPOCHS)},
        "serving": serving,
        # The smoke test checks the pipeline, not the model: any score passes, the score is printed.
        "evaluation": {"dataUri": f"{prefix}/evaluation.jsonl", "threshold": 0.0, "compareBase": True},
        "approvalRequired": False,
        "jobTimeoutSeconds": min(JOB_TIMEOUT_SECONDS, config.workflow.job_timeout_seconds),
    }
    checked = check_request(
        request, config.policy_document(PLACEHOLDER_BUCKET), assigned_team=team, default_request_id=request_id
    )
    throughput = None
    if choice.serving == PT:
        throughput = estimate_throughput(config, model, poll_seconds=poll_seconds)
        _check_throughput_guardrails(config, team, checked["serving"], throughput)
    report = validate_paths(model, files["train"], evaluation=files["evaluation"], epochs=EPOCHS)
    if not report.valid:  # the committed generator writes valid data; this guards against its drift
        raise RequestInvalid(f"the generated sample data is invalid for {model}: {report.errors[:3]}")
    cost = estimate_cost(
        {"family": family.name, "baseModelId": model, "serving": checked["serving"]},
        {"statistics": report.to_dict()["statistics"]},
        config.price_document(),
    )
    return SmokePlan(
        environment=config.name,
        region=config.region,
        team=team,
        model=model,
        family=family.name,
        request_id=request_id,
        files=files,
        request=request,
        cost=cost,
        serving=choice.serving,
        why=choice.why,
        throughput=throughput,
    )


def _check_throughput_guardrails(
    config: EnvironmentConfig, team: str, serving: dict[str, Any], throughput: ThroughputEstimate
) -> None:
    """Refuse before any spending when the environment would not let the throughput live out the run."""
    if serving["commitment"] is not None or serving["modelUnits"] != PT_MODEL_UNITS:
        # check_request keeps what was asked; this guards the "never a commitment" promise against its drift.
        raise NoSmokeModel(f"the checked request would buy {serving}, not 1 model unit without commitment")
    ttl = serving.get("ttlHours")
    if ttl is not None and ttl * 3600 < throughput.seconds:
        # The reaper deletes a non-production throughput past its TTL: it would go during the evaluation.
        raise NoSmokeModel(
            f"team {team} of environment {config.name} keeps a provisioned throughput {ttl:g} h at most "
            f"(teams[].throughput_ttl_hours, else provisioned_throughput.default_ttl_hours), shorter than the "
            f"~{throughput.seconds / 60:.0f} min the smoke run's throughput needs: the reaper would delete it "
            f"before the evaluation ends. Raise it to at least {math.ceil(throughput.seconds / 3600)} h"
        )


def default_runner(argv: list[str]) -> int:
    """Run the CDK CLI from the checkout (its cdk.json, its node_modules), output on the terminal."""
    from bft.synth import ROOT

    local = ROOT / "node_modules" / ".bin" / argv[0]
    command = [str(local), *argv[1:]] if local.exists() else argv
    return subprocess.run(command, cwd=ROOT, check=False).returncode


@dataclass
class Smoke:
    """One smoke run: :meth:`run` goes through the steps and returns the exit code."""

    config: EnvironmentConfig
    plan: SmokePlan
    clients: Clients
    runner: Runner = default_runner
    say: Callable[[str], None] = print
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    poll_seconds: float = 60.0
    keep_stacks: bool = False
    config_dir: Path | None = None  # passed to cdk (-c config_dir=...); None: cdk follows BFT_CONFIG_DIR, else config/
    # What the run did, for the teardown and the summary.
    deployed_here: bool = False
    deployment: Deployment | None = None
    execution_arn: str | None = None
    status: str | None = None
    report: dict[str, Any] | None = None
    failures: list[SmokeFailed] = field(default_factory=list)

    # -- driver ------------------------------------------------------------------------------------------
    def run(self) -> int:
        for step, action in (
            ("deploy", self.deploy),
            ("submit", self.submit),
            ("wait", self.wait),
            ("evaluate", self.evaluate),
        ):
            if not self._step(step, action):
                break
        # Whatever failed, what this run created is torn down (or said to be left).
        self._step("teardown", self.teardown)
        for failure in self.failures:
            self.say(f"smoke FAILED at step {failure.step}: {failure.message}")
        if self.failures:
            return 1
        self.say(f"smoke PASSED: {self.plan.model} trained, {self.plan.served}, evaluated and deleted")
        return 0

    def _step(self, step: str, action: Callable[[], None]) -> bool:
        try:
            action()
        except SmokeFailed as exc:
            self.failures.append(exc)
            return False
        except KeyboardInterrupt:
            self.failures.append(SmokeFailed(step, "interrupted"))
            return False
        except Exception as exc:  # an AWS or local error: reported with its step, the exit code says failure
            self.failures.append(SmokeFailed(step, f"{type(exc).__name__}: {exc}"))
            return False
        return True

    def cdk(self, *args: str) -> list[str]:
        context = ["-c", f"env={self.config.name}"]
        if self.config_dir is not None:
            context += ["-c", f"config_dir={self.config_dir}"]
        return ["cdk", args[0], "--all", *context, *args[1:]]

    # -- steps -------------------------------------------------------------------------------------------
    def deploy(self) -> None:
        from bft.deployment import DeploymentError, NotDeployed, discover

        cloudformation, ssm = self.clients("cloudformation"), self.clients("ssm")
        try:
            try:
                self.deployment = discover(self.config, cloudformation=cloudformation, ssm=ssm)
                self.say(f"deploy: reusing the deployed stacks ({self.deployment.stack} in {self.config.region})")
            except NotDeployed as exc:
                argv = self.cdk("deploy", "--require-approval", "never")
                self.say(f"deploy: {exc}; running `{' '.join(argv)}`")
                code = self.runner(argv)
                if code != 0:
                    raise SmokeFailed("deploy", f"`{' '.join(argv)}` exited {code}") from exc
                self.deployed_here = True
                self.deployment = discover(self.config, cloudformation=cloudformation, ssm=ssm)
                self.say(f"deploy: deployed {self.deployment.stack}")
            self.deployment.team(self.plan.team)
        except DeploymentError as exc:
            raise SmokeFailed("deploy", str(exc)) from exc

    def submit(self) -> None:
        deployment = self._deployed()
        bucket = deployment.datasets_bucket
        request = json.loads(json.dumps(self.plan.request).replace(PLACEHOLDER_BUCKET, bucket))
        s3 = self.clients("s3")
        for name, path in self.plan.files.items():
            s3.upload_file(str(path), bucket, f"{self.plan.team}/{self.plan.request_id}/{path.name}")
            self.say(
                f"submit: uploaded {name} data ({path.name}) to s3://{bucket}/{self.plan.team}/{self.plan.request_id}/"
            )
        started = self.clients("stepfunctions").start_execution(
            stateMachineArn=deployment.team(self.plan.team).state_machine_arn,
            name=self.plan.request_id,
            input=json.dumps(request),
        )
        self.execution_arn = str(started["executionArn"])
        self.say(f"submit: started {self.execution_arn}")

    def wait(self) -> None:
        arn = self._execution()
        sfn = self.clients("stepfunctions")
        # The execution's own timeout ends it (its Catch cleans up), so waiting that long always ends.
        deadline = self.clock() + self.config.workflow.execution_timeout_seconds + 600
        started, said = self.clock(), -1
        while True:
            self.status = str(sfn.describe_execution(executionArn=arn)["status"])
            if self.status != "RUNNING":
                break
            # The state it is in is in the execution's history, which the team's role may not read (it carries
            # task tokens: docs/security.md): say how long it has run, every ten minutes.
            minutes = int((self.clock() - started) / 60)
            if minutes // 10 != said:
                said = minutes // 10
                self.say(f"wait: running ({minutes} min)")
            if self.clock() > deadline:
                raise SmokeFailed("wait", f"{arn} still RUNNING past the environment's execution timeout")
            self.sleep(self.poll_seconds)
        self.report = self._read_report("run.json")
        outcome = (self.report or {}).get("outcome")
        self.say(f"wait: execution {self.status}, outcome {outcome}")
        if self.status != "SUCCEEDED":
            error = (self.report or {}).get("error") or {}
            # The run's own advice (e.g. pt_quota_exceeded: ask AWS Support for no-commitment model units).
            runbook = (self.report or {}).get("runbook")
            raise SmokeFailed(
                "wait",
                f"execution {self.status}, outcome {outcome}: {error.get('Error', '')}: "
                f"{str(error.get('Cause', ''))[:500]}" + (f" -- {runbook}" if runbook else ""),
            )

    def evaluate(self) -> None:
        report = self.report or {}
        serving = report.get("serving") or {}
        evaluation = report.get("evaluation") or {}
        if report.get("outcome") != "deployed":
            raise SmokeFailed("evaluate", f"the run ended {report.get('outcome')!r}, not 'deployed'")
        if serving.get("kind") != self.plan.serving or not serving.get("arn"):
            raise SmokeFailed("evaluate", f"the custom model is not {self.plan.served}: serving {serving}")
        scores = evaluation.get("scores") or {}
        if not evaluation.get("records") or "custom" not in scores:
            raise SmokeFailed("evaluate", f"the run was not evaluated: {evaluation or 'no evaluation in its report'}")
        hourly = [
            item.get("hourlyCostUsd") for item in report.get("leftRunning") or [] if item.get("arn") == serving["arn"]
        ]
        self.say(
            f"evaluate: {evaluation['records']} records, custom model {scores['custom']:.3f}"
            + (f", base model {scores['base']:.3f}" if "base" in scores else "")
            + f" ({evaluation.get('scorer')}); served by {serving['arn']}, hourly charge {hourly[0] if hourly else 0}"
        )

    def teardown(self) -> None:
        from botocore.exceptions import ClientError

        from bft.aws_errors import error_code
        from bft.teardown import teardown_run

        if self.execution_arn is not None and self.status in (None, "RUNNING"):
            # The team's role cannot stop an execution, on purpose: a stopped execution skips its Cleanup.
            raise SmokeFailed(
                "teardown",
                f"{self.execution_arn} is still running; it cleans up after itself when it fails or times out. "
                f"Once it has ended: bft teardown --env {self.config.name} --team {self.plan.team} --request-id "
                f"{self.plan.request_id} --delete-model",
            )
        if self.execution_arn is not None:
            report = self.report or {}
            bedrock = self.clients("bedrock")
            common: dict[str, Any] = {
                "environment": self.config.name,
                "team": self.plan.team,
                "request_id": self.plan.request_id,
                "say": lambda line: self.say(f"teardown: {line}"),
            }
            teardown_run(bedrock, report=report, delete_model=False, **common)
            # Deleting a deployment leaves the custom model, and finishes asynchronously (status Deleting):
            # docs/bedrock-behaviour.md#smoke-test. The model's delete is retried while the deployment goes.
            without_serving = {**report, "serving": None}
            for attempt in range(1, MODEL_DELETE_ATTEMPTS + 1):
                try:
                    # A run that failed before training has no model: nothing to delete, not an error.
                    teardown_run(bedrock, report=without_serving, delete_model=True, model_required=False, **common)
                    break
                except ClientError as exc:
                    if error_code(exc) not in RETRIED_MODEL_DELETE_ERRORS or attempt == MODEL_DELETE_ATTEMPTS:
                        raise
                    self.say(f"teardown: custom model not deletable yet ({error_code(exc)}); retrying")
                    self.sleep(self.poll_seconds)
            serving_arn = (report.get("serving") or {}).get("arn")
            left = [item for item in report.get("leftRunning") or [] if item.get("arn") != serving_arn]
            if left:
                raise SmokeFailed("teardown", f"the run reports still running: {left}")
        if self.deployed_here and not self.keep_stacks:
            argv = self.cdk("destroy", "--force")
            self.say(f"teardown: the stacks were deployed by this run; running `{' '.join(argv)}`")
            code = self.runner(argv)
            if code != 0:
                raise SmokeFailed("teardown", f"`{' '.join(argv)}` exited {code}: delete the stacks in CloudFormation")
        self.say("teardown: nothing this smoke run created is left billing")

    # -- helpers -----------------------------------------------------------------------------------------
    def _deployed(self) -> Deployment:
        assert self.deployment is not None, "submit runs after deploy"
        return self.deployment

    def _execution(self) -> str:
        assert self.execution_arn is not None, "wait runs after submit"
        return self.execution_arn

    def _read_report(self, name: str) -> dict[str, Any] | None:
        from bft.workflow.s3io import find_json, report_key

        key = report_key(self.plan.team, self.plan.request_id, name)
        found: dict[str, Any] | None = find_json(self.clients("s3"), self._deployed().reports_bucket, key)
        return found


def new_request_id(now: float | None = None) -> str:
    return f"smoke-{int(now if now is not None else time.time())}"


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="bft-smoke-"))
