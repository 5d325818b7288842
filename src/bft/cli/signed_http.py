"""SigV4-signed HTTPS calls to a Lambda function URL with AWS_IAM auth (the approval function).

The request is signed with the caller's own credentials (service ``lambda``, the environment's region), so
the function sees who the caller is; nothing else vouches for it. The transport that sends it is injectable
(:func:`use_transport`): tests and the offline twin route the signed request to the handler in process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

Transport = Callable[[AWSRequest], tuple[int, bytes]]
TIMEOUT_SECONDS = 30


class NotSigned(Exception):
    """No credentials to sign with; the message says what to do."""


def urllib_transport(request: AWSRequest) -> tuple[int, bytes]:
    """Send the signed request over HTTPS (bft.aws.send_https)."""
    from bft.aws import send_https

    return send_https(request, timeout=TIMEOUT_SECONDS)


_transport: Transport = urllib_transport


def use_transport(transport: Transport | None) -> None:
    """Send signed requests through ``transport`` from now on (None: back to urllib)."""
    global _transport
    _transport = transport or urllib_transport


def post_json(
    url: str, document: dict[str, Any], *, credentials: Any, region: str, transport: Transport | None = None
) -> tuple[int, dict[str, Any]]:
    """POST ``document`` to a function URL, SigV4-signed for ``lambda`` in ``region``; (status, JSON answer).

    A body that is not a JSON object comes back as ``{"message": <text>}``.
    """
    if credentials is None:
        raise NotSigned(
            "no AWS credentials to sign the request: set AWS_PROFILE (or run `aws sso login`) for a reviewer role"
        )
    body = json.dumps(document).encode()
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    frozen = credentials.get_frozen_credentials() if hasattr(credentials, "get_frozen_credentials") else credentials
    SigV4Auth(frozen, "lambda", region).add_auth(request)
    status, raw = (transport or _transport)(request)
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        answer = {"message": raw.decode("utf-8", "replace")[:2000]}
    return status, answer


def post_decision(
    url: str, decision: dict[str, Any], *, credentials: Any, region: str, transport: Transport | None = None
) -> tuple[int, dict[str, Any]]:
    """What `bft approve` / `bft reject` send: ``decision`` with the caller's proof (an STS-signed
    GetCallerIdentity bound to it, bft.workflow.caller_proof), POSTed signed to the approval function's URL."""
    from bft.workflow import caller_proof

    if credentials is None:
        return post_json(url, decision, credentials=None, region=region, transport=transport)  # raises NotSigned
    proof = caller_proof.make_proof(credentials, region, decision)
    return post_json(url, decision | {"proof": proof}, credentials=credentials, region=region, transport=transport)
