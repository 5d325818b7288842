"""The scenario table (:data:`SCENARIOS`): what each scenario arranges and the outcome it must end with, and
where one runs (:func:`choose`: the offline world whose region offers its model)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bft_twin.run.targets import (
    DEFAULT_MODEL,
    ENV,
    LLAMA_31_8B,
    LLAMA_32_1B,
    LLAMA_33_70B,
    NOVA_2_LITE,
    NoOfflineWorld,
    is_local,
    offers,
    run_team,
)
from bft_twin.run.world import World, _approve, _reject, reap_after_ttl, rollback_endpoint, spent_the_cap


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


# The LLM judge of the moderation sample: one rubric metric on a 1-5 scale; the gate takes it at 0.8 (the mean
# rating on 0-1). The judge's ratings are the twin's (bft_twin.bedrock_fake._evaluations): simulated.
JUDGE_EVALUATION: dict[str, Any] = {
    "scorer": "llm_judge",
    "judgeModel": "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "metric": "label_correct",
    "threshold": 0.8,
    "rubric": [
        {
            "name": "label_correct",
            "instructions": (
                "You moderate comments. The comment and instructions: {{prompt}}. The expected label: "
                "{{ground_truth}}. Rate whether the answer {{prediction}} gives the expected label."
            ),
            "ratingScale": [
                {"definition": "a wrong label", "value": 1},
                {"definition": "the right label with extra text", "value": 3},
                {"definition": "exactly the right label", "value": 5},
            ],
        }
    ],
}


def _judge_start_timed_out(world: World) -> None:
    world.request["evaluation"].update(JUDGE_EVALUATION)
    world.slow_step("Evaluate", phase="judge-start")


def _reinforcement(grader: dict[str, Any]) -> Callable[[World], None]:
    """The sample's comments as reinforcement prompts, graded by ``grader``; no evaluation set (not yet for
    reinforcement runs) and no validation file."""

    def arrange(world: World) -> None:
        request = world.request
        request.update(
            customization="reinforcement",
            grader=grader,
            trainingDataUri=request["trainingDataUri"].replace("train", "rft-prompts"),
            hyperParameters={"epochCount": 2, "batchSize": 16, "trainingSamplePerPrompt": 4},
        )
        request.pop("validationDataUri", None)
        request.pop("evaluation", None)

    return arrange


def _promotion(world: World) -> None:
    world.promote_into("live")
    world.afterwards.append(rollback_endpoint)


def _promotion_update_failed(world: World) -> None:
    world.promote_into("live")

    def second_update_fails(world: World, index: int) -> None:
        if index == 1:
            world.fake.plan_deployment_updates("UpdateFailed")

    world.before_run.append(second_update_fails)


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
            "rft",
            "reinforcement fine-tuning of Nova 2 Lite in us-east-1: prompts with reference answers, graded by the "
            "pipeline's normalized_match grader, trained (SIMULATED policy) and served on demand",
            "deployed",
            _reinforcement({"builtin": "normalized_match"}),
            model=NOVA_2_LITE,
        ),
        Scenario(
            "rft-broken-grader",
            "a reinforcement run whose grader rewards every answer alike (a regex that matches anything): the "
            "grader check refuses it before any job, naming the fault",
            "grader_invalid",
            _reinforcement({"builtin": "regex", "pattern": ".*", "fullmatch": False}),
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
            "reaper-ttl",
            "the run's throughput outlives its team's time-to-live: the scheduled reaper deletes it and tells the team",
            "deployed",
            lambda w: w.afterwards.append(reap_after_ttl),
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
            "llm-judge",
            "the evaluation scored by an LLM judge: a Bedrock evaluation job per model rates the collected answers "
            "on the team's rubric (SIMULATED judge ratings), and the gate takes the rubric's metric",
            "deployed",
            lambda w: w.request["evaluation"].update(JUDGE_EVALUATION),
        ),
        Scenario(
            "llm-judge-timed-out",
            "StartJudge starts the judge's evaluation jobs, then runs past its Lambda timeout (Sandbox.Timedout): "
            "Cleanup finds the jobs by the execution's names and stops them, so the judge's tokens stop billing",
            "step_timed_out",
            _judge_start_timed_out,
        ),
        Scenario(
            "llm-judge-not-offered",
            "the request names a judge model not offered in the region: refused before any job starts",
            "request_invalid",
            lambda w: w.request["evaluation"].update(JUDGE_EVALUATION, judgeModel="amazon.nova-pro-v1:0"),
        ),
        Scenario(
            "over-cap",
            "the team's runs of this month (three finished, their reports in the reports bucket, and one in flight) "
            "already add up to its monthly_cap_usd: CheckSpendCap refuses the run before any job, naming the "
            "spend, this run's estimate and the cap",
            "over_cap",
            spent_the_cap,
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
