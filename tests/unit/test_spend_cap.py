"""The team's hard monthly cap (bft.workflow.spend): what the month-to-date spend adds up (this UTC month only,
finished runs by their report's cost block, runs in flight by their estimate), what a malformed report or
ledger does, the refusal's words, the CheckSpendCap step, and the config key's validation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bft.config import load_config
from bft.config.fields import ConfigError
from bft.errors import OverCap
from bft.workflow.spend import (
    Estimate,
    MonthToDate,
    check_cap,
    check_spend_cap,
    ledger_key,
    month_of,
    month_to_date,
    report_charge,
    run_estimate,
)
from tests.conftest import CONFIG

BUCKET = "reports"
TEAM = "vision"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _put(s3: Any, key: str, document: Any) -> None:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def _finished(s3: Any, month: str, request_id: str, training: float, *, attempt: int = 1, **extra: Any) -> None:
    """A run accepted in ``month`` that finished: its ledger entry (an estimate that is NOT what it cost) and
    its run.json, whose cost block says what it cost."""
    _put(s3, ledger_key(TEAM, month, request_id, attempt), {"requestId": request_id, "estimateUsd": 999.0})
    report = {"run": {"requestId": request_id, "attempt": attempt}, "job": {"jobArn": "j"}, "leftRunning": []}
    _put(s3, f"reports/{TEAM}/{request_id}/run.json", report | {"cost": {"trainingUsd": training}} | extra)


def _in_flight(s3: Any, month: str, request_id: str, estimate: float, *, attempt: int = 1) -> None:
    _put(s3, ledger_key(TEAM, month, request_id, attempt), {"requestId": request_id, "estimateUsd": estimate})


def test_month_boundaries_are_utc() -> None:
    assert month_of(datetime(2026, 5, 31, 23, 59, 59, tzinfo=UTC)) == "2026-05"
    assert month_of(datetime(2026, 6, 1, 0, 0, 0, tzinfo=UTC)) == "2026-06"
    # 01:30 on June 1st in UTC+2 is still May in UTC.
    plus_two = datetime.fromisoformat("2026-06-01T01:30:00+02:00")
    assert month_of(plus_two) == "2026-05"


def test_only_this_month_counts_finished_by_their_report_in_flight_by_their_estimate(s3: Any) -> None:
    _finished(s3, "2026-06", "a", 100.0)
    _finished(s3, "2026-06", "b", 50.5)
    _in_flight(s3, "2026-06", "c", 20.25)
    _finished(s3, "2026-05", "may", 5000.0)  # last month: not counted
    _finished(s3, "2026-07", "july", 7000.0)
    spend = month_to_date(s3, BUCKET, TEAM, "2026-06")
    assert spend.total_usd == pytest.approx(170.75)
    assert (spend.finished, spend.in_flight) == (2, 1)
    assert spend.warnings == []
    assert spend.words() == "month-to-date spend $170.75 (3 runs, 1 in flight)"


def test_a_run_refused_before_its_job_cost_nothing_and_left_throughput_counts_up_to_its_ttl(s3: Any) -> None:
    _finished(s3, "2026-06", "no-job", 80.0, job=None)
    pt = {"type": "provisioned-throughput", "arn": "pt", "hourlyCostUsd": 25.0, "expiresAfterHours": 4}
    _finished(s3, "2026-06", "served", 1.0, leftRunning=[pt, {"type": "on-demand-deployment", "hourlyCostUsd": 0}])
    assert month_to_date(s3, BUCKET, TEAM, "2026-06").total_usd == pytest.approx(101.0)


def test_a_report_of_another_attempt_means_this_attempt_is_still_in_flight(s3: Any) -> None:
    """Resubmitted after a failure: attempt 2 runs, the report under the id is still attempt 1's."""
    _finished(s3, "2026-06", "again", 10.0, attempt=1)
    _in_flight(s3, "2026-06", "again", 30.0, attempt=2)
    spend = month_to_date(s3, BUCKET, TEAM, "2026-06")
    # attempt 1's report was overwritten by nothing yet: it counts 10; attempt 2 counts its estimate.
    assert spend.total_usd == pytest.approx(40.0)
    assert (spend.finished, spend.in_flight) == (1, 1)


def test_the_run_being_checked_is_not_counted_twice_on_a_retry(s3: Any) -> None:
    _in_flight(s3, "2026-06", "me", 30.0)
    key = ledger_key(TEAM, "2026-06", "me", 1)
    assert month_to_date(s3, BUCKET, TEAM, "2026-06", exclude=key).total_usd == 0.0


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not JSON"),
        ({"run": {"requestId": "bad", "attempt": 1}, "job": {}}, "no `cost` block"),
        ({"run": {"requestId": "bad", "attempt": 1}, "job": {}, "cost": {"trainingUsd": "12"}}, "not a number"),
    ],
)
def test_a_malformed_report_counts_its_estimate_and_says_so(s3: Any, body: Any, problem: str) -> None:
    _put(s3, ledger_key(TEAM, "2026-06", "bad", 1), {"requestId": "bad", "estimateUsd": 42.0})
    _put(s3, f"reports/{TEAM}/bad/run.json", body)
    spend = month_to_date(s3, BUCKET, TEAM, "2026-06")
    assert spend.total_usd == 42.0
    assert len(spend.warnings) == 1
    assert f"s3://{BUCKET}/reports/{TEAM}/bad/run.json cannot be read as a run report" in spend.warnings[0]
    assert problem in spend.warnings[0]
    assert "counted its estimate $42.00" in spend.warnings[0]


