"""SNS and EventBridge: publishing to a topic (an encrypted one uses its key), putting events on a bus."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bft_twin.iam.actions._base import ActionRequest, Call, ResourceRef, World
from bft_twin.iam.actions._common import Mapper, resource_tag_context, unmapped
from bft_twin.iam.actions._kms import kms_request
from bft_twin.iam.model import ContextValue, Undecidable


def map_sns(call: Call, world: World) -> list[ActionRequest]:
    p, op = call.params, call.operation
    if op == "Publish":
        topic = p.get("TopicArn") or p.get("TargetArn")
        if not topic or ":endpoint/" in topic:
            raise Undecidable(
                "sns:Publish to a phone number or platform endpoint is not mapped (actions/_messaging.py, map_sns)"
            )
        requests = [_sns_topic_request(call, world, topic)]
        kms_key = world.topic_kms_key(topic)
        if kms_key:
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                requests.append(
                    kms_request(
                        world,
                        call,
                        action,
                        kms_key,
                        via="sns",
                        implicit="publish to an SSE-KMS topic via SNS",
                        context_unknown="not modelled for SNS",
                    )
                )
        return requests
    if op == "Subscribe":
        context: dict[str, ContextValue] = {"sns:Protocol": str(p["Protocol"])}
        if p.get("Endpoint"):
            context["sns:Endpoint"] = str(p["Endpoint"])
        return [_sns_topic_request(call, world, p["TopicArn"], context)]
    if op == "ListSubscriptionsByTopic":
        return [_sns_topic_request(call, world, p["TopicArn"])]
    raise unmapped(call)


def _sns_topic_request(
    call: Call, world: World, topic: str, context: Mapping[str, ContextValue] | None = None
) -> ActionRequest:
    full = {**(context or {}), **resource_tag_context(world, topic)}
    return ActionRequest(
        action=f"sns:{call.operation}", resource=topic, context=full, resource_policy=ResourceRef("sns-topic", topic)
    )


def map_events(call: Call, world: World) -> list[ActionRequest]:
    if call.operation != "PutEvents":
        raise unmapped(call)
    buses: dict[str, list[Mapping[str, Any]]] = {}
    for entry in call.params["Entries"]:
        bus = str(entry.get("EventBusName") or "default")
        arn = bus if bus.startswith("arn:") else f"arn:aws:events:{call.region}:{call.account}:event-bus/{bus}"
        buses.setdefault(arn, []).append(entry)
    requests = []
    for arn, entries in buses.items():
        context: dict[str, ContextValue] = {
            "events:source": sorted({str(e["Source"]) for e in entries if e.get("Source")}),
            "events:detail-type": sorted({str(e["DetailType"]) for e in entries if e.get("DetailType")}),
        }
        context.update(resource_tag_context(world, arn))
        requests.append(ActionRequest(action="events:PutEvents", resource=arn, context=context, resource_policy=None))
    return requests


MAPPERS: dict[str, tuple[Mapper, frozenset[str]]] = {
    "sns": (map_sns, frozenset({"Publish", "Subscribe", "ListSubscriptionsByTopic"})),
    "events": (map_events, frozenset({"PutEvents"})),
}
