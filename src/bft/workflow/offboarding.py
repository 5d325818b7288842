"""What keeps a team from being offboarded: runs in flight and serving resources still alive.

Destroying a team's stack deletes its state machine: a running execution would stop without its Catch ->
Cleanup (a job or a throughput left billing, no notification), and a throughput or deployment the team
still serves from would go on costing money with nobody left to tear it down. `bft offboard` refuses while
either exists and says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from bft.aws_errors import bedrock_call, error_code
from bft.workflow.ownership import PROJECT_TAG

# A serving resource in one of these states is gone or going: it no longer costs money.
ENDED = {"Deleting", "DELETING", "Failed", "FAILED"}


@dataclass
class Blockers:
    running: list[str] = field(default_factory=list)  # execution ARNs
    serving: list[dict[str, Any]] = field(default_factory=list)  # {kind, arn, request, endpoint, status}

    def __bool__(self) -> bool:
        return bool(self.running or self.serving)


def blockers(*, sfn: Any, bedrock: Any, state_machine_arn: str, environment: str, team: str) -> Blockers:
    """The team's RUNNING executions and its live provisioned throughputs and custom model deployments
    (found by their tags: project, environment and team)."""
    found = Blockers()
    for page in sfn.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine_arn, statusFilter="RUNNING"
    ):
        found.running.extend(execution["executionArn"] for execution in page["executions"])
    for kind, operation, key, arn_key in (
        (
            "provisioned-throughput",
            "list_provisioned_model_throughputs",
            "provisionedModelSummaries",
            "provisionedModelArn",
        ),
        (
            "custom-model-deployment",
            "list_custom_model_deployments",
            "modelDeploymentSummaries",
            "customModelDeploymentArn",
        ),
    ):
        action = "".join(part.capitalize() for part in operation.split("_"))
        with bedrock_call(action):
            summaries = [item for page in bedrock.get_paginator(operation).paginate() for item in page.get(key, [])]
        for summary in summaries:
            if summary.get("status") in ENDED:
                continue
            arn = summary[arn_key]
            try:
                with bedrock_call("ListTagsForResource"):
                    tags = {t["key"]: t["value"] for t in bedrock.list_tags_for_resource(resourceARN=arn)["tags"]}
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    continue  # deleted between the list and the tag read
                raise
            if (tags.get("project"), tags.get("environment"), tags.get("team")) == (PROJECT_TAG, environment, team):
                found.serving.append(
                    {
                        "kind": kind,
                        "arn": arn,
                        "request": tags.get("request"),
                        # A team endpoint (bft.workflow.promotion) belongs to no request.
                        "endpoint": tags.get("endpoint"),
                        "status": summary.get("status"),
                    }
                )
    return found
