"""Baseline cost figures for the README, all from ILLUSTRATIVE prices (bft.prices, bft.idle_cost), not AWS's:

* one run on the sample dataset per model: training at the default epochs, one day of one model unit with no
  commitment, the 1- and 6-month commitment rates, or the on-demand deployment's token prices;
* the platform's own monthly idle cost per deployable environment, counted from its synthesized templates
  (synthesized here, cached per source change under cdk.out/.bench).

Prints Markdown tables.
"""

from __future__ import annotations

from pathlib import Path

from bft.dataset import validate_paths
from bft.families import FAMILIES, default_epochs, serving_kinds
from bft.idle_cost import HOURS_PER_MONTH, LABEL, idle_cost
from bft.prices import ILLUSTRATIVE, SOURCE
from bft.synth import ROOT, cached_synth

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "train.jsonl"
ENVIRONMENTS = ("dev", "staging", "prod")


def runs() -> None:
    tokens = validate_paths(FAMILIES[0].base_model_ids[0], SAMPLE).statistics["tokens"]["total"]
    print(f"sample training file: {tokens:,} estimated tokens per epoch; prices: {SOURCE}")
    print(
        "| model | epochs (default) | training | 1 model unit, one day (no commitment) "
        "| 1 model unit, a month: 1-month / 6-month term | on-demand deployment, per 1,000 input / output tokens |"
    )
    print("|---|---|---|---|---|---|")
    for family in FAMILIES:
        epochs = default_epochs(family)
        for model in family.base_model_ids:
            price = ILLUSTRATIVE[model]
            one, six = price.model_unit_hour_one_month, price.model_unit_hour_six_months
            on_demand = (
                f"${price.on_demand_per_1k_input:.6f}".rstrip("0")
                + f" / ${price.on_demand_per_1k_output:.6f}".rstrip("0")
                if "on-demand-deployment" in serving_kinds(model)
                and price.on_demand_per_1k_input is not None
                and price.on_demand_per_1k_output is not None
                else "not offered"
            )
            print(
                f"| `{model}` | {epochs} | ${tokens * epochs / 1000 * price.training_per_1k_tokens:,.2f} "
                f"| ${price.model_unit_hour * 24:,.0f} | ${one * HOURS_PER_MONTH:,.0f} / ${six * HOURS_PER_MONTH:,.0f} "
                f"| {on_demand} |"
            )


def idle() -> None:
    print()
    print(LABEL)
    print("| environment | KMS keys | alarms | budgets | scheduled functions | per month |")
    print("|---|---|---|---|---|---|")
    for env in ENVIRONMENTS:
        cost = idle_cost(cached_synth(env, ROOT / "cdk.out" / ".bench"))
        count = {line.kind: line.count for line in cost.lines}
        print(
            f"| {env} | {count.get('AWS::KMS::Key', 0)} | {count.get('AWS::CloudWatch::Alarm', 0)} "
            f"| {count.get('AWS::Budgets::Budget', 0)} | {count.get('scheduled-functions', 0)} "
            f"| ${cost.monthly_usd:,.2f} |"
        )


if __name__ == "__main__":
    runs()
    idle()
