"""Model-family registry: the one place that knows each customizable model's rules.

Dataset validation reads the data format and limits from here, the workflow
reads hyperparameters, regions and how the custom model is served. Every value
comes from ``docs/bedrock-behaviour.md#model-families``; where it marks a value
unconfirmed, the comment next to it says which default was chosen and why.

Importable without boto3 or pydantic: the Lambda bundle and the CLI share it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from bft.errors import BaseModelUnavailable, RequestInvalid

DataFormat = Literal["anthropic-messages", "bedrock-conversation-2024", "prompt-completion"]
Serving = Literal["provisioned-throughput", "provisioned-throughput+on-demand-deployment"]

GB = 1_000_000_000

# Applied when a family's per-record token limit is unconfirmed (Nova): 32,000
# is the smallest documented limit of the conversational families (Claude 3
# Haiku) and matches Nova's 32K fine-tuning context. Erring low fails a record
# at validation time instead of a job hours later; the report names the value.
DEFAULT_MAX_TOKENS_PER_RECORD = 32_000


@dataclass(frozen=True)
class HyperParameterSpec:
    """One hyperparameter as the AWS table lists it (the API takes every value as a string)."""

    name: str
    kind: type[int] | type[float]
    default: int | float
    minimum: int | float
    maximum: int | float

    def describe(self) -> str:
        kind = "an integer" if self.kind is int else "a number"
        return f"{kind} from {_fmt(self.minimum)} to {_fmt(self.maximum)} (default {_fmt(self.default)})"


@dataclass(frozen=True)
class ModelFamily:
    """Rules shared by a group of base models with the same data format and limits."""

    name: str
    base_model_ids: tuple[str, ...]
    data_format: DataFormat
    min_records: int  # checked against the training file (see dataset.validator)
    max_training_records: int
    max_validation_records: int
    max_total_records: int
    max_tokens_per_record: int | None  # None: unconfirmed, DEFAULT_MAX_TOKENS_PER_RECORD applies
    max_training_bytes: int
    max_validation_bytes: int
    reserved_strings: tuple[str, ...]
    hyperparameters: tuple[HyperParameterSpec, ...]
    regions: tuple[str, ...]
    serving: Serving
    requires_validation_data: bool = False
    # Reserved strings match case-insensitively for Nova, as its official validator does.
    reserved_strings_ignore_case: bool = False
    # Converse-format media rules (unused by the other formats).
    text_only_model_ids: frozenset[str] = field(default_factory=frozenset)
    max_system_blocks: int | None = None
    max_images_per_record: int = 0
    max_videos_per_record: int = 0
    image_formats: tuple[str, ...] = ()
    video_formats: tuple[str, ...] = ()

    @property
    def token_limit(self) -> int:
        """The per-record token limit validation enforces (the documented one, else the default)."""
        if self.max_tokens_per_record is None:
            return DEFAULT_MAX_TOKENS_PER_RECORD
        return self.max_tokens_per_record

    def hyperparameter(self, name: str) -> HyperParameterSpec | None:
        for spec in self.hyperparameters:
            if spec.name == name:
                return spec
        return None

    def accepts_media(self, base_model_id: str) -> bool:
        """True when records for this base model may carry images or video."""
        return (
            self.max_images_per_record + self.max_videos_per_record > 0
            and _bare_model_id(base_model_id) not in self.text_only_model_ids
        )


def _hp(name: str, kind: type[int] | type[float], default: float, lo: float, hi: float) -> HyperParameterSpec:
    return HyperParameterSpec(name, kind, kind(default), kind(lo), kind(hi))


_NOVA_IDS = ("amazon.nova-micro-v1:0:128k", "amazon.nova-lite-v1:0:300k", "amazon.nova-pro-v1:0:300k")
_LLAMA_31_IDS = ("meta.llama3-1-8b-instruct-v1:0:128k", "meta.llama3-1-70b-instruct-v1:0:128k")
_LLAMA_32_IDS = (
    "meta.llama3-2-1b-instruct-v1:0:128k",
    "meta.llama3-2-3b-instruct-v1:0:128k",
    "meta.llama3-2-11b-instruct-v1:0:128k",
    "meta.llama3-2-90b-instruct-v1:0:128k",  # suffix unconfirmed in the facts
)
_LLAMA_HP = (
    _hp("epochCount", int, 5, 1, 10),
    _hp("batchSize", int, 1, 1, 1),
    _hp("learningRate", float, 1e-4, 5e-6, 0.1),
)
# Nova's reserved strings (facts) plus "<unk>", which the official Nova validator also rejects.
_NOVA_RESERVED = ("User:", "Bot:", "Assistant:", "System:", "<image>", "<video>", "[EOS]", "<unk>")

FAMILIES: tuple[ModelFamily, ...] = (
    ModelFamily(
        name="claude-3-haiku",
        base_model_ids=("anthropic.claude-3-haiku-20240307-v1:0:200k",),
        data_format="anthropic-messages",
        min_records=32,
        max_training_records=10_000,
        max_validation_records=1_000,
        max_total_records=10_000,
        max_tokens_per_record=32_000,
        max_training_bytes=10 * GB,
        max_validation_bytes=1 * GB,
        # From the aws-samples validator: the legacy prompt markers confuse Claude's template.
        reserved_strings=("\nHuman:", "\nAssistant:"),
        hyperparameters=(
            _hp("epochCount", int, 2, 1, 10),
            _hp("batchSize", int, 32, 4, 256),
            _hp("learningRateMultiplier", float, 1, 0.1, 2),
            _hp("earlyStoppingThreshold", float, 0.001, 0, 0.1),
            _hp("earlyStoppingPatience", int, 2, 1, 10),
        ),
        regions=("us-west-2",),
        serving="provisioned-throughput",
    ),
    ModelFamily(
        name="nova",
        base_model_ids=_NOVA_IDS,
        data_format="bedrock-conversation-2024",
        # 8-20,000 records, training and validation combined; the split per file is
        # not documented, so each file may use the whole allowance.
        min_records=8,
        max_training_records=20_000,
        max_validation_records=20_000,
        max_total_records=20_000,
        max_tokens_per_record=None,  # unconfirmed
        # Unconfirmed for Nova: the Claude 3 Haiku / Bedrock file-size limits.
        max_training_bytes=10 * GB,
        max_validation_bytes=1 * GB,
        reserved_strings=_NOVA_RESERVED,
        reserved_strings_ignore_case=True,
        hyperparameters=(
            _hp("epochCount", int, 2, 1, 5),
            _hp("learningRate", float, 1e-5, 1e-6, 1e-4),
            _hp("learningRateWarmupSteps", int, 10, 0, 100),
        ),
        regions=("us-east-1",),
        serving="provisioned-throughput+on-demand-deployment",
        text_only_model_ids=frozenset({"amazon.nova-micro-v1:0:128k"}),
        max_images_per_record=10,
        max_videos_per_record=1,
        image_formats=("jpeg", "png", "gif", "webp"),
        video_formats=("mov", "mkv", "mp4", "webm"),
    ),
    ModelFamily(
        name="llama-3.1",
        base_model_ids=_LLAMA_31_IDS,
        data_format="prompt-completion",
        min_records=100,  # "100-10,000 in total"; enforced on the training file
        max_training_records=10_000,
        max_validation_records=1_000,
        max_total_records=10_000,
        max_tokens_per_record=16_000,
        # File sizes unconfirmed for Llama: the Bedrock limits used for Claude 3 Haiku.
        max_training_bytes=10 * GB,
        max_validation_bytes=1 * GB,
        reserved_strings=(),
        hyperparameters=_LLAMA_HP,
        regions=("us-west-2",),
        serving="provisioned-throughput",
    ),
    ModelFamily(
        name="llama-3.2",
        base_model_ids=_LLAMA_32_IDS,
        data_format="bedrock-conversation-2024",
        min_records=100,
        max_training_records=10_000,
        max_validation_records=1_000,
        max_total_records=10_000,
        max_tokens_per_record=16_000,
        max_training_bytes=10 * GB,
        max_validation_bytes=1 * GB,
        reserved_strings=(),
        hyperparameters=_LLAMA_HP,
        regions=("us-west-2",),
        serving="provisioned-throughput",
        # 1B and 3B are text models (aws-samples Llama registry); 11B and 90B take images.
        text_only_model_ids=frozenset(_LLAMA_32_IDS[:2]),
        max_system_blocks=1,
        # Images per record are not documented for Llama 3.2; Nova's 10 is the only
        # published Converse-format bound. No video.
        max_images_per_record=10,
        image_formats=("gif", "jpeg", "png", "webp"),
    ),
    ModelFamily(
        name="titan-text",
        # The current fine-tuning table no longer lists Titan Text (being phased out);
        # Lite's id is unconfirmed. Kept so existing teams get a precise answer.
        base_model_ids=("amazon.titan-text-express-v1:0:8k", "amazon.titan-text-lite-v1:0:4k"),
        data_format="prompt-completion",
        min_records=1,  # no minimum documented
        # Record limits unconfirmed for Titan: the 10,000 / 1,000 the other text families use.
        max_training_records=10_000,
        max_validation_records=1_000,
        max_total_records=10_000,
        max_tokens_per_record=4_096,  # at batch size 1; larger batches lower it
        max_training_bytes=1 * GB,
        max_validation_bytes=1 * GB,  # unconfirmed: same as training
        reserved_strings=(),
        hyperparameters=(
            _hp("epochCount", int, 5, 1, 10),
            _hp("batchSize", int, 1, 1, 64),
            _hp("learningRate", float, 1e-5, 0, 1),
            _hp("learningRateWarmupSteps", int, 5, 0, 250),
        ),
        regions=("us-east-1", "us-west-2"),  # unconfirmed in the facts
        serving="provisioned-throughput",
    ),
    ModelFamily(
        name="titan-text-premier",
        base_model_ids=("amazon.titan-text-premier-v1:0:32k",),  # id unconfirmed
        data_format="prompt-completion",
        min_records=1,
        max_training_records=10_000,
        max_validation_records=1_000,
        max_total_records=10_000,
        max_tokens_per_record=4_096,  # the Titan Text limit at batch size 1 (Premier's batch size is 1)
        max_training_bytes=1 * GB,
        max_validation_bytes=1 * GB,
        reserved_strings=(),
        hyperparameters=(
            _hp("epochCount", int, 2, 1, 5),
            _hp("batchSize", int, 1, 1, 1),
            _hp("learningRate", float, 1e-6, 1e-7, 1e-5),
            _hp("learningRateWarmupSteps", int, 5, 0, 20),
        ),
        regions=("us-east-1",),  # unconfirmed
        serving="provisioned-throughput",
    ),
)

_BY_ID: dict[str, ModelFamily] = {model_id: fam for fam in FAMILIES for model_id in fam.base_model_ids}
CUSTOMIZABLE_MODEL_IDS: tuple[str, ...] = tuple(_BY_ID)

_FM_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:(?P<region>[a-z0-9-]+)::foundation-model/(?P<id>.+)$")


def _bare_model_id(base_model_id: str) -> str:
    match = _FM_ARN.match(base_model_id)
    return match.group("id") if match else base_model_id


def family_for(base_model_id: str) -> ModelFamily:
    """Return the family of a customizable model id or foundation-model ARN.

    Raises BaseModelUnavailable for unknown ids, ids of models that cannot be
    fine-tuned (e.g. the on-demand id without the context-window suffix), and
    ARNs in a region where the family's fine-tuning does not run.
    """
    match = _FM_ARN.match(base_model_id)
    model_id = match.group("id") if match else base_model_id
    found = _BY_ID.get(model_id)
    if found is None:
        hint = ""
        near = [known for known in CUSTOMIZABLE_MODEL_IDS if known.startswith(model_id + ":")]
        if near:
            hint = f" (the customizable variant is {near[0]!r})"
        raise BaseModelUnavailable(
            f"base model {base_model_id!r} cannot be fine-tuned here{hint}; "
            f"customizable models: {', '.join(CUSTOMIZABLE_MODEL_IDS)}"
        )
    if match and match.group("region") not in found.regions:
        raise BaseModelUnavailable(
            f"base model {base_model_id!r}: {found.name} fine-tuning runs only in {', '.join(found.regions)}"
        )
    return found


# How a custom model is served: on-demand custom model deployment (Nova; no hourly charge) or provisioned
# throughput (every family). docs/bedrock-behaviour.md#on-demand-deployments, #pt-required.
SERVING_KINDS = ("on-demand-deployment", "provisioned-throughput")


def serving_kinds(base_model_id: str) -> tuple[str, ...]:
    """The serving kinds a base model's custom models support, the default (cheapest) first."""
    family = family_for(base_model_id)
    if "on-demand-deployment" in family.serving:
        return ("on-demand-deployment", "provisioned-throughput")
    return ("provisioned-throughput",)


