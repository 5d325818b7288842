"""The notification Finalize sends: plain sentences and aligned lists a person reads in a mail client.

The outcome comes first; then what still runs and costs money, with its hourly cost and time-to-live;
then where the report is (console link and S3 URI) and the execution's console link; on failure, the
error and the runbook's next step. No JSON, dicts or Python reprs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bft.report.endpoint import endpoint_lines

# A wait in words is one helper for the report and the notifications; callers import it from here too.
from bft.report.numbers import duration as duration

CONSOLE = "https://{region}.console.aws.amazon.com"


def region_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else "us-east-1"


def s3_console_url(bucket: str, key: str, region: str) -> str:
    return f"{CONSOLE.format(region=region)}/s3/object/{bucket}?region={region}&prefix={quote(key, safe='/')}"


def execution_console_url(execution_arn: str) -> str:
    region = region_of(execution_arn)
    return f"{CONSOLE.format(region=region)}/states/home?region={region}#/v2/executions/details/{execution_arn}"


def subject_line(environment: str, text: str) -> str:
    """Every notification's subject: ``bft <environment>: <text>``. No brackets (no notification carries ``{}[]``),
    and within SNS's rule: ASCII, no line break, at most 100 characters."""
    line = " ".join(f"bft {environment}: {text}".split())
    return line.encode("ascii", "replace").decode("ascii")[:100]


def subject(environment: str, request_id: str, outcome: str) -> str:
    return subject_line(environment, f"{request_id}: {outcome.replace('_', ' ')}")


def loss_words(summary: dict[str, Any]) -> str:
    """The metrics step's loss summary in a sentence: how the training loss moved, and the validation loss at the
    end, with a rising validation loss (the model memorizing its examples) said plainly."""
    parts = []
    for kind in ("training", "validation"):
        curve = summary.get(kind) or {}
        first, final, lowest = curve.get("first"), curve.get("final"), curve.get("min")
        if not isinstance(final, int | float):
            continue
        epochs = curve.get("epochs") or 0
        over = f" over {epochs} epoch{'s' if epochs != 1 else ''}" if epochs else ""
        moved = "fell" if isinstance(first, int | float) and final < first else "went"
        start = f" from {first:.4g}" if isinstance(first, int | float) else ""
        text = f"{kind} loss {moved}{start} to {final:.4g}{over}"
        if isinstance(lowest, int | float) and lowest < final:
            text += f" (lowest {lowest:.4g})"
        # The metrics step's verdict by the report's rule (bft.report.loss.validation_rise), same words.
        if kind == "validation" and curve.get("rise"):
            text += f"; {curve['rise']}"
        parts.append(text)
    if not parts:
        return "no loss figures: Bedrock wrote no metric files for this job"
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def message(report: dict[str, Any]) -> str:
    outcome = str(report["outcome"])
    run = report.get("run") or {}
    execution = report.get("execution") or {}
    location = report.get("location") or {}
    if outcome == "deployed":
        lines = ["Outcome: deployed. The custom model is trained, evaluated and serving."]
    else:
        lines = [f"Outcome: {outcome.replace('_', ' ')} (the run failed)."]
    team, request_id = run.get("team") or location.get("team"), run.get("requestId") or execution.get("name")
    if team:
        lines.append(f"Request {request_id} of team {team}, environment {run.get('environment') or 'unknown'}.")
    lines.append("")
    left = report.get("leftRunning") or []
    if left:
        lines.append("Still running and costing money:")
        lines.extend(aligned([_left_row(item) for item in left]))
    else:
        lines.append("Nothing this run created is still running.")
    promoted = endpoint_lines(report)
    if promoted:
        lines += ["", *promoted]
    lines.append("")
    lines.append("Report:")
    rows = [
        ("Console", str(location.get("consoleUrl", ""))),
        ("S3", str(location.get("htmlUri", ""))),
        ("Markdown", str(location.get("markdownUri", ""))),
        ("Run record", str(location.get("runUri", ""))),
        ("Execution", execution_console_url(str(execution.get("id", ""))) if execution.get("id") else "unknown"),
    ]
    lines.extend(aligned([(name, value) for name, value in rows if value]))
    error = report.get("error")
    if error:
        lines += ["", f"Error: {error.get('Error')}: {prose(str(error.get('Cause', ''))[:1500])}"]
    for problem in report.get("cleanupErrors") or []:
        lines.append(f"Cleanup error: {problem.get('error')}: {prose(str(problem.get('message', ''))[:1000])}")
    warnings = report.get("warnings") or []
    if warnings:
        lines += ["", "Warnings:"]
        lines.extend(f"  - {prose(str(warning))}" for warning in warnings)
    if report.get("runbook") and outcome != "deployed":
        lines += ["", f"Next step: {report['runbook']}"]
    return "\n".join(lines)


# Messages from the steps carry the validator's codes ("[missing_key]") and field shapes ("{text}"): in a mail
# they read as markup, so brackets and braces become parentheses.
_BRACKETS = str.maketrans({"[": "(", "]": ")", "{": "(", "}": ")"})


def prose(text: str) -> str:
    """Text from a step or a team (an error, a name) made fit for a mail: no brackets or braces."""
    return text.translate(_BRACKETS)


def _left_row(item: dict[str, Any]) -> tuple[str, ...]:
    cost = item.get("hourlyCostUsd")
    ttl = item.get("expiresAfterHours")
    return (
        str(item.get("type", "resource")),
        str(item.get("arn", "")),
        f"${cost:,.2f} per hour" if isinstance(cost, int | float) else "hourly cost unknown",
        f"deleted after {ttl} h" if ttl else "until you delete it",
        str(item.get("reason", "")),
    )


def aligned(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as columns padded to the widest cell, indented two spaces (a mail client's monospace or not)."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
