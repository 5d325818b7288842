"""``bft convert``: every source format into every family's format, lossless round trips, refusals at their line
and field, streaming in bounded memory, nothing written on a refusal, format detection, the exit codes, and
AWS's Nova tool-use shape through ``bft convert`` and ``bft validate``."""

from __future__ import annotations

import json
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bft.cli import main
from bft.cli.convert import default_output
from bft.dataset import validate_lines
from bft.dataset.convert import (
    ANTHROPIC,
    CONVERSATION,
    OPENAI,
    PROMPT_COMPLETION,
    SOURCE_FORMATS,
    Conversion,
    Target,
    convert_file,
    convert_lines,
    detect_source_format,
    resolve_target,
)
from bft.families import FAMILIES
from bft.sample_data import SYSTEM, examples
from tests.unit.test_dataset_rules import LLAMA31, NOVA_LITE, NOVA_MICRO, image

FIXTURES = Path(__file__).parents[1] / "fixtures" / "tooluse"
LLAMA33 = "meta.llama3-3-70b-instruct-v1:0:128k"


def record(fmt: str, user: str, answer: str, system: str | None = SYSTEM) -> dict[str, Any]:
    """One exchange in a source format (the conversation format with AWS's tool-use sample's schemaVersion)."""
    if fmt == PROMPT_COMPLETION:
        return {"prompt": f"{system}\n\n{user}" if system else user, "completion": answer}
    if fmt == OPENAI:
        head = [{"role": "system", "content": system}] if system else []
        return {"messages": [*head, {"role": "user", "content": user}, {"role": "assistant", "content": answer}]}
    if fmt == ANTHROPIC:
        top = {"system": system} if system else {}
        return {**top, "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]}
    top = {"system": [{"text": system}]} if system else {}
    return {
        "schemaVersion": "tooluse-dataset-2024",
        **top,
        "messages": [
            {"role": "user", "content": [{"text": user}]},
            {"role": "assistant", "content": [{"text": answer}]},
        ],
    }


def source_lines(fmt: str, n: int = 100) -> list[bytes]:
    return [json.dumps(record(fmt, ex.prompt, ex.label)).encode() for ex in examples(n, seed=7)]


def convert(lines: list[bytes], to: str, fmt: str | None = None) -> tuple[Conversion, list[bytes]]:
    out: list[bytes] = []
    fmt = fmt or detect_source_format(lines)
    assert fmt is not None
    result = convert_lines(lines, out.append, resolve_target(to), fmt, path="train.jsonl")
    return result, [line.rstrip(b"\n") for line in out]


def only_error(result: Conversion) -> tuple[int | None, str | None, str, str]:
    assert result.error_count == 1, [str(e) for e in result.errors]
    issue = result.errors[0]
    return issue.line, issue.field, issue.code, issue.message


# -- every source into every family ----------------------------------------------------------------------


@pytest.mark.parametrize("family", [fam.name for fam in FAMILIES])
@pytest.mark.parametrize("fmt", SOURCE_FORMATS)
def test_each_source_format_converts_for_each_family_and_validates(fmt: str, family: str) -> None:
    lines = source_lines(fmt)
    assert detect_source_format(lines) == fmt
    result, out = convert(lines, family)
    assert result.converted, [str(e) for e in result.errors]
    assert (result.records, result.written, result.warning_count) == (100, 100, 0)
    target = resolve_target(family)
    report = validate_lines(target.checker_model, out)
    assert report.valid, [str(e) for e in report.errors]
    first = json.loads(out[0])
    if target.family.data_format == PROMPT_COMPLETION:
        assert first["prompt"].startswith(SYSTEM + "\n\nComment: ")
    elif fmt == PROMPT_COMPLETION:  # no system field in the source: the instruction stays at the prompt's start
        assert "system" not in first
    elif target.family.data_format == CONVERSATION:
        # A conversation record keeps its own schemaVersion; the others get Bedrock's.
        assert first["schemaVersion"] == (
            "tooluse-dataset-2024" if fmt == CONVERSATION else "bedrock-conversation-2024"
        )
        assert first["system"] == [{"text": SYSTEM}]
    else:
        assert first["system"] == SYSTEM


def test_a_family_or_a_model_id_names_the_target() -> None:
    assert resolve_target("nova") == Target(resolve_target(NOVA_LITE).family)
    assert resolve_target(NOVA_MICRO).model_id == NOVA_MICRO
    assert resolve_target("llama-3.1").family.data_format == PROMPT_COMPLETION


# -- round trips -----------------------------------------------------------------------------------------


def _roundtrip(lines: list[bytes], via: str, back: str) -> list[Any]:
    _, middle = convert(lines, via)
    _, again = convert(middle, back)
    return [json.loads(line) for line in again]


def test_claude_messages_round_trip_through_nova_unchanged() -> None:
    lines = [json.dumps(r).encode() for r in (record(ANTHROPIC, "q", "a"), record(ANTHROPIC, "q2", "a2", None))]
    multi = {"messages": [{"role": r, "content": f"{r} {i}"} for i, r in enumerate(["user", "assistant"] * 3)]}
    lines.append(json.dumps(multi).encode())
    assert _roundtrip(lines, "nova", "claude-3-haiku") == [json.loads(line) for line in lines]


def test_conversation_round_trips_through_claude_with_bedrocks_schema_version() -> None:
    lines = [json.dumps(record(CONVERSATION, "q", "a")).encode()]
    (back,) = _roundtrip(lines, "claude-3-haiku", "nova")
    assert back == {**json.loads(lines[0]), "schemaVersion": "bedrock-conversation-2024"}


def test_prompt_completion_round_trips_through_nova_unchanged() -> None:
    lines = [json.dumps({"prompt": "Label: fine", "completion": "OK"}).encode()]
    assert _roundtrip(lines, "nova", "llama-3.1") == [json.loads(lines[0])]


def test_a_conversation_converted_for_its_own_format_keeps_every_block_and_its_schema_version() -> None:
    rec = {
        "schemaVersion": "tooluse-dataset-2024",
        "system": [{"text": "a"}, {"text": "b"}],
        "messages": [
            {"role": "user", "content": [image("s3://b/x.png"), {"text": "what is it?"}]},
            {"role": "assistant", "content": [{"text": "a cat"}]},
        ],
    }
    result, (out,) = convert([json.dumps(rec).encode()], "nova")
    assert result.converted
    assert json.loads(out) == rec
    # Llama 3.3 takes one system block: the texts are joined.
    text = {**rec, "messages": [{"role": "user", "content": [{"text": "hi"}]}, rec["messages"][1]]}
    _, (out,) = convert([json.dumps(text).encode()], "llama-3.3")
    assert json.loads(out)["system"] == [{"text": "a\nb"}]


def test_openai_system_messages_become_the_system_prompt() -> None:
    rec = {
        "messages": [
            {"role": "system", "content": "one"},
            {"role": "developer", "content": [{"type": "text", "text": "two"}]},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a"},
        ]
    }
    _, (out,) = convert([json.dumps(rec).encode()], "claude-3-haiku")
    assert json.loads(out) == {"system": "one\ntwo", "messages": [rec["messages"][2], rec["messages"][3]]}


# -- refusals ---------------------------------------------------------------------------------------------


def _with(fmt: str, line: int, bad: dict[str, Any], n: int = 20) -> list[bytes]:
    lines = source_lines(fmt, n)
    lines[line - 1] = json.dumps(bad).encode()
    return lines


TOOL_RECORDS = {
    OPENAI: (
        {
            "messages": [
                {"role": "user", "content": "weather in Oslo?"},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
                {"role": "assistant", "content": "Sunny."},
            ]
        },
        "messages[1].tool_calls",
    ),
    ANTHROPIC: (
        {
            "messages": [
                {"role": "user", "content": "weather in Oslo?"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "w", "input": {}}]},
            ]
        },
        "messages[1].content[0]",
    ),
    CONVERSATION: (
        {
            "schemaVersion": "bedrock-conversation-2024",
            "messages": [
                {"role": "user", "content": [{"text": "weather in Oslo?"}]},
                {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "w", "input": {}}}]},
            ],
        },
        "messages[1].content[0].toolUse",
    ),
}


