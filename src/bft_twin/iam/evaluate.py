"""AWS's policy evaluation logic, for the offline run: one :class:`AuthRequest` in, one :class:`Decision` out.

Pure: no AWS calls, no clock, no globals but caches. Written to AWS's documentation (pages named in the
comments, listed in ``docs/offline-authorization.md``) and failing closed: what it does not model raises
:class:`Undecidable` (naming the policy and statement) instead of guessing an answer.

Pages cited below, by short name:

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

import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from bft_twin.iam.model import AuthRequest, ContextValue, Decision, Grant, Policy, Principal, StatementRef, Undecidable

__all__ = [
    "KNOWN_CONDITION_KEYS",
    "KNOWN_CONDITION_KEY_PREFIXES",
    "access_denied_message",
    "evaluate",
    "is_known_key",
]

ResourceKind = Literal["generic", "kms", "trust"]

# --------------------------------------------------------------------------------------------------
# Condition-key registry
# --------------------------------------------------------------------------------------------------
# A condition on a key outside this registry is Undecidable: the request mapper promises to supply every
# registered key AWS would supply for a request, so an unregistered key is one we do not model. To add a
# key: put its exact name (as in "AWS global condition context keys" or the Service Authorization
# Reference) in the service's tuple below, and teach the mapper to supply it.

_GLOBAL_KEYS = (
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOwner",
    "aws:SecureTransport",
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:PrincipalType",
    "aws:PrincipalServiceName",
    "aws:PrincipalOrgID",
    "aws:ResourceAccount",
    "aws:TagKeys",
    "aws:ViaAWSService",
    "aws:CalledVia",
    "aws:userid",
    "aws:CurrentTime",
    "aws:EpochTime",
)
_KMS_KEYS = (
    "kms:ViaService",
    "kms:CallerAccount",
    "kms:GrantIsForAWSResource",
    "kms:GrantOperations",
    "kms:EncryptionContextKeys",
    "kms:GranteePrincipal",
    "kms:RetiringPrincipal",
)
_IAM_KEYS = ("iam:PassedToService", "iam:AssociatedResourceArn")
_S3_KEYS = (
    "s3:prefix",
    "s3:delimiter",
    "s3:max-keys",
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:ResourceAccount",
)
_DYNAMODB_KEYS = ("dynamodb:LeadingKeys", "dynamodb:Attributes", "dynamodb:Select", "dynamodb:ReturnValues")
_SNS_KEYS = ("sns:Protocol", "sns:Endpoint")
_LAMBDA_KEYS = ("lambda:FunctionUrlAuthType", "lambda:FunctionArn", "lambda:Principal", "lambda:InvokedViaFunctionUrl")
_STATES_KEYS = ("states:StateMachineQualifier",)
_EC2_KEYS = ("ec2:Subnet",)  # the customization role's ENI statements (stacks/constructs/customization_role.py)
# Bedrock: keys from the Service Authorization Reference as the pipeline's policies need them.
_BEDROCK_KEYS = ("bedrock:InferenceProfileArn", "bedrock:GuardrailIdentifier")

KNOWN_CONDITION_KEYS: frozenset[str] = frozenset(
    _GLOBAL_KEYS
    + _KMS_KEYS
    + _IAM_KEYS
    + _S3_KEYS
    + _DYNAMODB_KEYS
    + _SNS_KEYS
    + _LAMBDA_KEYS
    + _STATES_KEYS
    + _EC2_KEYS
    + _BEDROCK_KEYS
)
# Keys whose name ends in a tag key or an encryption-context key.
KNOWN_CONDITION_KEY_PREFIXES: tuple[str, ...] = (
    "aws:ResourceTag/",
    "aws:RequestTag/",
    "aws:PrincipalTag/",
    "kms:EncryptionContext:",
)

# Condition key names are not case-sensitive (OPS / "IAM JSON policy elements: Condition").
_KNOWN_LOWER = frozenset(k.lower() for k in KNOWN_CONDITION_KEYS)
_PREFIXES_LOWER = tuple(p.lower() for p in KNOWN_CONDITION_KEY_PREFIXES)


def is_known_key(name: str) -> bool:
    """Whether ``name`` (any case) is a condition key the evaluator models."""
    low = name.lower()
    if low in _KNOWN_LOWER:
        return True
    return any(low.startswith(p) and len(low) > len(p) for p in _PREFIXES_LOWER)


# --------------------------------------------------------------------------------------------------
# Wildcard patterns (compiled once, cached)
# --------------------------------------------------------------------------------------------------


def _glob(text: str, star: str, qmark: str) -> str:
    return "".join(star if c == "*" else qmark if c == "?" else re.escape(c) for c in text)


@lru_cache(maxsize=8192)
def _action_regex(pattern: str) -> re.Pattern[str]:
    # Actions are not case-sensitive; * and ? are wildcards ("IAM JSON policy elements: Action").
    return re.compile(_glob(pattern, ".*", "."), re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=8192)
def _arn_regex(pattern: str) -> re.Pattern[str]:
    """An ARN pattern as Resource and the Arn* operators match it (RESOURCE, OPS "ARN condition operators").

    Case-sensitive. The first five colon-separated segments (arn, partition, service, region, account) are
    matched each on its own, so a wildcard there does not cross a colon; the sixth (the resource part,
    which may itself contain colons and slashes) is matched as a whole, ``*`` matching anything.
    A pattern with fewer than six segments (e.g. ``*``) is matched as a whole string.
    """
    parts = pattern.split(":", 5)
    if len(parts) < 6:
        return re.compile(_glob(pattern, ".*", "."), re.DOTALL)
    head = ":".join(_glob(p, "[^:]*", "[^:]") for p in parts[:5])
    return re.compile(head + ":" + _glob(parts[5], ".*", "."), re.DOTALL)


@lru_cache(maxsize=8192)
def _string_like_regex(pattern: str) -> re.Pattern[str]:
    # StringLike: case-sensitive, * and ? anywhere in the string (OPS).
    return re.compile(_glob(pattern, ".*", "."), re.DOTALL)


_VARIABLE = re.compile(r"\$\{")

# --------------------------------------------------------------------------------------------------
# Condition operators
# --------------------------------------------------------------------------------------------------

_NEGATED = frozenset(
    {
        "StringNotEquals",
        "StringNotEqualsIgnoreCase",
        "StringNotLike",
        "NumericNotEquals",
        "DateNotEquals",
        "ArnNotEquals",
        "ArnNotLike",
    }
)


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    """ISO 8601 or epoch seconds (OPS "Date condition operators") as a POSIX timestamp."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _arn_match(pattern: str, value: str) -> bool:
    return _arn_regex(pattern).fullmatch(value) is not None


