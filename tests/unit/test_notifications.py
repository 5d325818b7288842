"""Every message the pipeline sends reads as mail: plain sentences, durations in days and hours, no JSON.

The approval mail, the reaper's notice and Finalize's outcome; the subject of each too. No ``{``, ``}`` or ``[``
anywhere (the offline scenarios check the same on every notification a whole run sends: tests/workflow).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from bft.report import notification
from bft.report.notification import duration, loss_words, subject_line
from bft.workflow import approval
from tests.unit.workflow_support import Env, make_env

MARKUP = {"{", "}", "["}


class _Sns:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.published.append(kwargs)
        return {"MessageId": "m-1"}


@pytest.fixture
def env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    with mock_aws():
        yield make_env(tmp_path)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (259_200, "3 days"),
        (86_400, "1 day"),
        (36 * 3600, "36 hours"),
        (11 * 86_400 + 3600, "11 days"),  # ten units or more: rounded, not 265 hours
        (7200, "2 hours"),
        (45 * 60, "45 minutes"),
        (90, "90 seconds"),
        (1, "1 second"),
    ],
)
def test_duration_in_words(seconds: int, words: str) -> None:
    assert duration(seconds) == words


def test_loss_summary_in_words() -> None:
    from bft.report.loss import validation_rise

    rising = [{"step": i, "epoch": i, "loss": loss} for i, loss in enumerate((1.0, 0.5, 0.7, 0.9))]
    rise = validation_rise(rising)
    assert rise is not None
    summary = {
        "training": {"points": 90, "first": 2.3125, "final": 0.4211, "min": 0.4211, "epochs": 3},
        # The metrics step stores the report's verdict on the curve (bft.workflow.metrics), in its words.
        "validation": {"points": 4, "first": 1.0, "final": 0.9, "min": 0.5, "epochs": 4, "rise": rise.words()},
    }
    text = loss_words(summary)
    assert text.startswith("Training loss fell from 2.312 to 0.4211 over 3 epochs;")
    assert (
        "validation loss fell from 1 to 0.9 over 4 epochs (lowest 0.5); validation loss rose from 0.5 at epoch 2"
        in text
    )
    assert "the model may be overfitting" in text
    assert not MARKUP & set(text)
    # A rise the report's rule does not flag (noise, or too short a curve) is not flagged in the mail either.
    summary["validation"]["rise"] = None
    assert "rose" not in loss_words(summary)


def test_loss_summary_without_curves_says_so() -> None:
    assert "no loss figures" in loss_words({})


def test_subject_is_plain_ascii_within_the_sns_limit() -> None:
    line = subject_line("dev", "approval needed: " + "r" * 200 + "\n é")
    assert line.startswith("bft dev: approval needed: ")
    assert len(line) == 100
    assert line.isascii()
    assert "\n" not in line
    assert not MARKUP & set(line)
    assert notification.subject("dev", "req-1", "job_failed") == "bft dev: req-1: job failed"


def test_approval_mail_reads_as_mail(env: Env) -> None:
    run = env.run()
    run["timeouts"]["approvalSeconds"] = 259_200
    metrics = {
        "metricsUri": "s3://reports/moderation/req-1/metrics.json",
        "summary": {"training": {"points": 10, "first": 2.0, "final": 0.5, "min": 0.5, "epochs": 2}},
    }
    sns = _Sns()
    approval.request_approval(run, metrics, "tok", table=env.table, sns=sns, topic_arn=env.topic_arn)
    ((sent,),) = [sns.published]
    message, subject = sent["Message"], sent["Subject"]
    assert subject == f"bft {run['environment']}: approval needed: req-1"
    assert "Training loss fell from 2 to 0.5 over 2 epochs." in message
    assert "within 3 days" in message
    assert "259200" not in message
    assert "Loss summary" not in message
    assert not MARKUP & set(message + subject), message


def test_approval_mail_without_metrics(env: Env) -> None:
    sns = _Sns()
    approval.request_approval(env.run(), None, "tok", table=env.table, sns=sns, topic_arn=env.topic_arn)
    message = sns.published[0]["Message"]
    assert "no loss figures" in message
    assert "Loss curves: none written" in message
    assert not MARKUP & set(message)
