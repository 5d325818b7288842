"""One example record per data format, and each family's limits in words: the onboarding sheet and the
README show the same text, so a team never has to copy the format from `data/sample/`."""

from __future__ import annotations

import json
from typing import Any

from bft.families import ModelFamily

# The smallest valid record of each format (one user turn, the expected answer as the last turn).
EXAMPLE_RECORDS: dict[str, dict[str, Any]] = {
    "anthropic-messages": {
        "system": "Label the comment OK, INSULT, THREAT or EXPLICIT.",
        "messages": [
            {"role": "user", "content": "You are all idiots."},
            {"role": "assistant", "content": "INSULT"},
        ],
    },
    "bedrock-conversation-2024": {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "Label the comment OK, INSULT, THREAT or EXPLICIT."}],
        "messages": [
            {"role": "user", "content": [{"text": "You are all idiots."}]},
            {"role": "assistant", "content": [{"text": "INSULT"}]},
        ],
    },
    "prompt-completion": {
        "prompt": "Label the comment OK, INSULT, THREAT or EXPLICIT.\nComment: You are all idiots.",
        "completion": "INSULT",
    },
}

CONVERSION = (
    "Converting between formats: anthropic-messages -> bedrock-conversation-2024 wraps each content string "
    'as [{"text": ...}], the system string as [{"text": ...}], and adds "schemaVersion"; either -> '
    "prompt-completion joins the system text and the user turns into prompt, the last assistant turn is "
    "completion (one turn only). `bft convert FILE --to <target>` does it (Claude messages, OpenAI chat, "
    "prompt/completion or any conversation format in), and `bft validate --base-model <target>` checks the result "
    "before you submit."
)


def example_line(data_format: str) -> str:
    return json.dumps(EXAMPLE_RECORDS[data_format], ensure_ascii=False)


def limits_text(family: ModelFamily) -> str:
    tokens = f"{family.token_limit:,}" + ("" if family.max_tokens_per_record is not None else " (unconfirmed)")
    return (
        f"training records {family.min_records:,}-{family.max_training_records:,}, validation records up to "
        f"{family.max_validation_records:,}, {family.max_total_records:,} in total; up to {tokens} tokens per "
        f"record (estimate: UTF-8 bytes / 3); regions {', '.join(family.regions)}; serving: {family.serving}"
    )
