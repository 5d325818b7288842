"""Promotion in place (bft.workflow.promotion) against moto and the Bedrock fake in us-east-1 (Nova, served on
demand): the team's endpoint is created by its first run, pointed at each later run's model with
UpdateCustomModelDeployment, records what it served before, and `bft rollback` points it back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bft.config import load_config
from bft.errors import ForeignResource, PromotionFailed, RollbackRefused
from bft.sample_data import write_splits
from bft.workflow import cleanup, job, serving
from bft.workflow.ownership import read_tags
from bft.workflow.promotion import (
    PENDING_TAG,
    PREVIOUS_TAG,
    endpoint_tags,
    endpoint_use,
    promote,
    protected_models,
    rollback,
)
from bft.workflow.request import Context, validate_request
from bft_twin.bedrock_fake import FakeBedrock
from bft_twin.catalog import NOVA_LITE_FT, NOVA_MICRO_FT

REGION = "us-east-1"
ACCOUNT = "123456789012"
ENVIRONMENT = "local-us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/bft-service"
DATASETS = "datasets-bucket"
HOUR = 3600.0


@dataclass
class World:
    fake: FakeBedrock
    bedrock: Any
    table: Any

    def run(self, request_id: str, *, model: str = NOVA_MICRO_FT, endpoint: str | None = "live") -> dict[str, Any]:
        """A validated run of team moderation that trained and is served on its own deployment (Active)."""
        document = load_config(ENVIRONMENT).policy_document(DATASETS)
        document["teams"]["moderation"]["allowedBaseModels"] = [NOVA_MICRO_FT, NOVA_LITE_FT]
        document["allowedBaseModels"] = [NOVA_MICRO_FT, NOVA_LITE_FT]
        request = {
            "team": "moderation",
            "baseModelId": model,
            "trainingDataUri": f"s3://{DATASETS}/moderation/train.jsonl",
            "hyperParameters": {"epochCount": "2"},
            "serving": {"endpoint": endpoint},
            "requestId": request_id,
        }
        context = Context(
            execution_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:execution:sm:{request_id}",
            execution_name=request_id,
            now=datetime.now(UTC),
        )
        run = validate_request(request, document, context, bedrock=self.bedrock, table=self.table)
        job.start_job(run, bedrock=self.bedrock, role_arn=ROLE, outputs_bucket="outputs", kms_key_arn=None, vpc=None)
        self.fake.advance(5 * HOUR)
        run["servingResult"] = serving.create_serving(run, bedrock=self.bedrock)
        self.fake.advance(HOUR)
        return run

    def model(self, run: dict[str, Any]) -> str:
        found = self.bedrock.get_model_customization_job(jobIdentifier=run["jobName"])
        return str(found["outputModelArn"])

    def promote_fully(self, run: dict[str, Any]) -> dict[str, Any]:
        """PromoteToEndpoint, then CheckPromotion after each wait until ready, as the state machine runs them."""
        state = promote(run, run["servingResult"], bedrock=self.bedrock)
        while not state["ready"]:
            self.fake.advance(run["serving"]["pollSeconds"])
            state = promote(run, run["servingResult"], bedrock=self.bedrock, promotion=state)
        return state

    def endpoint(self, arn: str) -> dict[str, Any]:
        found: dict[str, Any] = self.bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
        return found


@pytest.fixture
def world(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (DATASETS, "outputs"):
            s3.create_bucket(Bucket=bucket)
        paths = write_splits(
            tmp_path / "data", training=40, validation=8, evaluation=10, data_format="bedrock-conversation-2024"
        )
        s3.upload_file(str(paths["train"]), DATASETS, "moderation/train.jsonl")
        table = boto3.resource("dynamodb", region_name=REGION).create_table(
            TableName="state",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        fake = FakeBedrock(region=REGION, account_id=ACCOUNT, s3=s3)
        yield World(fake=fake, bedrock=fake.client("bedrock"), table=table)


def test_the_first_run_creates_the_endpoint_tagged_as_the_teams_and_drops_its_own_deployment(world: World) -> None:
    run = world.run("first")
    model = world.model(run)
    started = promote(run, run["servingResult"], bedrock=world.bedrock)
    assert (started["action"], started["phase"], started["ready"], started["before"]) == (
        "created",
        "creating",
        False,
        None,
    )
    assert started["deploymentName"] == "bft-local-us-east-1-moderation-live"
    tags = read_tags(world.bedrock, started["arn"])
    assert tags == {t["key"]: t["value"] for t in endpoint_tags(ENVIRONMENT, "moderation", "live")}
    assert "request" not in tags  # the team's, not the run's: no run's cleanup or teardown may delete it
    world.fake.advance(HOUR)
    done = promote(run, run["servingResult"], bedrock=world.bedrock, promotion=started)
    assert (done["ready"], done["after"], done["before"], done["action"]) == (True, model, None, "created")
    assert done["runDeployment"] == f"{run['servingResult']['arn']}: deleted"
    assert [d["customModelDeploymentArn"] for d in world.fake.custom_model_deployments()] == [started["arn"]]


def test_a_later_run_updates_the_same_arn_and_records_the_previous_model(world: World) -> None:
    first = world.promote_fully(world.run("first"))
    second_run = world.run("second")
    second_model = world.model(second_run)
    started = promote(second_run, second_run["servingResult"], bedrock=world.bedrock)
    assert (started["arn"], started["phase"], started["before"]) == (first["arn"], "updating", first["after"])
    # Recorded before the update, as pending: the rollback target is not overwritten until the update completes.
    tags = read_tags(world.bedrock, first["arn"])
    assert (tags.get(PENDING_TAG), tags.get(PREVIOUS_TAG)) == (first["after"], None)
    assert world.endpoint(first["arn"])["updateDetails"] == {"modelArn": second_model, "updateStatus": "Updating"}
    world.fake.advance(HOUR)
    done = promote(second_run, second_run["servingResult"], bedrock=world.bedrock, promotion=started)
    assert (done["ready"], done["action"], done["before"], done["after"]) == (
        True,
        "updated",
        first["after"],
        second_model,
    )
    tags = read_tags(world.bedrock, first["arn"])
    assert (tags.get(PREVIOUS_TAG), tags.get(PENDING_TAG)) == (first["after"], None)
    assert world.endpoint(first["arn"])["modelArn"] == second_model
    assert world.fake.counters.deployments_updated == 1
    # A repeated check (a lost result) finds it done and changes nothing.
    again = promote(second_run, second_run["servingResult"], bedrock=world.bedrock, promotion=done)
    assert (again["ready"], again["before"]) == (True, first["after"])
    assert world.fake.counters.deployments_updated == 1


def test_a_retried_start_after_a_lost_result_does_not_update_twice(world: World) -> None:
    first = world.promote_fully(world.run("first"))
    run = world.run("second")
    promote(run, run["servingResult"], bedrock=world.bedrock)
    retried = promote(run, run["servingResult"], bedrock=world.bedrock)  # the state machine's Retry, no state
    assert (retried["phase"], retried["before"]) == ("updating", first["after"])
    assert world.fake.counters.deployments_updated == 1


def test_update_failed_is_a_promotion_failure_and_the_endpoint_serves_the_previous_model(world: World) -> None:
    first = world.promote_fully(world.run("first"))
    run = world.run("second")
    world.fake.plan_deployment_updates("UpdateFailed")
    started = promote(run, run["servingResult"], bedrock=world.bedrock)
    world.fake.advance(HOUR)
    with pytest.raises(PromotionFailed) as caught:
        promote(run, run["servingResult"], bedrock=world.bedrock, promotion=started)
    message = str(caught.value)
    assert f"endpoint live ({first['arn']})" in message
    assert "UpdateFailed" in message
    assert f"still serves {first['after']}, as before" in message
    assert world.endpoint(first["arn"])["modelArn"] == first["after"]
    assert PENDING_TAG not in read_tags(world.bedrock, first["arn"])  # nothing to roll back to was invented
    # The run's cleanup deletes its own deployment and its model (nothing uses it), never the endpoint.
    result = cleanup.cleanup(
        {"run": run, "serving": run["servingResult"], "promotion": started, "error": {"Error": "PromotionFailed"}},
        bedrock=world.bedrock,
        delete_failed_models=True,
    )
    assert f"{world.model(run)}: custom model deleted" in result["actions"]
    assert [d["customModelDeploymentArn"] for d in world.fake.custom_model_deployments()] == [first["arn"]]


def test_an_update_to_a_model_of_another_base_is_refused_and_changes_nothing(world: World) -> None:
    first = world.promote_fully(world.run("first"))
    lite = world.run("lite", model=NOVA_LITE_FT)
    with pytest.raises(PromotionFailed) as caught:
        promote(lite, lite["servingResult"], bedrock=world.bedrock)
    message = str(caught.value)
    assert message.startswith(f"Bedrock refused to point endpoint live ({first['arn']}) at {world.model(lite)}")
    assert "ValidationException" in message
    assert f"it still serves {first['after']}, unchanged" in message
    found = world.endpoint(first["arn"])
    assert (found["modelArn"], found.get("updateDetails")) == (first["after"], None)
    assert PENDING_TAG not in read_tags(world.bedrock, first["arn"])
    assert world.fake.counters.deployments_updated == 0


def test_a_busy_endpoint_is_waited_for_then_promoted_over(world: World) -> None:
    first = world.promote_fully(world.run("first"))
    second, third = world.run("second"), world.run("third")
    promote(second, second["servingResult"], bedrock=world.bedrock)  # in flight
    waiting = promote(third, third["servingResult"], bedrock=world.bedrock)
    assert (waiting["phase"], waiting["ready"]) == ("waiting", False)
    world.fake.advance(HOUR)
    world.promote_fully(second)
    done = world.promote_fully(third)
    assert (done["before"], done["after"]) == (world.model(second), world.model(third))
    assert read_tags(world.bedrock, first["arn"])[PREVIOUS_TAG] == world.model(second)


def test_a_busy_endpoint_past_the_last_poll_fails_naming_what_it_serves(world: World) -> None:
    first = world.promote_fully(world.run("first"))
    second, third = world.run("second"), world.run("third")
    world.fake.plan_deployment_updates("UpdateCompleted", duration_s=100 * HOUR)
    promote(second, second["servingResult"], bedrock=world.bedrock)
    last = {"polls": third["serving"]["maxPolls"] - 1, "phase": "waiting"}
    with pytest.raises(PromotionFailed, match=rf"busy with another change .* it serves {first['after']}"):
        promote(third, third["servingResult"], bedrock=world.bedrock, promotion=last)


def test_an_endpoint_of_another_team_is_never_touched(world: World) -> None:
    first = world.promote_fully(world.run("first"))
    world.bedrock.untag_resource(resourceARN=first["arn"], tagKeys=["team"])
    world.bedrock.tag_resource(resourceARN=first["arn"], tags=[{"key": "team", "value": "search"}])
    run = world.run("second")
    with pytest.raises(ForeignResource, match="not team moderation's endpoint live"):
        promote(run, run["servingResult"], bedrock=world.bedrock)
    assert world.fake.counters.deployments_updated == 0


def test_rollback_points_the_endpoint_back_and_then_has_nothing_to_roll_back_to(world: World) -> None:
    first = world.promote_fully(world.run("first"))
    second = world.promote_fully(world.run("second"))
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        world.fake.advance(seconds)

    lines: list[str] = []
    result = rollback(
        world.bedrock,
        environment=ENVIRONMENT,
        team="moderation",
        endpoint="live",
        wait_seconds=3 * HOUR,
        poll_seconds=60,
        sleep=sleep,
        say=lines.append,
    )
    assert (result["arn"], result["before"], result["after"], result["updateStatus"]) == (
        first["arn"],
        second["after"],
        first["after"],
        "UpdateCompleted",
    )
    assert world.endpoint(first["arn"])["modelArn"] == first["after"]
    assert slept
    assert lines[-1].endswith(f"serves {first['after']} again")
    with pytest.raises(RollbackRefused, match="nothing to roll back to: it already serves its previous model"):
        rollback(world.bedrock, environment=ENVIRONMENT, team="moderation", endpoint="live")


def test_rollback_with_nothing_to_roll_back_to_names_the_endpoint_and_changes_nothing(world: World) -> None:
    first = world.promote_fully(world.run("first"))
    with pytest.raises(RollbackRefused) as caught:
        rollback(world.bedrock, environment=ENVIRONMENT, team="moderation", endpoint="live")
    message = str(caught.value)
    assert message.startswith(
        f"endpoint live of team moderation in {ENVIRONMENT} (deployment bft-local-us-east-1-moderation-live) "
        f"({first['arn']}) has nothing to roll back to"
    )
    assert message.endswith("nothing was changed")
    assert world.fake.counters.deployments_updated == 0
    with pytest.raises(RollbackRefused, match=r"endpoint other .* does not exist"):
        rollback(world.bedrock, environment=ENVIRONMENT, team="moderation", endpoint="other")


def test_rollback_checks_the_recorded_model_is_the_teams(world: World) -> None:
    first = world.promote_fully(world.run("first"))
    world.promote_fully(world.run("second"))
    world.bedrock.untag_resource(resourceARN=first["after"], tagKeys=["team"])
    with pytest.raises(RollbackRefused, match="is not team moderation's"):
        rollback(world.bedrock, environment=ENVIRONMENT, team="moderation", endpoint="live")
    assert world.fake.counters.deployments_updated == 1  # the second run's, no rollback


def test_the_models_an_endpoint_serves_or_keeps_are_protected_and_kept_by_cleanup(world: World) -> None:
    first = world.promote_fully(world.run("first"))
    second_run = world.run("second")
    second = world.promote_fully(second_run)
    protected = protected_models(world.bedrock)
    assert protected[second["after"]].startswith("served by custom model deployment")
    assert protected[first["after"]] == "rollback target of endpoint live"
    assert endpoint_use(world.bedrock, first["arn"], first["after"]) == "keeps it as its rollback target"
    # A failure after the promotion (e.g. the report) never deletes the model the endpoint serves.
    result = cleanup.cleanup(
        {"run": second_run, "serving": second_run["servingResult"], "promotion": second, "error": {"Error": "X"}},
        bedrock=world.bedrock,
        delete_failed_models=True,
    )
    assert f"{second['after']}: custom model kept: endpoint live ({second['arn']}) serves it" in result["actions"]


def test_an_endpoint_changed_between_the_read_and_the_update_is_waited_for(world: World) -> None:
    """Another run's update began after this one read the endpoint: Bedrock answers "mutating state", the run
    drops its record and waits (docs/bedrock-behaviour.md#deployment-update)."""
    first = world.promote_fully(world.run("first"))
    run = world.run("second")
    world.fake.inject(
        "UpdateCustomModelDeployment", "ValidationException", message="Custom model deployment is in a mutating state"
    )
    waiting = promote(run, run["servingResult"], bedrock=world.bedrock)
    assert (waiting["phase"], waiting["ready"]) == ("waiting", False)
    assert PENDING_TAG not in read_tags(world.bedrock, first["arn"])
    started = promote(run, run["servingResult"], bedrock=world.bedrock, promotion=waiting)
    assert (started["phase"], started["before"]) == ("updating", first["after"])


def test_the_reaper_keeps_what_an_endpoint_serves_or_can_roll_back_to_and_applies_the_teams_retention(
    world: World,
) -> None:
    from bft.workflow.reaper import retain_models

    first = world.promote_fully(world.run("first"))
    second = world.promote_fully(world.run("second"))
    unused_run = world.run("unused")  # trained and served on its own deployment, which is then torn down
    unused = world.model(unused_run)
    serving.delete_serving(world.bedrock, "on-demand-deployment", unused_run["servingResult"]["arn"])
    world.fake.advance(40 * 24 * HOUR)

    def reap(team_days: dict[str, float | None]) -> dict[str, Any]:
        return retain_models(
            bedrock=world.bedrock,
            environment=ENVIRONMENT,
            retention_days=30,
            retention_days_by_team=team_days,
            now=world.fake.now(),
            dry_run=False,
        )

    kept = reap({"moderation": 60})  # the team keeps its models 60 days: nothing is old enough
    assert {item["arn"] for item in kept["withinRetention"]} == {first["after"], second["after"], unused}
    assert kept["deleted"] == []
    result = reap({"moderation": None})  # the environment's 30 days
    reasons = {item["arn"]: item["reason"] for item in result["inUse"]}
    assert reasons == {
        second["after"]: f"served by custom model deployment {second['deploymentName']}",
        first["after"]: "rollback target of endpoint live",
    }
    assert [item["arn"] for item in result["deleted"]] == [unused]
    asked = [params["modelIdentifier"] for op, params in world.fake.calls if op == "DeleteCustomModel"]
    assert asked == [unused], "a model an endpoint uses is never even tried"
