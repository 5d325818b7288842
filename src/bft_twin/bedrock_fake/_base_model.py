"""The base model's stand-in: how a foundation model answers a prompt without the team's training data.

Computed, deterministic and labelled simulated wherever its answers are shown. It never sees the training file;
it knows only what the prompt carries, tried in this order:

1. **Labels the prompt lists** ("Answer with exactly one label: OK, INSULT or THREAT"): the listed label whose kind
   of words the question contains, else the most generic one (:func:`zero_shot`).
2. **Tools the prompt lists** (a JSON array of objects with a ``name``, as AWS's Nova tool-use sample puts them
   in the user turn): a call to the tool whose name and description share the most words with the request, its
   parameters filled from the request by their declared type (:func:`tool_call`).
3. **Examples the prompt carries** (earlier user/assistant turns, or repeated ``Key: ...`` / ``Other key: ...``
   line pairs in the system prompt, the shape of a production prompt's few-shot examples): the answer of the
   example whose input shares the most words with the request, the same nearest-neighbour rule the custom
   model's stand-in applies to the whole training file (:mod:`bft_twin.bedrock_fake._learner`).
4. **Nothing to go on:** the request's first sentences (the classic "lead" baseline of summarization), so a
   generative task's base score is low but not zero, and never an echo of the instructions.

It is a stand-in, not a model: its scores move the way a base model's would (it knows the labels and tools it
is told, not the team's data), not by how much.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from bft_twin.bedrock_fake._inference import Prompt
from bft_twin.bedrock_fake._slots import COMMON, WORD, request_of, value_of

# The base model's zero-shot knowledge: a few common words per kind of label. It never sees the team's data;
# it knows only the label names the prompt lists. Keys: words a label name may contain; values: words (or
# word prefixes, phrases) in the text that point to such a label. Deliberately short and generic.
_ZERO_SHOT_LEXICON: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("insult", "abuse", "abusive", "harass", "toxic", "offensive", "rude"),
        ("idiot", "stupid", "moron", "dumb", "loser", "fool"),
    ),
    (("threat", "violen", "harm"), ("kill", "hurt", "die", "shoot", "or else", "beat you")),
    (("explicit", "sexual", "nsfw", "adult", "porn"), ("explicit", "sexual", "porn", "nude", "nsfw", "xxx")),
    (("spam", "advert", "promo"), ("buy now", "click here", "discount", "free money", "subscribe")),
    (("negative",), ("bad", "terrible", "awful", "hate", "worst", "disappoint")),
    (("positive",), ("good", "great", "excellent", "love", "best", "amazing")),
)
# Labels a cautious zero-shot model falls back to when nothing in the text points elsewhere.
_GENERIC_LABELS = (
    "ok",
    "safe",
    "none",
    "neutral",
    "normal",
    "clean",
    "allow",
    "allowed",
    "acceptable",
    "benign",
    "other",
    "no",
)
_LABEL_LIST = re.compile(
    r"(?:\blabels?|\bcategor(?:y|ies)|\bclass(?:es)?|\bone of|\banswer with)\b[^:\n]{0,40}:[ \t]*([^\n]+)", re.I
)


def listed_labels(text: str) -> list[str]:
    """The labels a prompt lists ("Answer with exactly one label: OK, INSULT, THREAT or EXPLICIT.")."""
    for match in _LABEL_LIST.finditer(text):
        items = re.split(r",|/|\||\bor\b", match.group(1).strip().rstrip("."))
        labels = [item.strip().strip("\"'`*.") for item in items]
        labels = [label for label in labels if label and len(label) <= 30 and len(label.split()) <= 3]
        if len(labels) >= 2:
            return list(dict.fromkeys(labels))
    return []


def zero_shot(prompt: Prompt) -> str | None:
    """The base model's answer: the listed label whose kind of words the question contains, else the most
    generic listed label; None when the prompt lists no labels. Deterministic."""
    labels = listed_labels(prompt.all_text)
    if not labels:
        return None
    # The question without the instruction that lists the labels: prompt/completion data carries the instruction
    # in the user turn, and its label names ("... THREAT or EXPLICIT") are no evidence about the comment.
    question = _LABEL_LIST.sub(" ", prompt.last_user_text).lower()
    words = re.findall(r"[a-z0-9]+", question)

    def hits(label: str) -> int:
        name = label.lower()
        found = 0
        for kinds, cues in _ZERO_SHOT_LEXICON:
            if any(kind in name for kind in kinds):
                for cue in cues:
                    found += int(cue in question if " " in cue else any(w.startswith(cue) for w in words))
        return found

    scores = [hits(label) for label in labels]
    if max(scores) > 0:
        return labels[scores.index(max(scores))]
    return next((label for label in labels if label.lower() in _GENERIC_LABELS), labels[0])


# -- 2. tools -----------------------------------------------------------------------------------------------


def _tools_in(text: str) -> tuple[list[dict[str, Any]], str]:
    """The first JSON array of tool definitions in ``text`` (objects with a ``name``), and the text without it."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\[", text):
        try:
            found, end = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(found, list) and found and all(isinstance(t, dict) and "name" in t for t in found):
            return found, text[: match.start()] + " " + text[end:]
    return [], text


