"""What Finalize gathers for the report, and the objects it writes under the run's prefix.

Every run's prefix, ``reports/<team>/<request>/``, ends up holding ``report.html``, ``report.md`` (and
``loss.svg`` when the job wrote loss curves) beside ``run.json`` and the documents the steps wrote.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from bft.aws_errors import TRANSIENT_CODES, error_code
from bft.errors import TransientError
from bft.report import notification
from bft.report.render import DOCUMENTS, render

RUN_RECORD = "run.json"
CONTENT_TYPES = {
    "report.html": "text/html; charset=utf-8",
    "report.md": "text/markdown; charset=utf-8",
    "loss.svg": "image/svg+xml",
    RUN_RECORD: "application/json",
}


def execution_path(sfn: Any, execution_arn: str) -> dict[str, Any]:
    """The states this execution entered so far, in order, from its history (states:GetExecutionHistory).

    A throttled read is retried by the state machine (TransientError); a refusal propagates (the handler
    names it AccessDenied): a report that quietly lost its path would hide a broken deployment."""
    events: list[dict[str, Any]] = []
    try:
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
    except ClientError as exc:
        if error_code(exc) in TRANSIENT_CODES:
            raise TransientError(f"Step Functions GetExecutionHistory: {error_code(exc)}") from exc
        raise
    states = [
        str(event["stateEnteredEventDetails"]["name"])
        for event in events
        if event["type"].endswith("StateEntered") and "stateEnteredEventDetails" in event
    ]
    scheduled = sum(1 for event in events if _lambda_scheduled(event))
    task_entries = sum(1 for event in events if event["type"] == "TaskStateEntered")
    return {
        "states": states,
        "stateTransitions": len(states),
        "lambdaInvocations": scheduled,
        # Each entry into a task state schedules it once; every further schedule is a retry.
        "retries": max(0, scheduled - task_entries),
    }


def _lambda_scheduled(event: dict[str, Any]) -> bool:
    if event["type"] == "LambdaFunctionScheduled":
        return True
    details = event.get("taskScheduledEventDetails") or {}
    return event["type"] == "TaskScheduled" and details.get("resourceType") == "lambda"


def read_documents(s3: Any, bucket: str, prefix: str) -> dict[str, Any]:
    """The run's documents the steps wrote (dataset validation, metrics, evaluation) that exist, by name."""
    found: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.update(obj["Key"].removeprefix(prefix) for obj in page.get("Contents", []))
    documents: dict[str, Any] = {}
    for name in DOCUMENTS:
        if name in found:
            body = s3.get_object(Bucket=bucket, Key=prefix + name)["Body"].read()
            try:
                documents[name] = json.loads(body)
            except ValueError:
                continue  # a document the report cannot read is left out, and the section says it is missing
    return documents


def report_files(report: dict[str, Any], documents: dict[str, Any]) -> dict[str, bytes]:
    """Every object Finalize writes for the run, by name: the report files, then run.json."""
    files = {name: text.encode("utf-8") for name, text in render(report, documents).items()}
    files[RUN_RECORD] = json.dumps(report, indent=1, default=str).encode()
    return files


def put_files(s3: Any, bucket: str, prefix: str, files: dict[str, bytes]) -> list[str]:
    """Put each file under ``prefix`` in order (run.json last: it lists the others); return the keys."""
    keys = []
    for name, body in files.items():
        key = prefix + name
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=CONTENT_TYPES.get(name, "text/plain"))
        except ClientError as exc:
            if error_code(exc) in TRANSIENT_CODES:
                raise TransientError(f"S3 PutObject s3://{bucket}/{key}: {error_code(exc)}") from exc
            raise
        keys.append(key)
    return keys


def object_names(report: dict[str, Any], documents: dict[str, Any]) -> list[str]:
    """The names :func:`report_files` will write, without rendering twice (loss.svg only with curves)."""
    curves = (documents.get("metrics.json") or {}).get("curves") or {}
    chart = ["loss.svg"] if curves.get("training") or curves.get("validation") else []
    return ["report.html", "report.md", *chart, RUN_RECORD]


def write_report(report: dict[str, Any], *, s3: Any, sfn: Any, bucket: str, prefix: str, subject: str) -> list[str]:
    """Complete the run's record (path, location, objects, notification), render the report and put every
    object under ``prefix``; return the keys written. ``sfn`` None: the path is not known (unit tests)."""
    report["path"] = (
        execution_path(sfn, str(report["execution"]["id"]))
        if sfn is not None
        else {"unavailable": "no Step Functions client was given"}
    )
    documents = read_documents(s3, bucket, prefix)
    region = notification.region_of(str(report["execution"].get("id", "")))
    report["location"] = {
        "prefixUri": f"s3://{bucket}/{prefix}",
        "htmlUri": f"s3://{bucket}/{prefix}report.html",
        "markdownUri": f"s3://{bucket}/{prefix}report.md",
        "runUri": f"s3://{bucket}/{prefix}{RUN_RECORD}",
        "consoleUrl": notification.s3_console_url(bucket, f"{prefix}report.html", region),
    }
    report["reportObjects"] = [prefix + name for name in object_names(report, documents)]
    report["notification"] = {"subject": subject, "message": notification.message(report)}
    return put_files(s3, bucket, prefix, report_files(report, documents))
