"""Scorers of the evaluation step: what a team's gate can be built on.

Two kinds, both computed from (expected, answer) pairs:

- per-record scorers, averaged over the records: ``exact_match``, ``normalized_match``, ``contains`` and
  ``rouge_l`` (ROUGE-L F-measure over word tokens, Lin 2004, for generative answers);
- ``classification``: the expected answers are labels; accuracy, per-label precision, recall and F1, their
  macro average and the confusion matrix;
- ``json_match``: the answers are JSON (tool calls, structured output): structural equality, field-level
  precision and recall, and validity against the request's optional JSON Schema (:mod:`bft.workflow.json_match`).

Each scorer names the metrics it produces (each "higher is better", so a gate is ``score >= threshold``) and
the one a threshold applies to by default; a request may pick another of them (``evaluation.metric``).

A request that names no scorer gets one chosen from its evaluation data by :func:`choose_scorer` (the rule
is in its docstring and docs/evaluation.md), when the Evaluate step reads the set, and by ``bft submit``
from the local file.

ROUGE-L is computed here, not by a library: the maintained implementation (``rouge-score``) brings nltk,
numpy and absl into the functions' layer for ~20 lines of LCS; :func:`rouge_l` follows its definition
(lower-cased alphanumeric tokens, F-measure with beta 1) and its tests check values worked by hand.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bft.workflow import json_match

__all__ = ["SCORERS", "Choice", "Scorer", "choose_scorer", "normalize", "record_score", "rouge_l", "score"]


def normalize(text: str) -> str:
    """Whitespace collapsed, outer spaces and a final period removed, lower case."""
    return re.sub(r"\s+", " ", text).strip().strip(".").lower()


def _tokens(text: str) -> list[str]:
    # rouge-score's default tokenizer: lower case, runs of [a-z0-9] (everything else separates).
    return re.findall(r"[a-z0-9]+", text.lower())


def _lcs(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence, in O(len(a) * len(b)) time and O(len(b)) memory."""
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(expected: str, answer: str) -> float:
    """ROUGE-L F-measure of ``answer`` against the reference ``expected`` (0 when either has no token)."""
    reference, candidate = _tokens(expected), _tokens(answer)
    common = _lcs(reference, candidate)
    if common == 0:
        return 0.0
    precision, recall = common / len(candidate), common / len(reference)
    return 2 * precision * recall / (precision + recall)


_PER_RECORD: dict[str, Callable[[str, str], float]] = {
    "exact_match": lambda expected, answer: float(expected.strip() == answer.strip()),
    "normalized_match": lambda expected, answer: float(normalize(expected) == normalize(answer)),
    "contains": lambda expected, answer: float(normalize(expected) in normalize(answer)),
    "rouge_l": rouge_l,
}


@dataclass(frozen=True)
class Scorer:
    name: str
    metrics: tuple[str, ...]  # what score() returns, in report order
    default_metric: str
    description: str


SCORERS: dict[str, Scorer] = {
    "exact_match": Scorer("exact_match", ("exact_match",), "exact_match", "the answer equals the expected text"),
    "normalized_match": Scorer(
        "normalized_match",
        ("normalized_match",),
        "normalized_match",
        "equal after lower-casing and collapsing whitespace",
    ),
    "contains": Scorer("contains", ("contains",), "contains", "the answer contains the expected text"),
    "rouge_l": Scorer("rouge_l", ("rouge_l",), "rouge_l", "ROUGE-L F-measure (longest common word subsequence)"),
    "classification": Scorer(
        "classification",
        ("accuracy", "macro_precision", "macro_recall", "macro_f1"),
        "accuracy",
        "the expected answer is a label: accuracy, per-label precision/recall/F1, confusion matrix",
    ),
    # Gates on the exact-match rate: a tool call with one wrong argument calls the wrong thing, so partial
    # credit (field_f1) is for the report, or for a gate a team names.
    "json_match": Scorer(
        "json_match",
        json_match.METRICS,
        "structural_match",
        "the answer is JSON (a tool call): structural equality, field precision/recall/F1, JSON Schema validity",
    ),
}


def record_score(scorer: str, expected: str, answer: str) -> float:
    """One record's score in [0, 1]: the per-record scorer, 1/0 for a (normalized) label match, or
    json_match's field F1 (1 exactly when the answer is structurally equal)."""
    if scorer == "classification":
        return float(normalize(expected) == normalize(answer))
    if scorer == "json_match":
        return json_match.record_f1(expected, answer, normalize)
    return _PER_RECORD[scorer](expected, answer)


