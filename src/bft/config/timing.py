"""The workflow's timing: each step's task timeout, the retries, and the execution timeout that must exceed them all.

The state machine (stacks/constructs/workflow_definition.py) and the execution-timeout rule take the step
timeouts from here.
"""

from __future__ import annotations

from pydantic import Field

from bft.capacity import worst_case_rounds
from bft.config.fields import _Strict

# Task timeouts (seconds) of the workflow's Lambda steps.
STEP_TIMEOUT_SECONDS: dict[str, int] = {
    "ValidateRequest": 60,
    "ValidateDataset": 960,
    "CheckSpendCap": 60,  # lists the month's ledger, reads each run's report (bft.workflow.spend.MAX_RUNS)
    "StartJob": 90,
    "CollectMetrics": 150,
    "CreateServing": 90,
    "CheckServing": 60,
    "Evaluate": 300,  # plans the chunks: one read of the evaluation set
    "EvaluateChunk": 960,  # one chunk, planned at a third of this (bft.workflow.evaluation)
    "StartJudge": 300,  # writes the judge's datasets (up to 1,000 records per model) and starts its jobs
    "CheckJudge": 60,
    "ScoreEvaluation": 300,
    "PromoteToEndpoint": 90,
    "CheckPromotion": 60,
    "FinalizeSuccess": 90,
    "Cleanup": 150,
    "FinalizeFailure": 90,
}
RETRY_BACKOFF_RATE = 2.0
# An evaluation chunk throttled past the serving capacity waits for capacity to free up: another chunk (its
# planned 300 s) or other traffic. 8 attempts from 30 s, doubling up to 240 s: ~23 minutes in all, about half
# that on average with full jitter. Each retry goes on from the answers the chunk saved.
EVALUATION_THROTTLE_RETRIES = 8
EVALUATION_THROTTLE_RETRY_SECONDS = 30
EVALUATION_THROTTLE_MAX_DELAY_SECONDS = 240


def retry_max_delay_seconds(interval_seconds: int) -> int:
    """The cap on one retry's delay (Step Functions ``MaxDelaySeconds``)."""
    return max(60, interval_seconds * 8)


class WorkflowTiming(_Strict):
    """Timeouts and poll intervals. The local environment uses seconds where AWS uses hours."""

    job_timeout_seconds: int = Field(default=72 * 3600, ge=1)
    approval_timeout_seconds: int = Field(default=7 * 24 * 3600, ge=1)
    throughput_first_poll_seconds: int = Field(default=20 * 60, ge=1)
    throughput_poll_seconds: int = Field(default=5 * 60, ge=1)
    throughput_max_polls: int = Field(default=12, ge=1, le=100)
    # An LLM-judge evaluation job (evaluation.scorer llm_judge) is polled this often, this many times before
    # the run stops it and fails: 10 minutes x 36 = 6 hours (AWS publishes no duration; a guess).
    judge_poll_seconds: int = Field(default=10 * 60, ge=1)
    judge_max_polls: int = Field(default=36, ge=1, le=1000)
    # How often the reconciler checks jobs whose state-change event may have been lost.
    reconcile_interval_minutes: int = Field(default=30, ge=1, le=1440)
    retry_interval_seconds: int = Field(default=5, ge=1)
    retry_max_attempts: int = Field(default=5, ge=0, le=20)
    # Must exceed every wait and step of one run (see minimum_execution_seconds): an execution
    # timeout skips every Catch, so nothing would clean up after it.
    # 14 days: a 72 h job, a 7-day approval, serving, and the largest evaluation (the config check adds it up).
    execution_timeout_seconds: int = Field(default=14 * 24 * 3600, ge=60)

    def largest_retry_delay_seconds(self) -> int:
        if not self.retry_max_attempts:
            return 0
        backoff = self.retry_interval_seconds * RETRY_BACKOFF_RATE ** (self.retry_max_attempts - 1)
        return int(min(backoff, retry_max_delay_seconds(self.retry_interval_seconds)))

    def minimum_execution_parts(self) -> dict[str, int]:
        """What one run can spend at most, by part. Any request may ask for approval, so its wait counts.

        CheckServing runs once after the first wait and once after each further poll; EvaluateChunk once per
        round of the evaluation's Map; CheckPromotion (a run that promotes into its team's endpoint) after each of
        at most throughput_max_polls waits.
        """
        steps = dict(STEP_TIMEOUT_SECONDS)
        steps["CheckServing"] *= self.throughput_max_polls + 1
        steps["CheckPromotion"] *= self.throughput_max_polls
        steps["CheckJudge"] *= self.judge_max_polls
        # The evaluation's Map: the most chunks at the least concurrency, each up to its task timeout.
        steps["EvaluateChunk"] *= worst_case_rounds()
        # A throttled chunk's own retries, counted once as every step's retries are.
        steps["EvaluateChunk"] += EVALUATION_THROTTLE_RETRIES * EVALUATION_THROTTLE_MAX_DELAY_SECONDS
        return {
            "job_timeout_seconds": self.job_timeout_seconds,
            "approval_timeout_seconds": self.approval_timeout_seconds,
            "serving wait (throughput_first_poll_seconds + throughput_max_polls * throughput_poll_seconds)": (
                self.throughput_first_poll_seconds + self.throughput_max_polls * self.throughput_poll_seconds
            ),
            "judge wait (judge_max_polls * judge_poll_seconds)": self.judge_max_polls * self.judge_poll_seconds,
            "promotion wait (throughput_max_polls * throughput_poll_seconds)": (
                self.throughput_max_polls * self.throughput_poll_seconds
            ),
            "step task timeouts": sum(steps.values()),
            "retries (retry_max_attempts * largest retry delay)": (
                self.retry_max_attempts * self.largest_retry_delay_seconds()
            ),
        }

    def minimum_execution_seconds(self) -> int:
        """The smallest execution timeout this configuration accepts (it must exceed the sum of the parts)."""
        return sum(self.minimum_execution_parts().values()) + 1
