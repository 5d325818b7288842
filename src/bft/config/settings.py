"""The typed settings of one environment: :class:`EnvironmentConfig` and its parts, with the rules that span keys."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationInfo, model_validator

from bft.catalog import catalog, today
from bft.config.fields import (
    DEFAULT_REGION,
    LOG_RETENTION_DAYS,
    ConfigError,
    Email,
    EndpointName,
    ModelId,
    PrincipalArn,
    ReviewerArn,
    SecurityGroupId,
    SubnetId,
    TeamName,
    _Invalid,
    _Strict,
)
from bft.config.timing import WorkflowTiming
from bft.families import SERVING_KINDS, serving_kinds
from bft.registry import merge_team


class VpcConfig(_Strict):
    """Subnets and security groups that customization jobs run in."""

    subnet_ids: list[SubnetId] = Field(min_length=1, max_length=16)
    security_group_ids: list[SecurityGroupId] = Field(min_length=1, max_length=5)


class DataRetention(_Strict):
    noncurrent_version_days: int = Field(default=30, ge=1, le=3650)
    access_log_days: int = Field(default=365, ge=1, le=3650)
    report_expiration_days: int | None = Field(default=None, ge=1, le=3650)
    # Lets `cdk destroy` empty the buckets. Refused in production (see EnvironmentConfig).
    auto_delete_objects: bool = False


class ThroughputPolicy(_Strict):
    """Provisioned-throughput defaults and limits for the environment."""

    default_model_units: int = Field(default=1, ge=1)
    max_model_units: int = Field(default=1, ge=1)
    # A commitment term (one or six months) cannot be cancelled: never by default.
    allow_commitment: bool = False
    # Non-prod throughputs older than this are deleted by the reaper.
    default_ttl_hours: float = Field(default=8, gt=0, le=24 * 31)

    @model_validator(mode="after")
    def _defaults_within_limits(self) -> ThroughputPolicy:
        if self.default_model_units > self.max_model_units:
            raise _Invalid(
                ("default_model_units",),
                f"{self.default_model_units} exceeds max_model_units ({self.max_model_units})",
            )
        return self


# config key under `prices:` -> the price document's key (what the Finalize function and the CLI read).
PRICE_TABLES = {
    "training_per_1k_tokens_usd": "trainingPer1kTokensUsd",
    "model_unit_hour_usd": "modelUnitHourUsd",
    "model_unit_hour_one_month_usd": "modelUnitHourOneMonthUsd",
    "model_unit_hour_six_months_usd": "modelUnitHourSixMonthsUsd",
    "on_demand_input_per_1k_tokens_usd": "onDemandInputPer1kTokensUsd",
    "on_demand_output_per_1k_tokens_usd": "onDemandOutputPer1kTokensUsd",
}


class Prices(_Strict):
    """Prices for cost estimates, keyed by model id (``amazon.nova-lite-v1:0:300k``) or family
    (``claude-3-haiku``); a model id wins over its family. Bedrock's list prices change and differ by region:
    without a price here an estimate uses the shipped illustrative table (``bft.prices``) and says so."""

    training_per_1k_tokens_usd: dict[str, float] = Field(default_factory=dict)
    model_unit_hour_usd: dict[str, float] = Field(default_factory=dict)  # no commitment
    model_unit_hour_one_month_usd: dict[str, float] = Field(default_factory=dict)
    model_unit_hour_six_months_usd: dict[str, float] = Field(default_factory=dict)
    # An on-demand custom model deployment's token prices (Nova): it has no hourly charge.
    on_demand_input_per_1k_tokens_usd: dict[str, float] = Field(default_factory=dict)
    on_demand_output_per_1k_tokens_usd: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_keys(self) -> Prices:
        from bft.families import FAMILIES

        known = {f.name for f in FAMILIES} | {m for f in FAMILIES for m in f.base_model_ids}
        for table in PRICE_TABLES:
            for key in getattr(self, table):
                if key not in known:
                    raise _Invalid(
                        (table, key),
                        f"{key!r} is neither a fine-tunable model id nor a family; known families: "
                        f"{', '.join(f.name for f in FAMILIES)} (a price under an unknown key would be ignored)",
                        anchor=(table,),
                    )
        return self


# The customization types a request may ask for (bft.workflow.customization): supervised fine-tuning, reinforcement
# fine-tuning with a grader, distillation from a teacher.
CustomizationName = Literal["fine-tuning", "reinforcement", "distillation"]


def _fine_tuning_only() -> list[CustomizationName]:
    return ["fine-tuning"]


class ReaperConfig(_Strict):
    """The scheduled cost guardrail: deletes the pipeline's expired non-prod throughputs and old custom models."""

    schedule_minutes: int = Field(default=60, ge=1, le=1440)
    # Report what would be deleted, delete nothing (also forced per invocation by {"dryRun": true}).
    dry_run: bool = False
    # None keeps custom models; a number deletes the pipeline's unserved models older than that.
    custom_model_retention_days: int | None = Field(default=None, ge=1, le=3650)


