"""The price tables cost estimates use when the environment's config sets none.

ILLUSTRATIVE figures, not read from AWS's price list: they give a dry-run, a report and ``bft cost`` an
order of magnitude out of the box, and each estimate that uses them says so. Bedrock's prices change and
differ by region; replace them per environment (``prices:`` in ``config/<env>.yaml``, keyed by model id or
family) with the figures of https://aws.amazon.com/bedrock/pricing/ ("Model customization", "Provisioned
Throughput" and the custom model on-demand rates) for your region. Keys are model ids, so Nova Micro, Lite
and Pro each have their own price.

What is documented and what is assumed (docs/costs.md has the sources):

* Provisioned Throughput is billed per model-unit hour, with no commitment (custom models only) or a 1-month
  or 6-month term at a discount (Bedrock User Guide, ``prov-throughput``). The discounts below (20 % and 40 %)
  are assumptions, not AWS's figures. How a partial hour is billed is not published: a short-lived PT's
  estimate (``bft smoke``) counts every started hour in full (docs/bedrock-behaviour.md#pt-billing, a guess).
* An on-demand custom model deployment (Nova, Llama 3.3 70B) has no hourly charge: it bills the input and
  output tokens it serves (docs/bedrock-behaviour.md#on-demand-deployments). The per-token figures of the
  catalog are assumptions at the order of the base models' on-demand rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bft.catalog import catalog

SOURCE = catalog().prices_note

# Request's serving.commitment (None: no commitment) -> the price document's key for its model-unit hour.
COMMITMENT_KEYS: dict[str | None, str] = {
    None: "modelUnitHourUsd",
    "OneMonth": "modelUnitHourOneMonthUsd",
    "SixMonths": "modelUnitHourSixMonthsUsd",
}
COMMITMENT_WORDS: dict[str | None, str] = {
    None: "no commitment",
    "OneMonth": "1-month commitment",
    "SixMonths": "6-month commitment",
}
ON_DEMAND_KEYS = ("onDemandInputPer1kTokensUsd", "onDemandOutputPer1kTokensUsd")
# Assumed discounts of a committed term against the no-commitment hour (AWS: "a discounted rate").
_ONE_MONTH, _SIX_MONTHS = 0.8, 0.6


@dataclass(frozen=True)
class ModelPrices:
    training_per_1k_tokens: float
    model_unit_hour: float  # no commitment
    on_demand_per_1k_input: float | None = None  # None: the model has no on-demand deployment
    on_demand_per_1k_output: float | None = None

    @property
    def model_unit_hour_one_month(self) -> float:
        return round(self.model_unit_hour * _ONE_MONTH, 2)

    @property
    def model_unit_hour_six_months(self) -> float:
        return round(self.model_unit_hour * _SIX_MONTHS, 2)

    def by_key(self, key: str) -> float | None:
        """The price under a price document's key (``bft.config.PRICE_TABLES``)."""
        return {
            "trainingPer1kTokensUsd": self.training_per_1k_tokens,
            "modelUnitHourUsd": self.model_unit_hour,
            "modelUnitHourOneMonthUsd": self.model_unit_hour_one_month,
            "modelUnitHourSixMonthsUsd": self.model_unit_hour_six_months,
            "onDemandInputPer1kTokensUsd": self.on_demand_per_1k_input,
            "onDemandOutputPer1kTokensUsd": self.on_demand_per_1k_output,
        }[key]


# Per model, from the model catalog (bft/catalog/models.json, `prices`): one copy of every model fact.
ILLUSTRATIVE: dict[str, ModelPrices] = {
    model.model_id: ModelPrices(
        training_per_1k_tokens=model.prices["training_per_1k_tokens"],
        model_unit_hour=model.prices["model_unit_hour"],
        on_demand_per_1k_input=model.prices.get("on_demand_per_1k_input"),
        on_demand_per_1k_output=model.prices.get("on_demand_per_1k_output"),
    )
    for model in catalog().models
}


def lookup(prices: dict[str, Any], kind: str, model_id: str | None, family: str | None) -> tuple[float | None, str]:
    """(price, where it came from): the config's by model id, then by family, then the illustrative table."""
    configured = prices.get(kind) or {}
    for key in (model_id, family):
        if key and key in configured:
            return float(configured[key]), "configured"
    shipped = ILLUSTRATIVE.get(model_id or "")
    value = shipped.by_key(kind) if shipped is not None else None
    return (value, "illustrative") if value is not None else (None, "none")
