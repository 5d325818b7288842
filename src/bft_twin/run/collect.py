"""Collecting what a run left behind, once its executions ended: the report Finalize wrote and its documents,
each run of the team, the team endpoint, the follow-ups, and the summary `bft local-run --json` prints."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bft.workflow.report import REFUSED_FOLDER
from bft_twin.run.world import Afterwards, _job_status, endpoint_state

if TYPE_CHECKING:
    from bft_twin.offline import ExecutionResult, OfflineAssembly
    from bft_twin.run.arrange import Plan, Stage


def collect(
    stage: Stage,
    plan: Plan,
    sequence: list[dict[str, Any]],
    *,
    background_errors: list[str],
    scheduled_invocations: int,
    report_dir: Path | None,
    started: float,
    job_hours: float | None,
) -> dict[str, Any]:
    """The run's summary, from what it left in the world; ``sequence`` is each run's request id and results."""
    env, fake, request = stage.env, stage.fake, stage.request
    scenario, environment, team = plan.scenario, plan.environment, plan.target.team
    results: list[ExecutionResult] = sequence[-1]["results"]
    # The execution that owns the (last) request (a duplicate submission's twin fails with DuplicateRequest).
    first = next((r for r in results if r.error != "DuplicateRequest"), results[0])
    reports_bucket = env.stack_output_by_key("ReportsBucketName")
    report_key, report = read_report(stage.s3, reports_bucket, team, request["requestId"], first.execution_arn)
    # The run's other documents live only in moto: read them before the context discards them.
    documents = {
        doc: loaded
        for doc in ("metrics.json", "evaluation.json", "dataset-validation.json")
        if (loaded := _read_json(stage.s3, reports_bucket, f"reports/{team}/{request['requestId']}/{doc}")) is not None
    }
    # The report Finalize wrote into the simulated bucket, downloaded as a team member would (`bft report`).
    # The objects its record lists that are in the bucket (a check on the record, not a second listing).
    stored = stage.s3.list_objects_v2(Bucket=reports_bucket, Prefix=report_key.rsplit("/", 1)[0] + "/")
    in_bucket = {obj["Key"] for obj in stored.get("Contents", [])}
    report_objects = [key for key in (report or {}).get("reportObjects") or [] if key in in_bucket]
    if report_dir is not None:
        download_report(stage.submitter_s3, reports_bucket, report_objects, report_dir)
    runs = [summarize_run(stage.s3, reports_bucket, team, item) for item in sequence]
    endpoint_name = request["serving"].get("endpoint")
    # The endpoint as the runs left it, before any follow-up changes it.
    endpoint = endpoint_state(fake, environment, team, endpoint_name) if endpoint_name else None
    afterwards: list[dict[str, Any]] = []
    if stage.world.afterwards:
        after = Afterwards(
            env=env, fake=fake, submitter=stage.submitter, environment=environment, team=team, request=request
        )
        afterwards = [follow_up(after) for follow_up in stage.world.afterwards]
    notifications = env.sns_messages()
    deployments_left = [d["customModelDeploymentArn"] for d in fake.custom_model_deployments()]
    evaluation_jobs = fake.evaluation_jobs()
    # A run on the user's own files expects no outcome: it ends as its data and evaluation say.
    own_files = {uri: str(stage.own[kind]) for kind, uri in stage.own_uris.items()}
    return {
        "scenario": plan.name,
        "model": plan.model,
        "environment": environment,
        "region": plan.target.region,
        "time_factor": plan.target.time_factor,
        "status": first.status,
        "outcome": (report or {}).get("outcome"),
        "expected_outcome": None if own_files else scenario.outcome,
        "own_data": {kind: str(path) for kind, path in stage.own.items() if path is not None} if own_files else None,
        "own_data_uris": dict(stage.own_uris) or None,
        # The dataset's errors as the user's own files name them (the first 10; all in dataset-validation.json).
        "dataset_errors": _dataset_errors(documents.get("dataset-validation.json"), own_files),
        "jobs_started": fake.counters.jobs_started,
        "jobs_left_running": len(fake.running_jobs()),
        # Each customization job as GetModelCustomizationJob shows it: its type, and a reinforcement job's grader.
        "jobs": [
            {
                "name": j["jobName"],
                "status": j["status"],
                "customizationType": j["customizationType"],
                "grader": ((j.get("customizationConfig") or {}).get("rftConfig") or {})
                .get("graderConfig", {})
                .get("lambdaGrader", {})
                .get("lambdaArn"),
            }
            for j in fake.customization_jobs()
        ],
        # The LLM judge's evaluation jobs (evaluation.scorer llm_judge), each as GetEvaluationJob shows it; those
        # still running (or stopping) bill the judge's tokens, as a running customization job bills training.
        "evaluation_jobs": [
            {"name": j["jobName"], "status": j["status"], "failureMessages": j.get("failureMessages", [])}
            for j in evaluation_jobs
        ],
        "evaluation_jobs_left_running": sum(j["status"] in ("InProgress", "Stopping") for j in evaluation_jobs),
        "provisioned_throughputs_left": [pt["provisionedModelArn"] for pt in fake.provisioned_throughputs()],
        "deployments_left": deployments_left,
        "serving": serving_summary(report),
        # Every run of the scenario in order (one unless it runs the team several times), and its team endpoint.
        "runs": runs,
        "endpoint": endpoint,
        "afterwards": afterwards,
        "notifications": [{"subject": n["subject"], "message": n["message"]} for n in notifications],
        "state_transitions": first.state_transitions,
        # Steps the state machine invoked, plus the event-driven resume (JobEvents) of its job.
        "lambda_invocations": first.lambda_invocations + len(stage.bus.delivered),
        "events_put": stage.bus.routed,
        # Each delivery of a job state-change event to its rule's function (duplicates included).
        "event_deliveries": [
            {
                "jobStatus": _job_status(i.event) if isinstance(i.event, dict) else None,
                "error": (i.error or {}).get("errorType"),
            }
            for i in stage.bus.delivered
        ],
        "background_errors": background_errors,
        "scheduled_invocations": scheduled_invocations,
        "states_visited": first.states_visited,
        # Each entry into a task state schedules it once; every further schedule is a retry.
        "retries": len(first.events("TaskScheduled"))
        + len(first.events("LambdaFunctionScheduled"))
        - len(first.events("TaskStateEntered")),
        "report_uri": f"s3://{reports_bucket}/{report_key}" if report else None,
        "report_objects": report_objects,
        "report": report,
        "documents": documents,
        "executions": [{"status": r.status, "error": r.error, "cause": r.cause} for r in results],
        "authorization": _authorization_summary(env),
        "runtime": env.runtime(),  # the Python the handlers ran on vs the functions' runtime
        "scenario_parameters": stage.scenario_parameters,
        "elapsed_seconds": round(time.monotonic() - started, 2),
        "simulated_job_hours": job_hours or scenario.job_hours,
        # Tokens per query, latency and cost per 1,000 queries, base against custom (the seed's other headline):
        # computed from the simulated models' answers and the illustrative prices, so labelled simulated.
        "per_query": _per_query(report),
        "evaluation": stage.evaluation_timing.summary(
            documents.get("evaluation.json"),
            timeout_seconds=env.function_timeout("Workflow/Functions/Evaluate"),
            fake=fake,
        ),
    }


def read_report(
    s3: Any, bucket: str, team: str, request_id: str, execution_arn: str
) -> tuple[str, dict[str, Any] | None]:
    """The key of the run's record (run.json) and the record, None when Finalize wrote none."""
    # A request ValidateRequest refused is reported under _refused/<execution name>, not the id it claimed.
    return next(
        (
            (key, found)
            for folder in (request_id, f"{REFUSED_FOLDER}/{execution_arn.rsplit(':', 1)[-1]}")
            if (found := _read_json(s3, bucket, key := f"reports/{team}/{folder}/run.json")) is not None
        ),
        (f"reports/{team}/{request_id}/run.json", None),
    )


