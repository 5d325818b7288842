"""The :class:`OfflineAssembly` context manager: a synthesized assembly, stood up in moto."""

from __future__ import annotations

import functools
import json
import logging
import os
import platform
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from unittest import mock

import boto3
import botocore.endpoint
import botocore.loaders
import botocore.session
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.core.responses import ActionResult, EmptyResult
from moto.events.models import Rule
from moto.sns.models import sns_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from moto.stepfunctions.responses import StepFunctionResponse

from bft import aws
from bft_twin.iam.authorizer import OPERATOR_ACCESS_KEY, AccessDeniedError, Authorizer, Credentials
from bft_twin.iam.model import Principal
from bft_twin.iam.store import PolicyStore
from bft_twin.iam.world import MotoWorld
from bft_twin.offline import _events
from bft_twin.offline._assembly import AssemblyError, ResourceSpec, StackSpec, load_stacks, references
from bft_twin.offline._clock import RateSchedule, VirtualClock, _Shim, moto_patches
from bft_twin.offline._imports import IMPORTS
from bft_twin.offline._intrinsics import IntrinsicError, Pseudo, Resolver
from bft_twin.offline._lambda import InProcessFunction, Invocation, suspended
from bft_twin.offline._resources import Created, ResourceFactory, RuleSpec

__all__ = ["ExecutionResult", "OfflineAssembly"]

logger = logging.getLogger(__name__)

_MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},  # run the ASL, not a stub
    "lambda": {"use_docker": True},  # the backend whose LambdaFunction._invoke_lambda we replace
}
_environments = count(1)
_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class ExecutionResult:
    """How an execution ended, with its full history."""

    execution_arn: str
    status: str  # SUCCEEDED, FAILED, TIMED_OUT or ABORTED
    output: Any  # the parsed JSON output (usually a dict), None unless SUCCEEDED
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]
    state_transitions: int  # number of *StateEntered events
    states_visited: list[str]  # state names in the order they were entered
    lambda_invocations: int  # Lambda invocations the execution scheduled (retries included)

    def events(self, event_type: str) -> list[dict[str, Any]]:
        """History events of one type, e.g. ``"TaskFailed"`` or ``"LambdaFunctionFailed"``."""
        return [event for event in self.history if event["type"] == event_type]


