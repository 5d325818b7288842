"""A small deterministic learner the Bedrock fake trains when a customization job completes.

It stands in for fine-tuning so that the simulated results are COMPUTED from the team's data rather than
preset: the loss curves are its negative log-likelihood as it learns, the custom model's answers are its
predictions. It is not a language model and its scores say nothing about what a real fine-tuned model
would reach; they move the way a real model's would with the data (clean labels learn, shuffled labels
do not).

- **Classification** (completions repeat: each distinct completion is a label): a bag-of-words
  multinomial naive Bayes over the prompt's tokens, trained online in batches of ``batchSize`` over
  ``epochCount`` epochs; each batch is scored before the model updates on it, which gives the step-wise
  training loss. The learning rate scales the weight of each update against the Laplace prior.
- **Generation** (mostly unique completions): the answer is the completion of the training record whose
  prompt shares the most (IDF-weighted) tokens with the question, with the JSON values that record copied from
  its own prompt read from the question instead (:func:`bft_twin.bedrock_fake._slots.adapt`: a fine-tuned
  model learns the call and its shape, and keeps the base model's reading of values); the loss is the per-token
  negative log-likelihood of the completions under a unigram model learned online the same way.

Pure Python, no randomness except a seeded shuffle of each epoch's order; 10,000 records train in well
under a second.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bft_twin.bedrock_fake._metrics import TrainingRun
from bft_twin.bedrock_fake._slots import adapt, options_by_path, request_of

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# Tokens in more than this share of the training prompts (an instruction every record repeats, "Label:")
# carry no information for either model; dropping them keeps training fast.
_COMMON_SHARE = 0.5
_ALPHA = 1.0  # Laplace prior of every (token, label) count
# Label noise floor: the predicted distribution is mixed with a uniform one, so one confident mistake costs
# at most log(K / _FLOOR) nats instead of hundreds (naive Bayes is famously overconfident).
_FLOOR = 0.02
# A classification task when the distinct completions are at most this share of the records.
_LABEL_SHARE = 0.5
# Reads are bounded: the job's files are read up to these many bytes each.
MAX_READ_BYTES = 64 * 1024 * 1024
# What an untrained model's loss is reported as: a coin flip's (nothing usable to learn from).
UNTRAINED_LOSS = round(math.log(2), 6)


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


@dataclass(frozen=True)
class Example:
    """One training record as the learner sees it: everything before the answer, and the answer."""

    prompt: str
    completion: str


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and "text" in b)
    return ""


def parse_record(record: Any) -> Example | None:
    """An example from one record of any family's format, or None when it has no usable answer.

    Formats (``bft.families``): anthropic-messages ``{"system"?, "messages": [user..., assistant]}``;
    bedrock-conversation-2024 ``{"schemaVersion", "system": [{"text"}], "messages": [{"role", "content":
    [{"text"}]}]}``; prompt-completion ``{"prompt", "completion"}``.
    """
    if not isinstance(record, dict):
        return None
    if isinstance(record.get("prompt"), str) and isinstance(record.get("completion"), str):
        return Example(record["prompt"], record["completion"].strip())
    messages = record.get("messages")
    if "reference_answer" in record and isinstance(messages, list):
        # A reinforcement fine-tuning prompt: the simulated policy learns the reference answer.
        reference = record["reference_answer"]
        answer = reference if isinstance(reference, str) else json.dumps(reference, separators=(",", ":"))
        parts = [_text(m.get("content")) for m in messages if isinstance(m, dict)]
        prompt = "\n".join(p for p in parts if p)
        return Example(prompt, answer.strip()) if prompt and answer.strip() else None
    if not isinstance(messages, list) or len(messages) < 2:
        return None
    *history, last = messages
    if not isinstance(last, dict) or last.get("role") != "assistant":
        return None
    answer = _text(last.get("content")).strip()
    if not answer:
        return None
    parts = [_text(record.get("system"))]
    parts += [_text(m.get("content")) for m in history if isinstance(m, dict)]
    return Example("\n".join(p for p in parts if p), answer)


def parse_lines(body: bytes, limit: int) -> list[Example]:
    """The usable examples among the first ``limit`` JSONL records of ``body`` (bad lines are skipped:
    dataset validation reports them before any job; the fake learns from what it can read)."""
    found: list[Example] = []
    for line in body.splitlines():
        if len(found) >= limit:
            break
        if not line.strip():
            continue
        try:
            example = parse_record(json.loads(line))
        except ValueError:
            continue
        if example is not None:
            found.append(example)
    return found


def read_examples(s3: Any, bucket: str, key: str, limit: int) -> list[Example]:
    """Read at most :data:`MAX_READ_BYTES` of an S3 object (a cut last line is dropped) and parse it."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    data = body.read(MAX_READ_BYTES + 1)
    if len(data) > MAX_READ_BYTES:
        data = data[:MAX_READ_BYTES].rsplit(b"\n", 1)[0]
    return parse_lines(data, limit)


