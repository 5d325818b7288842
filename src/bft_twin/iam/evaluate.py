"""AWS's policy evaluation logic, for the offline run: one :class:`AuthRequest` in, one :class:`Decision` out.

Pure: no AWS calls, no clock, no globals but caches. Written to AWS's documentation (pages named in the
comments, listed in ``docs/offline-authorization.md``) and failing closed: what it does not model raises
:class:`Undecidable` (naming the policy and statement) instead of guessing an answer.

Pages cited here and in the evaluator's parts (:mod:`~bft_twin.iam.patterns`, :mod:`~bft_twin.iam.conditions`,
:mod:`~bft_twin.iam.statements`), by short name:

- EVAL: IAM User Guide, "Policy evaluation logic" (reference_policies_evaluation-logic.html)
- CROSS: "Cross-account policy evaluation logic" (reference_policies_evaluation-logic-cross-account.html)
- BOUNDARY: "Permissions boundaries for IAM entities" (access_policies_boundaries.html)
- OPS: "IAM JSON policy elements: Condition operators" (reference_policies_elements_condition_operators.html)
- MULTI: "Single-valued vs. multivalued context keys"
  (reference_policies_condition-single-vs-multi-valued-context-keys.html)
- RESOURCE: "IAM JSON policy elements: Resource" (reference_policies_elements_resource.html)
- PRINCIPAL: "AWS JSON policy elements: Principal" and "...: NotPrincipal"
- KEYPOL: AWS KMS Developer Guide, "Key policies in AWS KMS" (key-policies.html) and "Default key policy"
- GRANTS: AWS KMS, "Grants in AWS KMS" / "Using grant constraints"; API reference "GrantConstraints"
- TRUST: IAM User Guide, "Roles terms and concepts" (role trust policy) / "IAM roles" (id_roles.html)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from bft_twin.iam.conditions import request_context
from bft_twin.iam.model import AuthRequest, Decision, Grant, Policy, StatementRef, Undecidable
from bft_twin.iam.statements import Matches, match, parsed_statements

# The evaluator's parts, lowest first: patterns (wildcards) -> conditions (keys, operators, request context)
# -> statements (parsing, principals, matching) -> this module (KMS grants and the decision).


ResourceKind = Literal["generic", "kms", "trust"]

# KMS operations that take an encryption context: grant constraints apply to these only (GRANTS,
# API "GrantConstraints": not to DescribeKey, RetireGrant or operations without an encryption context).
_EC_OPERATIONS = frozenset(
    {
        "encrypt",
        "decrypt",
        "generatedatakey",
        "generatedatakeywithoutplaintext",
        "generatedatakeypair",
        "generatedatakeypairwithoutplaintext",
        "reencryptfrom",
        "reencryptto",
    }
)


def _grant_allows(grant: Grant, request: AuthRequest) -> bool:
    p = request.principal
    if grant.key_arn != request.resource:
        return False
    if grant.grantee not in (p.arn, p.session_arn):
        return False
    service, _, operation = request.action.partition(":")
    if service.lower() != "kms":
        return False
    op = operation.lower()
    if op not in {o.lower() for o in grant.operations}:
        return False
    if not grant.constraints or op not in _EC_OPERATIONS:
        if grant.constraints and op == "creategrant":
            raise Undecidable(f"grant:{grant.grant_id}: CreateGrant under a grant with constraints is not modelled")
        return True
    # In a grant constraint the encryption-context key is not case-sensitive, the value is (GrantConstraints).
    request_ec = {k.lower(): v for k, v in request.encryption_context.items()}
    for name, pairs in grant.constraints.items():
        wanted = {k.lower(): v for k, v in pairs.items()}
        if name == "EncryptionContextEquals":
            if request_ec != wanted:
                return False
        elif name == "EncryptionContextSubset":
            if any(request_ec.get(k) != v for k, v in wanted.items()):
                return False
        else:
            raise Undecidable(f"grant:{grant.grant_id}: unknown grant constraint {name!r}")
    return True


# --------------------------------------------------------------------------------------------------
# The decision
# --------------------------------------------------------------------------------------------------


def _explicit_deny(kind: str) -> str:
    return f"with an explicit deny in {kind}"


def _no_allow(kind: str, action: str) -> str:
    return f"because no {kind} allows the {action} action"


_IDENTITY = "identity-based policy"
_BOUNDARY = "permissions boundary"
_RESOURCE = "resource-based policy"


def evaluate(
    request: AuthRequest,
    *,
    identity: Sequence[Policy] = (),
    boundary: Policy | None = None,
    resource: Policy | None = None,
    resource_kind: ResourceKind = "generic",
    grants: Sequence[Grant] = (),
) -> Decision:
    """Decide ``request`` from the principal's identity policies, its permissions boundary, the resource's
    policy (a bucket/topic/function policy, a role trust policy with ``resource_kind="trust"``, a KMS key
    policy with ``resource_kind="kms"``) and, for KMS, the key's grants. Raises :class:`Undecidable` for
    what it does not model."""
    if grants and resource_kind != "kms":
        raise ValueError("grants apply to KMS keys only (resource_kind='kms')")
    ctx = request_context(request)
    p = request.principal
    action = request.action
    trust = resource_kind == "trust"

    id_m = Matches([], [])
    for policy in identity:
        m = match(parsed_statements(policy, "identity"), request, ctx)
        id_m.allow += m.allow
        id_m.deny += m.deny
    b_m = match(parsed_statements(boundary, "boundary"), request, ctx) if boundary is not None else Matches([], [])
    r_m = (
        match(parsed_statements(resource, "resource", trust), request, ctx, has_boundary=boundary is not None)
        if resource is not None
        else Matches([], [])
    )

    # 1. Explicit deny in any policy wins (EVAL "Deny evaluation"; BOUNDARY; KEYPOL: a grant never overrides
    #    a deny, since the deny is found before any allow is looked at).
    denied_by = tuple(id_m.deny + b_m.deny + r_m.deny)
    if denied_by:
        kind = _IDENTITY if id_m.deny else _BOUNDARY if b_m.deny else _RESOURCE
        return Decision(False, _explicit_deny(_article(kind)), denied_by=denied_by)

    grant_refs = tuple(StatementRef(source=f"grant:{g.grant_id}", index=0) for g in grants if _grant_allows(g, request))
    allowed_by = tuple(r for r, _ in id_m.allow) + tuple(r for r, _ in b_m.allow)
    allowed_by += tuple(r for r, _ in r_m.allow) + grant_refs

    def allow() -> Decision:
        return Decision(True, "", allowed_by=allowed_by)

    def deny(reason: str) -> Decision:
        return Decision(False, reason)

    namings = {n for _, n in r_m.allow}

    # A service principal has no identity-based policies: the resource policy alone decides (TRUST for
    # role trust policies; the service's resource policies likewise, e.g. a topic or function policy).
    if p.type == "Service":
        if namings or grant_refs:
            return allow()
        return deny(_no_allow(_RESOURCE, action))

    identity_ok = bool(id_m.allow)
    boundary_ok = boundary is None or bool(b_m.allow)
    iam_ok = identity_ok and boundary_ok
    same_account = request.resource_account is None or request.resource_account == p.account
    # EVAL, same account: a resource-based policy that names the role session (or any principal via "*")
    # is not limited by an implicit deny in identity policies or the boundary; one that names the role ARN
    # is limited by an implicit deny in the boundary; naming the account delegates to identity policies.
    direct_ok = bool(namings & {"session", "wildcard"}) or ("role" in namings and boundary_ok)

    def iam_reason() -> str:
        if not identity_ok:
            return _no_allow(_IDENTITY, action)
        return _no_allow(_BOUNDARY, action)

    if resource_kind == "kms":
        # KEYPOL: every key has a key policy, and without permission from it IAM policies have no effect;
        # the key policy naming the account ("enables IAM policies") delegates to IAM policies.
        if grant_refs:
            return allow()  # GRANTS: a grant allows its operations on its own (deny already checked)
        if same_account:
            if direct_ok or ("account" in namings and iam_ok):
                return allow()
        elif namings and iam_ok:
            return allow()  # CROSS: the key policy and the caller's IAM policies must both allow
        if not namings:
            return deny(_no_allow(_RESOURCE, action))
        if "role" in namings and not boundary_ok:
            return deny(_no_allow(_BOUNDARY, action))
        return deny(iam_reason())

    if trust:
        # TRUST: the role's trust policy must allow the principal. Same account, a statement naming the
        # principal itself suffices; naming the account needs an identity-based allow of sts:AssumeRole.
        if not namings:
            return deny(_no_allow(_RESOURCE, action))
        if (same_account and direct_ok) or iam_ok:
            return allow()
        if "role" in namings and not boundary_ok:
            return deny(_no_allow(_BOUNDARY, action))
        return deny(iam_reason())

    if same_account:
        # EVAL "Evaluating identity-based policies with resource-based policies": the union of both.
        if direct_ok or iam_ok:
            return allow()
        if "role" in namings and not boundary_ok:
            return deny(_no_allow(_BOUNDARY, action))
        return deny(iam_reason())
    # CROSS: the identity side (with its boundary) in the caller's account and the resource policy in the
    # resource's account must both allow.
    if not iam_ok:
        return deny(iam_reason())
    if not namings:
        return deny(_no_allow(_RESOURCE, action))
    return allow()


def _article(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def access_denied_message(request: AuthRequest, decision: Decision) -> str:
    """AWS's AccessDenied text: ``User: <principal> is not authorized to perform: <action> on resource:
    <resource> <reason>``."""
    if decision.allowed:
        raise ValueError("the decision allows the request")
    return (
        f"User: {request.principal.shown} is not authorized to perform: {request.action} "
        f"on resource: {request.resource} {decision.reason}"
    )
