"""Step 7: score the custom model (and the base model) on the evaluation set, and gate on the result.

One Lambda calling both models for every record in sequence cannot finish at production size: 2,000
sequential calls of ~0.5-10 s each do not fit a 15-minute Lambda. So the step fans out:

1. :func:`plan` (state ``Evaluate``) checks the run's own serving resource, reads the set once and cuts it
   into chunks of records, each sized to take at most :data:`CHUNK_BUDGET_SECONDS` at the assumed latency;
   it records each chunk's byte range and the concurrency the serving capacity allows.
2. :func:`score_chunk` (state ``EvaluateChunk``, inside the Map ``EvaluateChunks`` whose ``MaxConcurrency``
   is the plan's) reads its byte range, calls the models and writes its answers to one part object whose
   key is fixed by the plan: a retried chunk overwrites its part, so nothing is counted twice. Throttled
   past the client's retries, it saves the answers it has before failing, and its retry goes on from there.
3. :func:`aggregate` (state ``ScoreEvaluation``) reads exactly the planned parts, scores them
   (:mod:`bft.workflow.scoring`), writes ``evaluation.json`` and applies the gate.

The evaluation file is JSONL in the training format of the family: each record's last assistant turn (or
``completion``) is the expected answer, everything before it is the prompt. A tool call in that turn (a
Converse ``toolUse`` block) is the expected answer as ``{"name", "input"}`` JSON, and so is a tool call the
model answers with (:func:`bft.workflow.json_match.tool_call_text`); a record's ``toolConfig`` goes with its
prompt, so the models can answer with one.

The scorer is the request's, or, when it names none, chosen by :func:`plan` from the expected answers it
reads (:func:`bft.workflow.scoring.choose_scorer`); the choice and its reason ride in the plan to
:func:`aggregate` and into ``evaluation.json``.

Capacity and latency figures AWS does not publish are assumptions, named here and in
docs/bedrock-behaviour.md#evaluation-capacity.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from botocore.exceptions import ClientError

from bft.aws_errors import bedrock_call
from bft.capacity import (
    ASSUMED_FIRST_TOKEN_SECONDS,
    ASSUMED_TOKENS_PER_SECOND,
    BASE_MODEL_CONCURRENT_REQUESTS,
    CHUNK_BUDGET_SECONDS,
    CONCURRENT_REQUESTS_PER_MODEL_UNIT,
    DEPLOYMENT_CONCURRENT_REQUESTS,
    INLINE_MAP_MAX_CONCURRENCY,
    MAX_ANSWER_TOKENS,
    MAX_CHUNK_RECORDS,
    MAX_CHUNKS,
)
from bft.catalog import catalog
from bft.errors import EvaluationBelowThreshold, RequestInvalid, TransientError
from bft.workflow import json_match, judge
from bft.workflow.json_match import tool_call_text
from bft.workflow.rubric import LLM_JUDGE
from bft.workflow.s3io import put_json, report_key, split_uri
from bft.workflow.scoring import SCORERS, choose_scorer, record_score, score
from bft.workflow.serving import PT, own_serving
from bft.workflow.usage import call_usage, per_query, reduction


def base_invocation_id(base_model_id: str) -> str:
    """The on-demand id of a customizable base model (the model catalog's ``invoke_id``); for a model the
    catalog does not know, the fine-tuning id minus its context suffix (":200k")."""
    found = catalog().model(base_model_id)
    return found.invoke_id if found is not None else re.sub(r":\d+k$", "", base_model_id)


def seconds_per_call(answer_tokens: int) -> float:
    """The assumed latency of one call that answers ``answer_tokens`` tokens."""
    return ASSUMED_FIRST_TOKEN_SECONDS + answer_tokens / ASSUMED_TOKENS_PER_SECOND


def concurrency(run: dict[str, Any], *, chunks: int) -> int:
    """How many chunks may call the models at once: the serving capacity, and the base model's when compared."""
    kind = run["serving"]["kind"]
    allowed = (
        int(run["serving"].get("modelUnits") or 1) * CONCURRENT_REQUESTS_PER_MODEL_UNIT
        if kind == PT
        else DEPLOYMENT_CONCURRENT_REQUESTS
    )
    if run["evaluation"]["compareBase"]:
        allowed = min(allowed, BASE_MODEL_CONCURRENT_REQUESTS)
    return max(1, min(allowed, INLINE_MAP_MAX_CONCURRENCY, chunks))


def plan(
    run: dict[str, Any],
    serving: dict[str, Any],
    *,
    bedrock: Any,
    s3: Any,
    execution_name: str,
    reports_bucket: str | None = None,
) -> dict[str, Any]:
    """Check the serving resource and the set, and cut the set into chunks (see the module docstring).
    ``reports_bucket`` holds the base model's production prompt, when the request gives one."""
    spec = run["evaluation"]
    if not spec:
        return {"skipped": True, "chunks": []}
    # Invoke only the run's own serving resource, serving the run's own job's model (tags and model checked).
    serving_arn, _ = own_serving(run, serving, bedrock=bedrock)
    _, key = split_uri(spec["dataUri"])
    if not key.startswith(f"{run['team']}/") or ".." in key.split("/"):  # validated at submission; checked again
        raise RequestInvalid(f"evaluation.dataUri: {spec['dataUri']} is outside team {run['team']}'s prefix")
    models = {"custom": serving_arn}
    if spec["compareBase"]:
        models["base"] = base_invocation_id(run["baseModelId"])
    records, answer_tokens, expected = _scan(s3, spec["dataUri"], spec["maxRecords"])
    if not records:
        raise RequestInvalid(f"evaluation.dataUri: {spec['dataUri']} holds no usable records")
    scorer = resolve_scorer(spec, expected)
    per_call = seconds_per_call(answer_tokens)
    size = max(1, min(MAX_CHUNK_RECORDS, math.floor(CHUNK_BUDGET_SECONDS / (len(models) * per_call))))
    count = math.ceil(len(records) / size)
    if count > MAX_CHUNKS:
        raise RequestInvalid(
            f"evaluation.maxRecords: {len(records):,} records with answers of up to {answer_tokens} tokens need "
            f"{count} chunks of {size} (at {per_call:.1f} s a call, {len(models)} models), more than {MAX_CHUNKS}; "
            "score fewer records, or set compareBase to false"
        )
    parts_prefix = report_key(run["team"], run["requestId"], f"evaluation-parts/{execution_name}/")
    base_prompt = spec.get("baseSystemPrompt") if "base" in models else None
    if base_prompt:
        # Read by each chunk from S3: the Map's items stay small whatever the prompt's length.
        if reports_bucket is None:
            raise RequestInvalid("evaluation.baseSystemPrompt: this deployment's Evaluate step has no reports bucket")
        put_json(s3, reports_bucket, base_prompt_key(parts_prefix), {"system": base_prompt})
    chunks = []
    for index in range(count):
        part = records[index * size : (index + 1) * size]
        chunk = {"index": index, "firstLine": part[0][0], "records": len(part), "bytes": [part[0][1], part[-1][2]]}
        if base_prompt:
            chunk["basePrompt"] = True
        chunks.append(chunk)
    return {
        "skipped": False,
        "records": len(records),
        "scorer": scorer,
        "answerTokens": answer_tokens,
        "chunkRecords": size,
        "concurrency": concurrency(run, chunks=count),
        "models": models,
        "partsPrefix": parts_prefix,
        "chunks": chunks,
    }


def resolve_scorer(spec: dict[str, Any], expected: list[str]) -> dict[str, Any]:
    """The scorer and gate metric of the run: the request's, or chosen from ``expected`` (the set's expected
    answers) when it names none. RequestInvalid naming the field when the request's metric is not one the
    scorer produces, or json_match has no JSON to compare."""
    name, reason = spec.get("scorer"), "named in the request (evaluation.scorer)"
    source = "requested"
    if name == LLM_JUDGE:  # the rubric's metrics, checked by ValidateRequest (bft.workflow.rubric)
        return {
            "name": name,
            "metric": spec["metric"],
            "source": source,
            "reason": f"{reason}, judged by {spec['judgeModel']}",
        }
    if name is None and spec.get("jsonSchema") is not None:
        name, source = "json_match", "chosen"
        reason = "the request gives evaluation.jsonSchema, which only json_match reads"
    elif name is None:
        choice = choose_scorer(expected)
        name, source, reason = choice.scorer, "chosen", choice.reason
    scorer = SCORERS[name]
    metric = spec.get("metric") or scorer.default_metric
    if metric not in scorer.metrics:
        how = "named in the request" if source == "requested" else f"chosen from the data ({reason})"
        raise RequestInvalid(
            f"evaluation.metric: {metric!r} is not a metric of scorer {name}, {how}; choose one of "
            f"{', '.join(scorer.metrics)}, or name evaluation.scorer"
        )
    if metric == "schema_valid" and spec.get("jsonSchema") is None:
        raise RequestInvalid("evaluation.metric: schema_valid needs evaluation.jsonSchema, the schema to check")
    if name == "json_match" and not any(json_match.is_json_structure(text) for text in expected):
        raise RequestInvalid(
            f"evaluation.scorer: json_match compares JSON answers, and none of the {len(expected)} expected "
            "answers is a JSON object or array; choose another scorer"
        )
    return {"name": name, "metric": metric, "source": source, "reason": reason}


def part_key(parts_prefix: str, index: int) -> str:
    return f"{parts_prefix}part-{index:05d}.json"


def base_prompt_key(parts_prefix: str) -> str:
    """Where the plan puts the base model's production prompt (evaluation.baseSystemPrompt) for the chunks."""
    return f"{parts_prefix}base-prompt.json"


def score_chunk(
    item: dict[str, Any], *, s3: Any, runtime: Any, reports_bucket: str, max_tokens: int = MAX_ANSWER_TOKENS
) -> dict[str, Any]:
    """Call the models on one chunk's records and write their answers to the chunk's part (overwritten on a
    retry). ``item``: the Map's item: ``chunk``, ``dataUri``, ``models``, ``partsPrefix``."""
    chunk = item["chunk"]
    bucket, key = split_uri(item["dataUri"])
    start, end = chunk["bytes"]
    changed = RequestInvalid(
        f"evaluation.dataUri: {item['dataUri']} changed during the evaluation: lines from {chunk['firstLine']} "
        f"no longer hold the {chunk['records']} planned records"
    )
    try:
        body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end - 1}")["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # the object is shorter now
            raise changed from exc
        raise
    part = part_key(item["partsPrefix"], chunk["index"])
    answered = _saved_rows(s3, reports_bucket, part, chunk)
    base_system = (
        json.loads(s3.get_object(Bucket=reports_bucket, Key=base_prompt_key(item["partsPrefix"]))["Body"].read())[
            "system"
        ]
        if chunk.get("basePrompt")
        else None
    )
    rows: list[dict[str, Any]] = []
    line = chunk["firstLine"] - 1
    try:
        for raw in body.splitlines():
            line += 1
            if not raw.strip():
                continue
            if line in answered:  # answered by an earlier attempt of this chunk
                rows.append(answered[line])
                continue
            system, messages, expected, tools = _parse(raw, item["dataUri"], line)
            row: dict[str, Any] = {"line": line, "expected": expected, "usage": {}}
            for name, model_id in item["models"].items():
                # The base model may get its production prompt (instructions, examples); the custom one the record's.
                prompt = base_system if name == "base" and base_system is not None else system
                answer, usage = _converse(runtime, model_id, prompt, messages, max_tokens, tools)
                row[name] = answer[:2000]
                if usage is not None:
                    row["usage"][name] = usage
            rows.append(row)
    except TransientError:
        # Throttled past the client's retries: keep what is answered, so the Map's retry goes on from here.
        put_json(s3, reports_bucket, part, {"chunk": chunk, "rows": rows, "complete": False})
        raise
    if len(rows) != chunk["records"] or len(body) != end - start:
        # The file changed between the plan and this chunk: the scores would not be of the planned set.
        raise changed
    put_json(s3, reports_bucket, part, {"chunk": chunk, "rows": rows, "complete": True})
    return {"index": chunk["index"], "records": len(rows)}


