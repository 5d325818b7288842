"""Reward functions for reinforcement fine-tuning: the pipeline's built-in graders, and the checks every grader
(built-in, a team's file, a deployed function) must pass before a job may use it.

Bedrock's grader contract (user guide ``reward-functions``, docs/bedrock-behaviour.md#grader-contract): the
grader is invoked with a batch ``[{"id", "messages": [..., {"role": "assistant", ...}], "metadata":
{"reference_answer": ..., ...}}]`` and returns ``[{"id", "aggregate_reward_score": float, "metrics_list":
[{"name", "value", "type": "Reward" | "Metric"}]}]``; the Lambda times out after at most 15 minutes.

Built-in graders (``grader: {"builtin": NAME, ...options}`` in a request): each reads the last assistant
turn's text and the record's reference answer (``options.field`` picks a key of an object reference) and scores
from 0 to 1:

- ``exact_match``: the text equals the reference (a non-string reference as compact JSON);
- ``normalized_match``: equal after collapsing whitespace, dropping a final period and lower-casing;
- ``json_match``: structural, field by field (:mod:`bft.workflow.json_match`): the reward is the field F1,
  1 exactly when the answer's JSON (or tool call) equals the reference;
- ``regex``: the text matches ``options.pattern`` (else the reference, as a pattern); ``fullmatch`` (default
  true) anchors it;
- ``numeric``: the last number in the text is within ``options.tolerance`` (default 1e-6, absolute; relative
  with ``relative: true``) of the reference.

Standard library only: this module ships in the functions' layer and the grader function.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bft.workflow import json_match
from bft.workflow.scoring import normalize

# The Lambda timeout Bedrock allows a grader (user guide reward-functions): a batch must score well within it.
LAMBDA_LIMIT_SECONDS = 15 * 60
# A batch that takes more than this share of the limit is refused: Bedrock's batches may be larger than the
# test's, and a cold start adds to it (the share is this project's choice).
TIME_SHARE = 0.5
METRIC_TYPES = ("Reward", "Metric")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class GraderError(ValueError):
    """A grader or its options are wrong; the message names which."""


@dataclass(frozen=True)
class Builtin:
    name: str
    options: dict[str, type | tuple[type, ...]]
    score: Callable[[str, Any, dict[str, Any]], tuple[float, list[dict[str, Any]]]]


def _reference(metadata: dict[str, Any], options: dict[str, Any]) -> Any:
    reference = metadata.get("reference_answer")
    key = options.get("field")
    if key is not None:
        if not isinstance(reference, dict) or key not in reference:
            raise GraderError(f"reference_answer has no field {key!r} (grader option field)")
        reference = reference[key]
    return reference


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _exact(answer: str, reference: Any, options: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    return float(answer.strip() == _as_text(reference).strip()), []


def _normalized(answer: str, reference: Any, options: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    return float(normalize(answer) == normalize(_as_text(reference))), []


def _json(answer: str, reference: Any, options: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    precision, recall, f1, parsed = json_match.compare(_as_text(reference), answer, normalize)
    return f1, [
        _metric("field_precision", precision),
        _metric("field_recall", recall),
        _metric("parsed", float(parsed)),
    ]


def _regex(answer: str, reference: Any, options: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    pattern = options.get("pattern", reference)
    if not isinstance(pattern, str):
        raise GraderError("regex: the pattern (option pattern, else the reference answer) must be a string")
    compiled = re.compile(pattern, re.IGNORECASE if options.get("ignore_case") else 0)
    found = compiled.fullmatch(answer.strip()) if options.get("fullmatch", True) else compiled.search(answer)
    return float(found is not None), []


def _numeric(answer: str, reference: Any, options: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    try:
        want = float(reference)
    except (TypeError, ValueError):
        raise GraderError(f"numeric: the reference answer {reference!r} is not a number") from None
    numbers = _NUMBER.findall(answer.replace(",", ""))
    if not numbers:
        return 0.0, [_metric("parsed", 0.0)]
    got = float(numbers[-1])
    tolerance = float(options.get("tolerance", 1e-6))
    allowed = tolerance * abs(want) if options.get("relative") else tolerance
    return float(math.isfinite(got) and abs(got - want) <= allowed), [_metric("parsed", 1.0)]


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("exact_match", {"field": str}, _exact),
        Builtin("normalized_match", {"field": str}, _normalized),
        Builtin("json_match", {"field": str}, _json),
        Builtin("regex", {"field": str, "pattern": str, "fullmatch": bool, "ignore_case": bool}, _regex),
        Builtin("numeric", {"field": str, "tolerance": (int, float), "relative": bool}, _numeric),
    )
}


def check_options(name: Any, options: dict[str, Any]) -> None:
    """GraderError unless ``name`` is a built-in grader and ``options`` are its own, well typed."""
    builtin = BUILTINS.get(name) if isinstance(name, str) else None
    if builtin is None:
        raise GraderError(f"builtin {name!r} is not one of {', '.join(BUILTINS)}")
    for key, value in options.items():
        if key not in builtin.options:
            allowed = ", ".join(builtin.options) or "none"
            raise GraderError(f"{key}: not an option of {name} (options: {allowed})")
        if (isinstance(value, bool) and builtin.options[key] is not bool) or not isinstance(
            value, builtin.options[key]
        ):
            raise GraderError(f"{key}: {value!r} has the wrong type for {name}")
    if "pattern" in options:
        try:
            re.compile(options["pattern"])
        except re.error as exc:
            raise GraderError(f"pattern: {exc}") from None
    if "tolerance" in options and not (math.isfinite(options["tolerance"]) and options["tolerance"] >= 0):
        raise GraderError("tolerance: must be a finite number, 0 or more")


def _metric(name: str, value: float, kind: str = "Metric") -> dict[str, Any]:
    return {"name": name, "value": float(value), "type": kind}


def answer_text(messages: Any) -> str:
    """The last assistant turn's text (a string content, or its text blocks joined, or its tool call as JSON)."""
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        raise GraderError("messages: the batch record has no assistant turn to grade")
    last = messages[-1]
    if last.get("role") != "assistant":
        raise GraderError("messages: the last message is not the assistant's answer")
    content = last.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        call = json_match.tool_call_text(content)
        if call is not None:
            return call
        return "".join(b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))
    raise GraderError("messages: the assistant's content is neither a string nor a list of blocks")


