"""`bft offboard`: refuses while the team has runs in flight or serving resources alive, else says how to
destroy its stack."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from bft import aws
from bft.workflow.offboarding import blockers
from tests.unit.test_pipeline_cli import REGION, cli, deployed  # noqa: F401 (the fixture)

PT = f"arn:aws:bedrock:{REGION}:123456789012:provisioned-model/"
DEPLOYMENT = f"arn:aws:bedrock:{REGION}:123456789012:custom-model-deployment/"


def tags(team: str, environment: str = "dev", request: str = "req-1") -> dict[str, str]:
    return {"project": "bedrock-fine-tuning", "environment": environment, "team": team, "request": request}


class Bedrock:
    """ListProvisionedModelThroughputs, ListCustomModelDeployments and ListTagsForResource over a few items."""

    def __init__(self, items: dict[str, tuple[str, dict[str, str]]]) -> None:
        self.items = items  # arn -> (status, tags)

    def get_paginator(self, operation: str) -> Any:
        kind, key, arn_key = {
            "list_provisioned_model_throughputs": (PT, "provisionedModelSummaries", "provisionedModelArn"),
            "list_custom_model_deployments": (DEPLOYMENT, "modelDeploymentSummaries", "customModelDeploymentArn"),
        }[operation]
        summaries = [
            {arn_key: arn, "status": status} for arn, (status, _) in self.items.items() if arn.startswith(kind)
        ]

        class Paginator:
            def paginate(self) -> list[dict[str, Any]]:
                return [{key: summaries}]

        return Paginator()

    def list_tags_for_resource(self, resourceARN: str) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        return {"tags": [{"key": k, "value": v} for k, v in self.items[resourceARN][1].items()]}


def test_only_the_teams_live_serving_resources_block(deployed: dict[str, Any]) -> None:  # noqa: F811
    bedrock = Bedrock(
        {
            PT + "mine": ("InService", tags("moderation")),
            PT + "going": ("Deleting", tags("moderation")),
            PT + "other-team": ("InService", tags("search")),
            PT + "other-env": ("InService", tags("moderation", environment="prod")),
            DEPLOYMENT + "mine": ("Active", tags("moderation", request="req-2")),
        }
    )
    sfn = boto3.client("stepfunctions", region_name=REGION)
    found = blockers(
        sfn=sfn, bedrock=bedrock, state_machine_arn=deployed["machine"], environment="dev", team="moderation"
    )
    assert found.running == []
    assert [(s["kind"], s["arn"], s["request"]) for s in found.serving] == [
        ("provisioned-throughput", PT + "mine", "req-1"),
        ("custom-model-deployment", DEPLOYMENT + "mine", "req-2"),
    ]


def test_offboard_refuses_while_a_run_is_in_flight_or_something_serves(
    deployed: dict[str, Any],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    aws.override("bedrock", Bedrock({PT + "mine": ("InService", tags("moderation"))}))
    sfn = boto3.client("stepfunctions", region_name=REGION)
    running = sfn.start_execution(stateMachineArn=deployed["machine"], name="req-9", input="{}")["executionArn"]
    assert cli("offboard", "--env", "dev", "--team", "moderation") == 1
    err = capsys.readouterr().err
    assert f"run in flight: {running}" in err
    assert f"provisioned-throughput still serving (InService): {PT}mine" in err
    assert "bft teardown --env dev --team moderation --request-id req-1" in err


def test_a_team_endpoint_blocks_offboarding_and_says_how_to_delete_it(
    deployed: dict[str, Any],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The team's endpoint (bft.workflow.promotion) belongs to no request: no `bft teardown` line for it."""
    endpoint = {"project": "bedrock-fine-tuning", "environment": "dev", "team": "moderation", "endpoint": "live"}
    aws.override("bedrock", Bedrock({DEPLOYMENT + "live": ("Active", endpoint)}))
    assert cli("offboard", "--env", "dev", "--team", "moderation") == 1
    err = capsys.readouterr().err
    assert f"custom-model-deployment still serving (Active): {DEPLOYMENT}live" in err
    assert (
        "team endpoint live: once no application calls it, aws bedrock delete-custom-model-deployment "
        f"--custom-model-deployment-identifier {DEPLOYMENT}live"
    ) in err
    assert "--request-id None" not in err


def test_offboard_says_which_stack_to_destroy_when_nothing_runs(
    deployed: dict[str, Any],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    aws.override("bedrock", Bedrock({PT + "other": ("InService", tags("search"))}))
    assert cli("offboard", "--env", "dev", "--team", "moderation") == 0
    assert "cdk destroy -c env=dev BftDevTeamModeration" in capsys.readouterr().out


def test_offboard_of_a_team_without_a_registry_entry_says_how_to_onboard(
    deployed: dict[str, Any],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    boto3.client("ssm", region_name=REGION).delete_parameter(Name="/bft/dev/teams/moderation/state-machine-arn")
    assert cli("offboard", "--env", "dev", "--team", "moderation") != 0
    err = capsys.readouterr().err
    assert "no registry entry under /bft/dev/teams/moderation/" in err
    assert "cdk deploy -c env=dev BftDevTeamModeration" in err