Kind = Literal["classifier", "retrieval", "untrained"]


@dataclass
class Learner:
    """What the custom model knows after training: answers prompts with :meth:`predict`."""

    kind: Kind
    features: frozenset[str] = frozenset()  # the informative tokens (vocabulary minus the common ones)
    labels: list[str] = field(default_factory=list)
    # classifier state (weighted counts)
    label_counts: dict[str, float] = field(default_factory=dict)
    token_counts: dict[str, dict[str, float]] = field(default_factory=dict)
    token_totals: dict[str, float] = field(default_factory=dict)
    # retrieval state
    prompts: list[frozenset[str]] = field(default_factory=list)
    prompt_texts: list[str] = field(default_factory=list)
    completions: list[str] = field(default_factory=list)
    options: dict[tuple[Any, ...], frozenset[str]] = field(default_factory=dict)
    _index: dict[str, list[int]] = field(default_factory=dict)
    _idf: dict[str, float] = field(default_factory=dict)

    def features_of(self, text: str) -> Counter[str]:
        return Counter(t for t in tokenize(text) if t in self.features)

    # -- classification ------------------------------------------------------------------------------

    def posterior(self, tokens: Counter[str]) -> list[float]:
        """p(label | prompt) for every label, in :attr:`labels` order (floored, sums to 1)."""
        labels = self.labels
        total = sum(self.label_counts.values())
        vocabulary = len(self.features) + 1
        scores = []
        for label in labels:
            counts = self.token_counts[label]
            log_denominator = math.log(self.token_totals[label] + _ALPHA * vocabulary)
            score = math.log((self.label_counts[label] + _ALPHA) / (total + _ALPHA * len(labels)))
            for token, n in tokens.items():
                score += n * (math.log(counts.get(token, 0.0) + _ALPHA) - log_denominator)
            scores.append(score)
        top = max(scores)
        weights = [math.exp(s - top) for s in scores]
        norm = sum(weights)
        floor = _FLOOR / len(labels)
        return [(1 - _FLOOR) * w / norm + floor for w in weights]

    def update(self, label: str, tokens: Counter[str], weight: float) -> None:
        self.label_counts[label] += weight
        counts = self.token_counts[label]
        for token, n in tokens.items():
            counts[token] = counts.get(token, 0.0) + n * weight
        self.token_totals[label] += weight * sum(tokens.values())

    # -- answers -------------------------------------------------------------------------------------

    def predict(self, prompt: str) -> str | None:
        """The model's answer to ``prompt`` (None: it learned nothing and has no answer of its own)."""
        if self.kind == "classifier":
            probabilities = self.posterior(self.features_of(prompt))
            # Ties go to the label seen first in the training file: deterministic.
            return self.labels[max(range(len(self.labels)), key=lambda i: (probabilities[i], -i))]
        if self.kind == "retrieval":
            best = self._nearest(prompt)
            # The nearest example's answer, its values copied from its own prompt read from this one instead.
            return adapt(self.completions[best], self.prompt_texts[best], request_of(prompt), self.options)
        return None

    def _nearest(self, prompt: str) -> int:
        scores: dict[int, float] = {}
        query = set(self.features_of(prompt))
        for token in query:
            weight = self._idf.get(token, 0.0)
            for index in self._index.get(token, ()):
                scores[index] = scores.get(index, 0.0) + weight
        if not scores:
            return self.completions.index(Counter(self.completions).most_common(1)[0][0])
        return max(scores, key=lambda i: (scores[i] / math.sqrt(len(self.prompts[i]) or 1), -i))

    def build_index(self) -> None:
        index: dict[str, list[int]] = {}
        for i, tokens in enumerate(self.prompts):
            for token in tokens:
                index.setdefault(token, []).append(i)
        self._index = index
        count = len(self.prompts)
        self._idf = {t: math.log(1 + count / len(ids)) for t, ids in index.items()}


def _features(prompts: Sequence[list[str]]) -> frozenset[str]:
    frequency: Counter[str] = Counter()
    for tokens in prompts:
        frequency.update(set(tokens))
    cutoff = _COMMON_SHARE * len(prompts)
    # Few records: keep every token (a share of 2 records says nothing about commonness).
    return frozenset(t for t, n in frequency.items() if len(prompts) < 8 or n <= cutoff)


