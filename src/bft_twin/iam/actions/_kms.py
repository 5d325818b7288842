"""KMS: calls to KMS itself, and the requests other services make on a key with the caller's credentials."""

from __future__ import annotations

from collections.abc import Mapping

from bft_twin.iam.actions._base import ActionRequest, Call, ResourceRef, World
from bft_twin.iam.actions._common import Mapper, resource_tag_context, unmapped
from bft_twin.iam.model import ContextValue, Undecidable, Unknown

# The KMS operations that take an encryption context (KMS API reference; CreateGrant's constraints).
_TAKES_CONTEXT = frozenset(
    f"kms:{op}"
    for op in (
        "encrypt",
        "decrypt",
        "generatedatakey",
        "generatedatakeywithoutplaintext",
        "generatedatakeypair",
        "generatedatakeypairwithoutplaintext",
        "reencryptfrom",
        "reencryptto",
        "creategrant",
    )
)


def kms_request(
    world: World,
    call: Call,
    action: str,
    key_id: str,
    *,
    encryption_context: Mapping[str, str] | None = None,
    via: str | None = None,
    implicit: str | None = None,
    extra: Mapping[str, ContextValue] | None = None,
    context_unknown: str | None = None,
) -> ActionRequest:
    """A KMS request on a key: kms:CallerAccount always, kms:ViaService on implicit requests only.

    ``context_unknown`` says why the encryption context the service uses is not known: its
    ``kms:EncryptionContext:*`` and ``kms:EncryptionContextKeys`` are then Unknown, not absent.
    """
    key_arn = world.kms_key_arn(key_id)
    encryption_context = dict(encryption_context or {})
    context: dict[str, ContextValue] = {"kms:CallerAccount": call.account}
    if via:
        context["kms:ViaService"] = f"{via}.{call.region}.amazonaws.com"
    if encryption_context:
        context.update({f"kms:EncryptionContext:{k}": v for k, v in encryption_context.items()})
        context["kms:EncryptionContextKeys"] = list(encryption_context)
    elif context_unknown and action.lower() in _TAKES_CONTEXT:
        unknown = Unknown(f"the encryption context {via or 'the service'} uses ({context_unknown})")
        context.update({"kms:EncryptionContext:*": unknown, "kms:EncryptionContextKeys": unknown})
    context.update(extra or {})
    context.update(resource_tag_context(world, key_arn))
    return ActionRequest(
        action=action,
        resource=key_arn,
        context=context,
        resource_policy=ResourceRef("kms-key", key_arn),
        encryption_context=encryption_context,
        implicit=implicit,
        via=f"{via}.amazonaws.com" if via else None,
    )


def map_kms(call: Call, world: World) -> list[ActionRequest]:
    p, op = call.params, call.operation
    if op not in ("Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "DescribeKey",
                  "CreateGrant", "ListGrants", "RetireGrant"):  # fmt: skip
        raise unmapped(call)
    key_id = p.get("KeyId")
    if not key_id:
        raise Undecidable(
            f"kms:{op} without KeyId: the key is named by the ciphertext or grant token, which the mapper cannot "
            "read; pass KeyId (src/bft_twin/iam/actions/_kms.py, map_kms)"
        )
    extra: dict[str, ContextValue] = {}
    if p.get("EncryptionAlgorithm"):
        extra["kms:EncryptionAlgorithm"] = str(p["EncryptionAlgorithm"])
    encryption_context = dict(p.get("EncryptionContext") or {})
    if op == "ListGrants":
        # SAR: kms:GrantIsForAWSResource applies to CreateGrant, ListGrants and RevokeGrant; false when the
        # caller itself calls (KMS developer guide, "kms:GrantIsForAWSResource").
        extra["kms:GrantIsForAWSResource"] = False
    if op == "CreateGrant":
        extra["kms:GrantOperations"] = list(p["Operations"])
        extra["kms:GranteePrincipal"] = str(p["GranteePrincipal"])
        extra["kms:GrantIsForAWSResource"] = False
        if p.get("RetiringPrincipal"):
            extra["kms:RetiringPrincipal"] = str(p["RetiringPrincipal"])
        constraints = p.get("Constraints") or {}
        for kind in ("EncryptionContextEquals", "EncryptionContextSubset"):
            if constraints.get(kind):
                extra["kms:GrantConstraintType"] = kind
                encryption_context = dict(constraints[kind])
    return [kms_request(world, call, f"kms:{op}", key_id, encryption_context=encryption_context, extra=extra)]


MAPPERS: dict[str, tuple[Mapper, frozenset[str]]] = {
    "kms": (
        map_kms,
        frozenset(
            {
                "Decrypt",
                "Encrypt",
                "GenerateDataKey",
                "GenerateDataKeyWithoutPlaintext",
                "DescribeKey",
                "CreateGrant",
                "ListGrants",
                "RetireGrant",
            }
        ),
    ),
}
