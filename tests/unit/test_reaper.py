"""The cost-guardrail reaper against moto SNS (through SQS, to read what was published) and the Bedrock fake."""

from __future__ import annotations

import importlib.util
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from bft import aws
from bft.config import EnvironmentConfig
from bft.errors import RequestInvalid, TransientError
from bft.names import run_names
from bft.workflow.reaper import ReaperSettings, ReapIncomplete, reap, retain_models, run
from bft.workflow.settings import Misconfigured
from bft_twin.bedrock_fake import FakeBedrock
from bft_twin.catalog import catalog

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-west-2"
ACCOUNT = "123456789012"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
HOUR = 3600.0
DAY = 24 * HOUR
TTL = {"moderation": 8.0, "search": 12.0}
DEFAULT_TTL = 6.0
_names = itertools.count(1)


@dataclass
class World:
    fake: FakeBedrock
    bedrock: Any
    sns: Any
    sqs: Any
    topic_arn: str
    queue_url: str
    served_model: str = ""

    def model(self, tags: list[dict[str, str]] | None) -> str:
        """A completed customization job's custom model, tagged as given."""
        n = next(_names)
        job = self.bedrock.create_model_customization_job(
            jobName=f"job-{n}",
            customModelName=pipeline_name(f"model-{n}", tags),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/bft-service",
            baseModelIdentifier=HAIKU,
            trainingDataConfig={"s3Uri": "s3://datasets/train.jsonl"},
            validationDataConfig={"validators": [{"s3Uri": "s3://datasets/validation.jsonl"}]},
            outputDataConfig={"s3Uri": "s3://outputs/out/"},
            **({"customModelTags": tags} if tags else {}),
        )
        self.fake.advance(60)
        arn: str = self.bedrock.get_model_customization_job(jobIdentifier=job["jobArn"])["outputModelArn"]
        return arn

    def throughput(self, name: str, tags: list[dict[str, str]] | None, *, commitment: str | None = None) -> str:
        params: dict[str, Any] = {
            "modelUnits": 1,
            "provisionedModelName": pipeline_name(name, tags),
            "modelId": self.served_model,
        }
        if tags:
            params["tags"] = tags
        if commitment:
            params["commitmentDuration"] = commitment
        arn: str = self.bedrock.create_provisioned_model_throughput(**params)["provisionedModelArn"]
        return arn

    def remaining(self) -> set[str]:
        return {ALIASES.get(n, n) for n in (pt["provisionedModelName"] for pt in self.fake.provisioned_throughputs())}

    def notifications(self) -> list[dict[str, Any]]:
        """Every SNS message published to the topic: subject, body and message attributes."""
        out: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for message in got:
                out.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def reap(self, **overrides: Any) -> dict[str, Any]:
        args: dict[str, Any] = {
            "bedrock": self.bedrock,
            "sns": self.sns,
            "topic_arn": self.topic_arn,
            "environment": "dev",
            "production": False,
            "ttl_hours_by_team": TTL,
            "default_ttl_hours": DEFAULT_TTL,
            "now": self.fake.now(),
            "dry_run": False,
        }
        return reap(**(args | overrides))


# The name the pipeline gives a run's resource -> the short name a test calls it by.
ALIASES: dict[str, str] = {}


def pipeline_name(short: str, tags: list[dict[str, str]] | None) -> str:
    """The name the pipeline gives a run's resource with these tags (the reaper checks it, audit L6), or ``short``
    for a resource the tags do not make a run's; remembered so that tests speak of ``short``."""
    found = {tag["key"]: tag["value"] for tag in tags or []}
    if not {"project", "team", "request", "environment"} <= set(found):
        return short
    name = run_names(found["environment"], found["team"], found["request"], 1)["servingName"]
    ALIASES[name] = short
    return name


def tags(team: str = "moderation", environment: str = "dev", request: str = "r1") -> list[dict[str, str]]:
    """The tags the pipeline puts on what it creates (run["tags"] in bft.workflow.request)."""
    return [
        {"key": "team", "value": team},
        {"key": "environment", "value": environment},
        {"key": "request", "value": request},
        {"key": "project", "value": "bedrock-fine-tuning"},
    ]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for key, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        monkeypatch.setenv(key, value)
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic_arn = sns.create_topic(Name="notes")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        # Frozen simulated time: only advance() moves it, so ages are exact. Haiku ACTIVE so that no
        # end-of-life date interferes with weeks of simulated time.
        fake = FakeBedrock(
            region=REGION,
            account_id=ACCOUNT,
            time_scale=0,
            catalog=catalog(haiku_status="ACTIVE"),
            no_commit_model_units=500,
            commit_model_units=10,  # the committed throughputs the reaper must leave alone
        )
        fake.plan_jobs("Completed", duration_s=30, count=None)
        world = World(fake, fake.client("bedrock"), sns, sqs, topic_arn, queue_url)
        # One model serves every throughput, made first, so creating a throughput takes no simulated time.
        world.served_model = world.model(None)
        yield world


