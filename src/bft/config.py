"""Per-environment configuration: one YAML file per environment, validated once.

``app.py`` and the CLI call :func:`load_config`; everything downstream gets the
typed :class:`EnvironmentConfig` (or plain values taken from it). A bad file
fails with :class:`ConfigError`, whose message names the file, the line, the
key path and what is allowed.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from bft.catalog import catalog, today
from bft.families import SERVING_KINDS, serving_kinds
from bft.names import ENDPOINT_NAME, ENDPOINT_NAME_LIMIT, TEAM_NAME
from bft.registry import merge_team

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
# The variable every entry point reads when no directory is named (see resolve_config_dir).
CONFIG_DIR_VARIABLE = "BFT_CONFIG_DIR"
DEFAULT_REGION = "us-west-2"  # where Meta Llama fine-tuning runs (Amazon Nova: us-east-1)

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
SubnetId = Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8,17}$")]
SecurityGroupId = Annotated[str, StringConstraints(pattern=r"^sg-[0-9a-f]{8,17}$")]
PrincipalArn = Annotated[
    str,
    StringConstraints(pattern=r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(root|role/.+|user/.+|assumed-role/.+)$"),
]
# Reviewers are named in a Lambda resource policy: IAM users, roles or an account root (not STS sessions).
ReviewerArn = Annotated[
    str,
    StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:(root|role/.+|user/.+)$"),
]
TeamName = Annotated[str, StringConstraints(pattern=TEAM_NAME.pattern)]
EndpointName = Annotated[str, StringConstraints(pattern=ENDPOINT_NAME.pattern, max_length=ENDPOINT_NAME_LIMIT)]
ModelId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+\.[a-zA-Z0-9.:_-]+$")]


# What each pattern allows, in words: a raw regular expression is no help to the person editing the file.
PATTERN_WORDS: dict[str, str] = {
    TEAM_NAME.pattern: (
        "a team name is lowercase letters, digits and hyphens, 3-32 characters, starting with a letter and "
        "not ending with a hyphen (it becomes an S3 prefix and part of IAM names)"
    ),
    r"^[a-z][a-z0-9-]{0,15}$": "lowercase letters, digits and hyphens, 1-16 characters, starting with a letter",
    r"^\d{12}$": "an AWS account id is exactly 12 digits, quoted",
    r"^[a-z]{2}(-gov)?-[a-z]+-\d$": "an AWS region such as us-east-1 or us-west-2",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": "an e-mail address such as team@example.com",
    r"^[a-z0-9-]+\.[a-zA-Z0-9.:_-]+$": "a Bedrock model id such as anthropic.claude-3-haiku-20240307-v1:0:200k",
    ENDPOINT_NAME.pattern: (
        "an endpoint name is lowercase letters and digits, words joined by single hyphens (e.g. moderation-live), "
        f"at most {ENDPOINT_NAME_LIMIT} characters"
    ),
}


class ConfigError(Exception):
    """The configuration is missing or invalid; the message says where and why."""


class _Invalid(ValueError):
    """A cross-field rule broken at ``loc`` (a key path such as ``("teams", 0, "reviewers")``).

    Model validators have no location of their own; this one carries it so the error names the line.
    ``anchor`` is where to point when ``loc`` is absent from the file (a missing key).
    """

    def __init__(self, loc: tuple[Any, ...], message: str, *, anchor: tuple[Any, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc
        self.anchor = anchor


# Task timeouts (seconds) of the workflow's Lambda steps. The one place both the state machine
# (stacks/constructs/workflow.py) and the execution-timeout rule below take them from.
STEP_TIMEOUT_SECONDS: dict[str, int] = {
    "ValidateRequest": 60,
    "ValidateDataset": 960,
    "StartJob": 90,
    "CollectMetrics": 150,
    "CreateServing": 90,
    "CheckServing": 60,
    "Evaluate": 300,  # plans the chunks: one read of the evaluation set
    "EvaluateChunk": 960,  # one chunk, planned at a third of this (bft.workflow.evaluation)
    "ScoreEvaluation": 300,
    "PromoteToEndpoint": 90,
    "CheckPromotion": 60,
    "FinalizeSuccess": 90,
    "Cleanup": 150,
    "FinalizeFailure": 90,
}
RETRY_BACKOFF_RATE = 2.0
# An evaluation chunk throttled past the serving capacity waits for capacity to free up: another chunk (its
# planned 300 s) or other traffic. 8 attempts from 30 s, doubling up to 240 s: ~23 minutes in all, about half
# that on average with full jitter. Each retry goes on from the answers the chunk saved.
EVALUATION_THROTTLE_RETRIES = 8
EVALUATION_THROTTLE_RETRY_SECONDS = 30
EVALUATION_THROTTLE_MAX_DELAY_SECONDS = 240


def retry_max_delay_seconds(interval_seconds: int) -> int:
    """The cap on one retry's delay (Step Functions ``MaxDelaySeconds``)."""
    return max(60, interval_seconds * 8)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class WorkflowTiming(_Strict):
    """Timeouts and poll intervals. The local environment uses seconds where AWS uses hours."""

    job_timeout_seconds: int = Field(default=72 * 3600, ge=1)
    approval_timeout_seconds: int = Field(default=7 * 24 * 3600, ge=1)
    throughput_first_poll_seconds: int = Field(default=20 * 60, ge=1)
    throughput_poll_seconds: int = Field(default=5 * 60, ge=1)
    throughput_max_polls: int = Field(default=12, ge=1, le=100)
    # How often the reconciler checks jobs whose state-change event may have been lost.
    reconcile_interval_minutes: int = Field(default=30, ge=1, le=1440)
    retry_interval_seconds: int = Field(default=5, ge=1)
    retry_max_attempts: int = Field(default=5, ge=0, le=20)
    # Must exceed every wait and step of one run (see minimum_execution_seconds): an execution
    # timeout skips every Catch, so nothing would clean up after it.
    # 14 days: a 72 h job, a 7-day approval, serving, and the largest evaluation (the config check adds it up).
    execution_timeout_seconds: int = Field(default=14 * 24 * 3600, ge=60)

    def largest_retry_delay_seconds(self) -> int:
        if not self.retry_max_attempts:
            return 0
        backoff = self.retry_interval_seconds * RETRY_BACKOFF_RATE ** (self.retry_max_attempts - 1)
        return int(min(backoff, retry_max_delay_seconds(self.retry_interval_seconds)))

    def minimum_execution_parts(self) -> dict[str, int]:
        """What one run can spend at most, by part. Any request may ask for approval, so its wait counts.

        CheckServing runs once after the first wait and once after each further poll; EvaluateChunk once per
        round of the evaluation's Map; CheckPromotion (a run that promotes into its team's endpoint) after each of
        at most throughput_max_polls waits.
        """
        from bft.workflow.evaluation import worst_case_rounds

        steps = dict(STEP_TIMEOUT_SECONDS)
        steps["CheckServing"] *= self.throughput_max_polls + 1
        steps["CheckPromotion"] *= self.throughput_max_polls
        # The evaluation's Map: the most chunks at the least concurrency, each up to its task timeout.
        steps["EvaluateChunk"] *= worst_case_rounds()
        # A throttled chunk's own retries, counted once as every step's retries are.
        steps["EvaluateChunk"] += EVALUATION_THROTTLE_RETRIES * EVALUATION_THROTTLE_MAX_DELAY_SECONDS
        return {
            "job_timeout_seconds": self.job_timeout_seconds,
            "approval_timeout_seconds": self.approval_timeout_seconds,
            "serving wait (throughput_first_poll_seconds + throughput_max_polls * throughput_poll_seconds)": (
                self.throughput_first_poll_seconds + self.throughput_max_polls * self.throughput_poll_seconds
            ),
            "promotion wait (throughput_max_polls * throughput_poll_seconds)": (
                self.throughput_max_polls * self.throughput_poll_seconds
            ),
            "step task timeouts": sum(steps.values()),
            "retries (retry_max_attempts * largest retry delay)": (
                self.retry_max_attempts * self.largest_retry_delay_seconds()
            ),
        }

    def minimum_execution_seconds(self) -> int:
        """The smallest execution timeout this configuration accepts (it must exceed the sum of the parts)."""
        return sum(self.minimum_execution_parts().values()) + 1


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
    allow_commitment: bool = False
    throughput_ttl_hours: float | None = Field(default=None, gt=0)
    notification_emails: list[Email] = Field(default_factory=list)
    monthly_budget_usd: float | None = Field(default=None, gt=0)
    # Who may approve this team's runs; None: the environment's reviewers.
    reviewers: list[ReviewerArn] | None = None
    # The team's stable serving endpoint: an on-demand custom model deployment that every approved run serving
    # on demand points at its new custom model (UpdateCustomModelDeployment), so applications call one ARN.
    # A request may name another (serving.endpoint) or none (null). bft.workflow.promotion.
    serving_endpoint: EndpointName | None = None
    # The team's custom models that nothing serves (and no endpoint keeps as its rollback target) are deleted
    # by the reaper after this many days; None: the environment's reaper.custom_model_retention_days.
    custom_model_retention_days: int | None = Field(default=None, ge=1, le=3650)

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
            "datasetsBucket": datasets_bucket,
            "allowedBaseModels": list(self.allowed_base_models),
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
        }

    def price_document(self) -> dict[str, Any]:
        return {key: dict(getattr(self.prices, table)) for table, key in PRICE_TABLES.items()}


