"""Foundation-model catalog for the offline Bedrock fake.

The entries carry what ``GetFoundationModel`` / ``ListFoundationModels`` return
(``customizationsSupported``, ``inferenceTypesSupported``, modalities,
``modelLifecycle``) plus what the fake needs to behave like Bedrock: the regions
where the entry exists, the hyperparameter table of the model family, record
limits and the request/response body family for ``InvokeModel``.

Model ids, regions, customizations, hyperparameter ranges, serving kinds and lifecycle dates are the
product's model catalog (:mod:`bft.catalog`, whose data file names each fact's source): the fake keeps no
copy of its own. **Lifecycle dates are the published ones by default**, so in the default world a run on
Claude 3 Haiku or Llama 3.2 after their end of life is refused, as it is in AWS. Any other date is a
scenario parameter (``catalog(haiku_end_of_life=...)``, ``catalog(lifecycle={...})``) that the scenario
must label as simulated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from bft.catalog import REPORTED_CUSTOMIZATIONS
from bft.catalog import Lifecycle as PublishedLifecycle
from bft.catalog import Model as CatalogModel
from bft.catalog import catalog as product_catalog

LifecycleStatus = Literal["ACTIVE", "LEGACY"]
BodyFamily = Literal["anthropic", "nova", "llama", "titan", "titan-embed"]

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
    #: The customizationType values a job on this base may name: the reported ones plus reinforcement
    #: fine-tuning, which ListFoundationModels never reports (the model catalog's ``customizations``).
    job_customizations: tuple[str, ...] = ()
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


# Assumption: the base models' on-demand ids (for the evaluation's base-model side) answer in both US regions
# for Amazon and Anthropic models, and in the fine-tuning region for Meta's (AWS may route some of these
# through inference profiles instead).
_US = frozenset({"us-east-1", "us-west-2"})
_BODY = {"Amazon": "nova", "Anthropic": "anthropic", "Meta": "llama"}


def simulated_legacy(end_of_life: datetime, start: datetime | None) -> Lifecycle:
    # Scenario data: a simulated end of life gets Legacy and extended-access dates with the spacing of the
    # published Claude 3 Haiku dates (Legacy 184 days, extended access 92 days before end of life).
    return Lifecycle(
        status="LEGACY",
        start_of_life=start,
        legacy_time=end_of_life - timedelta(days=184),
        public_extended_access_time=end_of_life - timedelta(days=92),
        end_of_life=end_of_life,
    )


def _moment(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


def _published(life: PublishedLifecycle) -> Lifecycle:
    return Lifecycle(
        status=life.status,  # type: ignore[arg-type]
        start_of_life=_moment(life.start_of_life),
        legacy_time=_moment(life.legacy),
        public_extended_access_time=_moment(life.extended_access),
        end_of_life=_moment(life.end_of_life),
    )


def _entries(model: CatalogModel) -> list[FoundationModel]:
    """The fine-tunable entry of a catalog model and its on-demand id's, as ListFoundationModels shows them."""
    family = product_catalog().families[model.family]
    body: BodyFamily = "titan" if model.family.startswith("titan") else _BODY[model.provider]  # type: ignore[assignment]
    fine_tunable = FoundationModel(
        model_id=model.model_id,
        name=model.name.removeprefix(f"{model.provider} "),
        provider=model.provider,
        body=body,
        regions=frozenset(model.regions),
        # As GetFoundationModel reports them: reinforcement fine-tuning is a job's type, not a reported one.
        customizations=tuple(kind for kind in model.customizations if kind in REPORTED_CUSTOMIZATIONS),
        job_customizations=tuple(model.customizations),
        inference_types=("PROVISIONED",),
        input_modalities=model.input_modalities,
        lifecycle=_published(model.lifecycle),
        hyperparameters=tuple(
            HyperParameter(row["name"], row["type"], row["default"], row["min"], row["max"])
            for row in family.hyperparameters.get("FINE_TUNING", ())
        ),
        min_training_records=family.records["min"],
        max_training_records=family.records["max_training"],
        on_demand_deployment="on-demand-deployment" in model.serving,
    )
    on_demand = dataclasses.replace(
        fine_tunable,
        model_id=model.invoke_id,
        regions=fine_tunable.regions if model.provider == "Meta" else _US,
        customizations=(),
        job_customizations=(),
        inference_types=("ON_DEMAND",),
        hyperparameters=(),
        on_demand_deployment=False,
    )
    return [fine_tunable, on_demand]


def catalog(
    *,
    haiku_status: LifecycleStatus = "LEGACY",
    haiku_end_of_life: datetime | None = None,
    lifecycle: Mapping[str, Lifecycle] | None = None,
    extra: Iterable[FoundationModel] = (),
) -> Catalog:
    """Build the catalog for one scenario: the product's model catalog (:mod:`bft.catalog`, published dates)
    plus two models nobody customizes, which the fake needs to refuse a customization of them.

    Claude 3 Haiku (both its fine-tunable ``:200k`` and on-demand ids) keeps its published lifecycle unless
    ``haiku_status="ACTIVE"`` or a simulated ``haiku_end_of_life`` says otherwise; ``lifecycle`` replaces the
    lifecycle of any model id; ``extra`` adds or replaces models. A scenario that changes a date says so in its report.
    """
    models: list[FoundationModel] = [entry for model in product_catalog().models for entry in _entries(model)]
    models += [
        FoundationModel(
            model_id=SONNET_35,
            name="Claude 3.5 Sonnet",
            provider="Anthropic",
            body="anthropic",
            regions=_US,
            input_modalities=("TEXT", "IMAGE"),
            lifecycle=Lifecycle("ACTIVE"),
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
    haiku = by_id[HAIKU_FT].lifecycle
    if haiku_status == "ACTIVE":
        haiku = Lifecycle("ACTIVE", start_of_life=haiku.start_of_life, end_of_life=haiku_end_of_life)
    elif haiku_end_of_life is not None:
        haiku = simulated_legacy(haiku_end_of_life, haiku.start_of_life)
    for model_id in (HAIKU_FT, HAIKU_ON_DEMAND):
        by_id[model_id] = dataclasses.replace(by_id[model_id], lifecycle=haiku)
    for model_id, life in (lifecycle or {}).items():
        if model_id not in by_id:
            raise KeyError(f"no catalog model {model_id!r} to override")
        by_id[model_id] = dataclasses.replace(by_id[model_id], lifecycle=life)
    for model in extra:
        by_id[model.model_id] = model
    return Catalog(by_id.values())
