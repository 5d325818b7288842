"""``bft validate FILE --base-model NEW`` on data written for another family: the format mismatch said once,
then what to change (format, record and token limits, hyperparameter ranges) and what would still break."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bft.cli import main
from bft.dataset.migration import detect_format, record_format
from bft.sample_data import SYSTEM, Format, examples, write_splits
from tests.unit.test_dataset_rules import HAIKU, LLAMA31, LLAMA32_TEXT, NOVA_MICRO


def _sample(tmp_path: Path, data_format: Format, training: int = 60, validation: int = 10) -> dict[str, Path]:
    return write_splits(
        tmp_path / data_format, training=training, validation=validation, evaluation=10, data_format=data_format
    )


def _append(path: Path, *records: object) -> None:
    with path.open("a", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")


def test_haiku_data_for_nova_reports_the_format_once_with_the_migration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _sample(tmp_path, "anthropic-messages")
    argv = ["validate", str(data["train"]), "--validation", str(data["validation"]), "--base-model", NOVA_MICRO]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"INVALID: nova dataset for {NOVA_MICRO}")
    # One line per file for the mismatch, no per-record error (a record's line number never appears).
    assert out.count("[wrong_format]") == 2
    assert f"{data['train']}: format: the records are in anthropic-messages (claude-3-haiku's format)" in out
    assert "the file's 180 errors follow from it" in out  # 3 rules broken by each of 60 records
    assert f"{data['train']}:1:" not in out
    assert "[wrong_type]" not in out
    assert f"Migration from claude-3-haiku (anthropic-messages) to nova (bedrock-conversation-2024), {NOVA_MICRO}:" in (
        out
    )
    # The target format with one example record, which is itself a valid Nova record.
    example = next(line.strip() for line in out.splitlines() if line.strip().startswith('{"schemaVersion"'))
    assert record_format(json.loads(example)) == "bedrock-conversation-2024"
    assert 'add "schemaVersion": "bedrock-conversation-2024"' in out
    assert f"convert it: bft convert {data['train']} --to {NOVA_MICRO}" in out
    assert f"convert it: bft convert {data['validation']} --to {NOVA_MICRO}" in out
    rows = {line.split("  ")[1]: line for line in out.splitlines() if line.startswith("  ") and "  " in line[2:]}
    assert "32-10,000" in rows["training records"]
    assert "8-20,000" in rows["training records"]
    assert "32,000 (unconfirmed)" in rows["tokens per record"]
    assert "1-10 (default 2)" in rows["epochCount"]
    assert "1-5 (default 2)" in rows["epochCount"]
    assert "4-256 (default 32)" in rows["batchSize"]
    assert rows["batchSize"].endswith("not taken")
    assert rows["learningRate"].endswith("1e-06-0.0001 (default 1e-05)")
    assert "remove them from the request): batchSize, learningRateMultiplier" in out
    assert f"training {data['train']}: 60 records; 0 would break a nova limit" in out


def test_conversation_data_for_llama_31_counts_what_breaks_its_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _sample(tmp_path, "bedrock-conversation-2024", training=40)
    turn = {"role": "user", "content": [{"text": "Comment: fine\nLabel:"}]}
    answer = {"role": "assistant", "content": [{"text": "OK"}]}
    huge = {"role": "user", "content": [{"text": "x" * (3 * 16_000 + 30)}]}  # over Llama's 16,000 tokens
    schema = {"schemaVersion": "bedrock-conversation-2024"}
    _append(
        data["train"],
        {**schema, "messages": [turn, answer, turn, answer]},  # two exchanges: prompt/completion holds one
        {**schema, "messages": [turn, answer, turn, answer]},
        {**schema, "messages": [huge, answer]},
        {**schema, "messages": [{"role": "assistant", "content": [{"text": "no user turn"}]}]},
    )
    assert main(["validate", str(data["train"]), "--base-model", LLAMA31]) == 1
    out = capsys.readouterr().out
    assert out.count("[wrong_format]") == 1
    assert "one exchange per record: prompt = the system text and the user turn's text" in out
    assert '{"prompt": "Label the comment' in out
    assert (
        f"training {data['train']}: 44 records; 1 invalid in bedrock-conversation-2024 already (fix them first: "
        f"bft validate {data['train']} --base-model amazon.nova-micro-v1:0:128k); 3 would break a llama-3.1 limit "
        "(1 over 16,000 tokens; 2 more than one exchange (prompt/completion holds one))"
    ) in out
    assert f"{data['train']}: 44 records; llama-3.1 needs at least 100" in out
    assert "batchSize" in out
    assert "1 (fixed)" in out


def test_prompt_completion_for_nova_counts_reserved_strings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _sample(tmp_path, "prompt-completion")
    _append(data["train"], {"prompt": "User: hello\nLabel:", "completion": "OK"})
    assert main(["validate", str(data["train"]), "--base-model", NOVA_MICRO, "--json"]) == 1
    document = json.loads(capsys.readouterr().out)  # stdout is still one JSON document
    assert document["valid"] is False
    migration = document["migration"]
    assert (migration["source_family"], migration["target_family"]) == ("llama-3.1", "nova")
    assert migration["example_record"]["schemaVersion"] == "bedrock-conversation-2024"
    assert migration["limits"]["llama-3.1"]["min_training_records"] == 100
    assert migration["limits"]["nova"]["min_training_records"] == 8
    assert migration["hyperparameters"]["nova"]["epochCount"] == {"min": 1, "max": 5, "default": 2}
    assert migration["files"][0]["reserved_strings"] == 1
    assert migration["records_violating_target_limits"] == 1
    assert migration["record_limit_problems"] == []  # 61 records are within Nova's 8-20,000


def test_same_format_from_another_family_compares_limits_and_hyperparameters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _sample(tmp_path, "bedrock-conversation-2024", training=120)
    argv = ["validate", str(data["train"]), "--base-model", LLAMA32_TEXT, "--from-model", NOVA_MICRO]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("VALID: llama-3.2")
    assert "[wrong_format]" not in out
    assert "Migration from nova (bedrock-conversation-2024) to llama-3.2 (bedrock-conversation-2024)" in out
    assert "format: unchanged (bedrock-conversation-2024)" in out
    assert "remove them from the request): learningRateWarmupSteps" in out


def test_data_in_the_targets_format_gets_no_migration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _sample(tmp_path, "anthropic-messages")
    assert main(["validate", str(data["train"]), "--base-model", HAIKU]) == 0
    assert "Migration" not in capsys.readouterr().out


def test_mismatch_with_other_errors_still_lists_those(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _sample(tmp_path, "anthropic-messages")
    nova = _sample(tmp_path, "bedrock-conversation-2024")
    _append(nova["validation"], {"schemaVersion": "bedrock-conversation-2024", "messages": []})
    argv = ["validate", str(data["train"]), "--validation", str(nova["validation"]), "--base-model", NOVA_MICRO]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert out.count("[wrong_format]") == 1
    assert f"{nova['validation']}:11: messages:" in out  # the validation file's own error, with its line
    assert out.count("1 error:") == 1


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"system": SYSTEM, "messages": [{"role": "user", "content": "x"}]}, "anthropic-messages"),
        ({"messages": [{"role": "user", "content": [{"text": "x"}]}]}, "bedrock-conversation-2024"),
        ({"schemaVersion": "bedrock-conversation-2024"}, "bedrock-conversation-2024"),
        ({"prompt": "x", "completion": "y"}, "prompt-completion"),
        ({"text": "x"}, None),
        ([1, 2], None),
    ],
)
def test_record_format_by_shape(record: object, expected: str | None) -> None:
    assert record_format(record) == expected


def test_detect_format_takes_the_majority_and_skips_broken_lines() -> None:
    good = [json.dumps(e.record("prompt-completion")).encode() for e in examples(5, seed=1)]
    odd = json.dumps(next(examples(1, seed=2)).record("anthropic-messages")).encode()
    assert detect_format([b"{", b"", odd, *good]) == "prompt-completion"
    assert detect_format([b"not json", b"[]"]) is None


def test_unknown_from_model_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _sample(tmp_path, "anthropic-messages")
    assert main(["validate", str(data["train"]), "--base-model", NOVA_MICRO, "--from-model", "nope"]) == 2
    assert "cannot be fine-tuned" in capsys.readouterr().err
