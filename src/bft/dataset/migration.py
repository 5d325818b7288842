"""Moving a dataset from one model family to another: which format a file is really in, and what changes.

``bft validate FILE --base-model NEW`` on a file written for another family would otherwise report the same
structural error on every record. Instead the format is detected from the records themselves, the mismatch
is said once, and the advice lists what the target family needs: its format (with one example record), its
record and token limits next to the source's, its hyperparameter ranges next to the source's (all from
``bft.families``), and how many of the file's records would still break a target limit once converted.

Standard library only, like the rest of ``bft.dataset``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bft.dataset.formats import example_line
from bft.dataset.parsing import default_backend, iter_lines, read_chunks
from bft.dataset.reserved import reserved_finder
from bft.dataset.rules import RecordError, RecordInvalid, make_checker
from bft.families import FAMILIES, ModelFamily

# Records read to decide a file's format: enough to outvote a few broken lines, cheap on a 10 GB file.
SNIFF_RECORDS = 200

# What to change, per (source format, target format): the same words as bft.dataset.formats.CONVERSION,
# one pair at a time so the advice names only the conversion the team needs.
CONVERSIONS: dict[tuple[str, str], str] = {
    ("anthropic-messages", "bedrock-conversation-2024"): (
        'add "schemaVersion": "bedrock-conversation-2024"; wrap the system string as [{"text": ...}] and each '
        'message\'s content string as [{"text": ...}]'
    ),
    ("bedrock-conversation-2024", "anthropic-messages"): (
        'drop "schemaVersion"; write the system as one string and each message\'s content as the string of its '
        "text blocks (text only: images and video have no place in this format)"
    ),
    ("anthropic-messages", "prompt-completion"): (
        "one exchange per record: prompt = the system text and the user turn, completion = the assistant turn; "
        "drop the other keys"
    ),
    ("bedrock-conversation-2024", "prompt-completion"): (
        "one exchange per record: prompt = the system text and the user turn's text, completion = the assistant "
        'turn\'s text; drop "schemaVersion" and the other keys (text only)'
    ),
    ("prompt-completion", "anthropic-messages"): (
        'write {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]}; '
        'an instruction at the start of the prompt may move to "system"'
    ),
    ("prompt-completion", "bedrock-conversation-2024"): (
        'write {"schemaVersion": "bedrock-conversation-2024", "messages": [{"role": "user", "content": '
        '[{"text": prompt}]}, {"role": "assistant", "content": [{"text": completion}]}]}; an instruction at the '
        'start of the prompt may move to "system": [{"text": ...}]'
    ),
    # OpenAI chat is a source only (``bft convert``): no family reads it.
    ("openai-chat", "bedrock-conversation-2024"): (
        'move the system messages to "system": [{"text": ...}], wrap each message\'s content string as '
        '[{"text": ...}] and add "schemaVersion": "bedrock-conversation-2024"'
    ),
    ("openai-chat", "anthropic-messages"): 'move the system messages to the "system" string',
    ("openai-chat", "prompt-completion"): (
        "one exchange per record: prompt = the system messages and the user turn, completion = the assistant turn"
    ),
}


# Why a record breaks a target limit once converted, in the words both the migration advice and
# ``bft convert``'s refusals use.
MULTI_TURN = "more than one exchange (prompt/completion holds one)"
WITH_MEDIA = "images or video, which this model does not take"


def record_format(obj: Any) -> str | None:
    """The data format one parsed record is written in, from its shape alone; None when it has none of them."""
    if not isinstance(obj, dict):
        return None
    if "prompt" in obj or "completion" in obj:
        return "prompt-completion"
    if "schemaVersion" in obj:
        return "bedrock-conversation-2024"
    system = obj.get("system")
    if isinstance(system, str):
        return "anthropic-messages"
    if isinstance(system, list):
        return "bedrock-conversation-2024"
    messages = obj.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        content = messages[0].get("content")
        if isinstance(content, str):
            return "anthropic-messages"
        if isinstance(content, list):
            return "bedrock-conversation-2024"
    return None


def format_counts(
    lines: Iterable[bytes],
    classify: Callable[[Any], str | None] = record_format,
    *,
    sample: int = SNIFF_RECORDS,
) -> dict[str, int]:
    """How many of the first ``sample`` parseable records ``classify`` puts in each format (none: no shape)."""
    _, loads = default_backend()
    counts: dict[str, int] = {}
    seen = 0
    for raw in lines:
        if not raw.strip():
            continue
        try:
            found = classify(loads(raw))
        except (ValueError, RecursionError):
            continue
        seen += 1
        if found is not None:
            counts[found] = counts.get(found, 0) + 1
        if seen >= sample:
            break
    return counts


def detect_format(lines: Iterable[bytes], *, sample: int = SNIFF_RECORDS) -> str | None:
    """The format most of the first ``sample`` parseable records are in (None: no record has a known shape)."""
    counts = format_counts(lines, sample=sample)
    return max(counts, key=lambda name: counts[name]) if counts else None


def detect_file_format(path: str | os.PathLike[str]) -> str | None:
    with open(path, "rb") as stream:
        return detect_format(iter_lines(read_chunks(stream)))


def family_of_format(data_format: str) -> ModelFamily:
    """The family a file in ``data_format`` was most likely written for: the first the registry lists."""
    return next(family for family in FAMILIES if family.data_format == data_format)


@dataclass
class FileCheck:
    """One file's records measured against the target family (after the conversion above)."""

    role: str
    path: str
    data_format: str | None
    records: int = 0
    # Records the source format's own rules reject: they need fixing before any conversion.
    invalid_in_source: int = 0
    over_token_limit: int = 0
    multi_turn: int = 0  # more than one exchange: prompt/completion holds one
    reserved_strings: int = 0
    with_media: int = 0  # images or video for a text-only target

    def violations(self) -> int:
        return self.over_token_limit + self.multi_turn + self.reserved_strings + self.with_media

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "path": self.path,
            "data_format": self.data_format,
            "records": self.records,
            "invalid_in_source_format": self.invalid_in_source,
            "over_token_limit": self.over_token_limit,
            "multi_turn": self.multi_turn,
            "reserved_strings": self.reserved_strings,
            "with_media": self.with_media,
            "violations": self.violations(),
        }