def resolve_config_dir(explicit: str | Path | None = None) -> Path:
    """Where the environments' YAML files live: the one rule of every entry point (``cdk`` through app.py,
    ``make`` and each ``bft`` command). ``explicit`` (``--config-dir``, ``-c config_dir=``), else the
    ``BFT_CONFIG_DIR`` variable, else this checkout's ``config/``. Absolute, so a process started elsewhere
    reads the same directory."""
    chosen = explicit or os.environ.get(CONFIG_DIR_VARIABLE) or DEFAULT_CONFIG_DIR
    return Path(chosen).expanduser().absolute()


def config_path(env: str, config_dir: str | Path | None = None) -> Path:
    """The file ``load_config(env, config_dir)`` reads."""
    return resolve_config_dir(config_dir) / f"{env}.yaml"


def describe_source(path: Path, config: EnvironmentConfig) -> str:
    """The line each entry point prints on stderr, so nobody wonders which definition answered."""
    return f"config: {path} (environment {config.name}, region {config.region})"


def known_environments(config_dir: str | Path | None = None) -> list[str]:
    return sorted(p.stem for p in resolve_config_dir(config_dir).glob("*.yaml"))


def load_config(env: str, config_dir: str | Path | None = None, *, today: date | None = None) -> EnvironmentConfig:
    """Load and validate ``<config dir>/<env>.yaml`` (the directory by :func:`resolve_config_dir`); model
    lifecycles are judged on ``today`` (default: today)."""
    config_dir = resolve_config_dir(config_dir)
    path = config_dir / f"{env}.yaml"
    if not path.is_file():
        known = ", ".join(known_environments(config_dir)) or "none"
        raise ConfigError(f"unknown environment {env!r}: no {path} (known environments: {known})")
    raw, lines = _parse(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    if raw.get("name", env) != env:
        raise ConfigError(f"{path}:{lines.get(('name',), '?')}: name: {raw['name']!r} must match the file name {env!r}")
    raw.setdefault("name", env)
    if "extends" in raw:
        raw = _extended(raw, path, config_dir, lines)
    try:
        return EnvironmentConfig.model_validate(raw, context={"today": today} if today else None)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc, lines)) from None


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, except that a mapping may not name a key twice. YAML itself keeps the last value
    without a word: one missing ``-`` turns two teams into one, a budget written twice takes the later figure.
    :meth:`document` checks every mapping's keys (and records the line of each key path) before it constructs."""

    def document(self, path: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
        node = self.get_single_node()
        lines: dict[tuple[Any, ...], int] = {}
        if node is not None:
            self._check_keys(path, node, (), lines, set())
        return self.construct_document(node) if node is not None else None, lines

    def _check_keys(
        self, path: Path, node: yaml.Node, at: tuple[Any, ...], lines: dict[tuple[Any, ...], int], seen: set[int]
    ) -> None:
        if id(node) in seen:  # an alias of a node already walked
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._check_keys(path, value_node, at, lines, seen)
                    continue
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
                line = key_node.start_mark.line + 1
                child = (*at, key)
                if key in first:
                    raise ConfigError(
                        f"{path}:{line}: {_dotted(child)}: duplicate key, first at line {first[key]}: YAML would keep "
                        "only this later value and drop the first without a word (a missing '- ' before a list "
                        "item does this too)"
                    )
                first[key] = line
                lines[child] = line
                self._check_keys(path, value_node, child, lines, seen)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*at, index)] = item.start_mark.line + 1
                self._check_keys(path, item, (*at, index), lines, seen)


