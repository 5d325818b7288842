"""The model-family registry: lookup by id or ARN, limits, and hyperparameter checking."""

from __future__ import annotations

import pytest

from bft.errors import BaseModelUnavailable, RequestInvalid
from bft.families import (
    CUSTOMIZABLE_MODEL_IDS,
    DEFAULT_MAX_TOKENS_PER_RECORD,
    FAMILIES,
    check_hyperparameters,
    default_epochs,
    family_for,
    family_or_model,
)

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"


@pytest.mark.parametrize(
    ("model_id", "family", "data_format"),
    [
        (HAIKU, "claude-3-haiku", "anthropic-messages"),
        ("amazon.nova-micro-v1:0:128k", "nova", "bedrock-conversation-2024"),
        ("amazon.nova-lite-v1:0:300k", "nova", "bedrock-conversation-2024"),
        ("amazon.nova-pro-v1:0:300k", "nova", "bedrock-conversation-2024"),
        ("meta.llama3-1-8b-instruct-v1:0:128k", "llama-3.1", "prompt-completion"),
        ("meta.llama3-1-70b-instruct-v1:0:128k", "llama-3.1", "prompt-completion"),
        ("meta.llama3-2-1b-instruct-v1:0:128k", "llama-3.2", "bedrock-conversation-2024"),
        ("meta.llama3-2-11b-instruct-v1:0:128k", "llama-3.2", "bedrock-conversation-2024"),
        ("amazon.titan-text-express-v1:0:8k", "titan-text", "prompt-completion"),
    ],
)
def test_family_for_model_id(model_id: str, family: str, data_format: str) -> None:
    found = family_for(model_id)
    assert (found.name, found.data_format) == (family, data_format)
    assert model_id in found.base_model_ids


def test_family_for_foundation_model_arn() -> None:
    arn = f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU}"
    assert family_for(arn).name == "claude-3-haiku"
    assert family_for("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0:300k").name == "nova"


def test_arn_in_a_region_without_fine_tuning_is_unavailable() -> None:
    with pytest.raises(BaseModelUnavailable, match="only in us-west-2"):
        family_for(f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}")


def test_unknown_model_lists_the_customizable_ids() -> None:
    with pytest.raises(BaseModelUnavailable) as info:
        family_for("openai.gpt-4")
    message = str(info.value)
    assert "openai.gpt-4" in message
    for model_id in CUSTOMIZABLE_MODEL_IDS:
        assert model_id in message


def test_a_family_name_or_a_model_id_names_a_family() -> None:
    assert family_or_model("llama-3.3") == (family_for("meta.llama3-3-70b-instruct-v1:0:128k"), None)
    assert family_or_model(HAIKU) == (family_for(HAIKU), HAIKU)
    with pytest.raises(
        BaseModelUnavailable, match=r"'llama' is not a model family \(claude-3-haiku, nova, .*as a model"
    ):
        family_or_model("llama")


def test_on_demand_id_is_not_customizable_and_the_error_names_the_variant() -> None:
    with pytest.raises(
        BaseModelUnavailable, match=r"customizable variant is 'anthropic\.claude-3-haiku-20240307-v1:0:200k'"
    ):
        family_for("anthropic.claude-3-haiku-20240307-v1:0")


def test_other_claude_models_are_not_customizable() -> None:
    with pytest.raises(BaseModelUnavailable):
        family_for("anthropic.claude-3-5-sonnet-20240620-v1:0")


def test_haiku_family_matches_the_facts() -> None:
    fam = family_for(HAIKU)
    assert (fam.min_records, fam.max_training_records, fam.max_validation_records, fam.max_total_records) == (
        32,
        10_000,
        1_000,
        10_000,
    )
    assert fam.max_tokens_per_record == 32_000
    assert (fam.max_training_bytes, fam.max_validation_bytes) == (10 * 10**9, 10**9)
    assert fam.reserved_strings == ("\nHuman:", "\nAssistant:")
    assert fam.regions == ("us-west-2",)
    assert fam.serving == "provisioned-throughput"
    assert fam.requires_validation_data is False
    assert {hp.name: (hp.kind, hp.default, hp.minimum, hp.maximum) for hp in fam.hyperparameters} == {
        "epochCount": (int, 2, 1, 10),
        "batchSize": (int, 32, 4, 256),
        "learningRateMultiplier": (float, 1.0, 0.1, 2.0),
        "earlyStoppingThreshold": (float, 0.001, 0.0, 0.1),
        "earlyStoppingPatience": (int, 2, 1, 10),
    }


def test_nova_family_matches_the_facts() -> None:
    fam = family_for("amazon.nova-lite-v1:0:300k")
    assert (fam.min_records, fam.max_total_records) == (8, 20_000)
    assert fam.max_tokens_per_record is None  # unconfirmed
    assert fam.token_limit == DEFAULT_MAX_TOKENS_PER_RECORD
    assert fam.regions == ("us-east-1",)
    assert fam.serving == "provisioned-throughput+on-demand-deployment"
    assert {hp.name for hp in fam.hyperparameters} == {"epochCount", "learningRate", "learningRateWarmupSteps"}
    assert fam.accepts_media("amazon.nova-lite-v1:0:300k")
    assert not fam.accepts_media("amazon.nova-micro-v1:0:128k")
    assert not fam.accepts_media("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k")