class OfflineAssembly:
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
        self.assembly_dir = Path(assembly_dir)
        # Virtual seconds per real second for every wait of the state machine and the rate schedules;
        # the clock starts when the environment does (`env.clock`).
        self.time_factor = time_factor
        self.clock = VirtualClock(time_factor)
        self.region = region
        self.account_id = account_id
        self._pseudo = Pseudo(region=region, account_id=account_id, partition=partition)
        self._lock = threading.Lock()
        self._mock: Any = None
        self._patches: list[Any] = []
        self._saved_account: str | None = None
        self._imports_installed = False
        self._reset()

    def _reset(self) -> None:
        self._stacks: list[StackSpec] = []
        self._created: dict[tuple[str, str], Created] = {}
        self._outputs: dict[tuple[str, str], Any] = {}  # (stack, output name) -> value or the error
        self._exports: dict[str, Any] = {}
        self._functions: dict[tuple[str, str, str], InProcessFunction] = {}  # (account, region, name)
        self._factory: ResourceFactory | None = None
        self._clients: dict[str, Any] = {}
        self._session: boto3.session.Session | None = None
        self.skipped: dict[str, str] = {}  # "stack/logical id" -> type, for resources not created
        # Friendly name (construct path relative to the stack, e.g. "WorkFunction") -> in-process invocations.
        self.invocations: Counter[str] = Counter()
        self.invocation_log: list[Invocation] = []
        self.rule_executions: list[str] = []  # executions started by rules that target a state machine
        self.denied_deliveries: list[str] = []  # rule deliveries the function's resource policy refused
        self.store = PolicyStore(partition=self._pseudo.partition)
        self.authorizer = Authorizer(
            self.store, account=self.account_id, region=self.region, partition=self._pseudo.partition
        )
        self.world = MotoWorld(account=self.account_id, region=self.region, partition=self._pseudo.partition)
        self.authorizer.world = self.world
        self._client_hooks: list[Callable[[Any], None]] = []
        self._schedules: dict[str, RateSchedule] = {}  # rule ARN -> its rate schedule on the virtual clock
        self._schedule_origin = 0.0

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
            self._mock = mock_aws(config=_MOTO_CONFIG)
            self._mock.start()
            # Clients of the installed package (the CLI's) must be created inside the mock. Handlers use their
            # own bft (their layer's), one per function and environment: see _imports.py.
            aws.reset()
            IMPORTS.install()
            self._imports_installed = True
            for patch in (
                mock.patch.object(LambdaFunction, "_invoke_lambda", self._patched_invoke()),
                mock.patch.object(StepFunctionResponse, "send_task_failure", _send_task_failure_with_cause),
                mock.patch.object(Rule, "send_to_targets", self._patched_send_to_targets()),
                *moto_patches(self.clock),
                # A client's own retries (standard mode) back off in virtual time too, releasing the runtime.
                mock.patch.object(botocore.endpoint, "time", _Shim(time, sleep=self.sleep)),
            ):
                patch.start()
                self._patches.append(patch)
            logging.getLogger(_MOTO_EVAL_LOGGER).addFilter(_drop_handled_failures)
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
            for patch in _states_credentials_patches(self._states_credentials):
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
            logging.getLogger(_MOTO_EVAL_LOGGER).removeFilter(_drop_handled_failures)
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

    def _stop_running_executions(self) -> None:
        # Executions run in moto's worker threads; stop them so none outlives the mock.
        if self._factory is None or self._mock is None:
            return
        sfn = self.clients("stepfunctions")
        for machine in self._factory.state_machines:
            for page in sfn.get_paginator("list_executions").paginate(
                stateMachineArn=machine.arn, statusFilter="RUNNING"
            ):
                for execution in page["executions"]:
                    try:
                        sfn.stop_execution(executionArn=execution["executionArn"], error="OfflineAssembly.Closed")
                    except Exception:  # already finished between list and stop
                        logger.debug("could not stop %s", execution["executionArn"], exc_info=True)
        # A stopped execution's worker still waits for its task token until the task's timeout:
        # wake it so the thread ends now rather than after the mock is gone.
        backend = stepfunctions_parser_backends[self.account_id][self.region]
        for execution in backend._get_executions():
            environment = getattr(execution.exec_worker, "env", None)
            pool = getattr(getattr(environment, "callback_pool_manager", None), "_pool", {})
            for endpoint in list(pool.values()):
                endpoint.interrupt_all()

    # -- creation -----------------------------------------------------------------------------------

    def _create_stack(self, stack: StackSpec) -> None:
        assert self._factory is not None
        resolver = Resolver(
            stack=stack.name,
            template=stack.template,
            pseudo=self._pseudo,
            lookup=self,
            parameters=self._parameters(stack),
        )
        skipped: Counter[str] = Counter()
        for spec in stack.ordered_resources():
            if spec.condition and not resolver.condition(spec.condition, spec.where):
                self.skipped[f"{stack.name}/{spec.logical_id}"] = f"{spec.type} (condition {spec.condition} is false)"
                continue
            if not self._factory.supports(spec.type):
                self.skipped[f"{stack.name}/{spec.logical_id}"] = spec.type
                skipped[spec.type] += 1
                continue
            try:
                created = self._factory.create(spec, resolver)
            except IntrinsicError:
                raise
            except Exception as exc:  # moto refused it: say which resource
                raise AssemblyError(f"{spec.where}: cannot be created in moto: {exc}") from exc
            self._created[(stack.name, spec.logical_id)] = created
        for function in self._factory.functions:
            self._functions.setdefault((self.account_id, self.region, function.function_name), function)
        if skipped:
            logger.debug("stack %s: not created offline: %s", stack.name, dict(sorted(skipped.items())))
        for name, output in stack.template.get("Outputs", {}).items():
            where = f"{stack.name} output {name}"
            if "Condition" in output and not resolver.condition(output["Condition"], where):
                continue
            value: Any
            try:
                value = resolver.resolve(output["Value"], where)
            except IntrinsicError as exc:
                value = exc  # raised if something imports it
            self._outputs[(stack.name, name)] = value
            if "Export" in output:
                self._exports[str(resolver.resolve(output["Export"]["Name"], where))] = value

    def _parameters(self, stack: StackSpec) -> dict[str, Any]:
        values: dict[str, Any] = {}
        # Only what resources and outputs use: CDK's BootstrapVersion is read by Rules alone.
        used = references(stack.template.get("Resources", {})) | references(stack.template.get("Outputs", {}))
        for name, parameter in stack.template.get("Parameters", {}).items():
            if name not in used:
                continue
            default = parameter.get("Default")
            if str(parameter.get("Type", "")).startswith("AWS::SSM::Parameter::Value<"):
                # CDK's BootstrapVersion and weak references read SSM; what is missing stays
                # unresolvable and only fails if something references it.
                try:
                    values[name] = self.dynamic_reference("ssm", str(default))
                except IntrinsicError:
                    continue
            elif default is not None:
                values[name] = default
        return values

    # -- intrinsics lookup (used by the resolvers) --------------------------------------------------

    def ref(self, stack: str, logical_id: str) -> Any:
        return self._created_resource(stack, logical_id).ref

    def get_att(self, stack: str, logical_id: str, attribute: str) -> Any:
        return self._created_resource(stack, logical_id).get_att(attribute)

    def export(self, name: str) -> Any:
        if name not in self._exports:
            raise IntrinsicError(f"Fn::ImportValue {name!r}: no stack of the assembly exports it")
        return self._raise_if_error(self._exports[name])

    def stack_output(self, stack: str, output: str) -> Any:
        if (stack, output) not in self._outputs:
            raise IntrinsicError(f"Fn::GetStackOutput: stack {stack!r} has no output {output!r} (yet)")
        return self._raise_if_error(self._outputs[(stack, output)])

    def dynamic_reference(self, service: str, key: str) -> str:
        if service not in ("ssm", "ssm-secure"):
            raise IntrinsicError(f"dynamic reference {{{{resolve:{service}:{key}}}}} is not supported offline")
        name = key.split(":", 1)[0] if not key.startswith("arn:") else key
        try:
            found = self.clients("ssm").get_parameter(Name=name, WithDecryption=True)
        except Exception as exc:
            raise IntrinsicError(f"SSM parameter {name!r} does not exist offline") from exc
        return str(found["Parameter"]["Value"])

    def _created_resource(self, stack: str, logical_id: str) -> Created:
        found = self._created.get((stack, logical_id))
        if found is not None:
            return found
        key = f"{stack}/{logical_id}"
        if key in self.skipped:
            raise IntrinsicError(
                f"reference to {key}, a {self.skipped[key]} resource the offline runner does not create"
            )
        raise IntrinsicError(f"reference to {key}: no such resource or parameter in stack {stack}")

    @staticmethod
    def _raise_if_error(value: Any) -> Any:
        if isinstance(value, IntrinsicError):
            raise value
        return value

    # -- lookups ------------------------------------------------------------------------------------

    def physical_id(self, stack: str, key: str, attribute: str | None = None) -> Any:
        """The ``Ref`` value (or ``Fn::GetAtt`` attribute) in moto of a resource.

        ``key`` is a logical id or a construct path, absolute or relative to the
        stack, with or without the trailing ``/Resource``: ``"Reports"``,
        ``"Reports/Resource"``, ``"DataStack/Reports/Resource"``.
        """
        spec = self._find_resource(stack, key)
        created = self._created_resource(spec.stack, spec.logical_id)
        return created.ref if attribute is None else created.get_att(attribute)

    def state_machine_arn(self, key: str | None = None) -> str:
        """The ARN of the only state machine, or of the one ``key`` names (logical id, path or name)."""
        assert self._factory is not None, "use inside `with OfflineAssembly(...)`"
        machines = self._factory.state_machines
        if key is not None:
            machines = [m for m in machines if m.name == key or m.spec.answers_to(key)]
        if len(machines) != 1:
            names = [m.spec.friendly_name for m in self._factory.state_machines]
            raise LookupError(f"{len(machines)} state machines match {key!r}; the assembly has {names}")
        return machines[0].arn

    def stack_output_by_key(self, key: str, stack: str | None = None) -> Any:
        """The value of the output ``key`` (its key under ``Outputs``), of ``stack`` or of any stack that has it."""
        found = [
            value
            for (stack_name, output), value in self._outputs.items()
            if output == key and (stack is None or any(s.name == stack_name and s.matches(stack) for s in self._stacks))
        ]
        distinct = [value for index, value in enumerate(found) if value not in found[:index]]
        if len(distinct) != 1:  # the same value output by two stacks is one answer
            keys = sorted({output for _, output in self._outputs})
            raise LookupError(f"{len(distinct)} different stack outputs named {key!r}; the assembly has {keys}")
        return self._raise_if_error(distinct[0])

    def sns_messages(self, topic: str | None = None) -> list[dict[str, Any]]:
        """Messages published to the assembly's topics (or to ``topic``, an ARN), oldest first per topic."""
        backend = sns_backends[self.account_id][self.region]
        messages = []
        for arn, found in backend.topics.items():
            if topic is not None and arn != topic:
                continue
            for message_id, message, subject, attributes, _group in found.sent_notifications:
                messages.append(
                    {
                        "topic_arn": arn,
                        "message_id": message_id,
                        "subject": subject,
                        "message": message,
                        "attributes": attributes or {},
                    }
                )
        return messages

    def _find_resource(self, stack_key: str, key: str) -> ResourceSpec:
        stacks = [stack for stack in self._stacks if stack.matches(stack_key)]
        if not stacks:
            raise LookupError(f"no stack {stack_key!r}; the assembly has {[s.name for s in self._stacks]}")
        found = [spec for stack in stacks for spec in stack.resources.values() if spec.answers_to(key)]
        if len(found) != 1:
            raise LookupError(f"{len(found)} resources of stack {stack_key} match {key!r}")
        return found[0]

    def _find_function(self, key: str) -> InProcessFunction:
        found = [
            function
            for function in self._functions.values()
            if key in (function.friendly_name, function.logical_id, function.function_name, function.function_arn)
        ]
        if len(found) != 1:
            raise LookupError(f"{len(found)} functions match {key!r}; the assembly has {self.function_names}")
        return found[0]

    def runtime(self) -> dict[str, Any]:
        """The Python the handlers ran on here, the functions' runtimes, and whether they are the same version."""
        running = f"python{sys.version_info.major}.{sys.version_info.minor}"
        runtimes = sorted({f.runtime for f in self._functions.values() if f.runtime.startswith("python")})
        return {
            "python": platform.python_version(),
            "function_runtimes": runtimes,
            "matches": all(runtime == running for runtime in runtimes),
        }

    @property
    def function_names(self) -> list[str]:
        """Friendly names of the functions (the keys of :attr:`invocations`)."""
        return sorted(function.friendly_name for function in self._functions.values())

    def clients(self, service: str) -> Any:
        """A boto3 client for ``service`` bound to moto, in the environment's region (cached)."""
        with self._lock:
            if service not in self._clients:
                if self._session is None:
                    # A fresh session (credentials from the mock) sharing one model loader: loading
                    # service models is most of the cost of a client, and they never change.
                    core = botocore.session.Session()
                    core.register_component("data_loader", _shared_loader())
                    # The operator's credentials: standing the stacks up and reading results is not a
                    # pipeline identity, so the offline authorization does not check these calls.
                    self._session = boto3.session.Session(
                        botocore_session=core,
                        region_name=self.region,
                        aws_access_key_id=OPERATOR_ACCESS_KEY,
                        aws_secret_access_key=OPERATOR_ACCESS_KEY,
                    )
                self._clients[service] = self._session.client(service)  # type: ignore[call-overload]
            return self._clients[service]

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

    def session_as(self, role_arn: str, session_name: str, *, caller: str | None = None) -> boto3.session.Session:
        """A boto3 session of ``role_arn``, assumed by ``caller`` (a person's principal ARN) through its trust
        policy -- how a team member or a reviewer uses the pipeline offline."""
        principal = Principal(caller or role_arn, account=(caller or role_arn).split(":")[4])
        credentials = (
            self.authorizer.assume_role(principal, role_arn, session_name)
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
        each calling as its own identity; the authorization's Bedrock lookups read the fake."""
        self.world.fake = fake

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

    def _function_url(self, request: Any) -> tuple[int, bytes]:
        from urllib.parse import urlsplit

        from bft_twin.iam.actions import Call, function_url_requests

        assert self._factory is not None, "use inside `with OfflineAssembly(...)`"
        parts = urlsplit(request.url)
        found = self._factory.function_urls.get(f"{parts.scheme}://{parts.netloc}/")
        if found is None:
            return 404, b'{"Message": "Not Found"}'
        function_arn, auth_type = found
        forbidden = 403, json.dumps({"Message": "Forbidden"}).encode()
        caller = None
        if auth_type == "AWS_IAM":
            caller = self._verified_caller(request)
            if caller is None:
                return forbidden
            refused = self.authorizer.decide(
                caller,
                Call("lambda", "InvokeFunctionUrl", {}, self.region, self.account_id),
                requests=function_url_requests(function_arn, auth_type),
            )
            if refused is not None:
                return forbidden
        function = self._find_function(function_arn.split(":")[6])
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        now = time.time()
        iam = None
        if caller is not None:
            user_id = f"AROA{caller.arn.split(':')[4]}:{(caller.session_arn or '').rsplit('/', 1)[-1]}"
            iam = {
                "accessKey": _access_key(request),
                "accountId": caller.account,
                "callerId": user_id,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": caller.session_arn or caller.arn,
                "userId": user_id,
            }
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": parts.path or "/",
            "rawQueryString": parts.query,
            "headers": {key.lower(): value for key, value in request.headers.items()},
            "requestContext": {
                "accountId": "anonymous",
                "apiId": parts.netloc.split(".", 1)[0],
                "authorizer": {"iam": iam} if iam else None,
                "domainName": parts.netloc,
                "domainPrefix": parts.netloc.split(".", 1)[0],
                "http": {
                    "method": request.method,
                    "path": parts.path or "/",
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": request.headers.get("User-Agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": "$default",
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "body": body.decode(),
            "isBase64Encoded": False,
        }
        invocation = self._record(function.invoke(event, source="function-url"))
        if invocation.error is not None or not isinstance(invocation.result, dict):
            return 502, b'{"Message": "Internal Server Error"}'
        answer = invocation.result
        raw = answer.get("body", "")
        return int(answer.get("statusCode", 200)), raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()

    def _verified_caller(self, request: Any) -> Principal | None:
        """The principal whose issued credentials signed ``request`` for lambda in this region, else None."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials as BotoCredentials

        authorization = request.headers.get("Authorization", "")
        scope = authorization.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
        if not authorization.startswith("AWS4-HMAC-SHA256 ") or len(scope) != 5:
            return None
        access_key, _date, region, service, _terminator = scope
        issued = self.authorizer.issued(access_key)
        if issued is None or region != self.region or service != "lambda":
            return None
        principal, credentials = issued
        copy = AWSRequest(method=request.method, url=request.url, data=request.body, headers=dict(request.headers))
        del copy.headers["Authorization"]
        copy.context["timestamp"] = request.headers.get("X-Amz-Date", "")
        signer = SigV4Auth(
            BotoCredentials(credentials.access_key, credentials.secret_key, credentials.token), service, region
        )
        canonical = signer.canonical_request(copy)
        expected = signer.signature(signer.string_to_sign(copy, canonical), copy)
        return principal if authorization.rsplit("Signature=", 1)[-1] == expected else None

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

    def resource(self, service: str) -> Any:
        """A boto3 resource (e.g. ``dynamodb``) with the operator's credentials."""
        self.clients(service)  # creates the operator session
        assert self._session is not None
        with self._lock:
            return self._session.resource(service)  # type: ignore[call-overload]

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
        sfn = self.clients("stepfunctions")
        deadline = time.monotonic() + timeout
        reported = 0
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if progress is not None:
                entered = _states_visited(self._history(execution_arn))
                for state in entered[reported:]:
                    progress(f"{described['name']}: {state}")
                reported = len(entered)
            if described["status"] in _TERMINAL:
                break
            if time.monotonic() > deadline:
                visited = _states_visited(self._history(execution_arn))
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout}s; states entered: {visited}")
            time.sleep(poll_interval)
        history = self._history(execution_arn)
        failed = next(
            (event for event in reversed(history) if event["type"] in ("ExecutionFailed", "ExecutionAborted")), None
        )
        details: Mapping[str, Any] = {}
        if failed is not None:
            details = failed.get("executionFailedEventDetails") or failed.get("executionAbortedEventDetails") or {}
        visited = _states_visited(history)
        return ExecutionResult(
            execution_arn=execution_arn,
            status=described["status"],
            output=_parse_output(described.get("output")),
            error=described.get("error") or details.get("error"),
            cause=described.get("cause") or details.get("cause"),
            history=history,
            state_transitions=len(visited),
            states_visited=visited,
            lambda_invocations=sum(1 for event in history if _is_lambda_scheduled(event)),
        )

    def _history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.clients("stepfunctions")
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events

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


def _states_credentials_patches(credentials: Callable[[str | None, str | None], Credentials]) -> list[Any]:
    """moto's interpreter calls AWS with fixed dummy keys; here it calls with the state machine's role,
    assumed for that state machine (its ARN is the trust policy's aws:SourceArn)."""
    import importlib
    import pkgutil

    from botocore.config import Config
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
    from moto.stepfunctions.parser.asl.utils import boto_client

    original_credentials = StateTask._eval_state_credentials

    def eval_state_credentials(task: Any, env: Any) -> Any:
        found = original_credentials(task, env)
        setattr(found, "bft_state_machine_arn", env.states.context_object.context_object_data["StateMachine"]["Id"])  # noqa: B010
        return found

    original = boto_client.boto_client_for
    package = importlib.import_module("moto.stepfunctions.parser.asl.component")
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role = getattr(state_credentials, "role_arn", None)
        machine = getattr(state_credentials, "bft_state_machine_arn", None)
        return boto3.client(  # type: ignore[call-overload]
            service_name=service,
            region_name=region,
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            ),
            **credentials(role, machine).client_kwargs(),
        )

    return [
        mock.patch.object(StateTask, "_eval_state_credentials", eval_state_credentials),
        *(
            mock.patch.object(module, "boto_client_for", boto_client_for)
            for name, module in list(sys.modules.items())
            if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is original
        ),
    ]


