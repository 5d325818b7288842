"""The Bedrock fake's learner: computed (not preset) simulated results, from the job's own data."""

from __future__ import annotations

import json
import math
import random
import time
from typing import Any

import pytest

from bft.sample_data import SYSTEM, examples
from bft_twin.bedrock_fake import _learner
from bft_twin.bedrock_fake._base_model import listed_labels, zero_shot
from bft_twin.bedrock_fake._inference import Prompt
from bft_twin.bedrock_fake._learner import Example, parse_lines, parse_record, train


def moderation(count: int, seed: int) -> list[Example]:
    found = [parse_record(e.record()) for e in examples(count, seed)]
    assert all(found)
    return [e for e in found if e is not None]


def shuffled(data: list[Example], seed: int = 7) -> list[Example]:
    labels = [e.completion for e in data]
    random.Random(seed).shuffle(labels)
    return [Example(e.prompt, label) for e, label in zip(data, labels, strict=True)]


def fit(data: list[Example], validation: list[Example] | None = None, **options: Any) -> Any:
    settings: dict[str, Any] = {"epochs": 2, "batch_size": 8, "lr_factor": 1.0, "seed": "s", "records": len(data)}
    return train(data, validation, **(settings | options))


def accuracy(learner: Any, data: list[Example]) -> float:
    return sum(learner.predict(e.prompt) == e.completion for e in data) / len(data)


def test_every_family_format_parses_to_prompt_and_answer() -> None:
    messages = {
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "OK"}],
    }
    conversation = {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [{"text": "Hi?"}]},
            {"role": "assistant", "content": [{"text": "OK"}]},
        ],
    }
    completion = {"prompt": "Be brief.\nHi?", "completion": " OK"}
    assert (
        parse_record(messages)
        == parse_record(conversation)
        == parse_record(completion)
        == Example("Be brief.\nHi?", "OK")
    )
    assert parse_record({"messages": []}) is None
    assert parse_record({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}) is None
    body = b"\n".join([json.dumps(messages).encode(), b"not json", b"", json.dumps(completion).encode()])
    assert len(parse_lines(body, limit=10)) == 2
    assert len(parse_lines(body, limit=1)) == 1


def test_clean_labels_are_learned_and_shuffled_ones_are_not() -> None:
    data, held_out = moderation(400, 1), moderation(200, 3)
    clean, clean_run = fit(data, moderation(60, 2))
    noisy, noisy_run = fit(shuffled(data), moderation(60, 2))
    assert clean.kind == noisy.kind == "classifier"
    assert accuracy(clean, held_out) >= 0.95
    assert accuracy(noisy, held_out) < 0.7
    # Visibly higher loss on noise: training (first epoch) and validation.
    first_epoch = [loss for _, epoch, loss in clean_run.training if epoch == 0]
    noisy_first = [loss for _, epoch, loss in noisy_run.training if epoch == 0]
    assert sum(noisy_first) / len(noisy_first) > 5 * sum(first_epoch) / len(first_epoch)
    assert noisy_run.final_validation_loss > 10 * clean_run.final_validation_loss


