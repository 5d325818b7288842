"""The model catalog: what this project knows about Bedrock's customizable models, read from one data file.

``models.json`` beside this module holds one entry per model (regions, customization types, serving kinds,
lifecycle dates, the on-demand id, illustrative prices) and one per data family (format, record and file
limits, reserved strings, hyperparameter ranges). Every fact names its public source and the date it was
checked; a value nobody publishes says so (``guess``). Everything reads this catalog -- the config check,
the model families (:mod:`bft.families`), ValidateRequest, the dry-run and prices, ``bft onboarding``,
``bft models``, the offline fake and the docs' model table -- and nothing keeps a second copy.

A model is *live* in a region on a day when it is customizable there and neither Legacy nor past its end of
life on that day: Bedrock takes no new customization job and no new provisioned throughput for a Legacy base
(see ``lifecycle`` in the sources). Synthesis refuses a configured model that is not live on the day of
synthesis, and names the live models that replace it.

Standard library only: the Lambda layer and the CLI share it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from bft import clock

CATALOG_FILE = Path(__file__).with_name("models.json")

FINE_TUNING = "FINE_TUNING"
ON_DEMAND = "on-demand-deployment"
PT = "provisioned-throughput"
SERVING_KINDS = (ON_DEMAND, PT)
# What ListFoundationModels filters by and GetFoundationModel reports (botocore's ModelCustomization enum):
# reinforcement fine-tuning is a job's customizationType only, never in a model's customizationsSupported.
REPORTED_CUSTOMIZATIONS = ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION")

# The facts each entry must carry, each as {value, source}.
MODEL_FACTS = (
    "invoke_id",
    "input_modalities",
    "regions",
    "customizations",
    "distillation_teachers",
    "serving",
    "lifecycle",
)
FAMILY_FACTS = (
    "data_format",
    "records",
    "max_tokens_per_record",
    "file_bytes",
    "reserved_strings",
    "hyperparameters",
    "media",
)

_FM_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:(?P<region>[a-z0-9-]+)::foundation-model/(?P<id>.+)$")


class CatalogError(ValueError):
    """models.json is malformed: the message names the entry and the field."""


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    url: str
    checked: date


@dataclass(frozen=True)
class Fact:
    """One value with where it comes from."""

    value: Any
    source: Source
    checked: date
    guess: str | None = None  # why the value is not confirmed, if it is not
    note: str | None = None


@dataclass(frozen=True)
class Lifecycle:
    """``modelLifecycle`` as published: Bedrock's status plus the dates it moves on."""

    status: str  # ACTIVE or LEGACY, as GetFoundationModel reports it
    start_of_life: date | None = None
    legacy: date | None = None
    extended_access: date | None = None
    end_of_life: date | None = None

    def state(self, on: date) -> str:
        """ACTIVE, LEGACY or END_OF_LIFE on ``on`` (Bedrock has no end-of-life status: the date decides)."""
        if self.end_of_life is not None and on >= self.end_of_life:
            return "END_OF_LIFE"
        if self.legacy is not None:  # a published Legacy date decides; without one, the published status
            return "LEGACY" if on >= self.legacy else "ACTIVE"
        return "LEGACY" if self.status == "LEGACY" else "ACTIVE"

    def describe(self, on: date) -> str:
        state = self.state(on)
        eol = f"end of life {self.end_of_life}" if self.end_of_life else "no end-of-life date published"
        if state == "END_OF_LIFE":
            return f"past its end of life ({self.end_of_life})"
        if state == "LEGACY":
            since = f" since {self.legacy}" if self.legacy else ""
            return f"Legacy{since} ({eol})"
        return f"ACTIVE ({eol})" if self.end_of_life else "ACTIVE"


@dataclass(frozen=True)
class Model:
    """One customizable base model."""

    model_id: str
    name: str
    provider: str
    family: str
    invoke_id: str  # the base model's on-demand id (what the evaluation compares against)
    input_modalities: tuple[str, ...]
    regions: tuple[str, ...]
    customizations: tuple[str, ...]
    distillation_teachers: tuple[str, ...]
    serving: tuple[str, ...]  # the cheapest first: on demand (no hourly charge) where Bedrock offers it
    lifecycle: Lifecycle
    prices: dict[str, float]
    facts: dict[str, Fact] = field(default_factory=dict, compare=False, repr=False)

    @property
    def text_only(self) -> bool:
        return "IMAGE" not in self.input_modalities and "VIDEO" not in self.input_modalities

    def live(self, region: str, on: date, customization: str = FINE_TUNING) -> bool:
        return region in self.regions and customization in self.customizations and self.lifecycle.state(on) == "ACTIVE"


