"""Running a Lambda function's real handler in this process, as the Lambda runtime would.

The code is the function's asset folder in the cloud assembly and its asset layers' ``python/`` folders, so
what runs is what ``cdk deploy`` would upload: each :class:`InProcessFunction` imports its handler module once
(a cold start) under a module name unique to the function and to the environment, with Lambda's import path
and a module tree of its own (``_imports.py``: the layer's ``bft``, not the installed one), applies the
function's resolved environment variables to ``os.environ`` for the duration of each call and turns an
exception into the error payload the Lambda runtime returns, so Step Functions ``Retry``/``Catch`` match on
the exception's class name as they do in AWS.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bft_twin.offline._imports import IMPORTS, LayerVersionMismatch, ModuleTree, tree_for

__all__ = ["FakeLambdaContext", "InProcessFunction", "Invocation", "suspended"]

logger = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]

# os.environ and sys.path are process-wide: one invocation at a time. Re-entrant,
# because a handler may invoke another function synchronously from the same thread.
_INVOKE_LOCK = threading.RLock()
# The invocation this thread runs and how deep (a handler invoking another function from the same thread).
_ACTIVE = threading.local()


class _Entered:
    """The process-wide state one invocation set (its environment variables, its role's scope), which it
    leaves while :func:`suspended` and enters again before its handler goes on."""

    def __init__(self, function: InProcessFunction) -> None:
        self.function = function
        self._stack: ExitStack | None = None

    def enter(self) -> None:
        stack = ExitStack()
        stack.enter_context(self.function._environment())
        if self.function.scope is not None:
            stack.enter_context(self.function.scope())
        self._stack = stack

    def leave(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()


@contextmanager
def suspended() -> Iterator[None]:
    """Let other invocations run while this thread's handler waits outside the process (a model's latency).

    Lambda runs concurrent invocations in separate execution environments; here one invocation at a time
    holds the process, so a handler that waits would serialize the others (a Map's concurrent iterations),
    and their waits would add up instead of overlapping. Meanwhile the invocation's environment variables
    and scope are withdrawn (another function must not see them) and restored before it goes on. Outside a
    handler, or in a nested invocation, it waits holding what it holds.
    """
    entered: _Entered | None = getattr(_ACTIVE, "entered", None)
    if entered is None or getattr(_ACTIVE, "depth", 0) != 1:
        yield
        return
    entered.leave()
    _INVOKE_LOCK.release()
    try:
        yield
    finally:
        _INVOKE_LOCK.acquire()
        entered.enter()


@dataclass(frozen=True)
class Invocation:
    """One in-process invocation: which function, what it got, what it returned or raised."""

    function: str  # friendly name: construct path relative to the stack, e.g. "WorkFunction"
    logical_id: str
    stack: str
    function_name: str  # physical name in moto
    source: str  # "lambda:invoke", "rule:<rule name>" or "schedule:<rule name>"
    event: Any
    result: Any = None
    error: Mapping[str, Any] | None = None  # the runtime's error payload: errorType, errorMessage, stackTrace
    duration_ms: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.error is None


class FakeLambdaContext:
    """The attributes and method of the Lambda runtime's context object that handlers and Powertools use."""

    def __init__(
        self,
        *,
        function_name: str,
        function_arn: str,
        memory_mb: int,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        # ``clock``: monotonic seconds -- the environment's virtual clock (bft_twin.offline._clock).
        self._clock = clock
        self._deadline = clock() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock()) * 1000))