def score(scorer: str, pairs: Iterable[tuple[str, str]], *, schema: Any = None) -> dict[str, Any]:
    """The scorer's metrics over (expected, answer) pairs, rounded to 4 places; ``labels`` and ``confusion``
    too for ``classification`` (answers outside the expected labels are counted as their own column), parse
    failures and schema violations for ``json_match`` (``schema``: the request's JSON Schema, or None)."""
    pairs = list(pairs)
    if not pairs:
        raise ValueError("no records to score")
    if scorer == "json_match":
        return json_match.score_json(pairs, normalize, schema)
    if scorer != "classification":
        total = sum(record_score(scorer, expected, answer) for expected, answer in pairs)
        return {scorer: round(total / len(pairs), 4)}
    truth = [normalize(expected) for expected, _ in pairs]
    predicted = [normalize(answer) for _, answer in pairs]
    labels = sorted(set(truth))
    confusion: dict[str, Counter[str]] = {label: Counter() for label in labels}
    for actual, guess in zip(truth, predicted, strict=True):
        confusion[actual][guess if guess in confusion else "(other)"] += 1
    per_label: dict[str, dict[str, float]] = {}
    for label in labels:
        tp = confusion[label][label]
        predicted_as = sum(row[label] for row in confusion.values())
        support = sum(confusion[label].values())
        precision = tp / predicted_as if predicted_as else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
    columns = [*labels, *(["(other)"] if any(row["(other)"] for row in confusion.values()) else [])]
    return {
        "accuracy": round(sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(pairs), 4),
        "macro_precision": round(sum(v["precision"] for v in per_label.values()) / len(labels), 4),
        "macro_recall": round(sum(v["recall"] for v in per_label.values()) / len(labels), 4),
        "macro_f1": round(sum(v["f1"] for v in per_label.values()) / len(labels), 4),
        "labels": per_label,
        "confusion": {"columns": columns, "rows": {label: [confusion[label][c] for c in columns] for label in labels}},
    }


# The default choice (choose_scorer): thresholds of its rule, named for the docs and the reasons it gives.
JSON_SHARE = 0.8  # json_match when at least this share of expected answers are JSON objects or arrays
LABELS_MAX = 20  # classification when at most this many distinct answers, ...
LABEL_MIN_COUNT = 2  # ... each seen at least this many times
SHORT_WORDS = 3  # normalized_match when the median answer has at most this many words, else rouge_l


@dataclass(frozen=True)
class Choice:
    scorer: str
    reason: str  # why, in words, with the counts it was decided on


def choose_scorer(expected: Sequence[str]) -> Choice:
    """The scorer for a set whose request names none, from its expected answers; the first rule that holds:

    1. ``json_match`` when at least 80 % of the expected answers are a JSON object or array (the whole
       answer, or one fenced block; a tool call read from a ``toolUse`` block is one);
    2. ``classification`` when, compared as the classification scorer compares them (lower case, spaces
       collapsed, final period dropped), there are at most 20 distinct answers and each occurs at least
       twice: a label set;
    3. ``normalized_match`` when the median expected answer has at most 3 words (ROUGE-L's tokens: runs of
       letters and digits): short answers are right or wrong, with no partial credit;
    4. ``rouge_l`` otherwise: generative answers, partly right by their longest common word sequence.
    """
    count = len(expected)
    if not count:
        raise ValueError("no expected answers to choose a scorer from")
    structured = sum(1 for text in expected if json_match.is_json_structure(text))
    if structured >= JSON_SHARE * count:
        return Choice(
            "json_match",
            f"{structured} of {count} expected answers are JSON objects or arrays (tool calls included); "
            f"json_match is chosen when at least {JSON_SHARE * 100:g} % are",
        )
    values = Counter(normalize(text) for text in expected)
    rarest = min(values.values())
    if len(values) <= LABELS_MAX and rarest >= LABEL_MIN_COUNT:
        return Choice(
            "classification",
            f"the {count} expected answers take {len(values)} distinct values, each at least {rarest} times: "
            f"a label set (at most {LABELS_MAX} distinct values, each seen {LABEL_MIN_COUNT} times or more)",
        )
    words = statistics.median(len(_tokens(text)) for text in expected)
    scorer, rule = (
        ("normalized_match", f"at most {SHORT_WORDS}: short answers, right or wrong")
        if words <= SHORT_WORDS
        else ("rouge_l", f"more than {SHORT_WORDS}: generative answers, partly right by ROUGE-L")
    )
    return Choice(
        scorer,
        f"the {count} expected answers are free text ({len(values)} distinct values) with a median length of "
        f"{words:g} word{'' if words == 1 else 's'} ({rule})",
    )
