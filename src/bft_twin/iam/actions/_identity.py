"""IAM and STS: a role passed to a service (iam:PassRole), and assuming a role."""

from __future__ import annotations

from bft_twin.iam.actions._base import ActionRequest, Call, ResourceRef, World
from bft_twin.iam.actions._common import Mapper, request_tag_context, resource_tag_context, tag_list, unmapped
from bft_twin.iam.model import ContextValue, Unknown


def pass_role(role_arn: str, service: str, world: World | None = None) -> ActionRequest:
    """``iam:PassRole`` on ``role_arn`` to ``service`` (e.g. ``"bedrock.amazonaws.com"``).

    PassRole is not an API call: a service checks it when an API call hands it a role. IAM roles have no
    resource-based policy that takes part in PassRole (the trust policy governs AssumeRole, not PassRole).
    ``iam:AssociatedResourceArn`` ("the resource to which this role will be associated", supported by every
    service that supports iam:PassedToService: IAM User Guide, "IAM condition context keys") is Unknown:
    which resource a service names there is not documented per service. With ``world``, the role's tags.
    """
    context: dict[str, ContextValue] = {
        "iam:PassedToService": service,
        "iam:AssociatedResourceArn": Unknown(f"the resource {service} associates the passed role with"),
    }
    if world is not None:
        context.update(resource_tag_context(world, role_arn))
    return ActionRequest(
        action="iam:PassRole",
        resource=role_arn,
        context=context,
        resource_policy=None,
        implicit=f"role passed to {service}",
    )


def map_sts(call: Call, world: World) -> list[ActionRequest]:
    p, op = call.params, call.operation
    if op == "GetCallerIdentity":
        return []  # no permission is ever needed, even under an explicit deny
    if op != "AssumeRole":
        raise unmapped(call)
    role = p["RoleArn"]
    tags = tag_list(p.get("Tags"), "Key", "Value")
    context: dict[str, ContextValue] = {"sts:RoleSessionName": str(p["RoleSessionName"])}
    if p.get("ExternalId"):
        context["sts:ExternalId"] = str(p["ExternalId"])
    if p.get("SourceIdentity"):
        context["sts:SourceIdentity"] = str(p["SourceIdentity"])
    if p.get("TransitiveTagKeys"):
        context["sts:TransitiveTagKeys"] = list(p["TransitiveTagKeys"])
    context.update(request_tag_context(tags))
    context.update(resource_tag_context(world, role))
    requests = [
        ActionRequest(
            action="sts:AssumeRole", resource=role, context=context, resource_policy=ResourceRef("iam-role", role)
        )
    ]
    if tags:
        requests.append(
            ActionRequest(
                action="sts:TagSession",
                resource=role,
                context={**request_tag_context(tags), **resource_tag_context(world, role)},
                resource_policy=ResourceRef("iam-role", role),
                implicit="session tags passed to AssumeRole",
            )
        )
    if p.get("SourceIdentity"):
        requests.append(
            ActionRequest(
                action="sts:SetSourceIdentity",
                resource=role,
                context={"sts:SourceIdentity": str(p["SourceIdentity"]), **resource_tag_context(world, role)},
                resource_policy=ResourceRef("iam-role", role),
                implicit="source identity passed to AssumeRole",
            )
        )
    return requests


MAPPERS: dict[str, tuple[Mapper, frozenset[str]]] = {
    "sts": (map_sts, frozenset({"GetCallerIdentity", "AssumeRole"})),
}
