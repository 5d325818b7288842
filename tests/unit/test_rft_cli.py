"""`bft submit --customization reinforcement --grader ...` (the dry run says the type and the grader, and
validates the prompts format) and `bft grader test`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bft.cli import main
from tests.unit.test_dataset_rft import NOVA2, lines, prompt


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(b"\n".join(lines([prompt(i) for i in range(20)])) + b"\n")
    return path


def submit(path: Path, *extra: str) -> int:
    return main(
        [
            "submit",
            "--env",
            "local-us-east-1",
            "--team",
            "moderation",
            str(path),
            "--base-model",
            NOVA2,
            "--no-approval",
            "--dry-run",
            *extra,
        ]
    )


def test_the_dry_run_says_the_type_and_the_grader(prompts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        submit(
            prompts,
            "--customization",
            "reinforcement",
            "--grader",
            "numeric",
            "--grader-option",
            "tolerance=0.5",
            "--grader-option",
            "field=quantity",
        )
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "customization: reinforcement (REINFORCEMENT_FINE_TUNING); grader: built-in numeric "
        "(tolerance=0.5, field='quantity')" in out
    )
    assert "dry run: request" in out


def test_the_dry_run_of_supervised_fine_tuning_says_so_and_refuses_prompts(
    prompts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert submit(prompts) == 1
    out = capsys.readouterr().out
    assert "customization: fine-tuning (FINE_TUNING)" in out
    assert "the dataset is invalid" in out


def test_a_prompt_without_reference_answer_is_refused_before_upload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(b"\n".join(lines([prompt(i) for i in range(19)] + [prompt(19, reference_answer=None)])) + b"\n")
    assert submit(path, "--customization", "reinforcement", "--grader", "json_match") == 1
    out = capsys.readouterr().out
    assert "prompts.jsonl:20" in out
    assert "reference_answer" in out


def test_another_accounts_grader_is_refused_before_upload(prompts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arn = "arn:aws:lambda:us-east-1:999999999999:function:bft_local-us-east-1_moderation_score"
    assert submit(prompts, "--customization", "reinforcement", "--grader", arn) == 1
    assert "not a function of this account and region" in capsys.readouterr().out


def grader_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "my_grader.py"
    path.write_text(body)
    return path


def grader_test(*args: str) -> int:
    return main(["grader", "test", *args])


def test_grader_test_passes_a_builtin_on_the_teams_prompts(prompts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert grader_test("json_match", "--data", str(prompts), "--records", "4") == 0
    out = capsys.readouterr().out
    assert "built-in grader json_match on 4 prompts" in out
    assert "8 answers" in out
    assert "OK:" in out


def test_grader_test_passes_a_working_grader_file(
    prompts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = grader_file(
        tmp_path,
        "import json\n"
        "def lambda_handler(event, context):\n"
        "    out = []\n"
        "    for r in event:\n"
        "        want = json.dumps(r['metadata']['reference_answer'], separators=(',', ':'))\n"
        "        ok = r['messages'][-1]['content'] == want\n"
        "        out.append({'id': r['id'], 'aggregate_reward_score': float(ok),\n"
        "                    'metrics_list': [{'name': 'exact', 'value': float(ok), 'type': 'Reward'}]})\n"
        "    return out\n",
    )
    assert grader_test(str(path), "--data", str(prompts)) == 0
    assert "OK:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("body", "check"),
    [
        # The wrong shape: an int reward, no metrics_list.
        (
            "def handler(event, context):\n    return [{'id': r['id'], 'aggregate_reward_score': 1} for r in event]\n",
            "contract",
        ),
        # Every answer the same reward: it cannot teach.
        (
            "def handler(event, context):\n"
            "    return [{'id': r['id'], 'aggregate_reward_score': 0.5, 'metrics_list': []} for r in event]\n",
            "spread",
        ),
        # Too slow for its timeout (0.2 s of a 0.3 s timeout: over half of it).
        (
            "import time\ndef handler(event, context):\n    time.sleep(0.2)\n"
            "    return [{'id': r['id'], 'aggregate_reward_score': float(i % 2), 'metrics_list': []}"
            " for i, r in enumerate(event)]\n",
            "time",
        ),
    ],
)
def test_grader_test_exits_non_zero_naming_the_failed_check(
    prompts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, check: str
) -> None:
    path = grader_file(tmp_path, body)
    assert grader_test(str(path), "--data", str(prompts), "--records", "2", "--timeout", "0.3") == 1
    out = capsys.readouterr().out
    assert f"FAILED: {check}" in out


def test_grader_test_refuses_data_without_reference_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sft.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n")
    assert grader_test("exact_match", "--data", str(path)) == 2
    assert "sft.jsonl:1: reference_answer" in capsys.readouterr().err


def test_grader_test_invokes_a_deployed_function_by_its_arn(prompts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bft import aws
    from bft.workflow.graders import grade
    from tests.unit.test_graders import FakeLambda

    arn = "arn:aws:lambda:us-east-1:123456789012:function:bft_dev_moderation_score"
    working = FakeLambda(lambda batch: grade("json_match", {}, batch))
    aws.override("lambda", working)
    try:
        assert grader_test(arn, "--data", str(prompts), "--records", "3") == 0
        assert working.calls == [arn]
        crashing = FakeLambda(lambda batch: batch[0]["metadata"]["nope"])
        aws.override("lambda", crashing)
        assert grader_test(arn, "--data", str(prompts)) == 1
    finally:
        aws.reset()
    out = capsys.readouterr().out
    assert f"grader function {arn} on 3 prompts" in out
    assert "FAILED: contract" in out
    assert "KeyError" in out
