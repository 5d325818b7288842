"""Reinforcement fine-tuning prompts: one prompt a line with a reference answer, no assistant answer, at most
20,000; errors name the line and the field, as for supervised data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bft.cli import main
from bft.dataset import validate_lines
from bft.dataset.rft import EXAMPLE_RECORD

NOVA2 = "amazon.nova-2-lite-v1:0:256k"


def prompt(index: int, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": "Answer with the order as JSON."},
            {"role": "user", "content": f"{index} oat lattes to table {index % 9}, please."},
        ],
        "reference_answer": {"item": "oat latte", "quantity": index},
        "difficulty": "easy",  # any other field reaches the grader as metadata
    } | changes
    return {key: value for key, value in record.items() if value is not None}


def lines(records: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(record).encode() for record in records]


def check(records: list[dict[str, Any]]) -> Any:
    return validate_lines(NOVA2, lines(records), customization="reinforcement")


def errors(report: Any) -> list[tuple[int | None, str | None, str]]:
    return [(e.line, e.field, e.code) for e in report.errors]


def test_prompts_with_reference_answers_and_metadata_are_valid() -> None:
    report = check([prompt(i) for i in range(20)] + [EXAMPLE_RECORD])
    assert report.valid, errors(report)


def test_a_record_without_reference_answer_names_its_line_and_the_field() -> None:
    records = [prompt(i) for i in range(20)]
    records[6] = prompt(6, reference_answer=None)
    report = check(records)
    assert not report.valid
    assert errors(report) == [(7, "reference_answer", "missing_key")]
    assert "reference_answer" in report.errors[0].message


def test_an_answered_record_is_refused_on_its_last_message() -> None:
    records = [prompt(i) for i in range(20)]
    answered = prompt(3)
    answered["messages"].append({"role": "assistant", "content": "done"})
    records[3] = answered
    assert errors(check(records)) == [(4, "messages[2].role", "last_not_user")]


def test_every_broken_rule_of_a_record_is_listed() -> None:
    records = [prompt(i) for i in range(20)]
    records[0] = {"messages": [{"role": "user", "content": "  "}, {"role": "system", "content": "x"}]}
    found = errors(check(records))
    assert (1, "messages[0].content", "empty_content") in found
    assert (1, "messages[1].role", "role_order") in found
    assert (1, "reference_answer", "missing_key") in found


def test_more_than_20000_prompts_are_refused() -> None:
    report = check([prompt(i) for i in range(20_001)])
    assert not report.valid
    assert any("20,000" in e.message for e in report.errors), [e.message for e in report.errors][:3]


def test_the_supervised_checker_would_refuse_prompts_so_the_type_matters() -> None:
    assert not validate_lines(NOVA2, lines([prompt(i) for i in range(20)])).valid


def test_bft_validate_customization_reinforcement(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "prompts.jsonl"
    good.write_bytes(b"\n".join(lines([prompt(i) for i in range(20)])) + b"\n")
    assert main(["validate", str(good), "--customization", "reinforcement", "--base-model", NOVA2]) == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join(lines([prompt(i) for i in range(19)] + [prompt(19, reference_answer=None)])) + b"\n")
    capsys.readouterr()
    assert main(["validate", str(bad), "--customization", "reinforcement"]) == 1
    out = capsys.readouterr().out
    assert "reference_answer" in out
    assert "20" in out
