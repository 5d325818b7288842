"""Types shared by the offline authorization: the policy evaluator, the request mapper and the runner.

An AWS call made in the offline world becomes one or more :class:`AuthRequest` (a Bedrock
``CreateModelCustomizationJob`` is ``bedrock:CreateModelCustomizationJob`` on three resources plus
``iam:PassRole`` on the service role; an S3 ``GetObject`` of an SSE-KMS object is ``s3:GetObject`` and
``kms:Decrypt`` via S3). Each is decided by :func:`bft_twin.iam.evaluate.evaluate` from the policies the
synthesized templates define, with AWS's policy evaluation logic. The twin fails closed: what it cannot
decide raises :class:`Undecidable`, never allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Unknown:
    """A condition key AWS supplies for a request whose value the offline world cannot know.

    A condition on it is Undecidable (fail closed), never evaluated as if the key were absent. ``possible``
    narrows it: the values the key may take (``None`` standing for "absent"); a condition that holds, or
    fails, for every one of them is decided (:func:`bft_twin.iam.conditions.cond_holds`).
    """

    reason: str
    possible: tuple[str | bool | int | None, ...] | None = None


ContextValue = str | bool | int | list[str] | Unknown

PolicyKind = Literal["identity", "boundary", "resource", "trust", "key"]


@dataclass(frozen=True)
class Principal:
    """Who makes a call.

    ``arn`` is the principal as a policy's ``Principal`` element matches it: a role
    (``arn:aws:iam::123456789012:role/path/Name``), a service (``bedrock.amazonaws.com``) or an
    account root. A role's calls carry its session ARN too
    (``arn:aws:sts::123456789012:assumed-role/Name/session``), which is what AWS's error messages name.
    """

    arn: str
    type: Literal["AWS", "Service"] = "AWS"
    account: str | None = None  # None for a service principal
    session_arn: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # aws:userid: "<role id>:<session name>" for a role session (IAM User Guide, "Principal key values");
    # None when the role is not the assembly's (its id is not known offline).
    userid: str | None = None
    # Whether ``tags`` are all the principal's tags (False: a role outside the assembly, tags unknown).
    tags_known: bool = True

    @property
    def shown(self) -> str:
        """The principal as AWS's AccessDenied messages name it."""
        return self.session_arn or self.arn


@dataclass(frozen=True)
class Policy:
    """One policy document and where it comes from (``<stack>/<logical id>``; a KMS grant: ``grant:<id>``)."""

    document: Mapping[str, Any]
    source: str
    kind: PolicyKind


@dataclass(frozen=True)
class StatementRef:
    """One statement of one policy: what the least-privilege record counts."""

    source: str
    index: int  # position in the policy's Statement list (a single statement object is index 0)
    sid: str | None = None

    def __str__(self) -> str:
        return f"{self.source}#{self.sid or self.index}"


@dataclass(frozen=True)
class Grant:
    """A KMS grant (CreateGrant): lets ``grantee`` use the key for ``operations``, under ``constraints``."""

    grant_id: str
    key_arn: str
    grantee: str  # principal ARN (role ARN) or service principal
    operations: tuple[str, ...]  # KMS operation names, e.g. ("Decrypt", "GenerateDataKey")
    retiring: str | None = None
    # {"EncryptionContextSubset": {...}} or {"EncryptionContextEquals": {...}}
    constraints: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class AuthRequest:
    """One action on one resource, with the request's condition context.

    ``context`` holds every condition key AWS would supply for this request (keys are compared
    case-insensitively, as AWS does); a key that is absent gets AWS's missing-key semantics.
    ``encryption_context`` is for KMS requests (grant constraints, ``kms:EncryptionContext:*`` keys).
    """

    principal: Principal
    action: str  # service prefix and action as in the Service Authorization Reference: "s3:GetObject"
    resource: str  # an ARN, or "*" for actions without a resource type
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    resource_account: str | None = None
    encryption_context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # AWS's wording after "... on resource: <arn>", e.g. "because no identity-based policy allows the
    # s3:GetObject action" or "with an explicit deny in a resource-based policy".
    reason: str
    allowed_by: tuple[StatementRef, ...] = ()
    denied_by: tuple[StatementRef, ...] = ()


class Undecidable(Exception):
    """The evaluator met something it does not model (an operator, a condition key, a policy element).

    Raised instead of allowing: the offline run stops loudly, naming the policy and statement.
    """