class Team(_Strict):
    """A team that submits fine-tuning requests (see the self-service guide in the README)."""

    name: TeamName
    submitters: list[PrincipalArn] = Field(default_factory=list)
    allowed_base_models: list[ModelId] | None = None  # None: the environment's list
    max_model_units: int | None = Field(default=None, ge=1)
    # Runs of this team at once (None: the environment's max_concurrent_runs_per_team).
    max_concurrent_runs: int | None = Field(default=None, ge=1, le=100)
    allow_commitment: bool = False
    throughput_ttl_hours: float | None = Field(default=None, gt=0)
    notification_emails: list[Email] = Field(default_factory=list)
    monthly_budget_usd: float | None = Field(default=None, gt=0)
    # A hard cap: a run whose estimate would take the team's month-to-date spend (its runs' reports of this UTC
    # month, in-flight runs at their estimate) past it is refused before any job (bft.workflow.spend); and an
    # AWS Budgets action denies the team's submitter role new runs once AWS's actual cost reaches it.
    monthly_cap_usd: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    # Who may approve this team's runs; None: the environment's reviewers.
    reviewers: list[ReviewerArn] | None = None
    # The team's stable serving endpoint: an on-demand custom model deployment that every approved run serving
    # on demand points at its new custom model (UpdateCustomModelDeployment), so applications call one ARN.
    # A request may name another (serving.endpoint) or none (null). bft.workflow.promotion.
    serving_endpoint: EndpointName | None = None
    # The team's custom models that nothing serves (and no endpoint keeps as its rollback target) are deleted
    # by the reaper after this many days; None: the environment's reaper.custom_model_retention_days.
    custom_model_retention_days: int | None = Field(default=None, ge=1, le=3650)
    # The customization types this team may use, a subset of the environment's; None: the environment's.
    customization_types: list[CustomizationName] | None = None

    @model_validator(mode="after")
    def _someone_submits(self) -> Team:
        # Its stack would deploy a submitter role nobody may assume: onboarded in name only.
        if not self.submitters:
            raise _Invalid(
                ("submitters",),
                f"team {self.name} has no submitters, so nobody could submit runs: list the IAM roles or users "
                "who may assume the team's submitter role",
            )
        return self


