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


class OverCap(PipelineError):
    """The team's month-to-date spend plus this run's estimate would pass its ``monthly_cap_usd``, or that spend
    cannot be read: refused before any job, and the message names the spend, the estimate and the cap."""


class GraderInvalid(PipelineError):
    """A reinforcement run's grader failed its check on the team's prompts (contract, spread of rewards, time)."""


class DuplicateRequest(PipelineError):
    """Another execution already owns this request id."""


class JobFailed(PipelineError):
    """The customization job ended in Failed."""


class JobStopped(PipelineError):
    """The customization job ended in Stopped."""


class ThroughputFailed(PipelineError):
    """The provisioned throughput (or custom model deployment) ended in Failed or never became ready."""


class PromotionFailed(PipelineError):
    """The team's endpoint could not be pointed at the run's model (refused, UpdateFailed, busy past the polls,
    changed meanwhile): the endpoint goes on serving the model it served before, and the message says which."""


class RollbackRefused(PipelineError):
    """`bft rollback` cannot point the endpoint back (nothing to roll back to, busy, not the team's): nothing was
    changed, and the message names the endpoint."""


class QuotaExceeded(PipelineError):
    """A Bedrock service quota (model units, concurrent jobs) refused the request."""


class ApprovalRejected(PipelineError):
    """A reviewer rejected the model before serving."""


class EvaluationBelowThreshold(PipelineError):
    """The custom model scored below the request's threshold."""


class TransientError(PipelineError):
    """Throttling or a transient service fault: the state machine retries with backoff and jitter."""


class AccessDenied(PipelineError):
    """An AWS call was refused for lack of permission (AccessDenied/AccessDeniedException); never retried.

    The message names the action (``bedrock:CreateProvisionedModelThroughput: ...``) so the run's error
    says which permission is missing instead of an anonymous ClientError.
    """


class ForeignResource(PipelineError):
    """A resource the step was about to stop, delete, serve or invoke does not carry this run's tags
    (project, environment, team, request): it is someone else's, and nothing was done to it."""


class ApprovalRefused(PipelineError):
    """A caller may not decide this approval (not a reviewer of the team, or the team's own submitter)."""