def _saved_rows(s3: Any, bucket: str, key: str, chunk: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The rows an earlier attempt of this chunk saved, by line (none on a first attempt)."""
    try:
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        # No part yet: S3 answers 404, or 403 to a caller without s3:ListBucket, as this function is (S3 API
        # Reference, GetObject: "If you don't have the s3:ListBucket permission, Amazon S3 returns 403").
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "AccessDenied", "403", "404"):
            return {}
        raise
    if document.get("chunk") != chunk:  # another plan's part under the same key: never reused
        return {}
    return {int(row["line"]): row for row in document.get("rows") or []}


# Wrong answers kept in evaluation.json for the report (the parts hold every answer).
WRONG_ROWS_KEPT = 200


def aggregate(run: dict[str, Any], planned: dict[str, Any], *, s3: Any, reports_bucket: str) -> dict[str, Any]:
    """Score the planned parts (each read once, by its planned key), write evaluation.json, apply the gate."""
    spec = run["evaluation"]
    if planned.get("skipped"):
        return {"skipped": True, "passed": True}
    rows = planned_rows(planned, s3=s3, reports_bucket=reports_bucket)
    # A plan made before the scorer was chosen in it names none: the request's then (it always named one).
    choice = planned.get("scorer") or {
        "name": spec["scorer"],
        "metric": spec.get("metric") or SCORERS[spec["scorer"]].default_metric,
        "source": "requested",
        "reason": "named in the request (evaluation.scorer)",
    }
    scorer, metric, schema = choice["name"], choice["metric"], spec.get("jsonSchema")
    threshold_source = spec.get("thresholdSource", "requested")
    models = planned["models"]
    judged: dict[str, Any] = {}
    if scorer == LLM_JUDGE:
        # The judge's ratings, per model and record, each rubric metric on 0-1 (bft.workflow.judge).
        rated = {name: judge.ratings(run, planned["judge"], name, len(rows), s3=s3) for name in models}
        names = [item["name"] for item in spec["rubric"]]
        metrics = {name: {m: judge.mean([r.get(m) for r in rated[name]]) for m in names} for name in models}
        per_record = {name: [r.get(metric) or 0.0 for r in rated[name]] for name in models}
        judged = {"judgeModel": spec["judgeModel"], "rubric": spec["rubric"], "jobs": planned["judge"]["jobs"]}
    else:
        metrics = {
            name: score(scorer, ((row["expected"], row[name]) for row in rows), schema=schema) for name in models
        }
        per_record = {name: [record_score(scorer, row["expected"], row[name]) for row in rows] for name in models}
    queries = per_query(rows, list(models))
    scores = {name: metrics[name][metric] for name in models}
    passed = scores["custom"] >= spec["threshold"]
    wrong = {name: sum(1 for value in per_record[name] if value < 1) for name in models}
    wrong_rows = [
        {"line": row["line"], "expected": row["expected"]}
        | {name: {"answer": row[name][:500], "score": round(per_record[name][i], 4)} for name in models}
        for i, row in enumerate(rows)
        if per_record["custom"][i] < 1
    ][:WRONG_ROWS_KEPT]
    document = {
        "scorer": scorer,
        "scorerSource": choice["source"],
        "scorerReason": choice["reason"],
        "metric": metric,
        "threshold": spec["threshold"],
        "thresholdSource": threshold_source,
        "records": len(rows),
        "models": models,
        "scores": scores,
        "metrics": metrics,
        # Tokens per query and latency, per model, as Converse reported them; the change, custom against base.
        "perQuery": queries,
        "tokenReduction": reduction(queries),
        "basePrompt": "production" if spec.get("baseSystemPrompt") and "base" in models else "the records'",
        "passed": passed,
        "wrong": wrong,
        "rows": wrong_rows,
        "chunks": len(planned["chunks"]),
        "concurrency": planned["concurrency"],
        "parts": planned["partsPrefix"],
    } | ({"judge": judged} if judged else {})
    uri = put_json(s3, reports_bucket, report_key(run["team"], run["requestId"], "evaluation.json"), document)
    result = {
        "evaluationUri": uri,
        "scores": scores,
        "records": len(rows),
        "threshold": spec["threshold"],
        "thresholdSource": threshold_source,
        "scorer": scorer,
        "scorerSource": choice["source"],
        "scorerReason": choice["reason"],
        "metric": metric,
        "passed": passed,
        "chunks": len(planned["chunks"]),
        "perQuery": queries,
        "tokenReduction": reduction(queries),
    }
    if not passed:
        raise EvaluationBelowThreshold(
            f"custom model scored {scores['custom']:.3f} ({scorer} {metric}) on {len(rows)} records, below the "
            f"threshold {spec['threshold']:.3f}; table: {uri}"
            + (f"; base model scored {scores['base']:.3f}" if "base" in scores else "")
        )
    return result


def planned_rows(planned: dict[str, Any], *, s3: Any, reports_bucket: str) -> list[dict[str, Any]]:
    """The answers of exactly the planned parts (each read once, by its planned key), in the set's order."""
    rows: list[dict[str, Any]] = []
    for chunk in planned["chunks"]:
        part = s3.get_object(Bucket=reports_bucket, Key=part_key(planned["partsPrefix"], chunk["index"]))
        document = json.loads(part["Body"].read())
        if document["chunk"] != chunk or not document.get("complete") or len(document["rows"]) != chunk["records"]:
            raise RequestInvalid(f"evaluation part {chunk['index']} does not hold the planned records")
        rows.extend(document["rows"])
    return rows


def prompts(s3: Any, uri: str, lines: set[int]) -> dict[int, str]:
    """The prompt of each record at ``lines`` of the evaluation file, as text a judge reads: the system
    prompt and every turn before the expected answer, one "role: text" paragraph each."""
    bucket, key = split_uri(uri)
    found: dict[int, str] = {}
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for number, raw in enumerate(body.iter_lines(), start=1):
        if number in lines:
            system, messages, _, _ = _parse(raw, uri, number)
            turns = [f"{m['role']}: {_text(m['content'])}" for m in messages]
            found[number] = "\n\n".join(([f"system: {system}"] if system else []) + turns)
    return found


def _converse(
    runtime: Any,
    model_id: str,
    system: str | None,
    messages: list[dict[str, Any]],
    max_tokens: int,
    tools: dict[str, Any] | None = None,
) -> tuple[str, list[int] | None]:
    """The model's answer, and [input tokens, output tokens, latency ms] as Converse reports them."""
    params: dict[str, Any] = {
        "modelId": model_id,
        "messages": messages,
        "inferenceConfig": {"maxTokens": max_tokens, "temperature": 0.0},
    }
    if system:
        params["system"] = [{"text": system}]
    if tools:
        params["toolConfig"] = tools
    with bedrock_call("Converse"):
        response = runtime.converse(**params)
    content = response["output"]["message"]["content"]
    # A tool call is the answer (any text beside it is the model's preamble), as {"name", "input"} JSON.
    call = tool_call_text(content)
    answer = call if call is not None else "".join(block.get("text", "") for block in content)
    return answer, call_usage(response)


def _scan(s3: Any, uri: str, limit: int) -> tuple[list[tuple[int, int, int]], int, list[str]]:
    """(line, first byte, end byte) of the first ``limit`` records, the answer tokens to plan for, and the
    records' expected answers (what a scorer is chosen from)."""
    bucket, key = split_uri(uri)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    records: list[tuple[int, int, int]] = []
    answers: list[str] = []
    longest = 0
    offset = 0
    for number, raw in enumerate(body.iter_lines(keepends=True), start=1):
        start, offset = offset, offset + len(raw)
        if len(records) >= limit:
            break
        if not raw.strip():
            continue
        expected = _parse(raw, uri, number)[2]
        longest = max(longest, len(expected.encode()))
        records.append((number, start, offset))
        answers.append(expected)
    # An answer as long as the longest expected one, twice over (bytes / 3 per token, as the validator counts).
    answer_tokens = min(MAX_ANSWER_TOKENS, max(16, math.ceil(longest / 3) * 2))
    return records, answer_tokens, answers


def expected_answers(lines: Any, name: str, limit: int) -> list[str]:
    """The expected answers of the first ``limit`` records of an evaluation file's lines (bytes), as the
    Evaluate step reads them: what ``bft submit`` chooses a scorer from. RequestInvalid on a broken record."""
    found: list[str] = []
    for number, raw in enumerate(lines, start=1):
        if len(found) >= limit:
            break
        if raw.strip():
            found.append(_parse(raw, name, number)[2])
    return found


_Split = tuple[str | None, list[dict[str, Any]], str, dict[str, Any] | None]


def _parse(raw: bytes, uri: str, number: int) -> _Split:
    try:
        return _split(json.loads(raw))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise RequestInvalid(f"evaluation.dataUri: {uri}:{number}: not a usable record ({exc})") from exc


def _text(content: Any) -> str:
    """A message's text; its tool calls as {"name", "input"} JSON, and a tool result's content, kept in it."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if "toolUse" in block or block.get("type") == "tool_use":
            parts.append(tool_call_text([block]) or "")
        elif "toolResult" in block:
            parts.append(_text(block["toolResult"].get("content") or []))
        elif "json" in block:  # a toolResult's JSON content block
            parts.append(json.dumps(block["json"], ensure_ascii=False))
        else:
            parts.append(block.get("text", ""))
    return "".join(parts)


def _split(record: dict[str, Any]) -> _Split:
    """(system, conversation up to the answer in Converse form, expected answer, tool configuration) for each
    data format. The expected answer is the last turn's tool call(s) as JSON when it has one, else its text."""
    if "prompt" in record:
        return None, [{"role": "user", "content": [{"text": record["prompt"]}]}], str(record["completion"]), None
    messages = record["messages"]
    *history, last = messages
    if last["role"] != "assistant" or not history:
        raise ValueError("the last message must be the assistant's expected answer")
    system = record.get("system")
    if isinstance(system, list):
        system = "".join(block.get("text", "") for block in system)
    tools = record.get("toolConfig") if isinstance(record.get("toolConfig"), dict) else None
    if tools is not None and all(isinstance(m["content"], list) for m in history):
        # Converse takes tool blocks in the history only beside a toolConfig: the record's blocks as they are.
        converse = [{"role": m["role"], "content": m["content"]} for m in history]
    else:
        converse = [{"role": m["role"], "content": [{"text": _text(m["content"])}]} for m in history]
    content = last["content"]
    call = None if isinstance(content, str) else tool_call_text(content)
    return system, converse, call if call is not None else _text(content), tools