def _access_key(request: Any) -> str:
    return str(request.headers.get("Authorization", "").split("Credential=", 1)[-1].split("/", 1)[0])


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


_MOTO_EVAL_LOGGER = "moto.stepfunctions.parser.asl.component.eval_component"


def _drop_handled_failures(record: logging.LogRecord) -> bool:
    """moto logs each failure inside a state at ERROR with a page-long repr, even those a Retry,
    Catch or Choice handles. The history has every failure and the result the execution's own.
    """
    args = record.args if isinstance(record.args, tuple) else ()
    return not (args and str(args[0]).startswith("Exception="))


def _parse_output(output: str | None) -> Any:
    if output is None:
        return None
    try:
        return json.loads(output)
    except json.JSONDecodeError:
        return output  # moto returns a string output unquoted


def _send_task_failure_with_cause(self: StepFunctionResponse) -> ActionResult:
    # moto 5.2.5 drops `cause` from SendTaskFailure; AWS passes it to Catch (and to the Fail state's CausePath).
    self.stepfunction_backend.send_task_failure(  # type: ignore[call-arg]
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def _is_lambda_scheduled(event: Mapping[str, Any]) -> bool:
    if event["type"] == "LambdaFunctionScheduled":
        return True
    return event["type"] == "TaskScheduled" and event["taskScheduledEventDetails"].get("resourceType") == "lambda"


def _states_visited(history: list[dict[str, Any]]) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in history
        if event["type"].endswith("StateEntered") and "stateEnteredEventDetails" in event
    ]