def test_an_unreadable_ledger_entry_refuses_rather_than_guesses(s3: Any) -> None:
    _put(s3, ledger_key(TEAM, "2026-06", "odd", 1), b"garbage")
    with pytest.raises(OverCap, match=r"_spend/2026-06/odd/1.json is not a spend record \(not JSON"):
        month_to_date(s3, BUCKET, TEAM, "2026-06")


def test_past_the_bound_the_run_is_refused_naming_it(s3: Any) -> None:
    for index in range(4):
        _in_flight(s3, "2026-06", f"r{index}", 1.0)
    assert month_to_date(s3, BUCKET, TEAM, "2026-06", limit=4).runs == 4
    with pytest.raises(OverCap, match="team vision has more than 3 runs in 2026-06"):
        month_to_date(s3, BUCKET, TEAM, "2026-06", limit=3)


def test_the_refusal_names_spend_estimate_cap_and_config_key() -> None:
    spend = MonthToDate("2026-06", total_usd=412.30, finished=6, in_flight=1)
    estimate = Estimate(96.10, "training $96.10")
    with pytest.raises(OverCap) as refused:
        check_cap("vision", 500, "dev.yaml teams[1].monthly_cap_usd", spend, estimate)
    assert str(refused.value) == (
        "team vision: month-to-date spend $412.30 (7 runs, 1 in flight) + this run's estimate $96.10 "
        "(training $96.10) = $508.40 passes monthly_cap_usd $500.00 (config dev.yaml teams[1].monthly_cap_usd); "
        "nothing was started"
    )
    check_cap("vision", 508.40, "k", spend, estimate)  # reaching the cap exactly is allowed


def test_the_estimate_adds_a_throughput_s_hours_up_to_its_ttl() -> None:
    cost = {"trainingUsd": 1.5, "servingPerHourUsd": 25.0}
    served = run_estimate(cost, {"kind": "provisioned-throughput", "ttlHours": 4})
    assert served == Estimate(101.5, "training $1.50 + 4 h of provisioned throughput at $25.00/hour")
    assert run_estimate(cost, {"kind": "provisioned-throughput", "ttlHours": None}).usd == 1.5
    assert run_estimate({"trainingUsd": 1.5, "servingPerHourUsd": 0.0}, {"kind": "on-demand-deployment"}).usd == 1.5
    assert run_estimate({"trainingUsd": None}, {}).words == "training unknown (no price configured)"


def test_report_charge_refuses_what_is_not_a_run_report() -> None:
    with pytest.raises(ValueError, match="leftRunning is not a list"):
        report_charge({"cost": {"trainingUsd": 1.0}, "job": {}, "leftRunning": "pt"})


def _run(request_id: str = "now", started: str = "2026-06-15T10:00:00+00:00") -> dict[str, Any]:
    return {
        "team": TEAM,
        "requestId": request_id,
        "attempt": 1,
        "baseModelId": "amazon.nova-micro-v1:0:128k",
        "family": "nova",
        "serving": {"kind": "on-demand-deployment", "ttlHours": None},
        "startedAt": started,
        "executionArn": "arn:aws:states:us-east-1:1:execution:m:now",
    }


def _policy(cap: float | None) -> dict[str, Any]:
    return {"teams": {TEAM: {"monthlyCapUsd": cap, "capConfigKey": "dev.yaml teams[1].monthly_cap_usd"}}}


PRICES = {"trainingPer1kTokensUsd": {"amazon.nova-micro-v1:0:128k": 0.01}}
DATASET = {"statistics": {"estimated_billed_tokens": 1_000_000}}  # $10.00 of training


def test_the_step_refuses_past_the_cap_and_writes_no_entry(s3: Any) -> None:
    _finished(s3, "2026-06", "earlier", 95.0)
    with pytest.raises(OverCap, match=r"\$95.00 \(1 run\) \+ this run's estimate \$10.00"):
        check_spend_cap(_run(), DATASET, _policy(100), prices=PRICES, s3=s3, reports_bucket=BUCKET)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"reports/{TEAM}/_spend/")["Contents"]]
    assert keys == [ledger_key(TEAM, "2026-06", "earlier", 1)]