@pytest.mark.parametrize("family", ["nova", "llama-3.1", "claude-3-haiku"])
@pytest.mark.parametrize("fmt", sorted(TOOL_RECORDS))
def test_a_tool_use_record_is_refused_at_its_line_for_any_family(fmt: str, family: str) -> None:
    bad, field = TOOL_RECORDS[fmt]
    result, _ = convert(_with(fmt, 13, bad), family, fmt)
    line, where, code, message = only_error(result)
    assert (line, where, code) == (13, field, "tool_use_not_supported")
    assert "write the call as the assistant's text" in message
    assert not result.converted


def test_openai_tools_and_nova_tool_config_are_refused_too() -> None:
    tools = {**record(OPENAI, "q", "a"), "tools": [{"type": "function"}]}
    assert only_error(convert(_with(OPENAI, 2, tools), "nova", OPENAI)[0])[:3] == (2, "tools", "tool_use_not_supported")
    config = {**record(CONVERSATION, "q", "a"), "toolConfig": {"tools": []}}
    result = convert(_with(CONVERSATION, 3, config), "nova", CONVERSATION)[0]
    assert only_error(result)[:3] == (3, "toolConfig", "tool_use_not_supported")


def test_more_than_one_exchange_is_refused_for_prompt_completion() -> None:
    turns = [{"role": r, "content": f"{r} {i}"} for i, r in enumerate(["user", "assistant"] * 2)]
    result, _ = convert(_with(ANTHROPIC, 17, {"messages": turns}), "llama-3.1")
    line, field, code, message = only_error(result)
    assert (line, field, code) == (17, "messages", "multi_turn")
    assert message.startswith("4 messages: more than one exchange (prompt/completion holds one)")


