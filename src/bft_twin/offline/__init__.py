"""Run a synthesized cloud assembly offline: its resources in moto, its Lambda handlers in process.

>>> with OfflineAssembly(Path("cdk.out/local"), region="us-west-2", account_id="123456789012") as env:
...     arn = env.start_execution(input={"requestId": "r-1"}, name="r-1")
...     result = env.wait(arn, timeout=120)          # ExecutionResult(status, output, error, cause, history, ...)
...     env.invocations                              # Counter: "WorkFunction" -> 3, ...

What runs is what ``cdk synth`` wrote: every stack template of the assembly
(nested stage assemblies included), in dependency order, with CloudFormation
intrinsics resolved against the resources created in moto (``Fn::ImportValue``
and ``Fn::GetStackOutput`` across stacks). A template parameter of type
``AWS::SSM::Parameter::Value<String>`` reads moto's SSM when its stack is created, as
CloudFormation reads SSM at deploy time: a team stack finds what the pipeline stack wrote
there, which the manifest's stack dependencies (created first) guarantee. Lambda code is the function's asset
folder, imported with Lambda's import path: the folder, then its asset layers'
``python/``, then the runtime -- so the project's ``bft`` a handler runs is the
layer's copy, one module tree per function (``_imports.py``), and the layer's
SDK resolves to this process's botocore once its version is checked. A test
replaces a function's client in *its* copy, after its first invocation:
``env.function_module(function, "bft.aws").override(service, client)``. The
installed ``bft.aws`` (the CLI's) is reset when the environment opens and closes.

Created in moto: S3 buckets (versioning, default encryption), KMS keys and
aliases, SNS topics and subscriptions, SQS queues, DynamoDB tables (TTL,
indexes, streams; also ``GlobalTable``), IAM roles, Lambda functions, layers
and event source mappings, SSM parameters, event buses and rules, log groups,
Step Functions state machines and activities. Everything else (policies,
permissions, alarms, custom resources such as bucket auto-delete) is skipped and
listed in ``env.skipped``; a property that references a skipped resource fails
with :class:`IntrinsicError`, as does an intrinsic the resolver does not know.

Lambda routing: ``moto.awslambda.models.LambdaFunction._invoke_lambda`` is
replaced for the assembly's functions. Every path that invokes a function goes
through it -- the interpreter's ``lambda:invoke`` and ``.waitForTaskToken``
tasks and legacy function-ARN tasks (both call boto3 ``Lambda.Invoke`` against
moto), SNS ``lambda`` subscriptions and event source mappings -- and
:meth:`OfflineAssembly.put_event`, :meth:`~OfflineAssembly.run_scheduled_rules`
and :meth:`~OfflineAssembly.invoke` call the same code directly. Invocations are
serialized (``os.environ`` is process-wide); a handler exception becomes the
runtime's error payload, so ``Retry``/``Catch`` match on the exception class
name. Function ``Timeout`` is reported by ``get_remaining_time_in_millis`` (on the
environment's clock); a handler that ran past it fails with ``Sandbox.Timedout``
once it returns. Events that reach moto's PutEvents (handlers, ``events:putEvents``
tasks) are delivered to the assembly's rule targets synchronously, before
PutEvents returns (AWS delivers asynchronously).

What moto 5.2.5 does with the Amazon States Language (each observed on a synthesized
or hand-written definition run through this module):

Works as in AWS
  - Lambda errors: ``errorType`` is the error name; ``Retry``/``Catch`` on custom names,
    ``States.TaskFailed`` and ``States.ALL`` match; retries add TaskScheduled/TaskFailed
    events but no new StateEntered (as in AWS).
  - ``Retry``: IntervalSeconds, MaxAttempts and BackoffRate are honoured with real sleeps
    (1/2/4 s gaps for 1 s x 2.0); ``JitterStrategy: FULL`` and ``MaxDelaySeconds`` give
    random gaps under the cap.
  - ``Catch`` with ``ResultPath`` ({"Error", "Cause"} merged into the input);
    ``InputPath``, ``Parameters``, ``ResultSelector``, ``ResultPath``, ``OutputPath``.
  - ``.waitForTaskToken``: ``$$.Task.Token`` reaches the handler; SendTaskSuccess/Failure
    from another thread resumes it. A handler may resume *its own* token during its
    invocation (the task completes at once) -- but only without ``HeartbeatSeconds``.
  - ``TimeoutSeconds`` and ``TimeoutSecondsPath`` on a waitForTaskToken task:
    TaskTimedOut, error ``States.Timeout``, catchable. ``HeartbeatSecondsPath`` with
    SendTaskHeartbeat from another thread keeps the task alive.
  - ``Wait`` with ``Seconds``, ``SecondsPath`` and ``TimestampPath`` (real sleeps);
    the state machine's top-level ``TimeoutSeconds`` ends it TIMED_OUT.
  - ``Fail`` with ``Error``/``Cause`` and ``ErrorPath``/``CausePath`` (custom names).
  - ``Map`` (ItemsPath, ItemSelector, ``$$.Map.Item.*``, MaxConcurrency, ItemProcessor
    INLINE and legacy Iterator, Catch on an item's error) and ``Parallel``; ``Choice``
    with And/IsPresent/NumericGreaterThan/StringMatches.
  - Intrinsics: States.Format, UUID, StringToJson, JsonToString, MathAdd, MathRandom,
    Array, ArrayLength, ArrayGetItem, ArrayContains, ArrayPartition, ArrayUnique,
    ArrayRange, StringSplit, Hash, Base64Encode.
  - Integrations: ``sns:publish``, ``dynamodb:putItem``, ``aws-sdk:dynamodb:getItem``,
    ``events:putEvents``, legacy ``Resource: <function ARN>``.
  - ``Credentials`` on a task is accepted and the task runs (the role is not assumed).
  - ``StateMachineType: EXPRESS`` runs through StartExecution like STANDARD.

Differs from AWS (design the definition around these)
  - JSONata (``QueryLanguage: JSONata``) and variables (``Assign`` / ``$name``) parse but
    fail at run time: States.Runtime ``TypeError('NoneType' object is not callable)``.
    Write JSONPath without variables.
  - A ``Fail`` whose Error (static or from ErrorPath) starts with ``States.`` fails the
    execution with States.Runtime (ValueError "Custom Error Names MUST NOT begin with
    the prefix 'States.'"). Catch ``States.Timeout`` into a Fail with a name of your own.
  - Heartbeat expiry raises ``States.Timeout``, never ``States.HeartbeatTimeout``; a Catch
    on States.HeartbeatTimeout alone does not match. Catch ``States.Timeout`` (which also
    covers heartbeats in AWS) or list both.
  - SendTaskHeartbeat before the task's Lambda invocation has returned (e.g. from the
    handler itself) gets InvalidToken; with HeartbeatSeconds set, a handler that resumes
    its own token leaves the task waiting until the heartbeat expires (States.Timeout).
  - ``Retry`` of a waitForTaskToken task after SendTaskFailure or a timeout reuses the
    same token and replays the stale outcome at once (the retry fails immediately; the
    new attempt cannot be resumed). A Retry after the *invocation* failed works. To
    re-wait, loop with Catch -> the same state (a fresh token each entry): that works.
  - SendTaskFailure drops ``cause`` in moto; this module patches it through, as AWS does.
  - StartSyncExecution is not implemented (404).
  - DescribeExecution returns a string output unquoted; :meth:`OfflineAssembly.wait`
    parses JSON and falls back to the raw string.
  - moto logs every failure inside a state at ERROR with a page-long repr, including ones
    a Retry, Catch or Choice handles; this module filters those records (the history has
    them) while an environment is open.
  - Time is real in moto. ``OfflineAssembly(..., time_factor=F)`` puts every wait of the
    interpreter (Wait, Retry intervals, TimeoutSeconds/Path, heartbeats, the execution's own
    TimeoutSeconds) and :meth:`OfflineAssembly.run_due_schedules` (each ``rate()`` rule by its
    period) on one virtual clock, ``env.clock``: F virtual seconds per real second while nothing
    computes; handlers and task service calls run at real speed (see ``_clock.py``). The
    history's timestamps stay real. F = 1 (the default) is real time.
"""

from bft_twin.offline._assembly import AssemblyError
from bft_twin.offline._executions import ExecutionResult
from bft_twin.offline._intrinsics import IntrinsicError
from bft_twin.offline._lambda import FakeLambdaContext, Invocation
from bft_twin.offline._runner import OfflineAssembly

__all__ = ["AssemblyError", "ExecutionResult", "FakeLambdaContext", "IntrinsicError", "Invocation", "OfflineAssembly"]
