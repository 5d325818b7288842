"""Requests to an assembly's function URLs as Lambda receives them: the SigV4 signature checked against the
credentials the offline world issued, and the event (payload version 2.0) the handler gets."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import SplitResult

from bft_twin.iam.authorizer import Authorizer
from bft_twin.iam.model import Principal

__all__ = ["function_url_event", "verified_caller"]


def function_url_event(request: Any, parts: SplitResult, caller: Principal | None) -> dict[str, Any]:
    """The event a function gets for ``request`` to its URL (``parts``), with the verified ``caller`` if any."""
    body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
    now = time.time()
    iam = None
    if caller is not None:
        user_id = f"AROA{caller.arn.split(':')[4]}:{(caller.session_arn or '').rsplit('/', 1)[-1]}"
        iam = {
            "accessKey": _access_key(request),
            "accountId": caller.account,
            "callerId": user_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": caller.session_arn or caller.arn,
            "userId": user_id,
        }
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
        "headers": {key.lower(): value for key, value in request.headers.items()},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": parts.netloc.split(".", 1)[0],
            "authorizer": {"iam": iam} if iam else None,
            "domainName": parts.netloc,
            "domainPrefix": parts.netloc.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": parts.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }
    return event


def verified_caller(
    authorizer: Authorizer, region_wanted: str, request: Any, *, service_wanted: str = "lambda"
) -> Principal | None:
    """The principal whose issued credentials signed ``request`` for ``service_wanted`` in ``region_wanted``,
    else None."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    authorization = request.headers.get("Authorization", "")
    scope = authorization.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    if not authorization.startswith("AWS4-HMAC-SHA256 ") or len(scope) != 5:
        return None
    access_key, _date, region, service, _terminator = scope
    issued = authorizer.issued(access_key)
    if issued is None or region != region_wanted or service != service_wanted:
        return None
    principal, credentials = issued
    copy = AWSRequest(method=request.method, url=request.url, data=request.body, headers=dict(request.headers))
    del copy.headers["Authorization"]
    copy.context["timestamp"] = request.headers.get("X-Amz-Date", "")
    signer = SigV4Auth(
        BotoCredentials(credentials.access_key, credentials.secret_key, credentials.token), service, region
    )
    canonical = signer.canonical_request(copy)
    expected = signer.signature(signer.string_to_sign(copy, canonical), copy)
    return principal if authorization.rsplit("Signature=", 1)[-1] == expected else None


def _access_key(request: Any) -> str:
    return str(request.headers.get("Authorization", "").split("Credential=", 1)[-1].split("/", 1)[0])
