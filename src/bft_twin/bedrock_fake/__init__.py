"""A strict, in-process fake of Amazon Bedrock behind real boto3 clients.

Example::

    fake = FakeBedrock(region="us-west-2", s3=s3_client, on_event=bus.append)
    bedrock = fake.client("bedrock")            # a real boto3 client; botocore validation intact
    runtime = fake.client("bedrock-runtime")
    fake.plan_jobs("Failed", duration_s=3600, failure_message="Out of capacity")
    fake.inject("CreateProvisionedModelThroughput", "ServiceQuotaExceededException", times=1)
    fake.start_ticker()                         # transitions and events in simulated time

Every behaviour not backed by ``docs/bedrock-behaviour.md`` is marked
``# Assumption:`` in the source; the catalog's lifecycle dates are scenario data
(see :mod:`bft_twin.catalog`).
"""

from bft_twin.bedrock_fake._fake import FakeBedrock
from bft_twin.bedrock_fake._records import Counters, DeploymentOutcome, JobOutcome, Phase, ThroughputOutcome

__all__ = ["Counters", "DeploymentOutcome", "FakeBedrock", "JobOutcome", "Phase", "ThroughputOutcome"]
