"""Baseline cost figures for the README: one run on the sample dataset per model, from the shipped
ILLUSTRATIVE price table (bft.prices), not AWS list prices. Prints a Markdown table."""

from __future__ import annotations

from pathlib import Path

from bft.dataset import validate_paths
from bft.families import FAMILIES, default_epochs
from bft.prices import ILLUSTRATIVE, SOURCE

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "train.jsonl"


def main() -> None:
    tokens = validate_paths(FAMILIES[0].base_model_ids[0], SAMPLE).statistics["tokens"]["total"]
    print(f"sample training file: {tokens:,} estimated tokens per epoch; prices: {SOURCE}")
    print("| model | epochs (default) | training | 1 model unit, one day |")
    print("|---|---|---|---|")
    for family in FAMILIES:
        epochs = default_epochs(family)
        for model in family.base_model_ids:
            per_1k, mu_hour = ILLUSTRATIVE[model]
            print(f"| `{model}` | {epochs} | ${tokens * epochs / 1000 * per_1k:,.2f} | ${mu_hour * 24:,.0f} |")


if __name__ == "__main__":
    main()
