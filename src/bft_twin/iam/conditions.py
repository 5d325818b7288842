"""Condition keys and operators: the Condition element of a statement, parsed once and tested against the
request context.

Part of the offline policy evaluator, :mod:`bft_twin.iam.evaluate`, whose docstring lists the pages cited
here by short name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bft_twin.iam.model import AuthRequest, ContextValue, Undecidable, Unknown
from bft_twin.iam.patterns import VARIABLE, arn_regex, string_like_regex

__all__ = [
    "KNOWN_CONDITION_KEYS",
    "KNOWN_CONDITION_KEY_PREFIXES",
    "KNOWN_OPERATORS",
    "Cond",
    "cond_holds",
    "context_value",
    "is_known_key",
    "parse_conditions",
    "request_context",
]

# --------------------------------------------------------------------------------------------------
# Condition-key registry
# --------------------------------------------------------------------------------------------------
# A condition on a key outside this registry is Undecidable: for a registered key, every request carries
# what AWS would supply -- the value, or an ``Unknown`` when the offline world cannot know it (a condition
# on it is Undecidable too) -- and a key that is absent is one AWS leaves out. How each key is supplied,
# with its source: ``KEY_SOURCES`` in :mod:`bft_twin.iam.context` (a test keeps it equal to this registry,
# and proves each key, one test per key). To add a key: put its exact name (as in "AWS global condition
# context keys" or the Service Authorization Reference) in the service's tuple below, say in KEY_SOURCES
# how it is supplied, and supply it (the mapper, or the context builder for what every request carries).

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
_IAM_KEYS = ("iam:PassedToService", "iam:AssociatedResourceArn", "iam:PolicyARN")
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
_STS_KEYS = ("sts:SourceIdentity",)  # the submitter role's trust policy (stacks/constructs/team_access.py)
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
    + _STS_KEYS
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
    return arn_regex(pattern).fullmatch(value) is not None


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
    "StringLike": (string_like_regex, lambda v, p: p.fullmatch(v) is not None),
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
class Cond:
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


def parse_conditions(block: Any) -> tuple[tuple[Cond, ...], str | None]:
    """The Condition element, prepared; a second value names the first problem found (or None)."""
    if not isinstance(block, Mapping):
        return (), "Condition is not an object"
    conds: list[Cond] = []
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
                if VARIABLE.search(text):
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
                Cond(
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


def context_value(ctx: Mapping[str, ContextValue], key: str) -> object:
    """The request's value of ``key`` (lower-cased), or ``_MISSING``; an ``Unknown`` registered for a whole
    family of keys (``"aws:resourcetag/*"``: the resource's tags are not known) answers for each of them."""
    value = ctx.get(key, _MISSING)
    if value is _MISSING:
        for prefix in _PREFIXES_LOWER:
            if key.startswith(prefix):
                return ctx.get(prefix + "*", _MISSING)
    return value


def cond_holds(cond: Cond, ctx: Mapping[str, ContextValue], where: str) -> bool:
    value = context_value(ctx, cond.key)
    if isinstance(value, Unknown):
        if value.possible is not None:
            outcomes = {_holds(cond, _MISSING if v is None else v, where) for v in value.possible}
            if len(outcomes) == 1:
                return outcomes.pop()
        raise Undecidable(
            f"{where}: condition {cond.operator!r} on {cond.key!r}, which AWS supplies for this request but the "
            f"offline world cannot know: {value.reason}"
        )
    return _holds(cond, value, where)


def _holds(cond: Cond, value: object, where: str) -> bool:
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


def _scalar_or_raise(value: Any, cond: Cond, where: str) -> str:
    text = _scalar(value)
    if text is None:
        raise Undecidable(f"{where}: context value of {cond.key!r} is not a scalar: {value!r}")
    return text


def _one(cond: Cond, value: str) -> bool:
    """One request value against the policy's values: several values are OR'd (OPS); Not forms are NOR."""
    assert cond.test is not None
    hit = any(cond.test(value, p) for p in cond.values)
    return not hit if cond.negated else hit


# --------------------------------------------------------------------------------------------------
# Request context
# --------------------------------------------------------------------------------------------------


def request_context(request: AuthRequest) -> dict[str, ContextValue]:
    """The request context with lower-cased key names, plus what follows from the request itself.

    Added when the mapper did not supply them: ``kms:EncryptionContext:<key>`` and
    ``kms:EncryptionContextKeys`` from ``encryption_context``; ``aws:PrincipalTag/<key>`` from the
    principal's tags (all of them ``Unknown`` when its tags are not known); ``aws:PrincipalArn`` (the role
    ARN, not the session) and ``aws:PrincipalAccount`` for an AWS principal ("AWS global condition context
    keys"). The rest of what AWS supplies is the runner's (:mod:`bft_twin.iam.context`).
    """
    ctx: dict[str, ContextValue] = {k.lower(): v for k, v in request.context.items()}
    p = request.principal
    if request.encryption_context:
        for k, v in request.encryption_context.items():
            ctx.setdefault(f"kms:encryptioncontext:{k.lower()}", v)
        ctx.setdefault("kms:encryptioncontextkeys", list(request.encryption_context))
    for k, v in p.tags.items():
        ctx.setdefault(f"aws:principaltag/{k.lower()}", v)
    if p.type == "AWS" and not p.tags_known:
        ctx.setdefault("aws:principaltag/*", Unknown(f"the tags of {p.arn}, a role outside the assembly"))
    if p.type == "AWS":
        ctx.setdefault("aws:principalarn", p.arn)
        if p.account:
            ctx.setdefault("aws:principalaccount", p.account)
    return ctx
