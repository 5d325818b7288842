"""Defence in depth (issue #23): what the synthesized policies refuse on their own, whatever a step's code lets
through. Each test decides a call as the offline IAM does, with the role of the function that makes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bft.config import load_config
from bft_twin.iam.actions import Call
from bft_twin.iam.model import Principal
from bft_twin.offline import OfflineAssembly
from bft_twin.run import ACCOUNT, REGION

pytestmark = pytest.mark.slow


def _job(base_model: str) -> Call:
    params = {
        "jobName": "bft-local-moderation-x-a1-0123456789ab",
        "customModelName": "bft-local-moderation-x-a1-0123456789ab",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/any",
        "baseModelIdentifier": base_model,
        "trainingDataConfig": {"s3Uri": "s3://bucket/moderation/train.jsonl"},
        "outputDataConfig": {"s3Uri": "s3://bucket/moderation/out/"},
        "customizationType": "FINE_TUNING",
        "hyperParameters": {},
    }
    return Call("bedrock", "CreateModelCustomizationJob", params, REGION, ACCOUNT)


def test_start_job_customizes_only_the_environments_allowed_base_models(local_assembly: Path) -> None:
    """Audit L4: StartJob's role could start a job on any foundation model, though the allowed ones are known at
    synth; a request that slipped past ValidateRequest could train (and bill) any model of the region."""
    allowed = load_config("local").allowed_base_models
    with OfflineAssembly(local_assembly, region=REGION, account_id=ACCOUNT) as env:
        role = env._find_function("Workflow/Functions/StartJob").role_arn
        assert role is not None
        for model in allowed:
            refused = env.authorizer.decide(Principal(role, account=ACCOUNT), _job(model))
            assert refused is None or refused[0].action != "bedrock:CreateModelCustomizationJob", (model, refused)
        # Another live model of the region that the environment does not allow: refused by the policy itself.
        outside = "amazon.titan-text-express-v1:0:8k"
        assert outside not in allowed
        refused = env.authorizer.decide(Principal(role, account=ACCOUNT), _job(outside))
        assert refused is not None
        request, decision = refused
        assert request.action == "bedrock:CreateModelCustomizationJob"
        assert request.resource.endswith(f":foundation-model/{outside}")
        assert not decision.allowed
