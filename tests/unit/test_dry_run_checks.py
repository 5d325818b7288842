"""`bft submit --dry-run` refuses, before any upload, what the workflow's ValidateRequest would refuse: each
hyperparameter against its family's range, the serving mode against the model, region and config guardrails,
and the evaluation threshold and scorer. Each refusal names the request field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bft.cli import main
from bft.sample_data import default_format, write_splits
from tests.conftest import CONFIG


def _data(tmp_path: Path, env: str) -> dict[str, Path]:
    return write_splits(tmp_path / env, training=100, validation=8, evaluation=10, data_format=default_format(env))


def _dry_run(tmp_path: Path, *options: str, env: str = "dev", config_dir: Path | None = None) -> int:
    """`bft submit --dry-run` on data in the environment's default format; EVAL stands for its evaluation file."""
    data = _data(tmp_path, env)
    args = ["submit", "--env", env, "--team", "moderation", str(data["train"]), "--dry-run", *options]
    if config_dir is not None:
        args += ["--config-dir", str(config_dir)]
    args = [str(data["evaluation"]) if a == "EVAL" else a for a in args]
    return main(args)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (["--epochs", "99"], "hyperParameters.epochCount must be"),
        (["--hyperparameter", "learningRate=9"], "hyperParameters.learningRate must be"),
        (["--hyperparameter", "epochCount=two"], "hyperParameters.epochCount must be"),
        (["--hyperparameter", "warmup=1"], "hyperParameters.warmup is not a hyperparameter of llama-3.1"),
        (["--serving-kind", "on-demand-deployment"], "serving.kind: on-demand-deployment is not offered for"),
        (["--serving-kind", "serverless"], "serving.kind: 'serverless' is not one of"),
        (["--model-units", "2"], "serving.modelUnits: 2 breaks team moderation's limit of 1 to 1 model units"),
        (["--model-units", "0"], "serving.modelUnits: 0 breaks team moderation's limit"),
        (["--commitment", "OneMonth"], "serving.commitment: OneMonth is not allowed for team moderation in dev"),
        (["--commitment", "TwoYears"], "serving.commitment: 'TwoYears' is not one of"),
        (["--evaluation", "EVAL", "--threshold", "1.5"], "evaluation.threshold: 1.5 must be a number from 0 to 1"),
        (["--evaluation", "EVAL", "--scorer", "fuzzy"], "evaluation.scorer: 'fuzzy' is not one of"),
        (["--threshold", "0.9"], "evaluation.threshold: --threshold needs --evaluation FILE"),
        (["--scorer", "contains"], "evaluation.scorer: --scorer needs --evaluation FILE"),
        (["--evaluation", "EVAL", "--scorer", "classification", "--metric", "rouge_l"], "evaluation.metric: 'rouge_l'"),
        (["--evaluation", "EVAL", "--eval-max-records", "10001"], "evaluation.maxRecords must be an integer from 1"),
        (["--eval-max-records", "500"], "evaluation.maxRecords: --eval-max-records needs --evaluation FILE"),
    ],
)
def test_the_dry_run_refuses_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], field: str
) -> None:
    code = _dry_run(tmp_path, *options)
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"refused before upload: {field}" in out
    assert "cost estimate" not in out, "refused before the data is read and priced"


def test_the_same_options_within_the_guardrails_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _dry_run(
        tmp_path,
        "--epochs",
        "3",
        "--model-units",
        "1",
        "--serving-kind",
        "provisioned-throughput",
        "--commitment",
        "none",
        "--evaluation",
        "EVAL",
        "--threshold",
        "0.9",
        "--scorer",
        "contains",
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "dry run: request" in out


def test_a_commitment_on_an_on_demand_deployment_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Nova's default serving is an on-demand deployment: billed per token, nothing to commit to.
    code = _dry_run(tmp_path, "--commitment", "SixMonths", env="local-us-east-1")
    out = capsys.readouterr().out
    assert code == 1, out
    assert "refused before upload: serving.commitment: SixMonths applies to provisioned throughput only" in out


def test_a_commitment_the_config_allows_is_priced_at_its_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    text = (CONFIG / "dev.yaml").read_text().replace("allow_commitment: false", "allow_commitment: true")
    text = text.replace("    max_model_units: 1\n", "    max_model_units: 1\n    allow_commitment: true\n", 1)
    (config / "dev.yaml").write_text(text)
    code = _dry_run(tmp_path, "--commitment", "SixMonths", config_dir=config)
    six = capsys.readouterr().out
    assert code == 0, six
    code = _dry_run(tmp_path, config_dir=config)
    hourly = capsys.readouterr().out
    assert code == 0, hourly
    assert "6-month commitment" in six
    assert "no commitment" in hourly
    rate = next(line for line in six.splitlines() if "cost estimate" in line)
    assert rate != next(line for line in hourly.splitlines() if "cost estimate" in line)


def _tool_calls(tmp_path: Path, count: int = 12) -> Path:
    """An evaluation file (prompt/completion, dev's format) whose every expected answer is a tool call."""
    path = tmp_path / "calls.jsonl"
    calls = ({"name": "get_weather", "parameters": {"city": f"city {i}"}} for i in range(count))
    path.write_text(
        "".join(
            json.dumps({"prompt": f"weather {i}?", "completion": json.dumps(c)}) + "\n" for i, c in enumerate(calls)
        )
    )
    return path


def test_the_dry_run_says_which_scorer_the_data_gets_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = _tool_calls(tmp_path)
    assert _dry_run(tmp_path, "--evaluation", str(calls)) == 0
    out = capsys.readouterr().out
    assert (
        f"evaluation: scorer json_match (chosen from {calls}: 12 of 12 expected answers are JSON objects or arrays "
        "(tool calls included); json_match is chosen when at least 80 % are), gate metric structural_match, "
        "threshold 0 (the default: no minimum; --threshold to set one)"
    ) in out
    assert _dry_run(tmp_path, "--evaluation", str(calls), "--scorer", "contains", "--threshold", "0.9") == 0
    assert "evaluation: scorer contains (requested), gate metric contains, threshold 0.9\n" in capsys.readouterr().out


def test_the_dry_run_refuses_a_metric_the_chosen_scorer_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # accuracy is a metric (classification's), so only the data tells that json_match does not produce it.
    assert _dry_run(tmp_path, "--evaluation", str(_tool_calls(tmp_path)), "--metric", "accuracy") == 1
    out = capsys.readouterr().out
    assert (
        "refused before upload: evaluation.metric: 'accuracy' is not a metric of scorer json_match, chosen from" in out
    )
    assert "choose one of structural_match, field_f1" in out


def test_the_dry_run_refuses_a_json_schema_outside_the_subset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"city": {"type": "string", "pattern": "^[A-Z]"}}}))
    assert _dry_run(tmp_path, "--evaluation", str(_tool_calls(tmp_path)), "--json-schema", str(schema)) == 1
    out = capsys.readouterr().out
    assert "refused before upload: evaluation.jsonSchema.properties.city.pattern: keyword 'pattern' is outside" in out
    schema.write_text(json.dumps({"type": "object", "required": ["name", "parameters"]}))
    assert _dry_run(tmp_path, "--evaluation", str(_tool_calls(tmp_path)), "--json-schema", str(schema)) == 0
    out = capsys.readouterr().out
    assert "evaluation: scorer json_match (chosen from" in out
    assert "the request gives evaluation.jsonSchema, which only json_match reads" in out