# Each base operator: (prepare a policy value once, test one request value against the prepared value).
# The "Not" forms use the positive test and are negated by the caller.
Prepared = Any
_Prepare = Callable[[str], Prepared]
_Test = Callable[[str, Prepared], bool]


def _ident(v: str) -> str:
    return v


def _bool_prepare(v: str) -> str:
    low = v.lower()
    if low not in ("true", "false"):
        raise ValueError(f"Bool value {v!r} is neither true nor false")
    return low


def _num_prepare(v: str) -> float:
    n = _num(v)
    if n is None:
        raise ValueError(f"numeric value {v!r} is not a number")
    return n


def _date_prepare(v: str) -> float:
    d = _date(v)
    if d is None:
        raise ValueError(f"date value {v!r} is neither ISO 8601 nor epoch seconds")
    return d


def _num_test(cmp: Callable[[float, float], bool]) -> _Test:
    def test(value: str, policy: float) -> bool:
        n = _num(value)
        return n is not None and cmp(n, policy)

    return test


def _date_test(cmp: Callable[[float, float], bool]) -> _Test:
    def test(value: str, policy: float) -> bool:
        d = _date(value)
        return d is not None and cmp(d, policy)

    return test


_OPERATORS: dict[str, tuple[_Prepare, _Test]] = {
    "StringEquals": (_ident, lambda v, p: v == p),
    "StringEqualsIgnoreCase": (str.lower, lambda v, p: v.lower() == p),
    "StringLike": (_string_like_regex, lambda v, p: p.fullmatch(v) is not None),
    "NumericEquals": (_num_prepare, _num_test(lambda a, b: a == b)),
    "NumericLessThan": (_num_prepare, _num_test(lambda a, b: a < b)),
    "NumericLessThanEquals": (_num_prepare, _num_test(lambda a, b: a <= b)),
    "NumericGreaterThan": (_num_prepare, _num_test(lambda a, b: a > b)),
    "NumericGreaterThanEquals": (_num_prepare, _num_test(lambda a, b: a >= b)),
    "DateEquals": (_date_prepare, _date_test(lambda a, b: a == b)),
    "DateLessThan": (_date_prepare, _date_test(lambda a, b: a < b)),
    "DateLessThanEquals": (_date_prepare, _date_test(lambda a, b: a <= b)),
    "DateGreaterThan": (_date_prepare, _date_test(lambda a, b: a > b)),
    "DateGreaterThanEquals": (_date_prepare, _date_test(lambda a, b: a >= b)),
    "Bool": (_bool_prepare, lambda v, p: v.lower() == p),
    # ArnEquals and ArnLike behave the same: segment-wise, case-sensitive, wildcards allowed (OPS).
    "ArnEquals": (_ident, lambda v, p: _arn_match(p, v)),
    "ArnLike": (_ident, lambda v, p: _arn_match(p, v)),
}
_POSITIVE_OF = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}
KNOWN_OPERATORS = frozenset(_OPERATORS) | frozenset(_POSITIVE_OF) | {"Null"}


