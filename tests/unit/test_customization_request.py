"""The customization type of a request: allowed by the environment and the team, supported by the base model in
the region (the model catalog), with a grader for reinforcement; every refusal names the key and happens before
anything starts (check_request is what ValidateRequest and the CLI's dry run both run)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bft.config import load_config
from bft.errors import BaseModelUnavailable, RequestInvalid
from bft.workflow.customization import grader_prefix
from bft.workflow.request import Context, check_request, validate_request

BUCKET = "datasets-bucket"
NOVA2 = "amazon.nova-2-lite-v1:0:256k"
NOVA_LITE = "amazon.nova-lite-v1:0:300k"
ACCOUNT = "123456789012"
OWN_GRADER = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{grader_prefix('local-us-east-1', 'moderation')}score"


def policy(env: str = "local-us-east-1", **team: Any) -> dict[str, Any]:
    document = load_config(env).policy_document(BUCKET)
    document["account"] = ACCOUNT
    document["teams"]["moderation"].update(team)
    return document


def request(**changes: Any) -> dict[str, Any]:
    event = {
        "team": "moderation",
        "baseModelId": NOVA2,
        "trainingDataUri": f"s3://{BUCKET}/moderation/prompts.jsonl",
        "approvalRequired": False,
        "customization": "reinforcement",
        "grader": {"builtin": "json_match"},
    } | changes
    return {key: value for key, value in event.items() if value is not None}


def check(event: dict[str, Any], document: dict[str, Any] | None = None) -> dict[str, Any]:
    return check_request(event, document or policy(), assigned_team=None, default_request_id="req-1")


def test_a_request_without_a_type_is_supervised_fine_tuning() -> None:
    run = check(request(customization=None, grader=None))
    assert (run["customization"], run["customizationType"], run["grader"]) == ("fine-tuning", "FINE_TUNING", None)


def test_a_reinforcement_request_carries_its_type_grader_and_typed_hyperparameters() -> None:
    run = check(request(hyperParameters={"epochCount": "3", "batchSize": 64, "reasoningEffort": "high"}))
    assert run["customizationType"] == "REINFORCEMENT_FINE_TUNING"
    assert run["grader"] == {"builtin": "json_match", "options": {}}
    assert run["hyperParameters"] == {"epochCount": 3, "batchSize": 64, "reasoningEffort": "high"}


@pytest.mark.parametrize(
    ("hyper", "says"),
    [
        ({"batchSize": 8}, "batchSize must be an integer from 16 to 512"),
        ({"learningRate": 0.01}, "learningRate must be a number from 1e-07 to 0.001"),
        ({"trainingSamplePerPrompt": 1}, "from 2 to 16"),
        ({"reasoningEffort": "extreme"}, "one of low, medium, high"),
        ({"learningRateWarmupSteps": 5}, "not a reinforcement fine-tuning hyperparameter"),
        ({"epochCount": 2.5}, "epochCount must be an integer"),
    ],
)
def test_reinforcement_hyperparameters_are_held_to_the_documented_ranges(hyper: dict[str, Any], says: str) -> None:
    with pytest.raises(RequestInvalid, match=says):
        check(request(hyperParameters=hyper))


def test_an_environment_that_does_not_allow_the_type_names_its_config_key() -> None:
    with pytest.raises(RequestInvalid, match=r"not allowed in local \(customization_types: fine-tuning\)"):
        check(request(baseModelId="meta.llama3-1-8b-instruct-v1:0:128k"), policy("local"))


def test_a_team_narrower_than_its_environment_is_refused_naming_the_team_key() -> None:
    with pytest.raises(RequestInvalid, match=r"not allowed for team moderation \(teams\[\]\.customization_types"):
        check(request(), policy(customizationTypes=["fine-tuning"]))


def test_a_base_model_without_reinforcement_names_the_models_that_have_it() -> None:
    with pytest.raises(
        BaseModelUnavailable, match=rf"{NOVA_LITE} does not support reinforcement.*do in us-east-1: {NOVA2}"
    ):
        check(request(baseModelId=NOVA_LITE))


def test_distillation_is_refused_as_not_yet_available() -> None:
    document = policy(customizationTypes=[])
    document["customizationTypes"] = ["fine-tuning", "distillation"]
    with pytest.raises(RequestInvalid, match="distillation is not yet available"):
        check(request(customization="distillation", grader=None, baseModelId=NOVA_LITE), document)


def test_an_unknown_type_lists_the_types() -> None:
    with pytest.raises(RequestInvalid, match="not one of fine-tuning, reinforcement, distillation"):
        check(request(customization="rlhf"))


@pytest.mark.parametrize(
    ("grader", "says"),
    [
        (None, "grader: required for reinforcement"),
        ({"builtin": "vibes"}, "builtin 'vibes' is not one of exact_match"),
        ({"builtin": "numeric", "tolerance": "a bit"}, "tolerance: 'a bit' has the wrong type"),
        ({"builtin": "regex", "pattern": "("}, "pattern:"),
        ({"builtin": "exact_match", "functionArn": OWN_GRADER}, "not both"),
        ({"functionArn": "my-grader"}, "not a Lambda function ARN"),
        (
            {"functionArn": "arn:aws:lambda:us-east-1:999999999999:function:bft_local-us-east-1_moderation_x"},
            "not a function of this account and region",
        ),
        (
            {"functionArn": f"arn:aws:lambda:us-west-2:{ACCOUNT}:function:bft_local-us-east-1_moderation_x"},
            "not a function of this account and region",
        ),
        (
            {"functionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:bft_local-us-east-1_fraud_score"},
            "is not team moderation's grader",
        ),
    ],
)
def test_a_wrong_grader_is_refused_naming_the_field(grader: Any, says: str) -> None:
    with pytest.raises(RequestInvalid, match=says):
        check(request(grader=grader))


def test_a_team_may_name_its_own_grader_function() -> None:
    assert check(request(grader={"functionArn": OWN_GRADER}))["grader"] == {"functionArn": OWN_GRADER}


def test_fine_tuning_takes_no_grader() -> None:
    with pytest.raises(RequestInvalid, match="only a reinforcement run has a grader"):
        check(request(customization="fine-tuning"))


def test_validate_request_takes_the_account_from_its_execution_when_the_config_names_none() -> None:
    foreign = {"functionArn": "arn:aws:lambda:us-east-1:999999999999:function:bft_local-us-east-1_moderation_x"}
    document = policy()
    document["account"] = None  # env-agnostic synthesis: no account in the config
    # Without an account the check cannot tell (check_request accepts it) ...
    assert check(request(grader=foreign), document)["grader"] == foreign
    # ... ValidateRequest knows the account its state machine runs in, and refuses before any AWS call.
    context = Context(
        execution_arn=f"arn:aws:states:us-east-1:{ACCOUNT}:execution:machine:req-1",
        execution_name="req-1",
        now=datetime(2026, 12, 8, tzinfo=UTC),
    )
    with pytest.raises(RequestInvalid, match=f"not a function of this account and region \\({ACCOUNT}"):
        validate_request(request(grader=foreign), document, context, bedrock=None, table=None)
