"""Deterministic synthetic comment-moderation data: the task of Anthropic's announcement, where
fine-tuning Claude 3 Haiku took classification accuracy from 81.5 % to 99.6 %.

Each record asks for one label for a forum comment; the expected answer is the label alone, so exact
match scores it. The comments are generated from templates with a seeded RNG: same seed, same bytes.
The same examples are written in each family's data format (``bft.families.DataFormat``): Bedrock's
conversation schema (Nova, Nova 2 Lite, Llama 3.3: the default), prompt/completion (Llama 3.1) and Claude 3
Haiku's messages (past its end of life: kept for teams moving their data off it).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Format = Literal["anthropic-messages", "bedrock-conversation-2024", "prompt-completion"]
FORMATS: tuple[Format, ...] = ("anthropic-messages", "bedrock-conversation-2024", "prompt-completion")

SYSTEM = "You moderate comments on an online forum. Answer with exactly one label: OK, INSULT, THREAT or EXPLICIT."
LABELS = ("OK", "INSULT", "THREAT", "EXPLICIT")
_SUBJECTS = (
    "this patch",
    "the new release",
    "your benchmark",
    "the moderator",
    "that referee",
    "the author",
    "this thread",
    "the design",
    "your review",
    "the update",
)
_TEMPLATES = {
    "OK": (
        "I think {s} is a solid step forward, thanks for sharing.",
        "Could you explain how {s} handles edge cases?",
        "Not sure I agree about {s}, but the argument is interesting.",
        "Great write-up on {s}; bookmarked.",
        "Has anyone measured {s} on older hardware?",
    ),
    "INSULT": (
        "Only an idiot would defend {s}.",
        "Whoever wrote {s} is a clueless clown.",
        "{s} is garbage and so are you.",
        "You are too dim to understand {s}.",
    ),
    "THREAT": (
        "Post about {s} again and I will find where you live.",
        "Keep pushing {s} and you will regret it, I promise.",
        "Someone should hurt the people behind {s}.",
        "I know your address; drop {s} or else.",
    ),
    "EXPLICIT": (
        "[explicit sexual content about {s} removed]",
        "{s} [graphic explicit description]",
        "[pornographic link] check this instead of {s}",
        "[explicit adult material] related to {s}",
    ),
}
# Label mix of a forum: mostly fine, a long tail of violations.
_WEIGHTS = (0.55, 0.2, 0.1, 0.15)


@dataclass(frozen=True)
class Example:
    comment: str
    label: str

    @property
    def prompt(self) -> str:
        return f"Comment: {self.comment}\nLabel:"

    def record(self, data_format: Format = "anthropic-messages") -> dict[str, object]:
        if data_format == "prompt-completion":
            # No system field in this format: the instruction leads the prompt.
            return {"prompt": f"{SYSTEM}\n\n{self.prompt}", "completion": self.label}
        if data_format == "bedrock-conversation-2024":
            return {
                "schemaVersion": "bedrock-conversation-2024",
                "system": [{"text": SYSTEM}],
                "messages": [
                    {"role": "user", "content": [{"text": self.prompt}]},
                    {"role": "assistant", "content": [{"text": self.label}]},
                ],
            }
        return {
            "system": SYSTEM,
            "messages": [
                {"role": "user", "content": self.prompt},
                {"role": "assistant", "content": self.label},
            ],
        }


def examples(count: int, seed: int) -> Iterator[Example]:
    rng = random.Random(seed)
    for index in range(count):
        label = rng.choices(LABELS, weights=_WEIGHTS)[0]
        text = rng.choice(_TEMPLATES[label]).format(s=rng.choice(_SUBJECTS))
        # A ticket number keeps every comment unique (duplicates would be reported as warnings).
        yield Example(f"{text} (#{seed}-{index:05d})", label)


# What a team would put in front of the base model in production to get this task right without fine-tuning:
# the label definitions and a few examples of each label. The evaluation gives it to the base model
# (evaluation.baseSystemPrompt) so tokens per query compare the two as they would be used.
_DEFINITIONS = (
    "OK: on-topic or critical but civil, whatever the opinion.",
    "INSULT: attacks a person (name-calling, contempt for their intelligence or worth), not their work.",
    "THREAT: says or implies harm to a person, their home or their family, conditional or not.",
    "EXPLICIT: sexual or pornographic content, links to it, or graphic descriptions of it.",
)


def production_prompt(per_label: int = 6, seed: int = 11) -> str:
    """The base model's production prompt for the moderation task: instructions, label definitions and
    ``per_label`` examples of each label (the seed's "long instructions" that a fine-tuned model no longer needs)."""
    shown: dict[str, list[str]] = {label: [] for label in LABELS}
    for example in examples(40 * per_label, seed):
        if len(shown[example.label]) < per_label:
            shown[example.label].append(example.comment)
    lines = [SYSTEM, "", "Label definitions:", *(f"- {line}" for line in _DEFINITIONS), "", "Examples:"]
    for label in LABELS:
        lines += [f"Comment: {text}\nLabel: {label}" for text in shown[label]]
    lines += ["", "Answer with the label only, no explanation."]
    return "\n".join(lines)


def default_format(environment: str) -> Format:
    """The data format of ``environment``'s first allowed model: what a run trains without --base-model."""
    from bft.config import load_config
    from bft.families import family_for

    data_format = family_for(load_config(environment).allowed_base_models[0]).data_format
    assert data_format in FORMATS, data_format
    return data_format


def write_splits(
    directory: Path,
    *,
    training: int = 400,
    validation: int = 60,
    evaluation: int = 80,
    data_format: Format = "bedrock-conversation-2024",
) -> dict[str, Path]:
    """The three splits in ``data_format``: the same comments and labels whatever the format."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, count, seed in (("train", training, 1), ("validation", validation, 2), ("evaluation", evaluation, 3)):
        path = directory / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for example in examples(count, seed):
                out.write(json.dumps(example.record(data_format), ensure_ascii=False) + "\n")
        paths[name] = path
    return paths


def write_rft_prompts(path: Path, *, count: int = 400, seed: int = 1) -> Path:
    """The training comments as reinforcement fine-tuning prompts: no answer, the label as reference_answer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for example in examples(count, seed):
            record = {
                "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": example.prompt}],
                "reference_answer": example.label,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def answer_of(record: dict[str, object]) -> str:
    """The expected answer of a record in any of the formats."""
    if "completion" in record:
        return str(record["completion"])
    last = record["messages"][-1]["content"]  # type: ignore[index]
    return last if isinstance(last, str) else "".join(block.get("text", "") for block in last)