@dataclass
class InProcessFunction:
    """A function of the assembly whose handler runs in this process."""

    stack: str
    logical_id: str
    friendly_name: str
    function_name: str
    function_arn: str
    handler: str  # "module.function", e.g. "handler.handler"
    runtime: str
    code_dir: Path | None
    environment: Mapping[str, str]
    timeout_s: float
    memory_mb: int
    region: str
    module_prefix: str  # makes module names unique per environment: each environment cold-starts
    inline_code: str | None = None  # Code.ZipFile: the source of the handler module
    role_arn: str | None = None  # the execution role
    # The ``python/`` folders of the function's asset layers, in its ``Layers`` order.
    layer_dirs: tuple[Path, ...] = ()
    # Top-level packages of its public (ARN) layers, resolved from this process (Powertools).
    public_packages: frozenset[str] = frozenset()
    # Set by the runner: what surrounds each invocation (the role's credentials and client cache).
    scope: Callable[[], AbstractContextManager[None]] | None = None
    # Set by the runner: the environment's virtual monotonic clock, for the context's remaining time.
    clock: Callable[[], float] = time.monotonic
    _handler_fn: Handler | None = field(default=None, init=False, repr=False)
    _tree: ModuleTree | None = field(default=None, init=False, repr=False)
    _wrappers: list[Callable[[Handler], Handler]] = field(default_factory=list, init=False, repr=False)

    def wrap_handler(self, wrapper: Callable[[Handler], Handler]) -> None:
        """Run the handler through ``wrapper(handler)`` from now on (a test's or scenario's fault injection:
        a slow step, a crash after a side effect). Applied at the cold start, inside the function's
        environment, or at once if the handler is already loaded; the runtime's checks (timeout, marshalling,
        error payload) still judge what the wrapped handler does."""
        if self._handler_fn is not None:
            self._handler_fn = wrapper(self._handler_fn)
        else:
            self._wrappers.append(wrapper)

    def module(self, name: str) -> ModuleType | None:
        """The function's own copy of module ``name`` (e.g. ``"bft.aws"``), once its cold start imported it."""
        return None if self._tree is None else self._tree.modules.get(name)

    @property
    def modules(self) -> Mapping[str, ModuleType]:
        """Every module of the function's own tree (its code's and its asset layers' packages)."""
        return {} if self._tree is None else dict(self._tree.modules)

    def unload(self) -> None:
        """Forget the handler and its modules (the environment is closed)."""
        if self._tree is not None:
            IMPORTS.forget(self._tree)
        self._handler_fn, self._tree = None, None

    def invoke(self, event: Any, *, source: str) -> Invocation:
        """Call the handler with ``event``; never raises for handler errors (they are in the result)."""
        with _INVOKE_LOCK:
            started = time.perf_counter()
            result: Any = None
            error: dict[str, Any] | None = None
            entered, previous = _Entered(self), getattr(_ACTIVE, "entered", None)
            entered.enter()
            _ACTIVE.entered, _ACTIVE.depth = entered, getattr(_ACTIVE, "depth", 0) + 1
            try:
                try:
                    handler = self._load()
                except _RuntimeError as exc:
                    error = exc.payload
                else:
                    # The Timeout counts from the handler's call: the cold start (init) and the runtime's
                    # credentials are not part of the invocation's time, as in Lambda.
                    context = FakeLambdaContext(
                        function_name=self.function_name,
                        function_arn=self.function_arn,
                        memory_mb=self.memory_mb,
                        timeout_s=self.timeout_s,
                        clock=self.clock,
                    )
                    began = self.clock()
                    try:
                        result = handler(event, context)
                    except Exception as exc:
                        error = _error_payload(exc)
                    else:
                        error = _marshal_error(result)
                        result = None if error else result
                    if self.clock() - began > self.timeout_s:
                        # Lambda stops a handler at its Timeout; in process it can only be judged afterwards.
                        result, error = None, _timed_out(context.aws_request_id, self.timeout_s)
            finally:
                entered.leave()
                _ACTIVE.entered, _ACTIVE.depth = previous, _ACTIVE.depth - 1
            return Invocation(
                function=self.friendly_name,
                logical_id=self.logical_id,
                stack=self.stack,
                function_name=self.function_name,
                source=source,
                event=event,
                result=result,
                error=error,
                duration_ms=(time.perf_counter() - started) * 1000,
            )

    # -- loading ----------------------------------------------------------------------------------

    def _load(self) -> Handler:
        if self._handler_fn is not None:
            return self._handler_fn
        if not self.runtime.startswith("python"):
            raise _RuntimeError(
                "Runtime.InvalidRuntime",
                f"{self.stack}/{self.logical_id}: runtime {self.runtime!r} cannot run in process",
            )
        module_path, _, function = self.handler.rpartition(".")
        if not module_path or not function:
            raise _RuntimeError("Runtime.MalformedHandlerName", f"bad handler {self.handler!r}")
        module = self._import(module_path)
        handler_fn = getattr(module, function, None)
        if not callable(handler_fn):
            raise _RuntimeError("Runtime.HandlerNotFound", f"handler {function!r} missing on module {module_path!r}")
        for wrapper in self._wrappers:
            handler_fn = wrapper(handler_fn)
        self._handler_fn = handler_fn
        return handler_fn

    def _import(self, module_path: str) -> ModuleType:
        name = f"{self.module_prefix}_{self.logical_id}_{module_path.replace('.', '_')}"
        if self.inline_code is not None:
            module = ModuleType(name)
            sys.modules[name] = module
            tree = self._module_tree()
            IMPORTS.adopt(module, tree)
            with IMPORTS.switched(tree):
                exec(compile(self.inline_code, f"<inline code of {self.logical_id}>", "exec"), module.__dict__)
            return module
        if self.code_dir is None:
            raise _RuntimeError(
                "Runtime.ImportModuleError",
                f"{self.stack}/{self.logical_id}: no local code (neither an asset folder nor inline code)",
            )
        source = self.code_dir / (module_path.replace(".", "/") + ".py")
        spec = importlib.util.spec_from_file_location(name, source)
        if spec is None or spec.loader is None or not source.is_file():
            raise _RuntimeError("Runtime.ImportModuleError", f"Unable to import module {module_path!r}: no {source}")
        module = importlib.util.module_from_spec(spec)
        # Registered under its unique name: dataclasses and pydantic look classes' modules up there.
        sys.modules[name] = module
        tree = self._module_tree()
        IMPORTS.adopt(module, tree)
        with IMPORTS.switched(tree):
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                del sys.modules[name]
                raise _RuntimeError(
                    "Runtime.ImportModuleError", f"Unable to import module {module_path!r}: {exc!r}"
                ) from exc
        return module

    def _module_tree(self) -> ModuleTree:
        """Lambda's import path for this function: its code, then its layers' python/, then the runtime."""
        if self._tree is None:
            try:
                self._tree = tree_for(
                    f"{self.stack}/{self.logical_id}", self.code_dir, self.layer_dirs, self.public_packages
                )
            except LayerVersionMismatch as exc:
                raise _RuntimeError("Runtime.ImportModuleError", str(exc)) from exc
        return self._tree

    @contextmanager
    def _environment(self) -> Iterator[None]:
        variables = {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{self.runtime}",
            "_HANDLER": self.handler,
            **({"LAMBDA_TASK_ROOT": str(self.code_dir)} if self.code_dir else {}),
            **self.environment,
        }
        saved = {name: os.environ.get(name) for name in variables}
        os.environ.update(variables)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


class _RuntimeError(Exception):
    """A failure of the (emulated) runtime itself, reported with the runtime's error type."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.payload: dict[str, Any] = {"errorType": error_type, "errorMessage": message, "stackTrace": []}


def _error_payload(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        # The first frame is this module calling the handler; Lambda shows only the handler's frames.
        "stackTrace": traceback.format_tb(exc.__traceback__.tb_next if exc.__traceback__ else None),
    }


def _timed_out(request_id: str, timeout_s: float) -> dict[str, Any]:
    """What Lambda reports for an invocation that ran past the function's Timeout."""
    return {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds",
    }


def _marshal_error(result: Any) -> dict[str, Any] | None:
    """The runtime serializes the result to JSON; what cannot be serialized fails the invocation."""
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        return {
            "errorType": "Runtime.MarshalError",
            "errorMessage": f"Unable to marshal response: {exc}",
            "stackTrace": [],
        }
    return None
