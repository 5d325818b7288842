"""Model evaluation jobs that use a model as judge, on answers brought as ``precomputedInferenceSource``.

What the fake checks at CreateEvaluationJob, beyond botocore's shape (the name's pattern, at most 10 custom
metrics and 10 rating-scale entries are constraint errors there): one model, given as a precomputed inference
source (a Bedrock model to invoke, human and RAG evaluations are not implemented); a judge offered in the
region; every metric name a custom metric of the job; the role passable and assumable by this job; the dataset
readable by the role, each line a prompt with one model response of the source, at most 1,000 prompts; the
output bucket reachable. docs/bedrock-behaviour.md#evaluation-jobs has the sources, and marks the guesses.

The job completes after a simulated duration (an assumption, :data:`JUDGE_BASE_S` plus
:data:`PER_RATING_S` per rating) and writes its results where AWS's guide says: per record, the judge's rating
per metric. The ratings are **simulated**: the response's ROUGE-L overlap with the reference response mapped
onto the metric's rating scale (lowest value for no overlap, highest for the reference itself), each with an
explanation that says so. When the world checks permissions, the judge is invoked as the job's role:
a role not allowed ``bedrock:InvokeModel`` on the judge fails the job.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from bft.workflow.scoring import rouge_l
from bft_twin.bedrock_fake._core import _Core, _dt, _split_s3
from bft_twin.bedrock_fake._records import STOP_DELAY_S, Step
from bft_twin.bedrock_fake._wire import ServiceError

# Facts: a judge job takes up to 1,000 prompts; an automated job evaluates one model.
MAX_PROMPTS = 1000
# Assumption: a judge job's simulated duration (AWS publishes none).
JUDGE_BASE_S = 15 * 60.0
PER_RATING_S = 1.0
SIMULATED = "Simulated judge"


@dataclass
class EvaluationJob:
    arn: str
    job_id: str
    name: str
    request: dict[str, Any]
    created: float
    judge: str
    source: str
    records: list[dict[str, Any]]
    s3: Any
    status: str = "InProgress"
    modified: float = 0.0
    steps: list[Step] = field(default_factory=list)
    failure_messages: list[str] = field(default_factory=list)


def _automated(request: dict[str, Any]) -> dict[str, Any]:
    config = request["evaluationConfig"]
    if "human" in config:
        raise NotImplementedError("Bedrock fake: human-based evaluation jobs are not implemented")
    if "automated" not in config:
        # Assumption: wording.
        raise ServiceError("ValidationException", "evaluationConfig must specify automated or human.")
    return dict(config["automated"])


class _Evaluations(_Core):
    """CreateEvaluationJob, GetEvaluationJob, StopEvaluationJob and ListEvaluationJobs."""

    _evaluations: dict[str, EvaluationJob]
    # (role ARN, job ARN, model id) -> None when the role may invoke the model, else why not.
    _service_role_invoke: Callable[[str, str, str], str | None] | None
    _check_role: Callable[[str], None]
    _job_s3: Callable[[str, str], Any]
    _check_output_bucket: Callable[[Any, str], None]

    def _find_evaluation(self, identifier: str) -> EvaluationJob:
        job = self._evaluations.get(identifier)
        if job is None:
            # Assumption: wording of not-found messages.
            raise ServiceError("ResourceNotFoundException", f"Evaluation job {identifier} not found.")
        return job

    def _judge_of(self, automated: dict[str, Any]) -> str:
        custom = automated.get("customMetricConfig")
        if custom is None:
            raise NotImplementedError("Bedrock fake: evaluation jobs with built-in metrics only are not implemented")
        judges = {m["modelIdentifier"] for m in custom["evaluatorModelConfig"]["bedrockEvaluatorModels"]}
        judges |= {
            m["modelIdentifier"]
            for m in (automated.get("evaluatorModelConfig") or {}).get("bedrockEvaluatorModels") or []
        }
        if len(judges) != 1:
            # Assumption: one judge for the custom metrics and the built-in ones.
            raise ServiceError("ValidationException", "An evaluation job takes one evaluator model.")
        judge = judges.pop()
        model_id = judge.rsplit("foundation-model/", 1)[-1]
        offered = [j.model_id for j in self._judges_in_region()]
        if model_id not in offered:
            # Assumption: code and wording (a judge not offered here, or no judge at all).
            raise ServiceError(
                "ValidationException",
                f"The evaluator model {judge} is not supported for model evaluation jobs in {self.region}.",
            )
        return model_id

    def _judges_in_region(self) -> list[Any]:
        from bft.catalog import catalog

        return catalog().judges_in(self.region)

    def _create_evaluation(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        replayed = self._replay("CreateEvaluationJob", request)
        if replayed is not None:
            return {"jobArn": replayed}
        if request.get("applicationType", "ModelEvaluation") != "ModelEvaluation":
            raise NotImplementedError("Bedrock fake: RAG evaluation jobs are not implemented")
        automated = _automated(request)
        models = request["inferenceConfig"].get("models") or []
        if len(models) != 1:
            # Facts: an automated job evaluates one model (a human-based one, two). Assumption: wording.
            raise ServiceError("ValidationException", "An automated model evaluation job evaluates exactly one model.")
        if "precomputedInferenceSource" not in models[0]:
            raise NotImplementedError("Bedrock fake: evaluating a Bedrock model it invokes is not implemented")
        source = models[0]["precomputedInferenceSource"]["inferenceSourceIdentifier"]
        judge = self._judge_of(automated)
        defined = {m["customMetricDefinition"]["name"] for m in automated["customMetricConfig"]["customMetrics"]}
        for config in automated["datasetMetricConfigs"]:
            for metric in config["metricNames"]:
                if metric.startswith("Builtin."):
                    raise NotImplementedError("Bedrock fake: built-in judge metrics are not implemented")
                if metric not in defined:
                    # Guess: a metric name must be a custom metric the job defines (wording assumed).
                    raise ServiceError(
                        "ValidationException",
                        f"Metric {metric} is not a built-in metric or a custom metric of the job.",
                    )
            if "datasetLocation" not in config["dataset"]:
                # Guess: precomputed answers come in the team's dataset, never a built-in one.
                raise ServiceError("ValidationException", "A precomputed inference source needs a custom dataset.")
        name = request["jobName"]
        if any(j.name == name for j in self._evaluations.values()):
            # Facts: the name must be unique in the account and region. Guess: the code (Create declares Conflict).
            raise ServiceError("ConflictException", f"An evaluation job named {name} already exists.")
        self._check_role(request["roleArn"])
        job_id = self._new_id()
        arn = self._arn(f"evaluation-job/{job_id}")
        s3 = self._job_s3(request["roleArn"], arn)
        records: list[dict[str, Any]] = []
        for config in automated["datasetMetricConfigs"]:
            records += self._evaluation_dataset(s3, config["dataset"]["datasetLocation"]["s3Uri"], source)
        self._check_output_bucket(s3, request["outputDataConfig"]["s3Uri"])
        ratings = len(records) * len(defined)
        job = EvaluationJob(arn, job_id, name, request, now, judge, source, records, s3, modified=now)
        job.steps = [Step(now + JUDGE_BASE_S + PER_RATING_S * ratings, "complete")]
        self._evaluations[arn] = job
        self._tags[arn] = list(request.get("jobTags") or [])
        self._remember("CreateEvaluationJob", request, arn)
        self.counters.evaluation_jobs_started += 1
        return {"jobArn": arn}

    @staticmethod
    def _evaluation_dataset(s3: Any, uri: str, source: str) -> list[dict[str, Any]]:
        """The precomputed records at ``uri``, read as the job's role; ValidationException for a bad one."""
        if s3 is None:
            raise NotImplementedError("Bedrock fake: evaluation jobs need an S3 client")
        bucket, key = _split_s3(uri)
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            # Assumption: as for customization jobs, data access is checked at creation (wording assumed).
            raise ServiceError(
                "ValidationException", f"Amazon Bedrock could not access the evaluation dataset at {uri}: {error}"
            ) from None
        records = []
        for number, line in enumerate(body.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                responses = record["modelResponses"]
                valid = (
                    isinstance(record["prompt"], str)
                    and isinstance(responses, list)
                    and len(responses) == 1
                    and isinstance(responses[0]["response"], str)
                    and responses[0]["modelIdentifier"] == source
                )
            except (ValueError, KeyError, TypeError, IndexError):
                valid = False
            if not valid:
                # Facts: each line a JSON object with prompt and modelResponses [{response, modelIdentifier}], the
                # identifier the job's inferenceSourceIdentifier. Assumption: wording.
                raise ServiceError(
                    "ValidationException",
                    f"Line {number} of {uri} is not a valid prompt with one model response from source {source}.",
                )
            records.append(record)
        if not records or len(records) > MAX_PROMPTS:
            raise ServiceError(
                "ValidationException",
                f"The dataset at {uri} has {len(records)} prompts; an evaluation job that uses a judge model takes "
                f"1 to {MAX_PROMPTS}.",
            )
        return records

    def _apply_evaluation(self, job: EvaluationJob, step: Step) -> None:
        job.modified = step.at
        if step.kind == "stopping":
            job.status = "Stopping"
        elif step.kind == "stopped":
            job.status = "Stopped"
        elif step.kind == "complete":
            self._complete_evaluation(job)

    def _complete_evaluation(self, job: EvaluationJob) -> None:
        denied = (
            self._service_role_invoke(job.request["roleArn"], job.arn, job.judge)
            if self._service_role_invoke is not None
            else None
        )
        if denied is not None:
            # Assumption: a judge the role may not invoke fails the job, its message AWS's denial.
            job.status, job.failure_messages = "Failed", [denied]
            return
        automated = job.request["evaluationConfig"]["automated"]
        metrics = [m["customMetricDefinition"] for m in automated["customMetricConfig"]["customMetrics"]]
        output, _ = _split_s3(job.request["outputDataConfig"]["s3Uri"])
        root = self._output_root(job)
        try:
            with self._stand_in():
                for config in automated["datasetMetricConfigs"]:
                    lines = [
                        json.dumps(self._rated(record, metrics, config["metricNames"], job.judge))
                        for record in job.records
                    ]
                    key = (
                        f"{root}/models/{job.source}/taskTypes/{config['taskType']}/datasets/"
                        f"{config['dataset']['name']}/{self._new_id()}_output.jsonl"
                    )
                    job.s3.put_object(Bucket=output, Key=key, Body="\n".join(lines).encode())
                for metric in metrics:
                    job.s3.put_object(
                        Bucket=output, Key=f"{root}/custom_metrics/{metric['name']}.json", Body=json.dumps(metric)
                    )
        except ClientError as error:
            # Assumption: an unwritable output location fails the job (wording assumed).
            job.status, job.failure_messages = "Failed", [f"Amazon Bedrock could not write the results: {error}"]
            return
        job.status = "Completed"
        self.counters.evaluation_jobs_completed += 1

    def _output_root(self, job: EvaluationJob) -> str:
        """<output path>/<job name>/<job uuid>: the guide's layout (the uuid is the job id here, a guess)."""
        _, prefix = _split_s3(job.request["outputDataConfig"]["s3Uri"])
        base = f"{prefix.rstrip('/')}/" if prefix.strip("/") else ""
        return f"{base}{job.name}/{job.job_id}"

    @staticmethod
    def _rated(record: dict[str, Any], metrics: list[dict[str, Any]], names: list[str], judge: str) -> dict[str, Any]:
        response = record["modelResponses"][0]["response"]
        reference = record.get("referenceResponse")
        overlap = rouge_l(reference, response) if isinstance(reference, str) else 0.5
        scores = []
        for metric in metrics:
            if metric["name"] not in names:
                continue
            values = sorted(item["value"]["floatValue"] for item in metric.get("ratingScale") or [])
            if not values:  # Facts: without a rating scale Bedrock computes no numeric average.
                result: float | None = None
            else:
                result = values[round(overlap * (len(values) - 1))]
            scores.append(
                {
                    "metricName": metric["name"],
                    "result": result,
                    "evaluatorDetails": [
                        {
                            "modelIdentifier": judge,
                            "explanation": f"{SIMULATED}: the response's ROUGE-L overlap with the reference is "
                            f"{overlap:.2f}, mapped onto the rating scale. Not a model's judgement.",
                        }
                    ],
                }
            )
        return {
            "automatedEvaluationResult": {"scores": scores},
            "inputRecord": copy.deepcopy(record),
            "modelResponses": copy.deepcopy(record["modelResponses"]),
        }

    def _evaluation_view(self, job: EvaluationJob) -> dict[str, Any]:
        request = job.request
        view: dict[str, Any] = {
            "jobName": job.name,
            "status": job.status,
            "jobArn": job.arn,
            "roleArn": request["roleArn"],
            "jobType": "Automated",
            "applicationType": request.get("applicationType", "ModelEvaluation"),
            "evaluationConfig": copy.deepcopy(request["evaluationConfig"]),
            "inferenceConfig": copy.deepcopy(request["inferenceConfig"]),
            "outputDataConfig": copy.deepcopy(request["outputDataConfig"]),
            "creationTime": _dt(job.created),
            "lastModifiedTime": _dt(job.modified),
        }
        if request.get("jobDescription"):
            view["jobDescription"] = request["jobDescription"]
        if job.failure_messages:
            view["failureMessages"] = list(job.failure_messages)
        return view

    def _get_evaluation(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        return self._evaluation_view(self._find_evaluation(request["jobIdentifier"]))

    def _stop_evaluation(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        job = self._find_evaluation(request["jobIdentifier"])
        if job.status != "InProgress":
            # Assumption: as for customization jobs, only an InProgress job can be stopped (Stop declares Conflict).
            raise ServiceError("ConflictException", f"Evaluation job {job.name} is {job.status} and cannot be stopped.")
        self._apply_evaluation(job, Step(now, "stopping"))
        job.steps = [Step(now + STOP_DELAY_S, "stopped")]
        self.counters.evaluation_jobs_stopped += 1
        return {}

    def _list_evaluations(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        needle = request.get("nameContains") or ""
        found = [
            j
            for j in self._evaluations.values()
            if request.get("statusEquals") in (None, j.status)
            and request.get("applicationTypeEquals") in (None, "ModelEvaluation")
            and needle in j.name
            and self._in_window(j.created, request, "creationTimeAfter", "creationTimeBefore")
        ]
        page, following = self._page("ListEvaluationJobs", self._order(found, lambda j: j.created, request), request)
        summaries = [
            {
                "jobArn": j.arn,
                "jobName": j.name,
                "status": j.status,
                "creationTime": _dt(j.created),
                "jobType": "Automated",
                "evaluationTaskTypes": [
                    c["taskType"] for c in j.request["evaluationConfig"]["automated"]["datasetMetricConfigs"]
                ],
                "customMetricsEvaluatorModelIdentifiers": [j.judge],
                "inferenceConfigSummary": {"modelConfigSummary": {"precomputedInferenceSourceIdentifiers": [j.source]}},
                "applicationType": "ModelEvaluation",
            }
            for j in page
        ]
        result: dict[str, Any] = {"jobSummaries": summaries}
        if following:
            result["nextToken"] = following
        return result
