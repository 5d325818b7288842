"""Helpers every service's mapper uses: tag condition keys, and the error for an operation not mapped."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from bft_twin.iam.actions._base import ActionRequest, Call, World
from bft_twin.iam.model import ContextValue, Undecidable, Unknown

#: A service's mapper: one call -> its authorization requests (raises Undecidable for what it does not map).
Mapper = Callable[[Call, World], list[ActionRequest]]


def _tags_context(tags: Mapping[str, str], prefix: str) -> dict[str, ContextValue]:
    return {f"{prefix}/{key}": value for key, value in tags.items()}


def resource_tag_context(world: World, arn: str) -> dict[str, ContextValue]:
    """aws:ResourceTag/<k> for each tag of the resource; every such key Unknown when its tags are not known."""
    tags = world.resource_tags(arn)
    if tags is None:
        return {"aws:ResourceTag/*": Unknown(f"the offline world does not record the tags of {arn}")}
    return _tags_context(tags, "aws:ResourceTag")


def request_tag_context(tags: Mapping[str, str]) -> dict[str, ContextValue]:
    """aws:RequestTag/<k> and aws:TagKeys for tags carried by the request (nothing when there are none)."""
    if not tags:
        return {}
    context = _tags_context(tags, "aws:RequestTag")
    context["aws:TagKeys"] = list(tags)
    return context


def tag_list(tags: Iterable[Mapping[str, str]] | None, key: str = "key", value: str = "value") -> dict[str, str]:
    """[{key, value}] (Bedrock: lower case; SNS, STS: Key/Value) -> {key: value}."""
    return {str(tag[key]): str(tag[value]) for tag in tags or ()}


def merge_tags(call: Call, *groups: Mapping[str, str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for group in groups:
        for key, value in group.items():
            if merged.get(key, value) != value:
                raise Undecidable(
                    f"{call.service}:{call.operation} carries tag {key!r} twice with different values; which one "
                    "aws:RequestTag holds is not modelled (src/bft_twin/iam/actions/_common.py, merge_tags)"
                )
            merged[key] = value
    return merged


def unmapped(call: Call) -> Undecidable:
    return Undecidable(
        f"no authorization mapping for {call.service}:{call.operation}; add it to the MAPPERS of its service's "
        "module in src/bft_twin/iam/actions/ (with its source in docs/authorization-actions.md)"
    )
