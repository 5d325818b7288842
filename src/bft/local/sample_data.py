"""Deterministic synthetic comment-moderation data: the task of Anthropic's announcement, where
fine-tuning Claude 3 Haiku took classification accuracy from 81.5 % to 99.6 %.

Each record asks for one label for a forum comment; the expected answer is the label alone, so exact
match scores it. The comments are generated from templates with a seeded RNG: same seed, same bytes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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

    def record(self) -> dict[str, object]:
        return {
            "system": SYSTEM,
            "messages": [
                {"role": "user", "content": f"Comment: {self.comment}\nLabel:"},
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


def write_splits(
    directory: Path, *, training: int = 400, validation: int = 60, evaluation: int = 80
) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, count, seed in (("train", training, 1), ("validation", validation, 2), ("evaluation", evaluation, 3)):
        path = directory / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for example in examples(count, seed):
                out.write(json.dumps(example.record(), ensure_ascii=False) + "\n")
        paths[name] = path
    return paths


def shuffle_labels(source: Path, destination: Path, *, seed: int = 7) -> Path:
    """A copy of ``source`` whose answers are shuffled across its records (seeded): the same comments, the same
    label mix, no relation left between a comment and its label. What a model learns from it is noise; the
    ``eval-below-threshold`` scenario trains on it."""
    records = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    answers = [record["messages"][-1]["content"] for record in records]
    random.Random(seed).shuffle(answers)
    with destination.open("w", encoding="utf-8") as out:
        for record, answer in zip(records, answers, strict=True):
            record["messages"][-1]["content"] = answer
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return destination