@dataclass(frozen=True)
class Family:
    """Rules shared by models with one data format: limits, reserved strings, hyperparameter ranges."""

    name: str
    data_format: str
    records: dict[str, int]
    max_tokens_per_record: int | None
    file_bytes: dict[str, int]
    reserved_strings: tuple[str, ...]
    reserved_strings_ignore_case: bool
    hyperparameters: dict[str, tuple[dict[str, Any], ...]]  # customization type -> rows
    media: dict[str, Any] | None
    facts: dict[str, Fact] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Judge:
    """An evaluator (LLM-as-a-judge) model of Bedrock evaluation jobs, and the regions it is offered in."""

    model_id: str
    name: str
    regions: tuple[str, ...]
    facts: dict[str, Fact] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Catalog:
    checked: date
    prices_note: str
    sources: dict[str, Source]
    families: dict[str, Family]
    models: tuple[Model, ...]
    judges: tuple[Judge, ...] = ()

    def judge(self, model_id: str) -> Judge | None:
        """The judge entry of an evaluator model id (whatever its regions)."""
        return next((j for j in self.judges if j.model_id == model_id), None)

    def judges_in(self, region: str) -> list[Judge]:
        """The evaluator models offered in ``region``, catalog order."""
        return [j for j in self.judges if region in j.regions]

    def model(self, identifier: str) -> Model | None:
        """The entry of a model id or foundation-model ARN (whatever its region: see ``refusal``)."""
        match = _FM_ARN.match(identifier)
        model_id = match.group("id") if match else identifier
        return next((m for m in self.models if m.model_id == model_id), None)

    def live(self, region: str, on: date, customization: str = FINE_TUNING) -> list[Model]:
        """The models customizable in ``region`` on ``on`` (ACTIVE, not past end of life), catalog order."""
        return [m for m in self.models if m.live(region, on, customization)]

    def regions(self) -> list[str]:
        return sorted({region for m in self.models for region in m.regions})

    def refusal(self, identifier: str, region: str, on: date, customization: str = FINE_TUNING) -> str | None:
        """None when ``identifier`` can be customized in ``region`` on ``on``; else why not, naming the model,
        the region, the date and the live models that replace it there."""
        match = _FM_ARN.match(identifier)
        if match and match.group("region") != region:
            return f"{identifier} is a foundation-model ARN of {match.group('region')}, not of {region}"
        found = self.model(identifier)
        replace = self._replacements(region, on, customization)
        if found is None:
            near = [m.model_id for m in self.models if m.model_id.startswith(identifier + ":")]
            hint = f" (the customizable variant is {near[0]})" if near else ""
            return f"{identifier} is not a customizable Bedrock model{hint}; {replace}"
        name = f"{found.name} ({found.model_id})"
        if region not in found.regions:
            return f"{name} is customizable only in {', '.join(found.regions)}, not in {region}; {replace}"
        if customization not in found.customizations:
            kinds = ", ".join(found.customizations)
            return f"{name} does not support {customization} (it supports {kinds}); {replace}"
        state = found.lifecycle.state(on)
        if state == "ACTIVE":
            return None
        fact = found.facts["lifecycle"]
        cite = f"source: {fact.source.url}, checked {fact.checked}"
        if state == "END_OF_LIFE":
            why = "Bedrock no longer customizes or serves it"
        else:
            why = "Bedrock takes no new customization job or provisioned throughput for a Legacy model"
        return f"{name} is {found.lifecycle.describe(on)} on {on}: {why} ({cite}); {replace}"

    def _replacements(self, region: str, on: date, customization: str) -> str:
        live = self.live(region, on, customization)
        if not live:
            known = ", ".join(r for r in self.regions() if self.live(r, on, customization))
            return f"no model is customizable in {region} on {on} (regions that have some: {known or 'none'})"
        return f"ACTIVE models customizable in {region}: {', '.join(m.model_id for m in live)}"


def today() -> date:
    """The day synthesis and the CLI judge lifecycles by (UTC, as Bedrock's dates are)."""
    return clock.today()


@cache
def catalog() -> Catalog:
    """The shipped catalog, read once per process."""
    return load(CATALOG_FILE)


