"""Arranging one run's offline world, before anything is submitted: the process's AWS settings, the data the
team member uploads, Bedrock simulated on the world's clock, the request, and the scenario's :class:`World`
with the probes the summary and the report need.

Each function is one step of :func:`arrange`, and they run in a fixed order: the world's clock and the
request id's timestamp are read as they go, and the scenario arranges a world whose fake and request exist.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bft import sample_data
from bft_twin.run.scenarios import Scenario
from bft_twin.run.targets import ENV, HYPERPARAMETERS, Target, target_for
from bft_twin.run.world import Event, World, _job_status

if TYPE_CHECKING:
    from bft.deployment import TeamRefs
    from bft.families import ModelFamily
    from bft_twin.bedrock_fake import FakeBedrock
    from bft_twin.catalog import Catalog
    from bft_twin.offline import OfflineAssembly


@dataclass(frozen=True)
class Plan:
    """What one run is: the scenario (by the name the summary reports), the base model and its family, the
    environment and what differs per environment, and where progress is said."""

    name: str
    scenario: Scenario
    model: str
    family: ModelFamily
    environment: str
    target: Target
    say: Callable[[str], None]


@dataclass
class Stage:
    """The arranged world a run submits into and collects from."""

    env: OfflineAssembly
    fake: FakeBedrock
    world: World
    request: dict[str, Any]
    bus: EventBus
    s3: Any  # the operator's: reading what the run left behind
    submitter: Any  # the team member's session
    submitter_s3: Any
    scenario_parameters: list[str]
    evaluation_timing: _EvaluationTiming
    # The user's own files by kind (train, validation, evaluation; None: not given), and where each was uploaded.
    own: dict[str, Path | None]
    own_uris: dict[str, str]


def use_offline_credentials(region: str) -> None:
    """The process's AWS settings for the offline world: its region, dummy credentials, no profile."""
    for key, value in (
        ("AWS_DEFAULT_REGION", region),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ):
        os.environ[key] = value
    os.environ.pop("AWS_PROFILE", None)


def write_data(scratch: Path, plan: Plan) -> dict[str, Path]:
    """The sample's files under ``scratch``: train, validation, evaluation, broken and shuffled."""
    # The sample in the model family's own format: the same moderation task whatever the model.
    data = sample_data.write_splits(
        scratch / "data", data_format=plan.family.data_format, evaluation=plan.scenario.evaluation_records or 80
    )
    broken = sample_data.break_record(data["train"], scratch / "data" / "broken.jsonl", line=17)
    # The same records with their labels shuffled (seeded): what eval-below-threshold trains on.
    shuffled = sample_data.shuffle_labels(data["train"], scratch / "data" / "shuffled.jsonl")
    return {
        "train": data["train"],
        "validation": data["validation"],
        "evaluation": data["evaluation"],
        "broken": broken,
        "shuffled": shuffled,
        # The same comments as reinforcement fine-tuning prompts (the rft scenarios train on them).
        "rft-prompts": sample_data.write_rft_prompts(scratch / "data" / "rft-prompts.jsonl"),
    }


def arrange(
    env: OfflineAssembly,
    plan: Plan,
    data: dict[str, Path],
    own: dict[str, Path | None],
    *,
    job_hours: float | None,
    threshold: float | None,
    evaluation_options: Mapping[str, Any] | None = None,
    on_bedrock: Callable[[FakeBedrock], None] | None,
) -> Stage:
    """The world of one run, arranged as the scenario says: uploads, Bedrock, the request and the World.

    ``own`` is the user's files by kind (train, validation, evaluation), each None when not given.
    """
    team = plan.target.team
    datasets = env.stack_output_by_key("DatasetsBucketName")
    s3 = env.clients("s3")  # the operator's: reading what the run left behind
    # The team member: a person's role assumes the team's submitter role through its trust policy.
    submitter = _submitter_session(env, plan.target)
    submitter_s3 = submitter.client("s3")
    upload_data(submitter_s3, datasets, team, data, own)
    scenario_parameters, world_catalog = simulated_lifecycle(plan.scenario, env.clock.datetime())
    bus = EventBus(env)
    fake = make_fake(env, plan, s3, bus, world_catalog, job_hours=job_hours, on_bedrock=on_bedrock)
    request = make_request(
        plan, datasets, own, scenario_parameters, threshold=threshold, evaluation_options=evaluation_options
    )
    world = World(
        fake=fake,
        request=request,
        env=env,
        environment=plan.environment,
        deliver=bus.put,
    )
    plan.scenario.arrange(world)
    bus.route = world.route
    own_uris = own_data_uris(datasets, team, own)
    evaluation_timing = instrument(env, world, plan, scenario_parameters, own)
    return Stage(
        env,
        fake,
        world,
        request,
        bus,
        s3,
        submitter,
        submitter_s3,
        scenario_parameters,
        evaluation_timing,
        own,
        own_uris,
    )


