"""Map the ClientErrors of Bedrock and the other AWS services onto the typed errors the state machine routes on.

Below every floor that calls AWS (the workflow steps, the report, teardown, smoke), beside `bft.aws`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

from bft.errors import AccessDenied, PipelineError, QuotaExceeded, TransientError

P = ParamSpec("P")
R = TypeVar("R")

TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "InternalServerException",
        "ServiceUnavailableException",
        "TooManyRequestsException",
        "RequestTimeout",
        "RequestTimeoutException",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
    }
)


# How each service says "no permission": Bedrock, DynamoDB, Step Functions, SSM, STS, KMS; S3; SNS; EC2.
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "AuthorizationError",
        "UnauthorizedOperation",
        "KMS.AccessDeniedException",
    }
)


# Throttling as each service names it (botocore's standard retry mode retries these same codes): SNS says
# "Throttling", DynamoDB "ProvisionedThroughputExceededException", EC2-style APIs "RequestLimitExceeded".
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)


def is_transient(exc: ClientError) -> bool:
    """Throttling or a server-side fault (any 5xx, e.g. DynamoDB's InternalServerError): worth retrying later."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    code = error_code(exc)
    return code in TRANSIENT_CODES or code in THROTTLING_CODES or int(status) >= 500


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)


@contextmanager
def bedrock_call(action: str, *, on_error: Callable[[str, str], PipelineError | None] | None = None) -> Iterator[None]:
    """Translate errors raised inside the block.

    Throttling, 5xx and network faults become TransientError (retried by the state machine with backoff
    and jitter); quota refusals become QuotaExceeded; a permission refusal becomes AccessDenied naming the
    action (never retried, never mapped to anything else); ``on_error(code, message)`` may map other codes
    to a defined failure. Anything else propagates unchanged, so a programming error is never disguised.
    """
    try:
        yield
    except ClientError as exc:
        code, message = error_code(exc), error_message(exc)
        if is_transient(exc):
            raise TransientError(f"{action}: {code}: {message}") from exc
        if code == "ServiceQuotaExceededException":
            raise QuotaExceeded(f"{action}: {message}") from exc
        if code in ACCESS_DENIED_CODES:
            raise AccessDenied(f"{action}: {code}: {message}") from exc
        mapped = on_error(code, message) if on_error else None
        if mapped is not None:
            raise mapped from exc
        raise
    except (ConnectionError, ReadTimeoutError) as exc:
        raise TransientError(f"{action}: {exc}") from exc


def access_denied(exc: ClientError) -> AccessDenied | None:
    """The typed error for a permission refusal of any AWS call, naming the operation; None for other errors."""
    code = error_code(exc)
    if code not in ACCESS_DENIED_CODES:
        return None
    operation = getattr(exc, "operation_name", "") or "an AWS call"
    return AccessDenied(f"{operation}: {code}: {error_message(exc)}")


def typed_errors(handler: Callable[P, R]) -> Callable[P, R]:
    """Decorate a Lambda handler: an AWS permission refusal that escapes it becomes AccessDenied, so the run's
    error says which action was refused (error type and message) instead of an anonymous ClientError; a
    throttle or 5xx left after the client's own retries becomes TransientError, which the state machine
    retries with backoff (an anonymous ClientError is not retried: the run would fail on a passing fault)."""

    @functools.wraps(handler)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return handler(*args, **kwargs)
        except ClientError as exc:
            typed = access_denied(exc)
            if typed is not None:
                raise typed from exc
            if is_transient(exc):
                operation = getattr(exc, "operation_name", "") or "an AWS call"
                raise TransientError(f"{operation}: {error_code(exc)}: {error_message(exc)}") from exc
            raise

    return wrapper
