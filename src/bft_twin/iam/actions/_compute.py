"""Lambda and Step Functions: invoking a function (by API or by its URL), running a state machine."""

from __future__ import annotations

from bft_twin.iam.actions._base import ActionRequest, Call, ResourceRef, World
from bft_twin.iam.actions._common import Mapper, resource_tag_context, unmapped
from bft_twin.iam.model import ContextValue, Unknown

# On a direct Invoke Lambda's lambda:InvokedViaFunctionUrl (2025) is absent or false: which one is not
# documented, so a condition that tells them apart is Undecidable.
_NOT_VIA_URL = Unknown("whether a direct Invoke carries lambda:InvokedViaFunctionUrl false or nothing", (None, False))


def function_url_requests(
    function_arn: str, auth_type: str, tags: dict[str, ContextValue] | None = None
) -> list[ActionRequest]:
    """An HTTP request to the function's URL (not a botocore operation): ``lambda:InvokeFunctionUrl``, and
    ``lambda:InvokeFunction`` with ``lambda:InvokedViaFunctionUrl`` (Lambda developer guide, "Control access
    to function URLs": since October 2025 a URL's caller needs both).

    ``auth_type`` is the URL's ``AuthType`` (``"AWS_IAM"`` or ``"NONE"``); the function's resource-based
    policy takes part (for ``NONE`` it is the only policy that can allow the public principal). ``tags``: the
    function's ``aws:ResourceTag`` keys (:func:`~bft_twin.iam.actions._common.resource_tag_context`).
    """
    policy = ResourceRef("lambda-function", function_arn)
    tags = dict(tags or {})
    return [
        ActionRequest(
            action="lambda:InvokeFunctionUrl",
            resource=function_arn,
            # The SAR lists lambda:FunctionArn for InvokeFunctionUrl without saying what it holds there.
            context={
                "lambda:FunctionUrlAuthType": auth_type,
                "lambda:FunctionArn": Unknown("lambda:FunctionArn on InvokeFunctionUrl is not documented"),
                **tags,
            },
            resource_policy=policy,
        ),
        ActionRequest(
            action="lambda:InvokeFunction",
            resource=function_arn,
            context={"lambda:InvokedViaFunctionUrl": True, **tags},
            resource_policy=policy,
        ),
    ]


def _function_arn(call: Call, name: str, qualifier: str | None) -> str:
    if name.startswith("arn:"):
        arn = name
    elif ":function:" in name or name.count(":") >= 2:  # "123456789012:function:my-function[:alias]"
        arn = f"arn:aws:lambda:{call.region}:{name}"
    else:
        arn = f"arn:aws:lambda:{call.region}:{call.account}:function:{name}"
    if qualifier and arn.count(":") == 6:
        arn = f"{arn}:{qualifier}"
    return arn


def map_lambda(call: Call, world: World) -> list[ActionRequest]:
    if call.operation != "Invoke":
        raise unmapped(call)
    arn = _function_arn(call, call.params["FunctionName"], call.params.get("Qualifier"))
    unqualified = ":".join(arn.split(":")[:7])
    return [
        ActionRequest(
            action="lambda:InvokeFunction",
            resource=arn,
            context={**resource_tag_context(world, unqualified), "lambda:InvokedViaFunctionUrl": _NOT_VIA_URL},
            resource_policy=ResourceRef("lambda-function", arn),
        )
    ]


def _sfn_execution_machine(execution_arn: str) -> str:
    """arn:aws:states:r:a:execution:<machine>:<name> -> arn:aws:states:r:a:stateMachine:<machine>."""
    head, _, rest = execution_arn.partition(":execution:")
    return f"{head}:stateMachine:{rest.split(':', 1)[0]}"


def map_stepfunctions(call: Call, world: World) -> list[ActionRequest]:
    p, op = call.params, call.operation

    def on(resource: str, tags_of: str | None = None) -> list[ActionRequest]:
        context = resource_tag_context(world, tags_of or resource)
        return [ActionRequest(action=f"states:{op}", resource=resource, context=context, resource_policy=None)]

    if op in ("StartExecution", "DescribeStateMachine", "ListExecutions"):
        # SAR: states:StateMachineQualifier, "the qualifier of a state machine ARN" (a version or alias); an
        # unqualified ARN has none. The machine's tags are the unqualified machine's.
        arn = str(p["stateMachineArn"])
        _name, _, qualifier = arn.partition(":stateMachine:")[2].partition(":")
        unqualified = arn[: len(arn) - len(qualifier) - 1] if qualifier else arn
        requests = on(arn, unqualified)
        if qualifier:
            requests = [
                ActionRequest(r.action, r.resource, {**r.context, "states:StateMachineQualifier": [qualifier]}, None)
                for r in requests
            ]
        return requests
    if op in ("DescribeExecution", "GetExecutionHistory", "StopExecution"):
        # The execution resource type lists aws:ResourceTag; an execution carries its machine's tags.
        arn = p["executionArn"]
        return on(arn, _sfn_execution_machine(arn))
    if op in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"):
        # AWS authorizes a callback on the state machine whose execution issued the token (the
        # AccessDenied message names it) although the SAR lists no resource type; see the doc.
        machine = world.task_token_state_machine(p["taskToken"])
        return [ActionRequest(action=f"states:{op}", resource=machine or "*", context={}, resource_policy=None)]
    raise unmapped(call)


MAPPERS: dict[str, tuple[Mapper, frozenset[str]]] = {
    "lambda": (map_lambda, frozenset({"Invoke"})),
    "stepfunctions": (
        map_stepfunctions,
        frozenset(
            {
                "StartExecution",
                "DescribeExecution",
                "GetExecutionHistory",
                "StopExecution",
                "ListExecutions",
                "DescribeStateMachine",
                "SendTaskSuccess",
                "SendTaskFailure",
                "SendTaskHeartbeat",
            }
        ),
    ),
}
