"""Converting a dataset into the format a model family reads: the domain of ``bft convert``.

Sources: Claude's messages (``anthropic-messages``: a ``system`` string and string contents; the Anthropic
API's text blocks are read too), OpenAI chat (``openai-chat``: system, user and assistant messages, string or
text-part contents), ``prompt-completion``, and Bedrock's conversation format with any ``schemaVersion``.
The target is a family's own format (``bft.families``). A file's format is detected from its first records
(``detect_source_format``) unless it is given.

Each record is read into one neutral shape (system texts, then turns of text, image and video blocks),
written in the target format, and checked with the target family's own record rules (``bft.dataset.rules``):
a file that converts passes ``bft validate`` record by record (the dataset's rules -- record counts,
duplicates, file size -- stay ``bft validate``'s). A record is refused, with its line, its field and why,
when the target cannot say what it says:

* more than one exchange into prompt/completion, which holds one;
* images or video into a text-only format, family or model, and images given inline or by URL (Bedrock
  reads media from S3 only);
* tool use into any format: no Bedrock fine-tuning format takes it (docs/bedrock-behaviour.md#tool-use).

Keys the target has no place for (an ``id``, OpenAI's ``name`` or ``weight``) are dropped with a warning.
Joins, where the target has one field for several: system texts and a turn's text blocks with a newline,
the system text and the user turn of prompt/completion with a blank line (as ``bft.sample_data`` writes).
A conversation record keeps its own ``schemaVersion``; the others get ``bedrock-conversation-2024``.

Streaming: byte lines in, byte lines out, one record in memory at a time. The I/O is injected:
``convert_lines`` takes lines and a ``write`` callable, and ``convert_file`` writes a temporary file next to
the output and renames it only when every record converted, so a refusal leaves nothing behind.

Standard library only, like the rest of ``bft.dataset``.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bft.dataset.migration import CONVERSIONS, MULTI_TURN, WITH_MEDIA, format_counts, record_format
from bft.dataset.parsing import MAX_LINE_BYTES, default_backend, dumps, iter_lines, read_chunks
from bft.dataset.report import Issue, IssueGroups
from bft.dataset.rules import SCHEMA_VERSION, RecordError, RecordInvalid, make_checker, tool_use_error
from bft.dataset.validator import MAX_ISSUES, _diagnose
from bft.families import ModelFamily, family_or_model

ANTHROPIC = "anthropic-messages"
OPENAI = "openai-chat"
PROMPT_COMPLETION = "prompt-completion"
CONVERSATION = "bedrock-conversation-2024"
SOURCE_FORMATS = (ANTHROPIC, OPENAI, PROMPT_COMPLETION, CONVERSATION)

_SYSTEM_ROLES = ("system", "developer")  # OpenAI's instructions, in either name
_TOOL_ROLES = ("tool", "function")
_OPENAI_TOOL_KEYS = ("tools", "functions", "tool_choice", "parallel_tool_calls")
_MEDIA_PARTS = ("image", "image_url", "input_image", "input_audio", "audio", "document", "file")
_TOOL_PARTS = ("tool_use", "tool_result", "server_tool_use", "function_call")

Block = tuple[str, Any]  # ("text", str) | ("image", {...}) | ("video", {...}): the conversation format's blocks


@dataclass
class Turn:
    role: str
    blocks: list[Block]
    index: int  # the message's index in the source record, for errors


@dataclass
class Record:
    """One record in the neutral shape every format is read into and written from."""

    system: list[str]
    turns: list[Turn]
    schema_version: str | None = None


@dataclass(frozen=True)
class Target:
    """The family to convert to; ``model_id`` when a model was named (its media rule then applies)."""

    family: ModelFamily
    model_id: str | None = None

    @property
    def name(self) -> str:
        return self.model_id or self.family.name

    @property
    def checker_model(self) -> str:
        """The model whose record rules check the output: the one named, else one that takes media if any does."""
        fam = self.family
        return self.model_id or next((m for m in fam.base_model_ids if fam.accepts_media(m)), fam.base_model_ids[0])


def resolve_target(name: str) -> Target:
    """The target of ``--to``: a family name or a base model id (BaseModelUnavailable when it is neither)."""
    family, model_id = family_or_model(name)
    return Target(family, model_id)


# -- detection -------------------------------------------------------------------------------------------


def source_format(obj: Any) -> str | None:
    """The source format of one parsed record from its shape; None when it has none of them.

    Messages with string contents and only user and assistant roles read the same in Claude's and OpenAI's
    format (the two share one reader); they count as Claude's unless the file shows an OpenAI sign.
    """
    if not isinstance(obj, dict):
        return None
    messages = obj.get("messages")
    if isinstance(messages, list) and not isinstance(obj.get("system"), list) and "schemaVersion" not in obj:
        dicts = [m for m in messages if isinstance(m, dict)]
        if any(key in obj for key in _OPENAI_TOOL_KEYS) or any(
            m.get("role") in _SYSTEM_ROLES + _TOOL_ROLES or "tool_calls" in m for m in dicts
        ):
            return OPENAI
        contents = [m.get("content") for m in dicts]
        if any(isinstance(part, dict) and "type" in part for c in contents if isinstance(c, list) for part in c):
            return ANTHROPIC  # typed parts: Claude's API blocks or OpenAI's parts, read alike
    return record_format(obj)


def detect_source_format(lines: Iterable[bytes]) -> str | None:
    """The format of most of a file's first records; None when no record has a known shape. Chat records count
    as OpenAI's when one of them shows an OpenAI sign and none Claude's ``system`` string, else as Claude's."""
    counts = format_counts(lines, _vote)
    openai, claude = counts.pop("openai-sign", 0), counts.pop("claude-sign", 0)
    chat = openai + claude + counts.pop("chat", 0)
    if chat:
        counts[OPENAI if openai and not claude else ANTHROPIC] = chat
    return max(counts, key=lambda name: counts[name]) if counts else None


