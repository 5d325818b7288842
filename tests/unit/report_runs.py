"""Builders of report inputs (a run's record and the documents beside it) for tasks unlike the moderation sample:
a classification run with many labels, a tool-use run with long answers. The metrics are computed by the
evaluation step's own scorers (bft.workflow.scoring) from generated pairs, so the report reads what the step
would have written; no workflow run is needed.
"""

from __future__ import annotations

import json
import random
from typing import Any

from bft.workflow.scoring import record_score, score

PREFIX = "s3://reports-bucket/reports/search/run-1/"
# A prompt a base model echoes when it does not know the task: longer than the report's cap on a shown value.
ECHO = (
    "Answer the request below with one call to one of these tools, as JSON with the keys name and parameters. "
    "<tools>" + json.dumps([{"name": f"tool_{i}", "description": "does a thing " * 8} for i in range(16)]) + "</tools>"
)


def run_record(**changes: Any) -> dict[str, Any]:
    """A real (not simulated) run that deployed: every section of the report has something to show."""
    record: dict[str, Any] = {
        "outcome": "deployed",
        "status": "SUCCEEDED",
        "execution": {"id": "arn:aws:states:us-east-1:123456789012:execution:bft-dev-search:run-1", "name": "run-1"},
        "finishedAt": "2026-12-08T08:31:32+00:00",
        "request": {"team": "search", "requestId": "run-1"},
        "run": {
            "requestId": "run-1",
            "team": "search",
            "environment": "dev",
            "baseModelId": "amazon.nova-micro-v1:0:128k",
            "serving": {"modelUnits": 1, "ttlHours": 12},
        },
        "warnings": [],
        "path": {
            "states": [
                "Init",
                "ValidateRequest",
                "ValidateDataset",
                "StartJob",
                "WaitForJob",
                "CollectMetrics",
                "CreateServing",
                "WaitForServing",
                "Evaluate",
                "FinalizeSuccess",
            ],
            "stateTransitions": 42,
            "lambdaInvocations": 17,
            "retries": 0,
        },
        "serving": {
            "kind": "provisioned-throughput",
            "arn": "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123",
            "name": "bft-dev-search-run-1",
            "status": "InService",
        },
        "leftRunning": [
            {
                "type": "provisioned-throughput",
                "arn": "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123",
                "reason": "serving the custom model",
                "hourlyCostUsd": 21.18,
                "expiresAfterHours": 12,
            }
        ],
        "cost": {"estimatedBilledTokens": 1_234_567, "trainingUsd": 9.88, "servingPerHourUsd": 21.18},
        "cleanup": None,
        "location": {"prefixUri": PREFIX},
        "notification": {"subject": "bft dev: run-1: deployed", "message": "Outcome: deployed."},
    }
    record.update(changes)
    return record


