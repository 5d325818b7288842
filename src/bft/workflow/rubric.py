"""The LLM-as-judge scorer's request: a judge model and a team's rubric, checked before anything starts.

``evaluation.scorer: llm_judge`` scores the answers the Evaluate step collected with a Bedrock evaluation job
(:mod:`bft.workflow.judge`): the judge is an evaluator model of the model catalog, offered in the
environment's region and allowed by its config (``judge_models``, none by default); the rubric is 1 to 10
custom metrics, each a name, the judge's instructions and a numeric rating scale. The gate's metric is one
of the rubric's names, its score the mean rating of the custom model's answers mapped onto 0-1
(:func:`normalized`). Limits are Bedrock's (docs/bedrock-behaviour.md#evaluation-jobs): at most 10 custom
metrics, 1,000 prompts, 63-character metric names of ``[0-9a-zA-Z-_.]``, 5,000-character instructions, 10
rating-scale entries whose definitions are at most 100 characters.

Standard library only: the CLI's dry run runs these checks too.
"""

from __future__ import annotations

import re
from typing import Any

from bft.catalog import catalog
from bft.errors import RequestInvalid

LLM_JUDGE = "llm_judge"
MAX_METRICS = 10
JUDGE_MAX_RECORDS = 1000
MAX_INSTRUCTIONS = 5000
MAX_SCALE = 10
MAX_DEFINITION = 100
METRIC_NAME = re.compile(r"^[0-9a-zA-Z_.-]{1,63}$")
PREDICTION = "{{prediction}}"
METRIC_FIELDS = {"name", "instructions", "ratingScale"}


def check_judge(raw: dict[str, Any], policy: dict[str, Any]) -> tuple[str, list[dict[str, Any]], str]:
    """(judge model, rubric, gate metric) of an ``llm_judge`` evaluation, or RequestInvalid naming the key."""
    judge = _judge_model(raw.get("judgeModel"), policy)
    rubric = check_rubric(raw.get("rubric"))
    names = [metric["name"] for metric in rubric]
    metric = raw.get("metric", names[0])
    if metric not in names:
        raise RequestInvalid(
            f"evaluation.metric: {metric!r} is not a metric of the rubric; the gate takes one of {', '.join(names)}"
        )
    max_records = raw.get("maxRecords", 200)
    if isinstance(max_records, int) and not isinstance(max_records, bool) and max_records > JUDGE_MAX_RECORDS:
        raise RequestInvalid(
            f"evaluation.maxRecords: {max_records:,} records, and a judge's evaluation job takes at most "
            f"{JUDGE_MAX_RECORDS:,} prompts; set maxRecords to {JUDGE_MAX_RECORDS:,} or fewer"
        )
    return judge, rubric, metric


def _judge_model(model: Any, policy: dict[str, Any]) -> str:
    region, environment = policy["region"], policy["environment"]
    allowed = list(policy.get("judgeModels") or [])
    if not isinstance(model, str) or not model:
        raise RequestInvalid(
            "evaluation.judgeModel: required with scorer llm_judge, the evaluator model id "
            f"(allowed in {environment}: {', '.join(allowed) or 'none'})"
        )
    offered = [judge.model_id for judge in catalog().judges_in(region)]
    if catalog().judge(model) is None:
        raise RequestInvalid(
            f"evaluation.judgeModel: {model!r} is not an evaluator model of Bedrock evaluation jobs (the model "
            f"catalog's judges offered in {region}: {', '.join(offered) or 'none'})"
        )
    if model not in offered:
        raise RequestInvalid(
            f"evaluation.judgeModel: {model} is not offered as a judge in {region} (offered there: "
            f"{', '.join(offered) or 'none'}); nothing was started"
        )
    if model not in allowed:
        hint = (
            f"allowed: {', '.join(allowed)}"
            if allowed
            else "no judge model is allowed there: ask the platform team to set judge_models in its config"
        )
        raise RequestInvalid(f"evaluation.judgeModel: {model} is not allowed as a judge in {environment} ({hint})")
    return model


