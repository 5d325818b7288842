"""Deploy-time refusals: what CloudFormation and the services refuse when they create a resource.

The offline runner creates each resource of the assembly in moto, which accepts almost anything. Before it
does, :func:`check_resource` asks the checks registered for the resource type (:data:`CHECKS`) whether AWS
would create it; a refusal raises :class:`DeployRefusal` (an :class:`~bft_twin.offline.AssemblyError`) with
the service's error code, its message as AWS words it, and the source the rule comes from, so the offline
run fails where ``cdk deploy`` would. One module per concern:

- :mod:`._policies`: IAM policy grammar, the IAM service reference (actions, condition keys), size quotas --
  for identity, managed, trust, bucket, topic and key policies;
- :mod:`._states`: a state machine's role (Step Functions must be able to assume it; logging needs the
  log-delivery permissions);
- :mod:`._kms`: a key policy that would lock the deployer out of the key;
- :mod:`._lambda`: function, function URL and permission settings, and the function's role;
- :mod:`._budgets`: a budget's name and subscribers, a budget action's settings, and whether its execution
  role could apply its policy.

What each refuses, with sources and guesses: ``docs/offline-authorization.md`` ("Deploy-time refusals").
A check that cannot decide (a condition it cannot evaluate) raises :class:`~bft_twin.iam.model.Undecidable`,
failing closed as the authorization does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bft_twin.iam.model import Principal
from bft_twin.iam.store import PolicyStore
from bft_twin.offline._assembly import AssemblyError, ResourceSpec
from bft_twin.offline._intrinsics import Pseudo, Resolver

__all__ = ["CHECKS", "DeployContext", "DeployRefusal", "Site", "check_resource"]


class DeployRefusal(AssemblyError):
    """A resource AWS would refuse to create: ``code`` is the service's error code (``MalformedPolicyDocument``),
    ``message`` its text, ``source`` where the rule is written down."""

    def __init__(self, where: str, code: str, message: str, source: str) -> None:
        super().__init__(f"{where}: {code}: {message} [{source}]")
        self.where = where
        self.code = code
        self.message = message
        self.source = source


@dataclass
class Site:
    """The resource being created and its properties, resolved as CloudFormation resolves them (on first read)."""

    spec: ResourceSpec
    resolver: Resolver
    _resolved: dict[str, Any] = field(default_factory=dict)

    def prop(self, name: str, default: Any = None) -> Any:
        if name not in self.spec.properties:
            return default
        if name not in self._resolved:
            self._resolved[name] = self.resolver.resolve(
                self.spec.properties[name], f"{self.spec.where} property {name}"
            )
        value = self._resolved[name]
        return default if value is None else value

    @property
    def where(self) -> str:
        return self.spec.where

    def refuse(self, code: str, message: str, source: str) -> DeployRefusal:
        return DeployRefusal(self.where, code, message, source)


@dataclass
class DeployContext:
    """What the checks may read: the policies created so far, the account, the time, and the deployer."""

    store: PolicyStore
    pseudo: Pseudo
    clock: Callable[[], float]
    # Who CloudFormation creates resources as: the stack's execution role (CDK's bootstrap
    # cfn-exec-role), with the identity policy its bootstrap gives it.
    deployer: Principal
    deployer_policy: Mapping[str, Any]
    warnings: list[str] = field(default_factory=list)
    tallies: dict[str, int] = field(default_factory=dict)  # what adds up across resources (reserved concurrency)

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        p = self.pseudo
        return f"arn:{p.partition}:{service}:{p.region if region else ''}:{p.account_id if account else ''}:{resource}"


Check = Callable[[Site, DeployContext], None]


def _registry() -> dict[str, tuple[Check, ...]]:
    from bft_twin.deploy_checks import _budgets, _kms, _lambda, _policies, _states

    return {
        "AWS::IAM::Role": (_policies.role,),
        "AWS::IAM::Policy": (_policies.inline_policy,),
        "AWS::IAM::ManagedPolicy": (_policies.managed_policy,),
        "AWS::S3::BucketPolicy": (_policies.bucket_policy,),
        "AWS::SNS::TopicPolicy": (_policies.topic_policy,),
        "AWS::KMS::Key": (_policies.key_policy, _kms.lockout),
        "AWS::StepFunctions::StateMachine": (_states.role_assumable, _states.logging, _states.tracing),
        "AWS::Lambda::Function": (_lambda.function_settings, _lambda.role_assumable),
        "AWS::Lambda::Url": (_lambda.function_url,),
        "AWS::Lambda::Permission": (_lambda.permission,),
        "AWS::Budgets::Budget": (_budgets.budget,),
        "AWS::Budgets::BudgetsAction": (_budgets.action,),
    }


CHECKS: dict[str, tuple[Check, ...]] = {}


def check_resource(spec: ResourceSpec, resolver: Resolver, context: DeployContext) -> None:
    """Raise :class:`DeployRefusal` if AWS would refuse to create ``spec`` as the template gives it."""
    if not CHECKS:
        CHECKS.update(_registry())
    site = Site(spec, resolver)
    for check in CHECKS.get(spec.type, ()):
        check(site, context)
