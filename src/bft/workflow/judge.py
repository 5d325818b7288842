"""Step 7 with ``evaluation.scorer: llm_judge``: a Bedrock evaluation job rates the answers with a judge model.

The Evaluate step's chunks have the custom model's (and the base model's) answers in their parts, as for
every scorer. Then:

1. :func:`start` (state ``StartJudge``) writes one dataset per model in Bedrock's format for your own
   inference responses (``prompt``, ``referenceResponse``, ``modelResponses[{response, modelIdentifier}]``)
   to the outputs bucket under ``judge/<team>/<request>/<execution>/``, and starts one automated evaluation
   job per model: the answers as ``precomputedInferenceSource`` (an evaluation job takes no custom-model
   deployment ARN as its model, and this way the judge rates exactly the answers the report shows), the
   request's judge, the rubric as custom metrics. Names and idempotency tokens come from the execution, so a
   retried start finds its jobs instead of starting more.
2. The state machine waits (``WaitForJudge``) and :func:`check` (state ``CheckJudge``) reads each job:
   all Completed goes on; a Failed or Stopped one stops the other and fails the run (JobFailed, Bedrock's
   messages); past ``judge_max_polls`` it stops them and fails the run (JobStopped).
3. ``ScoreEvaluation`` (:func:`bft.workflow.evaluation.aggregate`) reads the results (:func:`ratings`) and
   scores each model per rubric metric: the mean rating mapped onto 0-1 (:func:`bft.workflow.rubric.normalized`).

Where Bedrock writes the results, and what a custom metric's ``result`` holds, are in
docs/bedrock-behaviour.md#evaluation-jobs (the output layout is AWS's guide; the result being the rating's
value is a guess there).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from botocore.exceptions import ClientError

from bft.aws_errors import bedrock_call, error_code
from bft.errors import JobFailed, JobStopped, RequestInvalid
from bft.workflow.rubric import job_metric, normalized
from bft.workflow.s3io import split_uri

# The dataset's name in the job (the results' path carries it) and the task type of custom-metric jobs.
DATASET_NAME = "evaluation"
TASK_TYPE = "Custom"
FINAL = ("Completed", "Failed", "Stopped")


def judge_prefix(run: dict[str, Any], execution_name: str) -> str:
    return f"judge/{run['team']}/{run['requestId']}/{execution_name}/"


def job_prefix(execution_name: str) -> str:
    """What the names of one execution's evaluation jobs start with (before ``-<model>``); a valid
    ``nameContains`` of ListEvaluationJobs (the name's pattern: it may not end with a hyphen)."""
    return f"bft-judge-{hashlib.sha256(execution_name.encode()).hexdigest()[:16]}"


def job_name(execution_name: str, model: str) -> str:
    """An evaluation job's name: lower-case letters, digits and hyphens, unique per execution and model."""
    return f"{job_prefix(execution_name)}-{model}"


def start(
    run: dict[str, Any],
    planned: dict[str, Any],
    rows: list[dict[str, Any]],
    prompts: dict[int, str],
    *,
    s3: Any,
    bedrock: Any,
    outputs_bucket: str,
    role_arn: str,
    execution_name: str,
) -> dict[str, Any]:
    """Write each model's precomputed answers and start its evaluation job; the state :func:`check` polls."""
    spec = run["evaluation"]
    prefix = judge_prefix(run, execution_name)
    output_uri = f"s3://{outputs_bucket}/{prefix}output/"
    jobs: dict[str, str] = {}
    names: dict[str, str] = {}
    for model in planned["models"]:
        lines = [
            json.dumps(
                {
                    "prompt": prompts[row["line"]],
                    "referenceResponse": row["expected"],
                    "modelResponses": [{"response": row[model], "modelIdentifier": model}],
                },
                ensure_ascii=False,
            )
            for row in rows
        ]
        key = f"{prefix}input/{model}.jsonl"
        s3.put_object(Bucket=outputs_bucket, Key=key, Body="\n".join(lines).encode())
        name = job_name(execution_name, model)
        with bedrock_call("CreateEvaluationJob"):
            created = bedrock.create_evaluation_job(
                jobName=name,
                jobDescription=f"LLM judge of {run['team']}/{run['requestId']}: the {model} model's answers",
                clientRequestToken=name,
                roleArn=role_arn,
                applicationType="ModelEvaluation",
                evaluationConfig={
                    "automated": {
                        "datasetMetricConfigs": [
                            {
                                "taskType": TASK_TYPE,
                                "dataset": {
                                    "name": DATASET_NAME,
                                    "datasetLocation": {"s3Uri": f"s3://{outputs_bucket}/{key}"},
                                },
                                "metricNames": [metric["name"] for metric in spec["rubric"]],
                            }
                        ],
                        "customMetricConfig": {
                            "customMetrics": [job_metric(metric) for metric in spec["rubric"]],
                            "evaluatorModelConfig": {
                                "bedrockEvaluatorModels": [{"modelIdentifier": spec["judgeModel"]}]
                            },
                        },
                    }
                },
                inferenceConfig={"models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": model}}]},
                outputDataConfig={"s3Uri": output_uri},
                jobTags=run["tags"],
            )
        jobs[model], names[model] = created["jobArn"], name
    return {"jobs": jobs, "names": names, "outputUri": output_uri, "polls": 0, "done": False, "statuses": {}}