def _vote(obj: Any) -> str | None:
    found = source_format(obj)
    if found == OPENAI:
        return "openai-sign"
    if found == ANTHROPIC:
        return "claude-sign" if isinstance(obj.get("system"), str) else "chat"
    return found


# -- reading ---------------------------------------------------------------------------------------------


class _Read:
    """One record's errors and warnings while it is read (field paths are the source record's)."""

    def __init__(self, target: ModelFamily) -> None:
        self.target = target
        self.errors: list[RecordError] = []
        self.dropped: list[str] = []  # fields dropped: warnings

    def error(self, code: str, path: str | None, message: str) -> None:
        self.errors.append(RecordError(code, path, message))

    def wrong_type(self, path: str, expected: str, value: Any) -> None:
        self.error("wrong_type", path, f"must be {expected}, got {type(value).__name__}")

    def tool(self, path: str) -> None:
        """The record's first tool-use part: the record is refused for it, and its other parts say no more."""
        if not any(error.code == "tool_use_not_supported" for error in self.errors):
            self.errors.append(tool_use_error(path, self.target))

    def inline_media(self, path: str, kind: str) -> None:
        self.error(
            "media_not_convertible",
            path,
            f"{kind} given inline or by URL: Bedrock fine-tuning reads images and video from S3 only (an image "
            'or video block with "source": {"s3Location": {"uri": "s3://<the dataset\'s bucket>/..."}})',
        )


def _messages(obj: dict[str, Any], read: _Read) -> list[tuple[int, str, dict[str, Any]]]:
    """The record's messages that are objects, as (index, field path, message); the others are errors, and so is
    a missing or non-array ``messages``."""
    messages = obj.get("messages")
    if not isinstance(messages, list):
        if messages is None:
            read.error("missing_key", "messages", "required key 'messages' is missing")
        else:
            read.wrong_type("messages", "an array of {role, content} objects", messages)
        return []
    found = []
    for index, message in enumerate(messages):
        if isinstance(message, dict):
            found.append((index, f"messages[{index}]", message))
        else:
            read.wrong_type(f"messages[{index}]", "an object", message)
    return found


