"""Report schema, statistics, summary text and the bounded line splitter."""

from __future__ import annotations

import io
import json
import random
import sys
from pathlib import Path

import pytest

from bft.dataset import REPORT_SCHEMA_VERSION, DatasetValidator, iter_lines, summary_text, validate_paths
from bft.dataset.parsing import read_chunks
from bft.dataset.stats import RecordStats, _upper_bound, bucket
from tests.unit.test_dataset_rules import (
    HAIKU,
    NOVA_LITE,
    dataset,
    haiku_record,
    line,
    validate,
)

ISSUE_KEYS = {"file", "line", "field", "code", "message", "more_on_record"}
GROUP_KEYS = {"file", "field", "code", "message", "count", "line_ranges", "lines_not_listed"}


def test_report_schema_is_stable_and_json_serializable() -> None:
    lines = dataset(HAIKU, replace={3: b"{", 8: {"messages": []}})
    lines[20] = lines[10]
    report = validate(HAIKU, lines, [line(haiku_record(100))], epochs=3)
    data = json.loads(json.dumps(report.to_dict()))
    assert set(data) == {
        "schema_version",
        "valid",
        "base_model_id",
        "family",
        "data_format",
        "parser",
        "files",
        "error_count",
        "errors",
        "warning_count",
        "warnings",
        "error_groups",
        "ungrouped_errors",
        "warning_groups",
        "ungrouped_warnings",
        "statistics",
        "limits",
    }
    assert data["schema_version"] == REPORT_SCHEMA_VERSION
    assert data["valid"] is False
    assert (data["family"], data["data_format"]) == ("claude-3-haiku", "anthropic-messages")
    assert [f["role"] for f in data["files"]] == ["training", "validation"]
    assert set(data["files"][0]) == {"role", "path", "records", "bytes", "read", "statistics"}
    assert data["files"][0]["records"] == 32
    assert data["error_count"] == 2
    assert all(set(e) == ISSUE_KEYS for e in data["errors"] + data["warnings"])
    assert [(e["line"], e["code"]) for e in data["errors"]] == [(3, "invalid_json"), (8, "too_few_messages")]
    assert [(w["line"], w["code"]) for w in data["warnings"]] == [(21, "duplicate_record")]
    assert all(set(g) == GROUP_KEYS for g in data["error_groups"] + data["warning_groups"])
    assert [(g["code"], g["count"], g["line_ranges"]) for g in data["error_groups"]] == [
        ("invalid_json", 1, [[3, 3]]),
        ("too_few_messages", 1, [[8, 8]]),
    ]
    assert (data["ungrouped_errors"], data["ungrouped_warnings"]) == (0, 0)
    stats = data["statistics"]
    assert set(stats) >= {"records", "tokens", "turns", "system_prompt_share", "epochs", "estimated_billed_tokens"}
    assert set(stats["tokens"]) == {"min", "mean", "p95", "max", "total"}
    assert set(stats["turns"]) == {"min", "mean", "max"}
    assert stats["epochs"] == 3
    assert stats["estimated_billed_tokens"] == stats["tokens"]["total"] * 3
    assert data["limits"]["max_tokens_per_record"] == 32_000
    assert data["limits"]["max_tokens_per_record_confirmed"] is True


