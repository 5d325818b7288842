"""What a scenario may arrange in the offline world before the execution starts (:class:`World`): Bedrock's
plans and faults, EventBridge's duplicates and reordering, slow or crashing steps, a reviewer who approves or
rejects, and what the team member does once the runs ended (:class:`Afterwards`, e.g. `bft rollback`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bft_twin.run.targets import ENV, TEAM

if TYPE_CHECKING:
    from bft_twin.bedrock_fake import FakeBedrock
    from bft_twin.offline import OfflineAssembly


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

    def slow_step(self, function: str, *, past_timeout_seconds: float = 1.0, phase: str | None = None) -> None:
        """The function's first invocation (the first of its ``phase``, for a function with phases such as
        Evaluate) does its work and runs ``past_timeout_seconds`` past its Lambda timeout (virtual time jumps
        while it computes); the runtime reports ``Sandbox.Timedout``, as Lambda would."""
        env = self.env
        assert env is not None
        timeout = env.function_timeout(f"Workflow/Functions/{function}")
        calls: list[int] = []

        def wrapper(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
            def slow(event: Any, context: Any) -> Any:
                result = handler(event, context)
                if phase is not None and event.get("phase") != phase:
                    return result
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


# The team's earlier runs this month (shares of its cap) that the over-cap scenario plants: three finished, one
# in flight; together exactly the cap, so any positive estimate of the run passes it. And one of last month.
EARLIER_RUNS = ((0.4, "finished"), (0.3, "finished"), (0.2, "finished"), (0.1, "in flight"))
LAST_MONTH_USD = 5000.0


def spent_the_cap(world: World) -> None:
    """Plant the team's month so far in the reports bucket, as its runs would have left it (bft.workflow.spend):
    each finished run's ledger entry and run.json, its cost computed as Finalize computes it (billed tokens at
    the environment's training price), a run in flight (its ledger entry, no report yet), and a costly run of
    last month, which must not count."""
    from bft.config import load_config
    from bft.families import family_for
    from bft.prices import lookup
    from bft.workflow.report import estimate_cost
    from bft.workflow.s3io import put_json, report_key
    from bft.workflow.spend import ledger_key, month_of

    assert world.env is not None, "the scenario plants reports in the offline world"
    env, team, model = world.env, world.request["team"], world.request["baseModelId"]
    config = load_config(world.environment)
    cap = config.team(team).monthly_cap_usd
    if cap is None:
        raise RuntimeError(f"team {team} of {world.environment} has no monthly_cap_usd: the scenario needs one")
    bucket, s3 = env.stack_output_by_key("ReportsBucketName"), env.clients("s3")
    now = env.clock.datetime()
    prices, family = config.price_document(), family_for(model).name
    per_1k, _ = lookup(prices, "trainingPer1kTokensUsd", model, family)
    assert per_1k, f"no training price for {model}"
    this_month = month_of(now)
    last_month = month_of(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(seconds=1))

    def finished(request_id: str, month: str, usd: float) -> float:
        run = {"team": team, "requestId": request_id, "attempt": 1, "baseModelId": model, "family": family}
        tokens = round(usd / per_1k * 1000)
        cost = estimate_cost(run | {"serving": {}}, {"statistics": {"estimated_billed_tokens": tokens}}, prices)
        report = {"schema": "bft.run/1", "outcome": "deployed", "run": run, "job": {"jobArn": request_id}}
        put_json(s3, bucket, report_key(team, request_id, "run.json"), report | {"cost": cost, "leftRunning": []})
        put_json(s3, bucket, ledger_key(team, month, request_id, 1), {"requestId": request_id, "estimateUsd": usd})
        return float(cost["trainingUsd"])

    planted = 0.0
    for index, (share, state) in enumerate(EARLIER_RUNS, start=1):
        request_id = f"earlier-{index}"
        if state == "finished":
            planted += finished(request_id, this_month, cap * share)
        else:  # accepted, still training: its ledger entry holds its estimate, the rest of the cap
            entry = {"requestId": request_id, "estimateUsd": round(cap - planted, 2)}
            put_json(s3, bucket, ledger_key(team, this_month, request_id, 1), entry)
    finished("last-month", last_month, LAST_MONTH_USD)


def reap_after_ttl(after: Afterwards) -> dict[str, Any]:
    """Let the run's throughput outlive its time-to-live on the virtual clock, then let the reaper's schedule come
    due: the reaper must delete it and tell the team. The time-to-live is the team's, else the environment's
    (as the reaper reads it); the clock moves past it and one period of the reaper's schedule."""
    from bft.config import load_config

    config = load_config(after.environment)
    ttl_hours = config.team(after.team).throughput_ttl_hours or config.provisioned_throughput.default_ttl_hours
    before = [pt["provisionedModelArn"] for pt in after.fake.provisioned_throughputs()]
    sent_before = len(after.env.sns_messages())
    after.env.clock.advance((ttl_hours * 60 + config.reaper.schedule_minutes + 1) * 60)
    reaper_runs = after.env.run_due_schedules()
    left = [pt["provisionedModelArn"] for pt in after.fake.provisioned_throughputs()]
    told = [
        message["subject"]
        for message in after.env.sns_messages()[sent_before:]
        if "deleted idle provisioned throughput" in message["subject"]
    ]
    return {
        "reaper": {
            "ttl_hours": ttl_hours,
            "throughputs_before": before,
            "throughputs_after": left,
            "scheduled_invocations": len(reaper_runs),
            "notified": told,
        },
        # What this follow-up had to show: the throughput the run left was deleted, and the team told.
        "as_intended": bool(before) and not left and len(told) == len(before),
    }


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


# The runtime names an error after its exception's class: this class is named as Lambda's own error.
_LAMBDA_SERVICE_EXCEPTION = type("Lambda.ServiceException", (Exception,), {})


def _job_status(event: Event) -> str | None:
    detail = event.get("detail") or {}
    return detail.get("jobStatus") if event.get("detail-type") == "Model Customization Job State Change" else None


def _reject(env: OfflineAssembly, run: dict[str, Any]) -> None:
    _decide(env, run, approve=False, reason="loss curve looks overfitted")


def _approve(env: OfflineAssembly, run: dict[str, Any]) -> None:
    _decide(env, run, approve=True, reason="metrics look good")


def _decide(env: OfflineAssembly, run: dict[str, Any], *, approve: bool, reason: str) -> None:
    """What `bft approve` / `bft reject` do, as a reviewer of the team: a SigV4-signed POST to the approval
    function's URL, which checks the reviewer's identity (IAM: lambda:InvokeFunctionUrl; the function: a
    reviewer of the team and not its submitter) before it resumes the run."""
    from botocore.credentials import Credentials as BotoCredentials

    from bft.cli.signed_http import post_decision
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
    status, answer = post_decision(
        str(env.stack_output_by_key("ApprovalFunctionUrl")),
        {"team": team, "requestId": run["requestId"], "approve": approve, "reason": reason},
        credentials=BotoCredentials(issued.access_key, issued.secret_key, issued.token),
        region=env.region,
        transport=env.function_url_transport(),
    )
    if status != 200:
        raise RuntimeError(f"the approval function refused the reviewer (HTTP {status}): {answer}")
