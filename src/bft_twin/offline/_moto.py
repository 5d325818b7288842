"""Patches of moto 5.2.5 that need nothing of a running environment but what they are given.

Its configuration for an environment, the ``cause`` that SendTaskFailure drops, the failures its
interpreter logs at ERROR, and the credentials its interpreter calls AWS with. The patches bound to an
environment's functions and rules (Lambda invocation, rule delivery) are :class:`OfflineAssembly`'s.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any
from unittest import mock

import boto3
from moto.core.responses import ActionResult, EmptyResult
from moto.stepfunctions.responses import StepFunctionResponse

from bft_twin.iam.authorizer import Credentials

__all__ = [
    "MOTO_CONFIG",
    "MOTO_EVAL_LOGGER",
    "drop_handled_failures",
    "lambda_task_error_names",
    "send_task_failure_with_cause",
    "states_credentials_patches",
]

MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},  # run the ASL, not a stub
    "lambda": {"use_docker": True},  # the backend whose LambdaFunction._invoke_lambda we replace
}

MOTO_EVAL_LOGGER = "moto.stepfunctions.parser.asl.component.eval_component"


def drop_handled_failures(record: logging.LogRecord) -> bool:
    """moto logs each failure inside a state at ERROR with a page-long repr, even those a Retry,
    Catch or Choice handles. The history has every failure and the result the execution's own.
    """
    args = record.args if isinstance(record.args, tuple) else ()
    return not (args and str(args[0]).startswith("Exception="))


def send_task_failure_with_cause(self: StepFunctionResponse) -> ActionResult:
    # moto 5.2.5 drops `cause` from SendTaskFailure; AWS passes it to Catch (and to the Fail state's CausePath).
    self.stepfunction_backend.send_task_failure(  # type: ignore[call-arg]
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def lambda_task_error_name(code: str) -> str:
    """The error name Step Functions gives a Lambda service error of a ``lambda:invoke`` task.

    Its Lambda client (the AWS SDK for Java) names an error by its modeled exception class, ``Lambda.<Code>``
    (``Lambda.ServiceException``, ``Lambda.TooManyRequestsException``: the Step Functions guide,
    bp-lambda-serviceexception), and an error the Lambda API does not model for Invoke by the SDK's generic
    class, ``Lambda.AWSLambdaException``: a state machine role without ``lambda:InvokeFunction`` fails with
    ``Lambda.AWSLambdaException``, cause "... is not authorized to perform: lambda:InvokeFunction ... (Service:
    AWSLambda; Status Code: 403; Error Code: AccessDeniedException; ...)" (reported by aws-samples/
    lambda-refarch-imagerecognition issue 19 and awslabs/aws-deployment-framework issue 460; moto says
    ``Lambda.AccessDeniedException``). Modeled: the errors botocore lists for Lambda's Invoke
    (docs/bedrock-behaviour.md#lambda-task-errors)."""
    import botocore.session

    modeled = {
        shape.name
        for shape in botocore.session.get_session().get_service_model("lambda").operation_model("Invoke").error_shapes
    }
    return f"Lambda.{code}" if code in modeled else "Lambda.AWSLambdaException"


def lambda_task_cause(client_error: Any) -> str:
    """The cause Step Functions gives a Lambda service error: the message and the SDK's response details."""
    response = client_error.response
    metadata = response.get("ResponseMetadata") or {}
    details = "; ".join(
        [
            "Service: AWSLambda",
            f"Status Code: {metadata.get('HTTPStatusCode')}",
            f"Error Code: {response['Error']['Code']}",
            f"Request ID: {metadata.get('RequestId')}",
            "Proxy: null",
        ]
    )
    return f"{response['Error']['Message']} ({details})"


def lambda_task_error_names() -> list[Any]:
    """Patch moto's Lambda tasks (``lambda:invoke`` and a function ARN as the Resource) to name and describe
    Lambda service errors as Step Functions does; moto says ``Lambda.<Code>`` for the first and ``Exception``
    for the second."""
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
        StateTaskServiceLambda,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def error_cause(client_error: Any) -> tuple[str, str]:
        return lambda_task_error_name(client_error.response["Error"]["Code"]), lambda_task_cause(client_error)

    original = StateTaskLambda._from_error

    def from_error(task: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original(task, env, ex)
        error, cause = error_cause(ex)
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.LambdaFunctionFailed,
            # A partial TypedDict, as moto's own tasks build it.
            event_details=EventDetails(  # type: ignore[typeddict-item]
                lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(error=error, cause=cause)
            ),
        )

    return [
        mock.patch.object(StateTaskServiceLambda, "_error_cause_from_client_error", staticmethod(error_cause)),
        mock.patch.object(StateTaskLambda, "_from_error", from_error),
    ]


def states_credentials_patches(credentials: Callable[[str | None, str | None], Credentials]) -> list[Any]:
    """moto's interpreter calls AWS with fixed dummy keys; here it calls with the state machine's role,
    assumed for that state machine (its ARN is the trust policy's aws:SourceArn)."""
    import importlib
    import pkgutil

    from botocore.config import Config
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
    from moto.stepfunctions.parser.asl.utils import boto_client

    original_credentials = StateTask._eval_state_credentials

    def eval_state_credentials(task: Any, env: Any) -> Any:
        found = original_credentials(task, env)
        setattr(found, "bft_state_machine_arn", env.states.context_object.context_object_data["StateMachine"]["Id"])  # noqa: B010
        return found

    original = boto_client.boto_client_for
    package = importlib.import_module("moto.stepfunctions.parser.asl.component")
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role = getattr(state_credentials, "role_arn", None)
        machine = getattr(state_credentials, "bft_state_machine_arn", None)
        return boto3.client(  # type: ignore[call-overload]
            service_name=service,
            region_name=region,
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            ),
            **credentials(role, machine).client_kwargs(),
        )

    return [
        mock.patch.object(StateTask, "_eval_state_credentials", eval_state_credentials),
        *(
            mock.patch.object(module, "boto_client_for", boto_client_for)
            for name, module in list(sys.modules.items())
            if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is original
        ),
    ]
