"""Map Bedrock's ClientErrors onto the typed errors the state machine routes on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

from bft.errors import PipelineError, QuotaExceeded, TransientError

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


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)


@contextmanager
def bedrock_call(action: str, *, on_error: Callable[[str, str], PipelineError | None] | None = None) -> Iterator[None]:
    """Translate errors raised inside the block.

    Throttling, 5xx and network faults become TransientError (retried by the state machine with backoff
    and jitter); quota refusals become QuotaExceeded; ``on_error(code, message)`` may map other codes to a
    defined failure. Anything else propagates unchanged, so a programming error is never disguised.
    """
    try:
        yield
    except ClientError as exc:
        code, message = error_code(exc), error_message(exc)
        if code in TRANSIENT_CODES:
            raise TransientError(f"{action}: {code}: {message}") from exc
        if code == "ServiceQuotaExceededException":
            raise QuotaExceeded(f"{action}: {message}") from exc
        mapped = on_error(code, message) if on_error else None
        if mapped is not None:
            raise mapped from exc
        raise
    except (ConnectionError, ReadTimeoutError) as exc:
        raise TransientError(f"{action}: {exc}") from exc
