"""Compare the shipped model catalog with what an account's Bedrock says today (`bft models --live`).

Bedrock answers two questions: ListFoundationModels (which models take which customization, and which are
served on demand, in this region) and GetFoundationModel (one model's customizations and lifecycle). Every
answer that differs from the catalog is one line of the result, so a platform engineer sees when the
catalog is stale: a new model, a model gone, a new Legacy or end-of-life date.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bft.catalog import REPORTED_CUSTOMIZATIONS as LISTED_TYPES
from bft.catalog import Catalog, Model


def differences(bedrock: Any, catalog: Catalog, region: str, on: date) -> list[str]:
    """Each difference between ``catalog`` and ``bedrock``'s answers for ``region``, as a sentence."""
    listed: dict[str, set[str]] = {}
    for kind in LISTED_TYPES:
        for summary in bedrock.list_foundation_models(byCustomizationType=kind)["modelSummaries"]:
            listed.setdefault(summary["modelId"], set()).add(kind)
    on_demand = {
        summary["modelId"] for summary in bedrock.list_foundation_models(byInferenceType="ON_DEMAND")["modelSummaries"]
    }
    ours = {model.model_id: model for model in catalog.models if region in model.regions}
    found: list[str] = []
    for model_id in sorted(set(listed) - set(ours)):
        kinds = ", ".join(sorted(listed[model_id]))
        found.append(f"{model_id}: Bedrock lists it for {kinds} in {region}; the catalog does not know it here")
    for model_id, model in ours.items():
        live = model.lifecycle.state(on) == "ACTIVE"
        if model_id not in listed:
            if live:
                found.append(
                    f"{model_id}: the catalog says customizable in {region}; Bedrock does not list it for "
                    f"{', '.join(LISTED_TYPES)}"
                )
            continue
        expected = set(model.customizations) & set(LISTED_TYPES)
        if listed[model_id] != expected:
            found.append(
                f"{model_id}: Bedrock lists it for {', '.join(sorted(listed[model_id]))}; the catalog says "
                f"{', '.join(sorted(expected)) or 'none'}"
            )
        found += _details(bedrock, model, on)
        if live and model.invoke_id not in on_demand:
            found.append(
                f"{model_id}: its on-demand id {model.invoke_id} (the evaluation's base model) is not listed "
                f"ON_DEMAND in {region}"
            )
    return found


def _details(bedrock: Any, model: Model, on: date) -> list[str]:
    """GetFoundationModel against the catalog entry: customizations and lifecycle."""
    details = bedrock.get_foundation_model(modelIdentifier=model.model_id)["modelDetails"]
    found = []
    theirs = set(details.get("customizationsSupported") or [])
    ours = set(model.customizations) & set(LISTED_TYPES)
    if theirs != ours:
        found.append(
            f"{model.model_id}: GetFoundationModel says customizations {', '.join(sorted(theirs)) or 'none'}; "
            f"the catalog says {', '.join(sorted(ours))}"
        )
    life = details.get("modelLifecycle") or {}
    published = model.lifecycle
    status = life.get("status")
    if status and status != _status(published.state(on)):
        found.append(f"{model.model_id}: Bedrock says {status}; the catalog says {published.describe(on)} on {on}")
    for key, ours_date in (("legacyTime", published.legacy), ("endOfLifeTime", published.end_of_life)):
        theirs_date = _day(life.get(key))
        if theirs_date != ours_date:
            theirs_text, ours_text = theirs_date or "unset", ours_date or "unset"
            found.append(f"{model.model_id}: Bedrock's {key} is {theirs_text}; the catalog's is {ours_text}")
    return found


def _status(state: str) -> str:
    """The status Bedrock would report for a catalog state (it has no end-of-life status: Legacy until removed)."""
    return "ACTIVE" if state == "ACTIVE" else "LEGACY"


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    return None