def summarize_run(s3: Any, bucket: str, team: str, item: dict[str, Any]) -> dict[str, Any]:
    """One run of the team (its request id and execution results): how it ended, as its record says."""
    recorded = _read_json(s3, bucket, f"reports/{team}/{item['requestId']}/run.json") or {}
    return {
        "requestId": item["requestId"],
        "status": item["results"][0].status,
        "outcome": recorded.get("outcome"),
        "model": (recorded.get("jobResult") or {}).get("outputModelArn"),
        "promotion": recorded.get("promotion"),
    }


def download_report(s3: Any, bucket: str, keys: list[str], out_dir: Path) -> dict[str, Path]:
    """Each report object into ``out_dir`` by its file name; a loss chart of an earlier run there is removed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for key in keys:
        name = key.rsplit("/", 1)[-1]
        s3.download_file(bucket, key, str(out_dir / name))
        written[name] = out_dir / name
    if "loss.svg" not in written:
        (out_dir / "loss.svg").unlink(missing_ok=True)  # it would contradict this report
    return written


# The summary's names for the two ways of serving (the request's kind -> what Bedrock calls the resource).
SERVING_SUMMARY_KINDS = {
    "on-demand-deployment": "custom-model-deployment",
    "provisioned-throughput": "provisioned-throughput",
}


def serving_summary(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{kind, arn, hourly_cost_usd}`` of what serves the custom model after the run; None when nothing does."""
    report = report or {}
    serving = report.get("serving") or {}
    promotion = report.get("promotion") or {}
    if promotion.get("ready"):  # the team's endpoint serves the model; the run's own deployment is gone
        serving = {"kind": "on-demand-deployment", "arn": promotion.get("arn")}
    live = [item for item in report.get("leftRunning") or [] if item.get("arn") == serving.get("arn")]
    if not serving or not live:
        return None
    return {
        "kind": SERVING_SUMMARY_KINDS.get(str(serving.get("kind")), str(serving.get("kind"))),
        "arn": serving.get("arn"),
        "hourly_cost_usd": live[0].get("hourlyCostUsd"),
    }


