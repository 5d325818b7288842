"""Step 4: collect the loss curves Bedrock writes under the job's output prefix."""

from __future__ import annotations

import csv
import io
from typing import Any

from bft.report.loss import validation_rise
from bft.workflow.s3io import put_json, report_key, split_uri

TRAINING_SUFFIX = "training_artifacts/step_wise_training_metrics.csv"
VALIDATION_SUFFIX = "validation_metrics.csv"  # one documented sample nests it one folder deeper
MAX_POINTS = 200  # the curve in the report is downsampled; the CSVs stay in S3


def collect_metrics(run: dict[str, Any], job: dict[str, Any], *, s3: Any, reports_bucket: str) -> dict[str, Any]:
    bucket, prefix = split_uri(job["outputDataUri"])
    job_id = job["jobArn"].rsplit("/", 1)[-1]
    found: dict[str, str] = {}
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}model-customization-job-{job_id}/"):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(TRAINING_SUFFIX):
                found["training"] = obj["Key"]
            elif obj["Key"].endswith(VALIDATION_SUFFIX) and "validation_artifacts" in obj["Key"]:
                found["validation"] = obj["Key"]
    curves = {}
    for kind, key in found.items():
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        curves[kind] = _curve(body, "training_loss" if kind == "training" else "validation_loss")
    summary = {
        kind: {
            "points": len(curve),
            "first": curve[0]["loss"] if curve else None,
            "final": curve[-1]["loss"] if curve else None,
            "min": min(p["loss"] for p in curve) if curve else None,
            "epochs": max((p["epoch"] for p in curve), default=0) + (1 if curve else 0),
        }
        for kind, curve in curves.items()
    }
    document = {
        "jobArn": job["jobArn"],
        "sources": {kind: f"s3://{bucket}/{key}" for kind, key in found.items()},
        "summary": summary,
        "curves": {kind: _downsample(curve) for kind, curve in curves.items()},
    }
    if "validation" in summary:
        # The report's rule on the report's curve: the reviewer's mail and the report flag the same rise.
        rise = validation_rise(document["curves"]["validation"])
        summary["validation"]["rise"] = rise.words() if rise else None
    if not found:
        document["note"] = "Bedrock wrote no metric files under the job's output prefix"
    uri = put_json(s3, reports_bucket, report_key(run["team"], run["requestId"], "metrics.json"), document)
    return {"metricsUri": uri, "summary": summary, "files": sorted(found)}


def _curve(text: str, loss_column: str) -> list[dict[str, Any]]:
    rows = csv.DictReader(io.StringIO(text))
    curve = []
    for row in rows:
        try:
            curve.append(
                {"step": int(row["step_number"]), "epoch": int(row["epoch_number"]), "loss": float(row[loss_column])}
            )
        except (KeyError, TypeError, ValueError):
            continue  # a malformed row must not lose the rest of the curve
    return curve


def _downsample(curve: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(curve) <= MAX_POINTS:
        return curve
    stride = len(curve) / MAX_POINTS
    picked = [curve[int(i * stride)] for i in range(MAX_POINTS - 1)]
    return [*picked, curve[-1]]
