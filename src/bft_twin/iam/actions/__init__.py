"""From one AWS API call to the IAM authorization requests AWS makes for it.

:func:`auth_requests` turns a :class:`Call` (botocore service and operation names, the parameters as
passed to boto3) into the :class:`ActionRequest` list AWS evaluates: the action on the target resource
with its service and resource condition keys, plus the requests a service makes *implicitly* with the
caller's credentials (``kms:Decrypt`` when S3 reads an SSE-KMS object, ``iam:PassRole`` when Bedrock is
handed a role). The caller (the authorizer) adds what every request carries -- the principal, time,
transport, resource-account and via-service keys -- from :mod:`bft_twin.iam.context`; a key AWS supplies
whose value the offline world cannot know is an :class:`~bft_twin.iam.model.Unknown`, never left out.

What the mapper needs to know about the offline world (an object's KMS key, a table's partition key, a
resource's tags) it asks a :class:`World`. An operation it does not map raises
:class:`~bft_twin.iam.model.Undecidable`: the offline run fails closed, never allows by omission.

One private module per service family (``_s3``, ``_kms``, ``_dynamodb``, ``_bedrock``, ``_compute`` for
Lambda and Step Functions, ``_messaging`` for SNS and EventBridge, ``_configuration`` for SSM and
CloudFormation, ``_identity`` for IAM and STS), each with the ``MAPPERS`` it adds to the dispatch below.
Sources and guesses, per service: ``docs/authorization-actions.md``.
"""

from __future__ import annotations

from bft_twin.iam.actions import _bedrock, _compute, _configuration, _dynamodb, _identity, _kms, _messaging, _s3
from bft_twin.iam.actions._base import ActionRequest, Call, ResourceRef, World
from bft_twin.iam.actions._common import Mapper, unmapped
from bft_twin.iam.actions._compute import function_url_requests
from bft_twin.iam.actions._identity import pass_role

__all__ = [
    "MAPPED_OPERATIONS",
    "ActionRequest",
    "Call",
    "ResourceRef",
    "World",
    "auth_requests",
    "function_url_requests",
    "pass_role",
]

_MAPPERS: dict[str, tuple[Mapper, frozenset[str]]] = {
    **_s3.MAPPERS,
    **_dynamodb.MAPPERS,
    **_compute.MAPPERS,
    **_messaging.MAPPERS,
    **_configuration.MAPPERS,
    **_identity.MAPPERS,
    **_kms.MAPPERS,
    **_bedrock.MAPPERS,
}

#: Every (botocore service, operation) :func:`auth_requests` maps; anything else is Undecidable.
MAPPED_OPERATIONS: frozenset[tuple[str, str]] = frozenset(
    (service, operation) for service, (_, operations) in _MAPPERS.items() for operation in operations
)


def auth_requests(call: Call, world: World) -> list[ActionRequest]:
    """The IAM authorization requests AWS makes for ``call``, the direct one first, implicit ones after.

    Raises :class:`~bft_twin.iam.model.Undecidable` for an operation that is not mapped, or a form of a
    mapped one the mapper does not model: the offline run fails closed.
    """
    entry = _MAPPERS.get(call.service)
    if entry is None or call.operation not in entry[1]:
        raise unmapped(call)
    return entry[0](call, world)