def mixed_fleet(world: World) -> None:
    """Throughputs of every kind, aged 9 h (created first) or 3 h (created after 6 h)."""
    world.throughput("bft-moderation-old-a1", tags("moderation", request="old"))
    world.throughput("bft-search-old-a1", tags("search", request="old"))  # 9 h < search's 12 h
    world.throughput("bft-newteam-old-a1", tags("newteam", request="old"))  # unknown team: default 6 h
    world.throughput("hand-made", None)
    world.throughput("bft-moderation-staging-a1", tags("moderation", environment="staging"))
    world.throughput("no-project-tag", [t for t in tags() if t["key"] != "project"])
    world.throughput("bft-moderation-committed-a1", tags(request="committed"), commitment="OneMonth")
    world.fake.advance(6 * HOUR)
    world.throughput("bft-moderation-new-a1", tags(request="new"))
    world.fake.advance(3 * HOUR)


EXPIRED = {"bft-moderation-old-a1", "bft-newteam-old-a1"}
NEVER_TOUCHED = {"hand-made", "bft-moderation-staging-a1", "no-project-tag", "bft-moderation-committed-a1"}


def names(items: list[dict[str, Any]]) -> set[str]:
    return {ALIASES.get(item["name"], item["name"]) for item in items}


def test_deletes_only_this_environments_expired_pipeline_throughputs(world: World) -> None:
    mixed_fleet(world)
    result = world.reap()
    assert names(result["deleted"]) == EXPIRED
    assert world.remaining() == NEVER_TOUCHED | {"bft-search-old-a1", "bft-moderation-new-a1"}
    assert names(result["withinTtl"]) == {"bft-search-old-a1", "bft-moderation-new-a1"}
    assert names(result["committed"]) == {"bft-moderation-committed-a1"}
    assert result["committed"][0]["commitmentDuration"] == "OneMonth"
    ignored = {ALIASES.get(item["name"], item["name"]): item["reason"] for item in result["ignored"]}
    assert set(ignored) == {"hand-made", "bft-moderation-staging-a1", "no-project-tag"}
    assert "not created by this pipeline" in ignored["hand-made"]
    assert "'staging'" in ignored["bft-moderation-staging-a1"]
    deleted = {ALIASES.get(item["name"], item["name"]): item for item in result["deleted"]}
    assert deleted["bft-newteam-old-a1"]["ttlHours"] == DEFAULT_TTL, "an unknown team gets the default TTL"
    assert deleted["bft-moderation-old-a1"]["ttlHours"] == 8.0
    assert deleted["bft-moderation-old-a1"]["ageHours"] == pytest.approx(9.0, abs=0.05)
    assert result["errors"] == []
    asked = [params["provisionedModelId"] for op, params in world.fake.calls if op.startswith("Delete")]
    assert sorted(asked) == sorted(item["arn"] for item in result["deleted"]), "no other delete was ever attempted"


def test_each_deletion_notifies_its_team(world: World) -> None:
    mixed_fleet(world)
    world.reap()
    sent = {note["MessageAttributes"]["team"]["Value"]: note for note in world.notifications()}
    assert set(sent) == {"moderation", "newteam"}
    note = sent["moderation"]
    real = next(name for name, short in ALIASES.items() if short == "bft-moderation-old-a1")
    # SNS takes at most 100 characters of subject: the throughput's full name stays, the figures may be cut.
    assert note["Subject"].startswith(f"bft dev: deleted idle provisioned throughput {real} (age 9.0 h")
    assert len(note["Subject"]) <= 100
    assert "ttlHours    8.0" in note["Message"]
    assert note["MessageAttributes"]["outcome"]["Value"] == "throughput_reaped"
    assert "request old" in note["Message"]
    assert not {"{", "}", "["} & set(note["Message"] + note["Subject"]), note["Message"]


