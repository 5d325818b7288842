"""Tagging: TagResource, UntagResource and ListTagsForResource on the fake's jobs (customization and
evaluation), models and serving."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from bft_twin.bedrock_fake._core import _Core
from bft_twin.bedrock_fake._wire import ServiceError

if TYPE_CHECKING:
    from bft_twin.bedrock_fake._evaluations import EvaluationJob


class _Tags(_Core):
    """TagResource, UntagResource and ListTagsForResource."""

    _evaluations: dict[str, EvaluationJob]

    def _taggable(self, arn: str) -> str:
        if (
            arn not in self._jobs
            and arn not in self._models
            and arn not in self._throughputs
            and arn not in self._deployments
            and arn not in self._evaluations
        ):
            raise ServiceError("ResourceNotFoundException", f"Resource {arn} not found.")
        return arn

    def _tag_resource(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        tags = {t["key"]: t["value"] for t in self._tags.get(self._taggable(request["resourceARN"]), [])}
        tags |= {t["key"]: t["value"] for t in request["tags"]}
        # Facts: tag lists hold at most 200. Assumption: the same cap applies to a resource's total.
        if len(tags) > 200:
            raise ServiceError("TooManyTagsException", "A resource can have at most 200 tags.")
        self._tags[request["resourceARN"]] = [{"key": k, "value": v} for k, v in tags.items()]
        return {}

    def _untag_resource(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        arn = self._taggable(request["resourceARN"])
        drop = set(request["tagKeys"])
        self._tags[arn] = [t for t in self._tags.get(arn, []) if t["key"] not in drop]
        return {}

    def _list_tags(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        return {"tags": copy.deepcopy(self._tags.get(self._taggable(request["resourceARN"]), []))}