def _parse(path: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """A YAML file's data and the line of each key path; a syntax error or a duplicate key is a ConfigError
    that says ``file:line[:column]: what is wrong``, in words rather than the parser's."""
    text = path.read_text(encoding="utf-8")
    try:
        loader = _StrictLoader(text)  # the reader refuses control characters here
        try:
            return loader.document(path)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_yaml_problem(path, exc)) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise ConfigError(
            f"{path}:{line}:{column}: not valid YAML: the control character {chr(exc.character)!r} "
            "is not allowed in a YAML file"
        ) from None
    except yaml.YAMLError as exc:  # no position known
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


# The parser's own words for its tokens.
_TOKEN_WORDS = {
    "<stream end>": "the end of the file",
    "<block end>": "the end of the block",
    "<block mapping start>": "a new key",
    "<block sequence start>": "a new list",
    "<scalar>": "a value",
    "'?'": "a key",
    "'-'": "a list item",
    "'<document start>'": "'---' (a line starting with '%' is a YAML directive)",
}


def _yaml_problem(path: Path, exc: yaml.MarkedYAMLError) -> str:
    """``file:line:column: not valid YAML: <what is wrong>``, without the parser's internals."""
    problem = exc.problem or exc.context or "cannot be read"
    mark = exc.problem_mark or exc.context_mark
    opened = f"line {exc.context_mark.line + 1}" if exc.context_mark else "above"
    context = exc.context or ""
    if problem.startswith("expected <block end>"):
        words = (
            "this line's indentation does not fit the block it is in: line the key up with the keys it "
            f"belongs to (the block starts at {opened}), or start a list item with '- '"
        )
    elif problem.startswith("expected ',' or ']'"):
        words = f"a '[' list opened at {opened} is not closed with ']' (or its items lack a ',' between them)"
    elif problem.startswith("expected ',' or '}'"):
        words = f"a '{{' mapping opened at {opened} is not closed with '}}' (or its entries lack a ',' between them)"
    elif "'\\t'" in problem:  # the parser writes the tab as backslash-t
        words = "a tab character: indent with spaces only"
    elif problem.startswith("found character"):
        char = problem.split("'")[1] if problem.count("'") >= 2 else "this character"
        words = f"a value cannot start with {char!r}: put the value in quotes"
    elif problem == "mapping values are not allowed here":
        words = (
            "a ':' where no key may start: put a value that contains ': ' in quotes, or the nested key on a "
            "line of its own, indented"
        )
    elif "quoted scalar" in context:
        words = f"a quote opened at {opened} is never closed"
    elif problem == "could not find expected ':'":
        mark = exc.context_mark or mark
        words = "a key without ':' (each line of a mapping is `key: value`), or a quote left open above"
    elif problem.startswith("found undefined alias"):
        words = f"{problem.removeprefix('found undefined alias ')} names no anchor ('&name') defined above it"
    elif "duplicate anchor" in context:
        words = f"an anchor is defined twice (first at {opened})"
    elif problem.startswith("could not determine a constructor for the tag"):
        words = f"unknown tag {problem.rsplit(' ', 1)[-1]}: put the value in quotes"
    elif "single document" in context or "single document" in problem:
        words = "more than one document ('---'): one environment per file"
    else:
        words = problem
        for token, word in _TOKEN_WORDS.items():
            words = words.replace(token, word)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
    return f"{where}: not valid YAML: {words}"


