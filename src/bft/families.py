"""Model families: each customizable model's data rules, as the validators and the workflow read them.

Dataset validation reads the data format and limits from here, the workflow reads hyperparameters, regions
and how the custom model is served. The values are the model catalog's (:mod:`bft.catalog`, whose data file
names each one's source and marks what is a guess): this module only shapes them.

Importable without boto3 or pydantic: the Lambda bundle and the CLI share it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bft.catalog import ON_DEMAND, Family, catalog
from bft.catalog import SERVING_KINDS as SERVING_KINDS
from bft.errors import BaseModelUnavailable, RequestInvalid

DataFormat = Literal["anthropic-messages", "bedrock-conversation-2024", "prompt-completion"]
Serving = Literal["provisioned-throughput", "provisioned-throughput+on-demand-deployment"]

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


def _family(entry: Family) -> ModelFamily:
    """A family's rules as the validators and the workflow read them, from the catalog's entries."""
    members = [m for m in catalog().models if m.family == entry.name]
    regions = tuple(dict.fromkeys(region for m in members for region in m.regions))
    on_demand = all(ON_DEMAND in m.serving for m in members)
    media = entry.media or {}
    records = entry.records
    return ModelFamily(
        name=entry.name,
        base_model_ids=tuple(m.model_id for m in members),
        data_format=entry.data_format,  # type: ignore[arg-type]
        min_records=records["min"],
        max_training_records=records["max_training"],
        max_validation_records=records["max_validation"],
        max_total_records=records["max_total"],
        max_tokens_per_record=entry.max_tokens_per_record,
        max_training_bytes=entry.file_bytes["training"],
        max_validation_bytes=entry.file_bytes["validation"],
        reserved_strings=entry.reserved_strings,
        hyperparameters=tuple(
            HyperParameterSpec(
                row["name"],
                int if row["type"] == "int" else float,
                _kind(row, "default"),
                _kind(row, "min"),
                _kind(row, "max"),
            )
            for row in entry.hyperparameters.get("FINE_TUNING", ())
        ),
        regions=regions,
        serving="provisioned-throughput+on-demand-deployment" if on_demand else "provisioned-throughput",
        reserved_strings_ignore_case=entry.reserved_strings_ignore_case,
        text_only_model_ids=frozenset(m.model_id for m in members if m.text_only),
        max_system_blocks=media.get("max_system_blocks"),
        max_images_per_record=media.get("max_images_per_record", 0),
        max_videos_per_record=media.get("max_videos_per_record", 0),
        image_formats=tuple(media.get("image_formats", ())),
        video_formats=tuple(media.get("video_formats", ())),
    )


def _kind(row: dict[str, Any], key: str) -> int | float:
    return int(row[key]) if row["type"] == "int" else float(row[key])


# Every family of the catalog (bft/catalog/models.json), in its order.
FAMILIES: tuple[ModelFamily, ...] = tuple(_family(entry) for entry in catalog().families.values())

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


def family_or_model(name: str) -> tuple[ModelFamily, str | None]:
    """A family named ``name`` (``nova``), else the family of the model id or ARN ``name`` with that id.

    Raises BaseModelUnavailable naming the families and the models known, as ``family_for`` does.
    """
    found = next((fam for fam in FAMILIES if fam.name == name), None)
    if found is not None:
        return found, None
    try:
        return family_for(name), name
    except BaseModelUnavailable as exc:
        families = ", ".join(fam.name for fam in FAMILIES)
        raise BaseModelUnavailable(f"{name!r} is not a model family ({families}); as a model: {exc}") from None


def serving_kinds(base_model_id: str) -> tuple[str, ...]:
    """The serving kinds a base model's custom models support, the default (cheapest) first: an on-demand
    custom model deployment (no hourly charge) where Bedrock offers one, else provisioned throughput
    (the catalog's ``serving``; docs/bedrock-behaviour.md#on-demand-deployments, #pt-required)."""
    family_for(base_model_id)  # the same refusal for an unknown model or a region that lacks it
    found = catalog().model(base_model_id)
    assert found is not None  # family_for knows it
    return found.serving


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
