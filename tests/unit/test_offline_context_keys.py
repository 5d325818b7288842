"""Condition keys AWS supplies, supplied offline: the two cases of the audit, on a crafted fixture assembly.

The per-key proofs are unit tests (``test_iam_context_keys.py``); these stand the fixture assembly up with one
statement more in the work function's role policy and run the function, as the offline run does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bft_twin.offline import OfflineAssembly
from tests.unit.test_offline_runner import ACCOUNT, PIPELINE, REGION, _copy_with_templates, assembly  # noqa: F401


def crafted(assembly: Path, tmp_path: Path, statement: dict[str, Any]) -> Path:  # noqa: F811
    """The fixture assembly with ``statement`` added to the work function's role policy."""

    def edit(name: str, template: dict[str, Any]) -> None:
        if name != PIPELINE:
            return
        (policy,) = [
            resource["Properties"]["PolicyDocument"]
            for logical_id, resource in template["Resources"].items()
            if logical_id.startswith("WorkFunctionServiceRoleDefaultPolicy")
        ]
        policy["Statement"].append(statement)

    return _copy_with_templates(assembly, tmp_path / "crafted", edit)


def test_a_deny_on_the_virtual_time_applies_offline(assembly: Path, tmp_path: Path) -> None:  # noqa: F811
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*",
            "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}}  # fmt: skip
    path = crafted(assembly, tmp_path, deny)
    with OfflineAssembly(path, region=REGION, account_id=ACCOUNT) as env:
        invocation = env.invoke("WorkFunction", {"request_id": "r-1"})
    assert invocation.error is not None
    assert "AccessDenied" in json.dumps(invocation.error)
    assert "with an explicit deny in an identity-based policy" in invocation.error["errorMessage"]


def test_a_function_denied_its_own_s3_access_with_via_aws_service_false_is_denied(
    assembly: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The fixture's work function writes its result to S3 (the KMS key behind it is used via S3): a Deny of
    its own S3 calls on aws:ViaAWSService false refuses the write; the KMS request S3 makes for it is true."""
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:ViaAWSService": "false"}}}
    path = crafted(assembly, tmp_path, deny)
    with OfflineAssembly(path, region=REGION, account_id=ACCOUNT) as env:
        invocation = env.invoke("WorkFunction", {"request_id": "r-1"})
    assert invocation.error is not None
    assert "s3:PutObject" in invocation.error["errorMessage"]
    assert "explicit deny" in invocation.error["errorMessage"]