def grade(name: str, options: dict[str, Any], batch: Any) -> list[dict[str, Any]]:
    """Score a batch with a built-in grader, in the contract's output shape (one result per input, in order)."""
    check_options(name, options)
    if not isinstance(batch, list):
        raise GraderError("the grader's input must be a list of records")
    builtin = BUILTINS[name]
    results = []
    for record in batch:
        if not isinstance(record, dict) or "id" not in record:
            raise GraderError("each batch record must be an object with an id")
        metadata = record.get("metadata") or {}
        score, extra = builtin.score(answer_text(record.get("messages")), _reference(metadata, options), options)
        results.append(
            {
                "id": record["id"],
                "aggregate_reward_score": float(score),
                "metrics_list": [_metric(name, score, "Reward"), *extra],
            }
        )
    return results


# The metadata key naming a record's built-in grader in the job's copy of the prompts (bft.dataset.s3).
GRADER_KEY = "bft_grader"


def grade_by_metadata(batch: Any) -> list[dict[str, Any]]:
    """The pipeline grader function's work: each record graded by the built-in its metadata names, in order."""
    if not isinstance(batch, list):
        raise GraderError("the grader's input must be a list of records")
    results = []
    for record in batch:
        spec = (record.get("metadata") or {}).get(GRADER_KEY) if isinstance(record, dict) else None
        if not isinstance(spec, dict):
            raise GraderError(f"record {record.get('id') if isinstance(record, dict) else record!r}: no {GRADER_KEY}")
        results.extend(grade(str(spec.get("builtin")), dict(spec.get("options") or {}), [record]))
    return results


def with_grader(record: dict[str, Any], builtin: str, options: dict[str, Any]) -> dict[str, Any]:
    """A prompt record that names its built-in grader for the pipeline's grader function."""
    return {**record, GRADER_KEY: {"builtin": builtin, "options": options}}


# -- the checks every grader must pass before a job may use it -------------------------------------------------


@dataclass
class CheckResult:
    """What ``check_grader`` found: ``failures`` names each check that failed (contract, spread, time)."""

    batches: int = 0
    records: int = 0
    rewards: list[float] = field(default_factory=list)
    slowest_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        spread = f"rewards {min(self.rewards):.3f}-{max(self.rewards):.3f}" if self.rewards else "no rewards"
        head = (
            f"{self.records} answers in {self.batches} batch(es), {spread}, slowest batch {self.slowest_seconds:.2f} s"
        )
        return head + "".join(f"\n  FAILED {failure}" for failure in self.failures)