def test_dry_run_deletes_nothing_and_reports_what_it_would_delete(world: World) -> None:
    mixed_fleet(world)
    before = world.remaining()
    result = world.reap(dry_run=True)
    assert world.remaining() == before
    assert not any(op == "DeleteProvisionedModelThroughput" for op, _ in world.fake.calls)
    assert result["mode"] == "dry-run"
    assert result["deleted"] == []
    assert names(result["wouldDelete"]) == EXPIRED
    notes = world.notifications()
    assert {n["MessageAttributes"]["team"]["Value"] for n in notes} == {"moderation", "newteam"}
    assert all(n["Subject"].startswith("bft dev: would delete idle provisioned throughput") for n in notes)
    assert all("dry-run mode" in n["Message"] for n in notes)


def test_production_never_deletes(world: World) -> None:
    mixed_fleet(world)
    before = world.remaining()
    result = world.reap(production=True, dry_run=False)
    assert world.remaining() == before
    assert not any(op == "DeleteProvisionedModelThroughput" for op, _ in world.fake.calls)
    assert result["mode"] == "report-only (production)"
    assert names(result["wouldDelete"]) == EXPIRED
    assert all("production" in n["Message"] for n in world.notifications())


def test_one_failing_delete_does_not_stop_the_others(world: World) -> None:
    mixed_fleet(world)
    world.fake.inject(
        "DeleteProvisionedModelThroughput", "ThrottlingException", times=3
    )  # outlasts the client's retries
    with pytest.raises(ReapIncomplete, match=r"1 of 8 provisioned throughputs failed .*ThrottlingException") as info:
        world.reap()
    result = info.value.result
    ((error,),) = [result["errors"]]
    assert error["step"] == "delete"
    assert "ThrottlingException" in error["error"]
    assert len(result["deleted"]) == 1, "the other expired throughput is still deleted"
    assert names(result["deleted"]) | names([error]) == EXPIRED
    assert world.remaining() == NEVER_TOUCHED | {"bft-search-old-a1", "bft-moderation-new-a1"} | names([error])
    assert len(world.notifications()) == 1, "only the deleted throughput is announced"


def test_throttled_listing_is_transient(world: World) -> None:
    world.fake.inject("ListProvisionedModelThroughputs", "ThrottlingException", times=3)
    with pytest.raises(TransientError, match="ListProvisionedModelThroughputs"):
        world.reap()


def test_unreadable_tags_mean_hands_off(world: World) -> None:
    world.throughput("bft-moderation-old-a1", tags())
    world.fake.advance(10 * HOUR)
    world.fake.inject("ListTagsForResource", "AccessDeniedException", times=1)
    result = world.reap()
    assert result["deleted"] == []
    assert "AccessDeniedException" in result["ignored"][0]["reason"]
    assert world.remaining() == {"bft-moderation-old-a1"}


def test_many_throughputs_are_all_seen_across_pages(world: World) -> None:
    for n in range(105):  # the fake's default page holds 100
        world.throughput(f"bft-moderation-r{n}-a1", tags(request=f"r{n}"))
    world.fake.advance(9 * HOUR)
    assert len(world.reap()["deleted"]) == 105
    assert world.remaining() == set()


# -- custom-model retention ---------------------------------------------------------------------------


def test_old_unserved_pipeline_models_are_deleted(world: World) -> None:
    old = world.model(tags(request="old"))
    served = world.model(tags(request="served"))
    hand_made = world.model(None)
    other_env = world.model(tags(environment="staging"))
    world.fake.advance(40 * DAY)
    young = world.model(tags(request="young"))
    world.bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="serving", modelId=served)
    result = retain_models(
        bedrock=world.bedrock, environment="dev", retention_days=30, now=world.fake.now(), dry_run=False
    )
    arns = {key: {item["arn"] for item in result[key]} for key in ("deleted", "inUse", "withinRetention", "ignored")}
    assert arns == {
        "deleted": {old},
        "inUse": {served},
        "withinRetention": {young},
        "ignored": {hand_made, other_env, world.served_model},
    }
    # A served model is never even tried: whether Bedrock refuses that delete is unconfirmed.
    asked = [params["modelIdentifier"] for op, params in world.fake.calls if op == "DeleteCustomModel"]
    assert asked == [old]
    assert result["inUse"][0]["reason"] == "served by a provisioned throughput"
    left = {m["modelArn"] for m in world.bedrock.list_custom_models()["modelSummaries"]}
    assert old not in left
    assert {served, hand_made, other_env, young} <= left


