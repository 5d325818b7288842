"""Per-record rules, one checker per data format.

A checker takes one parsed JSON object and either returns a ``RecordInfo`` or
raises ``RecordError`` for the first rule the record breaks (one error per line:
the first fix usually changes the rest). The Claude checker, the one the
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

from bft.families import ModelFamily


class RecordError(Exception):
    """A record broke a rule: ``code`` is stable, ``field`` a path like ``messages[1].role``."""

    def __init__(self, code: str, field: str | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


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
SCHEMA_VERSION = "bedrock-conversation-2024"


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


def make_checker(family: ModelFamily, base_model_id: str, dataset_bucket: str | None = None) -> Checker:
    """The record checker for ``family``; ``dataset_bucket`` enables the same-bucket media rule."""
    if family.data_format == "anthropic-messages":
        return _anthropic_checker(family)
    if family.data_format == "prompt-completion":
        return _prompt_completion_checker(family)
    return _converse_checker(family, base_model_id, dataset_bucket)


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


def _check_keys(obj: dict[str, Any], required: tuple[str, ...], allowed: tuple[str, ...], prefix: str) -> None:
    """Slow path: name the missing or unknown key (called only when a count is off)."""
    for key in required:
        if key not in obj:
            raise RecordError("missing_key", prefix + key, f"required key {key!r} is missing")
    for key in obj:
        if key not in allowed:
            raise RecordError(
                "unknown_key",
                prefix + key,
                f"unknown key {key!r}; allowed keys: {', '.join(allowed)}",
            )


def _reserved_finder(family: ModelFamily) -> Callable[[str], str | None]:
    """Return a function giving the first reserved string found in a text, or None."""
    strings = family.reserved_strings
    if not strings:
        return lambda text: None
    if family.reserved_strings_ignore_case:
        # str.lower(), exactly as the official Nova validator compares.
        lowered = tuple((s.lower(), s) for s in strings)

        def find_ci(text: str) -> str | None:
            low = text.lower()
            for needle, original in lowered:
                if needle in low:
                    return original
            return None

        return find_ci

    # The shared prefix goes first so the regex engine scans for it ("\\n").
    prefix = strings[0]
    for s in strings[1:]:
        while not s.startswith(prefix):
            prefix = prefix[:-1]
    pattern = re.compile(re.escape(prefix) + "(?:" + "|".join(re.escape(s[len(prefix) :]) for s in strings) + ")")
    mark = strings[0][-1]
    if not all(s[-1] == mark and mark not in s[:-1] for s in strings):

        def find_regex(text: str) -> str | None:
            match = pattern.search(text)
            return match.group(0) if match else None

        return find_regex

    # Every reserved string ends with the same character, found nowhere else in it
    # (Claude's "\\nHuman:" and "\\nAssistant:" end with ":"). Colons are few in
    # prose and memchr finds them ~50x faster than any substring search, so look
    # only behind each one. Each look costs about what the regex spends on 500
    # characters, so text denser in colons (JSON, code) finishes with the regex.
    # Text without the shared first character (a newline) cannot match at all.
    stems = tuple(s[:-1] for s in strings)
    first = prefix[:1]

    def find(text: str) -> str | None:
        if first not in text:
            return None
        find_mark = text.find
        ends_with = text.endswith
        pos = find_mark(mark)
        start = 0
        for _ in range(8 + len(text) // 512):
            if pos == -1:
                return None
            if ends_with(stems, 0, pos):
                return next(s for s in strings if text.startswith(s, pos + 1 - len(s)))
            start = pos + 1  # no match can span a checked mark: it occurs only at their end
            pos = find_mark(mark, start)
        match = pattern.search(text, start)
        return match.group(0) if match else None

    return find


def _reserved_error(field: str, found: str, family: ModelFamily) -> RecordError:
    listed = ", ".join(repr(s) for s in family.reserved_strings)
    case = " (any letter case)" if family.reserved_strings_ignore_case else ""
    return RecordError(
        "reserved_string", field, f"contains reserved string {found!r}; {family.name} rejects {listed}{case}"
    )


def _role_error(messages: list[Any], index: int, expected: str) -> RecordError:
    """Explain why messages[index] is not the expected role (slow path)."""
    message = messages[index]
    field = f"messages[{index}]"
    if "role" not in message:
        return RecordError("missing_key", field + ".role", "required key 'role' is missing")
    role = message["role"]
    if role not in ("user", "assistant"):
        return RecordError("invalid_role", field + ".role", f"role must be 'user' or 'assistant', got {role!r}")
    if index == 0:
        return RecordError("role_order", field + ".role", "the first message must be from 'user'")
    return RecordError(
        "role_order",
        field + ".role",
        f"roles must alternate user/assistant: expected {expected!r} after {messages[index - 1]['role']!r}",
    )


def _alternating_roles(count: int) -> list[str]:
    return ["user", "assistant"] * (count // 2) + ["user"] * (count % 2)


_ROLES_BY_COUNT = [_alternating_roles(n) for n in range(65)]


def _anthropic_checker(family: ModelFamily) -> Checker:
    """Claude 3 Haiku: {"system"?: str, "messages": [{"role", "content": str}, ...]}, no other keys."""
    find_reserved = _reserved_finder(family)
    top_keys = ("system", "messages")
    message_keys = ("role", "content")
    isspace = str.isspace
    get_content = itemgetter("content")
    get_role = itemgetter("role")

    def explain(messages: list[Any]) -> None:
        """Slow path: walk the messages in order and raise for the first broken rule."""
        expected = "user"
        for index, message in enumerate(messages):
            if type(message) is not dict:
                raise _wrong_type(f"messages[{index}]", "an object", message)
            if message.get("role") != expected:
                raise _role_error(messages, index, expected)
            if len(message) != 2:
                _check_keys(message, message_keys, message_keys, f"messages[{index}].")
            content = message["content"]
            if type(content) is not str:
                raise _wrong_type(f"messages[{index}].content", "a string", content)
            if not content or content.isspace():
                raise RecordError("empty_content", f"messages[{index}].content", "content is empty")
            expected = "assistant" if expected == "user" else "user"
        if len(messages) & 1:
            raise RecordError(
                "role_order", f"messages[{len(messages) - 1}].role", "the last message must be from 'assistant'"
            )
        raise AssertionError("explain() found no broken rule")  # the fast path and this walk disagree

    def check(obj: dict[str, Any]) -> RecordInfo:
        messages = obj.get("messages", _MISSING)
        if messages is _MISSING or len(obj) != (2 if "system" in obj else 1):
            _check_keys(obj, ("messages",), top_keys, "")
        system = obj.get("system")
        if system is None:  # null is accepted as "no system prompt", as the aws-samples helper does
            system = ""
        elif type(system) is not str:
            raise _wrong_type("system", "a string", system)
        if type(messages) is not list:
            raise _wrong_type("messages", "an array of {role, content} objects", messages)
        count = len(messages)
        if count < 2:
            raise RecordError(
                "too_few_messages", "messages", f"needs at least 2 messages (user, assistant), got {count}"
            )
        # Fast path: whole-list operations in C (no Python frame per message). Any
        # doubt (a non-object message, a missing key, a non-string or empty
        # content) lands in explain(), which walks the messages and names the rule.
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
            explain(messages)
        # Roles are fixed by position once the order is valid, so the texts are the
        # content. One NUL-joined string (NUL is in no reserved string, so no match
        # spans two texts) lets a single call screen the record.
        texts = [system, *contents]
        joined = "\0".join(texts)
        if find_reserved(joined):
            for index, text in enumerate(texts):
                found = find_reserved(text)
                if found:
                    field = "system" if index == 0 else f"messages[{index - 1}].content"
                    raise _reserved_error(field, found, family)
        units = len(joined) - count if joined.isascii() else sum(map(utf8_size, texts))
        return (units, count, bool(system), (joined, tuple(map(len, texts))), None)

    return check


def _prompt_completion_checker(family: ModelFamily) -> Checker:
    """Llama 3.1 and Titan Text: {"prompt": str, "completion": str}, no other keys."""
    find_reserved = _reserved_finder(family)
    keys = ("prompt", "completion")

    def check(obj: dict[str, Any]) -> RecordInfo:
        prompt: Any = obj.get("prompt")
        completion: Any = obj.get("completion")
        if len(obj) != 2 or prompt is None or completion is None:
            _check_keys(obj, keys, keys, "")
        for name, text in (("prompt", prompt), ("completion", completion)):
            if type(text) is not str:
                raise _wrong_type(name, "a string", text)
            if not text or text.isspace():
                raise RecordError("empty_content", name, f"{name} is empty")
            found = find_reserved(text)
            if found:
                raise _reserved_error(name, found, family)
        return (measure([prompt, completion]), 2, False, content_of([prompt, completion]), None)

    return check


# Path characters the official Nova validator allows in media URIs.
_S3_PATH = re.compile(r"[\w\-/.]+")


def _converse_checker(family: ModelFamily, base_model_id: str, dataset_bucket: str | None) -> Checker:
    """Nova and Llama 3.2: the bedrock-conversation-2024 format."""
    find_reserved = _reserved_finder(family)
    media_allowed = family.accepts_media(base_model_id)
    max_images = family.max_images_per_record
    max_videos = family.max_videos_per_record
    max_system = family.max_system_blocks
    top_keys = ("schemaVersion", "system", "messages")
    message_keys = ("role", "content")

    def check_text(text: Any, field: str) -> None:
        if type(text) is not str:
            raise _wrong_type(field, "a string", text)
        found = find_reserved(text)
        if found:
            raise _reserved_error(field, found, family)

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
            _check_keys(media, ("format", "source"), ("format", "source"), field + ".")
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
            _check_keys(source, ("s3Location",), ("s3Location",), field + ".source.")
        location = source["s3Location"]
        loc_field = field + ".source.s3Location"
        if type(location) is not dict:
            raise _wrong_type(loc_field, "an object", location)
        if "uri" not in location or len(location) > (2 if "bucketOwner" in location else 1):
            _check_keys(location, ("uri",), ("uri", "bucketOwner"), loc_field + ".")
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
        return uri

    def check(obj: dict[str, Any]) -> RecordInfo:
        messages = obj.get("messages", _MISSING)
        expected_keys = 1 + ("system" in obj) + ("schemaVersion" in obj)
        if messages is _MISSING or len(obj) != expected_keys:
            _check_keys(obj, ("messages",), top_keys, "")
        version = obj.get("schemaVersion", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise RecordError("schema_version", "schemaVersion", f"must be {SCHEMA_VERSION!r}, got {version!r}")
        has_system = False
        texts: list[str] = []  # every text, for the token estimate
        parts: list[str] = []  # texts, media URIs and message ends: the duplicate content
        system = obj.get("system")
        if system is not None:
            if type(system) is not list:
                raise _wrong_type("system", "an array of {text} objects", system)
            if max_system is not None and len(system) > max_system:
                raise RecordError(
                    "too_many_system_blocks",
                    "system",
                    f"{family.name} accepts at most {max_system} system block(s), got {len(system)}",
                )
            for i, block in enumerate(system):
                field = f"system[{i}]"
                if type(block) is not dict:
                    raise _wrong_type(field, "an object", block)
                if len(block) != 1 or "text" not in block:
                    _check_keys(block, ("text",), ("text",), field + ".")
                text = block["text"]
                check_text(text, field + ".text")
                has_system = has_system or bool(text.strip())
                texts.append(text)
                parts.append(text)
        parts.append("\1")  # end of the system prompt
        if type(messages) is not list:
            raise _wrong_type("messages", "an array of {role, content} objects", messages)
        count = len(messages)
        if count < 2:
            raise RecordError(
                "too_few_messages", "messages", f"needs at least 2 messages (user, assistant), got {count}"
            )
        images = videos = 0
        expected = "user"
        for index, message in enumerate(messages):
            mfield = f"messages[{index}]"
            if type(message) is not dict:
                raise _wrong_type(mfield, "an object", message)
            if message.get("role") != expected:
                raise _role_error(messages, index, expected)
            if len(message) != 2:
                _check_keys(message, message_keys, message_keys, mfield + ".")
            content = message["content"]
            if type(content) is not list or not content:
                if type(content) is list:
                    raise RecordError("empty_content", mfield + ".content", "content has no blocks")
                raise _wrong_type(mfield + ".content", "an array of content blocks", content)
            substance = False
            for j, block in enumerate(content):
                bfield = f"{mfield}.content[{j}]"
                if type(block) is not dict or len(block) != 1:
                    if type(block) is not dict:
                        raise _wrong_type(bfield, "an object", block)
                    raise RecordError(
                        "invalid_content_block",
                        bfield,
                        f"a content block has exactly one of text, image, video; got keys {sorted(block)}",
                    )
                text = block.get("text", _MISSING)
                if text is not _MISSING:
                    check_text(text, bfield + ".text")
                    if not substance and text and not text.isspace():
                        substance = True
                    texts.append(text)
                    parts.append(text)
                elif "image" in block:
                    parts.append("image:" + check_media("image", block["image"], bfield + ".image", expected))
                    images += 1
                    substance = True
                elif "video" in block:
                    parts.append("video:" + check_media("video", block["video"], bfield + ".video", expected))
                    videos += 1
                    substance = True
                else:
                    raise RecordError(
                        "invalid_content_block",
                        bfield,
                        f"unknown content block {next(iter(block))!r}; allowed: text, image, video",
                    )
            if not substance:
                raise RecordError("empty_content", mfield + ".content", "content has no non-empty text")
            parts.append("\1")  # end of a message
            expected = "assistant" if expected == "user" else "user"
        if count & 1:
            raise RecordError("role_order", f"messages[{count - 1}].role", "the last message must be from 'assistant'")
        media: str | None = None
        if images or videos:
            if images and videos:
                raise RecordError("mixed_media", "messages", "a record cannot mix images and video")
            if images > max_images:
                raise RecordError("too_many_images", "messages", f"{images} images; at most {max_images} per record")
            if videos > max_videos:
                raise RecordError("too_many_videos", "messages", f"{videos} videos; at most {max_videos} per record")
            media = "image" if images else "video"
        return (measure(texts), count, has_system, content_of(parts), media)

    return check
