"""One test per validation rule: each asserts the error code, the field and the line number.

The builders at the top are shared with the other dataset tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest

from bft.dataset import DatasetValidator, Issue, Report, validate_lines

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
NOVA_LITE = "amazon.nova-lite-v1:0:300k"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
LLAMA31 = "meta.llama3-1-8b-instruct-v1:0:128k"
LLAMA32_TEXT = "meta.llama3-2-1b-instruct-v1:0:128k"
LLAMA32_VISION = "meta.llama3-2-11b-instruct-v1:0:128k"
TITAN = "amazon.titan-text-express-v1:0:8k"

MIN_RECORDS = {HAIKU: 32, NOVA_LITE: 8, NOVA_MICRO: 8, LLAMA31: 100, LLAMA32_TEXT: 100, LLAMA32_VISION: 100, TITAN: 1}


def haiku_record(i: int, *, system: str | None = "You are terse.", turns: int = 2) -> dict[str, Any]:
    messages = [
        {"role": "user" if t % 2 == 0 else "assistant", "content": f"record {i} turn {t}"} for t in range(turns)
    ]
    record: dict[str, Any] = {"messages": messages}
    if system is not None:
        record["system"] = system
    return record


def converse_record(i: int, *, system: bool = True) -> dict[str, Any]:
    record: dict[str, Any] = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [
            {"role": "user", "content": [{"text": f"question {i}"}]},
            {"role": "assistant", "content": [{"text": f"answer {i}"}]},
        ],
    }
    if system:
        record["system"] = [{"text": "Answer briefly."}]
    return record


def image(uri: str = "s3://data-bucket/images/cat.png", fmt: str = "png") -> dict[str, Any]:
    return {"image": {"format": fmt, "source": {"s3Location": {"uri": uri}}}}


def video(uri: str = "s3://data-bucket/videos/clip.mp4", fmt: str = "mp4") -> dict[str, Any]:
    return {"video": {"format": fmt, "source": {"s3Location": {"uri": uri}}}}


def pc_record(i: int) -> dict[str, Any]:
    return {"prompt": f"prompt {i}", "completion": f"completion {i}"}


def record_for(model: str, i: int) -> dict[str, Any]:
    if model == HAIKU:
        return haiku_record(i)
    if model in (LLAMA31, TITAN):
        return pc_record(i)
    return converse_record(i)


def line(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def dataset(model: str, n: int | None = None, replace: dict[int, Any] | None = None) -> list[bytes]:
    """``n`` valid distinct lines for ``model``; ``replace`` maps a 1-based line number to an object or raw bytes."""
    lines = [line(record_for(model, i)) for i in range(n if n is not None else max(MIN_RECORDS[model], 12))]
    for number, value in (replace or {}).items():
        lines[number - 1] = value if isinstance(value, bytes) else line(value)
    return lines


def validate(model: str, lines: Iterable[bytes], validation: Iterable[bytes] | None = None, **kw: Any) -> Report:
    return validate_lines(model, lines, validation, **kw)


def only_error(report: Report) -> Issue:
    assert report.error_count == 1, [str(e) for e in report.errors]
    assert not report.valid
    return report.errors[0]


def assert_error(model: str, bad: Any, code: str, field: str | None, at: int = 7) -> Issue:
    report = validate(model, dataset(model, replace={at: bad}))
    issue = only_error(report)
    assert (issue.code, issue.line, issue.field) == (code, at, field), str(issue)
    assert issue.file == "training.jsonl"
    return issue


def assert_errors(model: str, bad: Any, expected: list[tuple[str, str | None]], at: int = 7) -> list[Issue]:
    """Every error of the record at line ``at``, in record order, as (code, field)."""
    report = validate(model, dataset(model, replace={at: bad}))
    assert [(e.code, e.field) for e in report.errors] == expected, [str(e) for e in report.errors]
    assert {(e.file, e.line) for e in report.errors} == {("training.jsonl", at)}
    assert report.error_count == len(expected)
    return report.errors


def msgs(*pairs: tuple[str, Any]) -> list[dict[str, Any]]:
    return [{"role": role, "content": content} for role, content in pairs]


# -- the baseline passes, for every family ------------------------------------------------


@pytest.mark.parametrize("model", [HAIKU, NOVA_LITE, NOVA_MICRO, LLAMA31, LLAMA32_TEXT, LLAMA32_VISION, TITAN])
def test_valid_dataset_passes(model: str) -> None:
    report = validate(model, dataset(model))
    assert report.valid, [str(e) for e in report.errors]
    assert report.error_count == 0
    assert report.warning_count == 0
    assert report.files[0].records == max(MIN_RECORDS[model], 12)


# -- line-level rules (every format) -----------------------------------------------------


@pytest.mark.parametrize("model", [HAIKU, NOVA_LITE, LLAMA31])
@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (b'{"messages": [', "invalid_json"),
        (b"{'messages': []}", "invalid_json"),
        (b"", "empty_line"),
        (b"   \t\r", "empty_line"),
        (b'{"messages": "caf\xe9"}', "invalid_utf8"),
        (b"[1, 2]", "not_an_object"),
        (b'"just a string"', "not_an_object"),
        (b"null", "not_an_object"),
    ],
)
def test_line_level_errors(model: str, bad: bytes, code: str) -> None:
    assert_error(model, bad, code, None)


def test_invalid_utf8_message_names_the_byte() -> None:
    issue = assert_error(HAIKU, b'{"messages": "caf\xe9"}', "invalid_utf8", None)
    assert "byte 18" in issue.message


def test_bom_on_line_one_is_an_error() -> None:
    lines = dataset(HAIKU)
    lines[0] = b"\xef\xbb\xbf" + lines[0]
    issue = only_error(validate(HAIKU, lines))
    assert (issue.code, issue.line) == ("bom", 1)
    assert "without BOM" in issue.message


def test_bom_inside_the_file_is_reported_at_its_line() -> None:
    lines = dataset(HAIKU)
    lines[19] = b"\xef\xbb\xbf" + lines[19]
    issue = only_error(validate(HAIKU, lines))
    assert (issue.code, issue.line) == ("bom", 20)


def test_trailing_whitespace_and_crlf_are_accepted() -> None:
    lines = [raw + b"  \t\r" for raw in dataset(HAIKU)]
    assert validate(HAIKU, lines).valid


def test_lines_with_their_newlines_are_accepted() -> None:
    lines = [raw + b"\n" for raw in dataset(HAIKU)]
    report = validate(HAIKU, lines)
    assert report.valid
    assert report.files[0].bytes == sum(len(raw) for raw in lines)


def test_line_too_long() -> None:
    huge = b'{"messages": "' + b"a" * (8 << 20) + b'"}'
    assert_error(HAIKU, huge, "line_too_long", None)


# -- Claude 3 Haiku (anthropic messages) ------------------------------------------------

_H = ("user", "hi")
_A = ("assistant", "hello")


@pytest.mark.parametrize(
    ("bad", "code", "field"),
    [
        ({"system": "x"}, "missing_key", "messages"),
        ({"messages": msgs(_H, _A), "metadata": {"id": 1}}, "unknown_key", "metadata"),
        ({"messages": msgs(_H, _A), "prompt": "x"}, "unknown_key", "prompt"),
        (
            {"messages": [{"role": "user", "content": "hi", "name": "bob"}, msgs(_A)[0]]},
            "unknown_key",
            "messages[0].name",
        ),
        ({"messages": [{"role": "user"}, msgs(_A)[0]]}, "missing_key", "messages[0].content"),
        ({"messages": [{"content": "hi"}, msgs(_A)[0]]}, "missing_key", "messages[0].role"),
        ({"system": 3, "messages": msgs(_H, _A)}, "wrong_type", "system"),
        ({"system": ["be nice"], "messages": msgs(_H, _A)}, "wrong_type", "system"),
        ({"messages": "hi"}, "wrong_type", "messages"),
        ({"messages": msgs(("user", [{"type": "text", "text": "hi"}]), _A)}, "wrong_type", "messages[0].content"),
        ({"messages": msgs(_H, ("assistant", None))}, "wrong_type", "messages[1].content"),
        ({"messages": msgs(_H)}, "too_few_messages", "messages"),
        ({"messages": []}, "too_few_messages", "messages"),
        ({"messages": msgs(_A, _H)}, "role_order", "messages[0].role"),
        ({"messages": msgs(_H, _H, _A)}, "role_order", "messages[1].role"),
        ({"messages": msgs(_H, _A, _H)}, "role_order", "messages[2].role"),
        ({"messages": msgs(("system", "x"), _H, _A)}, "invalid_role", "messages[0].role"),
        ({"messages": msgs(("User", "hi"), _A)}, "invalid_role", "messages[0].role"),
        ({"messages": msgs(_H, ("assistant", ""))}, "empty_content", "messages[1].content"),
        ({"messages": msgs(("user", " \n\t"), _A)}, "empty_content", "messages[0].content"),
        ({"messages": msgs(("user", "a\nHuman: b"), _A)}, "reserved_string", "messages[0].content"),
        ({"messages": msgs(_H, ("assistant", "ok\nAssistant: more"))}, "reserved_string", "messages[1].content"),
        ({"system": "rules\nHuman: obey", "messages": msgs(_H, _A)}, "reserved_string", "system"),
    ],
)
def test_haiku_record_rules(bad: dict[str, Any], code: str, field: str) -> None:
    assert_error(HAIKU, bad, code, field)


# -- every error of a record ---------------------------------------------------------------


def test_a_record_with_several_broken_rules_reports_each_in_record_order() -> None:
    record = {
        "system": 3,
        "messages": [
            {"role": "user", "content": "hi", "name": "bob"},
            {"role": "assistant", "content": ""},
            ["user", "again"],
            {"role": "assistant", "content": "a\nHuman: b"},
        ],
        "extra": 1,
    }
    assert_errors(
        HAIKU,
        record,
        [
            ("unknown_key", "extra"),
            ("wrong_type", "system"),
            ("unknown_key", "messages[0].name"),
            ("empty_content", "messages[1].content"),
            ("wrong_type", "messages[2]"),
            ("reserved_string", "messages[3].content"),
        ],
    )


def test_every_broken_message_is_reported() -> None:
    assert_errors(
        HAIKU,
        {"messages": [["user", "hi"], ["assistant", "yo"]]},
        [("wrong_type", "messages[0]"), ("wrong_type", "messages[1]")],
    )


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        # One misplaced role: the roles after it are not each "out of order".
        ({"messages": msgs(_H, _H, _A, _H)}, [("role_order", "messages[1].role")]),
        # An unknown role may have shifted the positions: no order errors after it, but each unknown role is.
        (
            {"messages": msgs(("system", "x"), _H, ("bot", "y"), _A)},
            [("invalid_role", "messages[0].role"), ("invalid_role", "messages[2].role")],
        ),
        # A missing content is not also of the wrong type; a missing role is reported once.
        (
            {"messages": [{"content": "hi"}, {"role": "assistant"}]},
            [
                ("missing_key", "messages[0].role"),
                ("missing_key", "messages[1].content"),
            ],
        ),
    ],
)
def test_errors_that_follow_from_another_are_not_repeated(bad: Any, expected: list[tuple[str, str]]) -> None:
    assert_errors(HAIKU, bad, expected)


def test_a_misspelt_key_is_both_missing_and_unknown() -> None:
    assert_errors(
        NOVA_LITE,
        conv(_U, _B, system=[{"content": "x"}]),
        [("missing_key", "system[0].text"), ("unknown_key", "system[0].content")],
    )
    for model in (LLAMA31, TITAN):
        assert_errors(
            model, {"prompt": "p", "response": "c"}, [("missing_key", "completion"), ("unknown_key", "response")]
        )


def test_a_haiku_record_checked_for_nova_reports_each_field() -> None:
    """The issue's case: data in another family's format breaks a rule per field, all said at once."""
    errors = assert_errors(
        NOVA_LITE,
        haiku_record(3),
        [("wrong_type", "system"), ("wrong_type", "messages[0].content"), ("wrong_type", "messages[1].content")],
    )
    assert errors[0].message == "must be an array of {text} objects, got string"


def test_at_most_ten_errors_of_a_record_are_listed_and_the_rest_counted() -> None:
    from bft.dataset.validator import MAX_ERRORS_PER_RECORD

    record = {"messages": [{"role": r, "content": ""} for r in ["user", "assistant"] * 8]}
    report = validate(HAIKU, dataset(HAIKU, replace={5: record}))
    assert report.error_count == 16
    assert len(report.errors) == MAX_ERRORS_PER_RECORD == 10
    assert [e.more_on_record for e in report.errors] == [0] * 9 + [6]
    assert str(report.errors[-1]).endswith("[empty_content] (and 6 more on this record)")
    assert sum(g.count for g in report.error_groups) == 16  # the unlisted ones are still grouped


def test_haiku_reserved_strings_need_the_newline() -> None:
    # aws-samples bans "\nHuman:" and "\nAssistant:"; the words alone are fine.
    record = {"messages": msgs(("user", "Human: hi"), ("assistant", "Assistant: hello"))}
    assert validate(HAIKU, dataset(HAIKU, replace={3: record})).valid


def test_haiku_null_or_empty_system_means_no_system_prompt() -> None:
    replace = {
        1: {"system": None, "messages": msgs(_H, _A)},
        2: {"system": "", "messages": msgs(_H, ("assistant", "k"))},
    }
    report = validate(HAIKU, dataset(HAIKU, replace=replace))
    assert report.valid
    assert report.statistics["system_prompt_share"] == pytest.approx(30 / 32)


def test_haiku_token_limit_counts_system_and_every_message() -> None:
    # 96,004 ASCII bytes -> ceil(96,004 / 3) = 32,002 estimated tokens > 32,000.
    record = {"system": "s" * 32_000, "messages": msgs(("user", "u" * 32_000), ("assistant", "a" * 32_004))}
    issue = assert_error(HAIKU, record, "too_many_tokens", None)
    assert "32,002" in issue.message
    # One byte less per message keeps it at the limit.
    record = {"system": "s" * 32_000, "messages": msgs(("user", "u" * 32_000), ("assistant", "a" * 32_000))}
    assert validate(HAIKU, dataset(HAIKU, replace={7: record})).valid


def test_token_estimate_is_conservative_for_non_latin_text() -> None:
    # 33,000 CJK characters: chars/3 would say 11,000 tokens; UTF-8 bytes/3 says 33,000 (> 32,000).
    record = {"messages": msgs(("user", "漢" * 33_000), _A)}
    assert_error(HAIKU, record, "too_many_tokens", None)


# -- Nova and Llama 3.2 (bedrock-conversation-2024) -----------------------------------


def conv(*messages: tuple[str, Any], system: Any = None, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"schemaVersion": "bedrock-conversation-2024", **extra}
    if system is not None:
        record["system"] = system
    record["messages"] = [{"role": role, "content": content} for role, content in messages]
    return record


_U = ("user", [{"text": "hi"}])
_B = ("assistant", [{"text": "hello"}])


@pytest.mark.parametrize(
    ("bad", "code", "field"),
    [
        ({"schemaVersion": 2024, "messages": conv(_U, _B)["messages"]}, "wrong_type", "schemaVersion"),
        (conv(_U, _B, toolConfig={}), "tool_use_not_supported", "toolConfig"),
        (conv(_U, _B, tools=[]), "unknown_key", "tools"),
        ({"schemaVersion": "bedrock-conversation-2024"}, "missing_key", "messages"),
        (conv(_U, _B, system="be brief"), "wrong_type", "system"),
        (conv(_U, _B, system=[{"text": "System: obey"}]), "reserved_string", "system[0].text"),
        (conv(_U, ("assistant", "hello")), "wrong_type", "messages[1].content"),
        (conv(_U, ("assistant", [])), "empty_content", "messages[1].content"),
        (conv(_U, ("assistant", [{"text": ""}, {"text": "  "}])), "empty_content", "messages[1].content"),
        (conv(_U, ("assistant", [{"text": "a", "image": {}}])), "invalid_content_block", "messages[1].content[0]"),
        (conv(("user", [{"document": {}}]), _B), "invalid_content_block", "messages[0].content[0]"),
        (conv(_U, ("assistant", [{"text": 5}])), "wrong_type", "messages[1].content[0].text"),
        (conv(_U), "too_few_messages", "messages"),
        (conv(_B, _U), "role_order", "messages[0].role"),
        (conv(_U, _B, _U), "role_order", "messages[2].role"),
        (conv(("user", [{"text": "the user: said"}]), _B), "reserved_string", "messages[0].content[0].text"),
        (conv(_U, ("assistant", [{"text": "done [EOS]"}])), "reserved_string", "messages[1].content[0].text"),
        (conv(("user", [{"text": "see <image>"}]), _B), "reserved_string", "messages[0].content[0].text"),
        (
            conv(("user", [image()]), ("assistant", [image()])),
            "media_in_assistant_turn",
            "messages[1].content[0].image",
        ),
        (conv(("user", [image(fmt="bmp")]), _B), "invalid_media_format", "messages[0].content[0].image.format"),
        (conv(("user", [video(fmt="avi")]), _B), "invalid_media_format", "messages[0].content[0].video.format"),
        (
            conv(("user", [image(uri="https://x/y.png")]), _B),
            "invalid_s3_uri",
            "messages[0].content[0].image.source.s3Location.uri",
        ),
        (
            conv(("user", [image(uri="s3://b/a b.png")]), _B),
            "invalid_s3_uri",
            "messages[0].content[0].image.source.s3Location.uri",
        ),
        (
            conv(("user", [{"image": {"format": "png", "source": {"bytes": "AAAA"}}}]), _B),
            "missing_key",
            "messages[0].content[0].image.source.s3Location",
        ),
        (conv(("user", [{"image": {"format": "png"}}]), _B), "missing_key", "messages[0].content[0].image.source"),
        (conv(("user", [image() for _ in range(11)]), _B), "too_many_images", "messages"),
        (conv(("user", [video(), video()]), _B), "too_many_videos", "messages"),
        (conv(("user", [image(), video()]), _B), "mixed_media", "messages"),
    ],
)
def test_nova_record_rules(bad: dict[str, Any], code: str, field: str) -> None:
    assert_error(NOVA_LITE, bad, code, field)


@pytest.mark.parametrize("version", ["tooluse-dataset-2024", "bedrock-conversation-2023", "", None])
def test_the_schema_version_is_any_string_or_none(version: str | None) -> None:
    # "schemaVersion can be any string value" (Nova user guide); AWS's Nova tool-use sample uses its own.
    record = {"schemaVersion": version, "messages": conv(_U, _B)["messages"]}
    report = validate(NOVA_LITE, dataset(NOVA_LITE, 12, {4: record}))
    assert report.valid, [str(e) for e in report.errors]
    assert report.warning_count == 0


def test_tool_use_parts_are_refused_with_the_reason_and_what_to_write_instead() -> None:
    tool_use = {"toolUse": {"toolUseId": "t1", "name": "weather", "input": {"city": "Oslo"}}}
    tool_result = {"toolResult": {"toolUseId": "t1", "content": [{"text": "sunny"}]}}
    record = conv(
        ("user", [{"text": "Weather in Oslo?"}]),
        ("assistant", [tool_use]),
        ("user", [tool_result]),
        ("assistant", [{"text": "Sunny."}]),
        toolConfig={"tools": [{"toolSpec": {"name": "weather", "inputSchema": {"json": {"type": "object"}}}}]},
    )
    report = validate(NOVA_LITE, dataset(NOVA_LITE, 12, {6: record}))
    assert [(e.line, e.field, e.code) for e in report.errors] == [
        (6, "toolConfig", "tool_use_not_supported"),
        (6, "messages[1].content[0].toolUse", "tool_use_not_supported"),
        (6, "messages[2].content[0].toolResult", "tool_use_not_supported"),
    ]
    message = report.errors[0].message
    assert "text, image and video content only" in message
    assert "write the call as the assistant's text" in message


def test_nova_accepts_images_videos_and_no_schema_version() -> None:
    with_images = conv(("user", [image() for _ in range(10)] + [{"text": "compare"}]), _B)
    without_version = {"messages": conv(_U, _B)["messages"]}
    image_only_turn = conv(("user", [image()]), _B)
    report = validate(NOVA_LITE, dataset(NOVA_LITE, 12, {1: with_images, 2: without_version, 3: image_only_turn}))
    assert report.valid, [str(e) for e in report.errors]


def test_nova_video_only_dataset_is_valid() -> None:
    report = validate(NOVA_LITE, dataset(NOVA_LITE, replace={2: conv(("user", [video()]), _B)}))
    assert report.valid


def test_nova_dataset_cannot_mix_images_and_video_across_records() -> None:
    lines = dataset(NOVA_LITE, 12, {3: conv(("user", [image()]), _B), 9: conv(("user", [video()]), _B)})
    issue = only_error(validate(NOVA_LITE, lines))
    assert (issue.code, issue.line) == ("mixed_media", 9)
    assert "training.jsonl:3" in issue.message


def test_nova_micro_is_text_only() -> None:
    issue = only_error(validate(NOVA_MICRO, dataset(NOVA_MICRO, replace={5: conv(("user", [image()]), _B)})))
    assert (issue.code, issue.line, issue.field) == ("media_not_supported", 5, "messages[0].content[0].image")


def test_media_must_be_in_the_dataset_bucket() -> None:
    validator = DatasetValidator(NOVA_LITE, dataset_bucket="data-bucket")
    lines = dataset(
        NOVA_LITE, replace={2: conv(("user", [image("s3://other/x.png")]), _B), 3: conv(("user", [image()]), _B)}
    )
    validator.add_file("training", "s3://data-bucket/train.jsonl", lines)
    issue = only_error(validator.finish())
    assert (issue.code, issue.line) == ("media_bucket_mismatch", 2)


@pytest.mark.parametrize(
    "uri",
    [
        "s3://data-bucket/search/private/secret.png",  # another team's prefix, same bucket
        "s3://data-bucket/moderation/../search/secret.png",  # climbing out of the team's own
        "s3://data-bucket/cat.png",  # no team at all
    ],
)
def test_media_must_be_under_the_team_prefix(uri: str) -> None:
    """Audit M1: a record may not lead Bedrock, reading with the pipeline's role, into another team's data."""
    validator = DatasetValidator(NOVA_LITE, dataset_bucket="data-bucket", team="moderation")
    lines = dataset(
        NOVA_LITE,
        replace={
            2: conv(("user", [image(uri)]), _B),
            3: conv(("user", [image("s3://data-bucket/moderation/a.png")]), _B),
        },
    )
    validator.add_file("training", "s3://data-bucket/moderation/train.jsonl", lines)
    issue = only_error(validator.finish())
    assert (issue.code, issue.line) == ("media_outside_team_prefix", 2)
    assert "s3://data-bucket/moderation/" in issue.message


def test_llama32_accepts_one_system_block() -> None:
    record = conv(_U, _B, system=[{"text": "a"}, {"text": "b"}])
    assert_error(LLAMA32_VISION, record, "too_many_system_blocks", "system")


def test_llama32_text_models_reject_images_vision_models_accept_them() -> None:
    record = conv(("user", [image(), {"text": "what is this?"}]), _B)
    assert_error(LLAMA32_TEXT, record, "media_not_supported", "messages[0].content[0].image")
    assert validate(LLAMA32_VISION, dataset(LLAMA32_VISION, replace={7: record})).valid


def test_llama32_rejects_video() -> None:
    assert_error(LLAMA32_VISION, conv(("user", [video()]), _B), "media_not_supported", "messages[0].content[0].video")


def test_llama32_has_no_reserved_strings() -> None:
    record = conv(("user", [{"text": "User: hi"}]), _B)
    assert validate(LLAMA32_TEXT, dataset(LLAMA32_TEXT, replace={1: record})).valid


# -- prompt/completion (Llama 3.1, Titan Text) --------------------------------------


@pytest.mark.parametrize("model", [LLAMA31, TITAN])
@pytest.mark.parametrize(
    ("bad", "code", "field"),
    [
        ({"prompt": "p"}, "missing_key", "completion"),
        ({"completion": "c"}, "missing_key", "prompt"),
        ({"prompt": "p", "completion": "c", "id": 3}, "unknown_key", "id"),
        ({"prompt": ["p"], "completion": "c"}, "wrong_type", "prompt"),
        ({"prompt": "p", "completion": None}, "wrong_type", "completion"),
        ({"prompt": "", "completion": "c"}, "empty_content", "prompt"),
        ({"prompt": "p", "completion": "\n"}, "empty_content", "completion"),
    ],
)
def test_prompt_completion_rules(model: str, bad: dict[str, Any], code: str, field: str) -> None:
    assert_error(model, bad, code, field)


def test_titan_token_limit_is_4096() -> None:
    # 12,289 bytes -> 4,097 estimated tokens.
    assert_error(TITAN, {"prompt": "p" * 6_000, "completion": "c" * 6_289}, "too_many_tokens", None)
    assert validate(TITAN, dataset(TITAN, replace={7: {"prompt": "p" * 6_000, "completion": "c" * 6_288}})).valid


# -- whole-file rules ---------------------------------------------------------------


def file_errors(report: Report) -> list[Issue]:
    return [e for e in report.errors if e.line is None]


def test_too_few_records() -> None:
    report = validate(HAIKU, dataset(HAIKU, 31))
    issue = only_error(report)
    assert (issue.code, issue.line, issue.field) == ("too_few_records", None, None)
    assert "at least 32" in issue.message


def test_empty_training_file() -> None:
    issue = only_error(validate(HAIKU, []))
    assert (issue.code, issue.line) == ("empty_file", None)


def test_too_many_training_records() -> None:
    issue = only_error(validate(HAIKU, dataset(HAIKU, 10_001)))
    assert (issue.code, issue.line, issue.file) == ("too_many_records", None, "training.jsonl")


def test_too_many_validation_records() -> None:
    report = validate(HAIKU, dataset(HAIKU, 100), [line(haiku_record(i, system="v")) for i in range(1_001)])
    issue = only_error(report)
    assert (issue.code, issue.line, issue.file) == ("too_many_records", None, "validation.jsonl")


def test_too_many_records_in_total() -> None:
    report = validate(HAIKU, dataset(HAIKU, 9_500), [line(haiku_record(i, system="v")) for i in range(600)])
    issue = only_error(report)
    assert (issue.code, issue.line) == ("too_many_total_records", None)
    assert "10,100" in issue.message


def test_min_records_applies_to_the_training_file_only() -> None:
    report = validate(HAIKU, dataset(HAIKU), [line(haiku_record(1, system="v"))])
    assert report.valid


def test_file_over_the_size_limit_is_not_read() -> None:
    consumed = []

    def lines() -> Iterable[bytes]:
        consumed.append(True)
        yield from dataset(HAIKU)

    validator = DatasetValidator(HAIKU)
    summary = validator.add_file("training", "big.jsonl", lines(), size=10 * 10**9 + 1)
    issue = only_error(validator.finish())
    assert (issue.code, issue.line, issue.file) == ("file_too_large", None, "big.jsonl")
    assert not consumed
    assert summary.read is False


def test_validation_file_size_limit_is_1_gb() -> None:
    validator = DatasetValidator(HAIKU)
    validator.add_file("training", "t.jsonl", dataset(HAIKU), size=5 * 10**9)
    validator.add_file("validation", "v.jsonl", [], size=10**9 + 1)
    issue = only_error(validator.finish())
    assert (issue.code, issue.file) == ("file_too_large", "v.jsonl")


def test_whole_file_errors_come_first_and_line_errors_are_capped() -> None:
    bad = {n: b"nope" for n in range(1, 151)}
    report = validate(HAIKU, dataset(HAIKU, 10_001, bad))
    assert report.error_count == 151
    assert len(report.errors) == 101  # the whole-file error + 100 line errors
    assert report.errors[0].code == "too_many_records"
    assert [e.line for e in report.errors[1:4]] == [1, 2, 3]


def test_nova_total_limit_spans_training_and_validation() -> None:
    report = validate(
        NOVA_LITE, dataset(NOVA_LITE, 15_000), [line(converse_record(i, system=False)) for i in range(5_001)]
    )
    issue = only_error(report)
    assert issue.code == "too_many_total_records"


# -- duplicates --------------------------------------------------------------------


def test_duplicate_records_are_a_warning_with_both_lines() -> None:
    lines = dataset(HAIKU)
    lines[20] = lines[4]
    report = validate(HAIKU, lines)
    assert report.valid
    assert report.warning_count == 1
    warning = report.warnings[0]
    assert (warning.code, warning.line) == ("duplicate_record", 21)
    assert "line 5" in warning.message


def test_duplicates_ignore_key_order_and_whitespace() -> None:
    lines = dataset(HAIKU)
    a = haiku_record(1)
    lines[10] = json.dumps(
        {"messages": a["messages"], "system": a["system"]}, indent=None, separators=(" , ", " : ")
    ).encode()
    report = validate(HAIKU, lines)
    assert [(w.code, w.line) for w in report.warnings] == [("duplicate_record", 11)]
    assert "line 2" in report.warnings[0].message


def test_duplicates_across_training_and_validation_name_the_file() -> None:
    report = validate(HAIKU, dataset(HAIKU), [line(haiku_record(3))])
    assert [(w.code, w.file, w.line) for w in report.warnings] == [("duplicate_record", "validation.jsonl", 1)]
    assert "training.jsonl:4" in report.warnings[0].message


def test_same_text_different_roles_or_system_is_not_a_duplicate() -> None:
    lines = dataset(HAIKU)
    lines[1] = line(haiku_record(0, system="Another system prompt"))
    assert validate(HAIKU, lines).warning_count == 0


def test_duplicate_tracking_is_bounded_by_the_record_limit() -> None:
    lines = dataset(HAIKU, 10_005)
    lines[10_004] = lines[10_003]  # beyond the 10,000 tracked digests: not reported
    lines[9_000] = lines[1]
    report = validate(HAIKU, lines)
    codes = sorted(w.code for w in report.warnings)
    assert codes == ["duplicate_record", "duplicates_not_checked"]


# -- the fast paths agree with the plain definitions --------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bft.dataset.reserved import reserved_finder  # noqa: E402
from bft.dataset.rules import content_of, measure, utf8_size  # noqa: E402
from bft.families import family_for  # noqa: E402

_FIND_HAIKU = reserved_finder(family_for(HAIKU))
_FIND_NOVA = reserved_finder(family_for(NOVA_LITE))
_PIECES = ["\n", ":", "Human", "Assistant", "Human:", "\nHuman", "x", " ", "\\n", "uman:", '{"a": 1}', "é", "東"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=120))
def test_reserved_finder_matches_plain_substring_search(pieces: list[str]) -> None:
    text = "".join(pieces)
    expected = next((s for s in ("\nHuman:", "\nAssistant:") if s in text), None)
    found = _FIND_HAIKU(text)
    assert (found is None) == (expected is None), repr(text)
    if found is not None:
        assert found in text


def test_reserved_string_after_many_colons_is_found() -> None:
    # Past a colon budget (8 + 1 per 512 characters) the finder hands the rest to the regex.
    for colons in (7, 8, 9, 31, 32, 33, 200, 2000):
        text = "key: value\n" * colons + "tail\nAssistant: hi"
        assert _FIND_HAIKU(text) == "\nAssistant:", colons
        assert _FIND_HAIKU(text.replace("\nAssistant:", "\nassistant:")) is None


def test_an_escaped_backslash_n_is_not_a_newline() -> None:
    record = {"messages": msgs(("user", "literal \\nHuman: text"), _A)}
    assert validate(HAIKU, dataset(HAIKU, replace={4: record})).valid


def test_nova_reserved_strings_ignore_case() -> None:
    assert _FIND_NOVA("ask the USER: now") == "User:"
    assert _FIND_NOVA("a <Image> tag") == "<image>"
    assert _FIND_NOVA("username: x") is None


def test_units_are_characters_for_ascii_and_utf8_bytes_otherwise() -> None:
    assert measure(["abc", "de"]) == 5
    assert measure(["abc", "é東"]) == 3 + 2 + 3


def test_content_is_unambiguous() -> None:
    assert content_of(["a", "b"]) != content_of(["ab", ""])
    assert content_of(["a\0b", "c"]) != content_of(["a", "b\0c"])
    assert content_of(["x", "y"]) == content_of(["x", "y"])


@pytest.mark.parametrize("text", ["é" * 1024, "東" * 5000, ("abc " * 3000) + "東" * 3000, "👍x" * 2000])
def test_utf8_size_is_exact_or_close(text: str) -> None:
    exact = len(text.encode())
    size = utf8_size(text)
    if len(text) <= 1024:
        assert size == exact
    else:
        assert abs(size - exact) <= exact * 0.03
