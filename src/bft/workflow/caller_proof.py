"""Who decides, proved to the approval function by STS rather than by the event it receives.

The function URL (AWS_IAM auth) fills ``requestContext.authorizer.iam`` with the SigV4-verified caller, but a
direct ``lambda:InvokeFunction`` can put any caller there: a principal of the account allowed to invoke the
function directly (not through its URL) could claim to be a reviewer. So ``bft approve`` also signs, with
the same credentials, an ``sts:GetCallerIdentity`` request that carries a digest of the decision in a signed
header (``x-bft-decision``), and puts the signed headers in the body. The function sends that request to STS
itself (its own fixed endpoint, never a URL from the body): STS answers with the ARN of whoever signed it,
or refuses a bad or expired (15 minutes) signature. The header binds the proof to this one decision: a
proof seen elsewhere cannot approve another run or turn a rejection into an approval.

What STS cannot say: the session's source identity (GetCallerIdentity does not return it).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from bft.errors import ApprovalRefused

Transport = Callable[[AWSRequest], tuple[int, bytes]]
HEADER = "x-bft-decision"
BODY = "Action=GetCallerIdentity&Version=2011-06-15"
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
# The headers a proof may carry; the function adds nothing else but host and content type.
PROOF_HEADERS = ("authorization", "x-amz-date", "x-amz-security-token", HEADER)
TIMEOUT_SECONDS = 10
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)/aws4_request")
_SIGNED = re.compile(r"SignedHeaders=(?P<names>[a-z0-9;-]+)")


def digest(decision: dict[str, Any]) -> str:
    """What the proof is bound to: the team, request id, approve and reason of this one decision."""
    fields = {key: decision.get(key) for key in ("team", "requestId", "approve", "reason")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def endpoint(region: str) -> str:
    """The regional STS endpoint the function sends proofs to (and the CLI signs them for)."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://sts.{region}.{suffix}/"


def make_proof(credentials: Any, region: str, decision: dict[str, Any]) -> dict[str, str]:
    """The proof `bft approve` sends: the signed headers of a GetCallerIdentity bound to ``decision``."""
    request = AWSRequest(
        method="POST",
        url=endpoint(region),
        data=BODY.encode(),
        headers={"Content-Type": CONTENT_TYPE, HEADER: digest(decision)},
    )
    frozen = credentials.get_frozen_credentials() if hasattr(credentials, "get_frozen_credentials") else credentials
    SigV4Auth(frozen, "sts", region).add_auth(request)
    return {name: str(value) for name, value in request.headers.items() if name.lower() in PROOF_HEADERS}


def urllib_transport(request: AWSRequest) -> tuple[int, bytes]:
    """Send the signed request over HTTPS (bft.aws.send_https)."""
    from bft.aws import send_https

    return send_https(request, timeout=TIMEOUT_SECONDS)


_transport: Transport = urllib_transport


def use_transport(transport: Transport | None) -> None:
    """Send proofs through ``transport`` from now on (None: back to HTTPS); the offline twin answers them."""
    global _transport
    _transport = transport or urllib_transport


def prove(proof: Any, decision: dict[str, Any], *, region: str, transport: Transport | None = None) -> str:
    """The ARN STS says signed ``proof`` for ``decision``; ApprovalRefused if there is no such proof."""
    if not isinstance(proof, dict) or not all(isinstance(v, str) for v in proof.values()):
        raise ApprovalRefused(
            "no proof of the caller: `bft approve` signs one (sts:GetCallerIdentity); update bft, and never "
            "invoke the approval function other than through its URL"
        )
    headers = {name.lower(): value for name, value in proof.items() if name.lower() in PROOF_HEADERS}
    authorization = headers.get("authorization", "")
    scope, signed = _SCOPE.search(authorization), _SIGNED.search(authorization)
    if scope is None or signed is None or (scope["region"], scope["service"]) != (region, "sts"):
        raise ApprovalRefused(f"the caller's proof is not an sts:GetCallerIdentity signature for {region}")
    if HEADER not in signed["names"].split(";") or headers.get(HEADER) != digest(decision):
        raise ApprovalRefused("the caller's proof was signed for another decision than this one")
    request = AWSRequest(
        method="POST",
        url=endpoint(region),
        data=BODY.encode(),
        headers={"Content-Type": CONTENT_TYPE, **{name: headers[name] for name in sorted(headers)}},
    )
    status, body = (transport or _transport)(request)
    if status != 200:
        raise ApprovalRefused(f"STS refused the caller's proof (HTTP {status}): {_error(body)}")
    arn = _find(body, "Arn")
    if not arn:
        raise ApprovalRefused("STS answered the caller's proof without an ARN")
    return arn


def identity_document(arn: str, account: str, user_id: str) -> bytes:
    """A GetCallerIdentity answer, as STS writes it (for the offline twin and tests)."""
    ns = "https://sts.amazonaws.com/doc/2011-06-15/"
    return (
        f'<GetCallerIdentityResponse xmlns="{ns}"><GetCallerIdentityResult><Arn>{arn}</Arn>'
        f"<UserId>{user_id}</UserId><Account>{account}</Account></GetCallerIdentityResult>"
        "</GetCallerIdentityResponse>"
    ).encode()


def _find(body: bytes, tag: str) -> str | None:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == tag and element.text:
            return element.text.strip()
    return None


def _error(body: bytes) -> str:
    return _find(body, "Message") or _find(body, "Code") or body.decode("utf-8", "replace")[:200]