def test_images_are_refused_for_a_text_only_family_format_or_model() -> None:
    rec = record(CONVERSATION, "q", "a")
    rec["messages"][0]["content"].insert(0, image("s3://b/x.png"))
    lines = _with(CONVERSATION, 5, rec)
    assert convert(lines, "nova")[0].converted  # Nova Lite and Pro take images
    assert convert(lines, NOVA_LITE)[0].converted
    for target, why in [
        (NOVA_MICRO, f"({NOVA_MICRO} is a text model)"),
        ("llama-3.3", "(llama-3.3 is text only)"),
        ("llama-3.1", "(llama-3.1's format (prompt-completion) is text only)"),
        ("claude-3-haiku", "(claude-3-haiku's format (anthropic-messages) is text only)"),
    ]:
        line, field, code, message = only_error(convert(lines, target)[0])
        assert (line, field, code) == (5, "messages[0].content", "media_not_supported"), target
        assert message == f"image: images or video, which this model does not take {why}"


def test_an_inline_image_is_refused_whatever_the_target() -> None:
    rec = {
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
            {"role": "assistant", "content": "a cat"},
        ]
    }
    line, field, code, message = only_error(convert(_with(OPENAI, 8, rec), "nova", OPENAI)[0])
    assert (line, field, code) == (8, "messages[0].content[0]", "media_not_convertible")
    assert "reads images and video from S3 only" in message