def upload_data(
    submitter_s3: Any, datasets: str, team: str, data: dict[str, Path], own: dict[str, Path | None]
) -> None:
    """The team member uploads the sample (and the user's own files, when there are) to the datasets bucket."""
    for local_name, path in data.items():
        submitter_s3.upload_file(str(path), datasets, f"{team}/sample/{local_name}.jsonl")
    for local_name, user_path in own.items():
        if own["train"] is not None and user_path is not None:
            submitter_s3.upload_file(str(user_path), datasets, f"{team}/user/{local_name}.jsonl")


def own_data_uris(datasets: str, team: str, own: dict[str, Path | None]) -> dict[str, str]:
    """Where each of the user's files was uploaded (:func:`upload_data`), by kind; empty on the sample."""
    if own["train"] is None:
        return {}
    return {kind: f"s3://{datasets}/{team}/user/{kind}.jsonl" for kind, path in own.items() if path is not None}


def own_request_id(training: Path) -> str:
    """A request id that says whose data ran: ``own-<the training file's name>-<time>`` (at most 40 characters)."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", training.stem).strip("-").lower() or "data"
    return f"own-{stem}"[:29].rstrip("-") + f"-{int(time.time())}"


def simulated_lifecycle(scenario: Scenario, now: datetime) -> tuple[list[str], Catalog]:
    """The run's scenario parameters (what the report says it simulated) and the world's model catalog."""
    from bft_twin.catalog import Lifecycle, catalog, simulated_legacy

    overrides = scenario.catalog_overrides
    scenario_parameters = [
        "loss curves and evaluation scores are computed by stand-ins, not by a real model: the custom model by a "
        "learner trained on the training file (naive Bayes for labels, nearest neighbour for other answers), the "
        "base model from its prompt alone (the labels, tools or examples it lists)",
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
    return scenario_parameters, catalog(lifecycle=simulated)


class EventBus:
    """EventBridge: Bedrock's state-change events go to the rules of the synthesized template."""

    def __init__(self, env: OfflineAssembly) -> None:
        self.env = env
        self.delivered: list[Any] = []
        # The scenario's EventBridge (World.route: duplicates, reordering) once the world is arranged.
        self.route: Callable[[Event], list[Event]] = lambda event: [event]
        self.routed: list[str | None] = []  # the job status of each event put on the bus, in delivery order

    def put(self, event: Event) -> None:
        self.routed.append(_job_status(event))
        self.delivered.extend(self.env.put_event(event))

    def emit(self, event: Event) -> None:
        for routed_event in self.route(event):
            self.put(routed_event)


def make_fake(
    env: OfflineAssembly,
    plan: Plan,
    s3: Any,
    bus: EventBus,
    world_catalog: Catalog,
    *,
    job_hours: float | None,
    on_bedrock: Callable[[FakeBedrock], None] | None,
) -> FakeBedrock:
    """Simulated Bedrock on the world's clock, attached to every Bedrock client of the world."""
    from bft_twin.bedrock_fake import FakeBedrock

    scenario = plan.scenario
    fake = FakeBedrock(
        region=plan.target.region,
        account_id=plan.target.account,
        s3=s3,
        on_event=bus.emit,
        # The fake's simulated time IS the virtual time: its _sim_now is origin + (clock() - origin) * 1.
        clock=env.clock.now,
        time_scale=1.0,
        # Each model call takes its simulated latency in virtual time, and occupies its target's capacity.
        latency_sleep=env.sleep,
        catalog=world_catalog,
        service_role_s3=_service_role_s3(env),
        service_role_invoke=_service_role_invoke(env),
        # The scenarios' account was granted one no-commitment model unit through AWS Support (Bedrock's
        # default quota is 0: docs/bedrock-behaviour.md#no-commit-quota); quota-exceeded keeps the default.
        **{"no_commit_model_units": scenario.model_units, **scenario.fake_options},
    )
    fake.plan_jobs("Completed", duration_s=3600 * (job_hours or scenario.job_hours), count=None)
    if on_bedrock is not None:
        on_bedrock(fake)
    # Every Bedrock client of the world (each function's, the CLI's) talks to the fake, as its caller.
    env.attach_bedrock(fake)
    return fake


