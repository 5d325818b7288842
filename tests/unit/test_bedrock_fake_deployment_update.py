"""UpdateCustomModelDeployment in the Bedrock fake, as botocore describes it
(docs/bedrock-behaviour.md#deployment-update): the deployment's ARN stays, ``updateDetails`` goes Updating ->
UpdateCompleted (or UpdateFailed) on the simulated clock, and the refusals the pipeline must handle."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from bft_twin.bedrock_fake import FakeBedrock
from bft_twin.catalog import NOVA_LITE_FT, NOVA_MICRO_FT

NOW = 1_780_300_800.0  # 2026-06-01T08:00:00Z, as in test_bedrock_fake
HOURS = 3600.0
ROLE = "arn:aws:iam::123456789012:role/bedrock-ft"


def frozen() -> float:
    return NOW


def train(fake: FakeBedrock, bedrock: Any, name: str, base: str = NOVA_MICRO_FT) -> str:
    """A completed Nova custom model (the fake needs no S3 for it)."""
    fake.plan_jobs("Completed", duration_s=HOURS)
    job = bedrock.create_model_customization_job(
        jobName=f"job-{name}",
        customModelName=name,
        roleArn=ROLE,
        baseModelIdentifier=base,
        trainingDataConfig={"s3Uri": "s3://data/train.jsonl"},
        outputDataConfig={"s3Uri": "s3://data/output/"},
        hyperParameters={"epochCount": "2"},
    )["jobArn"]
    fake.advance(HOURS)
    model: str = bedrock.get_model_customization_job(jobIdentifier=job)["outputModelArn"]
    return model


@pytest.fixture
def nova() -> FakeBedrock:
    return FakeBedrock(region="us-east-1", clock=frozen)


@pytest.fixture
def bedrock(nova: FakeBedrock) -> Any:
    return nova.client("bedrock")


def active_deployment(nova: FakeBedrock, bedrock: Any, model: str, name: str = "live") -> str:
    arn: str = bedrock.create_custom_model_deployment(modelDeploymentName=name, modelArn=model)[
        "customModelDeploymentArn"
    ]
    nova.advance(HOURS)
    return arn


def get(bedrock: Any, arn: str) -> dict[str, Any]:
    found: dict[str, Any] = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    return found


def error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def test_update_keeps_the_arn_and_moves_through_updating_to_update_completed(nova: FakeBedrock, bedrock: Any) -> None:
    first, second = train(nova, bedrock, "first"), train(nova, bedrock, "second")
    arn = active_deployment(nova, bedrock, first)
    assert "updateDetails" not in get(bedrock, arn)  # never updated

    answer = bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=second)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert answer["customModelDeploymentArn"] == arn
    during = get(bedrock, arn)
    # Still Active and serving the first model while the update runs (a guess, see the doc entry).
    assert (during["status"], during["modelArn"]) == ("Active", first)
    assert during["updateDetails"] == {"modelArn": second, "updateStatus": "Updating"}
    runtime = nova.client("bedrock-runtime")
    spoken = runtime.converse(modelId=arn, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert spoken["output"]["message"]["content"][0]["text"] == "[first] hi"

    nova.advance(HOURS)
    after = get(bedrock, arn)
    assert (after["status"], after["modelArn"]) == ("Active", second)
    assert after["updateDetails"] == {"modelArn": second, "updateStatus": "UpdateCompleted"}
    spoken = runtime.converse(modelId=arn, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert spoken["output"]["message"]["content"][0]["text"] == "[second] hi"
    assert [d["customModelDeploymentArn"] for d in nova.custom_model_deployments()] == [arn]
    assert nova.counters.deployments_updated == 1


def test_a_failed_update_leaves_the_previous_model_serving(nova: FakeBedrock, bedrock: Any) -> None:
    first, second = train(nova, bedrock, "first"), train(nova, bedrock, "second")
    arn = active_deployment(nova, bedrock, first)
    nova.plan_deployment_updates("UpdateFailed")
    bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=second)
    nova.advance(HOURS)
    after = get(bedrock, arn)
    assert (after["status"], after["modelArn"]) == ("Active", first)
    assert after["updateDetails"] == {"modelArn": second, "updateStatus": "UpdateFailed"}
    # The model of the failed update is in use by nothing: it can be deleted.
    bedrock.delete_custom_model(modelIdentifier=second)


def test_update_of_an_unknown_deployment_is_resource_not_found(nova: FakeBedrock, bedrock: Any) -> None:
    model = train(nova, bedrock, "first")
    with pytest.raises(ClientError) as excinfo:
        bedrock.update_custom_model_deployment(customModelDeploymentIdentifier="nobody-deployed-this", modelArn=model)
    assert error(excinfo)[0] == "ResourceNotFoundException"


def test_update_to_a_model_of_another_base_is_refused_and_changes_nothing(nova: FakeBedrock, bedrock: Any) -> None:
    micro, lite = train(nova, bedrock, "micro"), train(nova, bedrock, "lite", base=NOVA_LITE_FT)
    arn = active_deployment(nova, bedrock, micro)
    with pytest.raises(ClientError) as excinfo:
        bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=lite)
    code, message = error(excinfo)
    assert code == "ValidationException"
    assert NOVA_LITE_FT in message
    assert NOVA_MICRO_FT in message
    found = get(bedrock, arn)
    assert (found["status"], found["modelArn"], found.get("updateDetails")) == ("Active", micro, None)
    assert nova.counters.deployments_updated == 0


def test_update_while_creating_or_updating_is_refused_as_a_mutating_state(nova: FakeBedrock, bedrock: Any) -> None:
    first, second, third = (train(nova, bedrock, name) for name in ("first", "second", "third"))
    arn = bedrock.create_custom_model_deployment(modelDeploymentName="live", modelArn=first)["customModelDeploymentArn"]
    with pytest.raises(ClientError) as excinfo:  # Creating
        bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=second)
    assert error(excinfo) == ("ValidationException", "Custom model deployment is in a mutating state")
    nova.advance(HOURS)
    bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=second)
    with pytest.raises(ClientError) as excinfo:  # Updating
        bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=third)
    assert error(excinfo) == ("ValidationException", "Custom model deployment is in a mutating state")
    # The model an update moves to is in use: Bedrock may not delete it from under the deployment.
    with pytest.raises(bedrock.exceptions.ConflictException):
        bedrock.delete_custom_model(modelIdentifier=second)
    nova.advance(HOURS)
    bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=third)
    nova.advance(HOURS)
    assert get(bedrock, arn)["modelArn"] == third
    assert nova.counters.deployments_updated == 2


def test_update_to_an_unknown_model_is_resource_not_found(nova: FakeBedrock, bedrock: Any) -> None:
    arn = active_deployment(nova, bedrock, train(nova, bedrock, "first"))
    gone = train(nova, bedrock, "second")
    bedrock.delete_custom_model(modelIdentifier=gone)
    with pytest.raises(ClientError) as excinfo:
        bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=gone)
    assert error(excinfo)[0] == "ResourceNotFoundException"


def test_update_is_an_operation_the_fault_injection_knows(nova: FakeBedrock, bedrock: Any) -> None:
    """Throttling reaches the caller once the client's own attempts are spent, like every other operation."""
    first, second = train(nova, bedrock, "first"), train(nova, bedrock, "second")
    arn = active_deployment(nova, bedrock, first)
    nova.inject("UpdateCustomModelDeployment", "ThrottlingException", times=3)
    with pytest.raises(ClientError) as excinfo:
        bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=second)
    assert error(excinfo)[0] == "ThrottlingException"
    assert get(bedrock, arn).get("updateDetails") is None
    with pytest.raises(ValueError, match="never returns ConflictException"):
        nova.inject("UpdateCustomModelDeployment", "ConflictException")