@pytest.mark.parametrize(
    ("bad", "field", "code"),
    [
        (
            {"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]},
            "messages[0].role",
            "role_order",
        ),
        (
            {"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "q"}]},
            "messages[1].role",
            "role_order",
        ),
        ({"messages": [{"role": "user", "content": "q"}]}, "messages", "too_few_messages"),
        (
            {"messages": [{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}]},
            "messages[1].role",
            "invalid_role",
        ),
        (
            {"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "a"}]},
            "messages[0].content",
            "wrong_type",
        ),
        ({"system": 1, "messages": []}, "system", "wrong_type"),
        ({"msgs": []}, "messages", "missing_key"),
    ],
)
def test_a_broken_source_record_is_refused_at_its_line_and_field(bad: Any, field: str, code: str) -> None:
    assert only_error(convert(_with(ANTHROPIC, 9, bad), "nova", ANTHROPIC)[0])[:3] == (9, field, code)


def test_the_role_order_names_the_source_index_after_openai_system_messages() -> None:
    bad = {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "q"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a"},
        ]
    }
    assert only_error(convert(_with(OPENAI, 4, bad), "nova", OPENAI)[0])[:3] == (4, "messages[2].role", "role_order")


def test_a_target_rule_the_converted_record_breaks_is_refused_with_that_rule() -> None:
    bad = record(ANTHROPIC, "System: obey", "ok")
    line, field, code, message = only_error(convert(_with(ANTHROPIC, 6, bad), "nova")[0])
    assert (line, field, code) == (6, "messages[0].content[0].text", "reserved_string")
    assert message.endswith("(in the converted bedrock-conversation-2024 record)")


def test_json_errors_blank_lines_and_dropped_keys() -> None:
    lines = source_lines(ANTHROPIC, 10)
    lines[3] = b'{"messages": [}'
    lines[5] = b"   "
    lines[7] = json.dumps({**record(ANTHROPIC, "q", "a"), "id": "r8"}).encode()
    result, _ = convert(lines, "nova", ANTHROPIC)
    assert only_error(result)[:3] == (4, None, "invalid_json")
    assert [(w.line, w.code, w.field) for w in result.warnings] == [(6, "blank_line", None), (8, "dropped_key", "id")]
    del lines[3]
    result, out = convert(lines, "nova", ANTHROPIC)
    assert result.converted
    assert len(out) == result.records == 8


def test_a_line_too_long_for_any_record_is_refused_without_being_kept(tmp_path: Path) -> None:
    source = tmp_path / "train.jsonl"
    with source.open("wb") as out:
        out.write(json.dumps(record(ANTHROPIC, "q", "a")).encode() + b"\n")
        out.write(b'{"messages": "' + b"x" * (9 << 20) + b'"}\n')
    result = convert_file(str(source), str(tmp_path / "out.jsonl"), resolve_target("nova"))
    assert only_error(result)[:3] == (2, None, "line_too_long")


def test_after_the_first_refused_record_nothing_more_is_written_but_every_error_is_counted() -> None:
    lines = source_lines(ANTHROPIC, 30)
    bad = json.dumps({"messages": []}).encode()
    lines[9] = lines[19] = lines[29] = bad
    result, out = convert(lines, "nova", ANTHROPIC)
    assert len(out) == result.written == 9
    assert result.error_count == 3
    (group,) = result.error_groups.groups()
    assert group.line_ranges == [[10, 10], [20, 20], [30, 30]]


# -- detection --------------------------------------------------------------------------------------------


def _lines(*records: Any) -> list[bytes]:
    return [json.dumps(r).encode() for r in records]


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (_lines(record(ANTHROPIC, "q", "a")), ANTHROPIC),
        (_lines(record(ANTHROPIC, "q", "a", None)), ANTHROPIC),  # user/assistant strings: read the same either way
        (_lines(record(OPENAI, "q", "a")), OPENAI),
        (
            _lines(record(ANTHROPIC, "q", "a", None), record(ANTHROPIC, "q", "a", None), record(OPENAI, "q", "a")),
            OPENAI,
        ),
        (_lines(record(ANTHROPIC, "q", "a"), record(OPENAI, "q", "a")), ANTHROPIC),  # both signs: one reader anyway
        (_lines(record(PROMPT_COMPLETION, "q", "a")), PROMPT_COMPLETION),
        (_lines(record(CONVERSATION, "q", "a")), CONVERSATION),
        (_lines({k: v for k, v in record(CONVERSATION, "q", "a", None).items() if k != "schemaVersion"}), CONVERSATION),
        (_lines({"text": "pretraining text"}, {"input": 1}), None),
    ],
)
def test_the_format_is_detected_from_the_first_records(records: list[bytes], expected: str | None) -> None:
    assert detect_source_format(records) == expected


def test_detection_outvotes_a_few_broken_or_odd_lines() -> None:
    lines = [
        b"not json",
        b"[]",
        json.dumps(record(PROMPT_COMPLETION, "q", "a")).encode(),
        *source_lines(CONVERSATION, 5),
    ]
    assert detect_source_format(lines) == CONVERSATION


