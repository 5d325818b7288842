"""Reading values out of a request: what the stand-in models fill a tool call's parameters with.

Both stand-ins use it: the base model fills the parameters of the tool its prompt lists
(:mod:`bft_twin.bedrock_fake._base_model`), and the custom model fills the answer of its nearest training example
with the new request's values where that example copied its values from its own prompt
(:func:`adapt`, used by :mod:`bft_twin.bedrock_fake._learner`). A fine-tuned model keeps the base model's
reading: it learns which call to make and in which shape, and still copies the values from the request.
"""

from __future__ import annotations

import json
import re
from typing import Any

WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'_-]*")
_NUMBER = re.compile(r"(?<![A-Za-z0-9])-?\d+(?:\.\d+)?(?![A-Za-z0-9])")
# Words that say nothing about which tool a request wants, nor are a parameter's value.
COMMON = frozenset(
    [
        "a",
        "an",
        "the",
        "i",
        "we",
        "you",
        "my",
        "our",
        "your",
        "me",
        "us",
        "it",
        "is",
        "are",
        "be",
        "to",
        "for",
        "of",
        "in",
        "on",
        "at",
        "by",
        "with",
        "and",
        "or",
        "please",
        "can",
        "could",
        "would",
        "is",
        "what",
        "what's",
        "where",
        "when",
        "which",
        "who",
        "how",
        "any",
        "some",
        "now",
        "right",
        "there",
        "this",
        "that",
    ]
)
# Request verbs and fillers that begin a request or sentence: no parameter's value, capitalized or not.
_NOT_A_VALUE = COMMON | frozenset(["tell", "find", "get", "give", "book", "reserve", "convert", "track", "show"])
_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def request_of(text: str) -> str:
    """The request itself: inside ``<request>`` tags when the prompt uses them, else the text after the tools."""
    tagged = re.search(r"<request>(.*?)(?:</request>|$)", text, re.S)
    return (tagged.group(1) if tagged else text).strip()


def value_of(kind: str, request: str, used: set[str]) -> Any:
    """The request's first unused value that fits a parameter's declared type; None when none does."""
    kind_lower = kind.lower()
    for pattern, hints in ((_TIME, ("time", "hh:mm")), (_DATE, ("date", "yyyy"))):
        if any(hint in kind_lower for hint in hints):
            found = [v for v in pattern.findall(request) if v not in used]
            if found:
                used.add(found[0])
                return found[0]
    if any(word in kind_lower for word in ("number", "integer", "int", "float", "amount")):
        for number in _NUMBER.findall(_TIME.sub(" ", request)):
            if number not in used:
                used.add(number)
                return int(number) if re.fullmatch(r"-?\d+", number) else float(number)
        return None
    options = [o.strip(" .'\"") for o in re.split(r"\bor\b", kind_lower) if o.strip()]
    if len(options) > 1:  # "celsius or fahrenheit": the option the request mentions
        mentioned = [o for o in options if o and o in request.lower()]
        return mentioned[0] if mentioned else options[0]
    words = WORD.findall(request)
    if "iso" in kind_lower or "code" in kind_lower:
        codes = [w for w in words if w.isupper() and 2 <= len(w) <= 4 and w not in used]
        if codes:
            used.add(codes[0])
            return codes[0]
    # A string: the first name (a run of capitalized words, not a request's first word) or code the request
    # names ("The Oak", "Lisbon", "GHL15CCC8G2J").
    run: list[str] = []
    for index, word in enumerate([*words, ""]):
        capitalized = bool(word) and word[0].isupper() and (index > 0 or word.lower() not in _NOT_A_VALUE)
        is_code = any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
        if capitalized and not (word.isupper() and len(word) <= 4 and run == []) and word not in used:
            run.append(word)
            continue
        named = " ".join(run)
        if run and not (len(run) == 1 and run[0].lower() in _NOT_A_VALUE):
            used.add(named)
            return named
        run = []
        if is_code and word not in used:
            used.add(word)
            return word
    return None


def _kind_of(value: Any, options: frozenset[str]) -> str | None:
    """The declared type a copied value stands for, in the words :func:`value_of` reads; None: not a slot."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return "number"
    if not isinstance(value, str):
        return None
    if len(options) > 1 and value.lower() in options:
        return " or ".join(sorted(options))
    if _TIME.fullmatch(value):
        return "time hh:mm"
    if _DATE.fullmatch(value):
        return "date yyyy"
    if value.isupper() and 2 <= len(value) <= 4:
        return "iso code"
    return "string"


def _leaves(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(doc, dict):
        return [leaf for key, item in doc.items() for leaf in _leaves(item, (*path, key))]
    if isinstance(doc, list):
        return [leaf for index, item in enumerate(doc) for leaf in _leaves(item, (*path, index))]
    return [(path, doc)]


def options_by_path(answers: list[str]) -> dict[tuple[Any, ...], frozenset[str]]:
    """Per place in the JSON answers, the few lowercase words seen there (an enumeration: "celsius" or
    "fahrenheit"); places with more than :data:`MAX_OPTIONS` distinct values hold free values."""
    seen: dict[tuple[Any, ...], set[str]] = {}
    for answer in answers:
        try:
            doc = json.loads(answer)
        except ValueError:
            continue
        for path, value in _leaves(doc):
            if isinstance(value, str) and value.islower():
                seen.setdefault(path, set()).add(value)
    return {path: frozenset(values) for path, values in seen.items() if 1 < len(values) <= MAX_OPTIONS}


MAX_OPTIONS = 10


def adapt(
    answer: str, example_prompt: str, request: str, options: dict[tuple[Any, ...], frozenset[str]] | None = None
) -> str:
    """``answer`` (a training example's) for ``request``: each JSON value the example copied from its own prompt
    is replaced by the request's value of the same kind; a value it did not copy is what the model learned and
    stays. Not JSON, or nothing copied: ``answer`` unchanged."""
    try:
        doc = json.loads(answer)
    except ValueError:
        return answer
    if not isinstance(doc, dict | list):
        return answer
    options = options or {}
    source = request_of(example_prompt)
    used: set[str] = set()
    changed = False
    for path, value in _leaves(doc):
        copied = str(value) in source if not isinstance(value, bool) else False
        kind = _kind_of(value, options.get(path, frozenset()))
        if not copied or kind is None:
            continue
        new = value_of(kind, request, used)
        if new is not None:
            _set(doc, path, new)
            changed = True
    return json.dumps(doc) if changed else answer


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value