def _read_chat(obj: dict[str, Any], read: _Read) -> Record:
    """Claude's messages and OpenAI chat: a ``system`` string and/or system messages first, then turns."""
    system: list[str] = []
    top = obj.get("system")
    if isinstance(top, str):
        if top.strip():
            system.append(top)
    elif top is not None:
        read.wrong_type("system", "a string", top)
    for key in obj:
        if key in _OPENAI_TOOL_KEYS:
            read.tool(key)
        elif key not in ("system", "messages"):
            read.dropped.append(key)
    turns: list[Turn] = []
    for index, path, message in _messages(obj, read):
        role = message.get("role")
        if message.get("tool_calls") or message.get("function_call") or role in _TOOL_ROLES:
            read.tool(f"{path}.tool_calls" if message.get("tool_calls") else f"{path}.role")
            continue
        for key in message:
            if key not in ("role", "content"):
                read.dropped.append(f"messages[].{key}")
        blocks = _chat_content(message.get("content", None), f"{path}.content", read)
        if role in _SYSTEM_ROLES:
            if turns:
                read.error(
                    "role_order",
                    f"{path}.role",
                    f"a {role} message after the conversation started: the target format has one system prompt, "
                    "before the first turn",
                )
            else:
                system.extend(text for kind, text in blocks if kind == "text" and text.strip())
            continue
        if role not in ("user", "assistant"):
            if role is None:
                read.error("missing_key", f"{path}.role", "required key 'role' is missing")
            else:
                read.error(
                    "invalid_role", f"{path}.role", f"role must be 'system', 'user' or 'assistant', got {role!r}"
                )
            continue
        turns.append(Turn(role, blocks, index))
    return Record(system, turns)


def _chat_content(content: Any, path: str, read: _Read) -> list[Block]:
    if isinstance(content, str):
        return [("text", content)]
    if content is None:
        read.error("missing_key", path, "required key 'content' is missing (or null)")
        return []
    if not isinstance(content, list):
        read.wrong_type(path, "a string or an array of text parts", content)
        return []
    blocks: list[Block] = []
    for j, part in enumerate(content):
        ppath = f"{path}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            blocks.append(("text", part["text"]))
            read.dropped.extend(f"content[].{key}" for key in part if key not in ("type", "text"))
        elif kind in _TOOL_PARTS:
            read.tool(ppath)
        elif kind in _MEDIA_PARTS:
            read.inline_media(ppath, "an image, audio or document part" if kind != "image" else "an image")
        elif isinstance(part, str):
            blocks.append(("text", part))
        else:
            read.error("invalid_content_block", ppath, 'a content part must be {"type": "text", "text": "..."}')
    return blocks


def _read_conversation(obj: dict[str, Any], read: _Read) -> Record:
    """Bedrock's conversation format, any ``schemaVersion`` (or none)."""
    version = obj.get("schemaVersion")
    if version is not None and not isinstance(version, str):
        read.wrong_type("schemaVersion", "a string", version)
        version = None
    for key in obj:
        if key == "toolConfig":
            read.tool(key)
        elif key not in ("schemaVersion", "system", "messages"):
            read.dropped.append(key)
    system: list[str] = []
    blocks = obj.get("system")
    if isinstance(blocks, list):
        for i, block in enumerate(blocks):
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                if block["text"].strip():
                    system.append(block["text"])
            else:
                read.error("invalid_content_block", f"system[{i}]", 'a system block must be {"text": "..."}')
    elif blocks is not None:
        read.wrong_type("system", "an array of {text} objects", blocks)
    turns: list[Turn] = []
    for index, path, message in _messages(obj, read):
        role = message.get("role")
        content = message.get("content")
        if not isinstance(content, list):
            read.wrong_type(f"{path}.content", "an array of content blocks", content)
            continue
        turn = Turn(str(role), [], index)
        for j, block in enumerate(content):
            bpath = f"{path}.content[{j}]"
            kind = next(iter(block), None) if isinstance(block, dict) and len(block) == 1 else None
            if kind in ("toolUse", "toolResult"):
                read.tool(f"{bpath}.{kind}")
            elif kind == "text" and isinstance(block["text"], str):
                turn.blocks.append(("text", block["text"]))
            elif kind in ("image", "video"):
                turn.blocks.append((kind, block[kind]))
            else:
                read.error("invalid_content_block", bpath, "a content block has exactly one of text, image, video")
        if role not in ("user", "assistant"):
            read.error("invalid_role", f"{path}.role", f"role must be 'user' or 'assistant', got {role!r}")
            continue
        turns.append(turn)
    return Record(system, turns, version)


def _read_prompt_completion(obj: dict[str, Any], read: _Read) -> Record:
    texts: list[str] = []
    for key in ("prompt", "completion"):
        value = obj.get(key)
        if not isinstance(value, str):
            if value is None:
                read.error("missing_key", key, f"required key {key!r} is missing")
            else:
                read.wrong_type(key, "a string", value)
        texts.append(value if isinstance(value, str) else "")
    read.dropped.extend(key for key in obj if key not in ("prompt", "completion"))
    return Record([], [Turn("user", [("text", texts[0])], 0), Turn("assistant", [("text", texts[1])], 1)])