def load(path: Path) -> Catalog:
    """Read and check a catalog file: every fact must name a known source. CatalogError names what is wrong."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    sources = {
        key: Source(key, item["title"], item["url"], _date(item["checked"], f"sources.{key}.checked"))
        for key, item in raw["sources"].items()
    }

    def fact(entry: dict[str, Any], name: str, where: str) -> Fact:
        item = entry.get(name)
        if not isinstance(item, dict) or "value" not in item or "source" not in item:
            raise CatalogError(f"{path}: {where}.{name} must be {{value, source}}")
        if item["source"] not in sources:
            raise CatalogError(f"{path}: {where}.{name}.source {item['source']!r} is not in sources")
        source = sources[item["source"]]
        checked = _date(item["checked"], f"{where}.{name}.checked") if "checked" in item else source.checked
        unknown = set(item) - {"value", "source", "checked", "guess", "note"}
        if unknown:
            raise CatalogError(f"{path}: {where}.{name} has unknown keys {sorted(unknown)}")
        return Fact(item["value"], source, checked, item.get("guess"), item.get("note"))

    families: dict[str, Family] = {}
    for name, entry in raw["families"].items():
        where = f"families.{name}"
        _known_keys(path, entry, FAMILY_FACTS, where)
        facts = {key: fact(entry, key, where) for key in FAMILY_FACTS}
        reserved = facts["reserved_strings"].value
        families[name] = Family(
            name=name,
            data_format=facts["data_format"].value,
            records=dict(facts["records"].value),
            max_tokens_per_record=facts["max_tokens_per_record"].value,
            file_bytes=dict(facts["file_bytes"].value),
            reserved_strings=tuple(reserved["strings"]),
            reserved_strings_ignore_case=bool(reserved["ignore_case"]),
            hyperparameters={kind: tuple(rows) for kind, rows in facts["hyperparameters"].value.items()},
            media=facts["media"].value,
            facts=facts,
        )
    models = []
    for index, entry in enumerate(raw["models"]):
        where = f"models[{index}] ({entry.get('id')})"
        if entry.get("family") not in families:
            raise CatalogError(f"{path}: {where}.family {entry.get('family')!r} is not in families")
        _known_keys(path, entry, (*MODEL_FACTS, "id", "name", "provider", "family", "prices"), where)
        facts = {key: fact(entry, key, where) for key in MODEL_FACTS}
        life = facts["lifecycle"].value
        serving = tuple(facts["serving"].value)
        if set(serving) - set(SERVING_KINDS) or not serving:
            raise CatalogError(f"{path}: {where}.serving must name some of {', '.join(SERVING_KINDS)}")
        models.append(
            Model(
                model_id=entry["id"],
                name=entry["name"],
                provider=entry["provider"],
                family=entry["family"],
                invoke_id=facts["invoke_id"].value,
                input_modalities=tuple(facts["input_modalities"].value),
                regions=tuple(facts["regions"].value),
                customizations=tuple(facts["customizations"].value),
                distillation_teachers=tuple(facts["distillation_teachers"].value),
                serving=tuple(kind for kind in SERVING_KINDS if kind in serving),
                lifecycle=Lifecycle(
                    status=life["status"],
                    start_of_life=_optional_date(life, "start_of_life", where),
                    legacy=_optional_date(life, "legacy", where),
                    extended_access=_optional_date(life, "extended_access", where),
                    end_of_life=_optional_date(life, "end_of_life", where),
                ),
                prices=dict(entry.get("prices") or {}),
                facts=facts,
            )
        )
    judges = []
    for index, entry in enumerate(raw.get("judges") or []):
        where = f"judges[{index}] ({entry.get('id')})"
        _known_keys(path, entry, ("id", "name", "judge", "regions"), where)
        facts = {key: fact(entry, key, where) for key in ("judge", "regions")}
        judges.append(Judge(entry["id"], entry["name"], tuple(facts["regions"].value), facts))
    return Catalog(
        checked=_date(raw["checked"], "checked"),
        prices_note=raw["prices_note"],
        sources=sources,
        families=families,
        models=tuple(models),
        judges=tuple(judges),
    )


def _known_keys(path: Path, entry: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(entry) - set(known))
    if unknown:
        raise CatalogError(f"{path}: {where} has unknown keys {unknown} (known: {', '.join(known)})")


def _date(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise CatalogError(f"{where}: {text!r} is not a date (YYYY-MM-DD)") from None


def _optional_date(life: dict[str, Any], key: str, where: str) -> date | None:
    return _date(life[key], f"{where}.lifecycle.{key}") if life.get(key) else None