def test_loss_is_the_negative_log_likelihood_before_each_update() -> None:
    data = moderation(100, 1)
    _, run = fit(data, moderation(20, 2), epochs=3, batch_size=8)
    steps = math.ceil(100 / 8)
    assert [s for s, _, _ in run.training] == list(range(3 * steps))
    assert [e for _, e, _ in run.training] == [s // steps for s in range(3 * steps)]
    # Step 0 is scored before any update: a uniform guess over the 4 labels.
    assert run.training[0][2] == pytest.approx(math.log(4), abs=1e-6)
    losses = [loss for _, _, loss in run.training]
    assert sum(losses[:steps]) / steps > 1.5 * sum(losses[-steps:]) / steps
    assert [(s, e) for s, e, _ in run.validation] == [(steps - 1, 0), (2 * steps - 1, 1), (3 * steps - 1, 2)]


def test_a_higher_learning_rate_learns_faster() -> None:
    data = moderation(200, 1)
    slow = fit(data, lr_factor=0.1)[1].training
    fast = fit(data, lr_factor=2.0)[1].training
    assert sum(loss for _, _, loss in fast[:10]) < sum(loss for _, _, loss in slow[:10])


def test_training_is_deterministic_and_fast() -> None:
    data = moderation(10_000, 5)
    # CPU time, not wall time: a loaded machine (CI's parallel workers) must not fail a cost bound.
    started = time.process_time()
    learner, run = fit(data, moderation(100, 6), batch_size=32)
    assert time.process_time() - started < 2.0  # about 0.5 s on a laptop
    _, run_again = fit(data, moderation(100, 6), batch_size=32)
    assert run == run_again
    assert learner.predict("Comment: Only an idiot would defend this.\nLabel:") == "INSULT"


def test_mostly_unique_completions_answer_by_nearest_neighbour() -> None:
    data = [
        Example(f"What is the capital of {c}?", f"The capital of {c} is {k}.")
        for c, k in (
            ("France", "Paris"),
            ("Peru", "Lima"),
            ("Kenya", "Nairobi"),
            ("Japan", "Tokyo"),
            ("Chile", "Santiago"),
        )
    ]
    learner, run = fit(data, data[:2])
    assert learner.kind == "retrieval"
    assert learner.predict("capital of Kenya, please") == "The capital of Kenya is Nairobi."
    assert all(loss > 0 for _, _, loss in run.training)
    assert len(run.validation) == 2


def test_nothing_usable_gives_an_untrained_model_and_a_flat_curve() -> None:
    learner, run = train([], [], epochs=2, batch_size=10, lr_factor=1.0, seed="s", records=30)
    assert learner.kind == "untrained"
    assert learner.predict("anything") is None
    assert {loss for _, _, loss in run.training} == {_learner.UNTRAINED_LOSS}
    assert len(run.training) == 6
    assert len(run.validation) == 2


def test_reads_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    line = json.dumps({"prompt": "p", "completion": "c"}).encode() + b"\n"

    class Body:
        def __init__(self) -> None:
            self.asked: list[int] = []

        def read(self, size: int) -> bytes:
            self.asked.append(size)
            return (line * 1000)[:size]

    body = Body()
    s3 = type("S3", (), {"get_object": lambda self, **_: {"Body": body}})()
    monkeypatch.setattr(_learner, "MAX_READ_BYTES", len(line) * 10 + 5)
    found = _learner.read_examples(s3, "b", "k", limit=1000)
    assert body.asked == [len(line) * 10 + 6]
    assert len(found) == 10  # the cut eleventh line is dropped


def test_the_base_model_answers_zero_shot_from_the_labels_the_prompt_lists() -> None:
    assert listed_labels(SYSTEM) == ["OK", "INSULT", "THREAT", "EXPLICIT"]
    assert listed_labels("Classify the review. Answer with one of: positive / negative / neutral") == [
        "positive",
        "negative",
        "neutral",
    ]
    assert listed_labels("Comment: hello\nLabel:") == []

    def ask(comment: str) -> str | None:
        text = f"Comment: {comment}\nLabel:"
        return zero_shot(Prompt(text, f"{SYSTEM}\n{text}", 1, None))

    assert ask("Only an idiot would say that") == "INSULT"
    assert ask("I will hurt you") == "THREAT"
    assert ask("[explicit adult material]") == "EXPLICIT"
    assert ask("Great write-up, thanks") == "OK"  # nothing points elsewhere: the generic label
    assert zero_shot(Prompt("hi", "hi", 1, None)) is None  # no labels listed: the caller echoes
    # It never sees training data: on the sample it is right often, not always.
    held_out = list(examples(400, 3))
    right = sum(ask(e.comment) == e.label for e in held_out) / len(held_out)
    assert 0.6 < right < 0.9
