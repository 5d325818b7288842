"""Step 1: validate the execution input against the environment's and the team's guardrails, check the
base model's lifecycle, and claim the request id. Nothing is created in Bedrock before this passes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bft import clock
from bft.aws_errors import bedrock_call
from bft.catalog import catalog, today
from bft.dataset.validator import EVALUATION_MAX_RECORDS
from bft.errors import BaseModelUnavailable, PipelineError, RequestInvalid
from bft.families import SERVING_KINDS, check_hyperparameters, family_for, serving_kinds
from bft.names import ENDPOINT_NAME, ENDPOINT_NAME_LIMIT, REQUEST_ID, endpoint_deployment_name, run_names
from bft.workflow import state
from bft.workflow.customization import (
    CUSTOMIZATIONS,
    REINFORCEMENT,
    check_customization,
    check_grader,
    check_rft_hyperparameters,
)
from bft.workflow.json_schema import SchemaError, check_schema
from bft.workflow.ownership import run_tags
from bft.workflow.rubric import LLM_JUDGE, check_judge
from bft.workflow.scoring import SCORERS
from bft.workflow.usage import BASE_PROMPT_MAX_CHARS

S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)$")
CUSTOM_MODEL_NAME = re.compile(r"^([0-9a-zA-Z][_-]?){1,63}$")
# A team's own (or another team's) trained model is never an input: the workflow serves only what its own
# job produced. Base models are foundation-model ids from the environment's allowed list.
MODEL_ARN = re.compile(r"^arn:[^:]+:(bedrock|sagemaker):[^:]*:[^:]*:(?!foundation-model/)[^/]+/")
COMMITMENTS = {"none": None, "OneMonth": "OneMonth", "SixMonths": "SixMonths"}
KNOWN_FIELDS = {
    "team",
    "baseModelId",
    "trainingDataUri",
    "validationDataUri",
    "hyperParameters",
    "customModelName",
    "serving",
    "evaluation",
    "approvalRequired",
    "requestId",
    "jobTimeoutSeconds",
    "customization",
    "grader",
}
SERVING_FIELDS = {"kind", "modelUnits", "commitment", "ttlHours", "keep", "endpoint"}
ON_DEMAND = "on-demand-deployment"
EVALUATION_FIELDS = {
    "dataUri",
    "threshold",
    "compareBase",
    "scorer",
    "metric",
    "maxRecords",
    "jsonSchema",
    "baseSystemPrompt",
    "judgeModel",
    "rubric",
}
# The threshold of a request that sets none: no minimum, the run is scored and reported but never failed by it.
DEFAULT_THRESHOLD = 0.0


@dataclass(frozen=True)
class Context:
    """Where and when this execution runs (from the state machine's context object)."""

    execution_arn: str
    execution_name: str
    now: datetime
    assigned_team: str | None = None


def check_request(
    event: Any, policy: dict[str, Any], *, assigned_team: str | None, default_request_id: str, on: date | None = None
) -> dict[str, Any]:
    """The checks that need no AWS call (the CLI runs them before uploading anything): RequestInvalid or
    BaseModelUnavailable naming the field and the limit, else the normalized request. Lifecycles are judged
    on ``on`` (default today) by the model catalog."""
    if not isinstance(event, dict):
        raise RequestInvalid("the execution input must be a JSON object")
    _no_unknown(event, KNOWN_FIELDS, "")
    team_name = event.get("team", assigned_team)
    if not isinstance(team_name, str) or not team_name:
        raise RequestInvalid("team: required, a non-empty string")
    if assigned_team and team_name != assigned_team:
        raise RequestInvalid(
            f"team: {team_name!r} does not match this state machine's team {assigned_team!r}; "
            "submit through your team's state machine"
        )
    teams = policy["teams"]
    if team_name not in teams:
        known = ", ".join(sorted(teams)) or "none"
        raise RequestInvalid(f"team: {team_name!r} is not onboarded in {policy['environment']} (known: {known})")
    team = teams[team_name]
    request_id = event.get("requestId") or default_request_id
    if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
        raise RequestInvalid(f"requestId: {request_id!r} must be 1-40 letters, digits or '-', starting alphanumeric")

    base_model_id = _string(event, "baseModelId")
    if MODEL_ARN.match(base_model_id):
        raise RequestInvalid(
            f"baseModelId: {base_model_id!r} is a model ARN; a request names a foundation model id, never a "
            "custom, imported or provisioned model (the workflow serves only the model its own job trains)"
        )
    # A model the catalog knows but that is not live here today (another region, Legacy, past its end of
    # life) is refused as unavailable, naming its replacements, even when a stale allow-list still names it.
    if catalog().model(base_model_id) is not None:
        refusal = catalog().refusal(base_model_id, policy["region"], on or today())
        if refusal is not None:
            raise BaseModelUnavailable(f"baseModelId: {refusal}; nothing was started")
    allowed = team.get("allowedBaseModels") or policy["allowedBaseModels"]
    if base_model_id not in allowed:
        raise RequestInvalid(
            f"baseModelId: {base_model_id!r} is not allowed for team {team_name} (allowed: {', '.join(allowed)})"
        )
    family = family_for(base_model_id)
    customization = check_customization(event, policy, team_name, base_model_id, on or today())
    grader = check_grader(event.get("grader"), customization, policy, team_name)
    hyper = event.get("hyperParameters") or {}
    if not isinstance(hyper, dict):
        raise RequestInvalid("hyperParameters must be an object of name to value")
    hyperparameters: dict[str, Any]
    if customization == REINFORCEMENT:
        hyperparameters = check_rft_hyperparameters(family.name, hyper)
    else:
        hyperparameters = check_hyperparameters(family, hyper)

    datasets_bucket = policy["datasetsBucket"]
    training = _data_uri(event, "trainingDataUri", datasets_bucket, team_name, required=True)
    validation = _data_uri(event, "validationDataUri", datasets_bucket, team_name, required=False)
    serving = _serving(event.get("serving") or {}, policy, team, team_name, base_model_id)
    evaluation = _evaluation(event.get("evaluation"), datasets_bucket, team_name, policy)
    if evaluation is not None and customization == REINFORCEMENT:
        # The evaluation set is answered records of the SFT format; a reinforcement run's is not designed yet.
        raise RequestInvalid("evaluation: not yet available for reinforcement runs (issue #20); drop evaluation")
    mandatory = policy.get("approvalMandatory", False) is True
    approval = event.get("approvalRequired", True if mandatory else policy["approvalRequiredByDefault"])
    if not isinstance(approval, bool):
        raise RequestInvalid("approvalRequired must be true or false")
    if mandatory and not approval:
        raise RequestInvalid(
            f"approvalRequired: false is not allowed in {policy['environment']}: every run there waits for a "
            "reviewer before serving (drop the field or set it to true)"
        )
    if approval and not (policy.get("reviewers") or {}).get(team_name):
        # Otherwise the run trains, then waits out the approval timeout: nobody can decide it.
        raise RequestInvalid(
            f"approvalRequired: team {team_name} has no reviewers in {policy['environment']}, so nobody could "
            "approve this run: ask the platform team to set `reviewers` in the environment's config, or set "
            "approvalRequired to false"
        )
    job_seconds = event.get("jobTimeoutSeconds", policy["timeouts"]["jobSeconds"])
    if (
        not isinstance(job_seconds, int)
        or isinstance(job_seconds, bool)
        or not 1 <= job_seconds <= policy["timeouts"]["jobSeconds"]
    ):
        raise RequestInvalid(f"jobTimeoutSeconds must be an integer from 1 to {policy['timeouts']['jobSeconds']}")

    custom_model_name = event.get("customModelName")
    if custom_model_name is not None and (
        not isinstance(custom_model_name, str) or not CUSTOM_MODEL_NAME.match(custom_model_name)
    ):
        raise RequestInvalid(
            "customModelName must be 1-63 letters or digits, optionally separated by single '-' or '_'"
        )
    return {
        "requestId": request_id,
        "team": team_name,
        "environment": policy["environment"],
        "baseModelId": base_model_id,
        "family": family.name,
        "customization": customization,
        "customizationType": CUSTOMIZATIONS[customization],
        "grader": grader,
        "hyperParameters": hyperparameters,
        "trainingDataUri": training,
        "validationDataUri": validation,
        "customModelName": custom_model_name,
        "serving": serving,
        "evaluation": evaluation,
        "approvalRequired": approval,
        "timeouts": {"jobSeconds": job_seconds, "approvalSeconds": policy["timeouts"]["approvalSeconds"]},
    }


def check_concurrency(team: str, team_policy: dict[str, Any], execution_arn: str, *, sfn: Any) -> None:
    """Refuse a run past its team's concurrent runs (audit L9), counting the team's executions RUNNING now, this
    one included (the state machine is the team's own: its executions are the team's runs)."""
    limit = team_policy.get("maxConcurrentRuns")
    if not isinstance(limit, int) or sfn is None:
        return
    machine = execution_arn.replace(":execution:", ":stateMachine:", 1).rsplit(":", 1)[0]
    running = sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING", maxResults=min(limit + 1, 1000))
    others = [e for e in running["executions"] if e["executionArn"] != execution_arn]
    if len(others) >= limit:
        raise RequestInvalid(
            f"team {team} already has {len(others)} run{'s' if len(others) != 1 else ''} in flight, its limit "
            f"of {limit} (config {team_policy.get('concurrencyConfigKey') or 'max_concurrent_runs_per_team'}): "
            "wait for one to finish, then submit again with the same requestId; nothing was started"
        )


def validate_request(
    event: dict[str, Any], policy: dict[str, Any], context: Context, *, bedrock: Any, table: Any, sfn: Any = None
) -> dict[str, Any]:
    """Return the normalized run description, or raise RequestInvalid / BaseModelUnavailable / DuplicateRequest."""
    # A team's grader function must be of this account: the one the state machine runs in.
    policy = {**policy, "account": policy.get("account") or _account_of(context.execution_arn)}
    checked = check_request(
        event,
        policy,
        assigned_team=context.assigned_team,
        default_request_id=context.execution_name,
        on=context.now.date(),
    )
    team_policy = policy["teams"][checked["team"]]
    allowed = team_policy.get("allowedBaseModels") or policy["allowedBaseModels"]
    lifecycle, warnings = check_base_model(
        bedrock,
        checked["baseModelId"],
        context.now,
        alternatives=[m for m in allowed if m != checked["baseModelId"]],
        customization_type=checked["customizationType"],
    )
    request_id, team_name = checked["requestId"], checked["team"]
    check_concurrency(team_name, team_policy, context.execution_arn, sfn=sfn)
    # Claimed last: a request that fails validation must not block a corrected resubmission.
    attempt = state.claim_request(
        table, team_name, request_id, context.execution_arn, ttl_seconds=policy["timeouts"]["executionSeconds"]
    )
    names = run_names(policy["environment"], team_name, request_id, attempt, checked["customModelName"])
    tags = run_tags(policy["environment"], team_name, request_id)
    serving = dict(checked["serving"])
    skipped = serving.pop("endpointSkipped", None)
    return {
        **checked,
        "attempt": attempt,
        **names,
        "serving": serving | {"name": names["servingName"]},
        "tags": tags,
        "lifecycle": lifecycle,
        "warnings": warnings + ([skipped] if skipped else []),
        "executionArn": context.execution_arn,
        "startedAt": context.now.isoformat(),
    }


def check_base_model(
    bedrock: Any,
    base_model_id: str,
    now: datetime,
    *,
    alternatives: list[str] | tuple[str, ...] = (),
    customization_type: str = "FINE_TUNING",
) -> tuple[dict[str, Any], list[str]]:
    """GetFoundationModel, the account's live answer: customizable here, ACTIVE and not past end of life.

    Reinforcement fine-tuning is never among a model's ``customizationsSupported`` (botocore's
    ModelCustomization enum has no such value): the model catalog decided it in :func:`check_request`.

    A refusal for end of life names the models to move to: those of ``alternatives`` (the team's other
    allowed models) that Bedrock reports ACTIVE and fine-tunable here, or says that none is.
    """

    def unavailable(code: str, message: str) -> BaseModelUnavailable | None:
        # AccessDeniedException is not mapped: it surfaces as AccessDenied naming GetFoundationModel.
        if code in ("ResourceNotFoundException", "ValidationException"):
            return BaseModelUnavailable(f"baseModelId: {base_model_id}: {code}: {message}")
        return None

    with bedrock_call("GetFoundationModel", on_error=unavailable):
        details = bedrock.get_foundation_model(modelIdentifier=base_model_id)["modelDetails"]
    supported = details.get("customizationsSupported", [])
    if customization_type != "REINFORCEMENT_FINE_TUNING" and customization_type not in supported:
        kind = "fine-tuning" if customization_type == "FINE_TUNING" else customization_type
        raise BaseModelUnavailable(f"baseModelId: {base_model_id} does not support {kind} in this region")
    lifecycle = details.get("modelLifecycle") or {}
    status = lifecycle.get("status", "ACTIVE")
    end_of_life = lifecycle.get("endOfLifeTime")
    summary: dict[str, Any] = {"status": status, "endOfLifeTime": end_of_life.isoformat() if end_of_life else None}
    warnings: list[str] = []
    if end_of_life and end_of_life <= now:
        raise BaseModelUnavailable(
            f"baseModelId: {base_model_id} reached end of life on {end_of_life.date()} (status {status}), so "
            f"Bedrock no longer customizes or serves it; nothing was started. {_move(bedrock, alternatives, now)}"
        )
    if status == "LEGACY":
        # A Legacy base takes no new customization job and no new provisioned throughput (docs/bedrock-
        # behaviour.md#legacy-restrictions): refused here, before any spending, rather than by Bedrock later.
        eol = f"end of life {end_of_life.date()}" if end_of_life else "no end-of-life date published"
        raise BaseModelUnavailable(
            f"baseModelId: {base_model_id} is LEGACY in this region ({eol}): Bedrock takes no new customization "
            f"job or provisioned throughput for it; nothing was started. {_move(bedrock, alternatives, now)}"
        )
    return summary, warnings


def _move(bedrock: Any, alternatives: list[str] | tuple[str, ...], now: datetime) -> str:
    active = active_alternatives(bedrock, alternatives, now)
    if active:
        return f"Move to an ACTIVE model allowed for your team: {', '.join(active)}."
    return "No other model allowed for your team is ACTIVE here: ask the platform team to allow one (`bft models`)."


class _NotOffered(PipelineError):
    """GetFoundationModel does not know the model in this region."""


def active_alternatives(bedrock: Any, models: list[str] | tuple[str, ...], now: datetime) -> list[str]:
    """The models of ``models`` that GetFoundationModel reports fine-tunable, ACTIVE and not past end of life."""
    found = []

    def not_offered(code: str, message: str) -> PipelineError | None:
        return _NotOffered(message) if code in ("ResourceNotFoundException", "ValidationException") else None

    for model in models:
        try:
            with bedrock_call("GetFoundationModel", on_error=not_offered):
                details = bedrock.get_foundation_model(modelIdentifier=model)["modelDetails"]
        except _NotOffered:  # not offered here: simply not suggested (other errors propagate)
            continue
        life = details.get("modelLifecycle") or {}
        eol = life.get("endOfLifeTime")
        if (
            "FINE_TUNING" in details.get("customizationsSupported", [])
            and life.get("status", "ACTIVE") == "ACTIVE"
            and not (eol and eol <= now)
        ):
            found.append(model)
    return found


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4].isdigit() else None