def _with_answer(record: dict[str, object], answer: str) -> dict[str, object]:
    if "completion" in record:
        return {**record, "completion": answer}
    messages = list(record["messages"])  # type: ignore[call-overload]
    last = dict(messages[-1])
    last["content"] = answer if isinstance(last["content"], str) else [{"text": answer}]
    return {**record, "messages": [*messages[:-1], last]}


def break_record(source: Path, destination: Path, *, line: int = 17) -> Path:
    """A copy of ``source`` with record ``line`` (1-based) broken for its format: the answer turned into a
    second user turn (messages, conversation) or the completion dropped (prompt/completion)."""
    lines = source.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[line - 1])
    if "completion" in record:
        del record["completion"]
    else:
        record["messages"][-1]["role"] = "user"
    lines[line - 1] = json.dumps(record, ensure_ascii=False)
    destination.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return destination


def shuffle_labels(source: Path, destination: Path, *, seed: int = 7) -> Path:
    """A copy of ``source`` whose answers are shuffled across its records (seeded): the same comments, the same
    label mix, no relation left between a comment and its label. What a model learns from it is noise; the
    ``eval-below-threshold`` scenario trains on it."""
    records = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    answers = [answer_of(record) for record in records]
    random.Random(seed).shuffle(answers)
    with destination.open("w", encoding="utf-8") as out:
        for record, answer in zip(records, answers, strict=True):
            out.write(json.dumps(_with_answer(record, answer), ensure_ascii=False) + "\n")
    return destination
