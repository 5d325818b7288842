"""Systems Manager parameters and CloudFormation stacks: where the code reads what the deployment wrote."""

from __future__ import annotations

from bft_twin.iam.actions._base import ActionRequest, Call, World
from bft_twin.iam.actions._common import Mapper, resource_tag_context, unmapped
from bft_twin.iam.actions._kms import kms_request


def _parameter_name(name: str) -> str:
    """A parameter name or ARN without its version / label selector (names cannot contain ':')."""
    if name.startswith("arn:"):
        head, _, tail = name.partition(":parameter/")
        return f"{head}:parameter/{tail.split(':', 1)[0]}"
    return name.split(":", 1)[0]


def _parameter_arn(call: Call, name: str) -> str:
    bare = _parameter_name(name)
    if bare.startswith("arn:"):
        return bare
    return f"arn:aws:ssm:{call.region}:{call.account}:parameter/{bare.lstrip('/')}"


def map_ssm(call: Call, world: World) -> list[ActionRequest]:
    p, op = call.params, call.operation
    if op == "GetParametersByPath":
        # Authorized on the path itself as a parameter ARN (arn:...:parameter/bft/dev/teams/x), not on each
        # parameter under it; SecureString values it returns would also need kms:Decrypt (none here).
        arn = _parameter_arn(call, str(p["Path"]).rstrip("/") or "/")
        return [ActionRequest(action="ssm:GetParametersByPath", resource=arn, context={}, resource_policy=None)]
    if op not in ("GetParameter", "GetParameters"):
        raise unmapped(call)
    names = [p["Name"]] if op == "GetParameter" else list(p["Names"])
    requests: list[ActionRequest] = []
    for name in names:
        arn = _parameter_arn(call, name)
        requests.append(
            ActionRequest(
                action=f"ssm:{op}", resource=arn, context=resource_tag_context(world, arn), resource_policy=None
            )
        )
        kms_key = world.parameter_kms_key(_parameter_name(name))
        if kms_key and p.get("WithDecryption"):
            requests.append(
                kms_request(
                    world,
                    call,
                    "kms:Decrypt",
                    kms_key,
                    encryption_context={"PARAMETER_ARN": arn},
                    via="ssm",
                    implicit="SecureString parameter decrypted via Systems Manager",
                )
            )
    return requests


def map_cloudformation(call: Call, world: World) -> list[ActionRequest]:
    if call.operation != "DescribeStacks":
        raise unmapped(call)
    name = call.params.get("StackName")
    if not name:
        return [ActionRequest(action="cloudformation:DescribeStacks", resource="*", context={}, resource_policy=None)]
    arn = world.stack_arn(name)
    return [
        ActionRequest(
            action="cloudformation:DescribeStacks",
            resource=arn,
            context=resource_tag_context(world, arn),
            resource_policy=None,
        )
    ]


MAPPERS: dict[str, tuple[Mapper, frozenset[str]]] = {
    "ssm": (map_ssm, frozenset({"GetParameter", "GetParameters", "GetParametersByPath"})),
    "cloudformation": (map_cloudformation, frozenset({"DescribeStacks"})),
}