def metrics(validation: list[float] | None = None, *, steps_per_epoch: int = 50) -> dict[str, Any]:
    """metrics.json with a falling training curve and, when given, one validation point an epoch."""
    epochs = len(validation) if validation else 3
    training = [
        {"step": s, "epoch": s // steps_per_epoch, "loss": 2.5 / (1 + s / 40)} for s in range(epochs * steps_per_epoch)
    ]
    curves: dict[str, Any] = {"training": training}
    summary: dict[str, Any] = {"training": _summary(training)}
    if validation:
        curves["validation"] = [
            {"step": (e + 1) * steps_per_epoch - 1, "epoch": e, "loss": loss} for e, loss in enumerate(validation)
        ]
        summary["validation"] = _summary(curves["validation"])
    return {"curves": curves, "summary": summary}


def _summary(curve: list[dict[str, Any]]) -> dict[str, Any]:
    losses = [p["loss"] for p in curve]
    return {"points": len(curve), "first": losses[0], "final": losses[-1], "min": min(losses)}


def dataset_validation(records: int) -> dict[str, Any]:
    return {
        "valid": True,
        "base_model_id": "amazon.nova-micro-v1:0:128k",
        "family": "nova",
        "data_format": "bedrock-conversation-2024",
        "files": [
            {"role": "training", "records": records, "bytes": 2_345_678, "path": PREFIX + "train.jsonl"},
            {"role": "evaluation", "records": 120, "bytes": 345_678, "path": PREFIX + "evaluation.jsonl"},
        ],
        "statistics": {
            "records": records,
            "tokens": {"min": 80, "mean": 412.5, "p95": 900, "max": 1_500, "total": 231_000},
            "turns": {"min": 1, "mean": 1.2, "max": 3},
            "system_prompt_share": 1.0,
            "estimated_billed_tokens": 693_000,
            "epochs": 3,
        },
    }


def evaluation(scorer: str, metric: str, pairs: dict[str, list[tuple[str, str]]]) -> dict[str, Any]:
    """evaluation.json as the step writes it, from (expected, answer) pairs per model."""
    models = list(pairs)
    computed = {name: score(scorer, pairs[name]) for name in models}
    per_record = {name: [record_score(scorer, e, a) for e, a in pairs[name]] for name in models}
    records = len(pairs["custom"])
    rows = [
        {"line": i + 1, "expected": pairs["custom"][i][0]}
        | {name: {"answer": pairs[name][i][1], "score": round(per_record[name][i], 4)} for name in models}
        for i in range(records)
        if per_record["custom"][i] < 1
    ][:200]
    usage = {
        "base": {
            "tokens": 900.5,
            "inputTokens": 700.5,
            "outputTokens": 200.0,
            "latencyMsP50": 2_400,
            "latencyMsP95": 5_100,
        },
        "custom": {
            "tokens": 320.0,
            "inputTokens": 300.0,
            "outputTokens": 20.0,
            "latencyMsP50": 610,
            "latencyMsP95": 900,
        },
    }
    return {
        "scorer": scorer,
        "scorerSource": "chosen",
        "scorerReason": "the expected answers' shape",
        "metric": metric,
        "threshold": 0.5,
        "thresholdSource": "requested",
        "records": records,
        "models": models,
        "scores": {name: computed[name][metric] for name in models},
        "metrics": computed,
        "perQuery": usage,
        "tokenReduction": 320.0 / 900.5 - 1,
        "basePrompt": "production",
        "passed": computed["custom"][metric] >= 0.5,
        "wrong": {name: sum(1 for value in per_record[name] if value < 1) for name in models},
        "rows": rows,
        "chunks": 2,
        "concurrency": 2,
    }


def classification_run(labels: int = 150, records: int = 900) -> tuple[dict[str, Any], dict[str, Any]]:
    """A classification run with ``labels`` distinct answers (some frequent, most rare), custom mostly right."""
    rng = random.Random(7)
    names = [
        f"category-{i:03d}-{'-'.join(rng.choice(['billing', 'refund', 'account', 'shipping']) for _ in range(3))}"
        for i in range(labels)
    ]
    # Zipf-like: a few labels carry most records, so the folds have something to rank.
    weights = [1 / (rank + 1) for rank in range(labels)]
    expected = [*names, *rng.choices(names, weights=weights, k=records - labels)]
    custom = [e if rng.random() < 0.8 else rng.choice([*names, "I am not sure"]) for e in expected]
    base = [rng.choice(names) for _ in expected]
    document = evaluation(
        "classification",
        "accuracy",
        {"custom": list(zip(expected, custom, strict=True)), "base": list(zip(expected, base, strict=True))},
    )
    return run_record(), {
        "evaluation.json": document,
        "metrics.json": metrics([1.2, 0.9, 0.85, 0.95, 1.02]),
        "dataset-validation.json": dataset_validation(records * 4),
    }


def tooluse_run(records: int = 120) -> tuple[dict[str, Any], dict[str, Any]]:
    """A json_match run of tool calls with long arguments; the base model echoes a prompt longer than the cap."""
    rng = random.Random(11)

    def call(i: int) -> str:
        note = " ".join(
            rng.choice(["please", "urgent", "customer", "asked", "twice", "about", "order"]) for _ in range(8)
        )
        return json.dumps({"name": f"tool_{i % 12}", "input": {"order": f"A-{i:05d}", "note": note, "days": i % 9}})

    expected = [call(i) for i in range(records)]
    custom = [e if rng.random() < 0.3 else call(i + 1) for i, e in enumerate(expected)]
    base = [f"[amazon.nova-micro-v1:0] {ECHO}" for _ in expected]
    document = evaluation(
        "json_match",
        "structural_match",
        {"custom": list(zip(expected, custom, strict=True)), "base": list(zip(expected, base, strict=True))},
    )
    return run_record(), {
        "evaluation.json": document,
        "metrics.json": metrics([0.8, 0.6, 0.55]),
        "dataset-validation.json": dataset_validation(560),
    }