def _check_roles(record: Record, read: _Read) -> None:
    """User first, alternating, assistant last, at least one exchange: only the first misplaced role is named
    (the ones after it follow from it), at its index in the source record."""
    turns = record.turns
    if len(turns) < 2:
        read.error("too_few_messages", "messages", f"needs at least 2 messages (user, assistant), got {len(turns)}")
        return
    for position, turn in enumerate(turns):
        expected = "user" if position % 2 == 0 else "assistant"
        if turn.role != expected:
            if position == 0:
                why = "the first message must be from 'user'"
            else:
                why = f"roles must alternate user/assistant: expected {expected!r} after {turns[position - 1].role!r}"
            read.error("role_order", f"messages[{turn.index}].role", why)
            return
    if turns[-1].role != "assistant":
        read.error("role_order", f"messages[{turns[-1].index}].role", "the last message must be from 'assistant'")


# -- writing ---------------------------------------------------------------------------------------------


def _texts(turn: Turn) -> str:
    return "\n".join(text for kind, text in turn.blocks if kind == "text")


def _write(record: Record, target: Target, read: _Read) -> dict[str, Any] | None:
    """The record in the target's format; None (with errors) when the target cannot say what it says."""
    fam = target.family
    media = [(turn, kind) for turn in record.turns for kind, _ in turn.blocks if kind != "text"]
    if media and (fam.data_format != CONVERSATION or not fam.accepts_media(target.checker_model)):
        turn, kind = media[0]
        if fam.data_format != CONVERSATION:
            where = f"{fam.name}'s format ({fam.data_format}) is text only"
        elif target.model_id:
            where = f"{target.model_id} is a text model"
        else:
            where = f"{fam.name} is text only"
        read.error("media_not_supported", f"messages[{turn.index}].content", f"{kind}: {WITH_MEDIA} ({where})")
        return None
    if fam.data_format == PROMPT_COMPLETION:
        if len(record.turns) > 2:
            read.error(
                "multi_turn",
                "messages",
                f"{len(record.turns)} messages: {MULTI_TURN}; convert it for a family of the conversation "
                "format (nova, llama-3.3), which keeps every turn",
            )
            return None
        user, answer = record.turns
        return {"prompt": "\n\n".join([*record.system, _texts(user)]), "completion": _texts(answer)}
    if fam.data_format == ANTHROPIC:
        out: dict[str, Any] = {"system": "\n".join(record.system)} if record.system else {}
        out["messages"] = [{"role": turn.role, "content": _texts(turn)} for turn in record.turns]
        return out
    out = {"schemaVersion": record.schema_version if record.schema_version is not None else SCHEMA_VERSION}
    if record.system:
        one = fam.max_system_blocks == 1
        out["system"] = [{"text": "\n".join(record.system)}] if one else [{"text": t} for t in record.system]
    out["messages"] = [
        {"role": turn.role, "content": [{kind: value} for kind, value in turn.blocks]} for turn in record.turns
    ]
    return out


# -- the conversion --------------------------------------------------------------------------------------


@dataclass
class Conversion:
    """What converting one file did: records read and written, errors and warnings (each capped as listed,
    all counted and grouped, as in the validation report)."""

    path: str
    source_format: str
    target: Target
    detected: bool = False
    records: int = 0
    written: int = 0
    errors: list[Issue] = field(default_factory=list)
    error_count: int = 0
    warnings: list[Issue] = field(default_factory=list)
    warning_count: int = 0
    error_groups: IssueGroups = field(default_factory=lambda: IssueGroups(MAX_ISSUES))
    warning_groups: IssueGroups = field(default_factory=lambda: IssueGroups(MAX_ISSUES))

    @property
    def converted(self) -> bool:
        return self.error_count == 0 and self.records > 0

    @property
    def target_format(self) -> str:
        return self.target.family.data_format

    def changes(self) -> str:
        """What the conversion changes, in the migration advice's words."""
        key = (self.source_format, self.target_format)
        if self.source_format == self.target_format:
            return "the format is the same: the records are written again, keys it has no place for dropped"
        return CONVERSIONS[key]

    def error(self, line: int | None, code: str, field_: str | None, message: str) -> None:
        issue = Issue(self.path, line, field_, code, message)
        self.error_count += 1
        self.error_groups.add(issue)
        if len(self.errors) < MAX_ISSUES:
            self.errors.append(issue)

    def warn(self, line: int, code: str, field_: str | None, message: str) -> None:
        issue = Issue(self.path, line, field_, code, message)
        self.warning_count += 1
        self.warning_groups.add(issue)
        if len(self.warnings) < MAX_ISSUES:
            self.warnings.append(issue)