def check(run: dict[str, Any], judge: dict[str, Any], *, bedrock: Any) -> dict[str, Any]:
    """Each job's status: done when all Completed; JobFailed when one failed or was stopped (the others are
    stopped); JobStopped when the jobs ran past ``judge_max_polls`` polls (they are stopped)."""
    statuses: dict[str, str] = {}
    failures: list[str] = []
    for model, arn in judge["jobs"].items():
        with bedrock_call("GetEvaluationJob"):
            job = bedrock.get_evaluation_job(jobIdentifier=arn)
        statuses[model] = job["status"]
        if job["status"] in ("Failed", "Stopped", "Stopping"):
            messages = "; ".join(job.get("failureMessages") or []) or "no message"
            failures.append(f"the {model} model's evaluation job {job['jobName']} is {job['status']}: {messages}")
    if failures:
        _stop(bedrock, judge["jobs"], statuses)
        raise JobFailed("the judge's evaluation failed: " + " | ".join(failures))
    if all(status == "Completed" for status in statuses.values()):
        return judge | {"done": True, "statuses": statuses}
    polls = judge["polls"] + 1
    limit = run["evaluation"]["judgePoll"]["maxPolls"]
    if polls >= limit:
        _stop(bedrock, judge["jobs"], statuses)
        seconds = limit * run["evaluation"]["judgePoll"]["pollSeconds"]
        raise JobStopped(
            f"the judge's evaluation jobs did not finish within {limit} polls ({seconds:,} s: workflow.judge_max_polls"
            f" x judge_poll_seconds); they were stopped ({', '.join(f'{m} {s}' for m, s in statuses.items())})"
        )
    return judge | {"polls": polls, "statuses": statuses}


def _stop(bedrock: Any, jobs: dict[str, str], statuses: dict[str, str]) -> None:
    for model, arn in jobs.items():
        if statuses.get(model) != "InProgress":
            continue
        try:
            with bedrock_call("StopEvaluationJob"):
                bedrock.stop_evaluation_job(jobIdentifier=arn)
        except ClientError as exc:
            if error_code(exc) != "ConflictException":  # Conflict: it ended meanwhile, nothing to stop
                raise


def find_jobs(bedrock: Any, execution_name: str, models: list[str]) -> dict[str, str]:
    """The evaluation jobs StartJudge created for this execution, by their deterministic names (model -> ARN):
    for a run that failed before StartJudge returned its state. ListEvaluationJobs matches a part of the name
    (the names' common prefix); only an exact name is this execution's (GetEvaluationJob takes only an ARN)."""
    wanted = {job_name(execution_name, model): model for model in models}
    found: dict[str, str] = {}
    with bedrock_call("ListEvaluationJobs"):
        pages = bedrock.get_paginator("list_evaluation_jobs").paginate(nameContains=job_prefix(execution_name))
        for page in pages:
            for summary in page.get("jobSummaries") or []:
                if summary["jobName"] in wanted:
                    found[wanted[summary["jobName"]]] = summary["jobArn"]
    return found


def stop_job(bedrock: Any, arn: str) -> str:
    """Stop one evaluation job if it is still InProgress; returns what was done."""
    with bedrock_call("GetEvaluationJob"):
        status = bedrock.get_evaluation_job(jobIdentifier=arn)["status"]
    if status != "InProgress":
        return f"evaluation job already {status}"
    try:
        with bedrock_call("StopEvaluationJob"):
            bedrock.stop_evaluation_job(jobIdentifier=arn)
    except ClientError as exc:
        if error_code(exc) != "ConflictException":  # it ended between the Get and the Stop
            raise
        return "evaluation job ended before it could be stopped"
    return "evaluation job stopped"


def ratings(
    run: dict[str, Any], judge: dict[str, Any], model: str, records: int, *, s3: Any
) -> list[dict[str, float | None]]:
    """Per record (in the dataset's order), the judge's rating of each rubric metric mapped onto 0-1 (None
    when the judge gave none), read from the model's job results under the job's output location."""
    bucket, prefix = split_uri(judge["outputUri"])
    arn = judge["jobs"][model]
    job_prefix = f"{prefix}{judge['names'][model]}/"
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=job_prefix):
        keys += [o["Key"] for o in page.get("Contents") or [] if o["Key"].endswith("_output.jsonl")]
    if not keys:
        raise RequestInvalid(f"the judge's evaluation job {arn} wrote no results under s3://{bucket}/{job_prefix}")
    metrics = {metric["name"]: metric for metric in run["evaluation"]["rubric"]}
    found: list[dict[str, float | None]] = []
    for key in sorted(keys):
        for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines():
            if not line.strip():
                continue
            scores = json.loads(line)["automatedEvaluationResult"]["scores"]
            found.append(
                {
                    score["metricName"]: None
                    if score.get("result") is None
                    else normalized(metrics[score["metricName"]], float(score["result"]))
                    for score in scores
                    if score["metricName"] in metrics
                }
            )
    if len(found) != records:
        raise RequestInvalid(f"the judge rated {len(found)} records of the {model} model's {records}")
    return found


def mean(values: list[float | None]) -> float:
    rated = [value for value in values if value is not None]
    return round(sum(rated) / len(rated), 4) if rated else 0.0