@dataclass(frozen=True, slots=True)
class _Cond:
    operator: str  # as written, for messages
    base: str  # StringEquals, StringNotLike, Null, ...
    qualifier: str | None  # "ForAllValues" / "ForAnyValue"
    if_exists: bool
    key: str  # lower-cased
    values: tuple[Prepared, ...]
    negated: bool
    test: _Test | None  # None for Null


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _parse_conditions(block: Any) -> tuple[tuple[_Cond, ...], str | None]:
    """The Condition element, prepared; a second value names the first problem found (or None)."""
    if not isinstance(block, Mapping):
        return (), "Condition is not an object"
    conds: list[_Cond] = []
    problem: str | None = None
    for operator, keys in block.items():
        qualifier: str | None = None
        name = str(operator)
        if ":" in name:
            qualifier, name = name.split(":", 1)
            if qualifier not in ("ForAllValues", "ForAnyValue"):
                return (), f"unknown condition set operator {qualifier!r} in {operator!r}"
        if_exists = name.endswith("IfExists")
        base = name[: -len("IfExists")] if if_exists else name
        if base not in KNOWN_OPERATORS or (base == "Null" and (if_exists or qualifier)):
            return (), f"unknown condition operator {operator!r}"
        if not isinstance(keys, Mapping):
            return (), f"condition operator {operator!r} does not hold an object of keys"
        for key, raw in keys.items():
            key = str(key)
            if not is_known_key(key):
                problem = problem or f"condition key {key!r} is not in the evaluator's registry"
            raw_values = raw if isinstance(raw, list) else [raw]
            values: list[str] = []
            for item in raw_values:
                text = _scalar(item)
                if text is None:
                    return (), f"condition {operator!r} {key!r} has a value that is not a string: {item!r}"
                if _VARIABLE.search(text):
                    problem = problem or f"policy variable in condition {operator!r} {key!r}: {text!r}"
                values.append(text)
            negated = base in _NEGATED
            test: _Test | None = None
            prepared: tuple[Prepared, ...]
            if base == "Null":
                prepared = tuple(v.lower() for v in values)
                if any(v not in ("true", "false") for v in prepared):
                    return (), f"Null condition on {key!r} needs true or false"
            else:
                prepare, test = _OPERATORS[_POSITIVE_OF.get(base, base)]
                try:
                    prepared = tuple(prepare(v) for v in values)
                except ValueError as exc:
                    return (), f"condition {operator!r} {key!r}: {exc}"
            conds.append(
                _Cond(
                    operator=str(operator),
                    base=base,
                    qualifier=qualifier,
                    if_exists=if_exists,
                    key=key.lower(),
                    values=prepared,
                    negated=negated,
                    test=test,
                )
            )
    return tuple(conds), problem


_MISSING = object()


def _cond_holds(cond: _Cond, ctx: Mapping[str, ContextValue], where: str) -> bool:
    value = ctx.get(cond.key, _MISSING)
    # An empty list is treated as an absent key (GUESS, see docs/offline-authorization.md): MULTI speaks
    # of keys "not present" and of "empty" request values in the same breath.
    missing = value is _MISSING or (isinstance(value, list) and not value)
    if cond.base == "Null":
        # Null: true means the key is absent, false means present (OPS "Condition operator to check
        # existence of condition keys").
        want_absent = {v == "true" for v in cond.values}
        return missing in want_absent
    assert cond.test is not None
    if cond.qualifier == "ForAllValues":
        # MULTI: "returns true if every context key value in the request matches ... It also returns true
        # if there are no context keys in the request".
        if missing:
            return True
        items = value if isinstance(value, list) else [value]
        return all(_one(cond, _scalar_or_raise(v, cond, where)) for v in items)
    if cond.qualifier == "ForAnyValue":
        # MULTI: "For no matching context key or if the key does not exist, the condition returns false".
        if missing:
            return cond.if_exists
        items = value if isinstance(value, list) else [value]
        return any(_one(cond, _scalar_or_raise(v, cond, where)) for v in items)
    if missing:
        # OPS: an absent key makes the condition false, except that a negated operator is then true and
        # ...IfExists is true.
        return cond.if_exists or cond.negated
    if isinstance(value, list):
        raise Undecidable(
            f"{where}: condition {cond.operator!r} on multivalued key {cond.key!r} without ForAllValues/"
            "ForAnyValue (MULTI: multivalued context keys need a set operator)"
        )
    return _one(cond, _scalar_or_raise(value, cond, where))