@dataclass
class Migration:
    """What a team changes to move its data and hyperparameters from ``source`` to ``target``."""

    source: ModelFamily
    target: ModelFamily
    target_model: str
    files: list[FileCheck] = field(default_factory=list)

    @property
    def format_changes(self) -> bool:
        return self.source.data_format != self.target.data_format

    def record_limit_problems(self) -> list[str]:
        """File-level limits of the target that the files' record counts break, in words."""
        target = self.target
        problems: list[str] = []
        total = 0
        for check in self.files:
            total += check.records
            if check.role == "training" and check.records < target.min_records:
                problems.append(
                    f"{check.path}: {check.records:,} records; {target.name} needs at least {target.min_records:,}"
                )
            limit = target.max_training_records if check.role == "training" else target.max_validation_records
            if check.records > limit:
                problems.append(
                    f"{check.path}: {check.records:,} records; the {target.name} {check.role} limit is {limit:,}"
                )
        if len(self.files) > 1 and total > target.max_total_records:
            problems.append(
                f"{total:,} records in training and validation together; the {target.name} limit is "
                f"{target.max_total_records:,}"
            )
        return problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_family": self.source.name,
            "source_format": self.source.data_format,
            "target_family": self.target.name,
            "target_format": self.target.data_format,
            "target_model": self.target_model,
            "conversion": CONVERSIONS.get((self.source.data_format, self.target.data_format)),
            "example_record": json.loads(example_line(self.target.data_format)),
            "limits": {family.name: _limits(family) for family in (self.source, self.target)},
            "hyperparameters": {family.name: _hyperparameters(family) for family in (self.source, self.target)},
            "files": [check.to_dict() for check in self.files],
            "record_limit_problems": self.record_limit_problems(),
            "records_violating_target_limits": sum(check.violations() for check in self.files),
        }

    def text(self) -> str:
        """The concise migration section ``bft validate`` prints."""
        src, dst = self.source, self.target
        out = [f"Migration from {src.name} ({src.data_format}) to {dst.name} ({dst.data_format}), {self.target_model}:"]
        if self.format_changes:
            out.append(f"  format: {CONVERSIONS[(src.data_format, dst.data_format)]}. One record in {dst.data_format}:")
            out.append(f"    {example_line(dst.data_format)}")
            out.extend(
                f"  convert it: bft convert {check.path} --to {self.target_model}"
                for check in self.files
                if check.data_format == src.data_format
            )
        else:
            out.append(f"  format: unchanged ({dst.data_format})")
        rows: list[tuple[str, str, str]] = [
            (
                "training records",
                _range(src.min_records, src.max_training_records),
                _range(dst.min_records, dst.max_training_records),
            ),
            ("validation records", f"up to {src.max_validation_records:,}", f"up to {dst.max_validation_records:,}"),
            ("records in total", f"up to {src.max_total_records:,}", f"up to {dst.max_total_records:,}"),
            ("tokens per record", _tokens(src), _tokens(dst)),
        ]
        names = [s.name for s in src.hyperparameters] + [
            s.name for s in dst.hyperparameters if src.hyperparameter(s.name) is None
        ]
        for name in names:
            rows.append((name, _hp_text(src, name), _hp_text(dst, name)))
        width = max(len(label) for label, _, _ in rows) + 2
        column = max(len(value) for _, value, _ in rows) + 2
        out.append(f"  {'':<{width}}{src.name:<{column}}{dst.name}")
        out.extend(f"  {label:<{width}}{before:<{column}}{after}" for label, before, after in rows)
        dropped = [s.name for s in src.hyperparameters if dst.hyperparameter(s.name) is None]
        if dropped:
            out.append(
                f"  hyperparameters {dst.name} does not take (remove them from the request): {', '.join(dropped)}"
            )
        out.append(f"  your data against {dst.name}'s limits (token estimate: UTF-8 bytes / 3 of the texts):")
        for check in self.files:
            parts = [f"{check.records:,} records"]
            if check.invalid_in_source:
                parts.append(
                    f"{check.invalid_in_source:,} invalid in {check.data_format} already (fix them first: "
                    f"bft validate {check.path} --base-model {src.base_model_ids[0]})"
                )
            parts.append(f"{check.violations():,} would break a {dst.name} limit")
            details = [
                (check.over_token_limit, f"over {dst.token_limit:,} tokens"),
                (check.multi_turn, MULTI_TURN),
                (check.reserved_strings, f"a string {dst.name} reserves ({', '.join(dst.reserved_strings)})"),
                (check.with_media, WITH_MEDIA),
            ]
            named = [f"{count:,} {what}" for count, what in details if count]
            out.append(
                f"    {check.role} {check.path}: " + "; ".join(parts) + (f" ({'; '.join(named)})" if named else "")
            )
        out.extend(f"    {problem}" for problem in self.record_limit_problems())
        return "\n".join(out)


