"""Deterministic model answers and the per-family InvokeModel body formats."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from bft_twin.bedrock_fake._wire import ServiceError
from bft_twin.catalog import BodyFamily


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
    system_text: str = ""
    # (user, assistant) turns before the last user turn: the examples a conversation shows the model.
    examples: tuple[tuple[str, str], ...] = ()


def converse_prompt(request: dict[str, Any]) -> Prompt:
    messages = request.get("messages") or []
    if not messages or messages[0]["role"] != "user":
        # Real message for a conversation that does not start with a user turn.
        raise ServiceError(
            "ValidationException",
            "A conversation must start with a user message. Try again with a conversation that starts "
            "with a user message.",
        )
    system = [b["text"] for b in request.get("system") or [] if "text" in b]
    texts = list(system)
    turns = []
    for message in messages:
        parts = [b["text"] for b in message["content"] if "text" in b]
        texts += parts
        turns.append((message["role"], "\n".join(parts)))
    max_tokens = (request.get("inferenceConfig") or {}).get("maxTokens")
    last_user = next((text for role, text in reversed(turns) if role == "user"), "")
    return Prompt(last_user, "\n".join(texts), len(messages), max_tokens, "\n".join(system), _examples(turns))


def _examples(turns: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Each user turn answered by the next assistant turn, before the last user turn."""
    last_user = max((i for i, (role, _) in enumerate(turns) if role == "user"), default=-1)
    return tuple(
        (text, turns[i + 1][1])
        for i, (role, text) in enumerate(turns[:last_user])
        if role == "user" and turns[i + 1][0] == "assistant"
    )


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
        system_text = system if isinstance(system, str) else _content_text(system)
        texts = [system_text]
        turns = []
        for message in messages:
            text = _content_text(message.get("content"))
            texts.append(text)
            turns.append((str(message.get("role")), text))
        last_user = next((text for role, text in reversed(turns) if role == "user"), "")
        limit = doc.get("max_tokens") if family == "anthropic" else (doc.get("inferenceConfig") or {}).get("maxTokens")
        return Prompt(last_user, "\n".join(texts), len(messages), limit, system_text, _examples(turns))
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
