"""Every policy of the synthesized assembly, resolved: what the offline authorization decides from.

The runner registers each policy-bearing resource as it stands the stacks up (with intrinsics resolved
against what it created): roles with their trust policy, inline policies, managed policies and
permissions boundary; ``AWS::IAM::Policy`` and ``AWS::IAM::ManagedPolicy`` attachments; bucket, topic
and key policies; Lambda permissions (a function's resource policy); KMS grants made at run time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bft_twin.iam.model import Grant, Policy, Undecidable

__all__ = ["AWS_MANAGED_POLICIES", "PolicyStore", "RoleRecord"]

# AWS managed policies the templates attach, with their published documents (IAM console, "AWS managed
# policy reference"). Any other managed policy ARN is recorded as unknown: a call it might have allowed
# fails loudly instead of being guessed.
AWS_MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "service-role/AWSLambdaBasicExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ],
    },
}


@dataclass
class RoleRecord:
    """One IAM role of the assembly."""

    arn: str
    name: str
    source: str  # "<stack>/<logical id>"
    trust: Policy | None
    inline: list[Policy] = field(default_factory=list)
    managed_arns: list[str] = field(default_factory=list)
    boundary_arn: str | None = None
    role_id: str | None = None  # IAM's unique id (AROA...): aws:userid is "<role id>:<session name>"
    tags: dict[str, str] = field(default_factory=dict)


class PolicyStore:
    """Policies by what they are attached to; safe to read from several threads."""

    def __init__(self, *, partition: str = "aws") -> None:
        self.partition = partition
        self._lock = threading.Lock()
        self.roles: dict[str, RoleRecord] = {}  # role ARN -> record
        self._role_names: dict[str, str] = {}  # role name -> ARN
        self.managed: dict[str, Policy] = {}  # managed policy ARN -> document
        self._pending_attachments: list[tuple[str, str]] = []  # (role name, managed policy ARN) before the role exists
        self.bucket_policies: dict[str, Policy] = {}  # bucket name -> policy
        self.topic_policies: dict[str, Policy] = {}  # topic ARN -> policy
        self.key_policies: dict[str, Policy] = {}  # key ARN -> policy
        self._function_statements: dict[str, list[tuple[str, dict[str, Any]]]] = {}  # function ARN -> statements
        self.grants: dict[str, list[Grant]] = {}  # key ARN -> grants
        for name, document in AWS_MANAGED_POLICIES.items():
            arn = f"arn:{partition}:iam::aws:policy/{name}"
            self.managed[arn] = Policy(document, f"aws-managed:{name}", "identity")

    # -- registration (while the stacks are created) ---------------------------------------------------

    def add_role(
        self,
        *,
        arn: str,
        name: str,
        source: str,
        trust: Mapping[str, Any] | None,
        inline: Sequence[tuple[str, Mapping[str, Any]]] = (),
        managed_arns: Iterable[str] = (),
        boundary_arn: str | None = None,
        role_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        record = RoleRecord(
            arn=arn,
            name=name,
            source=source,
            trust=Policy(trust, f"{source}:trust", "trust") if trust else None,
            inline=[Policy(doc, f"{source}:{policy_name}", "identity") for policy_name, doc in inline],
            managed_arns=list(managed_arns),
            boundary_arn=boundary_arn,
            role_id=role_id,
            tags=dict(tags or {}),
        )
        with self._lock:
            self.roles[arn] = record
            self._role_names[name] = arn
            for role_name, policy_arn in [p for p in self._pending_attachments if p[0] == name]:
                record.managed_arns.append(policy_arn)
                self._pending_attachments.remove((role_name, policy_arn))

    def attach_policy(self, *, roles: Iterable[str], document: Mapping[str, Any], source: str) -> None:
        """An ``AWS::IAM::Policy``: an inline policy of each named role (role names, as its ``Roles`` gives)."""
        with self._lock:
            for role in roles:
                record = self._role(role, source)
                record.inline.append(Policy(document, source, "identity"))

    def add_managed_policy(self, *, arn: str, document: Mapping[str, Any], source: str, roles: Iterable[str]) -> None:
        with self._lock:
            self.managed[arn] = Policy(document, source, "identity")
            for role in roles:
                arn_of_role = self._role_names.get(role)
                if arn_of_role is None:
                    self._pending_attachments.append((role, arn))
                else:
                    self.roles[arn_of_role].managed_arns.append(arn)

    def attach_to_external(self, principal_arn: str, policy_arn: str) -> None:
        """Attach one of the assembly's managed policies to a role outside it (a person's role), as the
        platform team does when it onboards a reviewer; that role's other policies stay unknown."""
        with self._lock:
            if policy_arn not in self.managed:
                raise Undecidable(f"managed policy {policy_arn} is not defined in the assembly")
            record = self.roles.get(principal_arn)
            if record is None:
                record = RoleRecord(
                    arn=principal_arn,
                    name=principal_arn.rsplit("/", 1)[-1],
                    source=f"external:{principal_arn}",
                    trust=None,
                )
                self.roles[principal_arn] = record
            if policy_arn not in record.managed_arns:
                record.managed_arns.append(policy_arn)

    def set_bucket_policy(self, bucket: str, document: Mapping[str, Any], source: str) -> None:
        with self._lock:
            self.bucket_policies[bucket] = Policy(document, source, "resource")

    def set_topic_policy(self, topic_arn: str, document: Mapping[str, Any], source: str) -> None:
        with self._lock:
            self.topic_policies[topic_arn] = Policy(document, source, "resource")

    def set_key_policy(self, key_arn: str, document: Mapping[str, Any], source: str) -> None:
        with self._lock:
            self.key_policies[key_arn] = Policy(document, source, "key")

    def add_function_permission(self, function_arn: str, statement: dict[str, Any], source: str) -> None:
        with self._lock:
            self._function_statements.setdefault(function_arn, []).append((source, statement))

    def add_grant(self, grant: Grant) -> None:
        with self._lock:
            self.grants.setdefault(grant.key_arn, []).append(grant)

    def _role(self, name_or_arn: str, source: str) -> RoleRecord:
        arn = name_or_arn if name_or_arn.startswith("arn:") else self._role_names.get(name_or_arn)
        record = self.roles.get(arn or "")
        if record is None:
            raise Undecidable(f"{source}: attaches to role {name_or_arn!r}, which the assembly does not define")
        return record

    def attach_managed_policy(self, role: str, policy_arn: str) -> None:
        """Attach one of the assembly's managed policies to one of its roles after deployment (what an AWS
        Budgets action does, bft_twin.offline.apply_budget_action)."""
        with self._lock:
            if policy_arn not in self.managed:
                raise Undecidable(f"managed policy {policy_arn} is not defined in the assembly")
            record = self._role(role, f"attaching {policy_arn}")
            if policy_arn not in record.managed_arns:
                record.managed_arns.append(policy_arn)

    # -- queries ---------------------------------------------------------------------------------------

    def role_arn(self, name_or_arn: str) -> str | None:
        """The ARN of one of the assembly's roles, by name or ARN (None: not one of them)."""
        arn = name_or_arn if name_or_arn.startswith("arn:") else self._role_names.get(name_or_arn)
        return arn if arn in self.roles else None

    def role(self, arn: str) -> RoleRecord | None:
        return self.roles.get(arn)

    def identity_policies(self, role_arn: str) -> tuple[list[Policy], list[str]]:
        """The role's inline and managed policies, and the managed policy ARNs whose documents are unknown."""
        record = self.roles.get(role_arn)
        if record is None:
            return [], []
        policies = list(record.inline)
        unknown: list[str] = []
        for arn in record.managed_arns:
            found = self.managed.get(arn)
            if found is None:
                unknown.append(arn)
            else:
                policies.append(found)
        return policies, unknown

    def boundary(self, role_arn: str) -> Policy | None:
        """The role's permissions boundary; a boundary whose document is unknown cannot be decided."""
        record = self.roles.get(role_arn)
        if record is None or record.boundary_arn is None:
            return None
        found = self.managed.get(record.boundary_arn)
        if found is None:
            raise Undecidable(
                f"{record.source}: permissions boundary {record.boundary_arn} is not defined in the assembly, so "
                "the offline run cannot know what it allows (define it in a stack, or run without "
                "permissions_boundary_arn offline)"
            )
        return Policy(found.document, found.source, "boundary")

    def trust(self, role_arn: str) -> Policy | None:
        record = self.roles.get(role_arn)
        return record.trust if record else None

    def function_policy(self, function_arn: str) -> Policy | None:
        """A function's resource policy, as Lambda builds it from its permissions."""
        base = function_arn.split(":")
        unqualified = ":".join(base[:7])
        statements = self._function_statements.get(unqualified)
        if not statements:
            return None
        sources = sorted({source for source, _ in statements})
        document = {"Version": "2012-10-17", "Statement": [statement for _, statement in statements]}
        return Policy(document, ",".join(sources) if len(sources) > 1 else sources[0], "resource")

    def grants_for(self, key_arn: str) -> list[Grant]:
        with self._lock:
            return list(self.grants.get(key_arn, []))
