"""What a query costs, base model against custom model: the seed's other headline figure.

The seed announced accuracy *and* "85 % fewer tokens per query": a fine-tuned model needs no long instructions
or examples in its prompt. The evaluation measures both on the team's own set. Every Converse answer carries
its ``usage`` (input and output tokens) and ``metrics.latencyMs`` (Bedrock Runtime API, Converse response); the
evaluation keeps them per record and model (:func:`call_usage`), and :func:`per_query` sums them up: tokens per
query, latency p50 and p95. :func:`query_costs` prices 1,000 queries at the environment's on-demand token prices.

A fair baseline gives the base model the prompt it would need in production (``evaluation.baseSystemPrompt``:
its instructions and few-shot examples), and the custom model the short prompt of the records.

Standard library only: this module ships in the functions' layer.
"""

from __future__ import annotations

import math
from typing import Any

# The base model's production prompt: a system prompt with instructions and examples, bounded so a plan and
# its parts stay small (Converse takes far longer system prompts; a longer one belongs in a file of the data).
BASE_PROMPT_MAX_CHARS = 20_000


def call_usage(response: dict[str, Any]) -> list[int] | None:
    """[input tokens, output tokens, latency ms] of one Converse response; None when it reports none."""
    usage, metrics = response.get("usage") or {}, response.get("metrics") or {}
    tokens_in, tokens_out = usage.get("inputTokens"), usage.get("outputTokens")
    if not isinstance(tokens_in, int) or not isinstance(tokens_out, int):
        return None
    latency = metrics.get("latencyMs")
    return [tokens_in, tokens_out, int(latency) if isinstance(latency, int | float) else -1]


def _percentile(values: list[int], share: float) -> int | None:
    """The nearest-rank percentile (no interpolation: a latency that was measured)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def per_query(rows: list[dict[str, Any]], models: list[str]) -> dict[str, dict[str, Any]]:
    """Per model: mean input, output and total tokens per query, latency p50 and p95 (ms), over the records whose
    call reported its usage (``queries``)."""
    figures: dict[str, dict[str, Any]] = {}
    for name in models:
        usages = [u for row in rows if isinstance(u := (row.get("usage") or {}).get(name), list) and len(u) == 3]
        if not usages:
            continue
        count = len(usages)
        latencies = [u[2] for u in usages if u[2] >= 0]
        figures[name] = {
            "queries": count,
            "inputTokens": round(sum(u[0] for u in usages) / count, 1),
            "outputTokens": round(sum(u[1] for u in usages) / count, 1),
            "tokens": round(sum(u[0] + u[1] for u in usages) / count, 1),
            "latencyMsP50": _percentile(latencies, 0.50),
            "latencyMsP95": _percentile(latencies, 0.95),
        }
    return figures


def reduction(figures: dict[str, dict[str, Any]], key: str = "tokens") -> float | None:
    """The custom model's change against the base model's, as a share (-0.85: 85 % fewer)."""
    base, custom = figures.get("base", {}).get(key), figures.get("custom", {}).get(key)
    if not isinstance(base, int | float) or not isinstance(custom, int | float) or base <= 0:
        return None
    return round((custom - base) / base, 4)


def query_costs(
    figures: dict[str, dict[str, Any]], *, per_1k_input: float | None, per_1k_output: float | None, custom_hourly: bool
) -> dict[str, Any]:
    """USD per 1,000 queries per model at these on-demand token prices. A custom model served by provisioned
    throughput is billed by the hour, not per token: its figure is None and ``customBilledHourly`` says why."""
    costs: dict[str, Any] = {}
    for name, figure in figures.items():
        if per_1k_input is None or per_1k_output is None or (name == "custom" and custom_hourly):
            costs[name] = None
            continue
        one_query = figure["inputTokens"] / 1000 * per_1k_input + figure["outputTokens"] / 1000 * per_1k_output
        costs[name] = round(one_query * 1000, 4)
    return {"perThousandQueriesUsd": costs, "customBilledHourly": custom_hourly}