@pytest.mark.parametrize("fam", FAMILIES, ids=lambda f: f.name)
def test_every_family_is_consistent(fam: object) -> None:
    from bft.families import ModelFamily

    assert isinstance(fam, ModelFamily)
    assert fam.base_model_ids
    assert fam.data_format in ("anthropic-messages", "bedrock-conversation-2024", "prompt-completion")
    assert 1 <= fam.min_records <= fam.max_training_records <= fam.max_total_records
    assert fam.max_validation_records <= fam.max_total_records
    assert fam.token_limit > 0
    assert fam.regions
    assert fam.hyperparameter("epochCount") is not None
    for hp in fam.hyperparameters:
        assert hp.minimum <= hp.default <= hp.maximum, hp
        assert isinstance(hp.default, hp.kind)
    assert fam.hyperparameter("earlyStoppingEnabled") is None
    assert default_epochs(fam) == fam.hyperparameter("epochCount").default  # type: ignore[union-attr]


def test_model_ids_belong_to_one_family() -> None:
    ids = [model_id for fam in FAMILIES for model_id in fam.base_model_ids]
    assert len(ids) == len(set(ids)) == len(CUSTOMIZABLE_MODEL_IDS)


def test_on_demand_deployment_is_offered_for_nova_and_llama_3_3_only() -> None:
    """Per the catalog (deploy-custom-model-on-demand): Nova Micro, Lite, Pro and Nova 2 Lite, and Llama 3.3 70B."""
    assert {f.name for f in FAMILIES if f.serving != "provisioned-throughput"} == {"nova", "nova-2", "llama-3.3"}


# -- check_hyperparameters ---------------------------------------------------------


def test_hyperparameters_become_strings_and_defaults_are_not_filled_in() -> None:
    fam = family_for(HAIKU)
    assert check_hyperparameters(fam, {"epochCount": 3, "learningRateMultiplier": 0.5, "batchSize": "64"}) == {
        "epochCount": "3",
        "learningRateMultiplier": "0.5",
        "batchSize": "64",
    }
    assert check_hyperparameters(fam, {}) == {}


def test_float_hyperparameters_accept_integers_and_exponents() -> None:
    nova = family_for("amazon.nova-lite-v1:0:300k")
    assert check_hyperparameters(nova, {"learningRate": "1e-5", "learningRateWarmupSteps": 0}) == {
        "learningRate": "1e-5",
        "learningRateWarmupSteps": "0",
    }
    assert check_hyperparameters(family_for(HAIKU), {"learningRateMultiplier": 2}) == {"learningRateMultiplier": "2.0"}


@pytest.mark.parametrize(
    ("hp", "pattern"),
    [
        ({"epochCount": 11}, r"hyperParameters\.epochCount must be an integer from 1 to 10"),
        ({"epochCount": "0"}, r"hyperParameters\.epochCount .* from 1 to 10"),
        ({"epochCount": 2.5}, r"hyperParameters\.epochCount"),
        ({"epochCount": "2.0"}, r"hyperParameters\.epochCount"),
        ({"epochCount": "1_0"}, r"hyperParameters\.epochCount"),
        ({"epochCount": True}, r"hyperParameters\.epochCount"),
        ({"batchSize": 2}, r"hyperParameters\.batchSize must be an integer from 4 to 256"),
        ({"learningRateMultiplier": "abc"}, r"hyperParameters\.learningRateMultiplier must be a number from 0.1 to 2"),
        ({"learningRateMultiplier": "nan"}, r"hyperParameters\.learningRateMultiplier"),
        ({"learningRateMultiplier": float("inf")}, r"hyperParameters\.learningRateMultiplier"),
        ({"earlyStoppingThreshold": 0.2}, r"hyperParameters\.earlyStoppingThreshold .* from 0 to 0.1"),
        ({"learningRate": "1e-5"}, r"hyperParameters\.learningRate is not a hyperparameter of claude-3-haiku"),
        ({"earlyStoppingEnabled": "true"}, r"hyperParameters\.earlyStoppingEnabled .*unconfirmed"),
    ],
)
def test_invalid_hyperparameters_name_the_field_and_range(hp: dict[str, object], pattern: str) -> None:
    with pytest.raises(RequestInvalid, match=pattern):
        check_hyperparameters(family_for(HAIKU), hp)  # type: ignore[arg-type]


def test_nova_has_no_batch_size() -> None:
    with pytest.raises(RequestInvalid, match=r"batchSize is not a hyperparameter of nova; allowed: epochCount"):
        check_hyperparameters(family_for("amazon.nova-pro-v1:0:300k"), {"batchSize": "8"})


def test_llama_batch_size_is_fixed_at_one() -> None:
    llama = family_for("meta.llama3-1-8b-instruct-v1:0:128k")
    assert check_hyperparameters(llama, {"batchSize": 1}) == {"batchSize": "1"}
    with pytest.raises(RequestInvalid, match="from 1 to 1"):
        check_hyperparameters(llama, {"batchSize": 2})
