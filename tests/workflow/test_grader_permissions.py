"""Adversarial: which grader functions the Bedrock service role may invoke during a reinforcement job, decided
by the offline IAM evaluator from the synthesized templates. The pipeline's grader and the environment's team
graders (``bft_<env>_<team>_...``) only: not another environment's, not any other function. One service role
serves every team, so a team naming another team's grader is refused by ValidateRequest (test_customization_
request), before any job; IAM cannot tell the teams apart (Lambda's InvokeFunction takes no tag condition)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bft_twin.offline import OfflineAssembly
from bft_twin.run.arrange import service_role_may_grade

pytestmark = pytest.mark.slow
ACCOUNT = "123456789012"
REGION = "us-east-1"
JOB = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/amazon.nova-2-lite-v1:0:256k/abc123"


def function(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


@pytest.fixture(scope="module")
def env(east_assembly: Path) -> Iterator[OfflineAssembly]:
    with OfflineAssembly(east_assembly, region=REGION, account_id=ACCOUNT) as world:
        yield world


def named(env: OfflineAssembly, service: str, needle: str) -> str:
    if service == "iam":
        roles = env.clients("iam").list_roles()["Roles"]
        return next(r["Arn"] for r in roles if needle in r["RoleName"])
    functions = env.clients("lambda").list_functions()["Functions"]
    return next(f["FunctionArn"] for f in functions if needle in f["FunctionName"])


def test_the_service_role_may_invoke_the_pipeline_grader_and_the_environments_team_graders(
    env: OfflineAssembly,
) -> None:
    role = named(env, "iam", "CustomizationServiceRole")
    assert service_role_may_grade(env, role, JOB, named(env, "lambda", "Grader")) is None
    assert service_role_may_grade(env, role, JOB, function("bft_local-us-east-1_moderation_score")) is None


@pytest.mark.parametrize(
    "target",
    [
        "bft_local_moderation_score",  # another environment's team grader
        "bft_dev_search_score",
        "payroll-export",  # any other function of the account
        "BftLocalUsEast1Pipeline-ValidateDataset",  # the pipeline's own step functions
    ],
)
def test_the_service_role_cannot_invoke_other_functions(env: OfflineAssembly, target: str) -> None:
    role = named(env, "iam", "CustomizationServiceRole")
    denied = service_role_may_grade(env, role, JOB, function(target))
    assert denied is not None
    assert "lambda:InvokeFunction" in denied