def test_statistics_describe_the_training_file() -> None:
    records = [haiku_record(i, system=None if i % 4 else "sys", turns=2 + 2 * (i % 3)) for i in range(40)]
    report = validate(HAIKU, [line(r) for r in records], [line(haiku_record(999, turns=8))])
    stats = report.statistics
    expected_tokens = []
    for r in records:
        units = len(r.get("system") or "") + sum(len(m["content"]) for m in r["messages"])
        expected_tokens.append(-(-units // 3))
    assert stats["records"] == 40
    assert stats["measured_records"] == 40
    assert stats["tokens"]["min"] == min(expected_tokens)
    assert stats["tokens"]["max"] == max(expected_tokens)
    assert stats["tokens"]["total"] == sum(expected_tokens)
    assert stats["tokens"]["mean"] == pytest.approx(sum(expected_tokens) / 40, abs=0.06)
    assert stats["turns"] == {"min": 2, "mean": pytest.approx(sum(2 + 2 * (i % 3) for i in range(40)) / 40), "max": 6}
    assert stats["system_prompt_share"] == pytest.approx(10 / 40)
    assert report.estimated_billed_tokens(5) == sum(expected_tokens) * 5
    assert report.estimated_billed_tokens() == sum(expected_tokens) * 2  # Haiku's default epochCount


def test_statistics_skip_records_with_structural_errors_but_keep_oversized_ones() -> None:
    big = {"messages": [{"role": "user", "content": "x" * 100_000}, {"role": "assistant", "content": "y"}]}
    report = validate(HAIKU, dataset(HAIKU, replace={1: b"{", 2: big}))
    assert report.statistics["records"] == 32
    assert report.statistics["measured_records"] == 31
    assert report.statistics["tokens"]["max"] == 33_334


def test_p95_is_exact_for_small_values() -> None:
    stats = RecordStats()
    for value in range(1, 101):
        stats.add(value, 2, False)
    assert stats.percentile(0.95) == 95
    assert stats.to_dict()["tokens"]["p95"] == 95


def test_p95_from_the_histogram_is_within_one_percent_and_never_low() -> None:
    rng = random.Random(7)
    values = [int(rng.lognormvariate(7, 1.2)) + 1 for _ in range(20_000)]
    stats = RecordStats()
    for value in values:
        stats.add(value, 2, False)
    exact = sorted(values)[int(0.95 * len(values)) - 1]
    approx = stats.percentile(0.95)
    assert exact <= approx <= exact * 1.008 + 1


@pytest.mark.parametrize("value", [0, 1, 255, 256, 257, 1000, 32_000, 32_001, 10**6, 2**40 + 12345, 2**63])
def test_histogram_buckets_bound_their_values(value: int) -> None:
    index = bucket(value)
    assert _upper_bound(index) >= value
    assert index == 0 or _upper_bound(index - 1) < value


def test_summary_text_lists_errors_as_file_line_field_message() -> None:
    report = validate(HAIKU, dataset(HAIKU, 31, {4: {"messages": [{"role": "assistant", "content": "x"}] * 2}}))
    text = summary_text(report)
    lines = text.splitlines()
    assert lines[0].startswith("INVALID: claude-3-haiku")
    assert "  training.jsonl: 31 records; claude-3-haiku needs at least 32 [too_few_records]" in lines
    assert "  training.jsonl:4: messages[0].role: the first message must be from 'user' [role_order]" in lines
    assert "estimated billed training tokens (2 epochs)" in text


def test_summary_text_caps_the_errors_shown() -> None:
    # Each error at a different column: distinct errors, not one repeated (those are grouped, see below).
    report = validate(HAIKU, dataset(HAIKU, 40, {n: b"[" + b" " * n for n in range(1, 31)}))
    text = summary_text(report, max_issues=5)
    assert "30 errors, 30 different: first 5 shown:" in text
    assert "training.jsonl:5:" in text
    assert "training.jsonl:6:" not in text


def test_summary_text_for_a_valid_dataset() -> None:
    text = summary_text(validate(NOVA_LITE, dataset(NOVA_LITE)))
    assert text.startswith("VALID: nova dataset for amazon.nova-lite-v1:0:300k")
    assert "records with a system prompt: 100.0%" in text


# -- iter_lines -------------------------------------------------------------------


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_iter_lines_splits_on_newline_across_chunk_boundaries(size: int) -> None:
    data = b'{"a": 1}\n{"b": 2}\r\n\n  \nlast'
    assert list(iter_lines(chunked(data, size))) == [b'{"a": 1}', b'{"b": 2}\r', b"", b"  ", b"last"]


def test_iter_lines_final_newline_is_not_a_line() -> None:
    assert list(iter_lines([b"a\nb\n"])) == [b"a", b"b"]
    assert list(iter_lines([b"a\n\n"])) == [b"a", b""]
    assert list(iter_lines([])) == []


@pytest.mark.parametrize("size", [1, 3, 5, 100])
def test_iter_lines_truncates_an_over_long_line_and_skips_the_rest(size: int) -> None:
    data = b"ok\n" + b"x" * 50 + b"\nnext\n" + b"y" * 30
    lines = list(iter_lines(chunked(data, size), max_line_bytes=10))
    assert lines == [b"ok", b"x" * 11, b"next", b"y" * 11]


def test_over_long_line_is_reported_at_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bft.dataset.validator.MAX_LINE_BYTES", 200)
    lines = dataset(HAIKU)
    lines[5] = b'{"messages": "' + b"a" * 300 + b'"}'
    raw = b"\n".join(lines) + b"\n"
    validator = DatasetValidator(HAIKU)
    validator.add_file("training", "t.jsonl", iter_lines(chunked(raw, 64), max_line_bytes=200), size=len(raw))
    report = validator.finish()
    assert [(e.code, e.line) for e in report.errors] == [("line_too_long", 6)]
    assert report.files[0].records == 32


def test_read_chunks_reads_a_binary_stream() -> None:
    stream = io.BytesIO(b"a" * 10 + b"\n" + b"b" * 5)
    assert list(read_chunks(stream, 4)) == [b"aaaa", b"aaaa", b"aa\nb", b"bbbb"]


def test_histogram_counts_in_the_scan_match_record_stats() -> None:
    # The scan inlines the bucket arithmetic; it must agree with RecordStats.add.
    records = [
        {"messages": [{"role": "user", "content": "q" * n}, {"role": "assistant", "content": "a"}]}
        for n in (1, 300, 800, 2_000, 5_000, 20_000, 50_000, 90_000)
    ]
    lines = dataset(HAIKU, 40)
    for i, record in enumerate(records):
        lines[i] = line(record)
    validator = DatasetValidator(HAIKU)
    validator.add_file("training", "t.jsonl", lines)
    scanned = validator._training
    assert scanned is not None
    expected = RecordStats()
    for raw in lines:
        obj = json.loads(raw)
        units = len(obj.get("system", "")) + sum(len(m["content"]) for m in obj["messages"])
        expected.add((units + 2) // 3, len(obj["messages"]), "system" in obj)
    assert scanned.hist == expected.hist
    assert scanned.to_dict() == expected.to_dict()


def test_size_is_counted_when_not_given() -> None:
    lines = dataset(HAIKU)
    raw = b"\n".join(lines) + b"\n"
    validator = DatasetValidator(HAIKU)
    validator.add_file("training", "t.jsonl", iter_lines(chunked(raw, 1000)))
    validator.add_file("validation", "v.jsonl", lines[:3])
    report = validator.finish()
    assert [f.bytes for f in report.files] == [len(raw), sum(len(x) + 1 for x in lines[:3])]


def test_generic_line_iterables_are_batched_by_size() -> None:
    from bft.dataset.parsing import CHUNK_BYTES, batches_of

    big = [b"x" * 300_000] * 10
    sizes = [sum(len(x) for x in batch) for batch in batches_of(iter(big))]
    assert max(sizes) < CHUNK_BYTES + 300_000
    assert sum(len(batch) for batch in batches_of(iter(big))) == 10


# -- duplicates through read-back (the files the CLI and the Lambda read) -------------------


class Reader:
    """A re-readable in-memory file that counts read-backs."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls: list[tuple[int, int]] = []

    def __call__(self, offset: int, length: int) -> bytes:
        self.calls.append((offset, length))
        return self.data[offset : offset + length]


def _validate_with_reader(lines: list[bytes]) -> tuple[DatasetValidator, Reader]:
    data = b"\n".join(lines) + b"\n"
    reader = Reader(data)
    validator = DatasetValidator(HAIKU)
    validator.add_file("training", "t.jsonl", iter_lines(chunked(data, 4096)), size=len(data), reread=reader)
    return validator, reader


def test_read_back_confirms_a_duplicate_written_differently() -> None:
    lines = dataset(HAIKU, 40)
    record = json.loads(lines[6])
    lines[30] = (
        json.dumps({"messages": record["messages"], "system": record["system"]}, indent=1).replace("\n", " ").encode()
    )
    validator, reader = _validate_with_reader(lines)
    report = validator.finish()
    assert [(w.code, w.line) for w in report.warnings] == [("duplicate_record", 31)]
    assert "line 7" in report.warnings[0].message
    assert len(reader.calls) == 1  # only the first record of the repeated signature was read back
    assert reader.data[reader.calls[0][0] :].startswith(lines[6])


def test_same_signature_different_content_is_not_a_duplicate() -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(10_000))
    a = {"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]}
    joined = "\0".join(["", text, "ok"])
    step = len(joined) >> 8
    spot = next(i for i in range(200, len(joined) - 200) if i % step and joined[i] != "\0")
    changed = text[: spot - 1] + ("b" if text[spot - 1] != "b" else "c") + text[spot:]
    b = {"messages": [{"role": "user", "content": changed}, {"role": "assistant", "content": "ok"}]}
    lines = dataset(HAIKU, 40, {5: a, 25: b})
    validator, reader = _validate_with_reader(lines)
    report = validator.finish()
    assert report.warning_count == 0
    assert len(reader.calls) == 1  # the signatures matched, the read-back told them apart


def test_duplicate_of_a_training_record_in_the_validation_file() -> None:
    train = dataset(HAIKU, 40)
    data = b"\n".join(train) + b"\n"
    reader = Reader(data)
    validator = DatasetValidator(HAIKU)
    validator.add_file("training", "t.jsonl", iter_lines([data]), size=len(data), reread=reader)
    validator.add_file("validation", "v.jsonl", [train[11]])
    report = validator.finish()
    assert [(w.file, w.line, w.message) for w in report.warnings] == [("v.jsonl", 1, "same content as t.jsonl:12")]


def test_a_file_changed_during_validation_is_an_error() -> None:
    lines = dataset(HAIKU, 40)
    lines[20] = lines[3]
    data = b"\n".join(lines) + b"\n"
    validator = DatasetValidator(HAIKU)
    with pytest.raises(RuntimeError, match="changed while it was being validated"):
        validator.add_file("training", "t.jsonl", iter_lines([data]), reread=lambda offset, length: b"{garbage")


def test_validate_paths_reads_duplicates_back_from_disk(tmp_path: Path) -> None:
    lines = dataset(HAIKU, 40)
    lines[33] = lines[2]
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = validate_paths(HAIKU, path)
    assert [(w.line, w.message) for w in report.warnings] == [(34, "same content as line 3")]


def test_the_same_error_on_many_records_is_one_line_with_their_lines() -> None:
    """Haiku records checked for Nova break the same three rules 60 times: each said once, with the lines."""
    from bft.dataset import summary_text, validate_lines
    from tests.unit.test_dataset_rules import HAIKU, dataset

    report = validate_lines("amazon.nova-lite-v1:0:300k", dataset(HAIKU, 60))
    text = summary_text(report)
    assert report.error_count == 180  # system and both messages' content, on every record
    assert "180 errors, 3 different:" in text
    assert (
        "training.jsonl: system: must be an array of {text} objects, got string [wrong_type]: "
        "the same error on 60 records: lines 1-60" in text
    )
    assert (
        "messages[1].content: must be an array of content blocks, got string [wrong_type]: "
        "the same error on 60 records: lines 1-60" in text
    )
    assert len([row for row in text.splitlines() if "[wrong_type]" in row]) == 3
    assert [g.count for g in report.error_groups] == [60, 60, 60]


def test_scattered_lines_are_listed_up_to_a_bound_then_counted() -> None:
    from bft.dataset import summary_text, validate_lines
    from bft.dataset.report import MAX_GROUP_RANGES
    from tests.unit.test_dataset_rules import HAIKU, dataset

    broken = {"messages": [{"role": "user", "content": "hi"}]}
    at = [3, 4, 7, *range(10, 200, 3)]  # 3-4 one run, then one line each
    report = validate_lines(HAIKU, dataset(HAIKU, 200, dict.fromkeys(at, broken)))
    (group,) = report.error_groups
    assert group.count == len(at) == 67
    assert group.line_ranges == [[3, 4], [7, 7], [10, 10], [13, 13], [16, 16], [19, 19], [22, 22], [25, 25]]
    assert len(group.line_ranges) == MAX_GROUP_RANGES
    assert group.lines_not_listed == 67 - 9
    assert "the same error on 67 records: lines 3-4, 7, 10, 13, 16, 19, 22, 25, … and 58 more" in summary_text(report)
    # Grouping counts every record, not only the first 100 errors listed one by one.
    many = validate_lines(HAIKU, dataset(HAIKU, 300, dict.fromkeys(range(1, 301), broken)), max_issues=100)
    assert len(many.errors) == 100
    assert many.error_groups[0].count == 300
    assert many.error_groups[0].line_ranges == [[1, 300]]


def test_distinct_errors_past_the_group_limit_are_counted_not_dropped() -> None:
    from bft.dataset import summary_text, validate_lines
    from tests.unit.test_dataset_rules import HAIKU, dataset

    report = validate_lines(HAIKU, dataset(HAIKU, 40, {n: b"[" + b" " * n for n in range(1, 31)}), max_issues=10)
    assert report.error_count == 30
    assert len(report.error_groups) == 10
    assert report.ungrouped_errors == 20
    assert report.to_dict()["ungrouped_errors"] == 20
    assert "… and 20 more errors of other kinds, not listed" in summary_text(report)


def test_by_record_lists_each_error_of_a_record_together() -> None:
    from bft.dataset import summary_text, validate_lines
    from tests.unit.test_dataset_rules import HAIKU, dataset, haiku_record

    report = validate_lines(
        "amazon.nova-lite-v1:0:300k", [*dataset(HAIKU, 2), *dataset("amazon.nova-lite-v1:0:300k", 10)]
    )
    assert haiku_record(0)  # the two Haiku-format records are lines 1 and 2
    rows = summary_text(report, by_record=True).splitlines()
    assert rows[rows.index("6 errors:") + 1 :][:3] == [
        "  training.jsonl:1: system: must be an array of {text} objects, got string [wrong_type]",
        "  training.jsonl:1: messages[0].content: must be an array of content blocks, got string [wrong_type]",
        "  training.jsonl:1: messages[1].content: must be an array of content blocks, got string [wrong_type]",
    ]


def test_line_ranges() -> None:
    from bft.dataset.report import line_ranges

    assert line_ranges([[1, 3], [7, 7], [9, 10]]) == "1-3, 7, 9-10"
    assert line_ranges([[4, 4]]) == "4"
    assert line_ranges([[4, 4]], 55) == "4, … and 55 more"


def test_a_json_syntax_error_is_said_in_words_with_line_and_column() -> None:
    from bft.dataset import validate_lines
    from tests.unit.test_dataset_rules import HAIKU, dataset

    lines = dataset(HAIKU, 40)
    lines[2] = b'{"messages": [{"role": "user", "content": "hi"},]}'
    lines[5] = lines[5][:40]
    errors = {e.line: e.message for e in validate_lines(HAIKU, lines).errors}
    if sys.version_info >= (3, 13):  # the functions' runtime: json names the trailing comma
        assert errors[3] == "invalid JSON at column 48: a trailing comma before ']': remove it"
    else:
        assert errors[3].startswith("invalid JSON at column 49: expected a value")
    assert errors[6].startswith("invalid JSON at column")
    assert "cut short" in errors[6]
    assert "Expecting" not in errors[3] + errors[6], "not Python's raw text"


def test_a_file_level_error_is_counted_as_shown(tmp_path: Path) -> None:
    from bft.sample_data import write_splits

    data = write_splits(tmp_path, training=40, validation=8, evaluation=10, data_format="prompt-completion")
    text = summary_text(validate_paths("meta.llama3-1-8b-instruct-v1:0:128k", data["train"]))
    assert "1 error:\n" in text
    assert "needs at least 100 [too_few_records]" in text
    assert "first 0 shown" not in text