def _authorization_summary(env: OfflineAssembly) -> dict[str, Any]:
    """What the offline IAM decided: every call of the run was authorized from the templates' policies."""
    records = env.authorizer.records
    denied = [r for r in records if not r.allowed]
    return {
        "calls_authorized": len(records) - len(denied),
        # Undecidable calls are refusals too (the twin fails closed); counted here and listed apart.
        "calls_denied": len(denied),
        "calls_undecidable": sum(1 for r in denied if r.undecidable),
        "denied": [f"{r.principal}: {r.action} on {r.resource}: {r.reason}" for r in denied],
        "deliveries_denied": list(env.denied_deliveries),
    }


def in_your_files(text: str, own_files: dict[str, str]) -> str:
    """``text`` with each S3 URI the user's files were uploaded to replaced by the file's own path."""
    for uri, path in own_files.items():
        text = text.replace(uri, path)
    return text


def _dataset_errors(document: dict[str, Any] | None, own_files: dict[str, str]) -> list[str]:
    """The validation's first errors, one line each, naming the user's files where the run used them."""
    from bft.dataset.report import Issue

    errors = (document or {}).get("errors") or []
    lines = []
    for error in errors[:10]:
        fields = {key: error.get(key) for key in ("file", "line", "field", "code", "message")}
        issue = Issue(**fields, more_on_record=int(error.get("more_on_record") or 0))
        lines.append(in_your_files(str(issue), own_files))
    return lines


def _read_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:

    try:
        loaded: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        return loaded
    except s3.exceptions.NoSuchKey:
        return None


def _per_query(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The evaluation's per-query figures and their cost, as Finalize recorded them (None: not evaluated)."""
    evaluation = (report or {}).get("evaluation") or {}
    figures = evaluation.get("perQuery")
    if not figures:
        return None
    cost = ((report or {}).get("cost") or {}).get("perQuery") or {}
    return {
        "simulated": True,
        "models": figures,
        "token_reduction": evaluation.get("tokenReduction"),
        "per_thousand_queries_usd": cost.get("perThousandQueriesUsd"),
        "price_source": cost.get("priceSource"),
    }