def test_the_step_records_an_accepted_run_so_the_next_one_counts_it(s3: Any) -> None:
    first = check_spend_cap(_run("first"), DATASET, _policy(25), prices=PRICES, s3=s3, reports_bucket=BUCKET)
    assert first["monthToDateUsd"] == 0.0
    assert first["estimateUsd"] == 10.0
    entry = json.loads(s3.get_object(Bucket=BUCKET, Key=first["ledgerKey"])["Body"].read())
    assert entry["estimateUsd"] == 10.0
    # Retried (a lost result): the run's own entry is not counted against it.
    check_spend_cap(_run("first"), DATASET, _policy(10), prices=PRICES, s3=s3, reports_bucket=BUCKET)
    second = check_spend_cap(_run("second"), DATASET, _policy(25), prices=PRICES, s3=s3, reports_bucket=BUCKET)
    assert (second["monthToDateUsd"], second["inFlightRuns"]) == (10.0, 1)
    with pytest.raises(OverCap, match=r"\$20.00 \(2 runs, 2 in flight\)"):
        check_spend_cap(_run("third"), DATASET, _policy(25), prices=PRICES, s3=s3, reports_bucket=BUCKET)


def test_a_team_without_a_cap_is_recorded_and_never_refused(s3: Any) -> None:
    _finished(s3, "2026-06", "earlier", 1e6)
    result = check_spend_cap(_run(), DATASET, _policy(None), prices=PRICES, s3=s3, reports_bucket=BUCKET)
    assert result["capUsd"] is None
    assert "monthToDateUsd" not in result
    assert s3.get_object(Bucket=BUCKET, Key=ledger_key(TEAM, "2026-06", "now", 1))


def test_the_month_is_the_one_the_run_was_accepted_in(s3: Any) -> None:
    _finished(s3, "2026-05", "may", 95.0)
    late = _run(started="2026-05-31T23:59:59+00:00")
    with pytest.raises(OverCap):
        check_spend_cap(late, DATASET, _policy(100), prices=PRICES, s3=s3, reports_bucket=BUCKET)
    early = _run(started="2026-06-01T00:00:00+00:00")
    assert (
        check_spend_cap(early, DATASET, _policy(100), prices=PRICES, s3=s3, reports_bucket=BUCKET)["month"] == "2026-06"
    )


# -- config ---------------------------------------------------------------------------------------------------
def _config_with(tmp_path: Path, line: str, *, drop_emails: bool = False) -> Path:
    text = (CONFIG / "dev.yaml").read_text()
    text = text.replace("    monthly_cap_usd: 2500", line, 1)
    if drop_emails:
        text = text.replace("    notification_emails:\n      - moderation-ml@example.com\n", "", 1)
        text = text.replace("notification_emails:\n  - ", "notification_emails: []\n#  - ", 1)
    (tmp_path / "dev.yaml").write_text(text)
    return tmp_path


def test_the_cap_reaches_the_guardrails_with_the_key_that_sets_it() -> None:
    config = load_config("dev")
    guardrails = config.team_guardrails(config.team("moderation"))
    assert guardrails["monthlyCapUsd"] == 2500
    assert guardrails["capConfigKey"] == "dev.yaml teams[0].monthly_cap_usd"


@pytest.mark.parametrize("value", ["0", "-5", "lots", ".inf"])
def test_the_cap_must_be_a_positive_number(tmp_path: Path, value: str) -> None:
    directory = _config_with(tmp_path, f"    monthly_cap_usd: {value}")
    with pytest.raises(ConfigError, match=r"teams\[0\]\.monthly_cap_usd"):
        load_config("dev", config_dir=directory)


def test_a_cap_needs_someone_to_tell(tmp_path: Path) -> None:
    directory = _config_with(tmp_path, "    monthly_cap_usd: 2500", drop_emails=True)
    with pytest.raises(ConfigError, match="needs an address to tell when AWS Budgets stops the team's runs"):
        load_config("dev", config_dir=directory)


def test_the_dry_run_refuses_before_upload_past_the_cap(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bft submit --dry-run` adds up the same month (the reports bucket the deployment names) and refuses."""
    from types import SimpleNamespace

    from bft import clock
    from bft.cli import main, pipeline
    from bft.sample_data import default_format, write_splits

    month = month_of(clock.now())
    _put(s3, ledger_key("moderation", month, "earlier", 1), {"requestId": "earlier", "estimateUsd": 2499.99})
    monkeypatch.setattr(pipeline, "_deployment", lambda config: SimpleNamespace(reports_bucket=BUCKET))
    monkeypatch.setattr(pipeline, "_client", lambda config, service: s3)
    data = write_splits(tmp_path, training=100, validation=8, evaluation=10, data_format=default_format("dev"))
    assert main(["submit", "--env", "dev", "--team", "moderation", str(data["train"]), "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "refused before upload: team moderation: month-to-date spend $2,499.99 (1 run, 1 in flight)" in out
    assert "passes monthly_cap_usd $2,500.00 (config dev.yaml teams[0].monthly_cap_usd)" in out