_READERS: dict[str, Callable[[dict[str, Any], _Read], Record]] = {
    ANTHROPIC: _read_chat,  # Claude's and OpenAI's messages are read alike (see source_format)
    OPENAI: _read_chat,
    CONVERSATION: _read_conversation,
    PROMPT_COMPLETION: _read_prompt_completion,
}


def convert_lines(
    lines: Iterable[bytes],
    write: Callable[[bytes], Any],
    target: Target,
    source_format: str,
    *,
    path: str,
    detected: bool = False,
) -> Conversion:
    """Convert byte lines (line ends removed) in ``source_format`` for ``target``: each converted record is
    passed to ``write`` as one JSON line, until the first refused record (the rest are still read, for their
    errors). ``path`` names the file in errors. The caller discards what was written unless ``converted``."""
    if source_format not in _READERS:
        raise ValueError(f"source format must be one of {', '.join(SOURCE_FORMATS)}, got {source_format!r}")
    result = Conversion(path, source_format, target, detected)
    reader = _READERS[source_format]
    check = make_checker(target.family, target.checker_model)
    _, loads = default_backend()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            result.warn(number, "blank_line", None, "blank line skipped (Bedrock would read it as a broken record)")
            continue
        result.records += 1
        if len(raw) > MAX_LINE_BYTES:  # iter_lines cuts such a line short: no record of any family is this long
            result.error(number, "line_too_long", None, f"line is longer than {MAX_LINE_BYTES:,} bytes")
            continue
        try:
            obj = loads(raw)
        except (ValueError, RecursionError) as exc:
            code, message = _diagnose(raw, number, exc)
            result.error(number, code, None, message)
            continue
        read = _Read(target.family)
        if not isinstance(obj, dict):
            result.error(number, "not_an_object", None, "the line is JSON but not an object {...}")
            continue
        record = reader(obj, read)
        if not read.errors:
            _check_roles(record, read)
        out = None if read.errors else _write(record, target, read)
        if out is not None:
            try:
                check(out)
            except (RecordError, RecordInvalid) as exc:
                broken = exc.errors if isinstance(exc, RecordInvalid) else [exc]
                for error in broken:
                    read.error(
                        error.code, error.field, f"{error.message} (in the converted {result.target_format} record)"
                    )
        for error in read.errors:
            result.error(number, error.code, error.field, error.message)
        for key in dict.fromkeys(read.dropped):
            result.warn(number, "dropped_key", key, f"dropped: {result.target_format} has no place for it")
        if read.errors or out is None or result.error_count:
            continue
        write(dumps(out) + b"\n")
        result.written += 1
    return result


def detect_file_format(path: str) -> str | None:
    with open(path, "rb") as stream:
        return detect_source_format(iter_lines(read_chunks(stream)))


def convert_file(source: str, output: str, target: Target, source_format: str | None = None) -> Conversion:
    """Convert the file ``source`` into ``output``, streaming; ``output`` is written only when every record
    converted (a temporary file in its directory, renamed at the end; removed on a refusal or a failure).

    Without ``source_format`` the file's first records decide it; ValueError when none has a known shape.
    """
    detected = source_format is None
    if source_format is None:
        source_format = detect_file_format(source)
        if source_format is None:
            raise ValueError(
                f"{source}: none of the first records is in a format this command reads "
                f"({', '.join(SOURCE_FORMATS)}): name it with --from"
            )
    directory = os.path.dirname(os.path.abspath(output))
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(output)}.", suffix=".part")
    renamed = False
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as stream:
            result = convert_lines(
                iter_lines(read_chunks(stream)), out.write, target, source_format, path=source, detected=detected
            )
        if result.converted:
            os.chmod(temporary, stat.S_IMODE(os.stat(source).st_mode))  # the source's permissions, not 0600
            os.replace(temporary, output)
            renamed = True
        return result
    finally:
        if not renamed:
            os.unlink(temporary)