def stand_in_batch(prompts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Grader input for RFT prompt records, two answers each: the reference answer itself (a grader that
    works rewards it) and a perturbed one (a grader that teaches rewards it less), so the spread can show."""
    batch = []
    for index, prompt in enumerate(prompts):
        metadata = {key: value for key, value in prompt.items() if key != "messages"}
        reference = _as_text(prompt.get("reference_answer"))
        for kind, text in (("reference", reference), ("perturbed", _perturb(reference))):
            batch.append(
                {
                    "id": f"{index}-{kind}",
                    "messages": [*prompt.get("messages", []), {"role": "assistant", "content": text}],
                    "metadata": metadata,
                }
            )
    return batch


def _perturb(text: str) -> str:
    """A wrong answer of the same kind: numbers shifted, else the text reversed (JSON keeps its keys)."""
    if _NUMBER.search(text):
        return _NUMBER.sub(lambda m: repr(float(m.group()) + 7.5), text)
    return "not " + text[::-1] if text else "unknown"


def check_contract(batch: list[dict[str, Any]], output: Any) -> list[str]:
    """Each way ``output`` breaks the contract for ``batch`` (empty when it keeps it)."""
    if not isinstance(output, list):
        return [f"contract: the grader returned {type(output).__name__}, not a list of results"]
    problems: list[str] = []
    wanted = [record["id"] for record in batch]
    ids = [item.get("id") if isinstance(item, dict) else None for item in output]
    missing = [i for i in wanted if i not in ids]
    if missing or len(output) != len(wanted):
        problems.append(
            f"contract: {len(output)} results for {len(wanted)} records (one result per id; missing: "
            f"{', '.join(map(str, missing[:5])) or 'none'})"
        )
    for position, item in enumerate(output):
        where = f"result[{position}]"
        if not isinstance(item, dict):
            problems.append(f"contract: {where} is not an object")
            continue
        score = item.get("aggregate_reward_score")
        if not isinstance(score, float) or not math.isfinite(score):
            problems.append(f"contract: {where}.aggregate_reward_score must be a finite float, got {score!r}")
        metrics = item.get("metrics_list")
        if not isinstance(metrics, list):
            problems.append(f"contract: {where}.metrics_list must be a list")
            continue
        for index, metric in enumerate(metrics):
            ok = (
                isinstance(metric, dict)
                and isinstance(metric.get("name"), str)
                and isinstance(metric.get("value"), int | float)
                and not isinstance(metric.get("value"), bool)
                and metric.get("type") in METRIC_TYPES
            )
            if not ok:
                problems.append(
                    f"contract: {where}.metrics_list[{index}] must be {{name: string, value: number, type: "
                    f"Reward|Metric}}, got {metric!r}"
                )
        if len(problems) >= 5:
            break
    return problems[:5]


def check_grader(
    call: Callable[[list[dict[str, Any]]], Any],
    prompts: Sequence[dict[str, Any]],
    *,
    batch_records: int = 16,
    limit_seconds: float = LAMBDA_LIMIT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> CheckResult:
    """Run ``call`` (the grader) on stand-in answers to ``prompts`` and check the contract, the spread of the
    rewards (all equal: the grader cannot teach) and the time per batch against ``limit_seconds``."""
    result = CheckResult()
    batch = stand_in_batch(prompts)
    for start in range(0, len(batch), batch_records):
        chunk = batch[start : start + batch_records]
        began = clock()
        try:
            output = call(chunk)
        except Exception as exc:  # the grader's own fault, named for its author
            result.failures.append(f"contract: the grader raised {type(exc).__name__}: {exc}"[:500])
            return result
        elapsed = clock() - began
        result.batches += 1
        result.records += len(chunk)
        result.slowest_seconds = max(result.slowest_seconds, elapsed)
        problems = check_contract(chunk, output)
        if problems:
            result.failures.extend(problems)
            return result
        result.rewards.extend(item["aggregate_reward_score"] for item in output)
    if result.slowest_seconds > limit_seconds * TIME_SHARE:
        result.failures.append(
            f"time: a batch of {batch_records} took {result.slowest_seconds:.1f} s, over "
            f"{TIME_SHARE:.0%} of the {limit_seconds:.0f} s Lambda limit Bedrock allows a grader"
        )
    if result.rewards and max(result.rewards) - min(result.rewards) < 1e-9:
        result.failures.append(
            f"spread: every answer got reward {result.rewards[0]:g}, the reference answers and the wrong ones "
            "alike: a grader whose rewards never differ cannot teach the model anything"
        )
    return result
