"""Where a run goes: the offline worlds (``local``, ``local-<region>``), their account, region, team and clock.

The constants every module of the runner shares (the default team, the models the scenarios name, the sample
run's hyperparameters, the synth cache, the virtual clock's factor) live here too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bft.synth import ROOT

if TYPE_CHECKING:
    from bft.config import EnvironmentConfig


ENV = "local"
ACCOUNT = "123456789012"
REGION = "us-west-2"
TEAM = "moderation"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
LLAMA_31_8B = "meta.llama3-1-8b-instruct-v1:0:128k"
LLAMA_33_70B = "meta.llama3-3-70b-instruct-v1:0:128k"
LLAMA_32_1B = "meta.llama3-2-1b-instruct-v1:0:128k"  # past its published end of life (2026-07-07)
# What a scenario trains unless told otherwise: a model a team can fine-tune today, served on demand
# (no hourly charge). Not Claude 3 Haiku: its published end of life (2026-09-10) has passed.
DEFAULT_MODEL = NOVA_MICRO
# Hyperparameters per family for the sample run (each within its family's table, bft.families).
HYPERPARAMETERS: dict[str, dict[str, str]] = {
    "claude-3-haiku": {"epochCount": "2", "batchSize": "8", "learningRateMultiplier": "1.0"},
    "nova": {"epochCount": "2", "learningRate": "0.00001"},
    "nova-2": {"epochCount": "2", "learningRate": "0.00001"},
    "llama-3.1": {"epochCount": "2", "learningRate": "0.0001"},
    "llama-3.2": {"epochCount": "2", "learningRate": "0.0001"},
    "llama-3.3": {"epochCount": "2", "learningRate": "0.0001"},
    "titan-text": {"epochCount": "2", "batchSize": "1"},
    "titan-text-premier": {"epochCount": "2"},
}
CACHE = ROOT / "cdk.out" / ".local-run"
# Every environment (local included: dev's timings, docs/local-environment.md) runs with its configuration
# unchanged on ONE virtual clock (bft_twin.offline._clock): the state machine's waits, retries and
# timeouts, the Lambda timeouts, the rate schedules and Bedrock, all at this factor. One real second is one
# simulated hour: a two-hour job takes two seconds, a 5 s retry interval 1.4 ms.
TIME_FACTOR = 3600.0


@dataclass(frozen=True)
class Target:
    """Which environment a scenario runs and what differs per environment (from its configuration)."""

    environment: str
    account: str
    region: str
    team: str
    time_factor: float  # virtual seconds per real second for the whole world


class NoOfflineWorld(ValueError):
    """No offline environment offers the model (or the named environment's region does not)."""


def is_local(environment: str) -> bool:
    """The offline worlds: ``local`` and the environments that extend it in another region (local-<region>)."""
    return environment == ENV or environment.startswith(f"{ENV}-")


def offers(environment: str, model: str) -> str | None:
    """None when a run of ``model`` belongs in ``environment``; else why not (its region, its allowed models).

    A model of the environment's region that is past its end of life or Legacy belongs there too, although no
    config may allow it: the run shows what AWS answers a team that asks for it (refused before any spending).
    """
    from bft.catalog import catalog, today
    from bft.config import load_config

    config = load_config(environment)
    entry = catalog().model(model)
    if entry is None:
        return catalog().refusal(model, config.region, today())
    if config.region not in entry.regions:
        where = ", ".join(entry.regions)
        return f"{model} is customizable only in {where}; environment {environment} is in {config.region}"
    if model not in config.allowed_base_models and entry.lifecycle.state(today()) == "ACTIVE":
        return f"{model} is not in environment {environment}'s allowed_base_models"
    return None


def environment_of(assembly: Path) -> str | None:
    """Which environment a synthesized assembly deploys (by its stack names), None when none matches."""
    from bft.config import known_environments, load_config, resource_prefix

    manifest = json.loads((assembly / "manifest.json").read_text())
    stacks = set(manifest.get("artifacts", {}))
    for env in known_environments():
        if f"{resource_prefix(load_config(env))}Pipeline" in stacks:
            return env
    return None


def run_team(config: EnvironmentConfig) -> str:
    """The team a scenario runs as: moderation where it is onboarded, else the environment's first team."""
    return TEAM if any(t.name == TEAM for t in config.teams) else config.teams[0].name


class UnknownTeam(ValueError):
    """The team named for a run is not onboarded in the environment's configuration."""


def target_for(environment: str = ENV, team: str | None = None) -> Target:
    """``team``: the team the run submits as (default :func:`run_team`); it must be one of the environment's."""
    from bft.config import config_path, load_config

    config = load_config(environment)
    teams = [t.name for t in config.teams]
    if team is not None and team not in teams:
        raise UnknownTeam(
            f"--team {team}: environment {environment} has no team {team!r} ({config_path(environment)}: teams: "
            f"{', '.join(teams)})"
        )
    team = team or run_team(config)
    # An env-agnostic configuration (no `account`) deploys where its people are: the one account its
    # submitters and reviewers name (dev's 111111111111). A person in another account would need an
    # identity policy of their own account to assume the team's role, which the offline world cannot know.
    people = [arn for t in config.teams for arn in (*t.submitters, *config.team_reviewers(t))]
    accounts = {arn.split(":")[4] for arn in people}
    return Target(
        environment=environment,
        account=config.account or (accounts.pop() if len(accounts) == 1 else ACCOUNT),
        region=config.region,
        team=team,
        time_factor=TIME_FACTOR,
    )