def test_model_retention_dry_run_and_off(world: World) -> None:
    old = world.model(tags())
    world.fake.advance(40 * DAY)
    dry = retain_models(bedrock=world.bedrock, environment="dev", retention_days=30, now=world.fake.now(), dry_run=True)
    assert [item["arn"] for item in dry["wouldDelete"]] == [old]
    off = retain_models(
        bedrock=world.bedrock, environment="dev", retention_days=None, now=world.fake.now(), dry_run=False
    )
    assert off["mode"].startswith("off")
    assert not any(op == "DeleteCustomModel" for op, _ in world.fake.calls)


def test_model_delete_conflict_is_skipped_and_reported(world: World) -> None:
    contested = world.model(tags(request="contested"))
    other = world.model(tags(request="other"))
    world.fake.advance(40 * DAY)
    world.fake.inject("DeleteCustomModel", "ConflictException", times=1, message="in use by a deployment")
    result = retain_models(
        bedrock=world.bedrock, environment="dev", retention_days=30, now=world.fake.now(), dry_run=False
    )
    ((skipped,),) = [result["inUse"]]
    assert "ConflictException" in skipped["reason"]
    assert {skipped["arn"], result["deleted"][0]["arn"]} == {contested, other}
    assert result["errors"] == []


# -- settings and handler -----------------------------------------------------------------------------


def test_reaper_configuration_defaults_and_limits() -> None:
    config = EnvironmentConfig.model_validate({"name": "dev"})
    assert (config.reaper.schedule_minutes, config.reaper.dry_run) == (60, False)
    assert config.reaper.custom_model_retention_days is None, "custom models are kept unless asked otherwise"
    for bad in ({"schedule_minutes": 0}, {"custom_model_retention_days": 0}, {"every": 5}):
        with pytest.raises(ValidationError):
            EnvironmentConfig.model_validate({"name": "dev", "reaper": bad})


ENV = {
    "ENVIRONMENT": "dev",
    "PRODUCTION": "false",
    "TOPIC_ARN": "",  # set per test
    "REGISTRY_PATH": "/bft/dev/teams",
    "DEFAULT_TTL_HOURS": str(DEFAULT_TTL),
    "DRY_RUN": "false",
    "MODEL_RETENTION_DAYS": "30",
}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REGISTRY_PATH", "", "REGISTRY_PATH is not set"),
        ("PRODUCTION", "yes", "PRODUCTION must be 'true' or 'false'"),
        ("DEFAULT_TTL_HOURS", "soon", "DEFAULT_TTL_HOURS must be a number above 0"),
        ("MODEL_RETENTION_DAYS", "0", "MODEL_RETENTION_DAYS must be a whole number"),
        ("ENVIRONMENT", "", "ENVIRONMENT is not set"),
    ],
)
def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    for key, default in ENV.items():
        monkeypatch.setenv(key, default or "arn:aws:sns:us-west-2:123456789012:notes")
    monkeypatch.setenv(name, value)
    with pytest.raises(Misconfigured, match=message):
        ReaperSettings.from_env(ssm=lambda: None)


class RegistrySsm:
    """GetParameter over the team registry (bft.registry), counting the reads."""

    def __init__(self, ttl: dict[str, float | None]) -> None:
        self.ttl, self.reads = ttl, 0

    def get_parameter(self, Name: str) -> dict[str, Any]:  # noqa: N803 (boto3's argument name)
        from botocore.exceptions import ClientError

        self.reads += 1
        team = Name.split("/")[4]
        if team not in self.ttl or not Name.endswith("/guardrails"):
            raise ClientError({"Error": {"Code": "ParameterNotFound", "Message": Name}}, "GetParameter")
        return {"Parameter": {"Value": json.dumps({"ttlHours": self.ttl[team], "reviewers": []})}}


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value or "arn:aws:sns:us-west-2:123456789012:notes")
    monkeypatch.delenv("MODEL_RETENTION_DAYS")
    ssm = RegistrySsm({"moderation": 8.0, "search": None})
    settings = ReaperSettings.from_env(ssm=lambda: ssm)
    # Each team's time-to-live from its registry entry, read once per run; none, or no entry: the default.
    assert settings.ttl_hours_by_team.get("moderation") == 8.0
    assert settings.ttl_hours_by_team.get("moderation") == 8.0
    assert settings.ttl_hours_by_team.get("search") is None
    assert settings.ttl_hours_by_team.get("offboarded", DEFAULT_TTL) == DEFAULT_TTL
    assert ssm.reads == 2 + 2 + 1  # each entry once per run (guardrails, role); offboarded: its guardrails
    assert settings.model_retention_days is None
    assert (settings.production, settings.dry_run, settings.default_ttl_hours) == (False, False, DEFAULT_TTL)


