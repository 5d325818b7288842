"""Deterministic model answers and the per-family InvokeModel body formats."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bft.local.bedrock_fake._wire import ServiceError
from bft.local.catalog import BodyFamily

Oracle = Callable[[str], str | None]

# Plausible confusions for label-style answers when no label set is given (a fake-only device).
_OPPOSITES = {
    a: b
    for x, y in [
        ("yes", "no"),
        ("true", "false"),
        ("allow", "block"),
        ("allowed", "blocked"),
        ("approve", "reject"),
        ("safe", "unsafe"),
        ("positive", "negative"),
        ("acceptable", "unacceptable"),
        ("compliant", "non-compliant"),
        ("toxic", "non-toxic"),
        ("spam", "not spam"),
        ("0", "1"),
    ]
    for a, b in ((x, y), (y, x))
}


def fraction(*parts: str) -> float:
    """A stable number in [0, 1) for these strings (Python's ``hash`` is salted per process)."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _same_case(template: str, word: str) -> str:
    if template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def wrong_answer(expected: str, labels: Sequence[str] | None, draw: float) -> str:
    """A plausible answer that is not ``expected``: another label, the opposite label, or a hedge."""
    others = [label for label in labels or () if label != expected]
    if others:
        return others[int(draw * 1_000_003) % len(others)]
    opposite = _OPPOSITES.get(expected.strip().lower())
    if opposite is not None:
        return _same_case(expected.strip(), opposite)
    hedge = "I'm not sure; the request is ambiguous."
    return hedge if expected != hedge else "Unable to determine."


def tokens(text: str) -> int:
    # Assumption: ~4 characters per token, the usual rule of thumb for English text.
    return max(1, math.ceil(len(text) / 4))


@dataclass(frozen=True)
class Prompt:
    """What the oracle sees (the last user turn) and what the input token count covers."""

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
