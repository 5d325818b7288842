"""`bft report`: download a run's report (the one Finalize wrote) and open it.

Finds the reports bucket through the environment's stack outputs, reads the run's ``run.json`` with the
caller's credentials (the team's submitter role may read its own team's reports only), then downloads
every object that record lists: report.html, report.md, loss.svg (when the job wrote loss curves) and
run.json itself.
"""

from __future__ import annotations

import argparse
import json
import webbrowser
from pathlib import Path
from typing import Any

from bft.cli import EXIT_NEGATIVE, EXIT_OK, UsageError
from bft.cli.settings import add_config_dir


def register(subparsers: Any) -> None:
    help_ = "download a run's report (report.html, report.md, loss chart, run.json) and open it"
    parser = subparsers.add_parser("report", help=help_, description=help_)
    parser.add_argument("--env", default="dev", help="environment (<config dir>/<env>.yaml); default dev")
    parser.add_argument("--team", required=True, help="your team, as onboarded in the environment's config")
    add_config_dir(parser)
    parser.add_argument("--request-id", required=True)
    parser.add_argument("--out", help="directory to download into (default: reports/<env>/<team>/<request-id>)")
    parser.add_argument("--open", action="store_true", help="open report.html in the browser (it works offline)")
    parser.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from botocore.exceptions import ClientError

    from bft import aws
    from bft.cli.pipeline import _config, _deployment, _request_id

    config = _config(args)
    deployment = _deployment(config)
    request_id = _request_id(args.request_id)
    prefix = f"reports/{args.team}/{request_id}/"
    s3 = aws.client("s3")
    bucket = deployment.reports_bucket
    try:
        record = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}run.json")["Body"].read())
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404"):
            print(
                f"no report for run {request_id} of team {args.team} in {args.env} yet: it is written when the run "
                f"ends (see `bft status --env {args.env} --team {args.team} --request-id {request_id}`)"
            )
            return EXIT_NEGATIVE
        if code in ("AccessDenied", "403"):
            raise UsageError(
                f"not allowed to read s3://{bucket}/{prefix}: use the credentials of team {args.team}'s "
                "submitter role (a team reads its own reports only)"
            ) from exc
        raise
    # Only the run's own objects, whatever the record says.
    keys = [key for key in record.get("reportObjects") or [f"{prefix}run.json"] if key.startswith(prefix)]
    out_dir = Path(args.out) if args.out else Path("reports") / args.env / args.team / request_id
    out_dir.mkdir(parents=True, exist_ok=True)
    for key in keys:
        s3.download_file(bucket, key, str(out_dir / key.removeprefix(prefix)))
    if "loss.svg" not in {key.removeprefix(prefix) for key in keys}:
        (out_dir / "loss.svg").unlink(missing_ok=True)  # a chart of an earlier download would contradict it
    page = out_dir / "report.html"
    print(f"{request_id}: {record.get('outcome')}; report of s3://{bucket}/{prefix}")
    for key in keys:
        print(f"  {out_dir / key.removeprefix(prefix)}")
    if not page.is_file():
        print("this run's record lists no report.html (written by an earlier version of the pipeline)")
        return EXIT_OK
    if args.open:
        webbrowser.open(page.resolve().as_uri())
    else:
        print(f"open it in a browser (works offline): {page.resolve().as_uri()}")
    return EXIT_OK