def _parameters(tool: dict[str, Any]) -> dict[str, str]:
    """Each parameter's declared type, in words: ``{"city": "string"}``, or a JSON Schema's properties."""
    spec = tool.get("parameters", tool.get("input_schema", tool.get("inputSchema", {})))
    if isinstance(spec, dict) and isinstance(spec.get("json"), dict):
        spec = spec["json"]  # Converse's toolSpec.inputSchema.json
    if isinstance(spec, dict) and isinstance(spec.get("properties"), dict):
        return {
            name: " ".join(str(v) for k, v in prop.items() if k in ("type", "enum", "description"))
            if isinstance(prop, dict)
            else str(prop)
            for name, prop in spec["properties"].items()
        }
    return {str(name): str(kind) for name, kind in spec.items()} if isinstance(spec, dict) else {}


def tool_call(prompt: Prompt) -> str | None:
    """A call to the tool the request is about, as ``{"name": ..., "parameters": {...}}``; None: no tools listed."""
    tools, rest = _tools_in(prompt.all_text)
    if not tools:
        return None
    request = request_of(_tools_in(prompt.last_user_text)[1] if prompt.last_user_text else rest)
    asked = Counter(w.lower()[:5] for w in WORD.findall(request))

    def overlap(tool: dict[str, Any]) -> int:
        described = f"{tool.get('name', '')} {tool.get('description', '')}".replace("_", " ")
        return sum(asked[w.lower()[:5]] for w in set(WORD.findall(described)) if w.lower() not in COMMON)

    chosen = max(tools, key=lambda t: (overlap(t), -tools.index(t)))
    used: set[str] = set()
    filled = {name: value_of(kind, request, used) for name, kind in _parameters(chosen).items()}
    return json.dumps({"name": chosen.get("name"), "parameters": {k: v for k, v in filled.items() if v is not None}})


# -- 3. examples in the prompt ------------------------------------------------------------------------------

_PAIR = re.compile(r"^([A-Z][A-Za-z ]{0,24}):[ \t]*(\S[^\n]*)\n([A-Z][A-Za-z ]{0,24}):[ \t]*(\S[^\n]*)$", re.M)


def in_context_examples(prompt: Prompt) -> list[tuple[str, str]]:
    """The (input, answer) examples the prompt carries: its earlier turns, and ``Key: ...`` line pairs whose two
    keys repeat at least twice in the system prompt (a production prompt's few-shot examples)."""
    pairs = list(prompt.examples)
    found = _PAIR.findall(prompt.system_text)
    shapes = Counter((first, second) for first, _, second, _ in found if first != second)
    pairs += [(text, answer) for first, text, second, answer in found if shapes[(first, second)] >= 2]
    return pairs


def nearest_answer(examples: list[tuple[str, str]], request: str) -> str | None:
    """The answer of the example whose input shares the most words with ``request`` (ties: the first)."""
    asked = {w.lower() for w in WORD.findall(request)} - COMMON
    if not examples or not asked:
        return None

    def shared(example: tuple[str, str]) -> int:
        return len(asked & {w.lower() for w in WORD.findall(example[0])})

    best = max(range(len(examples)), key=lambda i: (shared(examples[i]), -i))
    return examples[best][1]


# -- 4. nothing to go on ------------------------------------------------------------------------------------

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
LEAD_WORDS = 40  # the lead baseline's length: about two sentences


def lead(request: str) -> str:
    """The request's first sentences, up to :data:`LEAD_WORDS` words."""
    words: list[str] = []
    for sentence in _SENTENCE.findall(request):
        words += sentence.split()
        if len(words) >= LEAD_WORDS:
            break
    return " ".join(words[:LEAD_WORDS])


def base_answer(prompt: Prompt) -> str:
    """The base model's answer to ``prompt``: labels, else tools, else examples, else the lead (see the module)."""
    for answer in (zero_shot(prompt), tool_call(prompt)):
        if answer is not None:
            return answer
    request = request_of(prompt.last_user_text)
    return nearest_answer(in_context_examples(prompt), request) or lead(request) or request
