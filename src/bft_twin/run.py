"""`bft local-run`: one scenario of the real, synthesized workflow, executed on this machine.

What runs is a ``local`` environment as ``cdk synth`` writes it: its resources in moto, its Lambda
handlers in process (:mod:`bft_twin.offline`), Bedrock simulated by :mod:`bft_twin.bedrock_fake`
behind real boto3 clients. There is one offline world per region where customization runs: ``local``
(us-west-2: Llama, Claude 3 Haiku) and ``local-us-east-1`` (Amazon Nova); :func:`choose` picks the one
whose region offers the model, the environment's own configuration unchanged.

Each scenario arranges the fake (a failed job, a lost event, a quota refusal,
a reviewer who rejects) and reports how the execution ended and what it left behind.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bft import sample_data
from bft.synth import ROOT, cached_synth

if TYPE_CHECKING:
    from bft.config import EnvironmentConfig
    from bft.deployment import TeamRefs
    from bft_twin.bedrock_fake import FakeBedrock
    from bft_twin.offline import OfflineAssembly

# boto3, moto and the fake load when a scenario runs, not when the scenario table is read (`bft --help`).


def _aws() -> Any:
    from bft import aws

    return aws


ENV = "local"
ACCOUNT = "123456789012"
REGION = "us-west-2"
TEAM = "moderation"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
LLAMA_31_8B = "meta.llama3-1-8b-instruct-v1:0:128k"
LLAMA_33_70B = "meta.llama3-3-70b-instruct-v1:0:128k"
LLAMA_32_1B = "meta.llama3-2-1b-instruct-v1:0:128k"  # past its published end of life (2026-07-07)
# What a scenario trains unless told otherwise: a model a team can fine-tune today, served on demand
# (no hourly charge). Not Claude 3 Haiku: its published end of life (2026-09-10) has passed.
DEFAULT_MODEL = NOVA_MICRO
# Hyperparameters per family for the sample run (each within its family's table, bft.families).
HYPERPARAMETERS: dict[str, dict[str, str]] = {
    "claude-3-haiku": {"epochCount": "2", "batchSize": "8", "learningRateMultiplier": "1.0"},
    "nova": {"epochCount": "2", "learningRate": "0.00001"},
    "nova-2": {"epochCount": "2", "learningRate": "0.00001"},
    "llama-3.1": {"epochCount": "2", "learningRate": "0.0001"},
    "llama-3.2": {"epochCount": "2", "learningRate": "0.0001"},
    "llama-3.3": {"epochCount": "2", "learningRate": "0.0001"},
    "titan-text": {"epochCount": "2", "batchSize": "1"},
    "titan-text-premier": {"epochCount": "2"},
}
CACHE = ROOT / "cdk.out" / ".local-run"
# Every environment (local included: dev's timings, docs/local-environment.md) runs with its configuration
# unchanged on ONE virtual clock (bft_twin.offline._clock): the state machine's waits, retries and
# timeouts, the Lambda timeouts, the rate schedules and Bedrock, all at this factor. One real second is one
# simulated hour: a two-hour job takes two seconds, a 5 s retry interval 1.4 ms.
TIME_FACTOR = 3600.0


@dataclass(frozen=True)
class Target:
    """Which environment a scenario runs and what differs per environment (from its configuration)."""

    environment: str
    account: str
    region: str
    team: str
    time_factor: float  # virtual seconds per real second for the whole world


class NoOfflineWorld(ValueError):
    """No offline environment offers the model (or the named environment's region does not)."""


def is_local(environment: str) -> bool:
    """The offline worlds: ``local`` and the environments that extend it in another region (local-<region>)."""
    return environment == ENV or environment.startswith(f"{ENV}-")


def offers(environment: str, model: str) -> str | None:
    """None when a run of ``model`` belongs in ``environment``; else why not (its region, its allowed models).

    A model of the environment's region that is past its end of life or Legacy belongs there too, although no
    config may allow it: the run shows what AWS answers a team that asks for it (refused before any spending).
    """
    from bft.catalog import catalog, today
    from bft.config import load_config

    config = load_config(environment)
    entry = catalog().model(model)
    if entry is None:
        return catalog().refusal(model, config.region, today())
    if config.region not in entry.regions:
        where = ", ".join(entry.regions)
        return f"{model} is customizable only in {where}; environment {environment} is in {config.region}"
    if model not in config.allowed_base_models and entry.lifecycle.state(today()) == "ACTIVE":
        return f"{model} is not in environment {environment}'s allowed_base_models"
    return None


def choose(name: str, model: str | None = None, environment: str | None = None) -> tuple[str, str]:
    """(model, environment) for one run of scenario ``name``: the environment whose region offers the model.

    With an environment and no model, its first allowed model; with a model and no environment, the offline
    world (``local``, ``local-<region>``) whose region and allowed models include it; with neither, the
    scenario's own model or :data:`DEFAULT_MODEL`. Raises NoOfflineWorld, saying why, when none fits.
    """
    from bft.config import known_environments, load_config

    model = model or (SCENARIOS[name].model if name in SCENARIOS else None)
    on_demand = name in SCENARIOS and SCENARIOS[name].on_demand
    if on_demand and model is not None:
        from bft.families import serving_kinds

        kinds = serving_kinds(model)
        if "on-demand-deployment" not in kinds:
            raise NoOfflineWorld(
                f"scenario {name} needs a model served on demand (a team endpoint is an on-demand custom model "
                f"deployment); {model} is served by {' or '.join(kinds)}"
            )
    if environment is not None:
        if model is None and on_demand:
            model = served_on_demand(environment)
            if model is None:
                raise NoOfflineWorld(
                    f"environment {environment} allows no model served on demand, which scenario {name} needs "
                    f"(a team endpoint is an on-demand custom model deployment): run it without --env"
                )
        if model is None:
            # The first model the team that runs may use: its own list, else the environment's.
            config = load_config(environment)
            team = config.team(run_team(config))
            model = (team.allowed_base_models or config.allowed_base_models)[0]
        why = offers(environment, model)
        if why:
            raise NoOfflineWorld(f"environment {environment} cannot run {model}: {why}")
        return model, environment
    model = model or DEFAULT_MODEL
    worlds = [env for env in known_environments() if is_local(env)]
    reasons = {env: offers(env, model) for env in worlds}
    for env in sorted(worlds, key=lambda env: env != ENV):
        if reasons[env] is None:
            return model, env
    raise NoOfflineWorld(
        f"no offline environment offers {model}: " + "; ".join(f"{env}: {why}" for env, why in reasons.items())
    )


def served_on_demand(environment: str) -> str | None:
    """The environment's first allowed model whose custom models are served on demand (None: none is)."""
    from bft.config import load_config
    from bft.families import serving_kinds

    models = load_config(environment).allowed_base_models
    return next((m for m in models if "on-demand-deployment" in serving_kinds(m)), None)


def environment_of(assembly: Path) -> str | None:
    """Which environment a synthesized assembly deploys (by its stack names), None when none matches."""
    from bft.config import known_environments, load_config, resource_prefix

    manifest = json.loads((assembly / "manifest.json").read_text())
    stacks = set(manifest.get("artifacts", {}))
    for env in known_environments():
        if f"{resource_prefix(load_config(env))}Pipeline" in stacks:
            return env
    return None


def run_team(config: EnvironmentConfig) -> str:
    """The team a scenario runs as: moderation where it is onboarded, else the environment's first team."""
    return TEAM if any(t.name == TEAM for t in config.teams) else config.teams[0].name


def target_for(environment: str = ENV) -> Target:
    from bft.config import load_config

    config = load_config(environment)
    team = run_team(config)
    # An env-agnostic configuration (no `account`) deploys where its people are: the one account its
    # submitters and reviewers name (dev's 111111111111). A person in another account would need an
    # identity policy of their own account to assume the team's role, which the offline world cannot know.
    people = [arn for t in config.teams for arn in (*t.submitters, *config.team_reviewers(t))]
    accounts = {arn.split(":")[4] for arn in people}
    return Target(
        environment=environment,
        account=config.account or (accounts.pop() if len(accounts) == 1 else ACCOUNT),
        region=config.region,
        team=team,
        time_factor=TIME_FACTOR,
    )


Event = dict[str, Any]


@dataclass
class World:
    """What a scenario may arrange before the execution starts."""

    fake: FakeBedrock
    request: dict[str, Any]
    env: OfflineAssembly | None = None
    environment: str = ENV
    executions: int = 1
    reviewer: Callable[[OfflineAssembly, dict[str, Any]], None] | None = None
    # EventBridge between Bedrock and the rules: each emitted event -> the events delivered (in that order).
    route: Callable[[Event], list[Event]] = lambda event: [event]
    # Puts one event on the bus now, past ``route`` (an event held back and delivered later).
    deliver: Callable[[Event], None] | None = None
    # Runs of the same team one after another (each a new request id, each reviewed when a reviewer is set);
    # each hook is called before run i (0-based) starts, e.g. to plan how Bedrock answers it.
    runs: int = 1
    before_run: list[Callable[[World, int], None]] = field(default_factory=list)
    # What the team member does once the runs ended (e.g. `bft rollback`): each returns what the summary reports.
    afterwards: list[Callable[[Afterwards], dict[str, Any]]] = field(default_factory=list)

    def promote_into(self, endpoint: str, *, runs: int = 2) -> None:
        """``runs`` approved runs of the team, each promoting into the team's endpoint ``endpoint``."""
        self.request["serving"]["endpoint"] = endpoint
        self.runs = runs
        self.with_reviewer(_approve)

    def with_reviewer(self, decide: Callable[[OfflineAssembly, dict[str, Any]], None]) -> None:
        self.request["approvalRequired"] = True
        self.reviewer = decide

    def submit_times(self, count: int) -> None:
        self.executions = count

    def never_ending_job(self, *, timeout_seconds: int) -> None:
        self.fake.plan_jobs("Never")
        self.request["jobTimeoutSeconds"] = timeout_seconds

    def deliver_twice(self, status: str) -> None:
        """EventBridge is at least once: the job's ``status`` event reaches the rules twice."""
        self.route = lambda event: [event, event] if _job_status(event) == status else [event]

    def deliver_late(self, stale: str, after: str) -> None:
        """EventBridge does not order: the job's ``stale`` event is held back and arrives after its ``after``."""
        held: list[Event] = []

        def route(event: Event) -> list[Event]:
            if _job_status(event) == stale:
                held.append(event)
                return []
            if _job_status(event) == after:
                late = [event, *held]
                held.clear()
                return late
            return [event]

        self.route = route

    def slow_throughput(self, *, polls: int = 2) -> None:
        """The throughput is InService only after the first check and ``polls`` more intervals (minus a
        little): the state machine's poll loop runs, within the environment's ``throughput_max_polls``."""
        from bft.config import load_config

        timing = load_config(self.environment).workflow
        if polls >= timing.throughput_max_polls:
            raise ValueError(f"{polls} polls would exceed throughput_max_polls={timing.throughput_max_polls}")
        seconds = timing.throughput_first_poll_seconds + (polls - 0.5) * timing.throughput_poll_seconds
        self.fake.plan_throughput("InService", duration_s=seconds)

    def step(self, function: str, wrapper: Callable[[Any], Any]) -> None:
        """Run the workflow function ``function`` (e.g. "Evaluate") through ``wrapper(handler)``."""
        assert self.env is not None
        self.env.wrap_handler(f"Workflow/Functions/{function}", wrapper)

    def slow_step(self, function: str, *, past_timeout_seconds: float = 1.0) -> None:
        """The function's first invocation runs ``past_timeout_seconds`` past its Lambda timeout (virtual
        time jumps while it computes); the runtime reports ``Sandbox.Timedout``, as Lambda would."""
        env = self.env
        assert env is not None
        timeout = env.function_timeout(f"Workflow/Functions/{function}")
        calls: list[int] = []

        def wrapper(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
            def slow(event: Any, context: Any) -> Any:
                result = handler(event, context)
                calls.append(1)
                if len(calls) == 1:
                    env.clock.advance(timeout + past_timeout_seconds)
                return result

            return slow

        self.step(function, wrapper)

    def crash_after(self, *functions: str) -> None:
        """The function's first invocation does its work (Bedrock accepted the create call), then its
        result is lost: Lambda reports ``Lambda.ServiceException`` and the state machine's Retry runs the
        step again, which must adopt what the first attempt created instead of creating a second one."""
        for function in functions:
            self.step(function, _crash_once(function))


@dataclass
class Afterwards:
    """What a scenario's follow-up (`World.afterwards`) may use once the runs ended: the world, the team member's
    session (the submitter role), the environment and team."""

    env: OfflineAssembly
    fake: FakeBedrock
    submitter: Any
    environment: str
    team: str
    request: dict[str, Any]


def bft_as_team_member(after: Afterwards, *argv: str) -> dict[str, Any]:
    """`bft ARGV...` with the team member's credentials (the submitter role's session): exit code and output."""
    import contextlib
    import io

    from bft import aws
    from bft.cli import main

    out, err = io.StringIO(), io.StringIO()
    with aws.scoped({}, after.submitter), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return {"command": ["bft", *argv], "exit_code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def rollback_endpoint(after: Afterwards) -> dict[str, Any]:
    """`bft rollback` of the team's endpoint, as the team member, waiting until it serves the previous model; the
    model the endpoint serves then, as Bedrock reports it."""
    endpoint = after.request["serving"]["endpoint"]
    done = bft_as_team_member(
        after,
        "rollback",
        "--env",
        after.environment,
        "--team",
        after.team,
        "--endpoint",
        endpoint,
        "--poll-seconds",
        "0.05",
        "--wait-seconds",
        "60",
    )
    return {"rollback": done, "endpoint": endpoint_state(after.fake, after.environment, after.team, endpoint)}


def endpoint_state(fake: FakeBedrock, environment: str, team: str, endpoint: str) -> dict[str, Any] | None:
    """The team endpoint's ARN, the model it serves and its recorded previous model (None: there is none)."""
    from bft.names import endpoint_deployment_name

    name = endpoint_deployment_name(environment, team, endpoint)
    found = next((d for d in fake.custom_model_deployments() if d["modelDeploymentName"] == name), None)
    if found is None:
        return None
    arn = found["customModelDeploymentArn"]
    return {
        "name": endpoint,
        "arn": arn,
        "serves": found["modelArn"],
        "update": found.get("updateDetails"),
        "previous_model": fake.resource_tags(arn).get("previous-model"),
    }


def _crash_once(function: str) -> Callable[[Any], Any]:
    calls: list[int] = []

    def wrapper(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def crashing(event: Any, context: Any) -> Any:
            result = handler(event, context)
            calls.append(1)
            if len(calls) == 1:
                raise _LAMBDA_SERVICE_EXCEPTION(f"{function}: the invocation's result was lost (simulated)")
            return result

        return crashing

    return wrapper


def _with_simulation(simulation: dict[str, Any]) -> Callable[[Any], Any]:
    """Finalize's event gains ``simulation``: only the offline twin adds it, so only its report says simulated."""

    def wrapper(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def finalize(event: Any, context: Any) -> Any:
            return handler({**event, "simulation": simulation}, context)

        return finalize

    return wrapper


class _EvaluationTiming:
    """How long the evaluation took in virtual seconds, from its plan to its score, and its longest chunk
    against the function's Timeout: what `large-evaluation` and the evaluation benchmark report."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self.started: float | None = None
        self.ended: float | None = None
        self.longest_chunk = 0.0
        self.chunk_invocations = 0

    def wrap(self, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def timed(event: Any, context: Any) -> Any:
            began = self.clock.elapsed()
            try:
                return handler(event, context)
            finally:
                now = self.clock.elapsed()
                phase = event.get("phase") if isinstance(event, dict) else None
                with self._lock:
                    if phase == "plan" and self.started is None:
                        self.started = began
                    elif phase == "chunk":
                        self.longest_chunk = max(self.longest_chunk, now - began)
                        self.chunk_invocations += 1
                    elif phase == "score":
                        self.ended = now

        return timed

    def summary(self, document: dict[str, Any] | None, *, timeout_seconds: float, fake: Any) -> dict[str, Any] | None:
        if self.started is None:
            return None
        models = (document or {}).get("models") or {}
        return {
            "records": (document or {}).get("records"),
            "chunks": (document or {}).get("chunks"),
            "concurrency": (document or {}).get("concurrency"),
            "chunk_invocations": self.chunk_invocations,
            "simulated_seconds": None if self.ended is None else round(self.ended - self.started, 1),
            "longest_chunk_simulated_seconds": round(self.longest_chunk, 1),
            "function_timeout_seconds": timeout_seconds,
            "throttled_requests": fake.counters.throttled,
            # Every answered call one after another: what a single sequential Lambda would have taken.
            "sequential_simulated_seconds": round(fake.counters.latency_ms / 1000, 1),
            "peak_concurrent_requests": {name: fake.peak_in_flight.get(arn, 0) for name, arn in models.items()},
        }


def download_report(s3: Any, bucket: str, keys: list[str], out_dir: Path) -> dict[str, Path]:
    """Each report object into ``out_dir`` by its file name; a loss chart of an earlier run there is removed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for key in keys:
        name = key.rsplit("/", 1)[-1]
        s3.download_file(bucket, key, str(out_dir / name))
        written[name] = out_dir / name
    if "loss.svg" not in written:
        (out_dir / "loss.svg").unlink(missing_ok=True)  # it would contradict this report
    return written


# The runtime names an error after its exception's class: this class is named as Lambda's own error.
_LAMBDA_SERVICE_EXCEPTION = type("Lambda.ServiceException", (Exception,), {})


def _job_status(event: Event) -> str | None:
    detail = event.get("detail") or {}
    return detail.get("jobStatus") if event.get("detail-type") == "Model Customization Job State Change" else None


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    outcome: str
    arrange: Callable[[World], None] = lambda world: None
    catalog_overrides: dict[str, Any] = field(default_factory=dict)
    fake_options: dict[str, Any] = field(default_factory=dict)
    job_hours: float = 2.0
    # The base model this scenario is about (None: the run's, see choose()).
    model: str | None = None
    # The scenario arranges the provisioned throughput: the request serves by one whatever the model.
    throughput: bool = False
    # Evaluation records in the sample (and scored): None for the sample's 80.
    evaluation_records: int | None = None
    # Model units of the throughput the request asks for (within the environment's max_model_units).
    model_units: int = 1
    # The scenario needs a model served on demand (a team endpoint is an on-demand deployment): the environment's
    # first allowed one (bft.families.serving_kinds), or the offline world that has one.
    on_demand: bool = False


def _promotion(world: World) -> None:
    world.promote_into("live")
    world.afterwards.append(rollback_endpoint)


def _promotion_update_failed(world: World) -> None:
    world.promote_into("live")

    def second_update_fails(world: World, index: int) -> None:
        if index == 1:
            world.fake.plan_deployment_updates("UpdateFailed")

    world.before_run.append(second_update_fails)


def _reject(env: OfflineAssembly, run: dict[str, Any]) -> None:
    _decide(env, run, approve=False, reason="loss curve looks overfitted")


def _approve(env: OfflineAssembly, run: dict[str, Any]) -> None:
    _decide(env, run, approve=True, reason="metrics look good")


def _decide(env: OfflineAssembly, run: dict[str, Any], *, approve: bool, reason: str) -> None:
    """What `bft approve` / `bft reject` do, as a reviewer of the team: a SigV4-signed POST to the approval
    function's URL, which checks the reviewer's identity (IAM: lambda:InvokeFunctionUrl; the function: a
    reviewer of the team and not its submitter) before it resumes the run."""
    from botocore.credentials import Credentials as BotoCredentials

    from bft.cli.signed_http import post_json
    from bft.config import load_config

    team = run.get("team", TEAM)
    config = load_config(run.get("environment", ENV))
    reviewers = config.team_reviewers(config.team(team))
    if not reviewers:
        raise RuntimeError(f"environment {config.name!r} has no reviewer for team {team!r}: run a scenario without one")
    reviewer = reviewers[0]
    # The platform team attaches the stack's reviewer policy to each reviewer role (README, onboarding).
    env.store.attach_to_external(reviewer, str(env.stack_output_by_key("ReviewerPolicyArn")))
    issued = env.authorizer.credentials(reviewer, "local-reviewer")
    status, answer = post_json(
        str(env.stack_output_by_key("ApprovalFunctionUrl")),
        {"team": team, "requestId": run["requestId"], "approve": approve, "reason": reason},
        credentials=BotoCredentials(issued.access_key, issued.secret_key, issued.token),
        region=env.region,
        transport=env.function_url_transport(),
    )
    if status != 200:
        raise RuntimeError(f"the approval function refused the reviewer (HTTP {status}): {answer}")


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "success",
            "train, approve, serve, evaluate: a deployed custom model",
            "deployed",
            lambda w: w.with_reviewer(_approve),
        ),
        Scenario("success-no-approval", "train, serve, evaluate without a reviewer (the benchmark's run)", "deployed"),
        Scenario(
            "invalid-dataset",
            "a training file with a broken record: stopped before any job",
            "dataset_invalid",
            lambda w: w.request.update(trainingDataUri=w.request["trainingDataUri"].replace("train", "broken")),
        ),
        Scenario(
            "job-failed",
            "Bedrock fails the job in training",
            "job_failed",
            lambda w: w.fake.plan_jobs("Failed", failure_message="Training data exceeds the token limit on line 17"),
        ),
        Scenario(
            "job-stopped", "the job is stopped from outside", "job_stopped", lambda w: w.fake.plan_jobs("Stopped")
        ),
        Scenario(
            "event-lost",
            "the job's state-change event never arrives; the reconciler finishes the wait",
            "deployed",
            lambda w: w.fake.drop_events(True),
        ),
        Scenario(
            "throttled",
            "Bedrock throttles job starts past the client's own retries; the state machine's backoff succeeds",
            "deployed",
            # Injected at the HTTP layer: each call's client retries absorb some, 8 reach the state machine's Retry.
            lambda w: w.fake.inject("CreateModelCustomizationJob", "ThrottlingException", times=8),
        ),
        Scenario(
            "quota-exceeded",
            "no no-commitment model units are left for the throughput",
            "pt_quota_exceeded",
            # The account's no-commitment model units: zero until AWS Support raises them (the default).
            fake_options={"no_commit_model_units": 0},
            throughput=True,
        ),
        Scenario(
            "pt-failed",
            "the provisioned throughput ends Failed",
            "pt_failed",
            lambda w: w.fake.plan_throughput("Failed"),
            throughput=True,
        ),
        Scenario(
            "approval-rejected",
            "a reviewer rejects the model before serving",
            "rejected",
            lambda w: w.with_reviewer(_reject),
        ),
        Scenario(
            "eval-below-threshold",
            "trained on the sample with its labels shuffled: the custom model learns noise, scores under the base "
            "model and the 95 % threshold",
            "eval_below_threshold",
            lambda w: w.request.update(trainingDataUri=w.request["trainingDataUri"].replace("train", "shuffled")),
        ),
        Scenario(
            "duplicate-submit",
            "the same request submitted twice: one job, one serving resource",
            "deployed",
            lambda w: w.submit_times(2),
        ),
        Scenario(
            "model-end-of-life",
            "Llama 3.2 1B with its published lifecycle (end of life 2026-07-07): refused before any spending, "
            "naming the models that replace it",
            "model_unavailable",
            model=LLAMA_32_1B,
        ),
        Scenario(
            "on-demand-llama",
            "Llama 3.3 70B in us-west-2, its custom model served on demand (a custom model deployment, no hourly "
            "charge)",
            "deployed",
            lambda w: w.with_reviewer(_approve),
            model=LLAMA_33_70B,
        ),
        Scenario(
            "nova-2-lite",
            "Amazon Nova 2 Lite in us-east-1: trained, approved and served on demand",
            "deployed",
            lambda w: w.with_reviewer(_approve),
            model=NOVA_2_LITE,
        ),
        Scenario(
            "job-timeout",
            "the job never ends; the run times out and stops it",
            "timed_out",
            lambda w: w.never_ending_job(timeout_seconds=4),
        ),
        Scenario(
            "duplicate-event",
            "EventBridge delivers the job's Completed event twice; the second resumes nothing",
            "deployed",
            lambda w: w.deliver_twice("Completed"),
        ),
        Scenario(
            "out-of-order-event",
            "the job's InProgress event arrives after its Completed event; the stale one is ignored",
            "deployed",
            lambda w: w.deliver_late("InProgress", after="Completed"),
        ),
        Scenario(
            "slow-throughput",
            "the throughput is not ready at the first check: the state machine polls until it is",
            "deployed",
            lambda w: w.slow_throughput(polls=2),
            throughput=True,
        ),
        Scenario(
            "lambda-timeout",
            "the evaluation runs past its Lambda timeout (Sandbox.Timedout); the run cleans up and says so",
            "step_timed_out",
            lambda w: w.slow_step("Evaluate"),
        ),
        Scenario(
            "large-evaluation",
            "2,000 evaluation records on one model unit: the evaluation fans out over chunks, as many at once as "
            "the throughput serves, each well inside its Lambda timeout",
            "deployed",
            lambda w: w.with_reviewer(_approve),
            throughput=True,
            evaluation_records=2000,
        ),
        Scenario(
            "evaluation-throttled",
            "the throughput serves one request at a time, half what the plan assumed: chunks are throttled, "
            "retried with backoff, and every record is scored once",
            "deployed",
            lambda w: w.with_reviewer(_approve),
            throughput=True,
            evaluation_records=400,
            fake_options={"requests_per_model_unit": 1},
        ),
        Scenario(
            "crash-after-create",
            "StartJob and CreateServing lose their result after Bedrock accepted the create; the retries adopt "
            "the job and the throughput",
            "deployed",
            lambda w: w.crash_after("StartJob", "CreateServing"),
            throughput=True,
        ),
        Scenario(
            "model-legacy",
            "Llama 3.1 8B simulated Legacy in this account, end of life 90 days ahead: ValidateRequest reads the "
            "lifecycle from Bedrock and refuses before any spending, naming the ACTIVE models allowed instead",
            "model_unavailable",
            catalog_overrides={"legacy": LLAMA_31_8B, "end_of_life_days": 90},
            model=LLAMA_31_8B,
        ),
        Scenario(
            "promotion",
            "two approved runs of one team promote into its endpoint: one deployment ARN serves the second model, "
            "then `bft rollback` points it back at the first",
            "deployed",
            _promotion,
            on_demand=True,
        ),
        Scenario(
            "promotion-update-failed",
            "the team's second approved run is evaluated, then Bedrock ends the endpoint's update UpdateFailed: the "
            "run says so and the endpoint still serves the first model",
            "promotion_failed",
            _promotion_update_failed,
            on_demand=True,
        ),
    )
}


def run_scenario(
    name: str,
    *,
    job_hours: float | None = None,
    progress: Callable[[str], None] | None = None,
    workdir: Path | None = None,
    assembly: Path | None = None,
    on_bedrock: Callable[[FakeBedrock], None] | None = None,
    on_finish: Callable[[OfflineAssembly], None] | None = None,
    training: Path | None = None,
    validation: Path | None = None,
    evaluation: Path | None = None,
    threshold: float | None = None,
    environment: str | None = None,
    model: str | None = None,
    scenario: Scenario | None = None,
    report_dir: Path | None = None,
) -> dict[str, Any]:
    """Run one scenario end to end and return the summary `bft local-run --json` prints.

    ``report_dir``: where to download the report Finalize wrote (report.html, report.md, loss.svg, run.json).

    ``training`` (with the optional ``validation`` and ``evaluation``) runs on the user's own files instead of
    the sample: the team member uploads them as the sample files are; without ``validation`` the job has no
    validation data, without ``evaluation`` the run is not evaluated. ``threshold`` sets the evaluation's.

    ``on_bedrock`` receives the simulated Bedrock before the execution starts (live job progress);
    ``on_finish`` the offline world after the run, before it is torn down (its policy store and every
    authorization decision: the least-privilege measurement). ``model`` is the base model to fine-tune and
    ``environment`` whose assembly and configuration run; :func:`choose` fills in what is not given (an offline
    world whose region offers the model; every environment runs on the virtual clock, see :class:`Target`).
    ``scenario`` runs that scenario instead of ``SCENARIOS[name]`` (a chaos run's, :mod:`bft_twin.chaos`).
    """
    from bft.families import family_for
    from bft_twin.bedrock_fake import FakeBedrock
    from bft_twin.catalog import Lifecycle, catalog, simulated_legacy
    from bft_twin.offline import OfflineAssembly

    scenario = scenario or SCENARIOS[name]
    if environment is None and assembly is not None:
        environment = environment_of(assembly)  # the assembly deploys one environment: run that one
    model, environment = choose(name, model or scenario.model, environment)
    family = family_for(model)
    target = target_for(environment)
    team, region, account = target.team, target.region, target.account  # this environment's, from its config
    say = progress or (lambda _message: None)
    if assembly is None:
        say(f"synthesizing the '{environment}' environment (cached per source change)")
        assembly = cached_synth(environment, CACHE)
    for key, value in (
        ("AWS_DEFAULT_REGION", region),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ):
        os.environ[key] = value
    os.environ.pop("AWS_PROFILE", None)
    scratch = Path(workdir or tempfile.mkdtemp(prefix="bft-local-"))
    # The sample in the model family's own format: the same moderation task whatever the model.
    data = sample_data.write_splits(
        scratch / "data", data_format=family.data_format, evaluation=scenario.evaluation_records or 80
    )
    broken = sample_data.break_record(data["train"], scratch / "data" / "broken.jsonl", line=17)
    # The same records with their labels shuffled (seeded): what eval-below-threshold trains on.
    shuffled = sample_data.shuffle_labels(data["train"], scratch / "data" / "shuffled.jsonl")
    own = {name: path for name, path in (("train", training), ("validation", validation), ("evaluation", evaluation))}

    started = time.monotonic()
    with OfflineAssembly(assembly, region=region, account_id=account, time_factor=target.time_factor) as env:
        _aws().reset()
        datasets = env.stack_output_by_key("DatasetsBucketName")
        s3 = env.clients("s3")  # the operator's: reading what the run left behind
        # The team member: a person's role assumes the team's submitter role through its trust policy.
        submitter = _submitter_session(env, target)
        submitter_s3 = submitter.client("s3")
        for local_name, path in (
            ("train", data["train"]),
            ("validation", data["validation"]),
            ("evaluation", data["evaluation"]),
            ("broken", broken),
            ("shuffled", shuffled),
        ):
            submitter_s3.upload_file(str(path), datasets, f"{team}/sample/{local_name}.jsonl")
        for local_name, user_path in own.items():
            if training is not None and user_path is not None:
                submitter_s3.upload_file(str(user_path), datasets, f"{team}/user/{local_name}.jsonl")
        now = env.clock.datetime()
        overrides = scenario.catalog_overrides
        scenario_parameters = [
            "loss curves and evaluation scores are computed by a naive Bayes stand-in trained on the training "
            "file, not by a real model; the base model answers from fixed keyword rules",
        ]
        # Published lifecycle dates unless the scenario simulates others, and then it says so.
        simulated: dict[str, Lifecycle] = {}
        if "legacy" in overrides:
            eol_days = int(overrides["end_of_life_days"])
            simulated = {overrides["legacy"]: simulated_legacy(now + timedelta(days=eol_days), None)}
            scenario_parameters.insert(
                0,
                f"SIMULATED lifecycle: {overrides['legacy']} is LEGACY with end of life "
                f"{(now + timedelta(days=eol_days)).date()} ({eol_days:+d} days from the simulated now); the model "
                "catalog publishes it ACTIVE (bft models)",
            )
        world_catalog = catalog(lifecycle=simulated)
        # EventBridge: Bedrock's state-change events go to the rules of the synthesized template.
        delivered: list[Any] = []
        # The scenario's EventBridge (World.route: duplicates, reordering) once the world is arranged.
        routes: list[Callable[[Event], list[Event]]] = [lambda event: [event]]
        routed: list[str | None] = []  # the job status of each event put on the bus, in delivery order

        def _put(event: Event) -> None:
            routed.append(_job_status(event))
            delivered.extend(env.put_event(event))

        def _route(event: Event) -> None:
            for routed_event in routes[0](event):
                _put(routed_event)

        fake = FakeBedrock(
            region=region,
            account_id=account,
            s3=s3,
            on_event=_route,
            # The fake's simulated time IS the virtual time: its _sim_now is origin + (clock() - origin) * 1.
            clock=env.clock.now,
            time_scale=1.0,
            # Each model call takes its simulated latency in virtual time, and occupies its target's capacity.
            latency_sleep=env.sleep,
            catalog=world_catalog,
            service_role_s3=_service_role_s3(env),
            # The scenarios' account was granted one no-commitment model unit through AWS Support (Bedrock's
            # default quota is 0: docs/bedrock-behaviour.md#no-commit-quota); quota-exceeded keeps the default.
            **{"no_commit_model_units": scenario.model_units, **scenario.fake_options},
        )
        fake.plan_jobs("Completed", duration_s=3600 * (job_hours or scenario.job_hours), count=None)
        if on_bedrock is not None:
            on_bedrock(fake)
        # Every Bedrock client of the world (each function's, the CLI's) talks to the fake, as its caller.
        env.attach_bedrock(fake)
        request: dict[str, Any] = {
            "team": team,
            "baseModelId": model,
            "trainingDataUri": f"s3://{datasets}/{team}/sample/train.jsonl",
            "validationDataUri": f"s3://{datasets}/{team}/sample/validation.jsonl",
            "hyperParameters": dict(HYPERPARAMETERS[family.name]),
            # The model's default serving (the environment's serving_kinds, else on demand where offered).
            "serving": {
                "modelUnits": scenario.model_units,
                **({"kind": "provisioned-throughput"} if scenario.throughput else {}),
            },
            "evaluation": {
                "dataUri": f"s3://{datasets}/{team}/sample/evaluation.jsonl",
                "threshold": 0.95,
                "compareBase": True,
                # The moderation task is a classification: accuracy gates, the report shows the rest.
                "scorer": "classification",
                "metric": "accuracy",
                **({"maxRecords": scenario.evaluation_records} if scenario.evaluation_records else {}),
            },
            # At most 40 characters (bft.names.REQUEST_ID), whatever the scenario's name.
            "requestId": f"demo-{name}"[:29].rstrip("-") + f"-{int(time.time())}",
        }
        if training is not None:
            folder = f"s3://{datasets}/{team}/user"
            request["trainingDataUri"] = f"{folder}/train.jsonl"
            request.pop("validationDataUri")
            if validation is not None:
                request["validationDataUri"] = f"{folder}/validation.jsonl"
            # The scenario's scorer and threshold are the moderation sample's: on your data the scorer is
            # chosen from it, and the threshold is the default unless --threshold sets one.
            request["evaluation"] = {
                "dataUri": f"{folder}/evaluation.jsonl",
                "compareBase": True,
                **({"maxRecords": scenario.evaluation_records} if scenario.evaluation_records else {}),
            }
            if evaluation is None:
                request.pop("evaluation")
            scenario_parameters.append(
                "your data: "
                + ", ".join(f"{kind} {path}" for kind, path in own.items() if path is not None)
                + ("" if validation is not None else "; no validation data")
                + ("" if evaluation is not None else "; not evaluated (no --evaluation file)")
            )
        if threshold is not None and "evaluation" in request:
            request["evaluation"]["threshold"] = threshold
        world = World(
            fake=fake,
            request=request,
            env=env,
            environment=environment,
            deliver=_put,
        )
        scenario.arrange(world)
        routes[0] = world.route
        evaluation_timing = _EvaluationTiming(env.clock)
        world.step("Evaluate", evaluation_timing.wrap)
        # What this run simulates, in the report Finalize writes (and only in an offline run's report).
        world.step(
            "Finalize",
            _with_simulation(
                {
                    "scenario": name,
                    "description": scenario.description,
                    "expectedOutcome": scenario.outcome,
                    "parameters": scenario_parameters,
                    "timeFactor": target.time_factor,
                }
            ),
        )
        say(f"scenario '{name}': {scenario.description}")
        say(f"base model {model} ({family.name}, {family.data_format} data) in environment '{environment}' ({region})")
        say("Bedrock is SIMULATED on this machine (no AWS account is used)")
        say(
            f"environment '{environment}' with its configuration unchanged, on one virtual clock: "
            f"1 real second = {target.time_factor:g} virtual seconds for every wait, retry, timeout and schedule"
        )

        stop = threading.Event()
        background = _Background(env, fake, world, stop, say, target)
        background.start()
        machine_arn = team_refs(env, environment, team).state_machine_arn
        submitter_sfn = submitter.client("stepfunctions")
        sequence: list[dict[str, Any]] = []
        base_request_id = request["requestId"]
        try:
            for index in range(world.runs):
                if index:  # a later run of the same team: a request of its own (at most 40 characters)
                    suffix = f"-r{index + 1}"
                    request["requestId"] = base_request_id[: 40 - len(suffix)].rstrip("-") + suffix
                for hook in world.before_run:
                    hook(world, index)
                if world.runs > 1:
                    say(f"run {index + 1} of {world.runs}: request {request['requestId']}")
                arns = [
                    submitter_sfn.start_execution(
                        stateMachineArn=machine_arn, name=f"{request['requestId']}-{i}", input=json.dumps(request)
                    )["executionArn"]
                    for i in range(world.executions)
                ]
                results = [env.wait(arn, timeout=240, progress=say) for arn in arns]
                sequence.append({"requestId": request["requestId"], "results": results})
        finally:
            stop.set()
            background.join()
        # The execution that owns the (last) request (a duplicate submission's twin fails with DuplicateRequest).
        first = next((r for r in results if r.error != "DuplicateRequest"), results[0])
        reports_bucket = env.stack_output_by_key("ReportsBucketName")
        # A request ValidateRequest refused is reported under its execution's name, not the id it claimed.
        report_key, report = next(
            (
                (key, found)
                for folder in (request["requestId"], first.execution_arn.rsplit(":", 1)[-1])
                if (found := _read_json(s3, reports_bucket, key := f"reports/{team}/{folder}/run.json")) is not None
            ),
            (f"reports/{team}/{request['requestId']}/run.json", None),
        )
        # The run's other documents live only in moto: read them before the context discards them.
        documents = {
            doc: loaded
            for doc in ("metrics.json", "evaluation.json", "dataset-validation.json")
            if (loaded := _read_json(s3, reports_bucket, f"reports/{team}/{request['requestId']}/{doc}")) is not None
        }
        # The report Finalize wrote into the simulated bucket, downloaded as a team member would (`bft report`).
        # The objects its record lists that are in the bucket (a check on the record, not a second listing).
        stored = s3.list_objects_v2(Bucket=reports_bucket, Prefix=report_key.rsplit("/", 1)[0] + "/")
        in_bucket = {obj["Key"] for obj in stored.get("Contents", [])}
        report_objects = [key for key in (report or {}).get("reportObjects") or [] if key in in_bucket]
        if report_dir is not None:
            download_report(submitter_s3, reports_bucket, report_objects, report_dir)
        runs = []
        for item in sequence:
            recorded = _read_json(s3, reports_bucket, f"reports/{team}/{item['requestId']}/run.json") or {}
            runs.append(
                {
                    "requestId": item["requestId"],
                    "status": item["results"][0].status,
                    "outcome": recorded.get("outcome"),
                    "model": (recorded.get("jobResult") or {}).get("outputModelArn"),
                    "promotion": recorded.get("promotion"),
                }
            )
        endpoint_name = request["serving"].get("endpoint")
        # The endpoint as the runs left it, before any follow-up changes it.
        endpoint = endpoint_state(fake, environment, team, endpoint_name) if endpoint_name else None
        afterwards: list[dict[str, Any]] = []
        if world.afterwards:
            after = Afterwards(
                env=env, fake=fake, submitter=submitter, environment=environment, team=team, request=request
            )
            afterwards = [follow_up(after) for follow_up in world.afterwards]
        notifications = env.sns_messages()
        deployments_left = [d["customModelDeploymentArn"] for d in fake.custom_model_deployments()]
        summary = {
            "scenario": name,
            "model": model,
            "environment": environment,
            "region": region,
            "time_factor": target.time_factor,
            "status": first.status,
            "outcome": (report or {}).get("outcome"),
            "expected_outcome": scenario.outcome,
            "jobs_started": fake.counters.jobs_started,
            "jobs_left_running": len(fake.running_jobs()),
            "provisioned_throughputs_left": [pt["provisionedModelArn"] for pt in fake.provisioned_throughputs()],
            "deployments_left": deployments_left,
            "serving": serving_summary(report),
            # Every run of the scenario in order (one unless it runs the team several times), and its team endpoint.
            "runs": runs,
            "endpoint": endpoint,
            "afterwards": afterwards,
            "notifications": [{"subject": n["subject"], "message": n["message"]} for n in notifications],
            "state_transitions": first.state_transitions,
            # Steps the state machine invoked, plus the event-driven resume (JobEvents) of its job.
            "lambda_invocations": first.lambda_invocations + len(delivered),
            "events_put": routed,
            # Each delivery of a job state-change event to its rule's function (duplicates included).
            "event_deliveries": [
                {
                    "jobStatus": _job_status(i.event) if isinstance(i.event, dict) else None,
                    "error": (i.error or {}).get("errorType"),
                }
                for i in delivered
            ],
            "background_errors": background.errors,
            "scheduled_invocations": background.scheduled_invocations,
            "states_visited": first.states_visited,
            # Each entry into a task state schedules it once; every further schedule is a retry.
            "retries": len(first.events("TaskScheduled"))
            + len(first.events("LambdaFunctionScheduled"))
            - len(first.events("TaskStateEntered")),
            "report_uri": f"s3://{reports_bucket}/{report_key}" if report else None,
            "report_objects": report_objects,
            "report": report,
            "documents": documents,
            "executions": [{"status": r.status, "error": r.error, "cause": r.cause} for r in results],
            "authorization": _authorization_summary(env),
            "runtime": env.runtime(),  # the Python the handlers ran on vs the functions' runtime
            "scenario_parameters": scenario_parameters,
            "elapsed_seconds": round(time.monotonic() - started, 2),
            "simulated_job_hours": job_hours or scenario.job_hours,
            "evaluation": evaluation_timing.summary(
                documents.get("evaluation.json"),
                timeout_seconds=env.function_timeout("Workflow/Functions/Evaluate"),
                fake=fake,
            ),
        }
        if on_finish is not None:
            on_finish(env)
    _aws().reset()
    return summary


# The summary's names for the two ways of serving (the request's kind -> what Bedrock calls the resource).
SERVING_SUMMARY_KINDS = {
    "on-demand-deployment": "custom-model-deployment",
    "provisioned-throughput": "provisioned-throughput",
}


def serving_summary(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{kind, arn, hourly_cost_usd}`` of what serves the custom model after the run; None when nothing does."""
    report = report or {}
    serving = report.get("serving") or {}
    promotion = report.get("promotion") or {}
    if promotion.get("ready"):  # the team's endpoint serves the model; the run's own deployment is gone
        serving = {"kind": "on-demand-deployment", "arn": promotion.get("arn")}
    live = [item for item in report.get("leftRunning") or [] if item.get("arn") == serving.get("arn")]
    if not serving or not live:
        return None
    return {
        "kind": SERVING_SUMMARY_KINDS.get(str(serving.get("kind")), str(serving.get("kind"))),
        "arn": serving.get("arn"),
        "hourly_cost_usd": live[0].get("hourlyCostUsd"),
    }


class _Background(threading.Thread):
    """Advances simulated time, fires the reconciler on its schedule, and plays the reviewer."""

    def __init__(
        self,
        env: OfflineAssembly,
        fake: FakeBedrock,
        world: World,
        stop: threading.Event,
        say: Callable[[str], None],
        target: Target | None = None,
    ) -> None:
        super().__init__(daemon=True, name="bft-local-background")
        self.env, self.fake, self.world, self.stop_event, self.say = env, fake, world, stop, say
        self.target = target or target_for(ENV)
        self.scheduled_invocations = 0
        self.errors: list[str] = []

    def run(self) -> None:
        reviewed: set[str] = set()
        while not self.stop_event.wait(0.05):
            # One failed round (a handler error, a race with moto) must not stop time or the reviewer:
            # record it for the summary and go on, as the real schedules would.
            try:
                self.fake.tick()
                # Each rule by its rate(), in virtual time.
                self.scheduled_invocations += len(self.env.run_due_schedules())
                if self.world.reviewer and self.world.request["requestId"] not in reviewed:
                    run = self._awaiting_approval()
                    if run:
                        self.say(f"reviewer: deciding on {run['requestId']}")
                        self.world.reviewer(self.env, run)
                        reviewed.add(run["requestId"])
            except Exception as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                self.say(f"background error (continuing): {type(exc).__name__}: {exc}")

    def _awaiting_approval(self) -> dict[str, Any] | None:
        table = _operator_table(self.env)
        team, request_id = self.world.request["team"], self.world.request["requestId"]
        item = table.get_item(Key={"pk": f"approval#{team}#{request_id}"}).get("Item")
        return {"requestId": request_id, "team": team, "environment": self.target.environment} if item else None


def _authorization_summary(env: OfflineAssembly) -> dict[str, Any]:
    """What the offline IAM decided: every call of the run was authorized from the templates' policies."""
    records = env.authorizer.records
    denied = [r for r in records if not r.allowed]
    return {
        "calls_authorized": len(records) - len(denied),
        "calls_denied": len(denied),
        "denied": [f"{r.principal}: {r.action} on {r.resource}: {r.reason}" for r in denied],
        "deliveries_denied": list(env.denied_deliveries),
    }


def _submitter_session(env: OfflineAssembly, target: Target | None = None) -> Any:
    """The team member's session: their own role (from the config) assumes the team's submitter role."""

    from bft.config import load_config

    target = target or target_for(ENV)
    person = load_config(target.environment).team(target.team).submitters[0]
    role = team_refs(env, target.environment, target.team).submitter_role_arn
    if role is None:
        raise LookupError(f"team {target.team} of {target.environment} has no submitter role in its registry entry")
    return env.session_as(role, "team-member", caller=person)


def team_refs(env: OfflineAssembly, environment: str, team: str) -> TeamRefs:
    """A team's machine and submitter role, found as the CLI finds them: in the registry entry its own stack
    wrote (``/bft/<env>/teams/<team>/``, here in moto's SSM), never by construct path or a shared output."""
    from bft.deployment import read_team

    refs = read_team(env.clients("ssm"), environment, team)
    if refs is None:
        raise LookupError(f"team {team} of {environment} has no registry entry: its stack is not in the assembly")
    return refs


def _service_role_s3(env: OfflineAssembly) -> Callable[[str, str], Any]:
    """How a customization job reaches S3: Bedrock assumes the job's service role, whose trust policy must let
    this account's job do so (aws:SourceAccount, aws:SourceArn), then reads and writes as that role."""
    from bft_twin.bedrock_fake._wire import ServiceError
    from bft_twin.iam.authorizer import AccessDeniedError
    from bft_twin.iam.model import Principal

    def s3_as_service_role(role_arn: str, job_arn: str) -> Any:
        try:
            credentials = env.authorizer.assume_role(
                Principal("bedrock.amazonaws.com", type="Service"),
                role_arn,
                "bedrock-customization-job",
                context={"aws:SourceAccount": env.account_id, "aws:SourceArn": job_arn},
            )
        except AccessDeniedError:
            # docs/bedrock-behaviour.md: a role Bedrock cannot assume fails the create call this way.
            raise ServiceError("ValidationException", f"Could not assume provided IAM role {role_arn}.") from None
        return env.authorizer.session(credentials).client("s3")

    return s3_as_service_role


def _table(env: OfflineAssembly) -> str:
    return str(env.stack_output_by_key("StateTableName"))


def _operator_table(env: OfflineAssembly) -> Any:
    """The state table with the operator's credentials: watching the run, not part of it."""
    return env.resource("dynamodb").Table(_table(env))


def _read_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:

    try:
        loaded: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        return loaded
    except s3.exceptions.NoSuchKey:
        return None