def plan_migration(
    target_model: str,
    target: ModelFamily,
    files: list[tuple[str, str]],
    *,
    source: ModelFamily | None = None,
) -> Migration | None:
    """The migration of ``files`` ((role, path) pairs) to ``target``; None when there is nothing to migrate.

    ``source`` is the family the data was written for (``--from-model``); without it, the family whose format
    the training file is in. Every record is read once, with the source format's own rules.
    """
    formats = {path: detect_file_format(path) for _, path in files}
    detected = next((formats[path] for role, path in files if role == "training"), None)
    if source is None:
        if detected is None or detected == target.data_format:
            return None
        source = family_of_format(detected)
    elif source.name == target.name:
        return None
    migration = Migration(source=source, target=target, target_model=target_model)
    for role, path in files:
        migration.files.append(_measure(role, path, formats[path], source, target, target_model))
    return migration


def _measure(
    role: str, path: str, data_format: str | None, source: ModelFamily, target: ModelFamily, target_model: str
) -> FileCheck:
    check = FileCheck(role=role, path=path, data_format=data_format)
    # The records are read with the rules of the format they are in (the source's, else the detected one's).
    reader = source if data_format in (None, source.data_format) else family_of_format(data_format)
    parse = make_checker(reader, reader.base_model_ids[0])
    reserved = reserved_finder(target)
    text_only = not target.accepts_media(target_model)
    _, loads = default_backend()
    with open(path, "rb") as stream:
        for raw in iter_lines(read_chunks(stream)):
            check.records += 1
            try:
                units, turns, _system, content, media = parse(loads(raw))
            except (ValueError, RecursionError, RecordError, RecordInvalid, TypeError, AttributeError, KeyError):
                check.invalid_in_source += 1
                continue
            if (units + 2) // 3 > target.token_limit:
                check.over_token_limit += 1
            elif target.data_format == "prompt-completion" and turns > 2:
                check.multi_turn += 1
            elif reserved(content[0]) is not None:
                check.reserved_strings += 1
            elif media is not None and text_only:
                check.with_media += 1
    return check


def _range(low: int, high: int) -> str:
    return f"{low:,}-{high:,}"


def _tokens(family: ModelFamily) -> str:
    return f"{family.token_limit:,}" + ("" if family.max_tokens_per_record is not None else " (unconfirmed)")


def _hp_text(family: ModelFamily, name: str) -> str:
    spec = family.hyperparameter(name)
    if spec is None:
        return "not taken"
    if spec.minimum == spec.maximum:
        return f"{spec.minimum:g} (fixed)"
    return f"{spec.minimum:g}-{spec.maximum:g} (default {spec.default:g})"


def _limits(family: ModelFamily) -> dict[str, Any]:
    return {
        "min_training_records": family.min_records,
        "max_training_records": family.max_training_records,
        "max_validation_records": family.max_validation_records,
        "max_total_records": family.max_total_records,
        "max_tokens_per_record": family.token_limit,
        "max_tokens_per_record_confirmed": family.max_tokens_per_record is not None,
    }


def _hyperparameters(family: ModelFamily) -> dict[str, dict[str, float]]:
    return {
        spec.name: {"min": spec.minimum, "max": spec.maximum, "default": spec.default}
        for spec in family.hyperparameters
    }
