"""Per-record rules, one checker per data format.

A checker takes one parsed JSON object and either returns a ``RecordInfo`` or
raises ``RecordInvalid`` with every rule the record breaks, in record order: a
record converted from another family breaks several at once, and fixing them one
upload at a time wastes a round trip each. Within one field the rules run in
order and stop at the first broken one (a content that is not a string is not
also "empty"), and an error that only follows from another is not repeated:
after the first misplaced role the next roles are not "out of order" too, and
a missing key is not also a wrong type. The Claude checker, the one the
pipeline mostly runs, keeps its common path to whole-list operations that run
in C and builds field paths and messages only when a rule fails.

Token estimate (per record): ceil(U / 3), U being the UTF-8 size of the system
prompt and every text. For ASCII text that is its length, so the estimate is
the aws-samples helper's len//3 rounded up; counting bytes rather than
characters keeps it conservative for non-Latin scripts, where a character is
about one token and characters/3 would undercount threefold. CPython encodes
non-ASCII text to UTF-8 at 2-5 ns a character (ten times the cost of parsing
it), so a non-ASCII text longer than 1,024 characters has its size
extrapolated from 1,024 evenly spaced characters: within a few percent, well
inside the estimate's own error. Media tokens are not estimated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from bft.dataset.reserved import reserved_finder
from bft.families import ModelFamily


class RecordError(Exception):
    """A record broke a rule: ``code`` is stable, ``field`` a path like ``messages[1].role``."""

    def __init__(self, code: str, field: str | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


class RecordInvalid(Exception):
    """Every rule a record breaks (at least one), in record order."""

    def __init__(self, errors: list[RecordError]) -> None:
        super().__init__("; ".join(f"{e.field or 'record'}: {e.message}" for e in errors))
        self.errors = errors


class _Errors(list[RecordError]):
    """A record's errors; the same code on the same field is kept once (two rules may notice one fault)."""

    def add(self, error: RecordError) -> None:
        if not any(e.field == error.field and e.code == error.code for e in self):
            self.append(error)

    def add_all(self, errors: list[RecordError]) -> None:
        for error in errors:
            self.add(error)


# The normalized content of a record, for duplicate detection: its texts (and media
# URIs) joined with NUL, and their lengths, which make the join unambiguous.
Content = tuple[str, tuple[int, ...]]

# (units, turns, has_system, content, media): units = U above, so tokens =
# ceil(units / 3); turns = messages in the record (a prompt/completion pair counts
# 2); media = "image" | "video" | None. A plain tuple: a NamedTuple costs a
# Python-level __new__ per record.
RecordInfo = tuple[int, int, bool, Content, str | None]
Checker = Callable[[dict[str, Any]], RecordInfo]

_MISSING: Any = object()
# What this project writes as the conversation format's "schemaVersion". Reading, any string is accepted, or
# none: "schemaVersion can be any string value" (Nova user guide, fine-tune-prepare-data-understanding,
# checked 2026-12-07), and AWS's sample validators treat it as an optional string (Nova) or do not read it
# (Llama); AWS's own Nova tool-use sample uses "tooluse-dataset-2024" (docs/bedrock-behaviour.md#nova).
SCHEMA_VERSION = "bedrock-conversation-2024"
# Tool-use parts of the Converse API, which no Bedrock fine-tuning data guide accepts (see tool_use_error).
TOOL_BLOCKS = ("toolUse", "toolResult")
TOOL_CONFIG = "toolConfig"


_SAMPLE_CHARS = 1024


