"""`bft local-run`: one scenario of the real, synthesized workflow, executed on this machine.

What runs is a ``local`` environment as ``cdk synth`` writes it: its resources in moto, its Lambda
handlers in process (:mod:`bft_twin.offline`), Bedrock simulated by :mod:`bft_twin.bedrock_fake`
behind real boto3 clients. There is one offline world per region where customization runs: ``local``
(us-west-2: Llama, Claude 3 Haiku) and ``local-us-east-1`` (Amazon Nova); :func:`choose` picks the one
whose region offers the model, the environment's own configuration unchanged.

Each scenario arranges the fake (a failed job, a lost event, a quota refusal,
a reviewer who rejects) and reports how the execution ended and what it left behind.

The runner is split by responsibility; everything stays importable from ``bft_twin.run``:

- :mod:`bft_twin.run.targets`: the offline worlds, their account, region, team and clock;
- :mod:`bft_twin.run.world`: what a scenario may arrange (:class:`World`) and do afterwards;
- :mod:`bft_twin.run.scenarios`: the scenario table and :func:`choose`;
- :mod:`bft_twin.run.runner`: :func:`run_scenario`, a short orchestrator of its phases, and driving the run;
- :mod:`bft_twin.run.arrange`: arranging one run's world (credentials, data, Bedrock, the request, the World);
- :mod:`bft_twin.run.collect`: collecting what the run left behind into its summary.
"""

from bft_twin.run.arrange import _service_role_s3, _submitter_session, team_refs
from bft_twin.run.collect import SERVING_SUMMARY_KINDS, download_report, serving_summary
from bft_twin.run.runner import run_scenario
from bft_twin.run.scenarios import SCENARIOS, Scenario, choose, served_on_demand
from bft_twin.run.targets import (
    ACCOUNT,
    CACHE,
    DEFAULT_MODEL,
    ENV,
    HYPERPARAMETERS,
    LLAMA_31_8B,
    LLAMA_32_1B,
    LLAMA_33_70B,
    NOVA_2_LITE,
    NOVA_MICRO,
    REGION,
    TEAM,
    TIME_FACTOR,
    NoOfflineWorld,
    Target,
    environment_of,
    is_local,
    offers,
    run_team,
    target_for,
)
from bft_twin.run.world import (
    _LAMBDA_SERVICE_EXCEPTION,
    Afterwards,
    Event,
    World,
    _approve,
    _job_status,
    _reject,
    bft_as_team_member,
    endpoint_state,
    rollback_endpoint,
)

# The underscored names are private, yet the chaos runs and the workflow tests import them from here.
__all__ = [
    "ACCOUNT",
    "CACHE",
    "DEFAULT_MODEL",
    "ENV",
    "HYPERPARAMETERS",
    "LLAMA_31_8B",
    "LLAMA_32_1B",
    "LLAMA_33_70B",
    "NOVA_2_LITE",
    "NOVA_MICRO",
    "REGION",
    "SCENARIOS",
    "SERVING_SUMMARY_KINDS",
    "TEAM",
    "TIME_FACTOR",
    "_LAMBDA_SERVICE_EXCEPTION",
    "Afterwards",
    "Event",
    "NoOfflineWorld",
    "Scenario",
    "Target",
    "World",
    "_approve",
    "_job_status",
    "_reject",
    "_service_role_s3",
    "_submitter_session",
    "bft_as_team_member",
    "choose",
    "download_report",
    "endpoint_state",
    "environment_of",
    "is_local",
    "offers",
    "rollback_endpoint",
    "run_scenario",
    "run_team",
    "served_on_demand",
    "serving_summary",
    "target_for",
    "team_refs",
]