# -- files: streaming, nothing written on a refusal --------------------------------------------------------


def _write_big(path: Path, size: int) -> int:
    text = "word " * 1800
    count = 0
    with path.open("w", encoding="utf-8") as out:
        while out.tell() < size:
            out.write(json.dumps(record(ANTHROPIC, f"{count} {text}", f"answer {count}")) + "\n")
            count += 1
    return count


def test_a_30_mb_file_converts_in_bounded_memory(tmp_path: Path) -> None:
    source, output = tmp_path / "big.jsonl", tmp_path / "big.nova.jsonl"
    count = _write_big(source, 30_000_000)
    tracemalloc.start()
    try:
        result = convert_file(str(source), str(output), resolve_target("nova"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.converted
    assert result.written == count
    assert peak < 8_000_000, f"peak {peak:,} bytes for a {source.stat().st_size:,}-byte file"
    with output.open("rb") as lines:
        assert sum(1 for _ in lines) == count


def _files(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_a_refused_file_writes_nothing_and_leaves_an_existing_output_alone(tmp_path: Path) -> None:
    source, output = tmp_path / "train.jsonl", tmp_path / "train.nova.jsonl"
    lines = source_lines(ANTHROPIC, 50)
    lines[-1] = json.dumps({"messages": []}).encode()  # the last record fails, after 49 were converted
    source.write_bytes(b"\n".join(lines) + b"\n")
    result = convert_file(str(source), str(output), resolve_target("nova"))
    assert not result.converted
    assert result.written == 49
    assert _files(tmp_path) == ["train.jsonl"]  # no output, no temporary file
    output.write_text("before\n")
    convert_file(str(source), str(output), resolve_target("nova"))
    assert output.read_text() == "before\n"
    assert _files(tmp_path) == ["train.jsonl", "train.nova.jsonl"]


def test_a_failure_half_way_removes_the_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "train.jsonl"
    source.write_bytes(b"\n".join(source_lines(ANTHROPIC, 5)) + b"\n")

    def broken(lines: Iterator[bytes], write: Any, *args: Any, **kwargs: Any) -> Conversion:
        write(b"{}\n")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("bft.dataset.convert.convert_lines", broken)
    with pytest.raises(OSError, match="No space left"):
        convert_file(str(source), str(tmp_path / "out.jsonl"), resolve_target("nova"))
    assert _files(tmp_path) == ["train.jsonl"]


def test_the_output_gets_the_sources_permissions(tmp_path: Path) -> None:
    source = tmp_path / "train.jsonl"
    source.write_bytes(b"\n".join(source_lines(ANTHROPIC, 5)) + b"\n")
    source.chmod(0o640)
    convert_file(str(source), str(tmp_path / "out.jsonl"), resolve_target("nova"))
    assert (tmp_path / "out.jsonl").stat().st_mode & 0o777 == 0o640


# -- the command ------------------------------------------------------------------------------------------


def test_the_command_converts_and_names_what_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "train.jsonl"
    source.write_bytes(b"\n".join(source_lines(OPENAI, 120)) + b"\n")
    assert main(["convert", str(source), "--to", "llama-3.3"]) == 0
    out = capsys.readouterr().out
    output = tmp_path / "train.llama-3.3.jsonl"
    assert out.startswith(f"CONVERTED: {source} (openai-chat, detected from its first records) to llama-3.3's format")
    assert f"120 records written to {output}" in out
    assert 'format: move the system messages to "system": [{"text": ...}]' in out
    assert f"next: bft validate {output} --base-model {LLAMA33}" in out
    assert main(["validate", str(output), "--base-model", LLAMA33]) == 0
    assert capsys.readouterr().out.startswith(f"VALID: llama-3.3 dataset for {LLAMA33}")


def test_the_command_refuses_with_the_users_file_name_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    lines = source_lines(ANTHROPIC, 20)
    turns = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "tool", "content": "x"}]
    lines[16] = json.dumps({"messages": turns}).encode()
    lines[18] = json.dumps({"messages": [turns[0], turns[1], {"role": "bot", "content": "x"}, turns[1]]}).encode()
    Path("train.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    assert main(["convert", "train.jsonl", "--to", "nova", "--from", "anthropic-messages"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(
        "NOT CONVERTED: train.jsonl (anthropic-messages, as given) to nova's format (bedrock-conversation-2024): "
        "nothing written"
    )
    assert "train.jsonl:17: messages[2].role: nova fine-tuning on Bedrock takes no tool-use parts" in out
    assert (
        "train.jsonl:19: messages[2].role: role must be 'system', 'user' or 'assistant', got 'bot' [invalid_role]"
        in out
    )
    assert _files(tmp_path) == ["train.jsonl"]


def test_the_default_output_is_beside_the_source_with_the_familys_name() -> None:
    assert default_output("data/train.jsonl", "nova") == "data/train.nova.jsonl"
    assert default_output("chat.json", "llama-3.3") == "chat.llama-3.3.jsonl"
    assert default_output("export.txt", "nova") == "export.txt.nova.jsonl"


def test_the_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "train.jsonl"
    source.write_bytes(b"\n".join(source_lines(PROMPT_COMPLETION, 10)) + b"\n")
    assert main(["convert", str(tmp_path / "missing.jsonl"), "--to", "nova"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["convert", str(source), "--to", "gpt-4"]) == 2
    assert "--to: 'gpt-4' is not a model family (claude-3-haiku, nova" in capsys.readouterr().err
    assert main(["convert", str(source), "--to", "nova", "-o", str(source)]) == 2
    assert "is the source" in capsys.readouterr().err
    assert main(["convert", str(source), "--to", "nova", "-o", str(tmp_path / "no" / "out.jsonl")]) == 2
    with pytest.raises(SystemExit) as exit_:
        main(["convert", str(source), "--to", "nova", "--from", "csv"])
    assert exit_.value.code == 2
    capsys.readouterr()
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"text": "x"}\n')
    assert main(["convert", str(odd), "--to", "nova"]) == 1
    assert "none of the first records is in a format this command reads" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["convert", str(empty), "--to", "nova", "--from", "prompt-completion"]) == 1
    assert "has no records; nothing written" in capsys.readouterr().out
    assert main(["convert", str(source), "--to", "nova", "-o", str(tmp_path / "out.jsonl")]) == 0
    assert _files(tmp_path) == ["empty.jsonl", "odd.jsonl", "out.jsonl", "train.jsonl"]


