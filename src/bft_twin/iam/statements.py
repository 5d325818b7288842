"""Statements and policies, parsed once per Policy object, and matched against a request: action, resource,
principal and conditions.

Part of the offline policy evaluator, :mod:`bft_twin.iam.evaluate`, whose docstring lists the pages cited
here by short name.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bft_twin.iam.conditions import Cond, cond_holds, parse_conditions
from bft_twin.iam.model import AuthRequest, ContextValue, Policy, Principal, StatementRef, Undecidable
from bft_twin.iam.patterns import VARIABLE, action_regex, arn_regex

__all__ = ["Matches", "Naming", "Role", "Statement", "match", "parsed_statements"]

# --------------------------------------------------------------------------------------------------
# Principals
# --------------------------------------------------------------------------------------------------

_ACCOUNT = re.compile(r"^\d{12}$")
_ROOT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")

# How a resource-policy statement names the caller; decides delegation and the boundary rule (EVAL).
Naming = Literal["session", "role", "wildcard", "account", "service"]


@dataclass(frozen=True, slots=True)
class _Principals:
    wildcard: bool
    accounts: frozenset[str]
    arns: frozenset[str]
    services: frozenset[str]

    def naming(self, p: Principal) -> Naming | None:
        """The most specific way this set names ``p``, or None."""
        if p.type == "Service":
            if p.arn in self.services:
                return "service"
            return "wildcard" if self.wildcard else None
        if p.session_arn and p.session_arn in self.arns:
            return "session"
        if p.arn in self.arns:
            return "role"
        if self.wildcard:
            return "wildcard"
        if p.account and p.account in self.accounts:
            return "account"
        return None

    def identities_listed(self, p: Principal) -> bool:
        """NotPrincipal: whether every identity of the caller is listed (PRINCIPAL, NotPrincipal: a role
        session is excluded only when the account, the role and the session ARN are all listed)."""
        if self.wildcard:
            return True
        if p.type == "Service":
            return p.arn in self.services
        ids_ok = p.arn in self.arns and (p.session_arn is None or p.session_arn in self.arns)
        return ids_ok and p.account is not None and p.account in self.accounts


def _parse_principals(value: Any) -> tuple[_Principals | None, str | None]:
    if value == "*":
        return _Principals(True, frozenset(), frozenset(), frozenset()), None
    if not isinstance(value, Mapping):
        return None, f"Principal is neither '*' nor an object: {value!r}"
    wildcard = False
    accounts: set[str] = set()
    arns: set[str] = set()
    services: set[str] = set()
    for kind, raw in value.items():
        items = raw if isinstance(raw, list) else [raw]
        if not all(isinstance(i, str) for i in items):
            return None, f"Principal {kind!r} holds a value that is not a string (unresolved intrinsic?)"
        if kind == "AWS":
            for item in items:
                root = _ROOT.match(item)
                if item == "*":
                    wildcard = True
                elif _ACCOUNT.match(item):
                    accounts.add(item)
                elif root:
                    accounts.add(root.group(1))
                elif item.startswith("arn:") and "*" not in item and "?" not in item:
                    arns.add(item)
                else:
                    return None, f"Principal AWS value {item!r} is not an account, root, role, user or session ARN"
        elif kind == "Service":
            for item in items:
                if "*" in item or "?" in item:
                    return None, f"Principal Service value {item!r} has a wildcard"
                services.add(item)
        else:
            return None, f"Principal type {kind!r} is not modelled (only AWS and Service)"
    return _Principals(wildcard, frozenset(accounts), frozenset(arns), frozenset(services)), None


# --------------------------------------------------------------------------------------------------
# Statements and policies (parsed once per Policy object)
# --------------------------------------------------------------------------------------------------

_ELEMENTS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal", "Condition"}
)
_DOC_ELEMENTS = frozenset({"Version", "Id", "Statement"})

Role = Literal["identity", "boundary", "resource"]


@dataclass(frozen=True, slots=True)
class Statement:
    ref: StatementRef
    where: str
    allow: bool
    actions: tuple[re.Pattern[str], ...]
    not_action: bool
    resources: tuple[re.Pattern[str], ...] | None  # None: no Resource element (trust policies)
    not_resource: bool
    resource_problem: str | None
    principals: _Principals | None
    not_principal: bool
    conditions: tuple[Cond, ...]
    condition_problem: str | None

    def action_matches(self, action: str) -> bool:
        hit = any(p.fullmatch(action) for p in self.actions)
        return not hit if self.not_action else hit

    def resource_matches(self, resource: str) -> bool:
        if self.resources is None:
            return True
        if self.resource_problem:
            raise Undecidable(f"{self.where}: {self.resource_problem}")
        hit = any(p.fullmatch(resource) for p in self.resources)
        return not hit if self.not_resource else hit

    def conditions_hold(self, ctx: Mapping[str, ContextValue]) -> bool:
        if self.condition_problem:
            raise Undecidable(f"{self.where}: {self.condition_problem}")
        # Several operators, and several keys in one operator, are AND'd (OPS / "Condition" element).
        return all(cond_holds(c, ctx, self.where) for c in self.conditions)


def _strings(value: Any, element: str, where: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) for i in items):
        raise Undecidable(f"{where}: {element} must be a string or a list of strings, got {value!r}")
    return items


def _compile_statement(raw: Any, index: int, policy: Policy, role: Role, trust: bool) -> Statement:
    where = f"{policy.source} statement {index}"
    if not isinstance(raw, Mapping):
        raise Undecidable(f"{where}: statement is not an object")
    unknown = set(raw) - _ELEMENTS
    if unknown:
        raise Undecidable(f"{where}: unknown element(s) {sorted(unknown)}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise Undecidable(f"{where}: Effect must be Allow or Deny, got {effect!r}")
    sid = raw.get("Sid")
    ref = StatementRef(source=policy.source, index=index, sid=sid if isinstance(sid, str) else None)

    if ("Action" in raw) == ("NotAction" in raw):
        raise Undecidable(f"{where}: exactly one of Action and NotAction is needed")
    not_action = "NotAction" in raw
    actions = tuple(action_regex(a) for a in _strings(raw["NotAction" if not_action else "Action"], "Action", where))

    if "Resource" in raw and "NotResource" in raw:
        raise Undecidable(f"{where}: both Resource and NotResource")
    not_resource = "NotResource" in raw
    resources: tuple[re.Pattern[str], ...] | None = None
    resource_problem: str | None = None
    if "Resource" in raw or not_resource:
        patterns = _strings(raw["NotResource" if not_resource else "Resource"], "Resource", where)
        variables = [p for p in patterns if VARIABLE.search(p)]
        if variables:
            resource_problem = f"policy variable in Resource: {variables[0]!r}"
        resources = tuple(arn_regex(p) for p in patterns)
    elif not trust:
        raise Undecidable(f"{where}: no Resource or NotResource (only a role trust policy may omit it)")

    has_principal = "Principal" in raw or "NotPrincipal" in raw
    if "Principal" in raw and "NotPrincipal" in raw:
        raise Undecidable(f"{where}: both Principal and NotPrincipal")
    if role != "resource" and has_principal:
        raise Undecidable(f"{where}: Principal in an identity-based policy or permissions boundary")
    if role == "resource" and not has_principal:
        raise Undecidable(f"{where}: a resource-based policy statement needs Principal or NotPrincipal")
    principals: _Principals | None = None
    not_principal = "NotPrincipal" in raw
    if has_principal:
        principals, problem = _parse_principals(raw["NotPrincipal" if not_principal else "Principal"])
        if problem:
            raise Undecidable(f"{where}: {problem}")
        if not_principal and effect == "Allow":
            # PRINCIPAL: AWS advises against NotPrincipal with Allow; what it grants to role sessions is not
            # documented precisely enough to decide.
            raise Undecidable(f"{where}: NotPrincipal with Effect Allow is not modelled")

    conditions: tuple[Cond, ...] = ()
    condition_problem: str | None = None
    if "Condition" in raw:
        conditions, condition_problem = parse_conditions(raw["Condition"])

    return Statement(
        ref=ref,
        where=where,
        allow=effect == "Allow",
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        resource_problem=resource_problem,
        principals=principals,
        not_principal=not_principal,
        conditions=conditions,
        condition_problem=condition_problem,
    )


def _compile_policy(policy: Policy, role: Role, trust: bool) -> tuple[Statement, ...]:
    doc = policy.document
    if not isinstance(doc, Mapping):
        raise Undecidable(f"{policy.source}: policy document is not an object")
    unknown = set(doc) - _DOC_ELEMENTS
    if unknown:
        raise Undecidable(f"{policy.source}: unknown policy element(s) {sorted(unknown)}")
    raw = doc.get("Statement")
    if raw is None:
        raise Undecidable(f"{policy.source}: no Statement")
    statements = raw if isinstance(raw, list) else [raw]
    return tuple(_compile_statement(s, i, policy, role, trust) for i, s in enumerate(statements))


# Parsed policies by (id(policy), role, trust); the entry goes when the Policy object does.
_CACHE: dict[tuple[int, Role, bool], tuple[weakref.ref[Policy], tuple[Statement, ...]]] = {}


def parsed_statements(policy: Policy, role: Role, trust: bool = False) -> tuple[Statement, ...]:
    key = (id(policy), role, trust)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is policy:
        return hit[1]
    compiled = _compile_policy(policy, role, trust)
    _CACHE[key] = (weakref.ref(policy, lambda _ref, key=key: _CACHE.pop(key, None)), compiled)  # type: ignore[misc]
    return compiled


# --------------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------------


@dataclass
class Matches:
    allow: list[tuple[StatementRef, Naming | None]]
    deny: list[StatementRef]


def match(
    statements: Iterable[Statement],
    request: AuthRequest,
    ctx: Mapping[str, ContextValue],
    *,
    has_boundary: bool = False,
) -> Matches:
    out = Matches([], [])
    p = request.principal
    for s in statements:
        if not s.action_matches(request.action):
            continue
        if not s.resource_matches(request.resource):
            continue
        naming: Naming | None = None
        if s.principals is not None:
            if s.not_principal:
                # BOUNDARY: a Deny with NotPrincipal always denies a principal that has a permissions boundary.
                if not has_boundary and s.principals.identities_listed(p):
                    continue
            else:
                naming = s.principals.naming(p)
                if naming is None:
                    continue
        if not s.conditions_hold(ctx):
            continue
        if s.allow:
            out.allow.append((s.ref, naming))
        else:
            out.deny.append(s.ref)
    return out
