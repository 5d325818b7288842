"""Foundation-model catalog for the offline Bedrock fake.

The entries carry what ``GetFoundationModel`` / ``ListFoundationModels`` return
(``customizationsSupported``, ``inferenceTypesSupported``, modalities,
``modelLifecycle``) plus what the fake needs to behave like Bedrock: the regions
where the entry exists, the hyperparameter table of the model family, record
limits and the request/response body family for ``InvokeModel``.

Model ids, regions, customizations and hyperparameter ranges come from
``docs/bedrock-behaviour.md#model-families``. **Lifecycle dates are the
published ones by default**: AWS's model card gives Claude 3 Haiku status
"Legacy (specific regions)" with end of life 2026-09-10
(``docs/bedrock-behaviour.md#claude-3-haiku-eol``), so in the default world a run
on Haiku after that date is refused, as it is in AWS. Any other date is a scenario
parameter (``catalog(haiku_end_of_life=...)``, ``catalog(haiku_status="ACTIVE")``)
that the scenario must label as simulated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

LifecycleStatus = Literal["ACTIVE", "LEGACY"]
BodyFamily = Literal["anthropic", "nova", "llama", "titan", "titan-embed"]

#: AWS's published end-of-life date for Claude 3 Haiku (model card): the default catalog's.
HAIKU_EOL_PER_MODEL_CARD = datetime(2026, 9, 10, tzinfo=UTC)

HAIKU_FT = "anthropic.claude-3-haiku-20240307-v1:0:200k"
HAIKU_ON_DEMAND = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET_35 = "anthropic.claude-3-5-sonnet-20240620-v1:0"
NOVA_MICRO_FT = "amazon.nova-micro-v1:0:128k"
NOVA_LITE_FT = "amazon.nova-lite-v1:0:300k"
NOVA_PRO_FT = "amazon.nova-pro-v1:0:300k"
TITAN_EXPRESS_FT = "amazon.titan-text-express-v1:0:8k"
TITAN_EMBED_V2 = "amazon.titan-embed-text-v2:0"

#: Customized Nova models can be deployed on demand only if customized on or after this date (facts).
NOVA_ON_DEMAND_SINCE = datetime(2025, 7, 16, tzinfo=UTC)


@dataclass(frozen=True)
class Lifecycle:
    """``modelLifecycle`` of a foundation model."""

    status: LifecycleStatus = "ACTIVE"
    start_of_life: datetime | None = None
    legacy_time: datetime | None = None
    public_extended_access_time: datetime | None = None
    end_of_life: datetime | None = None


@dataclass(frozen=True)
class HyperParameter:
    """One row of a family's hyperparameter table (values travel as strings in the API)."""

    name: str
    kind: Literal["int", "float"]
    default: float
    minimum: float
    maximum: float


@dataclass(frozen=True)
class FoundationModel:
    """One ``ListFoundationModels`` entry plus the fake's behaviour data."""

    model_id: str
    name: str
    provider: str
    body: BodyFamily
    regions: frozenset[str]
    customizations: tuple[str, ...] = ()
    inference_types: tuple[str, ...] = ("ON_DEMAND",)
    input_modalities: tuple[str, ...] = ("TEXT",)
    output_modalities: tuple[str, ...] = ("TEXT",)
    streaming: bool = True
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    hyperparameters: tuple[HyperParameter, ...] = ()
    min_training_records: int = 1
    max_training_records: int = 10_000
    #: CreateCustomModelDeployment accepts custom models of this base (Nova only, per facts).
    on_demand_deployment: bool = False

    def arn(self, region: str) -> str:
        return f"arn:aws:bedrock:{region}::foundation-model/{self.model_id}"

    def hyperparameter(self, name: str) -> HyperParameter | None:
        return next((hp for hp in self.hyperparameters if hp.name == name), None)


class Catalog:
    """Foundation models by id; lookups are per region, as in Bedrock."""

    def __init__(self, models: Iterable[FoundationModel]) -> None:
        self._models = {m.model_id: m for m in models}

    def get(self, identifier: str, region: str) -> FoundationModel | None:
        """Resolve a model id or foundation-model ARN available in ``region``."""
        model_id = identifier
        if identifier.startswith("arn:"):
            parts = identifier.split(":", 5)
            if len(parts) != 6 or parts[3] != region or not parts[5].startswith("foundation-model/"):
                return None
            model_id = parts[5].removeprefix("foundation-model/")
        found = self._models.get(model_id)
        return found if found is not None and region in found.regions else None

    def in_region(self, region: str) -> list[FoundationModel]:
        return [m for m in self._models.values() if region in m.regions]

    def __iter__(self) -> Iterator[FoundationModel]:
        return iter(self._models.values())


