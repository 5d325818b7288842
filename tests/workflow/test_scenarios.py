"""One offline execution of the synthesized state machine per scenario (`bft local-run`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bft_twin.run import SCENARIOS, run_scenario

pytestmark = pytest.mark.slow

# Scenarios that need a model served on demand (a team endpoint) have their own tests, which run them in the
# us-east-1 world: tests/workflow/test_promotion.py.
ON_DEMAND = {name for name, s in SCENARIOS.items() if s.on_demand}
# Reinforcement fine-tuning runs on Nova 2 Lite in us-east-1: tests/workflow/test_rft_scenarios.py.
RFT = ("rft", "rft-broken-grader")
FAILURES = [
    name for name, s in SCENARIOS.items() if s.outcome != "deployed" and name not in ON_DEMAND and name not in RFT
]
# The evaluation-at-scale scenarios have their own tests below, which also check what every deployment does.
EVALUATION_AT_SCALE = ("large-evaluation", "evaluation-throttled")
# Follow-ups that change what the run left (the reaper deletes its throughput): tests/workflow/test_handler_time.py.
FOLLOWED_UP = ("reaper-ttl",)
# The scenarios of the local world's first model (Llama 3.1 8B, served by provisioned throughput); those about
# another model (today's on-demand models) have their own test.
DEPLOYED = [
    name
    for name, s in SCENARIOS.items()
    if s.outcome == "deployed"
    and name not in (*EVALUATION_AT_SCALE, *FOLLOWED_UP)
    and s.model is None
    and name not in ON_DEMAND
]


def _run(name: str, assembly: Path, tmp_path: Path) -> dict[str, Any]:
    summary = run_scenario(name, assembly=assembly, workdir=tmp_path)
    assert summary["background_errors"] == [], summary["background_errors"]
    return summary


def _outcome_notification(summary: dict[str, Any]) -> dict[str, str]:
    finals = [n for n in summary["notifications"] if "approval needed" not in n["subject"]]
    assert finals, "every run ends with a notification"
    return finals[-1]


def _assert_report_written(summary: dict[str, Any], note: dict[str, str]) -> None:
    """Finalize left the report beside run.json in the (simulated) reports bucket, and said where it is in a
    notification without JSON."""
    names = [key.rsplit("/", 1)[-1] for key in summary["report_objects"]]
    assert {"report.html", "report.md", "run.json"} <= set(names), names
    html_uri = summary["report_uri"].removesuffix("run.json") + "report.html"
    assert html_uri in note["message"]
    # Every message of the run, the approval mail included, and every subject: mail, not markup.
    for sent in summary["notifications"]:
        assert not {"{", "}", "["} & set(sent["subject"] + sent["message"]), sent


@pytest.mark.parametrize("name", FAILURES)
def test_failure_scenarios_end_defined_and_clean(name: str, local_assembly: Path, tmp_path: Path) -> None:
    summary = _run(name, local_assembly, tmp_path)
    assert summary["status"] == "FAILED"
    assert summary["outcome"] == SCENARIOS[name].outcome
    assert summary["jobs_left_running"] == 0
    assert summary["evaluation_jobs_left_running"] == 0
    assert summary["provisioned_throughputs_left"] == []
    note = _outcome_notification(summary)
    assert summary["outcome"].replace("_", " ") in note["subject"]
    assert note["subject"].startswith("bft local: ")
    assert summary["report_uri"] in note["message"]
    assert "Nothing this run created is still running." in note["message"]
    report = summary["report"]
    assert report["outcome"] == summary["outcome"]
    assert report["error"]["Error"]
    _assert_report_written(summary, note)


@pytest.mark.parametrize("name", DEPLOYED)
def test_deploying_scenarios_leave_exactly_one_throughput(name: str, local_assembly: Path, tmp_path: Path) -> None:
    _assert_deployed(_run(name, local_assembly, tmp_path))


def _assert_deployed(summary: dict[str, Any]) -> None:
    assert summary["status"] == "SUCCEEDED"
    assert summary["outcome"] == "deployed"
    assert summary["jobs_started"] == 1
    assert summary["jobs_left_running"] == 0
    assert len(summary["provisioned_throughputs_left"]) == 1
    note = _outcome_notification(summary)
    assert "Still running and costing money" in note["message"]
    assert summary["provisioned_throughputs_left"][0] in note["message"]
    _assert_report_written(summary, note)
    evaluation = summary["report"]["evaluation"]
    assert evaluation["passed"] is True
    assert evaluation["scores"]["custom"] > evaluation["scores"]["base"]
    # The local world trains a model customizable today (its first allowed model) with published lifecycles.
    assert summary["model"] == "meta.llama3-1-8b-instruct-v1:0:128k"
    assert not any("SIMULATED lifecycle" in p for p in summary["scenario_parameters"])
    assert summary["serving"]["kind"] == "provisioned-throughput"
    assert summary["serving"]["arn"] == summary["provisioned_throughputs_left"][0]


def test_large_evaluation_fans_out_within_every_limit_bounded_by_one_model_unit(
    local_assembly: Path, tmp_path: Path
) -> None:
    """2,000 records on one model unit: one sequential Lambda would need more than its 900 s; the Map runs as
    many chunks at once as the unit serves, each well inside the Timeout, every record scored once."""
    summary = _run("large-evaluation", local_assembly, tmp_path)
    _assert_deployed(summary)
    evaluation = summary["evaluation"]
    assert evaluation["records"] == summary["report"]["evaluation"]["records"] == 2000
    visited = summary["states_visited"]
    assert visited.index("Evaluate") < visited.index("EvaluateChunks") < visited.index("ScoreEvaluation")
    assert visited.count("EvaluateChunk") == evaluation["chunks"] == evaluation["chunk_invocations"] > 1
    # Bounded by capacity: one model unit serves 2 requests at once, and never more were sent.
    assert evaluation["concurrency"] == 2
    assert evaluation["peak_concurrent_requests"]["custom"] == 2
    assert evaluation["throttled_requests"] == 0
    assert evaluation["longest_chunk_simulated_seconds"] < evaluation["function_timeout_seconds"] / 2
    # The design this replaced: every call in one invocation, past the function's 900 s.
    assert evaluation["sequential_simulated_seconds"] > evaluation["function_timeout_seconds"]
    assert evaluation["simulated_seconds"] < evaluation["sequential_simulated_seconds"] / 1.5


def test_a_throttled_evaluation_is_retried_and_counts_each_record_once(local_assembly: Path, tmp_path: Path) -> None:
    summary = _run("evaluation-throttled", local_assembly, tmp_path)
    _assert_deployed(summary)
    evaluation = summary["evaluation"]
    assert evaluation["throttled_requests"] > 0
    assert evaluation["peak_concurrent_requests"]["custom"] == 1  # the halved capacity held
    assert evaluation["chunk_invocations"] > evaluation["chunks"]  # retried chunks
    assert evaluation["records"] == summary["report"]["evaluation"]["records"] == 400


def test_invalid_dataset_names_the_line_and_starts_nothing(local_assembly: Path, tmp_path: Path) -> None:
    summary = _run("invalid-dataset", local_assembly, tmp_path)
    assert summary["jobs_started"] == 0
    cause = summary["executions"][0]["cause"]
    assert "dataset-validation.json" in cause
    assert ":17" in cause, "the broken record is on line 17"
    assert "CreateServing" not in summary["states_visited"]
    # The tokens the dataset section shows are priced in the cost estimate, not "unknown".
    cost = summary["report"]["cost"]
    assert cost["estimatedBilledTokens"] is not None
    assert cost["estimatedBilledTokens"] > 0
    assert cost["trainingUsd"] is not None
    assert cost["trainingUsd"] > 0


def test_a_run_past_the_team_s_monthly_cap_is_refused_before_any_job(local_assembly: Path, tmp_path: Path) -> None:
    """moderation's cap in the local world is $1,000; its runs this month (three reports, one in flight) add up
    to exactly that, and a run of last month ($5,000) is not counted. The run's estimate passes the cap: no job,
    no serving, and the refusal names the spend, the estimate, the cap and the config key."""
    summary = _run("over-cap", local_assembly, tmp_path)
    assert summary["outcome"] == "over_cap"
    assert summary["jobs_started"] == 0
    assert summary["serving"] is None
    assert summary["states_visited"][:5] == ["Init", "ValidateRequest", "ValidateDataset", "CheckSpendCap", "Cleanup"]
    cause = summary["executions"][0]["cause"]
    assert "team moderation: month-to-date spend $1,000.00 (4 runs, 1 in flight)" in cause
    assert "this run's estimate $" in cause
    assert "4 h of provisioned throughput at $" in cause
    assert "passes monthly_cap_usd $1,000.00 (config local.yaml teams[0].monthly_cap_usd)" in cause
    assert "nothing was started" in cause
    note = _outcome_notification(summary)
    assert "over cap" in note["subject"]
    assert "monthly_cap_usd" in note["message"]
    # The refused run is not in the month's ledger: a corrected resubmission is not charged for it.
    assert summary["report"]["spend"] is None


def test_model_past_end_of_life_is_refused_before_any_spending(local_assembly: Path, tmp_path: Path) -> None:
    """Llama 3.2 1B with its published lifecycle: no simulated date, no job, told where to move."""
    summary = _run("model-end-of-life", local_assembly, tmp_path)
    assert summary["model"] == "meta.llama3-2-1b-instruct-v1:0:128k"
    assert summary["outcome"] == "model_unavailable"
    assert summary["jobs_started"] == 0
    cause = summary["executions"][0]["cause"]
    assert "past its end of life (2026-07-07)" in cause
    assert "ACTIVE models customizable in us-west-2: meta.llama3-1-8b-instruct-v1:0:128k" in cause
    assert summary["states_visited"][:3] == ["Init", "ValidateRequest", "Cleanup"]
    assert not any("SIMULATED" in p for p in summary["scenario_parameters"])
    note = _outcome_notification(summary)
    assert "2026-07-07" in note["message"]
    assert "meta.llama3-3-70b-instruct-v1:0:128k" in note["message"]
    assert summary["serving"] is None


def test_a_legacy_answer_from_bedrock_is_a_labelled_simulation(local_assembly: Path, tmp_path: Path) -> None:
    """The account's Bedrock says Legacy where the catalog says ACTIVE: refused before any job, and the report
    says the lifecycle was simulated."""
    summary = _run("model-legacy", local_assembly, tmp_path)
    assert summary["outcome"] == "model_unavailable"
    assert summary["jobs_started"] == 0
    assert "is LEGACY in this region" in summary["executions"][0]["cause"]
    assert any(
        p.startswith("SIMULATED lifecycle: meta.llama3-1-8b-instruct-v1:0:128k is LEGACY")
        for p in summary["scenario_parameters"]
    )


@pytest.mark.parametrize(
    ("scenario", "model"),
    [("on-demand-llama", "meta.llama3-3-70b-instruct-v1:0:128k"), ("nova-2-lite", "amazon.nova-2-lite-v1:0:256k")],
)
def test_today_s_models_are_trained_and_served_on_demand(
    scenario: str, model: str, local_assembly: Path, east_assembly: Path, tmp_path: Path
) -> None:
    assembly = east_assembly if model.startswith("amazon.") else local_assembly
    summary = _run(scenario, assembly, tmp_path)
    assert summary["model"] == model
    assert summary["outcome"] == "deployed"
    assert summary["serving"]["kind"] == "custom-model-deployment"
    assert summary["jobs_started"] == 1


def test_duplicate_submission_starts_one_job(local_assembly: Path, tmp_path: Path) -> None:
    summary = _run("duplicate-submit", local_assembly, tmp_path)
    statuses = sorted(e["status"] for e in summary["executions"])
    assert statuses == ["FAILED", "SUCCEEDED"]
    (duplicate,) = [e for e in summary["executions"] if e["status"] == "FAILED"]
    assert duplicate["error"] == "DuplicateRequest"
    assert summary["jobs_started"] == 1


def test_lost_event_is_finished_by_the_reconciler(local_assembly: Path, tmp_path: Path) -> None:
    summary = _run("event-lost", local_assembly, tmp_path)
    assert summary["outcome"] == "deployed"
    assert summary["scheduled_invocations"] >= 1


def test_throttling_is_retried_not_failed(local_assembly: Path, tmp_path: Path) -> None:
    summary = _run("throttled", local_assembly, tmp_path)
    assert summary["outcome"] == "deployed"
    assert summary["jobs_started"] == 1
    assert summary["retries"] >= 2


def test_job_timeout_stops_the_job(local_assembly: Path, tmp_path: Path) -> None:
    summary = _run("job-timeout", local_assembly, tmp_path)
    assert summary["executions"][0]["error"] == "TimedOut"
    actions = " ".join(summary["report"]["cleanup"]["actions"])
    assert "job stopped" in actions


def test_rejection_deletes_the_custom_model(local_assembly: Path, tmp_path: Path) -> None:
    summary = _run("approval-rejected", local_assembly, tmp_path)
    # The reviewer's verified identity (the approval function reads it from the signed request), not a name.
    assert (
        "rejected by arn:aws:sts::123456789012:assumed-role/moderation-reviewers/" in summary["executions"][0]["cause"]
    )
    assert "custom model deleted" in " ".join(summary["report"]["cleanup"]["actions"])
    assert "CreateServing" not in summary["states_visited"]


# -- the user's own files (`bft local-run --training ...`) ---------------------------------------------------


def test_own_training_file_with_shuffled_labels_scores_under_the_base_model(
    local_assembly: Path, tmp_path: Path
) -> None:
    """The scores are computed from the data: labels shuffled at random teach the custom model noise."""
    from bft import sample_data

    # In the format of the local world's default model (Llama 3.1: prompt/completion).
    data = sample_data.write_splits(tmp_path / "mine", data_format="prompt-completion")
    shuffled = sample_data.shuffle_labels(data["train"], tmp_path / "mine" / "shuffled.jsonl", seed=11)
    summary = run_scenario(
        "success",
        assembly=local_assembly,
        workdir=tmp_path / "work",
        training=shuffled,
        validation=data["validation"],
        evaluation=data["evaluation"],
        threshold=0.95,
    )
    assert summary["outcome"] == "eval_below_threshold"
    assert summary["report"]["run"]["trainingDataUri"].endswith("/moderation/user/train.jsonl")
    document = summary["documents"]["evaluation.json"]
    assert document["scores"]["custom"] < document["scores"]["base"]
    # Not the scenario's classification and 0.95: the scorer chosen from the labels, the threshold given.
    assert (document["scorer"], document["scorerSource"], document["thresholdSource"]) == (
        "classification",
        "chosen",
        "requested",
    )
    assert any("your data:" in p for p in summary["scenario_parameters"])


def test_own_tool_call_data_gets_json_match_chosen_and_the_default_threshold(
    local_assembly: Path, tmp_path: Path
) -> None:
    """A tool-use set (each expected answer a JSON tool call) with no scorer or threshold given."""
    import json
    import random

    def calls(count: int, seed: int) -> Path:
        pick = random.Random(seed)
        path = tmp_path / f"calls-{seed}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for i in range(count):
                call = {"name": "get_weather", "parameters": {"city": pick.choice(["Oslo", "Lima"]), "days": i % 3}}
                prompt = f"Request {seed}-{i}: weather in {call['parameters']['city']}"
                out.write(json.dumps({"prompt": prompt, "completion": json.dumps(call)}) + "\n")
        return path

    summary = run_scenario(
        "success", assembly=local_assembly, workdir=tmp_path / "work", training=calls(120, 1), evaluation=calls(20, 2)
    )
    assert summary["outcome"] == "deployed"  # no threshold given: the default, no minimum
    document = summary["documents"]["evaluation.json"]
    assert (document["scorer"], document["metric"], document["scorerSource"]) == (
        "json_match",
        "structural_match",
        "chosen",
    )
    assert document["scorerReason"].startswith("20 of 20 expected answers are JSON objects or arrays")
    assert (document["threshold"], document["thresholdSource"]) == (0.0, "default")
    assert "confusion" not in document["metrics"]["custom"]


def test_own_invalid_training_file_ends_dataset_invalid_with_its_line(local_assembly: Path, tmp_path: Path) -> None:
    from bft import sample_data

    data = sample_data.write_splits(tmp_path / "mine", data_format="prompt-completion")
    broken = sample_data.break_record(data["train"], tmp_path / "mine" / "mine.jsonl", line=5)
    summary = run_scenario(
        "success", assembly=local_assembly, workdir=tmp_path / "work", training=broken, threshold=0.5
    )
    assert summary["outcome"] == "dataset_invalid"
    assert summary["jobs_started"] == 0
    assert ":5" in summary["executions"][0]["cause"]


# -- what the twin used to hide: at-least-once and unordered events, slow throughput, crashed steps --------


def _one_job_nothing_leaked(summary: dict[str, Any]) -> None:
    assert summary["jobs_started"] == 1
    assert summary["jobs_left_running"] == 0
    finals = [n for n in summary["notifications"] if "approval needed" not in n["subject"]]
    assert len(finals) == 1, "exactly one final notification"
    assert summary["report_uri"] is not None


def test_duplicate_completed_event_resumes_once(local_assembly: Path, tmp_path: Path) -> None:
    summary = _run("duplicate-event", local_assembly, tmp_path)
    assert summary["outcome"] == "deployed"
    _one_job_nothing_leaked(summary)
    completed = [d for d in summary["event_deliveries"] if d["jobStatus"] == "Completed"]
    assert len(completed) == 2, "the Completed event reached the function twice"
    assert all(d["error"] is None for d in completed), "the second delivery (token gone) is no error"
    assert summary["states_visited"].count("WaitForJob") == 1
    assert summary["states_visited"].count("CollectMetrics") == 1


def test_stale_event_after_the_final_one_is_ignored(local_assembly: Path, tmp_path: Path) -> None:
    summary = _run("out-of-order-event", local_assembly, tmp_path)
    assert summary["outcome"] == "deployed"
    _one_job_nothing_leaked(summary)
    assert summary["events_put"] == ["Completed", "InProgress"]
    assert all(d["error"] is None for d in summary["event_deliveries"])
    assert summary["states_visited"].count("CollectMetrics") == 1


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_deployed_environments_train_approve_and_serve_as_configured(environment: str, tmp_path: Path) -> None:
    """Each environment's own assembly and configuration, unchanged, on the virtual clock: the reviewer of
    its config approves through the approval function URL (prod: mandatory; dev: the request asks)."""
    from bft.config import load_config

    summary = run_scenario("success", workdir=tmp_path, environment=environment)
    assert summary["background_errors"] == []
    assert (summary["environment"], summary["outcome"]) == (environment, "deployed")
    assert "RequestApproval" in summary["states_visited"]
    assert summary["authorization"]["calls_denied"] == 0
    config = load_config(environment)
    assert summary["time_factor"] == 3600.0
    assert config.reviewers, f"{environment} names its reviewers"
    _one_job_nothing_leaked(summary)


@pytest.mark.parametrize("environment", ["dev", "local"])
def test_slow_throughput_is_polled_until_ready(environment: str, local_assembly: Path, tmp_path: Path) -> None:
    """dev's polling configuration on the virtual clock (20 min, then every 5 min); local runs dev's."""
    from bft.config import load_config

    summary = run_scenario(
        "slow-throughput",
        assembly=local_assembly if environment == "local" else None,
        workdir=tmp_path,
        environment=environment,
    )
    assert summary["background_errors"] == []
    assert summary["outcome"] == "deployed"
    _one_job_nothing_leaked(summary)
    assert len(summary["provisioned_throughputs_left"]) == 1
    visited = summary["states_visited"]
    assert visited.count("WaitBeforeNextCheck") == 2
    assert visited.count("CheckServing") <= load_config(environment).workflow.throughput_max_polls + 1


def test_lambda_timeout_ends_step_timed_out_and_cleans_up(local_assembly: Path, tmp_path: Path) -> None:
    summary = _run("lambda-timeout", local_assembly, tmp_path)
    assert summary["outcome"] == "step_timed_out"
    assert summary["executions"][0]["error"] == "Sandbox.Timedout"
    assert "Task timed out after 900.00 seconds" in summary["executions"][0]["cause"]
    _one_job_nothing_leaked(summary)
    assert summary["provisioned_throughputs_left"] == []
    assert summary["states_visited"][-4:] == ["Evaluate", "Cleanup", "FinalizeFailure", "RunFailed"]
    assert summary["retries"] == 0, "a timed-out step is not retried"


def test_crash_after_create_is_retried_into_the_same_job_and_throughput(local_assembly: Path, tmp_path: Path) -> None:
    summary = _run("crash-after-create", local_assembly, tmp_path)
    assert summary["outcome"] == "deployed"
    _one_job_nothing_leaked(summary)
    assert len(summary["provisioned_throughputs_left"]) == 1
    assert summary["retries"] == 2, "StartJob and CreateServing each ran twice"


# -- every customizable family in its own region (`bft local-run --model MODEL_ID`) -------------------------


@pytest.mark.parametrize(
    "model", ["amazon.nova-micro-v1:0:128k", "amazon.nova-lite-v1:0:300k", "amazon.nova-pro-v1:0:300k"]
)
def test_nova_deploys_on_demand_with_no_hourly_charge(model: str, east_assembly: Path, tmp_path: Path) -> None:
    from bft_twin.run import choose

    assert choose("success", model) == (model, "local-us-east-1")
    summary = run_scenario("success", model=model, assembly=east_assembly, workdir=tmp_path)
    assert summary["background_errors"] == []
    assert (summary["environment"], summary["region"]) == ("local-us-east-1", "us-east-1")
    assert summary["outcome"] == "deployed"
    assert summary["provisioned_throughputs_left"] == []
    assert summary["serving"]["kind"] == "custom-model-deployment"
    assert summary["serving"]["hourly_cost_usd"] == 0
    assert summary["deployments_left"] == [summary["serving"]["arn"]]
    assert summary["authorization"]["calls_denied"] == 0, summary["authorization"]["denied"]
    report = summary["report"]
    assert report["run"]["serving"]["kind"] == "on-demand-deployment"
    assert report["cost"]["servingPerHourUsd"] == 0
    # Trained on the conversation format, evaluated with Converse on the deployment.
    assert report["run"]["trainingDataUri"].endswith("/sample/train.jsonl")
    assert summary["documents"]["evaluation.json"]["models"]["custom"] == summary["serving"]["arn"]
    assert report["evaluation"]["passed"] is True


def test_nova_deployment_is_deleted_on_the_failure_path(east_assembly: Path, tmp_path: Path) -> None:
    summary = run_scenario(
        "approval-rejected", model="amazon.nova-lite-v1:0:300k", assembly=east_assembly, workdir=tmp_path
    )
    assert summary["outcome"] == "rejected"
    assert summary["deployments_left"] == []
    assert summary["provisioned_throughputs_left"] == []


def test_nova_deployment_is_torn_down_after_a_failed_evaluation(east_assembly: Path, tmp_path: Path) -> None:
    summary = run_scenario(
        "eval-below-threshold", model="amazon.nova-micro-v1:0:128k", assembly=east_assembly, workdir=tmp_path
    )
    assert summary["outcome"] == "eval_below_threshold"
    assert "CreateServing" in summary["states_visited"]
    assert summary["deployments_left"] == []
    assert any("custom-model-deployment/" in a and "deleted" in a for a in summary["report"]["cleanup"]["actions"])


def test_llama_3_1_70b_serves_by_provisioned_throughput(local_assembly: Path, tmp_path: Path) -> None:
    summary = run_scenario(
        "success", model="meta.llama3-1-70b-instruct-v1:0:128k", assembly=local_assembly, workdir=tmp_path
    )
    assert summary["outcome"] == "deployed"
    assert summary["serving"]["kind"] == "provisioned-throughput"
    assert summary["serving"]["hourly_cost_usd"] == 24.0  # illustrative price of the local config (llama-3.1)
    assert summary["deployments_left"] == []


def test_a_model_no_offline_world_offers_fails_clearly() -> None:
    from bft_twin.run import NoOfflineWorld, choose

    with pytest.raises(NoOfflineWorld, match=r"no offline environment offers acme\.unknown-v1:0"):
        choose("success", "acme.unknown-v1:0")
    # A model no longer customizable runs in its region's world, to show the refusal a team would meet.
    assert choose("success", "amazon.titan-text-premier-v1:0:32k") == (
        "amazon.titan-text-premier-v1:0:32k",
        "local-us-east-1",
    )
    with pytest.raises(NoOfflineWorld, match=r"environment dev cannot run amazon\.nova-lite.*only in us-east-1"):
        choose("success", "amazon.nova-lite-v1:0:300k", "dev")
    with pytest.raises(NoOfflineWorld, match=r"the customizable variant is amazon\.nova-lite-v1:0:300k"):
        choose("success", "amazon.nova-lite-v1:0")
