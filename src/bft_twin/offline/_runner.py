"""The :class:`OfflineAssembly` context manager: a synthesized assembly, stood up in moto.

Its floors, lowest first: ``_deployment.py`` creates the resources and looks them up (the base class),
``_executions.py`` polls executions and reads their history, ``_moto.py`` and ``_function_urls.py`` hold
what needs no running environment; this module starts and stops moto, gives the functions their
identities, and runs functions, rules and executions.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from unittest import mock

import boto3
import botocore.endpoint
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.events.models import Rule
from moto.stepfunctions.responses import StepFunctionResponse

from bft import aws
from bft_twin.iam.authorizer import AccessDeniedError, Authorizer, Credentials
from bft_twin.iam.model import Principal
from bft_twin.iam.store import PolicyStore
from bft_twin.iam.world import MotoWorld
from bft_twin.offline import _events
from bft_twin.offline._assembly import AssemblyError, load_stacks
from bft_twin.offline._clock import RateSchedule, VirtualClock, _Shim, moto_patches
from bft_twin.offline._deployment import Deployment
from bft_twin.offline._executions import ExecutionResult, stop_running_executions, wait_for_execution
from bft_twin.offline._function_urls import function_url_event, verified_caller
from bft_twin.offline._imports import IMPORTS
from bft_twin.offline._intrinsics import IntrinsicError
from bft_twin.offline._lambda import Invocation, suspended
from bft_twin.offline._moto import (
    MOTO_CONFIG,
    MOTO_EVAL_LOGGER,
    drop_handled_failures,
    lambda_task_error_names,
    send_task_failure_with_cause,
    states_credentials_patches,
)
from bft_twin.offline._resources import ResourceFactory, RuleSpec

__all__ = ["OfflineAssembly"]

logger = logging.getLogger(__name__)

_environments = count(1)

# The AWS managed policy CDK's bootstrap attaches to the execution role unless told otherwise.
ADMINISTRATOR_ACCESS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


class OfflineAssembly(Deployment):
    """Stands up every stack of a synthesized cloud assembly in moto and runs its state machine.

    Lambda invocations of the assembly's functions (from the state machine, SNS,
    event source mappings, :meth:`put_event` and :meth:`run_scheduled_rules`) run
    the real handler code from the assembly's asset folders, in this process.
    """

    def __init__(
        self,
        assembly_dir: Path | str,
        *,
        region: str = "us-west-2",
        account_id: str = "123456789012",
        partition: str = "aws",
        time_factor: float = 1.0,
    ) -> None:
        # Virtual seconds per real second for every wait of the state machine and the rate schedules;
        # the clock starts when the environment does (`env.clock`).
        self.time_factor = time_factor
        self.clock = VirtualClock(time_factor)
        self._mock: Any = None
        self._patches: list[Any] = []
        self._saved_account: str | None = None
        self._imports_installed = False
        super().__init__(assembly_dir, region=region, account_id=account_id, partition=partition)

    def _reset(self) -> None:
        super()._reset()
        # Friendly name (construct path relative to the stack, e.g. "WorkFunction") -> in-process invocations.
        self.invocations: Counter[str] = Counter()
        self.invocation_log: list[Invocation] = []
        self.rule_executions: list[str] = []  # executions started by rules that target a state machine
        self.denied_deliveries: list[str] = []  # rule deliveries the function's resource policy refused
        self.store = PolicyStore(partition=self._pseudo.partition)
        self.authorizer = Authorizer(
            self.store,
            account=self.account_id,
            region=self.region,
            partition=self._pseudo.partition,
            clock=lambda: self.clock.now(),  # aws:CurrentTime and aws:EpochTime are the world's virtual time
        )
        self.world = MotoWorld(account=self.account_id, region=self.region, partition=self._pseudo.partition)
        self.authorizer.world = self.world
        self._client_hooks: list[Callable[[Any], None]] = []
        self._schedules: dict[str, RateSchedule] = {}  # rule ARN -> its rate schedule on the virtual clock
        self._schedule_origin = 0.0
        # What AWS creates but warns about (bft_twin.deploy_checks), and what adds up across resources.
        self.deploy_warnings: list[str] = []
        self._deploy_tallies: dict[str, int] = {}

    # -- lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        if self._mock is not None:
            raise RuntimeError("this OfflineAssembly is already running")
        self._reset()
        self._stacks = load_stacks(self.assembly_dir)  # fail on a bad assembly before touching anything
        self.clock = VirtualClock(self.time_factor)
        self._saved_account = os.environ.get("MOTO_ACCOUNT_ID")
        try:
            # moto takes the account from this variable first, for every client, including the
            # interpreter's own clients running the state machine in its worker threads.
            os.environ["MOTO_ACCOUNT_ID"] = self.account_id
            self._mock = mock_aws(config=MOTO_CONFIG)
            self._mock.start()
            # Clients of the installed package (the CLI's) must be created inside the mock. Handlers use their
            # own bft (their layer's), one per function and environment: see _imports.py.
            aws.reset()
            IMPORTS.install()
            self._imports_installed = True
            for patch in (
                mock.patch.object(LambdaFunction, "_invoke_lambda", self._patched_invoke()),
                mock.patch.object(StepFunctionResponse, "send_task_failure", send_task_failure_with_cause),
                *lambda_task_error_names(),
                mock.patch.object(Rule, "send_to_targets", self._patched_send_to_targets()),
                *moto_patches(self.clock),
                # A client's own retries (standard mode) back off in virtual time too, releasing the runtime.
                mock.patch.object(botocore.endpoint, "time", _Shim(time, sleep=self.sleep)),
            ):
                patch.start()
                self._patches.append(patch)
            logging.getLogger(MOTO_EVAL_LOGGER).addFilter(drop_handled_failures)
            self._factory = ResourceFactory(
                clients=self.clients,
                pseudo=self._pseudo,
                module_prefix=f"_bft_offline_{next(_environments)}",
                store=self.store,
            )
            for stack in self._stacks:
                self._create_stack(stack)
            self._give_functions_their_roles()
            for function in self._functions.values():
                function.clock = self.clock.elapsed  # context.get_remaining_time_in_millis() is virtual
            runtime = self.runtime()
            if not runtime["matches"]:
                logger.warning(
                    "handlers run on Python %s, the functions deploy on %s",
                    runtime["python"],
                    ", ".join(runtime["function_runtimes"]),
                )
            for stack in self._stacks:
                digest = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.account_id}/{self.region}/{stack.name}")
                self.world.stack_ids[stack.name] = (
                    f"arn:{self._pseudo.partition}:cloudformation:{self.region}:{self.account_id}:"
                    f"stack/{stack.name}/{digest}"
                )
            self.on_new_client(self._answer_describe_stacks)
            self.authorizer.install()
            for patch in states_credentials_patches(self._states_credentials):
                patch.start()
                self._patches.append(patch)
            # Rate schedules count from when the environment is ready, as from a rule's creation.
            self._schedule_origin = self.clock.now()
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._teardown()

    def _teardown(self) -> None:
        try:
            self._stop_running_executions()
        finally:
            self.authorizer.uninstall()
            for patch in reversed(self._patches):
                patch.stop()
            self._patches.clear()
            logging.getLogger(MOTO_EVAL_LOGGER).removeFilter(drop_handled_failures)
            for function in self._functions.values():
                function.unload()
            if self._imports_installed:
                IMPORTS.uninstall()
                self._imports_installed = False
            if self._factory is not None:  # the handler modules of this environment
                prefix = self._factory.module_prefix
                for name in [name for name in sys.modules if name.startswith(prefix + "_")]:
                    del sys.modules[name]
            aws.reset()
            if self._mock is not None:
                self._mock.stop()
                self._mock = None
            if self._saved_account is None:
                os.environ.pop("MOTO_ACCOUNT_ID", None)
            else:
                os.environ["MOTO_ACCOUNT_ID"] = self._saved_account
            self._clients.clear()
            self._session = None

    def _deploy_context(self, stack: Any) -> Any:
        """The deploy-time checks' view (:mod:`bft_twin.deploy_checks`): CloudFormation creates ``stack`` as its
        execution role (CDK's bootstrap role by default, with AdministratorAccess: an assumption)."""
        from bft_twin.deploy_checks import DeployContext

        p = self._pseudo
        role = stack.execution_role or "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-cfn-exec-role"
        for name, value in (
            ("AWS::Partition", p.partition),
            ("AWS::AccountId", p.account_id),
            ("AWS::Region", p.region),
        ):
            role = role.replace("${" + name + "}", value)
        session = f"arn:{p.partition}:sts::{p.account_id}:assumed-role/{role.rsplit('/', 1)[-1]}/AWSCloudFormation"
        return DeployContext(
            store=self.store,
            pseudo=p,
            clock=self.clock.now,
            deployer=Principal(role, account=p.account_id, session_arn=session, tags_known=False),
            deployer_policy=ADMINISTRATOR_ACCESS,
            warnings=self.deploy_warnings,
            tallies=self._deploy_tallies,
        )

    def _stop_running_executions(self) -> None:
        # Executions run in moto's worker threads; stop them so none outlives the mock.
        if self._factory is None or self._mock is None:
            return
        stop_running_executions(
            self.clients("stepfunctions"),
            (machine.arn for machine in self._factory.state_machines),
            account_id=self.account_id,
            region=self.region,
        )

    # -- identities ---------------------------------------------------------------------------------

    def _give_functions_their_roles(self) -> None:
        """Each function runs as its execution role, as Lambda does: credentials in the environment and a
        client cache of its own (each function is its own process in AWS)."""
        for function in self._functions.values():
            if function.role_arn is None:
                raise AssemblyError(f"{function.stack}/{function.logical_id}: a function without a role")
            try:
                credentials = self.authorizer.assume_role(
                    Principal("lambda.amazonaws.com", type="Service"),
                    function.role_arn,
                    function.function_name,
                    context={"aws:SourceAccount": self.account_id},
                )
            except AccessDeniedError as denied:
                # CreateFunction refuses a role that Lambda cannot assume: the deployment would fail.
                raise AssemblyError(f"{function.stack}/{function.logical_id}: {denied}") from denied
            function.environment = {**function.environment, **credentials.environment()}
            function.scope = self._function_scope(function.friendly_name, credentials)
            function.wrap_handler(self._virtual_time(function))

    def _function_scope(self, name: str, credentials: Credentials) -> Callable[[], Any]:
        session = self.authorizer.session(credentials)

        @contextmanager
        def scope() -> Iterator[None]:
            # The function's clients come from boto3's default session, made its role's meanwhile: its own
            # bft.aws (its own module tree, see _imports.py) keeps them, as its own process would in AWS.
            # Invocations are serialized, so swapping the process-wide default is safe.
            saved = boto3.DEFAULT_SESSION
            boto3.DEFAULT_SESSION = session
            try:
                # A handler computes: the virtual clock runs at real speed meanwhile (see _clock.py).
                with self.authorizer.running_function(name), self.clock.busy():
                    yield
            finally:
                boto3.DEFAULT_SESSION = saved

        return scope

    def _virtual_time(self, function: Any) -> Callable[[Any], Any]:
        """At the function's cold start, its own copy of ``bft.clock`` (the product's one place to read the time)
        reads this world's virtual clock: a handler sees the time the state machine and Bedrock see."""

        def at_cold_start(handler: Any) -> Any:
            own = function.module("bft.clock")
            if own is not None:  # code that reads no time (an inline custom resource) has none
                own.use(time=self.clock.now, monotonic=self.clock.elapsed, sleep=self.clock.sleep)
            proofs = function.module("bft.workflow.caller_proof")
            if proofs is not None:  # the proofs of who calls go to this world's STS, not over the network
                proofs.use_transport(self.sts_transport())
            return handler

        return at_cold_start

    def function_module(self, function: str, name: str) -> Any:
        """The module ``name`` (e.g. ``"bft.aws"``) as ``function`` runs it: its layer's copy, after its cold
        start. To replace a function's client: ``env.function_module(f, "bft.aws").override(service, client)``."""
        found = self._find_function(function).module(name)
        if found is None:
            raise LookupError(f"{function} has not imported {name} (not invoked yet, or its code does not use it)")
        return found

    def _states_credentials(self, role_arn: str | None, machine_arn: str | None) -> Credentials:
        """What a state machine's service integrations call AWS with: its role, assumed by Step Functions."""
        if role_arn is None or machine_arn is None:
            raise RuntimeError("a Step Functions task without a role: the offline run cannot tell who calls")
        return self.authorizer.assume_role(
            Principal("states.amazonaws.com", type="Service"),
            role_arn,
            "StepFunctions",
            context={"aws:SourceAccount": self.account_id, "aws:SourceArn": machine_arn},
        )

    def session_as(
        self, role_arn: str, session_name: str, *, caller: str | None = None, source_identity: str | None = ""
    ) -> boto3.session.Session:
        """A boto3 session of ``role_arn``, assumed by ``caller`` (a person's principal ARN) through its trust
        policy -- how a team member or a reviewer uses the pipeline offline. The person names itself as the
        session's source identity (``source_identity``; the session name by default, None for none)."""
        # A person's role lies outside the assembly: its tags and role id are not known offline.
        principal = Principal(caller or role_arn, account=(caller or role_arn).split(":")[4], tags_known=False)
        identity = session_name if source_identity == "" else source_identity
        credentials = (
            self.authorizer.assume_role(principal, role_arn, session_name, source_identity=identity)
            if caller is not None
            else self.authorizer.credentials(role_arn, session_name)
        )
        return self.authorizer.session(credentials)

    def authorize_service_invoke(self, service: str, function_arn: str, *, source_arn: str) -> None:
        """A service (EventBridge, CloudWatch, SNS) invoking a function: its resource policy decides."""
        from bft_twin.iam.actions import ActionRequest, Call, ResourceRef

        call = Call("lambda", "Invoke", {"FunctionName": function_arn}, self.region, self.account_id)
        needed = ActionRequest(
            action="lambda:InvokeFunction",
            resource=function_arn,
            context={},
            resource_policy=ResourceRef("lambda-function", function_arn),
        )
        refused = self.authorizer.decide(
            Principal(service, type="Service"),
            call,
            context={"aws:SourceArn": source_arn, "aws:SourceAccount": self.account_id},
            requests=[needed],
        )
        if refused is not None:
            from bft_twin.iam.evaluate import access_denied_message
            from bft_twin.iam.model import AuthRequest

            request, decision = refused
            message = access_denied_message(
                AuthRequest(Principal(service, type="Service"), request.action, request.resource), decision
            )
            raise AccessDeniedError(message, action=request.action)

    def attach_bedrock(self, fake: Any) -> None:
        """Serve every Bedrock client of this region from ``fake`` (a :class:`~bft_twin.bedrock_fake.FakeBedrock`),
        each calling as its own identity; the authorization's Bedrock lookups read the fake. While the fake's
        stand-ins compute, the world's clock stands still (their compute time is never simulated time)."""
        self.world.fake = fake
        fake.freeze_time_with(self.clock.frozen)

        def attach(client: Any) -> None:
            bedrock = client.meta.service_model.service_name in ("bedrock", "bedrock-runtime")
            if bedrock and client.meta.region_name == self.region:
                fake.attach(client)

        self.on_new_client(attach)

    def function_url_transport(self) -> Callable[[Any], tuple[int, bytes]]:
        """What a SigV4-signed HTTP request to one of the assembly's function URLs gets, as Lambda answers it:
        the signature is checked with the credentials this world issued, the caller must be allowed
        lambda:InvokeFunctionUrl and lambda:InvokeFunction, and the handler gets the URL's payload (2.0)
        with the verified caller under ``requestContext.authorizer.iam``."""
        return lambda request: self._function_url(request)

    def sts_transport(self) -> Callable[[Any], tuple[int, bytes]]:
        """What STS answers a SigV4-signed GetCallerIdentity sent over HTTPS (a caller's proof, sent on by a
        function): the signer's ARN if the signature checks with credentials this world issued, else 403.
        (Unlike STS, the twin does not expire a signature after 15 minutes.)"""
        from bft.workflow.caller_proof import identity_document

        def answer(request: Any) -> tuple[int, bytes]:
            body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
            if request.url != f"https://sts.{self.region}.amazonaws.com/" or b"Action=GetCallerIdentity" not in body:
                return 400, b"<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>"
            caller = verified_caller(self.authorizer, self.region, request, service_wanted="sts")
            if caller is None:
                message = b"The request signature we calculated does not match the signature you provided."
                return 403, b"<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>" + message + (
                    b"</Message></Error></ErrorResponse>"
                )
            arn = caller.session_arn or caller.arn
            return 200, identity_document(arn, caller.account or self.account_id, caller.userid or arn)

        return answer

    def _function_url(self, request: Any) -> tuple[int, bytes]:
        from urllib.parse import urlsplit

        from bft_twin.iam.actions import Call, function_url_requests
        from bft_twin.iam.actions._common import resource_tag_context

        assert self._factory is not None, "use inside `with OfflineAssembly(...)`"
        parts = urlsplit(request.url)
        found = self._factory.function_urls.get(f"{parts.scheme}://{parts.netloc}/")
        if found is None:
            return 404, b'{"Message": "Not Found"}'
        function_arn, auth_type = found
        forbidden = 403, json.dumps({"Message": "Forbidden"}).encode()
        caller = None
        if auth_type == "AWS_IAM":
            caller = verified_caller(self.authorizer, self.region, request)
            if caller is None:
                return forbidden
            refused = self.authorizer.decide(
                caller,
                Call("lambda", "InvokeFunctionUrl", {}, self.region, self.account_id),
                requests=function_url_requests(function_arn, auth_type, resource_tag_context(self.world, function_arn)),
            )
            if refused is not None:
                return forbidden
        function = self._find_function(function_arn.split(":")[6])
        invocation = self._record(function.invoke(function_url_event(request, parts, caller), source="function-url"))
        if invocation.error is not None or not isinstance(invocation.result, dict):
            return 502, b'{"Message": "Internal Server Error"}'
        answer = invocation.result
        raw = answer.get("body", "")
        return int(answer.get("statusCode", 200)), raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()

    def _answer_describe_stacks(self, client: Any) -> None:
        """The stacks are stood up without CloudFormation, so moto's has none: DescribeStacks (after its
        authorization) answers from what the runner deployed -- how the bft CLI finds a deployment."""
        if client.meta.service_model.service_name != "cloudformation":
            return

        def describe(params: Mapping[str, Any], **_: Any) -> Any:
            from botocore.awsrequest import AWSResponse

            body = params.get("body") or {}
            wanted = body.get("StackName") if isinstance(body, Mapping) else None
            stacks = []
            for stack in self._stacks:
                arn = self.world.stack_ids[stack.name]
                if wanted not in (None, stack.name, arn):
                    continue
                outputs = []
                for (name, key), value in self._outputs.items():
                    if name == stack.name and not isinstance(value, IntrinsicError):
                        shown = value if isinstance(value, str) else json.dumps(value)
                        outputs.append({"OutputKey": key, "OutputValue": shown})
                stacks.append(
                    {
                        "StackId": arn,
                        "StackName": stack.name,
                        "CreationTime": datetime.now(UTC),
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": outputs,
                    }
                )
            headers: Any = {}
            if wanted is not None and not stacks:
                error = {"Code": "ValidationError", "Message": f"Stack with id {wanted} does not exist"}
                return AWSResponse("", 400, headers, None), {
                    "Error": error,
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                }
            return AWSResponse("", 200, headers, None), {"Stacks": stacks, "ResponseMetadata": {"HTTPStatusCode": 200}}

        client.meta.events.register_first("before-call.cloudformation.DescribeStacks", describe)

    def on_new_client(self, hook: Callable[[Any], None]) -> None:
        """Call ``hook`` with every botocore client the first time it makes a call (e.g. to attach a fake)."""
        self.authorizer.client_hooks.append(hook)

    # -- executions ---------------------------------------------------------------------------------

    def start_execution(
        self,
        input: Mapping[str, Any] | str | None = None,
        *,
        name: str | None = None,
        state_machine: str | None = None,
    ) -> str:
        """Start an execution; returns its ARN at once (moto runs it in a background thread)."""
        payload = input if isinstance(input, str) else json.dumps(dict(input or {}))
        response = self.clients("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn(state_machine), name=name or str(uuid.uuid4()), input=payload
        )
        return str(response["executionArn"])

    def wait(
        self,
        execution_arn: str,
        timeout: float = 120.0,
        poll_interval: float = 0.05,
        progress: Callable[[str], None] | None = None,
    ) -> ExecutionResult:
        """Poll until the execution leaves RUNNING; raises ``TimeoutError`` naming the states visited.

        ``progress`` (e.g. ``print``) is told each state as the execution enters it.
        """
        return wait_for_execution(
            self.clients("stepfunctions"),
            execution_arn,
            timeout=timeout,
            poll_interval=poll_interval,
            progress=progress,
        )

    # -- lambda -------------------------------------------------------------------------------------

    def invoke(self, function: str, event: Any) -> Invocation:
        """Invoke a function of the assembly in process (friendly name, logical id or physical name)."""
        return self._record(self._find_function(function).invoke(event, source="direct"))

    def wrap_handler(self, function: str, wrapper: Callable[[Any], Any]) -> None:
        """Run a function's handler through ``wrapper(handler)`` (see :meth:`InProcessFunction.wrap_handler`)."""
        self._find_function(function).wrap_handler(wrapper)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of virtual time; a handler waiting so lets other invocations run meanwhile."""
        with suspended():
            self.clock.sleep(seconds)

    def function_timeout(self, function: str) -> float:
        """A function's Lambda timeout in seconds (its template's ``Timeout``)."""
        return self._find_function(function).timeout_s

    def _record(self, invocation: Invocation) -> Invocation:
        with self._lock:
            self.invocations[invocation.function] += 1
            self.invocation_log.append(invocation)
        if invocation.error:  # expected in failure paths; the log and the history keep the details
            logger.debug(
                "%s raised %s: %s", invocation.function, invocation.error["errorType"], invocation.error["errorMessage"]
            )
        return invocation

    def _patched_invoke(self) -> Any:
        original = LambdaFunction._invoke_lambda
        runner = self

        def _invoke_lambda(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            target = runner._functions.get((function.account_id, function.region, function.function_name))
            if target is None:  # not ours (another test's function): moto's own behaviour
                return original(function, event)
            if isinstance(event, (str, bytes)):
                event = json.loads(event or "{}")
            invocation = runner._record(target.invoke(event, source="lambda:invoke"))
            if invocation.error is not None:
                return json.dumps(invocation.error), True, ""
            return json.dumps(invocation.result), False, ""

        return _invoke_lambda

    # -- events -------------------------------------------------------------------------------------

    def put_event(self, event: Mapping[str, Any], *, event_bus: str | None = None) -> list[Invocation]:
        """Deliver an event to the targets of every matching rule (of ``event_bus`` if given), synchronously.

        Returns the in-process invocations it caused. A failing target does not
        raise (EventBridge delivery is asynchronous): look at ``Invocation.error``.
        """
        complete = _events.complete_event(event, region=self.region, account_id=self.account_id)
        invocations: list[Invocation] = []
        for rule in self._rules():
            if rule.pattern is None or not rule.enabled or (event_bus and rule.event_bus != event_bus):
                continue
            if _events.matches(rule.pattern, complete):
                invocations.extend(self._deliver(rule, complete, source=f"rule:{rule.name}"))
        return invocations

    def run_scheduled_rules(self) -> list[Invocation]:
        """Fire every enabled rule with a ``ScheduleExpression`` once, as if its schedule came due."""
        invocations: list[Invocation] = []
        for rule in self._rules():
            if rule.schedule is not None and rule.enabled:
                event = _events.scheduled_event(rule.arn, region=self.region, account_id=self.account_id)
                invocations.extend(self._deliver(rule, event, source=f"schedule:{rule.name}"))
        return invocations

    def run_due_schedules(self) -> list[Invocation]:
        """Fire each enabled ``rate()`` rule once per period of *virtual* time that came due since the last
        call (every missed occurrence, oldest first, its event's ``time`` the occurrence's).

        The first occurrence is one period after the environment was ready, as after a rule's creation.
        Call it often (the scenarios' background loop does); a ``cron()`` schedule raises NotImplementedError.
        """
        now = self.clock.now()
        invocations: list[Invocation] = []
        for rule in self._rules():
            if rule.schedule is None or not rule.enabled:
                continue
            schedule = self._schedules.get(rule.arn)
            if schedule is None or schedule.expression != rule.schedule:
                schedule = RateSchedule.parse(rule.schedule, origin=self._schedule_origin)
                self._schedules[rule.arn] = schedule
            for due in schedule.due(now):
                event = _events.scheduled_event(rule.arn, region=self.region, account_id=self.account_id)
                event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(due))
                invocations.extend(self._deliver(rule, event, source=f"schedule:{rule.name}"))
        return invocations

    def _patched_send_to_targets(self) -> Any:
        """Events that reach moto's PutEvents (from handlers, ``events:putEvents`` tasks, S3) go to our rules.

        moto calls ``Rule.send_to_targets`` for every rule of the bus; the rules it
        holds have no targets (moto cannot deliver to Lambda), so the runner
        delivers to the targets it recorded, synchronously, before PutEvents returns.
        """
        original = Rule.send_to_targets
        runner = self

        def send_to_targets(rule: Rule, original_event: Any, transform_input: bool = True) -> None:
            ours = next((r for r in runner._rules() if r.arn == rule.arn), None)
            if ours is not None and ours.enabled and ours.pattern is not None:
                event = dict(original_event)
                event.pop("ingestion-time", None)
                if isinstance(event.get("time"), (int, float)):
                    event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event["time"]))
                if _events.matches(ours.pattern, event):
                    list(runner._deliver(ours, event, source=f"rule:{ours.name}"))
            original(rule, original_event, transform_input)

        return send_to_targets

    def _rules(self) -> list[RuleSpec]:
        assert self._factory is not None, "use inside `with OfflineAssembly(...)`"
        return self._factory.rules

    def _deliver(self, rule: RuleSpec, event: Mapping[str, Any], *, source: str) -> Iterator[Invocation]:
        for target in rule.targets:
            arn = str(target["Arn"])
            payload = _events.target_input(target, event, rule_name=rule.name, rule_arn=rule.arn)
            service = arn.split(":")[2] if arn.count(":") >= 5 else ""
            if service == "lambda":
                try:
                    function = self._find_function(arn.split(":")[6])
                except LookupError:
                    logger.warning("rule %s: target %s is not a function of the assembly", rule.name, arn)
                    continue
                try:
                    self.authorize_service_invoke("events.amazonaws.com", function.function_arn, source_arn=rule.arn)
                except AccessDeniedError as denied:
                    # EventBridge retries and then drops the event; the function never runs.
                    logger.warning("rule %s: %s", rule.name, denied)
                    self.denied_deliveries.append(str(denied))
                    continue
                yield self._record(function.invoke(payload, source=source))
            elif service == "states":
                started = self.clients("stepfunctions").start_execution(stateMachineArn=arn, input=json.dumps(payload))
                self.rule_executions.append(started["executionArn"])
            elif service == "sns":
                self.clients("sns").publish(TopicArn=arn, Message=json.dumps(payload))
            elif service == "sqs":
                sqs = self.clients("sqs")
                url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
                sqs.send_message(QueueUrl=url, MessageBody=json.dumps(payload))
            else:
                logger.warning("rule %s: target %s is not delivered offline", rule.name, arn)