def check_hyperparameters(family: ModelFamily, hp: Mapping[str, str | int | float]) -> dict[str, str]:
    """Validate hyperparameters against the family's table and return the API form.

    Values may be given as numbers or strings; the result maps each given name to
    a string (defaults are not filled in: Bedrock applies its own). Raises
    RequestInvalid naming the field and the allowed range.
    """
    out: dict[str, str] = {}
    for name, value in hp.items():
        spec = family.hyperparameter(name)
        if spec is None:
            note = " (not in the AWS table; its support is unconfirmed)" if name == "earlyStoppingEnabled" else ""
            allowed = ", ".join(s.name for s in family.hyperparameters)
            raise RequestInvalid(
                f"hyperParameters.{name} is not a hyperparameter of {family.name}{note}; allowed: {allowed}"
            )
        out[name] = _check_value(spec, value)
    return out


_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _check_value(spec: HyperParameterSpec, value: str | int | float) -> str:
    def invalid() -> RequestInvalid:
        return RequestInvalid(f"hyperParameters.{spec.name} must be {spec.describe()}; got {value!r}")

    number: int | float
    if isinstance(value, bool):
        raise invalid()
    if isinstance(value, str):
        # Plain decimal literals only: int()/float() would also take "1_0", "inf" or "nan".
        text = value.strip()
        if not (_INT if spec.kind is int else _FLOAT).fullmatch(text):
            raise invalid()
        number = int(text) if spec.kind is int else float(text)
        api = text
    elif spec.kind is int and isinstance(value, int):
        number, api = value, str(value)
    elif spec.kind is float and isinstance(value, int | float):
        number, api = float(value), repr(float(value))
    else:
        raise invalid()
    if not math.isfinite(number) or not spec.minimum <= number <= spec.maximum:
        raise invalid()
    return api


def default_epochs(family: ModelFamily) -> int:
    """The family's default epochCount (used when a request does not set one)."""
    spec = family.hyperparameter("epochCount")
    return int(spec.default) if spec else 1


def _fmt(value: float) -> str:
    return f"{value:g}"
