"""`run_scenario`: one scenario of the real, synthesized workflow, end to end in the offline world.

A run goes by phases, each a function: what runs (:func:`plan_run`: the scenario, the model and environment
:func:`~bft_twin.run.scenarios.choose` fills in), the synthesized assembly, the world arranged as the scenario
says (:mod:`bft_twin.run.arrange`), the submissions driven to their end (:func:`drive`), and what they left
behind collected into the summary (:mod:`bft_twin.run.collect`).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bft.synth import cached_synth
from bft_twin.run.arrange import Plan, Stage, arrange, team_refs, use_offline_credentials, write_data
from bft_twin.run.collect import collect
from bft_twin.run.scenarios import SCENARIOS, Scenario, choose
from bft_twin.run.targets import CACHE, ENV, Target, environment_of, target_for
from bft_twin.run.world import World

if TYPE_CHECKING:
    from bft_twin.bedrock_fake import FakeBedrock
    from bft_twin.offline import OfflineAssembly

# boto3, moto and the fake load when a scenario runs, not when the scenario table is read (`bft --help`).


def _aws() -> Any:
    from bft import aws

    return aws


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
    evaluation_options: Mapping[str, Any] | None = None,
    environment: str | None = None,
    model: str | None = None,
    scenario: Scenario | None = None,
    report_dir: Path | None = None,
    team: str | None = None,
) -> dict[str, Any]:
    """Run one scenario end to end and return the summary `bft local-run --json` prints.

    ``report_dir``: where to download the report Finalize wrote (report.html, report.md, loss.svg, run.json).

    ``training`` (with the optional ``validation`` and ``evaluation``) runs on the user's own files instead of
    the sample: the team member uploads them as the sample files are; without ``validation`` the job has no
    validation data, without ``evaluation`` the run is not evaluated. ``threshold`` sets the evaluation's;
    ``evaluation_options`` adds request fields of the evaluation (``scorer``, ``metric``, ``baseSystemPrompt``).

    ``on_bedrock`` receives the simulated Bedrock before the execution starts (live job progress);
    ``on_finish`` the offline world after the run, before it is torn down (its policy store and every
    authorization decision: the least-privilege measurement). ``model`` is the base model to fine-tune and
    ``environment`` whose assembly and configuration run; :func:`choose` fills in what is not given (an offline
    world whose region offers the model; every environment runs on the virtual clock, see :class:`Target`).
    ``scenario`` runs that scenario instead of ``SCENARIOS[name]`` (a chaos run's, :mod:`bft_twin.chaos`).
    ``team`` submits as that team of the environment (default: moderation where onboarded, else the first).
    """
    from bft_twin.offline import OfflineAssembly

    plan = plan_run(
        name, scenario, model=model, environment=environment, assembly=assembly, progress=progress, team=team
    )
    if assembly is None:
        plan.say(f"synthesizing the '{plan.environment}' environment (cached per source change)")
        assembly = cached_synth(plan.environment, CACHE)
    use_offline_credentials(plan.target.region)
    data = write_data(Path(workdir or tempfile.mkdtemp(prefix="bft-local-")), plan)
    own = {"train": training, "validation": validation, "evaluation": evaluation}

    started = time.monotonic()
    target = plan.target
    with OfflineAssembly(
        assembly, region=target.region, account_id=target.account, time_factor=target.time_factor
    ) as env:
        _aws().reset()
        stage = arrange(
            env,
            plan,
            data,
            own,
            job_hours=job_hours,
            threshold=threshold,
            evaluation_options=evaluation_options,
            on_bedrock=on_bedrock,
        )
        announce(plan)
        sequence, background = drive(stage, plan)
        summary = collect(
            stage,
            plan,
            sequence,
            background_errors=background.errors,
            scheduled_invocations=background.scheduled_invocations,
            report_dir=report_dir,
            started=started,
            job_hours=job_hours,
        )
        if on_finish is not None:
            on_finish(env)
    _aws().reset()
    return summary


def plan_run(
    name: str,
    scenario: Scenario | None,
    *,
    model: str | None,
    environment: str | None,
    assembly: Path | None,
    progress: Callable[[str], None] | None,
    team: str | None = None,
) -> Plan:
    """What runs: the scenario (``SCENARIOS[name]`` unless given), and the model and environment :func:`choose`
    fills in from what is given."""
    from bft.families import family_for

    scenario = scenario or SCENARIOS[name]
    if environment is None and assembly is not None:
        environment = environment_of(assembly)  # the assembly deploys one environment: run that one
    model, environment = choose(name, model or scenario.model, environment)
    return Plan(
        name=name,
        scenario=scenario,
        model=model,
        family=family_for(model),
        environment=environment,
        # This environment's team (or the one named), region and account, from its config.
        target=target_for(environment, team),
        say=progress or (lambda _message: None),
    )


def announce(plan: Plan) -> None:
    """Say what runs, where, and that Bedrock is simulated on one virtual clock."""
    say, target, family = plan.say, plan.target, plan.family
    say(f"scenario '{plan.name}': {plan.scenario.description}")
    say(
        f"base model {plan.model} ({family.name}, {family.data_format} data) in environment '{plan.environment}' "
        f"({target.region})"
    )
    say("Bedrock is SIMULATED on this machine (no AWS account is used)")
    say(
        f"environment '{plan.environment}' with its configuration unchanged, on one virtual clock: "
        f"1 real second = {target.time_factor:g} virtual seconds for every wait, retry, timeout and schedule"
    )


def drive(stage: Stage, plan: Plan) -> tuple[list[dict[str, Any]], _Background]:
    """Submit the request as the team member and wait for each execution to end, while the background advances
    time, fires the schedules and plays the reviewer: each run of the team in turn (``World.runs``), each
    submitted ``World.executions`` times. Returns each run's request id and execution results, and the
    background (its errors, its scheduled invocations)."""
    env, world, request, say = stage.env, stage.world, stage.request, plan.say
    stop = threading.Event()
    background = _Background(env, stage.fake, world, stop, say, plan.target)
    background.start()
    machine_arn = team_refs(env, plan.environment, plan.target.team).state_machine_arn
    submitter_sfn = stage.submitter.client("stepfunctions")
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
    return sequence, background


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


def _table(env: OfflineAssembly) -> str:
    return str(env.stack_output_by_key("StateTableName"))


def _operator_table(env: OfflineAssembly) -> Any:
    """The state table with the operator's credentials: watching the run, not part of it."""
    return env.resource("dynamodb").Table(_table(env))
