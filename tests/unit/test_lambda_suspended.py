"""In process, one invocation holds the runtime at a time; a handler waiting outside the process (a model's
simulated latency) lets the others run, as concurrent invocations do in their own environments in AWS."""

from __future__ import annotations

import os
import threading
from typing import Any

from bft_twin.offline._imports import IMPORTS
from bft_twin.offline._lambda import InProcessFunction, suspended

WAITER = """
import os

def handler(event, context):
    seen = [os.environ.get("ROLE")]
    event["entered"].set()
    with event["suspended"]():  # what the fake's latency sleep does (the handler cannot import the twin)
        event["release"].wait(10)
    seen.append(os.environ.get("ROLE"))
    return seen
"""

OTHER = """
import os

def handler(event, context):
    return [os.environ.get("ROLE"), os.environ.get("ONLY_WAITER")]
"""


def _function(name: str, code: str, environment: dict[str, str]) -> InProcessFunction:
    return InProcessFunction(
        stack="Stack",
        logical_id=name,
        friendly_name=name,
        function_name=name,
        function_arn=f"arn:aws:lambda:us-west-2:123456789012:function:{name}",
        handler="index.handler",
        runtime="python3.13",
        code_dir=None,
        environment=environment,
        timeout_s=30,
        memory_mb=128,
        region="us-west-2",
        module_prefix="_suspended_test",
        inline_code=code,
    )


def test_a_suspended_invocation_lets_another_run_without_seeing_its_environment() -> None:
    IMPORTS.install()
    try:
        waiter = _function("Waiter", WAITER, {"ROLE": "waiter", "ONLY_WAITER": "secret"})
        other = _function("Other", OTHER, {"ROLE": "other"})
        entered, release = threading.Event(), threading.Event()
        results: dict[str, Any] = {}
        thread = threading.Thread(
            target=lambda: results.update(
                waiter=waiter.invoke({"entered": entered, "release": release, "suspended": suspended}, source="t")
            )
        )
        thread.start()
        assert entered.wait(10)
        # The waiter is suspended: the other function runs now (not after it), with its own environment only.
        done = threading.Event()
        runner = threading.Thread(target=lambda: (results.update(other=other.invoke({}, source="t")), done.set()))
        runner.start()
        ran_meanwhile = done.wait(5)
        release.set()
        thread.join(10)
        runner.join(10)
    finally:
        IMPORTS.uninstall()
    assert ran_meanwhile, "the other invocation waited for the suspended one"
    assert results["other"].result == ["other", None]
    # The waiter's environment is back once it goes on, and gone after it returns.
    assert results["waiter"].result == ["waiter", "waiter"]
    assert "ONLY_WAITER" not in os.environ


def test_suspended_outside_a_handler_just_runs_its_body() -> None:
    with suspended():
        ran = True
    assert ran
