"""The customization type of a request (supervised fine-tuning, reinforcement fine-tuning, distillation), the
grader of a reinforcement run, and reinforcement fine-tuning's hyperparameters.

Which types a team may use is the environment's and the team's config (``customization_types``); which base
model supports which type in which region is the model catalog's (:mod:`bft.catalog`). Importable without
boto3: the CLI runs these checks before uploading anything.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

from bft.catalog import catalog
from bft.errors import BaseModelUnavailable, RequestInvalid

# The request's word for each type, and the API's customizationType (botocore's CustomizationType enum).
CUSTOMIZATIONS = {
    "fine-tuning": "FINE_TUNING",
    "reinforcement": "REINFORCEMENT_FINE_TUNING",
    "distillation": "DISTILLATION",
}
DEFAULT_CUSTOMIZATION = "fine-tuning"
# What an environment allows when its config says nothing: supervised fine-tuning only.
DEFAULT_TYPES = ("fine-tuning",)
# Types the pipeline can start today; distillation is on the way (issue #20).
NOT_YET = {"distillation": "distillation is not yet available in this pipeline (issue #20); use fine-tuning"}
REINFORCEMENT = "reinforcement"

# A team's own grader function: a Lambda function of this account and region whose name starts with the team's
# prefix (grader_prefix). The Bedrock service role may invoke only functions named so (and the pipeline's own
# grader): Lambda's InvokeFunction takes no aws:ResourceTag condition in the Service Authorization Reference
# (docs/bedrock-behaviour.md#grader-permissions), so a name prefix is what IAM can enforce.
LAMBDA_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z]{2}(-gov)?-[a-z]+-\d):(?P<account>\d{12}):"
    r"function:(?P<name>[a-zA-Z0-9_-]{1,64})(:(\$LATEST|[a-zA-Z0-9_-]+))?$"
)
GRADER_FIELDS = {"builtin", "functionArn"}


def grader_prefix(environment: str, team: str) -> str:
    """The name every grader function of ``team`` in ``environment`` starts with. Underscores separate the
    parts: neither environment nor team names contain one, so no team's prefix is another's."""
    return f"bft_{environment}_{team}_"


def check_customization(
    event: dict[str, Any], policy: dict[str, Any], team_name: str, base_model_id: str, on: date
) -> str:
    """The request's customization (its word), refused when the environment or the team does not allow it, when
    the pipeline does not start it yet, or when the base model does not support it in the region."""
    value = event.get("customization", DEFAULT_CUSTOMIZATION)
    if value not in CUSTOMIZATIONS:
        raise RequestInvalid(f"customization: {value!r} is not one of {', '.join(CUSTOMIZATIONS)}")
    team = policy["teams"][team_name]
    environment_types = policy.get("customizationTypes") or list(DEFAULT_TYPES)
    team_types = team.get("customizationTypes") or environment_types
    if value not in environment_types:
        raise RequestInvalid(
            f"customization: {value} is not allowed in {policy['environment']} (customization_types: "
            f"{', '.join(environment_types)}); ask the platform team to add it to the environment's customization_types"
        )
    if value not in team_types:
        raise RequestInvalid(
            f"customization: {value} is not allowed for team {team_name} (teams[].customization_types: "
            f"{', '.join(team_types)}); ask the platform team"
        )
    if value in NOT_YET:
        raise RequestInvalid(f"customization: {NOT_YET[value]}")
    api = CUSTOMIZATIONS[value]
    model = catalog().model(base_model_id)
    if model is not None and catalog().refusal(base_model_id, policy["region"], on, api) is not None:
        supporting = [m.model_id for m in catalog().live(policy["region"], on, api)]
        where = f"in {policy['region']}: {', '.join(supporting)}" if supporting else f"none in {policy['region']}"
        raise BaseModelUnavailable(
            f"baseModelId: {base_model_id} does not support {value} ({api}) in {policy['region']}; models that do "
            f"{where}; nothing was started"
        )
    return str(value)


def check_grader(raw: Any, customization: str, policy: dict[str, Any], team_name: str) -> dict[str, Any] | None:
    """The normalized grader of a reinforcement request ({"builtin", "options"} or {"functionArn"}), None for the
    other types (which refuse one)."""
    from bft.workflow.graders import BUILTINS, GraderError, check_options

    if customization != REINFORCEMENT:
        if raw is not None:
            raise RequestInvalid(f"grader: only a reinforcement run has a grader; this request is {customization}")
        return None
    if not isinstance(raw, dict) or not raw:
        raise RequestInvalid(
            'grader: required for reinforcement, e.g. {"builtin": "exact_match"} or {"functionArn": "arn:aws:lambda:'
            f'...:function:{grader_prefix(policy["environment"], team_name)}..."}} '
            f"(built-in graders: {', '.join(BUILTINS)})"
        )
    if ("builtin" in raw) == ("functionArn" in raw):
        raise RequestInvalid("grader: name either builtin (one of the pipeline's graders) or functionArn, not both")
    if "builtin" in raw:
        name = raw["builtin"]
        options = {key: value for key, value in raw.items() if key != "builtin"}
        try:
            check_options(name, options)
        except GraderError as exc:
            raise RequestInvalid(f"grader: {exc}") from None
        return {"builtin": name, "options": options}
    unknown = sorted(set(raw) - GRADER_FIELDS)
    if unknown:
        raise RequestInvalid(f"grader.{unknown[0]}: unknown field (a function grader takes functionArn only)")
    arn = raw["functionArn"]
    match = LAMBDA_ARN.match(arn) if isinstance(arn, str) else None
    if match is None:
        raise RequestInvalid(f"grader.functionArn: {arn!r} is not a Lambda function ARN")
    account = policy.get("account")
    if match["region"] != policy["region"] or (account and match["account"] != account):
        raise RequestInvalid(
            f"grader.functionArn: {arn} is not a function of this account and region ({account or 'this account'}, "
            f"{policy['region']}); Bedrock's service role invokes only this account's graders"
        )
    prefix = grader_prefix(policy["environment"], team_name)
    if not match["name"].startswith(prefix):
        raise RequestInvalid(
            f"grader.functionArn: function {match['name']} is not team {team_name}'s grader: a team's grader "
            f"functions are named {prefix}<name> in {policy['environment']} (the service role may invoke no other)"
        )
    return {"functionArn": arn}


# Reinforcement fine-tuning's hyperparameters go typed into customizationConfig.rftConfig.hyperParameters, not
# the string map of supervised fine-tuning. Ranges: botocore's RFTHyperParameters shape (EpochCount, RFTBatchSize,
# RFTLearningRate, RFTTrainingSamplePerPrompt, RFTEvalInterval, ReasoningEffort), which the RFT user guide
# restates; maxPromptLength and inferenceMaxTokens have no published range, so the upper bound here is a guess
# (Nova 2 Lite's 256K context; docs/bedrock-behaviour.md#rft-hyperparameters). Unset values: Bedrock's defaults.
RFT_HYPERPARAMETERS: tuple[dict[str, Any], ...] = (
    {"name": "epochCount", "type": "int", "min": 1, "max": 50},
    {"name": "batchSize", "type": "int", "min": 16, "max": 512},
    {"name": "learningRate", "type": "float", "min": 1e-7, "max": 1e-3},
    {"name": "trainingSamplePerPrompt", "type": "int", "min": 2, "max": 16},
    {"name": "maxPromptLength", "type": "int", "min": 1, "max": 262_144},
    {"name": "inferenceMaxTokens", "type": "int", "min": 1, "max": 262_144},
    {"name": "reasoningEffort", "type": "choice", "values": ("low", "medium", "high")},
    {"name": "evalInterval", "type": "int", "min": 1, "max": 100},
)


def check_rft_hyperparameters(family: str, raw: dict[str, Any]) -> dict[str, Any]:
    """Typed values for ``customizationConfig.rftConfig.hyperParameters`` (ints, a float, a choice), each checked
    against the documented range; unset ones are left to Bedrock's defaults."""
    rows = {row["name"]: row for row in RFT_HYPERPARAMETERS}
    out: dict[str, Any] = {}
    for name, value in raw.items():
        row = rows.get(name)
        if row is None:
            raise RequestInvalid(
                f"hyperParameters.{name} is not a reinforcement fine-tuning hyperparameter of {family}; "
                f"allowed: {', '.join(rows) or 'none'}"
            )
        out[name] = _rft_value(row, value)
    return out


def _rft_value(row: dict[str, Any], value: Any) -> Any:
    name, kind = row["name"], row["type"]
    if kind == "choice":
        if value not in row["values"]:
            raise RequestInvalid(f"hyperParameters.{name} must be one of {', '.join(row['values'])}; got {value!r}")
        return value
    described = f"{'an integer' if kind == 'int' else 'a number'} from {row['min']:g} to {row['max']:g}"
    number: float
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value) if kind == "int" and not isinstance(value, float) else float(value)
    except (TypeError, ValueError):
        raise RequestInvalid(f"hyperParameters.{name} must be {described}; got {value!r}") from None
    if kind == "int" and number != int(float(value)):
        raise RequestInvalid(f"hyperParameters.{name} must be {described}; got {value!r}")
    if not math.isfinite(number) or not row["min"] <= number <= row["max"]:
        raise RequestInvalid(f"hyperParameters.{name} must be {described}; got {value!r}")
    return int(number) if kind == "int" else float(number)