def is_classification(examples: Sequence[Example]) -> bool:
    distinct = len({e.completion for e in examples})
    return distinct >= 2 and distinct <= _LABEL_SHARE * len(examples)


def train(
    examples: Sequence[Example],
    validation: Sequence[Example] | None,
    *,
    epochs: int,
    batch_size: int,
    lr_factor: float,
    seed: str,
    records: int,
) -> tuple[Learner, TrainingRun]:
    """Train on ``examples``; return the learner and its loss curves.

    ``records`` is the job's line count, used for the number of steps only when nothing was usable (an
    untrained model then reports the flat :data:`UNTRAINED_LOSS`). ``validation`` None: no validation
    curve; an empty list: one flat row per epoch.
    """
    epochs = max(1, epochs)
    batch_size = max(1, batch_size)
    # The learning rate weighs each update against the prior: a higher rate learns (and overfits) faster.
    weight = min(20.0, max(0.05, lr_factor))
    if not examples:
        steps = max(1, math.ceil(max(records, 1) / batch_size))
        flat = [(s, s // steps, UNTRAINED_LOSS) for s in range(steps * epochs)]
        flat_rows = [((e + 1) * steps - 1, e, UNTRAINED_LOSS) for e in range(epochs)] if validation is not None else []
        return Learner("untrained"), TrainingRun(flat, flat_rows)

    prompts = [tokenize(e.prompt) for e in examples]
    features = _features(prompts)
    bags = [Counter(t for t in tokens if t in features) for tokens in prompts]
    if is_classification(examples):
        learner = Learner("classifier", features)
        learner.labels = list(dict.fromkeys(e.completion for e in examples))
        learner.label_counts = dict.fromkeys(learner.labels, 0.0)
        learner.token_counts = {label: {} for label in learner.labels}
        learner.token_totals = dict.fromkeys(learner.labels, 0.0)
        position = {label: i for i, label in enumerate(learner.labels)}

        def loss(bag: Counter[str], completion: Any) -> float:
            index = position.get(completion)
            probabilities = learner.posterior(bag)
            chance = probabilities[index] if index is not None else _FLOOR / (len(learner.labels) + 1)
            return -math.log(chance)

        def learn(bag: Counter[str], completion: Any) -> None:
            learner.update(completion, bag, weight)

        def target(example: Example) -> Any:
            return example.completion

    else:
        learner = Learner("retrieval", features)
        words: dict[str, float] = {}
        seen = [0.0]  # the running total of ``words``
        vocabulary = len({t for e in examples for t in tokenize(e.completion)}) + 1

        def loss(bag: Counter[str], completion: Any) -> float:
            tokens = completion or ["</s>"]
            log_denominator = math.log(seen[0] + _ALPHA * vocabulary)
            return -sum(math.log(words.get(t, 0.0) + _ALPHA) - log_denominator for t in tokens) / len(tokens)

        def learn(bag: Counter[str], completion: Any) -> None:
            for token in completion:
                words[token] = words.get(token, 0.0) + weight
            seen[0] += weight * len(completion)

        def target(example: Example) -> Any:
            return tokenize(example.completion)

    targets = [target(e) for e in examples]

    steps_per_epoch = math.ceil(len(examples) / batch_size)
    held_out = [(Counter(t for t in tokenize(e.prompt) if t in features), e) for e in validation] if validation else []
    training: list[tuple[int, int, float]] = []
    rows: list[tuple[int, int, float]] = []
    order = list(range(len(examples)))
    step = 0
    for epoch in range(epochs):
        random.Random(f"{seed}|epoch {epoch}").shuffle(order)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            # Scored before the update: the loss of data the model has not yet learned from in this step.
            mean = sum(loss(bags[i], targets[i]) for i in batch) / len(batch)
            for i in batch:
                learn(bags[i], targets[i])
            training.append((step, epoch, round(mean, 6)))
            step += 1
        if validation is not None:
            value = sum(loss(bag, target(e)) for bag, e in held_out) / len(held_out) if held_out else UNTRAINED_LOSS
            rows.append(((epoch + 1) * steps_per_epoch - 1, epoch, round(value, 6)))
    if learner.kind == "retrieval":
        learner.prompts = [frozenset(bag) for bag in bags]
        learner.completions = [e.completion for e in examples]
        learner.prompt_texts = [e.prompt for e in examples]
        learner.options = options_by_path(learner.completions)
        learner.build_index()
    return learner, TrainingRun(training, rows)