def test_run_reports_both_guardrails_and_fails_after_doing_the_rest(world: World) -> None:
    world.throughput("bft-moderation-old-a1", tags())
    old_model = world.model(tags(request="old-model"))
    world.fake.advance(40 * DAY)
    world.fake.inject("ListTagsForResource", "ThrottlingException", times=3)  # the throughput's tags, all attempts
    settings = ReaperSettings(
        environment="dev",
        production=False,
        topic_arn=world.topic_arn,
        ttl_hours_by_team=TTL,
        default_ttl_hours=DEFAULT_TTL,
        dry_run=False,
        model_retention_days=30,
    )
    with pytest.raises(ReapIncomplete, match="provisioned throughputs failed") as info:
        run(settings, bedrock=world.bedrock, sns=world.sns, now=world.fake.now(), force_dry_run=False)
    result = info.value.result
    assert result["throughputs"]["errors"][0]["step"] == "tags"
    assert [item["arn"] for item in result["customModels"]["deleted"]] == [old_model], "models still retained"


@dataclass
class FakeContext:
    function_name: str = "reap-throughputs"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:reap-throughputs"
    aws_request_id: str = "5f4e3d2c-0000-4000-8000-000000000002"


def load_handler() -> ModuleType:
    path = ROOT / "lambda" / "reap_throughputs" / "handler.py"
    spec = importlib.util.spec_from_file_location("reap_throughputs_handler", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def handler(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value or world.topic_arn)
    aws.override("bedrock", world.bedrock)
    aws.override("sns", world.sns)
    aws.override("ssm", RegistrySsm(dict(TTL)))
    module = load_handler()
    # Simulated time: the throughputs' ages are the fake's, not the wall clock's.
    monkeypatch.setattr(module, "now", world.fake.now)
    try:
        yield module.handler
    finally:
        aws.reset()


def test_handler_deletes_on_schedule_and_honours_a_forced_dry_run(world: World, handler: Any) -> None:
    world.throughput("bft-moderation-a-a1", tags(request="a"))
    world.fake.advance(9 * HOUR)
    dry = handler({"dryRun": True}, FakeContext())
    assert names(dry["throughputs"]["wouldDelete"]) == {"bft-moderation-a-a1"}
    assert world.remaining() == {"bft-moderation-a-a1"}
    scheduled = handler({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}, FakeContext())
    assert names(scheduled["throughputs"]["deleted"]) == {"bft-moderation-a-a1"}
    assert world.remaining() == set()


def test_handler_rejects_a_malformed_dry_run_flag(world: World, handler: Any) -> None:
    with pytest.raises(RequestInvalid, match="dryRun must be true or false"):
        handler({"dryRun": "yes"}, FakeContext())


def test_a_throughput_tagged_as_the_pipelines_by_someone_else_is_left_alone(world: World) -> None:
    """Audit L6: anyone with bedrock:TagResource can put the pipeline's tags on another project's throughput; the
    reaper deleted what the tags claimed. The name a run gives its resources carries the hash of the run its
    tags name, and a name cannot be changed afterwards."""
    world.throughput("their-production-endpoint", None)
    arn = next(pt["provisionedModelArn"] for pt in world.fake.provisioned_throughputs())
    world.bedrock.tag_resource(resourceARN=arn, tags=tags(request="old"))
    # The pipeline's own naming with another run's hash: tags copied from a real run.
    world.throughput("bft-dev-moderation-old-a1-000000000000", None)
    copied = next(
        pt["provisionedModelArn"]
        for pt in world.fake.provisioned_throughputs()
        if pt["provisionedModelName"].endswith("000000000000")
    )
    world.bedrock.tag_resource(resourceARN=copied, tags=tags(request="old"))
    world.fake.advance(30 * HOUR)
    result = world.reap()
    assert result["deleted"] == []
    ignored = {item["name"]: item["reason"] for item in result["ignored"]}
    assert "not those of a pipeline run" in ignored["their-production-endpoint"]
    assert (
        "does not carry the hash of its tags' run (moderation/old)" in ignored["bft-dev-moderation-old-a1-000000000000"]
    )
    assert world.remaining() == {"their-production-endpoint", "bft-dev-moderation-old-a1-000000000000"}
