"""Reinforcement fine-tuning data: one prompt a line, ``{"messages": [system?, user, ...], "reference_answer": ...}``.

The model writes the answer during training and the grader scores it against ``reference_answer`` (any JSON
value), so a record carries no assistant answer: its last message is a user turn. Every other top-level field
reaches the grader as metadata, so it is allowed. At most 20,000 prompts (the RFT user guide; docs/bedrock-
behaviour.md#rft-data). A message's content is a non-empty string, or a list of ``{"text": ...}`` blocks (a
guess: the guide's examples use strings; text blocks are the conversation format's). The family's reserved
strings apply as in supervised data (a guess: the same model reads the same template).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from bft.dataset.reserved import reserved_finder
from bft.dataset.rules import (
    Checker,
    RecordError,
    RecordInfo,
    RecordInvalid,
    content_of,
    measure,
)
from bft.families import ModelFamily

DATA_FORMAT = "rft-prompts"
MAX_PROMPTS = 20_000
ROLES = ("system", "user", "assistant")

EXAMPLE_RECORD: dict[str, Any] = {
    "messages": [
        {"role": "system", "content": "Answer with the order's fields as JSON."},
        {"role": "user", "content": "Two large oat lattes to table 4, please."},
    ],
    "reference_answer": {"item": "oat latte", "size": "large", "quantity": 2, "table": 4},
}


def rft_family(family: ModelFamily) -> ModelFamily:
    """``family`` with reinforcement fine-tuning's data rules: the prompt format and at most 20,000 prompts. The
    minimum stays the family's (a guess: the RFT guide gives none)."""
    return dataclasses.replace(
        family,
        data_format=DATA_FORMAT,  # type: ignore[arg-type]
        max_training_records=MAX_PROMPTS,
        max_validation_records=min(family.max_validation_records, MAX_PROMPTS),
        max_total_records=MAX_PROMPTS,
    )


def rft_checker(family: ModelFamily) -> Checker:
    find_reserved = reserved_finder(family)

    def text_of(content: Any, field: str, errors: list[RecordError]) -> str | None:
        if isinstance(content, str):
            text = content
        elif isinstance(content, list) and content and all(isinstance(b, dict) and set(b) == {"text"} for b in content):
            if not all(isinstance(b["text"], str) for b in content):
                errors.append(RecordError("wrong_type", field, "each text block's text must be a string"))
                return None
            text = "".join(b["text"] for b in content)
        else:
            errors.append(
                RecordError("wrong_type", field, 'content must be a string or a list of {"text": ...} blocks')
            )
            return None
        if not text.strip():
            errors.append(RecordError("empty_content", field, "content is empty"))
            return None
        found = find_reserved(text)
        if found:
            errors.append(RecordError("reserved_string", field, f"contains reserved string {found!r} ({family.name})"))
        return text

    def check(obj: dict[str, Any]) -> RecordInfo:
        errors: list[RecordError] = []
        texts: list[str] = []
        has_system = False
        messages = obj.get("messages")
        if "messages" not in obj:
            errors.append(RecordError("missing_key", "messages", "required key 'messages' is missing"))
        elif not isinstance(messages, list) or not messages:
            errors.append(RecordError("wrong_type", "messages", "must be a non-empty array of {role, content}"))
        else:
            expected = "user"
            for index, message in enumerate(messages):
                field = f"messages[{index}]"
                if not isinstance(message, dict):
                    errors.append(RecordError("wrong_type", field, "must be an object {role, content}"))
                    continue
                role = message.get("role")
                if role not in ROLES:
                    errors.append(RecordError("invalid_role", f"{field}.role", f"role must be one of {ROLES}"))
                elif role == "system":
                    if index != 0:
                        errors.append(
                            RecordError("role_order", f"{field}.role", "only the first message may be system")
                        )
                    has_system = True
                elif role != expected:
                    errors.append(
                        RecordError("role_order", f"{field}.role", f"roles must alternate: expected {expected!r}")
                    )
                else:
                    expected = "assistant" if role == "user" else "user"
                extra = sorted(set(message) - {"role", "content"})
                if extra:
                    errors.append(RecordError("unknown_key", f"{field}.{extra[0]}", "a message has role and content"))
                text = text_of(message.get("content"), f"{field}.content", errors)
                if text is not None:
                    texts.append(text)
            last = messages[-1]
            if isinstance(last, dict) and last.get("role") != "user":
                errors.append(
                    RecordError(
                        "last_not_user",
                        f"messages[{len(messages) - 1}].role",
                        "the last message must be the user's prompt: the model writes the answer in training, "
                        "the grader scores it against reference_answer",
                    )
                )
        if "reference_answer" not in obj:
            errors.append(
                RecordError(
                    "missing_key",
                    "reference_answer",
                    "required key 'reference_answer' is missing: the grader compares each answer with it",
                )
            )
        elif obj["reference_answer"] is None:
            errors.append(RecordError("wrong_type", "reference_answer", "must be a JSON value, not null"))
        if errors:
            raise RecordInvalid(errors)
        reference = json.dumps(obj["reference_answer"], sort_keys=True, ensure_ascii=False)
        parts = [*texts, reference]
        return measure(texts), len(texts), has_system, content_of(parts), None

    return check
