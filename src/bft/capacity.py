"""The evaluation's capacity and latency assumptions: how fast a model answers and how many calls its serving
takes at once. The evaluation step plans its chunks with them, and the config's timing rule (bft.config.timing)
bounds the execution timeout with :func:`worst_case_rounds`: one floor below both, so neither imports the other.

AWS publishes none of these figures per model: each is an assumption, named in
docs/bedrock-behaviour.md#evaluation-capacity.
"""

from __future__ import annotations

import math

# The Converse answer limit: enough for a generative answer, a ceiling on each call's latency.
MAX_ANSWER_TOKENS = 512
# Assumption (docs/bedrock-behaviour.md#evaluation-capacity): a call takes 0.5 s plus its answer at 50 output
# tokens per second. AWS publishes no per-model latency for custom models; this errs slow, so chunks stay small.
ASSUMED_FIRST_TOKEN_SECONDS = 0.5
ASSUMED_TOKENS_PER_SECOND = 50.0
# Assumption: concurrent requests one model unit of provisioned throughput serves without throttling, and a
# custom model deployment's and a base model's on-demand concurrency. AWS publishes none of them per model.
CONCURRENT_REQUESTS_PER_MODEL_UNIT = 2
DEPLOYMENT_CONCURRENT_REQUESTS = 4
BASE_MODEL_CONCURRENT_REQUESTS = 10
# Step Functions: an inline Map runs at most 40 iterations at once (docs/bedrock-behaviour.md#inline-map).
INLINE_MAP_MAX_CONCURRENCY = 40
# A chunk's planned time: a third of the function's 15 minutes, so a slow model or a retry inside the
# client still finishes; the Map's Retry takes what is left.
CHUNK_BUDGET_SECONDS = 300
MAX_CHUNK_RECORDS = 500
# Bounds the plan carried in the execution's state (256 KB per state) and its history (25,000 events).
MAX_CHUNKS = 400


def worst_case_rounds() -> int:
    """How many chunks one Map iteration may run one after another at most: the most chunks at the least
    concurrency any serving allows (what the execution timeout must leave room for)."""
    least = min(CONCURRENT_REQUESTS_PER_MODEL_UNIT, DEPLOYMENT_CONCURRENT_REQUESTS, BASE_MODEL_CONCURRENT_REQUESTS)
    return math.ceil(MAX_CHUNKS / least)
