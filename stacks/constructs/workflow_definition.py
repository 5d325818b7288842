"""The customization workflow's Step Functions definition: its states and how they chain, each Lambda step's
timeout, its retries of transient faults and its catch into cleanup. Built once per team, in the team's stack
(stacks.constructs.workflow.TeamWorkflow)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from bft.config import (
    EVALUATION_THROTTLE_RETRIES,
    EVALUATION_THROTTLE_RETRY_SECONDS,
    RETRY_BACKOFF_RATE,
    STEP_TIMEOUT_SECONDS,
    retry_max_delay_seconds,
)

# Errors worth retrying: throttling and transient faults only (a defined failure is never retried).
TRANSIENT_ERRORS = [
    "TransientError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


@dataclass(frozen=True)
class Timing:
    retry_interval_seconds: int
    retry_max_attempts: int
    execution_timeout_seconds: int
    reconcile_interval_minutes: int


def definition(scope: Construct, fn: Mapping[str, lambda_.IFunction], timing: Timing, team: str) -> sfn.IChainable:
    """One team's states, from Init to Deployed. A failed Lambda step is caught into Cleanup, then FinalizeFailure
    writes the report: a run ends in a defined state with cleanup done. ``fn``: the shared functions by name."""
    execution = {"id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "startTime.$": "$$.Execution.StartTime"}
    # The error name comes from FinalizeFailure: Fail states may not raise "States.*" names (a caught
    # States.Timeout becomes TimedOut there).
    fail = sfn.Fail(scope, "RunFailed", error_path="$.result.errorType", cause_path="$.result.cause")
    report_failed = sfn.Fail(
        scope,
        "ReportFailed",
        error="ReportFailed",
        # What kept Finalize from writing the report (e.g. AccessDenied naming the action), not only that.
        cause_path=sfn.JsonPath.format(
            "The run failed and its report could not be written: {}: {}",
            sfn.JsonPath.string_at("$.finalizeError.Error"),
            sfn.JsonPath.string_at("$.finalizeError.Cause"),
        ),
    )
    finalize_failure = lambda_step(
        scope,
        "FinalizeFailure",
        fn["finalize"],
        {"state.$": "$", "status": "FAILED", "execution": execution},
        "$.result",
        timing,
    )
    finalize_failure.add_catch(report_failed, errors=["States.ALL"], result_path="$.finalizeError")
    finalize_failure.next(fail)
    # The execution's name: the LLM judge's evaluation jobs are found by it when the state lacks them.
    cleanup = lambda_step(
        scope, "Cleanup", fn["cleanup"], {"state.$": "$", "executionName.$": "$$.Execution.Name"}, "$.cleanup", timing
    )
    cleanup.add_catch(finalize_failure, errors=["States.ALL"], result_path="$.cleanupError")
    cleanup.next(finalize_failure)
    # Keep the request untouched under $.input; each step adds its result beside it.
    init = sfn.Pass(scope, "Init", parameters={"input.$": "$", "assignedTeam": team})

    def step(
        name: str,
        function: lambda_.IFunction,
        payload: dict[str, Any],
        result_path: str,
        **kwargs: Any,
    ) -> tasks.LambdaInvoke:
        task = lambda_step(scope, name, function, payload, result_path, timing, **kwargs)
        task.add_catch(cleanup, errors=["States.ALL"], result_path="$.error")
        return task

    validate = step(
        "ValidateRequest",
        fn["validate_request"],
        {"input.$": "$.input", "assignedTeam.$": "$.assignedTeam", "execution": execution},
        "$.run",
    )
    dataset = step(
        "ValidateDataset",
        fn["validate_dataset"],
        {
            "requestId.$": "$.run.requestId",
            "team.$": "$.run.team",
            "baseModelId.$": "$.run.baseModelId",
            "trainingDataUri.$": "$.run.trainingDataUri",
            "validationDataUri.$": "$.run.validationDataUri",
            "hyperParameters.$": "$.run.hyperParameters",
            "customization.$": "$.run.customization",
            # A reinforcement run's grader is tried on the prompts here: a broken grader costs nothing.
            "grader.$": "$.run.grader",
            # Checked with the dataset, before any job: a broken evaluation file must not cost a training.
            "evaluation.$": "$.run.evaluation",
        },
        "$.dataset",
    )
    # The team's monthly cap, before the first spending step: the estimate needs the billed tokens
    # ValidateDataset counted. ValidateRequest's function: it reads the same guardrails (bft.workflow.spend).
    spend_cap = step(
        "CheckSpendCap",
        fn["validate_request"],
        {"phase": "cap", "run.$": "$.run", "dataset.$": "$.dataset"},
        "$.spend",
    )
    # The dataset step's result: a reinforcement run with a built-in grader trains on its copy of the prompts.
    start = step("StartJob", fn["start_job"], {"run.$": "$.run", "dataset.$": "$.dataset"}, "$.job")
    wait_job = step(
        "WaitForJob",
        fn["wait_for_job"],
        {
            "token": sfn.JsonPath.task_token,
            "jobArn.$": "$.job.jobArn",
            "executionArn.$": "$$.Execution.Id",
            "timeoutSeconds.$": "$.run.timeouts.jobSeconds",
        },
        "$.jobResult",
        integration=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        task_timeout=sfn.Timeout.at("$.run.timeouts.jobSeconds"),
    )
    metrics = step("CollectMetrics", fn["collect_metrics"], {"run.$": "$.run", "job.$": "$.job"}, "$.metrics")
    approval = step(
        "RequestApproval",
        fn["request_approval"],
        {"token": sfn.JsonPath.task_token, "run.$": "$.run", "metrics.$": "$.metrics"},
        "$.approval",
        integration=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        task_timeout=sfn.Timeout.at("$.run.timeouts.approvalSeconds"),
    )
    create = step(
        "CreateServing",
        fn["create_serving"],
        {"run.$": "$.run", "modelArn.$": "$.jobResult.outputModelArn"},
        "$.serving",
    )
    first_wait = sfn.Wait(scope, "WaitForServing", time=sfn.WaitTime.seconds_path("$.run.serving.firstPollSeconds"))
    check = step("CheckServing", fn["check_serving"], {"run.$": "$.run", "serving.$": "$.serving"}, "$.serving")
    poll_wait = sfn.Wait(scope, "WaitBeforeNextCheck", time=sfn.WaitTime.seconds_path("$.run.serving.pollSeconds"))
    # The evaluation fans out (bft.workflow.evaluation): plan the chunks, score them through a Map bounded
    # by the serving capacity, then aggregate and gate. The Map's output is discarded: the parts are in S3
    # under keys the plan fixed, so a retried chunk overwrites its part and nothing is counted twice.
    evaluate = step(
        "Evaluate",
        fn["evaluate"],
        {
            "phase": "plan",
            "run.$": "$.run",
            "serving.$": "$.serving",
            "executionName.$": "$$.Execution.Name",
        },
        "$.evaluationPlan",
    )
    chunk = lambda_step(
        scope,
        "EvaluateChunk",
        fn["evaluate"],
        {
            "phase": "chunk",
            "chunk.$": "$.chunk",
            "dataUri.$": "$.dataUri",
            "models.$": "$.models",
            "partsPrefix.$": "$.partsPrefix",
        },
        "$.result",
        # Throttling past the serving capacity is retried longer than other steps' faults: capacity frees up.
        replace(
            timing,
            retry_interval_seconds=EVALUATION_THROTTLE_RETRY_SECONDS,
            retry_max_attempts=max(timing.retry_max_attempts, EVALUATION_THROTTLE_RETRIES),
        ),
    )
    chunks = sfn.Map(
        scope,
        "EvaluateChunks",
        items_path="$.evaluationPlan.chunks",
        max_concurrency_path="$.evaluationPlan.concurrency",
        item_selector={
            "chunk.$": "$$.Map.Item.Value",
            "dataUri.$": "$.run.evaluation.dataUri",
            "models.$": "$.evaluationPlan.models",
            "partsPrefix.$": "$.evaluationPlan.partsPrefix",
        },
        result_path=sfn.JsonPath.DISCARD,
    )
    chunks.item_processor(chunk)
    chunks.add_catch(cleanup, errors=["States.ALL"], result_path="$.error")
    # An LLM judge (bft.workflow.judge): once the chunks have the answers, start the judge's evaluation jobs,
    # then wait and check until they complete (CheckJudge stops them and fails past the request's poll limit).
    # Their state rides in the plan, which ScoreEvaluation reads.
    start_judge = step(
        "StartJudge",
        fn["evaluate"],
        {
            "phase": "judge-start",
            "run.$": "$.run",
            "plan.$": "$.evaluationPlan",
            "executionName.$": "$$.Execution.Name",
        },
        "$.evaluationPlan.judge",
    )
    judge_wait = sfn.Wait(
        scope, "WaitForJudge", time=sfn.WaitTime.seconds_path("$.run.evaluation.judgePoll.pollSeconds")
    )
    check_judge = step(
        "CheckJudge",
        fn["evaluate"],
        {"phase": "judge-check", "run.$": "$.run", "judge.$": "$.evaluationPlan.judge"},
        "$.evaluationPlan.judge",
    )
    judged = sfn.Choice(scope, "JudgeDone?")
    by_judge = sfn.Choice(scope, "JudgeRequested?")
    aggregate = step(
        "ScoreEvaluation",
        fn["evaluate"],
        {"phase": "score", "run.$": "$.run", "plan.$": "$.evaluationPlan"},
        "$.evaluation",
    )
    # Promotion in place (bft.workflow.promotion): a run that names its team's endpoint points it at the model
    # that passed, once served and evaluated on the run's own deployment; then polls until the endpoint
    # serves it, bounded as the serving's polls are.
    promote = step(
        "PromoteToEndpoint",
        fn["promote"],
        {"run.$": "$.run", "serving.$": "$.serving"},
        "$.promotion",
    )
    promotion_wait = sfn.Wait(scope, "WaitForPromotion", time=sfn.WaitTime.seconds_path("$.run.serving.pollSeconds"))
    check_promotion = step(
        "CheckPromotion",
        fn["promote"],
        {"run.$": "$.run", "serving.$": "$.serving", "promotion.$": "$.promotion"},
        "$.promotion",
    )
    promoted = sfn.Choice(scope, "EndpointServesIt?")
    to_endpoint = sfn.Choice(scope, "EndpointRequested?")
    no_endpoint = sfn.Condition.is_null("$.run.serving.endpoint")
    finalize = lambda_step(
        scope,
        "FinalizeSuccess",
        fn["finalize"],
        {"state.$": "$", "status": "SUCCEEDED", "execution": execution},
        "$.result",
        timing,
    )
    finalize.add_catch(cleanup, errors=["States.ALL"], result_path="$.error")
    done = sfn.Succeed(scope, "Deployed")

    after_metrics = sfn.Choice(scope, "ApprovalRequired?")
    ready = sfn.Choice(scope, "ServingReady?")
    evaluation = sfn.Choice(scope, "EvaluationRequested?")
    no_evaluation = sfn.Condition.is_null("$.run.evaluation")
    evaluation.when(sfn.Condition.and_(no_evaluation, no_endpoint), finalize)
    evaluation.when(no_evaluation, promote).otherwise(evaluate)
    evaluate.next(chunks).next(by_judge)
    # The scorer is null when the Evaluate step chooses it from the data: a string first, then which one.
    scorer = "$.run.evaluation.scorer"
    is_judge = sfn.Condition.and_(sfn.Condition.is_string(scorer), sfn.Condition.string_equals(scorer, "llm_judge"))
    by_judge.when(is_judge, start_judge).otherwise(aggregate)
    start_judge.next(judge_wait).next(check_judge).next(judged)
    judged.when(sfn.Condition.boolean_equals("$.evaluationPlan.judge.done", True), aggregate).otherwise(judge_wait)
    aggregate.next(to_endpoint)
    to_endpoint.when(no_endpoint, finalize).otherwise(promote)
    promote.next(promotion_wait).next(check_promotion).next(promoted)
    promoted.when(sfn.Condition.boolean_equals("$.promotion.ready", True), finalize).otherwise(promotion_wait)
    finalize.next(done)
    ready.when(sfn.Condition.boolean_equals("$.serving.ready", True), evaluation).otherwise(poll_wait)
    poll_wait.next(check)
    create.next(first_wait).next(check).next(ready)
    approval.next(create)
    after_metrics.when(sfn.Condition.boolean_equals("$.run.approvalRequired", True), approval).otherwise(create)
    return (
        init.next(validate).next(dataset).next(spend_cap).next(start).next(wait_job).next(metrics).next(after_metrics)
    )


def lambda_step(
    scope: Construct,
    name: str,
    function: lambda_.IFunction,
    payload: dict[str, Any],
    result_path: str,
    timing: Timing,
    *,
    integration: sfn.IntegrationPattern | None = None,
    task_timeout: sfn.Timeout | None = None,
) -> tasks.LambdaInvoke:
    """A Lambda step. Its timeout is the request's (task-token waits) or STEP_TIMEOUT_SECONDS[name]."""
    token = integration == sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN
    # The direct function ARN returns the handler's value itself (no Payload envelope); the task-token
    # integration returns what the resumer sends.
    pattern: dict[str, Any] = {"integration_pattern": integration} if token else {"payload_response_only": True}
    task = tasks.LambdaInvoke(
        scope,
        name,
        lambda_function=function,
        payload=sfn.TaskInput.from_object(payload),
        result_path=result_path,
        task_timeout=task_timeout or sfn.Timeout.duration(Duration.seconds(STEP_TIMEOUT_SECONDS[name])),
        retry_on_service_exceptions=False,
        **pattern,
    )
    if timing.retry_max_attempts:
        task.add_retry(
            errors=TRANSIENT_ERRORS,
            interval=Duration.seconds(timing.retry_interval_seconds),
            max_attempts=timing.retry_max_attempts,
            backoff_rate=RETRY_BACKOFF_RATE,
            max_delay=Duration.seconds(retry_max_delay_seconds(timing.retry_interval_seconds)),
            jitter_strategy=sfn.JitterType.FULL,
        )
    return task
