"""`bft local-run --chaos SEED`: a run of the real workflow under a fault schedule drawn from a seed, and the
invariants every run must hold whatever the faults.

The schedule is drawn with ``random.Random(seed)`` only, so a seed is a reproducible run. Each fault uses the
mechanism the named scenarios use (:mod:`bft_twin.run`), not a parallel one:

- ``aws-error``: throttling or a 5xx answered at botocore's ``before-send`` (in place of the network, below
  the client's retry handler) to calls the pipeline's Lambda functions make -- Bedrock through the fake's own
  :meth:`~bft_twin.bedrock_fake.FakeBedrock.inject`, S3, DynamoDB, SNS, SSM and Step Functions (the task-token
  callbacks) here, in each service's own wire format. The client's standard retries act as against AWS, and
  only what is left after them reaches the handler.
- ``event``: a job state-change event lost, delivered twice, delayed or delivered after a later one
  (``World.route``, EventBridge between the fake and the rules).
- ``crash``: a step's Lambda invocation fails before its handler runs or after it did its work
  (``Lambda.ServiceException``, through ``World.step``).
- ``job``, ``throughput``, ``quota``: the job Failed or Stopped at a random point, the throughput Failed or
  slow, no model units left (the fake's plans and options).
- ``deployment``: the on-demand custom model deployment ends Failed, its creation is throttled past the
  client's retries, or the account's deployment quota is exceeded (the fake's plans and injected answers).
- ``approval``: a reviewer approves, rejects, or never decides until the approval times out.

Only faults that can act are drawn: what a run can exercise (:class:`Reach`: how the environment serves the
model, whether its runs wait for approval) decides the kinds and operations of the draw, so a run served by a
deployment draws no throughput fault. A drawn fault that still did not act (a crash of a step's second
invocation that never came, a job fault after an earlier fault ended the run) is reported as not exercised
(``fired`` 0) and is never counted as survived.

:func:`check_invariants` judges the run's summary; it is a pure function of the summary, so a test can feed it
a summary that violates each invariant.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bft.workflow.report import OUTCOMES

if TYPE_CHECKING:
    from bft_twin.offline import OfflineAssembly
    from bft_twin.run import Scenario, World

# The documented outcomes: README's runbook has one entry per failure outcome (report.OUTCOMES), plus success.
# "error" (report.py's fallback for an error nobody mapped) is deliberately not in it: reaching it is a defect.
DOCUMENTED_OUTCOMES = frozenset({"deployed", *OUTCOMES.values()})
# The state machine's terminal states: Deployed (success), RunFailed (a failure, reported and notified).
# ReportFailed means the failure's report could not be written: not a defined end.
TERMINAL_STATES = {"SUCCEEDED": "Deployed", "FAILED": "RunFailed"}

INVARIANTS = (
    "terminal_state",
    "documented_outcome",
    "at_most_one_job",
    "no_job_running",
    "nothing_serving_unless_deployed",
    "one_final_notification",
    "report_written",
)

# What the pipeline's functions call, per service (from the offline IAM's record of the scenarios), and the
# errors each service answers when it throttles or fails: (code, HTTP status).
_CALLS: dict[str, tuple[str, ...]] = {
    "bedrock": ("CreateModelCustomizationJob", "GetModelCustomizationJob", "ListTagsForResource"),
    "bedrock-runtime": ("Converse",),
    "s3": ("GetObject", "PutObject"),
    "dynamodb": ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan"),
    "sns": ("Publish",),
    "stepfunctions": ("SendTaskSuccess", "SendTaskFailure"),
    "ssm": ("GetParameter",),
}
# The serving operations the pipeline calls, by how the run serves its model.
_SERVING_CALLS = {
    "provisioned-throughput": ("CreateProvisionedModelThroughput", "GetProvisionedModelThroughput"),
    "on-demand-deployment": ("CreateCustomModelDeployment", "GetCustomModelDeployment"),
}
_ERRORS: dict[str, dict[str, tuple[str, int]]] = {
    "bedrock": {"throttle": ("ThrottlingException", 429), "5xx": ("InternalServerException", 500)},
    "bedrock-runtime": {"throttle": ("ThrottlingException", 429), "5xx": ("ServiceUnavailableException", 503)},
    "s3": {"throttle": ("SlowDown", 503), "5xx": ("InternalError", 500)},
    "dynamodb": {"throttle": ("ThrottlingException", 400), "5xx": ("InternalServerError", 500)},
    "sns": {"throttle": ("Throttling", 400), "5xx": ("InternalError", 500)},
    "stepfunctions": {"throttle": ("ThrottlingException", 400), "5xx": ("ServiceUnavailable", 503)},
    "ssm": {"throttle": ("ThrottlingException", 400), "5xx": ("InternalServerError", 500)},
}
# The workflow's steps (Workflow/Functions/<name>); Finalize runs as FinalizeSuccess and FinalizeFailure.
_STEPS = (
    "ValidateRequest",
    "ValidateDataset",
    "StartJob",
    "WaitForJob",
    "CollectMetrics",
    "RequestApproval",
    "CreateServing",
    "CheckServing",
    "Evaluate",
    "Finalize",
    "Cleanup",
)
_FINAL_JOB_STATUSES = ("Completed", "Failed", "Stopped")
_KINDS = {  # kind -> weight in the draw
    "aws-error": 5,
    "event": 3,
    "crash": 3,
    "job": 2,
    "throughput": 2,
    "quota": 1,
    "deployment": 3,
    "approval": 2,
}
_EXCLUSIVE = {"job", "throughput", "quota", "deployment", "approval"}  # at most one of each per run


@dataclass(frozen=True)
class Reach:
    """What a chaos run can exercise, from the environment's configuration and the model's catalog entry."""

    serving: str  # "provisioned-throughput" or "on-demand-deployment"
    # The team has a reviewer: an approval can be asked for and decided (an approval fault, or a crash of
    # RequestApproval, makes the run ask for one).
    reviewers: bool

    def can_act(self, kind: str) -> bool:
        if kind in ("throughput", "quota"):
            return self.serving == "provisioned-throughput"
        if kind == "deployment":
            return self.serving == "on-demand-deployment"
        if kind == "approval":
            return self.reviewers
        return True

    def steps(self) -> tuple[str, ...]:
        return tuple(step for step in _STEPS if step != "RequestApproval" or self.reviewers)

    def calls(self, service: str) -> tuple[str, ...]:
        return _CALLS[service] + (_SERVING_CALLS[self.serving] if service == "bedrock" else ())

    @classmethod
    def of(cls, environment: str, model: str) -> Reach:
        """How ``environment`` serves ``model`` by default (the request's default: bft.workflow.request) and
        whether the team a run submits as has a reviewer."""
        from bft.config import load_config
        from bft.families import serving_kinds
        from bft_twin.run.targets import run_team

        config = load_config(environment)
        serving = (config.serving_kinds or {}).get(model) or serving_kinds(model)[0]
        reviewers = bool(config.team_reviewers(config.team(run_team(config))))
        return cls(serving=serving, reviewers=reviewers)


# A run served by a provisioned throughput, its team with a reviewer (the `local` world's Llama 3.1 8B).
DEFAULT_REACH = Reach(serving="provisioned-throughput", reviewers=True)


@dataclass
class Fault:
    """One drawn fault: its kind, its parameters and how many times it acted during the run."""

    kind: str
    params: dict[str, Any]
    _fired: int = 0
    # Where the count comes from when something else acts: the fake's injected answers, or what a planned
    # fault (a job's end, a throughput's or deployment's, a quota) governed (the job, the throughput created).
    observed: Callable[[], int] | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def fire(self) -> None:
        with self._lock:
            self._fired += 1

    @property
    def fired(self) -> int:
        if self.observed is not None:
            return self.observed()
        return self._fired

    @property
    def description(self) -> str:
        p = self.params
        if self.kind == "aws-error":
            op = p["operation"] or "any operation"
            skip = f" after {p['skip']} good attempts" if p["skip"] else ""
            return f"{p['service']} {op}: {p['times']} HTTP attempts answered {p['code']} ({p['status']}){skip}"
        if self.kind == "event":
            status = "final (Completed/Failed/Stopped)" if p["status"] == "final" else p["status"]
            extra = f" by {p['delay_s']:g} s" if p["mode"] == "delayed" else ""
            return f"the job's {status} event {p['mode']}{extra}"
        if self.kind == "crash":
            return f"{p['function']} invocation #{p['invocation']} crashes {p['when']} its side effect"
        if self.kind == "job":
            return f"the job ends {p['outcome']} after {p['fraction']:.0%} of its duration"
        if self.kind == "throughput":
            if p["outcome"] == "Failed":
                return "the provisioned throughput ends Failed"
            return f"the provisioned throughput is ready only after {p['polls']} more polls"
        if self.kind == "quota":
            return "no no-commitment model units left (quota 0)"
        if self.kind == "deployment":
            if p["outcome"] == "Failed":
                return "the custom model deployment ends Failed"
            code = {"throttled": "ThrottlingException", "quota": "ServiceQuotaExceededException"}[p["outcome"]]
            return f"CreateCustomModelDeployment answered {code} {p['times']} times"
        return {"approve": "a reviewer approves", "reject": "a reviewer rejects", "timeout": "nobody decides"}[
            p["decision"]
        ] + " (approval required)"

    def to_json(self) -> dict[str, Any]:
        fired = self.fired
        return {"kind": self.kind, "what": self.description, **self.params, "fired": fired, "exercised": fired > 0}


def draw(seed: int, reach: Reach = DEFAULT_REACH) -> list[Fault]:
    """The fault schedule of ``seed`` for a run that can exercise ``reach``: one to three faults, several may
    combine, each of a kind (and on a step or operation) the run can meet."""
    rng = random.Random(seed)
    count = rng.choices((1, 2, 3), weights=(4, 4, 2))[0]
    kinds = [kind for kind in _KINDS if reach.can_act(kind)]
    weights = [_KINDS[kind] for kind in kinds]
    faults: list[Fault] = []
    kinds_taken: set[str] = set()
    while len(faults) < count:
        kind = rng.choices(kinds, weights=weights)[0]
        if kind in _EXCLUSIVE and kind in kinds_taken:
            continue
        kinds_taken.add(kind)
        faults.append(Fault(kind, _DRAW[kind](rng, reach)))
    return faults


def could_not_act(faults: list[Fault], reach: Reach) -> list[Fault]:
    """The drawn faults that the run could never meet (a throughput fault on a run served by a deployment, a
    crash of a step it does not run, an operation it does not call): none, by construction of :func:`draw`."""

    def cannot(fault: Fault) -> bool:
        p = fault.params
        if fault.kind == "crash":
            return p["function"] not in reach.steps()
        if fault.kind == "aws-error":
            return p["operation"] not in (None, *reach.calls(p["service"]))
        return not reach.can_act(fault.kind)

    return [fault for fault in faults if cannot(fault)]


def _draw_aws_error(rng: random.Random, reach: Reach) -> dict[str, Any]:
    service = rng.choice(list(_CALLS))
    kind = rng.choice(("throttle", "5xx"))
    code, status = _ERRORS[service][kind]
    bedrock = service.startswith("bedrock")
    return {
        "service": service,
        # The fake injects per operation; elsewhere a fault may hit whatever operation comes next.
        "operation": rng.choice(reach.calls(service)) if bedrock or rng.random() < 0.7 else None,
        "code": code,
        "status": status,
        # The handlers' clients (bft.aws) make 4 attempts per call: up to 3 are absorbed, 4 or more reach the
        # handler (the fake's own clients, as the `throttled` scenario's, make 3).
        "times": rng.randint(1, 7),
        "skip": 0 if bedrock else rng.choice((0, 0, 0, 1, 2)),
    }


def _draw_event(rng: random.Random, _reach: Reach) -> dict[str, Any]:
    mode = rng.choice(("lost", "duplicated", "delayed", "out-of-order"))
    status = "InProgress" if mode == "out-of-order" else rng.choice(("InProgress", "final"))
    params: dict[str, Any] = {"mode": mode, "status": status}
    if mode == "delayed":
        params["delay_s"] = round(rng.uniform(0.2, 4.0), 1)
    return params


def _draw_crash(rng: random.Random, reach: Reach) -> dict[str, Any]:
    return {
        "function": rng.choice(reach.steps()),
        "when": rng.choice(("before", "after")),
        "invocation": rng.choice((1, 1, 1, 2)),
    }


def _draw_job(rng: random.Random, _reach: Reach) -> dict[str, Any]:
    return {"outcome": rng.choice(("Failed", "Stopped")), "fraction": round(rng.uniform(0.05, 1.0), 2)}


def _draw_throughput(rng: random.Random, _reach: Reach) -> dict[str, Any]:
    return {"outcome": "Failed"} if rng.random() < 0.5 else {"outcome": "slow", "polls": rng.randint(1, 3)}


def _draw_approval(rng: random.Random, _reach: Reach) -> dict[str, Any]:
    return {"decision": rng.choice(("approve", "reject", "timeout"))}


def _draw_deployment(rng: random.Random, _reach: Reach) -> dict[str, Any]:
    outcome = rng.choice(("Failed", "throttled", "quota"))
    # Throttled: 1-3 attempts are absorbed by the clients' retries, more reach the step's own retry.
    return {"outcome": outcome} if outcome == "Failed" else {"outcome": outcome, "times": rng.randint(1, 6)}


_DRAW: dict[str, Callable[[random.Random, Reach], dict[str, Any]]] = {
    "aws-error": _draw_aws_error,
    "event": _draw_event,
    "crash": _draw_crash,
    "job": _draw_job,
    "throughput": _draw_throughput,
    "quota": lambda rng, reach: {"no_commit_model_units": 0},
    "deployment": _draw_deployment,
    "approval": _draw_approval,
}


# -- arranging the world ------------------------------------------------------------------------------------


def scenario(seed: int, faults: list[Fault]) -> Scenario:
    """The chaos run of ``seed`` as a :class:`~bft_twin.run.Scenario` (its outcome is not known in advance)."""
    from bft_twin.run import Scenario

    options = {k: v for f in faults if f.kind == "quota" for k, v in f.params.items()}
    return Scenario(
        f"chaos-{seed}",
        "; ".join(f.description for f in faults),
        "any",
        lambda world: arrange(world, faults),
        fake_options=options,
    )


def arrange(world: World, faults: list[Fault]) -> None:
    from bft_twin import run

    env = world.env
    assert env is not None
    aws_faults = [f for f in faults if f.kind == "aws-error"]
    for fault in aws_faults:
        p = fault.params
        if p["service"].startswith("bedrock"):
            world.fake.inject(p["operation"], p["code"], times=p["times"])
            fault.observed = _injected_count(world, p["operation"], p["code"])
    others = [f for f in aws_faults if not f.params["service"].startswith("bedrock")]
    if others:
        _WireFaults(env, others).install()
    routes = [_event_route(world, f) for f in faults if f.kind == "event"]
    if routes:
        world.route = _compose(routes)
    if any(f.kind == "crash" and f.params["function"] == "RequestApproval" for f in faults) and not any(
        f.kind == "approval" for f in faults
    ):
        world.with_reviewer(run._approve)  # the run asks for an approval, so that the crash can act
    for fault in faults:
        p = fault.params
        if fault.kind == "crash":
            world.step(p["function"], _crash(fault))
        elif fault.kind == "job":
            # The fake's job time is its own simulated time (a 2-hour job, as run_scenario plans it).
            duration = 3600 * 2.0 * p["fraction"]
            world.fake.plan_jobs(p["outcome"], duration_s=duration, failure_message="injected by the chaos run")
            fault.observed = _created(world, "CreateModelCustomizationJob")  # the plan governs the job made
        elif fault.kind == "throughput":
            if p["outcome"] == "Failed":
                world.fake.plan_throughput("Failed")
            else:
                world.slow_throughput(polls=p["polls"])
            fault.observed = _created(world, "CreateProvisionedModelThroughput")
        elif fault.kind == "quota":
            fault.observed = _injected_count(world, "CreateProvisionedModelThroughput", "ServiceQuotaExceededException")
        elif fault.kind == "deployment":
            if p["outcome"] == "Failed":
                world.fake.plan_deployments("Failed")
                fault.observed = _created(world, "CreateCustomModelDeployment")
            else:
                code = {"throttled": "ThrottlingException", "quota": "ServiceQuotaExceededException"}[p["outcome"]]
                world.fake.inject("CreateCustomModelDeployment", code, times=p["times"])
                fault.observed = _injected_count(world, "CreateCustomModelDeployment", code)
        elif fault.kind == "approval":
            decide = {"approve": run._approve, "reject": run._reject, "timeout": _time_out_approval(world)}
            world.with_reviewer(_counting(fault, decide[p["decision"]]))


def _injected_count(world: World, operation: str, code: str) -> Callable[[], int]:
    fake = world.fake
    return lambda: sum(1 for a in fake.attempts if a.operation == operation and a.error == code)


def _created(world: World, operation: str) -> Callable[[], int]:
    """How many ``operation`` calls succeeded: a planned fault acts on what they created."""
    fake = world.fake
    return lambda: sum(1 for a in fake.attempts if a.operation == operation and a.error is None)


def _counting(fault: Fault, decide: Callable[[Any, dict[str, Any]], None]) -> Callable[[Any, dict[str, Any]], None]:
    def counted(env: Any, request: dict[str, Any]) -> None:
        fault.fire()
        decide(env, request)

    return counted


def _time_out_approval(world: World) -> Callable[[Any, dict[str, Any]], None]:
    """Nobody decides: virtual time jumps past the environment's approval timeout."""
    from bft.config import load_config

    seconds = load_config(world.environment).workflow.approval_timeout_seconds

    def never_decide(env: OfflineAssembly, _run: dict[str, Any]) -> None:
        env.clock.advance(seconds + 1)

    return never_decide


def _crash(fault: Fault) -> Callable[[Any], Any]:
    from bft_twin.run import _LAMBDA_SERVICE_EXCEPTION

    p = fault.params
    calls: list[int] = []

    def wrapper(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def crashing(event: Any, context: Any) -> Any:
            calls.append(1)
            hit = len(calls) == p["invocation"]
            if hit and p["when"] == "before":
                fault.fire()
                raise _LAMBDA_SERVICE_EXCEPTION(f"{p['function']}: the invocation failed before it ran (chaos)")
            result = handler(event, context)
            if hit:
                fault.fire()
                raise _LAMBDA_SERVICE_EXCEPTION(f"{p['function']}: the invocation's result was lost (chaos)")
            return result

        return crashing

    return wrapper


Route = Callable[[dict[str, Any]], list[dict[str, Any]]]


def _compose(routes: list[Route]) -> Route:
    def route(event: dict[str, Any]) -> list[dict[str, Any]]:
        events = [event]
        for step in routes:
            events = [out for e in events for out in step(e)]
        return events

    return route


def _event_route(world: World, fault: Fault) -> Route:
    from bft_twin.run import _job_status

    p = fault.params

    def matches(event: dict[str, Any]) -> bool:
        status = _job_status(event)
        return status in _FINAL_JOB_STATUSES if p["status"] == "final" else status == p["status"]

    if p["mode"] == "lost":

        def lose(event: dict[str, Any]) -> list[dict[str, Any]]:
            if matches(event):
                fault.fire()
                return []
            return [event]

        return lose
    if p["mode"] == "duplicated":

        def twice(event: dict[str, Any]) -> list[dict[str, Any]]:
            if matches(event):
                fault.fire()
                return [event, event]
            return [event]

        return twice
    if p["mode"] == "delayed":

        def later(event: dict[str, Any]) -> list[dict[str, Any]]:
            if matches(event) and world.deliver is not None:
                fault.fire()
                timer = threading.Timer(p["delay_s"], world.deliver, args=(event,))
                timer.daemon = True
                timer.start()
                return []
            return [event]

        return later
    # out-of-order: the InProgress event is held back and arrives after the job's final event.
    held: list[dict[str, Any]] = []

    def reorder(event: dict[str, Any]) -> list[dict[str, Any]]:
        if matches(event):
            fault.fire()
            held.append(event)
            return []
        if _job_status(event) in _FINAL_JOB_STATUSES:
            late = [event, *held]
            held.clear()
            return late
        return [event]

    return reorder


class _WireFaults:
    """Answers some HTTP attempts of the pipeline's functions (S3, DynamoDB, SNS, SSM, Step Functions) with a
    throttle or a 5xx in the service's own wire format, at ``before-send``: botocore's retry handler, parser
    and error factory act on it as on the same answer from AWS."""

    def __init__(self, env: OfflineAssembly, faults: list[Fault]) -> None:
        self.env = env
        self.faults = faults
        self.remaining = {id(f): f.params["times"] for f in faults}
        self.skips = {id(f): f.params["skip"] for f in faults}
        self.lock = threading.Lock()
        # Lambda gives each function a session of its execution role named after the function.
        self.sessions = {env._find_function(name).function_name for name in env.function_names}

    def install(self) -> None:
        import sys

        services = {f.params["service"] for f in self.faults}
        # moto answers at before-send too, and botocore calls every before-send handler even after one has
        # answered: an attempt answered with an error here must not also reach moto's backend (a throttled
        # Publish that moto would still deliver). moto's stubber is called only for attempts not answered.
        stubber = getattr(sys.modules.get("moto.core.models"), "botocore_stubber", None)

        def send(request: Any, event_name: str = "", **kwargs: Any) -> Any:
            answer = self.answer(request, event_name)
            if answer is not None or stubber is None:
                return answer
            return stubber(event_name=event_name, request=request, **kwargs)

        def attach(client: Any) -> None:
            model = client.meta.service_model
            if model.service_name in services and client.meta.region_name == self.env.region:
                if stubber is not None:
                    client.meta.events.unregister("before-send", stubber)
                client.meta.events.register("before-send", send)

        self.env.on_new_client(attach)

    def answer(self, request: Any, event_name: str) -> Any:
        authorization = request.headers.get("Authorization") or b""
        if isinstance(authorization, bytes):
            authorization = authorization.decode()
        key = authorization.split("Credential=", 1)[-1].split("/", 1)[0] if "Credential=" in authorization else None
        try:
            principal = self.env.authorizer.principal_of(key)
        except Exception:  # a key this world did not issue: not a pipeline function's call
            principal = None
        session = (principal.session_arn or "").rsplit("/", 1)[-1] if principal is not None else ""
        if session not in self.sessions:
            return None  # the operator, a person, Bedrock's service role: not the pipeline's functions
        operation = event_name.rsplit(".", 1)[-1]
        service = event_name.split(".")[1] if event_name.count(".") >= 2 else ""
        with self.lock:
            for fault in self.faults:
                p = fault.params
                if _service_id(p["service"]) != service or p["operation"] not in (None, operation):
                    continue
                if self.remaining[id(fault)] <= 0:
                    continue
                if self.skips[id(fault)] > 0:
                    self.skips[id(fault)] -= 1
                    continue
                self.remaining[id(fault)] -= 1
                fault.fire()
                return error_response(p["service"], request.url, p["code"], p["status"])
        return None


def _service_id(service: str) -> str:
    return {"stepfunctions": "sfn"}.get(service, service)


def error_response(service: str, url: str, code: str, status: int) -> Any:
    """An AWS error answer as ``service`` puts it on the wire (its protocol's body and headers)."""
    from botocore.awsrequest import AWSResponse

    from bft_twin.bedrock_fake._wire import RawBody

    message = f"{code} (injected by the chaos run)"
    headers: dict[str, str] = {"x-amzn-RequestId": "chaos-0000"}
    if service == "s3":
        body = f"<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        headers["Content-Type"] = "application/xml"
    elif service == "sns":
        body = (
            '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>chaos-0000</RequestId></ErrorResponse>"
        )
        headers["Content-Type"] = "text/xml"
    else:  # the JSON protocols: DynamoDB, Step Functions, SSM
        body = '{"__type": "%s", "message": "%s"}' % (code, message)  # noqa: UP031
        headers["Content-Type"] = "application/x-amz-json-1.0"
    return AWSResponse(url, status, headers, RawBody(body.encode()))  # type: ignore[arg-type]


# -- the invariants -----------------------------------------------------------------------------------------


def check_invariants(summary: Mapping[str, Any]) -> dict[str, bool]:
    """Each invariant of a chaos run, judged from the run's summary: name -> held."""
    status = summary.get("status")
    visited = summary.get("states_visited") or []
    outcome = summary.get("outcome")
    deployed = outcome == "deployed"
    notifications = [n for n in summary.get("notifications") or [] if not _is_approval_request(n)]
    return {
        "terminal_state": status in TERMINAL_STATES and bool(visited) and visited[-1] == TERMINAL_STATES[status],
        "documented_outcome": outcome in DOCUMENTED_OUTCOMES and (status == "SUCCEEDED") == deployed,
        "at_most_one_job": int(summary.get("jobs_started", 0)) <= 1,
        # Customization jobs and the LLM judge's evaluation jobs: both bill while they run.
        "no_job_running": int(summary.get("jobs_left_running", 0)) == 0
        and int(summary.get("evaluation_jobs_left_running", 0)) == 0,
        "nothing_serving_unless_deployed": deployed
        or not (summary.get("provisioned_throughputs_left") or summary.get("deployments_left")),
        "one_final_notification": len(notifications) == 1,
        "report_written": bool(summary.get("report_uri")) and summary.get("report") is not None,
    }


def _is_approval_request(notification: Mapping[str, Any]) -> bool:
    """RequestApproval's message to the reviewers is not the run's final notification."""
    return "approval needed:" in str(notification.get("subject", ""))


def run_chaos(seed: int, **kwargs: Any) -> dict[str, Any]:
    """Run the chaos schedule of ``seed`` (``kwargs`` as :func:`bft_twin.run.run_scenario`'s) and return its
    summary with ``seed``, ``faults`` and ``invariants``."""
    from bft_twin.run import choose, environment_of, run_scenario

    assembly = kwargs.get("assembly")
    environment = kwargs.get("environment") or (environment_of(assembly) if assembly is not None else None)
    model, environment = choose("success", kwargs.get("model"), environment)
    reach = Reach.of(environment, model)
    faults = draw(seed, reach)
    kwargs = {**kwargs, "environment": environment, "model": model}
    chaos = scenario(seed, faults)
    try:
        summary = run_scenario(chaos.name, scenario=chaos, **kwargs)
    except TimeoutError as exc:  # the execution never ended: every invariant is judged on that
        summary = {"scenario": chaos.name, "status": "RUNNING", "outcome": None, "error": str(exc)}
    summary["expected_outcome"] = None
    summary["seed"] = seed
    summary["faults"] = [f.to_json() for f in faults]
    summary["reach"] = {"serving": reach.serving, "reviewers": reach.reviewers}
    summary["faults_could_not_act"] = [f.description for f in could_not_act(faults, reach)]
    summary["faults_not_exercised"] = [f["what"] for f in summary["faults"] if not f["exercised"]]
    summary["invariants"] = check_invariants(summary)
    return summary
