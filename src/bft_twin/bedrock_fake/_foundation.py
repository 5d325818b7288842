"""The foundation-model views: GetFoundationModel and ListFoundationModels, from the fake's model catalog."""

from __future__ import annotations

from typing import Any

from bft_twin.bedrock_fake._core import _INVALID_MODEL, _Core
from bft_twin.bedrock_fake._wire import ServiceError
from bft_twin.catalog import FoundationModel


class _Foundation(_Core):
    """GetFoundationModel and ListFoundationModels: the catalog's models of the fake's region, as Bedrock shows them."""

    def _foundation_view(self, model: FoundationModel) -> dict[str, Any]:
        life = model.lifecycle
        lifecycle: dict[str, Any] = {"status": life.status}
        for key, value in (
            ("startOfLifeTime", life.start_of_life),
            ("endOfLifeTime", life.end_of_life),
            ("legacyTime", life.legacy_time),
            ("publicExtendedAccessTime", life.public_extended_access_time),
        ):
            if value is not None:
                lifecycle[key] = value
        return {
            "modelArn": model.arn(self.region),
            "modelId": model.model_id,
            "modelName": model.name,
            "providerName": model.provider,
            "inputModalities": list(model.input_modalities),
            "outputModalities": list(model.output_modalities),
            "responseStreamingSupported": model.streaming,
            "customizationsSupported": list(model.customizations),
            "inferenceTypesSupported": list(model.inference_types),
            "modelLifecycle": lifecycle,
        }

    def _get_foundation_model(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        model = self.catalog.get(request["modelIdentifier"], self.region)
        if model is None:
            # Assumption: unknown or out-of-region ids answer ValidationException (as InvokeModel does).
            raise ServiceError("ValidationException", _INVALID_MODEL)
        return {"modelDetails": self._foundation_view(model)}

    def _list_foundation_models(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        provider = request.get("byProvider")
        found = [
            m
            for m in self.catalog.in_region(self.region)
            # Assumption: byProvider is case-insensitive.
            if (provider is None or provider.lower() == m.provider.lower())
            and request.get("byCustomizationType") in (None, *m.customizations)
            and request.get("byInferenceType") in (None, *m.inference_types)
            and request.get("byOutputModality") in (None, *m.output_modalities)
        ]
        return {"modelSummaries": [self._foundation_view(m) for m in found]}
