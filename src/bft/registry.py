"""The team registry: where each team's stack writes what the CLI, the workflow and the offline twin need.

Each team stack writes SSM parameters under ``/bft/<env>/teams/<team>/``; nothing lists every team in one
place, so onboarding a team changes no shared resource. The pipeline stack writes what team stacks need of
it under ``/bft/<env>/shared/``. Light on purpose: the CLI, the stacks and the functions all import it.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Keys under a team's path.
STATE_MACHINE_ARN = "state-machine-arn"
SUBMITTER_ROLE_ARN = "submitter-role-arn"  # absent for a team without submitters
GUARDRAILS = "guardrails"  # JSON: the team's limits and reviewers (what ValidateRequest and the approval read)

# Keys under the shared path (the pipeline stack writes them; team stacks read them at deploy time).
SHARED_STATE_MACHINE_ROLE = "state-machine-role-arn"
SHARED_TOPIC = "topic-arn"
SHARED_TOPIC_KEY = "topic-key-arn"  # the key team stacks encrypt their alarm topics with
SHARED_APPROVAL_FUNCTION = "approval-function-arn"


def teams_path(environment: str) -> str:
    """``/bft/<env>/teams`` (no trailing slash): GetParametersByPath under it finds every team."""
    return f"/bft/{environment}/teams"


def team_path(environment: str, team: str) -> str:
    return f"{teams_path(environment)}/{team}"


def team_parameter(environment: str, team: str, key: str) -> str:
    return f"{team_path(environment, team)}/{key}"


def shared_parameter(environment: str, key: str) -> str:
    return f"/bft/{environment}/shared/{key}"


def function_parameter_key(function: str) -> str:
    """validate_request -> function/validate-request-arn (one shared parameter per step function)."""
    return f"function/{function.replace('_', '-')}-arn"


# State machine names. Generated physical names are the convention, but the shared functions' policies
# (SendTaskSuccess/Failure on whichever team's machine issued the token) must reach every team's machine
# without listing them: a fixed name under a per-environment prefix makes that one ARN pattern whose size
# does not grow with the number of teams. A team's own policies name its exact machine, never the pattern.
STATE_MACHINE_NAME_LIMIT = 80  # Step Functions' limit


def state_machine_prefix(environment: str) -> str:
    return f"bft-{environment}-team-"


def state_machine_name(environment: str, team: str) -> str:
    name = f"{state_machine_prefix(environment)}{team}"
    if len(name) > STATE_MACHINE_NAME_LIMIT:
        raise ValueError(f"state machine name {name!r} is longer than {STATE_MACHINE_NAME_LIMIT} characters")
    return name


def pascal(name: str) -> str:
    """validate_request -> ValidateRequest, moderation-ml -> ModerationMl (construct ids, stack names)."""
    return "".join(part.capitalize() for part in re.split(r"[-_]", name))


def team_stack_name(stack_prefix: str, team: str) -> str:
    """``BftDevTeamModeration``: what `cdk deploy` onboards and `cdk destroy` offboards."""
    return f"{stack_prefix}Team{pascal(team)}"


def merge_team(shared: dict[str, Any], team: str, guardrails: dict[str, Any]) -> dict[str, Any]:
    """The policy document ValidateRequest checks a request against: the environment's shared guardrails
    with one team's entry (``teams`` and ``reviewers``), in the shape ``bft.workflow.request`` reads."""
    entry = {key: value for key, value in guardrails.items() if key != "reviewers"}
    return {
        **shared,
        "teams": {**shared.get("teams", {}), team: entry},
        "reviewers": {**shared.get("reviewers", {}), team: list(guardrails.get("reviewers", []))},
    }


def parse_guardrails(value: str, *, where: str) -> dict[str, Any]:
    document = json.loads(value)
    if not isinstance(document, dict) or not isinstance(document.get("reviewers", []), list):
        raise ValueError(f"{where}: not a team guardrails document: {value[:200]!r}")
    return document


def read_entry(ssm: Any, path: str, team: str) -> dict[str, Any] | None:
    """A team's registry entry under ``path`` (``/bft/<env>/teams``): its guardrails, with its submitter
    role ARN under ``submitterRoleArn`` (None without submitters); None when the team has no entry (not
    onboarded, or offboarded). The functions call this with their own role (GetParameter on the path)."""
    from botocore.exceptions import ClientError

    from bft.names import TEAM_NAME

    if not TEAM_NAME.match(team):  # never build a parameter path from something that is not a team name
        return None

    def value(key: str) -> str | None:
        try:
            return str(ssm.get_parameter(Name=f"{path}/{team}/{key}")["Parameter"]["Value"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return None
            raise

    guardrails = value(GUARDRAILS)
    if guardrails is None:
        return None
    entry = parse_guardrails(guardrails, where=f"{path}/{team}/{GUARDRAILS}")
    entry["submitterRoleArn"] = value(SUBMITTER_ROLE_ARN)
    return entry
