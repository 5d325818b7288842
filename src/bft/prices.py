"""The price table cost estimates use when the environment's config sets none.

ILLUSTRATIVE figures, not read from AWS's price list: they give a dry-run and a report an order of magnitude
out of the box, and each estimate that uses them says so. Bedrock's prices change and differ by region;
replace them per environment (``prices:`` in ``config/<env>.yaml``, keyed by model id or family) with the
figures of https://aws.amazon.com/bedrock/pricing/ ("Model customization" and "Provisioned Throughput") for
your region. Keys are model ids, so Nova Micro, Lite and Pro each have their own price.
"""

from __future__ import annotations

from typing import Any

SOURCE = "illustrative figures set 2026-11-29, not AWS list prices; see https://aws.amazon.com/bedrock/pricing/"

# model id -> (training USD per 1,000 billed tokens, USD per model-unit hour without commitment)
ILLUSTRATIVE: dict[str, tuple[float, float]] = {
    "anthropic.claude-3-haiku-20240307-v1:0:200k": (0.008, 40.0),
    "amazon.nova-micro-v1:0:128k": (0.001, 20.0),
    "amazon.nova-lite-v1:0:300k": (0.002, 25.0),
    "amazon.nova-pro-v1:0:300k": (0.008, 50.0),
    "meta.llama3-1-8b-instruct-v1:0:128k": (0.002, 25.0),
    "meta.llama3-1-70b-instruct-v1:0:128k": (0.008, 50.0),
    "meta.llama3-2-1b-instruct-v1:0:128k": (0.001, 20.0),
    "meta.llama3-2-3b-instruct-v1:0:128k": (0.001, 20.0),
    "meta.llama3-2-11b-instruct-v1:0:128k": (0.002, 25.0),
    "meta.llama3-2-90b-instruct-v1:0:128k": (0.008, 50.0),
    "amazon.titan-text-express-v1:0:8k": (0.008, 20.0),
    "amazon.titan-text-lite-v1:0:4k": (0.001, 10.0),
    "amazon.titan-text-premier-v1:0:32k": (0.008, 50.0),
}


def lookup(prices: dict[str, Any], kind: str, model_id: str | None, family: str | None) -> tuple[float | None, str]:
    """(price, where it came from): the config's by model id, then by family, then the illustrative table."""
    configured = prices.get(kind) or {}
    for key in (model_id, family):
        if key and key in configured:
            return float(configured[key]), "configured"
    shipped = ILLUSTRATIVE.get(model_id or "")
    if shipped is None:
        return None, "none"
    return (shipped[0] if kind == "trainingPer1kTokensUsd" else shipped[1]), "illustrative"