class EnvironmentConfig(_Strict):
    """Everything that differs between dev, staging and prod."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,15}$")]
    account: Annotated[str, StringConstraints(pattern=r"^\d{12}$")] | None = None
    region: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")] = DEFAULT_REGION
    production: bool = False
    # How many runs one team may have in flight at once (audit L9): each run's fan-out is bounded, so this bounds
    # the pipeline's share of the account's Lambda concurrency and Bedrock quotas. A team may set less or more.
    max_concurrent_runs_per_team: int = Field(default=5, ge=1, le=100)
    log_retention_days: int = 30
    data_retention: DataRetention = DataRetention()
    notification_emails: list[Email] = Field(default_factory=list)
    # Absent: every model the catalog says is live in the region on the day the config is read (bft models).
    allowed_base_models: list[ModelId] = Field(default_factory=list)
    provisioned_throughput: ThroughputPolicy = ThroughputPolicy()
    vpc: VpcConfig | None = None
    permissions_boundary_arn: (
        Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:policy/.+$")] | None
    ) = None
    custom_model_kms_key_arn: (
        Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}$")] | None
    ) = None
    workflow: WorkflowTiming = WorkflowTiming()
    reaper: ReaperConfig = ReaperConfig()
    delete_failed_custom_models: bool = True
    # Ask a reviewer before serving unless the request says otherwise (always, in production).
    approval_required: bool = False
    # Principals allowed to approve or reject runs through the approval function URL (teams may override).
    reviewers: list[ReviewerArn] = Field(default_factory=list)
    prices: Prices = Prices()
    tags: dict[str, str] = Field(default_factory=dict)
    teams: list[Team] = Field(default_factory=list)
    # How a model's custom models are served when a request does not say (model id -> kind); a model not
    # named here uses its family's default (bft.families.serving_kinds: the first one listed).
    serving_kinds: dict[ModelId, str] = Field(default_factory=dict)
    # The evaluator models a request may name as its LLM judge (evaluation.scorer llm_judge): each a judge of the
    # model catalog offered in the region. None by default: a judge's tokens are billed, the platform opts in.
    judge_models: list[ModelId] = Field(default_factory=list)
    # The customization types a request may ask for here (teams may narrow it): supervised fine-tuning only
    # unless the platform opts in. A type no allowed model supports in the region is refused at synthesis.
    customization_types: list[CustomizationName] = Field(default_factory=_fine_tuning_only)
    powertools_layer_version: int = Field(default=27, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _live_models_by_default(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and "allowed_base_models" not in data:
            region = data.get("region", DEFAULT_REGION)
            live = catalog().live(region, _today(info)) if isinstance(region, str) else []
            data = {**data, "allowed_base_models": [model.model_id for model in live]}
        return data

    @model_validator(mode="after")
    def _cross_field_rules(self, info: ValidationInfo) -> EnvironmentConfig:
        # Each rule names where it is broken (_Invalid), so the message keeps the file's line number.
        if not self.allowed_base_models:
            raise _Invalid(
                ("allowed_base_models",),
                f"no model is customizable in {self.region} on {_today(info)}: set region to one that has some "
                "(`bft models` lists them)",
                anchor=("region",),
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise _Invalid(
                ("log_retention_days",),
                f"{self.log_retention_days} is not a CloudWatch Logs retention; "
                f"allowed: {', '.join(map(str, LOG_RETENTION_DAYS))}",
            )
        if self.production and self.data_retention.auto_delete_objects:
            raise _Invalid(
                ("data_retention", "auto_delete_objects"),
                "must be false in production (data is retained)",
                anchor=("data_retention",),
            )
        self._check_models_offered(_today(info))
        self._check_judges_offered()
        self._check_customization_types(_today(info))
        names = [team.name for team in self.teams]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            second = [i for i, name in enumerate(names) if name == duplicates[0]][1]
            raise _Invalid(("teams", second, "name"), f"duplicate team names {duplicates}")
        for index, team in enumerate(self.teams):
            where = f"(team {team.name})"
            outside = sorted(set(team.allowed_base_models or []) - set(self.allowed_base_models))
            if outside:
                raise _Invalid(
                    ("teams", index, "allowed_base_models"),
                    f"{outside} not in the environment's allowed_base_models {self.allowed_base_models} {where}",
                )
            if team.max_model_units and team.max_model_units > self.provisioned_throughput.max_model_units:
                raise _Invalid(
                    ("teams", index, "max_model_units"),
                    f"{team.max_model_units} exceeds the environment's provisioned_throughput.max_model_units "
                    f"({self.provisioned_throughput.max_model_units}) {where}",
                )
            if team.allow_commitment and not self.provisioned_throughput.allow_commitment:
                raise _Invalid(
                    ("teams", index, "allow_commitment"),
                    f"true needs provisioned_throughput.allow_commitment: true {where}",
                )
            if team.custom_model_retention_days is not None and self.reaper.custom_model_retention_days is None:
                # The reaper may list and delete custom models only where the environment turned retention on
                # (its pipeline-stack permissions); a team's setting cannot grant them.
                raise _Invalid(
                    ("teams", index, "custom_model_retention_days"),
                    f"needs reaper.custom_model_retention_days in the environment, which lets the reaper delete "
                    f"custom models at all {where}",
                )
            if team.serving_endpoint is not None:
                self._check_endpoint_served_on_demand(index, team)
            if team.monthly_cap_usd is not None and not (team.notification_emails or self.notification_emails):
                # The cap's AWS Budgets action needs a subscriber: someone must hear that the team was stopped.
                raise _Invalid(
                    ("teams", index, "monthly_cap_usd"),
                    f"needs an address to tell when AWS Budgets stops the team's runs: set the team's "
                    f"notification_emails or the environment's {where}",
                )
        # Each team's stack subscribes its own addresses with a filter on its team; SNS refuses a second
        # subscription of one address to one topic with another filter, so an address serves one team (or is
        # the platform's, which receives everything).
        owner: dict[str, str] = {}
        for index, team in enumerate(self.teams):
            for position, email in enumerate(team.notification_emails):
                if email in self.notification_emails:
                    continue
                if owner.setdefault(email, team.name) != team.name:
                    raise _Invalid(
                        ("teams", index, "notification_emails", position),
                        f"{email} is already team {owner[email]}'s address: an address receives one team's "
                        "messages (list it under the environment's notification_emails to receive every team's)",
                    )
        for key in self.tags:
            if key.lower().startswith("aws:"):
                raise _Invalid(("tags", key), "keys starting with 'aws:' are reserved by AWS", anchor=("tags",))
        self._check_execution_timeout()
        if self.production:
            self._check_production_approval()
            if self.account is None:
                # Env-agnostic stacks deploy wherever the deploying credentials point: a prod stack must not
                # land in a dev account because someone's profile did (audit L8).
                raise _Invalid(
                    ("account",),
                    "production needs the account it deploys into (12 digits, quoted): without it `cdk deploy` "
                    "deploys into whichever account the credentials belong to",
                    anchor=("production",),
                )
        elif self.approval_required:
            for index, team in enumerate(self.teams):
                if not self.team_reviewers(team):
                    raise _Invalid(
                        ("teams", index, "reviewers"),
                        f"team {team.name} has no reviewers while approval_required is true, so its runs could "
                        f"never be approved: set reviewers (environment) or teams[{index}].reviewers",
                    )
        return self

    def _check_models_offered(self, on: date) -> None:
        """Every base model named is live in this region on ``on`` (the day of synthesis) by the model catalog,
        and every serving kind named is one its model supports: refused at synth time, not on a team's first
        run. A refusal names the model, the region, the date and the live models that replace it."""
        named: list[tuple[tuple[Any, ...], str]] = [
            (("allowed_base_models", i), model) for i, model in enumerate(self.allowed_base_models)
        ]
        for index, team in enumerate(self.teams):
            models = team.allowed_base_models or []
            named += [(("teams", index, "allowed_base_models", i), model) for i, model in enumerate(models)]
        for loc, model in named:
            refusal = catalog().refusal(model, self.region, on)
            if refusal is not None:
                raise _Invalid(loc, refusal, anchor=loc[:-1])
        for model, kind in self.serving_kinds.items():
            loc = ("serving_kinds", model)
            if model not in self.allowed_base_models:
                raise _Invalid(loc, f"{model} is not in allowed_base_models", anchor=("serving_kinds",))
            supported = serving_kinds(model)
            if kind not in supported:
                allowed = ", ".join(supported)
                raise _Invalid(
                    loc,
                    f"{kind!r} is not a serving kind of {model} (one of {', '.join(SERVING_KINDS)}; "
                    f"this model supports: {allowed})",
                    anchor=("serving_kinds",),
                )

    def _check_judges_offered(self) -> None:
        """Every judge model named is an evaluator model the catalog offers in this region."""
        offered = [judge.model_id for judge in catalog().judges_in(self.region)]
        for index, model in enumerate(self.judge_models):
            if model not in offered:
                raise _Invalid(
                    ("judge_models", index),
                    f"{model} is not an evaluator model offered in {self.region} by the model catalog "
                    f"(offered: {', '.join(offered) or 'none'})",
                    anchor=("judge_models",),
                )

    def _check_customization_types(self, on: date) -> None:
        """Each type allowed is supported by at least one allowed model in the region (the model catalog), and
        a team's types are the environment's."""
        api = {
            "fine-tuning": "FINE_TUNING",
            "reinforcement": "REINFORCEMENT_FINE_TUNING",
            "distillation": "DISTILLATION",
        }
        for index, kind in enumerate(self.customization_types):
            live = {m.model_id for m in catalog().live(self.region, on, api[kind])}
            if not live & set(self.allowed_base_models):
                raise _Invalid(
                    ("customization_types", index),
                    f"{kind}: none of allowed_base_models supports {api[kind]} in {self.region} (models that do: "
                    f"{', '.join(sorted(live)) or 'none here'})",
                    anchor=("customization_types",),
                )
        for index, team in enumerate(self.teams):
            outside = sorted(set(team.customization_types or []) - set(self.customization_types))
            if outside:
                raise _Invalid(
                    ("teams", index, "customization_types"),
                    f"{outside} not in the environment's customization_types {self.customization_types} "
                    f"(team {team.name})",
                )

    def _check_endpoint_served_on_demand(self, index: int, team: Team) -> None:
        """An endpoint is an on-demand custom model deployment: at least one of the team's models must be served
        on demand (bft.families.serving_kinds), or no run could ever promote into it."""
        models = team.allowed_base_models or self.allowed_base_models
        if any("on-demand-deployment" in serving_kinds(model) for model in models):
            return
        raise _Invalid(
            ("teams", index, "serving_endpoint"),
            f"{team.serving_endpoint!r} would be an on-demand custom model deployment, but none of team {team.name}'s "
            f"models is served on demand ({', '.join(models)}): allow one that is, or drop serving_endpoint",
        )

    def _check_execution_timeout(self) -> None:
        timing = self.workflow
        minimum = timing.minimum_execution_seconds()
        if timing.execution_timeout_seconds < minimum:
            parts = " + ".join(f"{name} ({value})" for name, value in timing.minimum_execution_parts().items())
            raise _Invalid(
                ("workflow", "execution_timeout_seconds"),
                f"{timing.execution_timeout_seconds} must be greater than {parts} = {minimum - 1}; "
                f"set at least {minimum} (an execution timeout skips every Catch: nothing would clean up)",
                anchor=("workflow",),
            )

    def _check_production_approval(self) -> None:
        """Production: every run is approved by someone who is not its team's submitter."""
        if not self.approval_required:
            raise _Invalid(("approval_required",), "must be true in production", anchor=("production",))
        for index, team in enumerate(self.teams):
            where: tuple[Any, ...] = ("teams", index, "reviewers")
            reviewers = self.team_reviewers(team)
            if not reviewers:
                raise _Invalid(
                    where,
                    f"team {team.name} has no reviewers: set reviewers (environment) or teams[{index}].reviewers; "
                    "production requires an approval",
                    anchor=("teams", index),
                )
            if team.reviewers is None:
                where = ("reviewers",)
            submitters = {_canonical_principal(arn) for arn in team.submitters}
            submitter_accounts = {_account(arn) for arn in team.submitters}
            for reviewer in reviewers:
                if _canonical_principal(reviewer) in submitters:
                    problem = "is one of the team's submitters"
                elif reviewer.endswith(":root") and _account(reviewer) in submitter_accounts:
                    problem = "is the account root of a submitter (it would let the submitters approve)"
                elif _is_submitter_role(reviewer, self):
                    problem = "is a submitter role of this pipeline"
                else:
                    continue
                raise _Invalid(
                    where,
                    f"{reviewer} {problem}; a team may not approve its own runs in production (team {team.name})",
                    anchor=("teams", index),
                )

    def team_reviewers(self, team: Team) -> list[str]:
        return list(self.reviewers if team.reviewers is None else team.reviewers)

    @property
    def approval_mandatory(self) -> bool:
        """In production no request may skip the approval."""
        return self.production

    def team(self, name: str) -> Team:
        for team in self.teams:
            if team.name == name:
                return team
        known = ", ".join(t.name for t in self.teams) or "none configured"
        raise ConfigError(f"team {name!r} is not onboarded in environment {self.name!r} (known: {known})")

    def policy_document(self, datasets_bucket: str) -> dict[str, Any]:
        """The guardrails the workflow's first step applies, in the shape `bft.workflow.request` reads: the
        shared document with every team's entry merged in, as ValidateRequest sees each team's."""
        document = self.shared_policy_document(datasets_bucket)
        for team in self.teams:
            document = merge_team(document, team.name, self.team_guardrails(team))
        return document

    def shared_policy_document(self, datasets_bucket: str) -> dict[str, Any]:
        """The environment's guardrails without any team: the pipeline stack's parameter. Each team's entry
        lives in its own stack's registry parameter (`team_guardrails`), so onboarding changes no shared
        resource."""
        pt, timing = self.provisioned_throughput, self.workflow
        return {
            "environment": self.name,
            "production": self.production,
            "region": self.region,
            # None when synthesis is env-agnostic: ValidateRequest takes the account it runs in.
            "account": self.account,
            "datasetsBucket": datasets_bucket,
            "allowedBaseModels": list(self.allowed_base_models),
            "judgeModels": list(self.judge_models),
            "customizationTypes": list(self.customization_types),
            "servingKinds": dict(self.serving_kinds),
            "approvalRequiredByDefault": self.approval_required or self.approval_mandatory,
            "approvalMandatory": self.approval_mandatory,
            "reviewers": {},
            "throughput": {
                "defaultModelUnits": pt.default_model_units,
                "maxModelUnits": pt.max_model_units,
                "allowCommitment": pt.allow_commitment,
                "defaultTtlHours": pt.default_ttl_hours,
            },
            "timeouts": {
                "jobSeconds": timing.job_timeout_seconds,
                "approvalSeconds": timing.approval_timeout_seconds,
                "executionSeconds": timing.execution_timeout_seconds,
            },
            "servingPoll": {
                "firstPollSeconds": timing.throughput_first_poll_seconds,
                "pollSeconds": timing.throughput_poll_seconds,
                "maxPolls": timing.throughput_max_polls,
            },
            "judgePoll": {"pollSeconds": timing.judge_poll_seconds, "maxPolls": timing.judge_max_polls},
            "teams": {},
        }

    def team_guardrails(self, team: Team) -> dict[str, Any]:
        """One team's limits and reviewers: its registry parameter (`bft.registry.GUARDRAILS`)."""
        return {
            "allowedBaseModels": list(team.allowed_base_models or []),
            "maxModelUnits": team.max_model_units,
            "allowCommitment": team.allow_commitment,
            "ttlHours": team.throughput_ttl_hours,
            "reviewers": self.team_reviewers(team),
            "servingEndpoint": team.serving_endpoint,
            "modelRetentionDays": team.custom_model_retention_days,
            "maxConcurrentRuns": team.max_concurrent_runs or self.max_concurrent_runs_per_team,
            "concurrencyConfigKey": (
                f"{self.name}.yaml teams[{self.teams.index(team)}].max_concurrent_runs"
                if team.max_concurrent_runs
                else f"{self.name}.yaml max_concurrent_runs_per_team"
            ),
            # The hard spending cap (bft.workflow.spend) and where it is set, which a refusal names.
            "monthlyCapUsd": team.monthly_cap_usd,
            "capConfigKey": f"{self.name}.yaml teams[{self.teams.index(team)}].monthly_cap_usd",
            "customizationTypes": list(team.customization_types or []),
        }

    def price_document(self) -> dict[str, Any]:
        return {key: dict(getattr(self.prices, table)) for table, key in PRICE_TABLES.items()}


def _today(info: ValidationInfo) -> date:
    """The day lifecycles are judged by: ``load_config(..., today=)``'s, else today (UTC)."""
    chosen = (info.context or {}).get("today")
    return chosen if isinstance(chosen, date) else today()


def _canonical_principal(arn: str) -> str:
    """An STS session ARN as the role it belongs to: both name the same principal for this rule."""
    match = re.match(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/.*$", arn)
    return f"arn:{match[1]}:iam::{match[2]}:role/{match[3]}" if match else arn


def _account(arn: str) -> str:
    return arn.split(":")[4]


def _is_submitter_role(arn: str, config: EnvironmentConfig) -> bool:
    """A role CloudFormation named for this pipeline's submitter roles (``<prefix>Team<Name>-...SubmitterRole...``,
    generated in each team's stack)."""
    name = arn.split(":role/", 1)[1].rsplit("/", 1)[-1] if ":role/" in arn else ""
    return name.startswith(f"{resource_prefix(config)}Team") and "Submitter" in name


def resource_prefix(config: EnvironmentConfig) -> str:
    """Stack-name prefix; the only physical names the app sets are stack names."""
    return "Bft" + re.sub(r"(^|-)([a-z])", lambda m: m.group(2).upper(), config.name)