def _scalar_or_raise(value: Any, cond: _Cond, where: str) -> str:
    text = _scalar(value)
    if text is None:
        raise Undecidable(f"{where}: context value of {cond.key!r} is not a scalar: {value!r}")
    return text


def _one(cond: _Cond, value: str) -> bool:
    """One request value against the policy's values: several values are OR'd (OPS); Not forms are NOR."""
    assert cond.test is not None
    hit = any(cond.test(value, p) for p in cond.values)
    return not hit if cond.negated else hit


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
class _Stmt:
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
    conditions: tuple[_Cond, ...]
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
        return all(_cond_holds(c, ctx, self.where) for c in self.conditions)


def _strings(value: Any, element: str, where: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) for i in items):
        raise Undecidable(f"{where}: {element} must be a string or a list of strings, got {value!r}")
    return items


def _compile_statement(raw: Any, index: int, policy: Policy, role: Role, trust: bool) -> _Stmt:
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
    actions = tuple(_action_regex(a) for a in _strings(raw["NotAction" if not_action else "Action"], "Action", where))

    if "Resource" in raw and "NotResource" in raw:
        raise Undecidable(f"{where}: both Resource and NotResource")
    not_resource = "NotResource" in raw
    resources: tuple[re.Pattern[str], ...] | None = None
    resource_problem: str | None = None
    if "Resource" in raw or not_resource:
        patterns = _strings(raw["NotResource" if not_resource else "Resource"], "Resource", where)
        variables = [p for p in patterns if _VARIABLE.search(p)]
        if variables:
            resource_problem = f"policy variable in Resource: {variables[0]!r}"
        resources = tuple(_arn_regex(p) for p in patterns)
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

    conditions: tuple[_Cond, ...] = ()
    condition_problem: str | None = None
    if "Condition" in raw:
        conditions, condition_problem = _parse_conditions(raw["Condition"])

    return _Stmt(
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


def _compile_policy(policy: Policy, role: Role, trust: bool) -> tuple[_Stmt, ...]:
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
_CACHE: dict[tuple[int, Role, bool], tuple[weakref.ref[Policy], tuple[_Stmt, ...]]] = {}


def _statements(policy: Policy, role: Role, trust: bool = False) -> tuple[_Stmt, ...]:
    key = (id(policy), role, trust)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is policy:
        return hit[1]
    compiled = _compile_policy(policy, role, trust)
    _CACHE[key] = (weakref.ref(policy, lambda _ref, key=key: _CACHE.pop(key, None)), compiled)  # type: ignore[misc]
    return compiled


# --------------------------------------------------------------------------------------------------
# Request context
# --------------------------------------------------------------------------------------------------


def _context(request: AuthRequest) -> dict[str, ContextValue]:
    """The request context with lower-cased key names, plus what follows from the request itself.

    Added when the mapper did not supply them: ``kms:EncryptionContext:<key>`` and
    ``kms:EncryptionContextKeys`` from ``encryption_context``; ``aws:PrincipalTag/<key>`` from the
    principal's tags; ``aws:PrincipalArn`` (the role ARN, not the session) and ``aws:PrincipalAccount`` for
    an AWS principal ("AWS global condition context keys").
    """
    ctx: dict[str, ContextValue] = {k.lower(): v for k, v in request.context.items()}
    p = request.principal
    if request.encryption_context:
        for k, v in request.encryption_context.items():
            ctx.setdefault(f"kms:encryptioncontext:{k.lower()}", v)
        ctx.setdefault("kms:encryptioncontextkeys", list(request.encryption_context))
    for k, v in p.tags.items():
        ctx.setdefault(f"aws:principaltag/{k.lower()}", v)
    if p.type == "AWS":
        ctx.setdefault("aws:principalarn", p.arn)
        if p.account:
            ctx.setdefault("aws:principalaccount", p.account)
    return ctx


# --------------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------------


@dataclass
class _Matches:
    allow: list[tuple[StatementRef, Naming | None]]
    deny: list[StatementRef]


def _match(
    statements: Iterable[_Stmt],
    request: AuthRequest,
    ctx: Mapping[str, ContextValue],
    *,
    has_boundary: bool = False,
) -> _Matches:
    out = _Matches([], [])
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
    ctx = _context(request)
    p = request.principal
    action = request.action
    trust = resource_kind == "trust"

    id_m = _Matches([], [])
    for policy in identity:
        m = _match(_statements(policy, "identity"), request, ctx)
        id_m.allow += m.allow
        id_m.deny += m.deny
    b_m = _match(_statements(boundary, "boundary"), request, ctx) if boundary is not None else _Matches([], [])
    r_m = (
        _match(_statements(resource, "resource", trust), request, ctx, has_boundary=boundary is not None)
        if resource is not None
        else _Matches([], [])
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