_HAIKU_HP = (
    HyperParameter("epochCount", "int", 2, 1, 10),
    HyperParameter("batchSize", "int", 32, 4, 256),
    HyperParameter("learningRateMultiplier", "float", 1.0, 0.1, 2.0),
    HyperParameter("earlyStoppingThreshold", "float", 0.001, 0.0, 0.1),
    HyperParameter("earlyStoppingPatience", "int", 2, 1, 10),
)
_NOVA_HP = (
    HyperParameter("epochCount", "int", 2, 1, 5),
    HyperParameter("learningRate", "float", 1e-5, 1e-6, 1e-4),
    HyperParameter("learningRateWarmupSteps", "int", 10, 0, 100),
)
_LLAMA_HP = (
    HyperParameter("epochCount", "int", 5, 1, 10),
    HyperParameter("batchSize", "int", 1, 1, 1),
    HyperParameter("learningRate", "float", 1e-4, 5e-6, 0.1),
)
_TITAN_EXPRESS_HP = (
    HyperParameter("epochCount", "int", 5, 1, 10),
    HyperParameter("batchSize", "int", 1, 1, 64),
    HyperParameter("learningRate", "float", 1e-5, 0.0, 1.0),
    HyperParameter("learningRateWarmupSteps", "int", 5, 0, 250),
)

_US_EAST_1 = frozenset({"us-east-1"})
_US_WEST_2 = frozenset({"us-west-2"})
# Assumption: on-demand availability of the base (non-":<context>") ids in both US regions.
_US = frozenset({"us-east-1", "us-west-2"})


def _legacy(end_of_life: datetime, start: datetime | None) -> Lifecycle:
    # Assumption: the Legacy and extended-access dates are derived from end of life with the
    # spacing of the third-party copies of AWS's table (Legacy 6 months, extended access
    # 3 months before end of life).
    return Lifecycle(
        status="LEGACY",
        start_of_life=start,
        legacy_time=end_of_life - timedelta(days=184),
        public_extended_access_time=end_of_life - timedelta(days=92),
        end_of_life=end_of_life,
    )


