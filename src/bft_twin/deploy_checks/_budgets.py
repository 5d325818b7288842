"""AWS Budgets: a budget and a budget action as CloudFormation and Budgets create them, and whether the action
could ever run.

- ``AWS::Budgets::Budget``: the name is 1-100 characters without ``:`` or ``\\`` (CloudFormation's property
  reference, "BudgetName"); a notification has at most 10 e-mail subscribers (AWS Cost Management User Guide,
  "Quotas and restrictions": 10 e-mail subscribers per notification). Budgets answers
  ``InvalidParameterException``.
- ``AWS::Budgets::BudgetsAction`` (CloudFormation's property reference): ``ActionType`` one of
  ``APPLY_IAM_POLICY``, ``APPLY_SCP_POLICY``, ``RUN_SSM_DOCUMENTS``; ``NotificationType`` ``ACTUAL`` or
  ``FORECASTED``; ``ActionThreshold.Type`` ``PERCENTAGE`` or ``ABSOLUTE_VALUE``; ``ApprovalModel``
  ``AUTOMATIC`` or ``MANUAL``; ``Subscribers`` 1 to 11; an IAM action names a policy and at least one role,
  group or user.
- **Guesses, checked so that the backstop is never dead on arrival** (AWS accepts these at create time as far
  as is published, and the action fails only when it runs): the execution role must let
  ``budgets.amazonaws.com`` assume it from this account ("Setting up a role for AWS Budgets to run budget
  actions"), and its own policies must allow ``iam:AttachRolePolicy`` and ``iam:DetachRolePolicy`` of that
  policy on each role (the example policy "Allow AWS Budgets to apply IAM policies and SCPs"). Refused here
  as ``AccessDeniedException``, saying that this is the twin's check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bft_twin.deploy_checks import DeployContext, Site
from bft_twin.iam.actions import ActionRequest
from bft_twin.iam.context import merged_context, request_keys
from bft_twin.iam.evaluate import evaluate
from bft_twin.iam.model import AuthRequest, Principal
from bft_twin.iam.store import PolicyStore

__all__ = ["action", "action_refusal", "budget"]

PROPERTIES = "CloudFormation User Guide, AWS::Budgets::Budget and AWS::Budgets::BudgetsAction property reference"
QUOTAS = "AWS Cost Management User Guide, 'Quotas and restrictions' (10 e-mail subscribers per notification)"
ROLE = (
    "AWS Cost Management User Guide, 'Setting up a role for AWS Budgets to run budget actions' and the example "
    "policy 'Allow AWS Budgets to apply IAM policies and SCPs' (a guess: AWS fails the action when it runs)"
)
ACTION_TYPES = ("APPLY_IAM_POLICY", "APPLY_SCP_POLICY", "RUN_SSM_DOCUMENTS")
MAX_EMAILS = 10
MAX_ACTION_SUBSCRIBERS = 11
SERVICE = "budgets.amazonaws.com"


def budget(site: Site, context: DeployContext) -> None:
    data = site.prop("Budget") or {}
    name = data.get("BudgetName")
    if name is not None and (not 1 <= len(str(name)) <= 100 or ":" in str(name) or "\\" in str(name)):
        raise site.refuse(
            "InvalidParameterException", f"BudgetName {name!r}: 1-100 characters, no ':' or '\\'", PROPERTIES
        )
    for item in site.prop("NotificationsWithSubscribers", []):
        emails = [s for s in item.get("Subscribers", []) if s.get("SubscriptionType") == "EMAIL"]
        if len(emails) > MAX_EMAILS:
            raise site.refuse(
                "InvalidParameterException",
                f"a notification has {len(emails)} e-mail subscribers; at most {MAX_EMAILS}",
                QUOTAS,
            )


def action(site: Site, context: DeployContext) -> None:
    def one_of(name: str, value: object, allowed: Sequence[str]) -> None:
        if value not in allowed:
            raise site.refuse(
                "InvalidParameterException", f"{name} {value!r} is not one of {', '.join(allowed)}", PROPERTIES
            )

    kind = site.prop("ActionType")
    one_of("ActionType", kind, ACTION_TYPES)
    one_of("NotificationType", site.prop("NotificationType"), ("ACTUAL", "FORECASTED"))
    one_of("ActionThreshold.Type", (site.prop("ActionThreshold") or {}).get("Type"), ("PERCENTAGE", "ABSOLUTE_VALUE"))
    one_of("ApprovalModel", site.prop("ApprovalModel", "MANUAL"), ("AUTOMATIC", "MANUAL"))
    subscribers = site.prop("Subscribers", [])
    if not 1 <= len(subscribers) <= MAX_ACTION_SUBSCRIBERS:
        raise site.refuse(
            "InvalidParameterException",
            f"Subscribers: {len(subscribers)} given, 1 to {MAX_ACTION_SUBSCRIBERS} allowed",
            PROPERTIES,
        )
    if kind != "APPLY_IAM_POLICY":
        return
    definition = (site.prop("Definition") or {}).get("IamActionDefinition") or {}
    targets = [*definition.get("Roles", []), *definition.get("Groups", []), *definition.get("Users", [])]
    if not definition.get("PolicyArn") or not targets:
        raise site.refuse(
            "InvalidParameterException",
            "Definition.IamActionDefinition needs a PolicyArn and at least one role, group or user",
            PROPERTIES,
        )
    if definition.get("Groups") or definition.get("Users"):
        return  # groups and users are not modelled offline; roles are
    problem = action_refusal(
        context.store,
        account=context.pseudo.account_id,
        partition=context.pseudo.partition,
        clock=context.clock,
        execution_role_arn=str(site.prop("ExecutionRoleArn")),
        policy_arn=str(definition["PolicyArn"]),
        roles=[str(role) for role in definition["Roles"]],
    )
    if problem:
        raise site.refuse("AccessDeniedException", problem, ROLE)


def action_refusal(
    store: PolicyStore,
    *,
    account: str,
    partition: str,
    clock: Callable[[], float],
    execution_role_arn: str,
    policy_arn: str,
    roles: Sequence[str],
) -> str | None:
    """Why Budgets could not apply ``policy_arn`` to ``roles`` as ``execution_role_arn`` (None: it could)."""
    trust = store.trust(execution_role_arn)
    service = Principal(SERVICE, type="Service")
    assume = ActionRequest("sts:AssumeRole", execution_role_arn, {}, None)
    keys = merged_context(request_keys(service, assume, now=clock(), account=account), {"aws:SourceAccount": account})
    request = AuthRequest(service, "sts:AssumeRole", execution_role_arn, keys, resource_account=account)
    if trust is None or not evaluate(request, resource=trust, resource_kind="trust").allowed:
        return f"{SERVICE} may not assume the execution role {execution_role_arn} from account {account}"
    record = store.role(execution_role_arn)
    name = execution_role_arn.rsplit("/", 1)[-1]
    principal = Principal(
        execution_role_arn,
        account=account,
        session_arn=f"arn:{partition}:sts::{account}:assumed-role/{name}/BudgetsAction",
        tags=dict(record.tags) if record is not None else {},
    )
    identity, _ = store.identity_policies(execution_role_arn)
    boundary = store.boundary(execution_role_arn)
    for role in roles:
        target = store.role_arn(role)
        if target is None:
            return f"role {role} (to attach {policy_arn} to) is not a role of the assembly"
        for verb in ("iam:AttachRolePolicy", "iam:DetachRolePolicy"):
            needed = ActionRequest(verb, target, {"iam:PolicyARN": policy_arn}, None)
            keys = merged_context(request_keys(principal, needed, now=clock(), account=account), needed.context)
            asked = AuthRequest(principal, verb, target, keys, resource_account=account)
            if not evaluate(asked, identity=identity, boundary=boundary).allowed:
                return f"the execution role {execution_role_arn} may not {verb} {policy_arn} on {target}"
    return None
