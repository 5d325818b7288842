"""`run_scenario`: one scenario of the real, synthesized workflow, end to end in the offline world."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bft import sample_data
from bft.synth import cached_synth
from bft_twin.run.scenarios import SCENARIOS, Scenario, choose
from bft_twin.run.targets import CACHE, ENV, HYPERPARAMETERS, Target, environment_of, target_for
from bft_twin.run.world import Afterwards, Event, World, _job_status, endpoint_state

if TYPE_CHECKING:
    from bft.deployment import TeamRefs
    from bft_twin.bedrock_fake import FakeBedrock
    from bft_twin.offline import OfflineAssembly

# boto3, moto and the fake load when a scenario runs, not when the scenario table is read (`bft --help`).


def _aws() -> Any:
    from bft import aws

    return aws


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
            request["evaluation"]["dataUri"] = f"{folder}/evaluation.jsonl"
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
