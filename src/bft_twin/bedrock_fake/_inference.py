"""Deterministic model answers and the per-family InvokeModel body formats."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from bft_twin.bedrock_fake._wire import ServiceError
from bft_twin.catalog import BodyFamily

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
    generic listed label; None when the prompt lists no labels (the caller then echoes). Deterministic."""
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


def tokens(text: str) -> int:
    # Assumption: ~4 characters per token, the usual rule of thumb for English text.
    return max(1, math.ceil(len(text) / 4))


@dataclass(frozen=True)
class Prompt:
    """What a model answers (the last user turn, in the context of everything) and what input tokens count."""

    last_user_text: str
    all_text: str
    turns: int
    max_tokens: int | None


def converse_prompt(request: dict[str, Any]) -> Prompt:
    messages = request.get("messages") or []
    if not messages or messages[0]["role"] != "user":
        # Real message for a conversation that does not start with a user turn.
        raise ServiceError(
            "ValidationException",
            "A conversation must start with a user message. Try again with a conversation that starts "
            "with a user message.",
        )
    texts = [b["text"] for b in request.get("system") or [] if "text" in b]
    last_user = ""
    for message in messages:
        parts = [b["text"] for b in message["content"] if "text" in b]
        texts += parts
        if message["role"] == "user":
            last_user = "\n".join(parts)
    max_tokens = (request.get("inferenceConfig") or {}).get("maxTokens")
    return Prompt(last_user, "\n".join(texts), len(messages), max_tokens)


def _malformed(detail: str) -> ServiceError:
    # Shape of Bedrock's message for a body the model's schema rejects.
    return ServiceError(
        "ValidationException", f"Malformed input request: {detail}, please reformat your input and try again."
    )


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    raise _malformed("#/messages: content must be a string or a list")


def invoke_prompt(family: BodyFamily, body: bytes) -> Prompt:
    """Read the request body of ``InvokeModel`` for a model family.

    Assumption: only the required keys of each provider's format are checked (Anthropic: anthropic_version,
    max_tokens, messages; Nova: messages; Llama: prompt; Titan: inputText).
    """
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        raise _malformed("#: body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise _malformed("#: expected type: JSONObject")
    if family in ("anthropic", "nova"):
        messages = doc.get("messages")
        if family == "anthropic":
            for key in ("anthropic_version", "max_tokens", "messages"):
                if key not in doc:
                    raise _malformed(f"#: required key [{key}] not found")
        if not isinstance(messages, list) or not messages:
            raise _malformed("#: required key [messages] not found")
        system = doc.get("system") or ""
        texts = [system if isinstance(system, str) else _content_text(system)]
        last_user = ""
        for message in messages:
            text = _content_text(message.get("content"))
            texts.append(text)
            if message.get("role") == "user":
                last_user = text
        limit = doc.get("max_tokens") if family == "anthropic" else (doc.get("inferenceConfig") or {}).get("maxTokens")
        return Prompt(last_user, "\n".join(texts), len(messages), limit)
    if family == "llama":
        if not isinstance(doc.get("prompt"), str):
            raise _malformed("#: required key [prompt] not found")
        return Prompt(doc["prompt"], doc["prompt"], 1, doc.get("max_gen_len"))
    if family == "titan":
        if not isinstance(doc.get("inputText"), str):
            raise _malformed("#: required key [inputText] not found")
        limit = (doc.get("textGenerationConfig") or {}).get("maxTokenCount")
        return Prompt(doc["inputText"], doc["inputText"], 1, limit)
    raise NotImplementedError(f"Bedrock fake: InvokeModel for {family} models is not implemented")


def invoke_body(family: BodyFamily, model_id: str, answer: str, usage: tuple[int, int], truncated: bool) -> bytes:
    """The response body a model of this family returns from ``InvokeModel``.

    Assumption: field names follow each provider's published InvokeModel format (not in the facts).
    """
    prompt_tokens, output_tokens = usage
    doc: dict[str, Any]
    if family == "anthropic":
        doc = {
            "id": "msg_bdrk_" + hashlib.sha256(f"{model_id}{answer}".encode()).hexdigest()[:24],
            "type": "message",
            "role": "assistant",
            "model": model_id.split(".", 1)[-1].split("-v", 1)[0],
            "content": [{"type": "text", "text": answer}],
            "stop_reason": "max_tokens" if truncated else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": output_tokens},
        }
    elif family == "nova":
        doc = {
            "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
            "stopReason": "max_tokens" if truncated else "end_turn",
            "usage": {
                "inputTokens": prompt_tokens,
                "outputTokens": output_tokens,
                "totalTokens": prompt_tokens + output_tokens,
            },
        }
    elif family == "llama":
        doc = {
            "generation": answer,
            "prompt_token_count": prompt_tokens,
            "generation_token_count": output_tokens,
            "stop_reason": "length" if truncated else "stop",
        }
    else:
        doc = {
            "inputTextTokenCount": prompt_tokens,
            "results": [
                {
                    "tokenCount": output_tokens,
                    "outputText": answer,
                    "completionReason": "LENGTH" if truncated else "FINISH",
                }
            ],
        }
    return json.dumps(doc).encode()
