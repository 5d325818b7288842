"""Step 7: invoke the custom model (and the base model) on the evaluation set and gate on the score.

The evaluation file is JSONL in the training format of the family: each record's last assistant turn
(or ``completion``) is the expected answer, everything before it is the prompt. Scorers are pluggable:
register a function ``(expected, answer) -> float in [0, 1]`` in :data:`SCORERS`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from bft.errors import EvaluationBelowThreshold, RequestInvalid
from bft.workflow.bedrock_errors import bedrock_call
from bft.workflow.s3io import put_json, report_key, split_uri
from bft.workflow.serving import own_serving

Scorer = Callable[[str, str], float]


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().strip(".").lower()


SCORERS: dict[str, Scorer] = {
    "exact_match": lambda expected, answer: float(expected.strip() == answer.strip()),
    "normalized_match": lambda expected, answer: float(_normalize(expected) == _normalize(answer)),
    "contains": lambda expected, answer: float(_normalize(expected) in _normalize(answer)),
}


def base_invocation_id(base_model_id: str) -> str:
    """The on-demand id of a customizable base model: the fine-tuning id minus its context suffix (":200k")."""
    return re.sub(r":\d+k$", "", base_model_id)


def evaluate(
    run: dict[str, Any], serving: dict[str, Any], *, bedrock: Any, s3: Any, runtime: Any, reports_bucket: str
) -> dict[str, Any]:
    spec = run["evaluation"]
    if not spec:
        return {"skipped": True, "passed": True}
    # Invoke only the run's own serving resource, serving the run's own job's model (tags and model checked).
    serving_arn, _ = own_serving(run, serving, bedrock=bedrock)
    _, key = split_uri(spec["dataUri"])
    if not key.startswith(f"{run['team']}/") or ".." in key.split("/"):  # validated at submission; checked again
        raise RequestInvalid(f"evaluation.dataUri: {spec['dataUri']} is outside team {run['team']}'s prefix")
    records = list(_records(s3, spec["dataUri"], spec["maxRecords"]))
    if not records:
        raise RequestInvalid(f"evaluation.dataUri: {spec['dataUri']} holds no usable records")
    scorer = SCORERS[spec["scorer"]]
    models = {"custom": serving_arn}
    if spec["compareBase"]:
        models["base"] = base_invocation_id(run["baseModelId"])
    rows: list[dict[str, Any]] = []
    totals = {name: 0.0 for name in models}
    for index, (system, messages, expected) in enumerate(records, start=1):
        row: dict[str, Any] = {"line": index, "expected": expected}
        for name, model_id in models.items():
            answer = _converse(runtime, model_id, system, messages)
            score = scorer(expected, answer)
            totals[name] += score
            row[name] = {"answer": answer[:500], "score": score}
        rows.append(row)
    scores = {name: round(total / len(records), 4) for name, total in totals.items()}
    passed = scores["custom"] >= spec["threshold"]
    document = {
        "scorer": spec["scorer"],
        "threshold": spec["threshold"],
        "records": len(records),
        "models": models,
        "scores": scores,
        "passed": passed,
        "rows": rows,
    }
    uri = put_json(s3, reports_bucket, report_key(run["team"], run["requestId"], "evaluation.json"), document)
    result = {
        "evaluationUri": uri,
        "scores": scores,
        "records": len(records),
        "threshold": spec["threshold"],
        "scorer": spec["scorer"],
        "passed": passed,
    }
    if not passed:
        raise EvaluationBelowThreshold(
            f"custom model scored {scores['custom']:.3f} ({spec['scorer']}) on {len(records)} records, below the "
            f"threshold {spec['threshold']:.3f}; table: {uri}"
            + (f"; base model scored {scores['base']:.3f}" if "base" in scores else "")
        )
    return result


def _converse(runtime: Any, model_id: str, system: str | None, messages: list[dict[str, Any]]) -> str:
    params: dict[str, Any] = {
        "modelId": model_id,
        "messages": messages,
        "inferenceConfig": {"maxTokens": 512, "temperature": 0.0},
    }
    if system:
        params["system"] = [{"text": system}]
    with bedrock_call("Converse"):
        response = runtime.converse(**params)
    content = response["output"]["message"]["content"]
    return "".join(block.get("text", "") for block in content)


def _records(s3: Any, uri: str, limit: int) -> Iterator[tuple[str | None, list[dict[str, Any]], str]]:
    bucket, key = split_uri(uri)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    count = 0
    for number, raw in enumerate(body.iter_lines(), start=1):
        if count >= limit:
            return
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
            yield _split(record)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise RequestInvalid(f"evaluation.dataUri: {uri}:{number}: not a usable record ({exc})") from exc
        count += 1


def _split(record: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]], str]:
    """(system, conversation up to the answer in Converse form, expected answer) for each data format."""
    if "prompt" in record:
        return None, [{"role": "user", "content": [{"text": record["prompt"]}]}], str(record["completion"])
    messages = record["messages"]
    *history, last = messages
    if last["role"] != "assistant" or not history:
        raise ValueError("the last message must be the assistant's expected answer")

    def text(content: Any) -> str:
        return content if isinstance(content, str) else "".join(b.get("text", "") for b in content)

    system = record.get("system")
    if isinstance(system, list):
        system = "".join(block.get("text", "") for block in system)
    converse = [{"role": m["role"], "content": [{"text": text(m["content"])}]} for m in history]
    return system, converse, text(last["content"])
