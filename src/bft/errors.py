"""Typed errors raised by the pipeline's domain code.

A Lambda function that raises one of these reports the class name as its
``errorType``; the state machine's ``Retry`` and ``Catch`` match on that name,
so renaming a class is a breaking change to the synthesized definition.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class: a defined failure with a message a person can act on."""


class RequestInvalid(PipelineError):
    """The execution input is malformed or breaks a limit; nothing was started."""


class BaseModelUnavailable(PipelineError):
    """The base model cannot be fine-tuned here: unknown, not customizable, wrong region or past end of life."""


class DatasetInvalid(PipelineError):
    """The dataset breaks a rule of its model family; the message carries the report's S3 URI."""


class DuplicateRequest(PipelineError):
    """Another execution already owns this request id."""


class JobFailed(PipelineError):
    """The customization job ended in Failed."""


class JobStopped(PipelineError):
    """The customization job ended in Stopped."""


class ThroughputFailed(PipelineError):
    """The provisioned throughput (or custom model deployment) ended in Failed or never became ready."""


class QuotaExceeded(PipelineError):
    """A Bedrock service quota (model units, concurrent jobs) refused the request."""


class ApprovalRejected(PipelineError):
    """A reviewer rejected the model before serving."""


class EvaluationBelowThreshold(PipelineError):
    """The custom model scored below the request's threshold."""


class TransientError(PipelineError):
    """Throttling or a transient service fault: the state machine retries with backoff and jitter."""