def _extended(raw: dict[str, Any], path: Path, config_dir: Path, lines: dict[tuple[Any, ...], int]) -> dict[str, Any]:
    """``extends: <env>``: the other environment's file with this file's keys on top (mappings merged key by
    key, lists and values replaced). One level only, so a reader sees the whole environment in two files."""
    parent_name = raw.pop("extends")
    where = f"{path}:{lines.get(('extends',), '?')}: extends"
    parent_path = config_dir / f"{parent_name}.yaml"
    if not isinstance(parent_name, str) or parent_name == raw["name"] or not parent_path.is_file():
        raise ConfigError(f"{where}: {parent_name!r} is not another environment in {config_dir}")
    parent, _ = _parse(parent_path)
    if not isinstance(parent, dict) or "extends" in parent:
        raise ConfigError(f"{where}: {parent_path} must be a mapping that extends nothing itself")

    def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in top.items():
            out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        return out

    return merge(parent, raw)


def _today(info: ValidationInfo) -> date:
    """The day lifecycles are judged by: ``load_config(..., today=)``'s, else today (UTC)."""
    chosen = (info.context or {}).get("today")
    return chosen if isinstance(chosen, date) else today()


def _describe(path: Path, exc: ValidationError, lines: dict[tuple[Any, ...], int]) -> str:
    problems = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if not str(part).startswith("function-"))
        anchor: tuple[Any, ...] = ()
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, _Invalid):
            loc, anchor = (*loc, *cause.loc), (*loc, *cause.anchor)
        key = _dotted(loc)
        message = error["msg"].removeprefix("Value error, ")
        pattern = (error.get("ctx") or {}).get("pattern")
        if error["type"] == "string_pattern_mismatch" and pattern in PATTERN_WORDS:
            message = f"{error['input']!r} is not allowed: {PATTERN_WORDS[pattern]}"
        elif error["type"] == "string_type" and isinstance(error["input"], int | float):
            what = "the account id" if loc == ("account",) else "the value"
            message = (
                f'quote {what}: {key}: "{error["input"]}" (unquoted, YAML reads it as a number, '
                "which drops leading zeros)"
            )
        elif error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against the configuration reference in README.md)"
        elif error["type"] == "missing":
            message = "required key is missing"
        line = lines.get(loc) or _nearest_line(anchor, lines) or _nearest_line(loc, lines)
        where = f"{path}:{line}" if line else str(path)
        problems.append(f"{where}: {key}: {message}" if key else f"{where}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(problems)


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _nearest_line(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


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
