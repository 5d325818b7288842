"""A synthesized assembly's resources as created in moto, and the lookups on them.

:class:`Deployment` is the lower floor of :class:`~bft_twin.offline.OfflineAssembly`: it creates each
stack's resources in dependency order (``_resources.py``), answers the resolvers' lookups (``Ref``,
``Fn::GetAtt``, ``Fn::ImportValue``, ``Fn::GetStackOutput``, SSM dynamic references), finds resources,
outputs, functions and state machines, and holds the operator's clients. Starting and stopping moto,
identities, and running functions, rules and executions are the runner's (``_runner.py``).
"""

from __future__ import annotations

import functools
import logging
import platform
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.loaders
import botocore.session
from moto.sns.models import sns_backends

if TYPE_CHECKING:
    from bft_twin.deploy_checks import DeployContext

from bft_twin.iam.authorizer import OPERATOR_ACCESS_KEY
from bft_twin.offline._assembly import AssemblyError, ResourceSpec, StackSpec, references
from bft_twin.offline._intrinsics import IntrinsicError, Pseudo, Resolver
from bft_twin.offline._lambda import InProcessFunction
from bft_twin.offline._resources import BudgetActionSpec, Created, ResourceFactory

__all__ = ["Deployment"]

logger = logging.getLogger(__name__)


class Deployment:
    """The stacks of a synthesized assembly as created in moto, and lookups on them (see the module docstring)."""

    def __init__(self, assembly_dir: Path | str, *, region: str, account_id: str, partition: str) -> None:
        self.assembly_dir = Path(assembly_dir)
        self.region = region
        self.account_id = account_id
        self._pseudo = Pseudo(region=region, account_id=account_id, partition=partition)
        self._lock = threading.Lock()
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
        from bft_twin.deploy_checks import check_resource

        checks = self._deploy_context(stack)
        skipped: Counter[str] = Counter()
        for spec in stack.ordered_resources():
            if spec.condition and not resolver.condition(spec.condition, spec.where):
                self.skipped[f"{stack.name}/{spec.logical_id}"] = f"{spec.type} (condition {spec.condition} is false)"
                continue
            if not self._factory.supports(spec.type):
                self.skipped[f"{stack.name}/{spec.logical_id}"] = spec.type
                skipped[spec.type] += 1
                continue
            if checks is not None:  # what AWS would refuse to create (bft_twin.deploy_checks)
                check_resource(spec, resolver, checks)
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

    def _deploy_context(self, stack: StackSpec) -> DeployContext | None:
        """What the deploy-time checks of ``stack`` read; None: create without them (the runner supplies it)."""
        return None

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

    # -- budget actions -------------------------------------------------------------------------------

    @property
    def budget_actions(self) -> list[BudgetActionSpec]:
        """The AWS Budgets actions of the assembly (recorded: moto has none)."""
        return list(self._factory.budget_actions) if self._factory is not None else []

    def apply_budget_action(self, budget_name: str) -> BudgetActionSpec:
        """What AWS Budgets does when the budget's action fires (APPLY_IAM_POLICY): as the action's execution
        role, attach its policy to its roles, authorized as the deploy check decides it
        (bft_twin.deploy_checks._budgets). From then on the offline authorization applies the policy."""
        from bft_twin.deploy_checks._budgets import action_refusal

        found = [a for a in self.budget_actions if a.budget_name == budget_name]
        if not found:
            known = ", ".join(sorted(a.budget_name for a in self.budget_actions)) or "none"
            raise AssemblyError(f"no budget action on budget {budget_name!r} (known: {known})")
        action = found[0]
        if action.action_type != "APPLY_IAM_POLICY":
            raise AssemblyError(f"{action.spec.where}: only APPLY_IAM_POLICY actions run offline")
        store, clock = getattr(self, "store", None), getattr(self, "clock", None)
        if store is None or clock is None:
            raise AssemblyError("budget actions run only in an OfflineAssembly (it holds the policies and clock)")
        problem = action_refusal(
            store,
            account=self.account_id,
            partition=self._pseudo.partition,
            clock=clock.now,
            execution_role_arn=action.execution_role_arn,
            policy_arn=action.policy_arn,
            roles=action.roles,
        )
        if problem:
            raise AssemblyError(f"{action.spec.where}: AWS Budgets could not run the action: {problem}")
        for role in action.roles:
            store.attach_managed_policy(role, action.policy_arn)
        return action

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

    def resource(self, service: str) -> Any:
        """A boto3 resource (e.g. ``dynamodb``) with the operator's credentials."""
        self.clients(service)  # creates the operator session
        assert self._session is not None
        with self._lock:
            return self._session.resource(service)  # type: ignore[call-overload]


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()