def catalog(
    *,
    now: datetime | None = None,
    haiku_status: LifecycleStatus = "LEGACY",
    haiku_end_of_life: datetime | None = None,
    lifecycle: Mapping[str, Lifecycle] | None = None,
    extra: Iterable[FoundationModel] = (),
) -> Catalog:
    """Build the catalog for one scenario.

    ``now`` anchors the dates nobody publishes (Titan's). Haiku (both its fine-tunable
    ``:200k`` and on-demand ids) is LEGACY with end of life ``haiku_end_of_life``
    (default: the published 2026-09-10) unless ``haiku_status="ACTIVE"``.
    ``lifecycle`` replaces the lifecycle of any model id; ``extra`` adds or replaces models.
    """
    now = now or datetime.now(UTC)
    # Assumption: startOfLifeTime values are illustrative (release dates), not from the facts.
    haiku_start = datetime(2024, 3, 13, tzinfo=UTC)
    if haiku_status == "LEGACY":
        haiku_life = _legacy(haiku_end_of_life or HAIKU_EOL_PER_MODEL_CARD, haiku_start)
    else:
        haiku_life = Lifecycle("ACTIVE", start_of_life=haiku_start, end_of_life=haiku_end_of_life)
    # Facts: Titan Text is being phased out; its dates are unconfirmed, so this is scenario data too.
    titan_life = _legacy(now + timedelta(days=180), datetime(2023, 11, 29, tzinfo=UTC))
    nova_start = datetime(2024, 12, 3, tzinfo=UTC)

    def nova(model_id: str, name: str, inputs: tuple[str, ...]) -> list[FoundationModel]:
        life = Lifecycle("ACTIVE", start_of_life=nova_start)
        fine_tunable = FoundationModel(
            model_id=model_id,
            name=name,
            provider="Amazon",
            body="nova",
            regions=_US_EAST_1,
            customizations=("FINE_TUNING",),
            inference_types=("PROVISIONED",),
            input_modalities=inputs,
            lifecycle=life,
            hyperparameters=_NOVA_HP,
            min_training_records=8,
            max_training_records=20_000,
            on_demand_deployment=True,
        )
        # The on-demand id without the context-length suffix, for base-model evaluation.
        on_demand = dataclasses.replace(
            fine_tunable,
            model_id=model_id.rsplit(":", 1)[0],
            regions=_US,
            customizations=(),
            inference_types=("ON_DEMAND",),
            hyperparameters=(),
            on_demand_deployment=False,
        )
        return [fine_tunable, on_demand]

    def llama(model_id: str, name: str, inputs: tuple[str, ...] = ("TEXT",)) -> list[FoundationModel]:
        # Assumption: Llama lifecycle ACTIVE (not in the facts). Facts: 100-10,000 records in total.
        fine_tunable = FoundationModel(
            model_id=model_id,
            name=name,
            provider="Meta",
            body="llama",
            regions=_US_WEST_2,
            customizations=("FINE_TUNING",),
            inference_types=("PROVISIONED",),
            input_modalities=inputs,
            hyperparameters=_LLAMA_HP,
            min_training_records=100,
        )
        # Assumption: the on-demand id (no context suffix) answers Converse in the same region, for the
        # base-model side of the evaluation (AWS may route these through inference profiles instead).
        on_demand = dataclasses.replace(
            fine_tunable,
            model_id=model_id.rsplit(":", 1)[0],
            customizations=(),
            inference_types=("ON_DEMAND",),
            hyperparameters=(),
        )
        return [fine_tunable, on_demand]

    models: list[FoundationModel] = [
        FoundationModel(
            model_id=HAIKU_FT,
            name="Claude 3 Haiku",
            provider="Anthropic",
            body="anthropic",
            regions=_US_WEST_2,
            customizations=("FINE_TUNING",),
            inference_types=("PROVISIONED",),
            input_modalities=("TEXT", "IMAGE"),
            lifecycle=haiku_life,
            hyperparameters=_HAIKU_HP,
            min_training_records=32,
        ),
        FoundationModel(
            model_id=HAIKU_ON_DEMAND,
            name="Claude 3 Haiku",
            provider="Anthropic",
            body="anthropic",
            regions=_US,
            input_modalities=("TEXT", "IMAGE"),
            lifecycle=haiku_life,
        ),
        FoundationModel(
            model_id=SONNET_35,
            name="Claude 3.5 Sonnet",
            provider="Anthropic",
            body="anthropic",
            regions=_US,
            input_modalities=("TEXT", "IMAGE"),
            lifecycle=Lifecycle("ACTIVE", start_of_life=datetime(2024, 6, 20, tzinfo=UTC)),
        ),
        *nova(NOVA_MICRO_FT, "Nova Micro", ("TEXT",)),
        *nova(NOVA_LITE_FT, "Nova Lite", ("TEXT", "IMAGE")),
        *nova(NOVA_PRO_FT, "Nova Pro", ("TEXT", "IMAGE")),
        *llama("meta.llama3-1-8b-instruct-v1:0:128k", "Llama 3.1 8B Instruct"),
        *llama("meta.llama3-1-70b-instruct-v1:0:128k", "Llama 3.1 70B Instruct"),
        *llama("meta.llama3-2-1b-instruct-v1:0:128k", "Llama 3.2 1B Instruct"),
        *llama("meta.llama3-2-3b-instruct-v1:0:128k", "Llama 3.2 3B Instruct"),
        *llama("meta.llama3-2-11b-instruct-v1:0:128k", "Llama 3.2 11B Instruct", ("TEXT", "IMAGE")),
        # Facts: the ":128k" suffix of the 90B id is unconfirmed.
        *llama("meta.llama3-2-90b-instruct-v1:0:128k", "Llama 3.2 90B Instruct", ("TEXT", "IMAGE")),
        FoundationModel(
            model_id=TITAN_EXPRESS_FT,
            name="Titan Text G1 - Express",
            provider="Amazon",
            body="titan",
            regions=_US,
            customizations=("FINE_TUNING", "CONTINUED_PRE_TRAINING"),
            inference_types=("PROVISIONED",),
            lifecycle=titan_life,
            hyperparameters=_TITAN_EXPRESS_HP,
        ),
        FoundationModel(
            model_id=TITAN_EMBED_V2,
            name="Titan Text Embeddings V2",
            provider="Amazon",
            body="titan-embed",
            regions=_US,
            output_modalities=("EMBEDDING",),
            streaming=False,
        ),
    ]
    by_id = {m.model_id: m for m in models}
    for model_id, life in (lifecycle or {}).items():
        if model_id not in by_id:
            raise KeyError(f"no catalog model {model_id!r} to override")
        by_id[model_id] = dataclasses.replace(by_id[model_id], lifecycle=life)
    for model in extra:
        by_id[model.model_id] = model
    return Catalog(by_id.values())