def _no_unknown(obj: dict[str, Any], known: set[str], prefix: str) -> None:
    unknown = sorted(set(obj) - known)
    if unknown:
        raise RequestInvalid(f"{prefix}{unknown[0]}: unknown field (known: {', '.join(sorted(known))})")


def _string(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value:
        raise RequestInvalid(f"{key}: required, a non-empty string")
    return value


def _data_uri(event: dict[str, Any], key: str, bucket: str, team: str, *, required: bool) -> str | None:
    value = event.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise RequestInvalid(f"{key}: required, an s3:// URI")
    return check_team_uri(key, value, bucket, team)


def check_team_uri(key: str, value: str, bucket: str, team: str) -> str:
    match = S3_URI.match(value)
    if not match:
        raise RequestInvalid(f"{key}: {value!r} is not an s3://bucket/key URI")
    if match["bucket"] != bucket or not match["key"].startswith(f"{team}/") or ".." in match["key"].split("/"):
        raise RequestInvalid(f"{key}: {value} is outside team {team}'s prefix s3://{bucket}/{team}/")
    return value


def _serving(
    raw: Any, policy: dict[str, Any], team: dict[str, Any], team_name: str, base_model_id: str
) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise RequestInvalid("serving must be an object")
    _no_unknown(raw, SERVING_FIELDS, "serving.")
    limits = policy["throughput"]
    supported = serving_kinds(base_model_id)
    # The environment's choice for this model (config serving_kinds), else the model's cheapest kind.
    kind = raw.get("kind", (policy.get("servingKinds") or {}).get(base_model_id, supported[0]))
    if kind not in SERVING_KINDS:
        raise RequestInvalid(f"serving.kind: {kind!r} is not one of {', '.join(SERVING_KINDS)}")
    if kind not in supported:
        raise RequestInvalid(f"serving.kind: {kind} is not offered for {base_model_id}; use {' or '.join(supported)}")
    max_units = min(limits["maxModelUnits"], team.get("maxModelUnits") or limits["maxModelUnits"])
    units = raw.get("modelUnits", min(limits["defaultModelUnits"], max_units))
    if not isinstance(units, int) or isinstance(units, bool) or not 1 <= units <= max_units:
        raise RequestInvalid(
            f"serving.modelUnits: {units!r} breaks team {team_name}'s limit of 1 to {max_units} model units"
        )
    commitment_name = raw.get("commitment", "none")
    if commitment_name not in COMMITMENTS:
        raise RequestInvalid(f"serving.commitment: {commitment_name!r} is not one of {', '.join(COMMITMENTS)}")
    commitment = COMMITMENTS[commitment_name]
    if commitment and kind != "provisioned-throughput":
        # Only a provisioned throughput is bought for a term (docs/bedrock-behaviour.md#on-demand-deployments).
        raise RequestInvalid(
            f"serving.commitment: {commitment_name} applies to provisioned throughput only; an {kind} is billed "
            "per token with no term (drop the commitment, or set serving.kind to provisioned-throughput)"
        )
    if commitment and not (limits["allowCommitment"] and team.get("allowCommitment")):
        raise RequestInvalid(
            f"serving.commitment: {commitment_name} is not allowed for team {team_name} in {policy['environment']} "
            "(a commitment term cannot be cancelled; ask the platform team)"
        )
    ttl_default = team.get("ttlHours") or limits["defaultTtlHours"]
    ttl = raw.get("ttlHours", None if policy["production"] else ttl_default)
    if ttl is not None and (not isinstance(ttl, int | float) or isinstance(ttl, bool) or not 0 < ttl <= ttl_default):
        raise RequestInvalid(f"serving.ttlHours: {ttl!r} must be a number of hours above 0 and at most {ttl_default}")
    keep = raw.get("keep", False)
    if not isinstance(keep, bool):
        raise RequestInvalid("serving.keep must be true or false")
    endpoint, skipped = _endpoint(raw, team, team_name, policy["environment"], kind, base_model_id)
    poll = policy["servingPoll"]
    return {
        "kind": kind,
        "modelUnits": units,
        "commitment": commitment,
        "ttlHours": ttl,
        "keep": keep,
        # Always present (null without one): the state machine's choices read it.
        "endpoint": endpoint,
        "firstPollSeconds": poll["firstPollSeconds"],
        "pollSeconds": poll["pollSeconds"],
        "maxPolls": poll["maxPolls"],
    } | ({"endpointSkipped": skipped} if skipped else {})


def _endpoint(
    raw: dict[str, Any], team: dict[str, Any], team_name: str, environment: str, kind: str, base_model_id: str
) -> tuple[dict[str, str] | None, str | None]:
    """(the endpoint this run promotes into, or None; a warning when the team's endpoint does not apply).

    ``serving.endpoint`` names one, ``null`` opts out of the team's; absent, the team's ``serving_endpoint``
    applies (bft.workflow.promotion). An endpoint is an on-demand custom model deployment: a run served by
    provisioned throughput cannot promote into it, refused when the request named it, skipped with a
    warning when it is only the team's default.
    """
    named = "endpoint" in raw
    name = raw["endpoint"] if named else team.get("servingEndpoint")
    if name is None:
        return None, None
    if not isinstance(name, str) or len(name) > ENDPOINT_NAME_LIMIT or not ENDPOINT_NAME.match(name):
        raise RequestInvalid(
            f"serving.endpoint: {name!r} must be lowercase letters and digits, words joined by single hyphens, "
            f"at most {ENDPOINT_NAME_LIMIT} characters (or null for none)"
        )
    if kind != ON_DEMAND:
        why = (
            f"endpoint {name!r} is an on-demand custom model deployment, and this run serves {base_model_id} by {kind}"
        )
        if named:
            offered = " or ".join(serving_kinds(base_model_id))
            raise RequestInvalid(
                f"serving.endpoint: {why} ({base_model_id} is served by {offered}): set serving.kind to {ON_DEMAND} "
                "if offered, or drop serving.endpoint"
            )
        return None, f"team {team_name}'s endpoint {name!r} was not updated: {why}"
    return {"name": name, "deploymentName": endpoint_deployment_name(environment, team_name, name)}, None


def _evaluation(raw: Any, bucket: str, team: str, policy: dict[str, Any]) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise RequestInvalid("evaluation must be an object")
    _no_unknown(raw, EVALUATION_FIELDS, "evaluation.")
    uri = check_team_uri("evaluation.dataUri", raw.get("dataUri") or "", bucket, team) if raw.get("dataUri") else None
    if uri is None:
        raise RequestInvalid("evaluation.dataUri: required, an s3:// URI under the team's prefix")
    threshold = raw.get("threshold", DEFAULT_THRESHOLD)
    if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not 0 <= threshold <= 1:
        raise RequestInvalid(f"evaluation.threshold: {threshold!r} must be a number from 0 to 1")
    scorer, metric, schema = _scorer(raw)
    judge: dict[str, Any] = {}
    if scorer == LLM_JUDGE:
        judge_model, rubric, metric = check_judge(raw, policy)
        # How often the state machine polls the judge's jobs, and how many times before it stops them.
        poll = policy.get("judgePoll") or {"pollSeconds": 600, "maxPolls": 36}
        judge = {"judgeModel": judge_model, "rubric": rubric, "judgePoll": dict(poll)}
    elif "judgeModel" in raw or "rubric" in raw:
        field = "judgeModel" if "judgeModel" in raw else "rubric"
        raise RequestInvalid(
            f"evaluation.{field}: only scorer {LLM_JUDGE} has a judge and a rubric; set evaluation.scorer to "
            f"{LLM_JUDGE}, or drop the field"
        )
    compare = raw.get("compareBase", True)
    if not isinstance(compare, bool):
        raise RequestInvalid("evaluation.compareBase must be true or false")
    max_records = raw.get("maxRecords", 200)
    if (
        not isinstance(max_records, int)
        or isinstance(max_records, bool)
        or not 1 <= max_records <= EVALUATION_MAX_RECORDS
    ):
        raise RequestInvalid(f"evaluation.maxRecords must be an integer from 1 to {EVALUATION_MAX_RECORDS:,}")
    base_prompt = raw.get("baseSystemPrompt")
    if base_prompt is not None:
        if not isinstance(base_prompt, str) or not base_prompt.strip() or len(base_prompt) > BASE_PROMPT_MAX_CHARS:
            raise RequestInvalid(
                f"evaluation.baseSystemPrompt: must be a non-empty string of at most {BASE_PROMPT_MAX_CHARS:,} "
                "characters (the base model's production instructions and examples)"
            )
        if not compare:
            raise RequestInvalid("evaluation.baseSystemPrompt: the base model is not called when compareBase is false")
    return {
        "dataUri": uri,
        "threshold": float(threshold),
        # The report says "the default" for a threshold nobody set.
        "thresholdSource": "requested" if "threshold" in raw else "default",
        # None: chosen from the data by the Evaluate step (bft.workflow.evaluation.resolve_scorer).
        "scorer": scorer,
        "metric": metric,
        "jsonSchema": schema,
        "compareBase": compare,
        "maxRecords": max_records,
        "baseSystemPrompt": base_prompt,
    } | judge


def _scorer(raw: dict[str, Any]) -> tuple[str | None, str | None, dict[str, Any] | bool | None]:
    """(scorer, metric, JSON Schema) of a request's evaluation, each None when not given.

    A request that names no scorer gets one chosen from its data by the Evaluate step, which then refuses a
    metric that scorer does not produce; here a metric no scorer produces is refused. A JSON Schema is
    checked here (:func:`bft.workflow.json_schema.check_schema`) and means json_match, the only scorer that
    reads one, so the metric is checked against json_match's even when the scorer is left to be chosen."""
    scorer, metric, schema = raw.get("scorer"), raw.get("metric"), raw.get("jsonSchema")
    if scorer == LLM_JUDGE and schema is None:
        return scorer, metric, None  # the judge's rubric names the metrics (bft.workflow.rubric)
    if scorer is not None and scorer not in SCORERS and scorer != LLM_JUDGE:
        raise RequestInvalid(f"evaluation.scorer: {scorer!r} is not one of {', '.join([*SCORERS, LLM_JUDGE])}")
    if schema is not None:
        if scorer not in (None, "json_match"):
            raise RequestInvalid(
                f"evaluation.jsonSchema: only scorer json_match checks answers against a schema, and the request "
                f"names {scorer}; drop the schema or set evaluation.scorer to json_match"
            )
        try:
            check_schema(schema, "evaluation.jsonSchema")
        except SchemaError as exc:
            raise RequestInvalid(str(exc)) from exc
    known = scorer or ("json_match" if schema is not None else None)
    if known is None:
        produced = {name for each in SCORERS.values() for name in each.metrics}
        if metric is not None and metric not in produced:
            raise RequestInvalid(
                f"evaluation.metric: {metric!r} is no scorer's metric ("
                + "; ".join(f"{each.name}: {', '.join(each.metrics)}" for each in SCORERS.values())
                + ")"
            )
        return None, metric, None
    metric = metric if metric is not None else SCORERS[known].default_metric
    if metric not in SCORERS[known].metrics:
        raise RequestInvalid(
            f"evaluation.metric: {metric!r} is not a metric of scorer {known}; "
            f"choose one of {', '.join(SCORERS[known].metrics)}"
        )
    if metric == "schema_valid" and schema is None:
        raise RequestInvalid("evaluation.metric: schema_valid needs evaluation.jsonSchema, the schema to check")
    return scorer, metric, schema


def now_utc() -> datetime:
    return clock.now()