def make_request(
    plan: Plan,
    datasets: str,
    own: dict[str, Path | None],
    scenario_parameters: list[str],
    *,
    threshold: float | None,
    evaluation_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The request the team member submits: the sample's (or the user's own files), the scenario's serving."""
    name, scenario, team = plan.name, plan.scenario, plan.target.team
    training, validation, evaluation = own["train"], own["validation"], own["evaluation"]
    request: dict[str, Any] = {
        "team": team,
        "baseModelId": plan.model,
        "trainingDataUri": f"s3://{datasets}/{team}/sample/train.jsonl",
        "validationDataUri": f"s3://{datasets}/{team}/sample/validation.jsonl",
        "hyperParameters": dict(HYPERPARAMETERS[plan.family.name]),
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
            # What the team would prompt the base model with in production (instructions and examples): tokens
            # per query compare the two models as each would be used.
            "baseSystemPrompt": sample_data.production_prompt(),
            **({"maxRecords": scenario.evaluation_records} if scenario.evaluation_records else {}),
        },
        # At most 40 characters (bft.names.REQUEST_ID), whatever the scenario's name.
        "requestId": f"demo-{name}"[:29].rstrip("-") + f"-{int(time.time())}",
    }
    if training is not None:
        folder = f"s3://{datasets}/{team}/user"
        request["requestId"] = own_request_id(training)
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
    if evaluation_options and "evaluation" in request:
        request["evaluation"].update(evaluation_options)
    return request


def instrument(
    env: OfflineAssembly,
    world: World,
    plan: Plan,
    scenario_parameters: list[str],
    own: Mapping[str, Path | None] | None = None,
) -> _EvaluationTiming:
    """The probes on the arranged world: the evaluation's timing, and what Finalize's report says was simulated.

    A run on the user's own files (``own`` with a training file) is a run, not a scenario: its report names
    the files and expects no outcome (the evaluation says what it says)."""
    scenario = plan.scenario
    evaluation_timing = _EvaluationTiming(env.clock)
    world.step("Evaluate", evaluation_timing.wrap)
    # What this run simulates, in the report Finalize writes (and only in an offline run's report).
    simulation: dict[str, Any] = {
        "scenario": plan.name,
        "description": scenario.description,
        "expectedOutcome": scenario.outcome,
        "parameters": scenario_parameters,
        "timeFactor": plan.target.time_factor,
    }
    if own and own.get("train") is not None:
        simulation.pop("expectedOutcome")
        simulation["ownData"] = {kind: str(path) for kind, path in own.items() if path is not None}
    world.step("Finalize", _with_simulation(simulation))
    return evaluation_timing


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


def _as_job_role(env: OfflineAssembly, role_arn: str, job_arn: str, session: str, call: Any) -> str | None:
    """Whether Bedrock may make ``call`` as a job's service role: it assumes the role (its trust policy decides,
    with this job as aws:SourceArn), then calls as the role; AWS's denial message, or None."""
    from bft_twin.iam.authorizer import AccessDeniedError
    from bft_twin.iam.evaluate import AuthRequest, access_denied_message
    from bft_twin.iam.model import Principal

    try:
        credentials = env.authorizer.assume_role(
            Principal("bedrock.amazonaws.com", type="Service"),
            role_arn,
            session,
            context={"aws:SourceAccount": env.account_id, "aws:SourceArn": job_arn},
        )
    except AccessDeniedError as denied:
        return str(denied)
    issued = env.authorizer.issued(credentials.access_key)
    assert issued is not None
    refused = env.authorizer.decide(issued[0], call)
    if refused is None:
        return None
    needed, decision = refused
    request = AuthRequest(issued[0], needed.action, needed.resource, {}, resource_account=env.account_id)
    return access_denied_message(request, decision)


def _service_role_invoke(env: OfflineAssembly) -> Callable[[str, str, str], str | None]:
    """Whether an evaluation job's role may invoke its judge (InvokeModel as the role): AWS's denial, or None."""
    from bft_twin.iam.actions import Call

    def may_invoke(role_arn: str, job_arn: str, model_id: str) -> str | None:
        call = Call("bedrock-runtime", "InvokeModel", {"modelId": model_id}, env.region, env.account_id)
        return _as_job_role(env, role_arn, job_arn, "bedrock-evaluation-job", call)

    return may_invoke


def service_role_may_grade(env: OfflineAssembly, role_arn: str, job_arn: str, function_arn: str) -> str | None:
    """Whether a reinforcement job's service role may invoke ``function_arn`` (its grader): AWS's denial, or
    None."""
    from bft_twin.iam.actions import Call

    call = Call("lambda", "Invoke", {"FunctionName": function_arn}, env.region, env.account_id)
    return _as_job_role(env, role_arn, job_arn, "bedrock-customization-job", call)