def utf8_size(text: str) -> int:
    """UTF-8 bytes of a text: exact up to 1,024 characters, extrapolated from a sample beyond."""
    n = len(text)
    if n <= _SAMPLE_CHARS or text.isascii():
        return n if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    sample = text[:: n // _SAMPLE_CHARS]
    return -(-len(sample.encode("utf-8", "surrogatepass")) * n // len(sample))


def measure(texts: list[str]) -> int:
    """U of a record's texts: the size the token estimate divides by 3."""
    return sum(map(len, texts)) if all(map(str.isascii, texts)) else sum(map(utf8_size, texts))


def content_of(parts: list[str]) -> Content:
    return "\0".join(parts), tuple(map(len, parts))


def make_checker(
    family: ModelFamily, base_model_id: str, dataset_bucket: str | None = None, team: str | None = None
) -> Checker:
    """The record checker for ``family``; ``dataset_bucket`` enables the same-bucket media rule, and ``team``
    the team-prefix rule: a record may name only media under ``s3://<dataset bucket>/<team>/``, because the
    Bedrock service role reads whatever the records name (one team's data must not lead Bedrock into
    another's)."""
    if family.data_format == "anthropic-messages":
        return _anthropic_checker(family)
    if family.data_format == "prompt-completion":
        return _prompt_completion_checker(family)
    return _converse_checker(family, base_model_id, dataset_bucket, team)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }.get(type(value), type(value).__name__)


def _wrong_type(field: str, expected: str, value: Any) -> RecordError:
    return RecordError("wrong_type", field, f"must be {expected}, got {_type_name(value)}")


def _key_errors(
    obj: dict[str, Any], required: tuple[str, ...], allowed: tuple[str, ...], prefix: str
) -> list[RecordError]:
    """Slow path: every missing and every unknown key (called only when a count is off)."""
    errors = [
        RecordError("missing_key", prefix + key, f"required key {key!r} is missing")
        for key in required
        if key not in obj
    ]
    errors.extend(
        RecordError("unknown_key", prefix + key, f"unknown key {key!r}; allowed keys: {', '.join(allowed)}")
        for key in obj
        if key not in allowed
    )
    return errors


def _raise_first(errors: list[RecordError]) -> None:
    """Inside one nested object (a media block) later rules presume the earlier ones: its first error."""
    if errors:
        raise errors[0]


def _reserved_error(field: str, found: str, family: ModelFamily) -> RecordError:
    listed = ", ".join(repr(s) for s in family.reserved_strings)
    case = " (any letter case)" if family.reserved_strings_ignore_case else ""
    return RecordError(
        "reserved_string", field, f"contains reserved string {found!r}; {family.name} rejects {listed}{case}"
    )


def tool_use_error(field: str, family: ModelFamily) -> RecordError:
    """A tool-use part (toolConfig, toolUse, toolResult): Bedrock's fine-tuning data guides list text, image and
    video content only, and the Nova 2 page says tool sections may fail the job (docs/bedrock-behaviour.md#nova).
    AWS's own Nova tool-use sample trains tool calls as text, which passes."""
    return RecordError(
        "tool_use_not_supported",
        field,
        f"{family.name} fine-tuning on Bedrock takes no tool-use parts ({TOOL_CONFIG}, {', '.join(TOOL_BLOCKS)}): "
        "its data guides list text, image and video content only, and tool sections may fail the job; describe "
        "the tools in the user turn and write the call as the assistant's text, as AWS's Nova tool-use sample does",
    )


def _role_error(messages: list[Any], index: int, expected: str) -> RecordError:
    """Explain why messages[index] (an object) is not the expected role (slow path)."""
    message = messages[index]
    field = f"messages[{index}]"
    if "role" not in message:
        return RecordError("missing_key", field + ".role", "required key 'role' is missing")
    role = message["role"]
    if role not in ("user", "assistant"):
        return RecordError("invalid_role", field + ".role", f"role must be 'user' or 'assistant', got {role!r}")
    if index == 0:
        return RecordError("role_order", field + ".role", "the first message must be from 'user'")
    previous = messages[index - 1]
    before = previous.get("role") if type(previous) is dict else None
    # The previous message may itself be broken (its errors are reported too): then say the position.
    after = f"after {before!r}" if before in ("user", "assistant") else f"at position {index}"
    return RecordError(
        "role_order", field + ".role", f"roles must alternate user/assistant: expected {expected!r} {after}"
    )


class _RoleOrder:
    """Positions fix the roles (user first, alternating); only the first misplaced role is an error, the
    ones after it follow from it. A missing or unknown role is always its own error."""

    def __init__(self, messages: list[Any], errors: _Errors) -> None:
        self.messages = messages
        self.errors = errors
        self.broken = False

    def check(self, index: int, expected: str) -> None:
        error = _role_error(self.messages, index, expected)
        if error.code == "role_order" and self.broken:
            return
        # After a missing or unknown role the positions may be shifted (an extra message?): order errors
        # past it would only follow from it.
        self.broken = True
        self.errors.add(error)

    def check_last(self) -> None:
        count = len(self.messages)
        if count >= 2 and count & 1 and not self.broken:
            self.errors.add(
                RecordError("role_order", f"messages[{count - 1}].role", "the last message must be from 'assistant'")
            )


def _alternating_roles(count: int) -> list[str]:
    return ["user", "assistant"] * (count // 2) + ["user"] * (count % 2)


_ROLES_BY_COUNT = [_alternating_roles(n) for n in range(65)]


def _anthropic_checker(family: ModelFamily) -> Checker:
    """Claude 3 Haiku: {"system"?: str, "messages": [{"role", "content": str}, ...]}, no other keys."""
    find_reserved = reserved_finder(family)
    top_keys = ("system", "messages")
    message_keys = ("role", "content")
    isspace = str.isspace
    get_content = itemgetter("content")
    get_role = itemgetter("role")

    def reserved(text: str, field: str, errors: _Errors) -> None:
        found = find_reserved(text)
        if found:
            errors.add(_reserved_error(field, found, family))

    def problems(obj: dict[str, Any]) -> RecordInvalid:
        """Slow path: walk the whole record and collect every broken rule."""
        errors = _Errors(_key_errors(obj, ("messages",), top_keys, ""))
        system = obj.get("system")
        if system is not None:  # null is accepted as "no system prompt", as the aws-samples helper does
            if type(system) is not str:
                errors.add(_wrong_type("system", "a string", system))
            else:
                reserved(system, "system", errors)
        messages = obj.get("messages", _MISSING)
        if messages is not _MISSING and type(messages) is not list:
            errors.add(_wrong_type("messages", "an array of {role, content} objects", messages))
        elif messages is not _MISSING:
            count = len(messages)
            if count < 2:
                errors.add(
                    RecordError(
                        "too_few_messages", "messages", f"needs at least 2 messages (user, assistant), got {count}"
                    )
                )
            roles = _RoleOrder(messages, errors)
            for index, message in enumerate(messages):
                expected = "user" if index % 2 == 0 else "assistant"
                field = f"messages[{index}]"
                if type(message) is not dict:
                    errors.add(_wrong_type(field, "an object", message))
                    continue
                if message.get("role") != expected:
                    roles.check(index, expected)
                if len(message) != 2:
                    errors.add_all(_key_errors(message, message_keys, message_keys, field + "."))
                content = message.get("content", _MISSING)
                if content is _MISSING:
                    continue
                if type(content) is not str:
                    errors.add(_wrong_type(field + ".content", "a string", content))
                elif not content or content.isspace():
                    errors.add(RecordError("empty_content", field + ".content", "content is empty"))
                else:
                    reserved(content, field + ".content", errors)
            roles.check_last()
        if not errors:  # the fast path and this walk disagree
            raise AssertionError("the record failed a check but no broken rule was found")
        return RecordInvalid(errors)

    def check(obj: dict[str, Any]) -> RecordInfo:
        messages = obj.get("messages", _MISSING)
        system = obj.get("system")
        if system is None:
            system = ""
        if (
            messages is _MISSING
            or len(obj) != (2 if "system" in obj else 1)
            or type(system) is not str
            or type(messages) is not list
            or len(messages) < 2
        ):
            raise problems(obj)
        count = len(messages)
        # Fast path: whole-list operations in C (no Python frame per message). Any
        # doubt (a non-object message, a missing key, a non-string or empty
        # content) lands in problems(), which walks the record and names every rule.
        try:
            contents = list(map(get_content, messages))
            ok = (
                not count & 1
                and list(map(get_role, messages))
                == (_ROLES_BY_COUNT[count] if count < 65 else _alternating_roles(count))
                and sum(map(len, messages)) == 2 * count
                and all(contents)
                and not any(map(isspace, contents))
            )
        except (TypeError, KeyError):
            ok = False
        if not ok:
            raise problems(obj)
        # Roles are fixed by position once the order is valid, so the texts are the
        # content. One NUL-joined string (NUL is in no reserved string, so no match
        # spans two texts) lets a single call screen the record.
        texts = [system, *contents]
        joined = "\0".join(texts)
        if find_reserved(joined):
            raise problems(obj)
        units = len(joined) - count if joined.isascii() else sum(map(utf8_size, texts))
        return (units, count, bool(system), (joined, tuple(map(len, texts))), None)

    return check


def _prompt_completion_checker(family: ModelFamily) -> Checker:
    """Llama 3.1 and Titan Text: {"prompt": str, "completion": str}, no other keys."""
    find_reserved = reserved_finder(family)
    keys = ("prompt", "completion")

    def check(obj: dict[str, Any]) -> RecordInfo:
        prompt: Any = obj.get("prompt")
        completion: Any = obj.get("completion")
        errors = _Errors()
        if len(obj) != 2 or prompt is None or completion is None:
            errors.add_all(_key_errors(obj, keys, keys, ""))
        for name, text in (("prompt", prompt), ("completion", completion)):
            if name not in obj:
                continue  # reported as missing
            if type(text) is not str:
                errors.add(_wrong_type(name, "a string", text))
            elif not text or text.isspace():
                errors.add(RecordError("empty_content", name, f"{name} is empty"))
            else:
                found = find_reserved(text)
                if found:
                    errors.add(_reserved_error(name, found, family))
        if errors:
            raise RecordInvalid(errors)
        return (measure([prompt, completion]), 2, False, content_of([prompt, completion]), None)

    return check


# Path characters the official Nova validator allows in media URIs.
_S3_PATH = re.compile(r"[\w\-/.]+")


def _converse_checker(
    family: ModelFamily, base_model_id: str, dataset_bucket: str | None, team: str | None, *, fast: bool = True
) -> Checker:
    """Nova and Llama 3.2: the bedrock-conversation-2024 format (``fast=False``: the walk alone, for tests)."""
    find_reserved = reserved_finder(family)
    media_allowed = family.accepts_media(base_model_id)
    max_images = family.max_images_per_record
    max_videos = family.max_videos_per_record
    max_system = family.max_system_blocks
    top_keys = ("schemaVersion", "system", "messages")
    message_keys = ("role", "content")

    def text_error(text: Any, field: str) -> RecordError | None:
        if type(text) is not str:
            return _wrong_type(field, "a string", text)
        found = find_reserved(text)
        return _reserved_error(field, found, family) if found else None

    def check_media(kind: str, media: Any, field: str, role: str) -> str:
        """Validate an image/video block; return its URI (part of the duplicate key)."""
        if not media_allowed:
            raise RecordError(
                "media_not_supported", field, f"{base_model_id} is a text model: records cannot carry {kind}s"
            )
        if (max_images if kind == "image" else max_videos) == 0:
            raise RecordError("media_not_supported", field, f"{family.name} does not accept {kind}s")
        if role != "user":
            raise RecordError("media_in_assistant_turn", field, f"{kind}s are allowed only in user messages")
        if type(media) is not dict:
            raise _wrong_type(field, "an object", media)
        if len(media) != 2 or "format" not in media or "source" not in media:
            _raise_first(_key_errors(media, ("format", "source"), ("format", "source"), field + "."))
        formats = family.image_formats if kind == "image" else family.video_formats
        fmt = media["format"]
        if type(fmt) is not str or fmt.lower() not in formats:
            raise RecordError(
                "invalid_media_format",
                field + ".format",
                f"{kind} format must be one of {', '.join(formats)}",
            )
        source = media["source"]
        if type(source) is not dict or len(source) != 1 or "s3Location" not in source:
            if type(source) is not dict:
                raise _wrong_type(field + ".source", "an object", source)
            _raise_first(_key_errors(source, ("s3Location",), ("s3Location",), field + ".source."))
        location = source["s3Location"]
        loc_field = field + ".source.s3Location"
        if type(location) is not dict:
            raise _wrong_type(loc_field, "an object", location)
        if "uri" not in location or len(location) > (2 if "bucketOwner" in location else 1):
            _raise_first(_key_errors(location, ("uri",), ("uri", "bucketOwner"), loc_field + "."))
        owner = location.get("bucketOwner", "")
        if type(owner) is not str:
            raise _wrong_type(loc_field + ".bucketOwner", "a string (AWS account id)", owner)
        uri = location["uri"]
        if type(uri) is not str or not uri.startswith("s3://") or not _S3_PATH.fullmatch(uri[5:]):
            raise RecordError(
                "invalid_s3_uri",
                loc_field + ".uri",
                "must be s3://bucket/key using letters, digits, '_', '-', '/' and '.'",
            )
        if dataset_bucket is not None and uri[5:].split("/", 1)[0] != dataset_bucket:
            raise RecordError(
                "media_bucket_mismatch",
                loc_field + ".uri",
                f"media must be in the dataset's bucket {dataset_bucket!r}",
            )
        if team is not None:
            key = uri[5:].split("/", 1)[1] if "/" in uri[5:] else ""
            if not key.startswith(f"{team}/") or ".." in key.split("/"):
                raise RecordError(
                    "media_outside_team_prefix",
                    loc_field + ".uri",
                    f"media must be under the team's own prefix s3://{uri[5:].split('/', 1)[0]}/{team}/ "
                    "(Bedrock reads what a record names, with the pipeline's role)",
                )
        return uri

    def check(obj: dict[str, Any]) -> RecordInfo:
        # One walk both validates and collects the texts: on a broken rule it notes the error and moves on
        # to the next field, skipping only what depends on the broken one.
        errors = _Errors()
        messages = obj.get("messages", _MISSING)
        expected_keys = 1 + ("system" in obj) + ("schemaVersion" in obj)
        if messages is _MISSING or len(obj) != expected_keys:
            for broken in _key_errors(obj, ("messages",), top_keys, ""):
                errors.add(tool_use_error(TOOL_CONFIG, family) if broken.field == TOOL_CONFIG else broken)
        version = obj.get("schemaVersion")
        if version is not None and type(version) is not str:  # any string: Bedrock does not read it (see above)
            errors.add(_wrong_type("schemaVersion", "a string", version))
        has_system = False
        texts: list[str] = []  # every text, for the token estimate
        parts: list[str] = []  # texts, media URIs and message ends: the duplicate content
        system = obj.get("system")
        if system is not None and type(system) is not list:
            errors.add(_wrong_type("system", "an array of {text} objects", system))
        elif system is not None:
            if max_system is not None and len(system) > max_system:
                errors.add(
                    RecordError(
                        "too_many_system_blocks",
                        "system",
                        f"{family.name} accepts at most {max_system} system block(s), got {len(system)}",
                    )
                )
            for i, block in enumerate(system):
                field = f"system[{i}]"
                if type(block) is not dict:
                    errors.add(_wrong_type(field, "an object", block))
                    continue
                if len(block) != 1 or "text" not in block:
                    errors.add_all(_key_errors(block, ("text",), ("text",), field + "."))
                    if "text" not in block:
                        continue
                text = block["text"]
                error = text_error(text, field + ".text")
                if error is not None:
                    errors.add(error)
                    continue
                has_system = has_system or bool(text.strip())
                texts.append(text)
                parts.append(text)
        parts.append("\1")  # end of the system prompt
        count = images = videos = 0
        if messages is not _MISSING and type(messages) is not list:
            errors.add(_wrong_type("messages", "an array of {role, content} objects", messages))
        elif messages is not _MISSING:
            count = len(messages)
            if count < 2:
                errors.add(
                    RecordError(
                        "too_few_messages", "messages", f"needs at least 2 messages (user, assistant), got {count}"
                    )
                )
            roles = _RoleOrder(messages, errors)
            for index, message in enumerate(messages):
                expected = "user" if index % 2 == 0 else "assistant"
                mfield = f"messages[{index}]"
                if type(message) is not dict:
                    errors.add(_wrong_type(mfield, "an object", message))
                    continue
                if message.get("role") != expected:
                    roles.check(index, expected)
                if len(message) != 2:
                    errors.add_all(_key_errors(message, message_keys, message_keys, mfield + "."))
                content = message.get("content", _MISSING)
                if content is _MISSING:
                    continue
                if type(content) is not list or not content:
                    if type(content) is list:
                        errors.add(RecordError("empty_content", mfield + ".content", "content has no blocks"))
                    else:
                        errors.add(_wrong_type(mfield + ".content", "an array of content blocks", content))
                    continue
                substance = False  # a block already reported counts: "no text" would only repeat its error
                for j, block in enumerate(content):
                    bfield = f"{mfield}.content[{j}]"
                    if type(block) is not dict or len(block) != 1:
                        substance = True
                        if type(block) is not dict:
                            errors.add(_wrong_type(bfield, "an object", block))
                        else:
                            errors.add(
                                RecordError(
                                    "invalid_content_block",
                                    bfield,
                                    f"a content block has exactly one of text, image, video; got keys {sorted(block)}",
                                )
                            )
                        continue
                    text = block.get("text", _MISSING)
                    if text is not _MISSING:
                        error = text_error(text, bfield + ".text")
                        if error is not None:
                            errors.add(error)
                            substance = True
                            continue
                        if not substance and text and not text.isspace():
                            substance = True
                        texts.append(text)
                        parts.append(text)
                    elif "image" in block or "video" in block:
                        kind = "image" if "image" in block else "video"
                        substance = True
                        try:
                            uri = check_media(kind, block[kind], f"{bfield}.{kind}", expected)
                        except RecordError as error:
                            errors.add(error)
                            continue
                        parts.append(f"{kind}:{uri}")
                        if kind == "image":
                            images += 1
                        else:
                            videos += 1
                    else:
                        substance = True
                        kind = next(iter(block))
                        errors.add(
                            tool_use_error(f"{bfield}.{kind}", family)
                            if kind in TOOL_BLOCKS
                            else RecordError(
                                "invalid_content_block",
                                bfield,
                                f"unknown content block {kind!r}; allowed: text, image, video",
                            )
                        )
                if not substance:
                    errors.add(RecordError("empty_content", mfield + ".content", "content has no non-empty text"))
                parts.append("\1")  # end of a message
            roles.check_last()
        media: str | None = None
        if images and videos:
            errors.add(RecordError("mixed_media", "messages", "a record cannot mix images and video"))
        elif images > max_images:
            errors.add(RecordError("too_many_images", "messages", f"{images} images; at most {max_images} per record"))
        elif videos > max_videos:
            errors.add(RecordError("too_many_videos", "messages", f"{videos} videos; at most {max_videos} per record"))
        elif images or videos:
            media = "image" if images else "video"
        if errors:
            raise RecordInvalid(errors)
        return (measure(texts), count, has_system, content_of(parts), media)

    walk = check

    def fast_check(obj: dict[str, Any]) -> RecordInfo:
        """The common record -- text only, one text block per message, roles alternating -- checked in one
        plain loop (cheaper here than whole-list operations, which build a list or set each) and one screen
        of the joined texts for reserved strings. Any doubt (a schemaVersion not a string, a media or second block,
        a text the screen flags, any broken rule) goes to the walk above, which decides and names every
        broken rule: this path only accepts what the walk accepts, with the same result."""
        messages = obj.get("messages")
        system = obj.get("system")
        if (
            type(messages) is not list
            or len(obj) != 1 + ("system" in obj) + ("schemaVersion" in obj)
            or type(obj.get("schemaVersion", "")) is not str  # any string or none (the walk's rule)
        ):
            return walk(obj)
        count = len(messages)
        if count < 2 or count & 1 or count >= 65:
            return walk(obj)
        parts: list[str] = []  # the texts, each message's followed by its end mark, as the walk's
        has_system = False
        if system is not None:
            if type(system) is not list or (max_system is not None and len(system) > max_system):
                return walk(obj)
            for block in system:
                if type(block) is not dict or len(block) != 1:
                    return walk(obj)
                text = block.get("text")
                if type(text) is not str:
                    return walk(obj)
                if not has_system and text.strip():
                    has_system = True
                parts.append(text)
        parts.append("\1")
        append = parts.append
        for message, role in zip(messages, _ROLES_BY_COUNT[count], strict=True):
            if type(message) is not dict or len(message) != 2 or message.get("role") != role:
                return walk(obj)
            content = message.get("content")
            if type(content) is not list or len(content) != 1:
                return walk(obj)
            block = content[0]
            if type(block) is not dict or len(block) != 1:
                return walk(obj)
            text = block.get("text")
            if type(text) is not str or not text or text.isspace():
                return walk(obj)
            append(text)
            append("\1")
        joined = "\0".join(parts)
        if find_reserved(joined):  # NUL and \1 are in no reserved string: no match spans two texts
            return walk(obj)
        # measure() of the texts: each of the count + 1 end marks is one ASCII character.
        return (measure(parts) - count - 1, count, has_system, (joined, tuple(map(len, parts))), None)

    return fast_check if fast else walk