def test_converting_for_a_family_past_its_end_of_life_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "train.jsonl"
    source.write_bytes(b"\n".join(source_lines(CONVERSATION, 40)) + b"\n")
    assert main(["convert", str(source), "--to", "claude-3-haiku"]) == 0
    assert "note: no run can use claude-3-haiku today" in capsys.readouterr().err


# -- AWS's Nova tool-use shape ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["nova-tooluse.jsonl", "claude-tooluse.jsonl"])
def test_a_tool_use_set_of_awss_shape_converts_for_nova_and_validates(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "train.jsonl"
    assert main(["convert", str(FIXTURES / name), "--to", NOVA_MICRO, "-o", str(output)]) == 0
    assert "12 records written" in capsys.readouterr().out
    assert main(["validate", str(output), "--base-model", NOVA_MICRO]) == 0
    assert capsys.readouterr().out.startswith(f"VALID: nova dataset for {NOVA_MICRO}")
    first = json.loads(output.read_text().splitlines()[0])
    kept = "tooluse-dataset-2024" if name.startswith("nova") else "bedrock-conversation-2024"
    assert first["schemaVersion"] == kept
    assert json.loads(first["messages"][1]["content"][0]["text"])["name"] == "get_weather"


def test_awss_tool_use_shape_validates_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(FIXTURES / "nova-tooluse.jsonl"), "--base-model", NOVA_MICRO]) == 0
    assert capsys.readouterr().out.startswith("VALID")
    assert main(["validate", str(FIXTURES / "nova-tooluse.jsonl"), "--base-model", LLAMA31]) == 1