def check_rubric(rubric: Any) -> list[dict[str, Any]]:
    """The rubric as the evaluation job's custom metrics take it, or RequestInvalid naming the key path."""
    if not isinstance(rubric, list) or not rubric:
        raise RequestInvalid(
            "evaluation.rubric: required with scorer llm_judge, a list of 1 to "
            f"{MAX_METRICS} metrics (name, instructions, ratingScale)"
        )
    if len(rubric) > MAX_METRICS:
        raise RequestInvalid(
            f"evaluation.rubric: {len(rubric)} metrics, and an evaluation job takes at most {MAX_METRICS} "
            "custom metrics"
        )
    checked, seen = [], set()
    for index, metric in enumerate(rubric):
        where = f"evaluation.rubric[{index}]"
        if not isinstance(metric, dict):
            raise RequestInvalid(f"{where}: must be an object with name, instructions and ratingScale")
        unknown = sorted(set(metric) - METRIC_FIELDS)
        if unknown:
            raise RequestInvalid(f"{where}.{unknown[0]}: unknown field (known: {', '.join(sorted(METRIC_FIELDS))})")
        name = metric.get("name")
        if not isinstance(name, str) or not METRIC_NAME.match(name):
            raise RequestInvalid(f"{where}.name: {name!r} must be 1-63 letters, digits, '-', '_' or '.'")
        if name in seen:
            raise RequestInvalid(f"{where}.name: {name!r} is named twice; each metric needs its own name")
        seen.add(name)
        instructions = metric.get("instructions")
        if not isinstance(instructions, str) or not instructions.strip() or len(instructions) > MAX_INSTRUCTIONS:
            raise RequestInvalid(
                f"{where}.instructions: must be a non-empty string of at most {MAX_INSTRUCTIONS:,} characters"
            )
        if PREDICTION not in instructions:
            raise RequestInvalid(
                f"{where}.instructions: must show the judge the answer it rates, as {PREDICTION} (and may use "
                "{{prompt}} and {{ground_truth}})"
            )
        checked.append(
            {"name": name, "instructions": instructions, "ratingScale": _scale(metric.get("ratingScale"), where)}
        )
    return checked


def _scale(scale: Any, where: str) -> list[dict[str, Any]]:
    where = f"{where}.ratingScale"
    if not isinstance(scale, list) or not 2 <= len(scale) <= MAX_SCALE:
        raise RequestInvalid(
            f"{where}: must be a list of 2 to {MAX_SCALE} ratings ({{definition, value}}): the gate maps the mean "
            "rating onto 0-1 between the lowest and the highest value"
        )
    items, values = [], set()
    for position, item in enumerate(scale):
        at = f"{where}[{position}]"
        if not isinstance(item, dict) or set(item) != {"definition", "value"}:
            raise RequestInvalid(f"{at}: must be an object with exactly definition and value")
        definition, value = item["definition"], item["value"]
        if not isinstance(definition, str) or not definition.strip() or len(definition) > MAX_DEFINITION:
            raise RequestInvalid(f"{at}.definition: must be a non-empty string of at most {MAX_DEFINITION} characters")
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise RequestInvalid(f"{at}.value: {value!r} must be a number (the gate averages the ratings)")
        if value in values:
            raise RequestInvalid(f"{at}.value: {value} is in the scale twice; each rating needs its own value")
        values.add(value)
        items.append({"definition": definition, "value": float(value)})
    return items


def bounds(metric: dict[str, Any]) -> tuple[float, float]:
    values = [item["value"] for item in metric["ratingScale"]]
    return min(values), max(values)


def normalized(metric: dict[str, Any], rating: float) -> float:
    """A rating on the metric's scale mapped onto 0-1 (lowest value 0, highest 1), clamped."""
    low, high = bounds(metric)
    return max(0.0, min(1.0, (rating - low) / (high - low)))


def job_metric(metric: dict[str, Any]) -> dict[str, Any]:
    """The rubric metric as CreateEvaluationJob's customMetricDefinition (ratingScale values as floatValue)."""
    return {
        "customMetricDefinition": {
            "name": metric["name"],
            "instructions": metric["instructions"],
            "ratingScale": [
                {"definition": item["definition"], "value": {"floatValue": item["value"]}}
                for item in metric["ratingScale"]
            ],
        }
    }
