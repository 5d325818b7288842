"""`bft credentials --role-arn ARN`: a team role's credentials for an AWS CLI profile's ``credential_process``.

The submitter role trusts only sessions that carry a source identity (``sts:SourceIdentity``: the person behind
the session, recorded by CloudTrail on every call and kept through role chaining; docs/security.md). The AWS
CLI's and boto3's ``role_arn`` profiles cannot set one, so the onboarding sheet's profile runs this command
instead: it assumes the role with your signed-in credentials (``--source-profile``), naming you as the source
identity, and prints the credentials in the format ``credential_process`` reads (version 1).
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from bft.cli import EXIT_OK, UsageError

# STS: SourceIdentity and RoleSessionName are 2 to 64 characters of [\w+=,.@-] (API reference, AssumeRole).
_ALLOWED = re.compile(r"[^\w+=,.@-]")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "credentials",
        help="assume a team role with your name as its source identity (an AWS CLI profile's credential_process)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--role-arn", required=True, help="the role to assume (the onboarding sheet names it)")
    parser.add_argument("--source-profile", default=None, help="the profile you sign in with (default: the SDK's)")
    parser.add_argument(
        "--source-identity",
        default=None,
        help="who you are, as CloudTrail records it (default: the name of the identity you signed in as)",
    )
    parser.add_argument("--duration-seconds", type=int, default=3600, help="900 to 43,200 (default 3,600)")
    parser.set_defaults(func=run)


def source_identity_of(caller_arn: str) -> str:
    """The person in a caller's ARN: a user's name, or an assumed role's session name (``.../role/session``)."""
    name = caller_arn.rsplit("/", 1)[-1] if "/" in caller_arn else caller_arn.rsplit(":", 1)[-1]
    return clean(name)


def clean(name: str) -> str:
    cleaned = _ALLOWED.sub("-", name)[:64]
    if len(cleaned) < 2:
        raise UsageError(f"--source-identity: {name!r} is not 2 to 64 characters of letters, digits and +=,.@_-")
    return cleaned


def run(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    if not 900 <= args.duration_seconds <= 43200:
        raise UsageError("--duration-seconds must be 900 to 43,200")
    try:
        session = boto3.session.Session(profile_name=args.source_profile)
        sts = session.client("sts")
        who = args.source_identity and clean(args.source_identity)
        who = who or source_identity_of(sts.get_caller_identity()["Arn"])
        issued = sts.assume_role(
            RoleArn=args.role_arn,
            RoleSessionName=who,
            SourceIdentity=who,
            DurationSeconds=args.duration_seconds,
        )["Credentials"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise UsageError(
            f"AWS refused assuming {args.role_arn} as {args.source_profile or 'your default profile'}: "
            f"{error.get('Code')}: {error.get('Message')} (is your identity among the team's submitters?)"
        ) from exc
    except BotoCoreError as exc:
        raise UsageError(f"no credentials to assume {args.role_arn} with: {exc}") from exc
    print(
        json.dumps(
            {
                "Version": 1,
                "AccessKeyId": issued["AccessKeyId"],
                "SecretAccessKey": issued["SecretAccessKey"],
                "SessionToken": issued["SessionToken"],
                "Expiration": issued["Expiration"].isoformat(),
            }
        )
    )
    return EXIT_OK
