"""A hostile team member: team ``search``'s member tries to reach what belongs to team ``moderation``.

Everything runs in the offline world (moto, the Lambda handlers in process, the Bedrock fake) where every
AWS call is authorized from the synthesized templates' policies (:mod:`bft_twin.iam`). Each attempt must be
refused -- AWS's AccessDenied, or a typed refusal of the workflow before any Bedrock call -- and leave the
world as it was: no execution started or stopped, no object written, no tag changed, no throughput or model
created or deleted, no task token consumed.

The attacker is a person (``search-ml-engineers``) who assumed team search's submitter role through its
trust policy, exactly as `bft submit` does. The operator's clients (``env.clients``, the fake's own client)
only arrange the world and read it back; the authorization does not check them.

The last class loosens single statements in a copy of the assembly and shows the same attempts then
succeed: the refusals come from the policies, not from a broken harness.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError

from bft import sample_data
from bft.cli.signed_http import post_decision
from bft.config import load_config
from bft.registry import state_machine_name
from bft.workflow import approval, caller_proof
from bft.workflow.ownership import run_tags
from bft.workflow.report import REFUSED_FOLDER
from bft_twin.bedrock_fake import FakeBedrock
from bft_twin.catalog import catalog
from bft_twin.iam.actions import Call
from bft_twin.iam.authorizer import AccessDeniedError
from bft_twin.iam.model import Principal
from bft_twin.offline import OfflineAssembly
from bft_twin.run import TIME_FACTOR, _service_role_s3, team_refs

pytestmark = pytest.mark.slow

ENV = "local"
ACCOUNT = "123456789012"
REGION = "us-west-2"
# A model live in us-west-2 and served by provisioned throughput (the model catalog), in its own data format.
MODEL = "meta.llama3-1-8b-instruct-v1:0:128k"
CONFIG = load_config(ENV)
MODERATION_PERSON = CONFIG.team("moderation").submitters[0]
SEARCH_PERSON = CONFIG.team("search").submitters[0]
MODERATION_REVIEWER = CONFIG.team_reviewers(CONFIG.team("moderation"))[0]
SEARCH_REVIEWER = CONFIG.team_reviewers(CONFIG.team("search"))[0]
# Bedrock operations that change something (the rest are Get/List reads).
READS = ("Get", "List")


# -- the world -------------------------------------------------------------------------------------------


@dataclasses.dataclass
class World:
    """One stood-up offline environment, arranged with moderation's data, report and Bedrock resources."""

    env: OfflineAssembly
    fake: FakeBedrock
    teams: dict[str, dict[str, str]]  # team -> stateMachineArn, submitterRoleArn
    datasets: str
    reports: str
    outputs: str
    table: str
    topic: str
    moderation: Any  # boto3 Session of moderation's member (its submitter role)
    search: Any  # boto3 Session of search's member (its submitter role)
    moderation_model: str  # a custom model of moderation, tagged team=moderation
    moderation_pt: str  # a provisioned throughput serving it, tagged team=moderation
    moderation_objects: dict[str, str]  # name -> key under moderation/ in datasets (or reports/outputs)

    def role(self, team: str) -> str:
        return self.teams[team]["submitterRoleArn"]

    def machine(self, team: str) -> str:
        return self.teams[team]["stateMachineArn"]

    def denied_since(self, mark: int, role: str) -> list[Any]:
        """The refusals the authorization recorded for ``role`` since ``mark`` (an index into its records)."""
        return [r for r in self.env.authorizer.records[mark:] if not r.allowed and r.principal == role]

    def mark(self) -> int:
        return len(self.env.authorizer.records)


def _stand_up(assembly: Path, scratch: Path, stack: contextlib.ExitStack) -> World:
    env = stack.enter_context(OfflineAssembly(assembly, region=REGION, account_id=ACCOUNT, time_factor=TIME_FACTOR))
    # Each team as the CLI finds it: its registry entry, written by its own stack.
    teams = {
        team: {"submitterRoleArn": refs.submitter_role_arn, "stateMachineArn": refs.state_machine_arn}
        for team in ("moderation", "search")
        for refs in [team_refs(env, ENV, team)]
    }
    datasets = str(env.stack_output_by_key("DatasetsBucketName"))
    reports = str(env.stack_output_by_key("ReportsBucketName"))
    outputs = str(env.stack_output_by_key("OutputsBucketName"))
    # Each member: a person's role assumes its team's submitter role through the trust policy.
    moderation = env.session_as(teams["moderation"]["submitterRoleArn"], "moderation-member", caller=MODERATION_PERSON)
    search = env.session_as(teams["search"]["submitterRoleArn"], "search-member", caller=SEARCH_PERSON)
    data = sample_data.write_splits(scratch / "data", data_format="prompt-completion")
    for team, session in (("moderation", moderation), ("search", search)):
        for name, path in data.items():
            session.client("s3").upload_file(str(path), datasets, f"{team}/sample/{name}.jsonl")
    operator_s3 = env.clients("s3")
    report_key = "reports/moderation/earlier-run/run.json"
    operator_s3.put_object(Bucket=reports, Key=report_key, Body=b'{"outcome": "deployed"}')
    output_key = "moderation/earlier-run/a1/step_wise_training_metrics.csv"
    operator_s3.put_object(Bucket=outputs, Key=output_key, Body=b"step,loss\n1,0.5\n")

    def deliver(event: dict[str, Any]) -> None:
        env.put_event(event)  # Bedrock's state-change events reach the template's rules

    fake = FakeBedrock(
        region=REGION,
        account_id=ACCOUNT,
        s3=operator_s3,
        on_event=deliver,
        clock=env.clock.now,  # one virtual clock for the state machine, the schedules and Bedrock
        time_scale=1.0,
        # As the scenarios: published lifecycles, one no-commitment model unit granted.
        catalog=catalog(),
        no_commit_model_units=1,
        service_role_s3=_service_role_s3(env),
    )
    fake.plan_jobs("Completed", duration_s=2 * 3600, count=None)
    env.attach_bedrock(fake)

    # Moderation's custom model and the throughput serving it, made with the fake's operator client and
    # tagged as the workflow tags a run's resources.
    bedrock = fake.client("bedrock")
    tags: Any = run_tags(ENV, "moderation", "owned-1")
    job = bedrock.create_model_customization_job(
        jobName="bft-local-moderation-owned-1",
        customModelName="moderation-owned-model",
        roleArn=str(env.stack_output_by_key("CustomizationServiceRoleArn")),
        baseModelIdentifier=MODEL,
        trainingDataConfig={"s3Uri": f"s3://{datasets}/moderation/sample/train.jsonl"},
        outputDataConfig={"s3Uri": f"s3://{outputs}/moderation/owned-1/a1/"},
        hyperParameters={"epochCount": "2", "learningRate": "0.0001"},
        jobTags=tags,
        customModelTags=tags,
    )
    fake.advance(3 * 3600)
    model = bedrock.get_model_customization_job(jobIdentifier=job["jobArn"])["outputModelArn"]
    pt = bedrock.create_provisioned_model_throughput(
        provisionedModelName="moderation-owned-pt", modelId=model, modelUnits=1, tags=tags
    )["provisionedModelArn"]
    fake.advance(3600)
    assert bedrock.get_provisioned_model_throughput(provisionedModelId=pt)["status"] == "InService"
    return World(
        env=env,
        fake=fake,
        teams=teams,
        datasets=datasets,
        reports=reports,
        outputs=outputs,
        table=str(env.stack_output_by_key("StateTableName")),
        topic=str(env.stack_output_by_key("NotificationsTopicArn")),
        moderation=moderation,
        search=search,
        moderation_model=model,
        moderation_pt=pt,
        moderation_objects={"train": "moderation/sample/train.jsonl", "report": report_key, "output": output_key},
    )


class _Worlds:
    """At most one offline world runs in a process (moto and the authorization patch are process-wide):
    asking for the other one closes the running one first. In file order that is one switch per process."""

    def __init__(self, assembly: Path, scratch: Path) -> None:
        self.assembly, self.scratch = assembly, scratch
        self._active: tuple[str, World, contextlib.ExitStack] | None = None

    def get(self, kind: str, make_assembly: Callable[[], Path] | None = None) -> World:
        if self._active is not None and self._active[0] == kind:
            return self._active[1]
        self.close()
        stack = contextlib.ExitStack()
        try:
            assembly = make_assembly() if make_assembly is not None else self.assembly
            world = _stand_up(assembly, self.scratch / kind, stack)
        except BaseException:
            stack.close()
            raise
        self._active = (kind, world, stack)
        return world

    def close(self) -> None:
        if self._active is not None:
            _, _, stack = self._active
            self._active = None
            stack.close()


@pytest.fixture(scope="module")
def worlds(local_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Worlds]:
    saved = {key: os.environ.get(key) for key in ("AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    profile = os.environ.pop("AWS_PROFILE", None)
    os.environ.update(AWS_DEFAULT_REGION=REGION, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    manager = _Worlds(local_assembly, tmp_path_factory.mktemp("adversarial"))
    try:
        yield manager
    finally:
        manager.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if profile is not None:
            os.environ["AWS_PROFILE"] = profile


@pytest.fixture
def world(worlds: _Worlds) -> World:
    return worlds.get("templates")


# -- what "unchanged" means --------------------------------------------------------------------------------


def snapshot(w: World) -> dict[str, Any]:
    """Everything an attempt could change, read with the operator's clients."""
    s3, sfn = w.env.clients("s3"), w.env.clients("stepfunctions")
    objects: dict[str, str] = {}
    for bucket in (w.datasets, w.reports, w.outputs):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
                objects[f"{bucket}/{version['Key']}@{version['VersionId']}"] = version.get("ETag", "deleted")
    executions: dict[str, tuple[str, int]] = {}
    for arn in (w.machine("moderation"), w.machine("search")):
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
            for execution in page["executions"]:
                events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)
                executions[execution["executionArn"]] = (execution["status"], len(events["events"]))
    items = w.env.resource("dynamodb").Table(w.table).scan(ConsistentRead=True)["Items"]
    bedrock = w.fake.client("bedrock")
    models = [m["modelArn"] for m in bedrock.list_custom_models()["modelSummaries"]]
    jobs = [j["jobArn"] for j in bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]]
    throughputs = {
        pt["provisionedModelArn"]: (pt["status"], pt["modelArn"], pt["desiredModelArn"], pt["modelUnits"])
        for pt in w.fake.provisioned_throughputs()
    }
    return {
        "objects": objects,
        "executions": executions,
        "state_items": sorted(json.dumps(item, sort_keys=True, default=str) for item in items),
        "custom_models": sorted(models),
        "jobs": sorted(jobs),
        "throughputs": throughputs,
        "tags": {arn: w.fake.resource_tags(arn) for arn in [*models, *jobs, *throughputs]},
        "counters": dataclasses.asdict(w.fake.counters),
        "notifications": len(w.env.sns_messages()),
    }


@contextlib.contextmanager
def unchanged(w: World) -> Iterator[None]:
    """The world after the block is the world before it, and no call that changes anything reached Bedrock."""
    before = snapshot(w)
    calls = len(w.fake.calls)
    yield
    changing = [(name, params) for name, params in w.fake.calls[calls:] if not name.startswith(READS)]
    assert changing == [], f"Bedrock received changing calls: {changing}"
    after = snapshot(w)
    for part in before:
        assert after[part] == before[part], f"the attempt changed {part}"


def _forged_url_event(request_id: str) -> dict[str, Any]:
    """A function-URL payload claiming moderation's reviewer: what a direct Invoke would have to forge."""
    return {
        "version": "2.0",
        "requestContext": {
            "http": {"method": "POST"},
            "authorizer": {
                "iam": {
                    "userArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/moderation-reviewers/alice",
                    "accountId": ACCOUNT,
                    "callerId": "AROAFORGED:alice",
                }
            },
        },
        "body": json.dumps({"team": "moderation", "requestId": request_id, "approve": True}),
    }


def refused(error: pytest.ExceptionInfo[ClientError], code: str, action: str, resource: str | None = None) -> str:
    """The AccessDenied error of the service, naming the action (and the resource), as AWS words it."""
    found = error.value.response["Error"]
    assert found["Code"] == code, found
    assert f"is not authorized to perform: {action}" in found["Message"], found["Message"]
    if resource is not None:
        assert f"on resource: {resource}" in found["Message"], found["Message"]
    return str(found["Message"])


# -- 1. another team's state machine -------------------------------------------------------------------


def test_search_cannot_start_moderations_state_machine(world: World) -> None:
    sfn = world.search.client("stepfunctions")
    request = {"team": "moderation", "baseModelId": MODEL, "requestId": "hostile-start"}
    mark = world.mark()
    with unchanged(world), pytest.raises(ClientError) as error:
        sfn.start_execution(stateMachineArn=world.machine("moderation"), name="hostile", input=json.dumps(request))
    message = refused(error, "AccessDeniedException", "states:StartExecution", world.machine("moderation"))
    assert "because no identity-based policy allows" in message
    assert [r.action for r in world.denied_since(mark, world.role("search"))] == ["states:StartExecution"]


def test_search_cannot_list_moderations_executions(world: World) -> None:
    sfn = world.search.client("stepfunctions")
    with unchanged(world), pytest.raises(ClientError) as error:
        sfn.list_executions(stateMachineArn=world.machine("moderation"))
    refused(error, "AccessDeniedException", "states:ListExecutions", world.machine("moderation"))


# -- 2. another team's data, reports and job outputs ----------------------------------------------------

S3_ATTEMPTS: dict[str, Callable[[World, Any], Any]] = {
    "get-dataset": lambda w, s3: s3.get_object(Bucket=w.datasets, Key=w.moderation_objects["train"]),
    "list-datasets-prefix": lambda w, s3: s3.list_objects_v2(Bucket=w.datasets, Prefix="moderation/"),
    "list-datasets-whole-bucket": lambda w, s3: s3.list_objects_v2(Bucket=w.datasets),
    "put-into-moderation-prefix": lambda w, s3: s3.put_object(
        Bucket=w.datasets, Key="moderation/sample/train.jsonl", Body=b'{"poisoned": true}\n'
    ),
    "put-new-object-into-moderation-prefix": lambda w, s3: s3.put_object(
        Bucket=w.datasets, Key="moderation/planted.jsonl", Body=b"{}\n"
    ),
    "delete-moderation-dataset": lambda w, s3: s3.delete_object(Bucket=w.datasets, Key=w.moderation_objects["train"]),
    "copy-moderation-dataset-into-own-prefix": lambda w, s3: s3.copy_object(
        Bucket=w.datasets,
        Key="search/stolen.jsonl",
        CopySource={"Bucket": w.datasets, "Key": w.moderation_objects["train"]},
    ),
    "get-report": lambda w, s3: s3.get_object(Bucket=w.reports, Key=w.moderation_objects["report"]),
    "list-reports": lambda w, s3: s3.list_objects_v2(Bucket=w.reports, Prefix="reports/moderation/"),
    "put-report": lambda w, s3: s3.put_object(Bucket=w.reports, Key=w.moderation_objects["report"], Body=b"{}"),
    "get-job-output": lambda w, s3: s3.get_object(Bucket=w.outputs, Key=w.moderation_objects["output"]),
    "list-job-outputs": lambda w, s3: s3.list_objects_v2(Bucket=w.outputs, Prefix="moderation/"),
}


@pytest.mark.parametrize("attempt", list(S3_ATTEMPTS))
def test_search_cannot_touch_moderations_objects(world: World, attempt: str) -> None:
    s3 = world.search.client("s3")
    mark = world.mark()
    with unchanged(world), pytest.raises(ClientError) as error:
        S3_ATTEMPTS[attempt](world, s3)
    assert error.value.response["Error"]["Code"] == "AccessDenied", error.value.response["Error"]
    denied = world.denied_since(mark, world.role("search"))
    assert len(denied) == 1, denied
    assert denied[0].action.startswith("s3:"), denied
    assert "moderation" in denied[0].resource or denied[0].action == "s3:ListBucket", denied[0]


def test_search_uploads_to_its_own_prefix_and_reads_nothing_back(world: World) -> None:
    """The control: the same client reaches its own team's prefix for what submitting needs (so the refusals
    above are not a broken client), and no more: the submitter role uploads, it does not read datasets back
    (least privilege: no CLI command reads them)."""
    s3 = world.search.client("s3")
    s3.put_object(Bucket=world.datasets, Key="search/control/upload.jsonl", Body=b"{}\n")
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=world.datasets, Key="search/sample/train.jsonl")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert "s3:GetObject" in refused.value.response["Error"]["Message"]


# -- 3 and 4. a run of moderation waiting for its reviewer -----------------------------------------------


@dataclasses.dataclass(frozen=True)
class WaitingRun:
    execution_arn: str
    request_id: str
    token: str  # the task token, read from the state table with the operator's client: a leak


def _approval_item(w: World, request_id: str) -> dict[str, Any] | None:
    table = w.env.resource("dynamodb").Table(w.table)
    item: dict[str, Any] | None = table.get_item(
        Key={"pk": f"approval#moderation#{request_id}"}, ConsistentRead=True
    ).get("Item")
    return item


def _post_decision(w: World, principal_arn: str, session: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """What `bft approve` sends: a SigV4-signed POST to the approval function URL, as ``principal_arn``. A
    reviewer's role has the stack's ReviewerPolicy attached, as the platform team does when it onboards one."""
    if principal_arn in (MODERATION_REVIEWER, SEARCH_REVIEWER):
        _onboard_reviewer(w, principal_arn)
    issued = w.env.authorizer.credentials(principal_arn, session)
    return _post_signed(w, BotoCredentials(issued.access_key, issued.secret_key, issued.token), body)


def _onboard_reviewer(w: World, principal_arn: str) -> None:
    """Attach the stack's ReviewerPolicy to a reviewer's role, as the platform team does (docs/onboard-teams.md)."""
    w.env.store.attach_to_external(principal_arn, str(w.env.stack_output_by_key("ReviewerPolicyArn")))


def _post_signed(w: World, credentials: BotoCredentials, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """As `bft approve`: the decision with its caller's proof (bft.workflow.caller_proof), signed by the caller."""
    return post_decision(
        str(w.env.stack_output_by_key("ApprovalFunctionUrl")),
        body,
        credentials=credentials,
        region=REGION,
        transport=w.env.function_url_transport(),
    )


def _session_credentials(session: Any) -> BotoCredentials:
    frozen = session.get_credentials().get_frozen_credentials()
    return BotoCredentials(frozen.access_key, frozen.secret_key, frozen.token)


@pytest.fixture(scope="class")
def waiting(worlds: _Worlds) -> Iterator[WaitingRun]:
    """A run of moderation, started by its member, trained and parked on its approval task token.

    Afterwards moderation's reviewer rejects it through the function URL: the control that the URL, the
    token and the reviewer's path work, so the refusals in between are refusals.
    """
    w = worlds.get("templates")
    request_id = f"adv-waiting-{int(time.time())}"
    execution, token = _park_for_approval(w, request_id)
    yield WaitingRun(execution, request_id, token)
    status, answer = _post_decision(
        w,
        MODERATION_REVIEWER,
        "moderation-reviewer",
        {"team": "moderation", "requestId": request_id, "approve": False, "reason": "adversarial test over"},
    )
    result = w.env.wait(execution, timeout=60)
    assert (status, result.status) == (200, "FAILED"), answer
    assert result.error == "ApprovalRejected", result.cause


def _park_for_approval(w: World, request_id: str) -> tuple[str, str]:
    """Start a run of moderation as its member and wait until it parks on its approval task token: (execution
    ARN, the token read with the operator's client)."""
    request = {
        "team": "moderation",
        "baseModelId": MODEL,
        "trainingDataUri": f"s3://{w.datasets}/moderation/sample/train.jsonl",
        "hyperParameters": {"epochCount": "2", "learningRate": "0.0001"},
        "serving": {"modelUnits": 1},
        "approvalRequired": True,
        "requestId": request_id,
    }
    execution = w.moderation.client("stepfunctions").start_execution(
        stateMachineArn=w.machine("moderation"), name=request_id, input=json.dumps(request)
    )["executionArn"]
    sfn = w.env.clients("stepfunctions")
    deadline = time.monotonic() + 60
    item = None
    while item is None:
        w.fake.tick()  # simulated time: the job completes and its event resumes the run
        item = _approval_item(w, request_id)
        status = sfn.describe_execution(executionArn=execution)["status"]
        assert status == "RUNNING", w.env.wait(execution).cause
        assert time.monotonic() < deadline, "the run never reached its approval"
        time.sleep(0.05)
    return execution, str(item["token"])


def _hostile(w: World, name: str, statements: list[dict[str, Any]]) -> Any:
    """A session of a principal of the account that is neither member nor reviewer, with its own policy (an
    operator's automation, say): what more rights than the pipeline grants can do."""
    arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
    w.env.store.add_role(
        arn=arn,
        name=name,
        source=f"test:{name}",
        trust=None,
        inline=[("own", {"Version": "2012-10-17", "Statement": statements})],
    )
    return w.env.authorizer.session(w.env.authorizer.credentials(arn, "mallory"))


@pytest.mark.usefixtures("waiting")
class TestModerationRunWaitingForApproval:
    @pytest.mark.parametrize("operation", ["send_task_success", "send_task_failure", "send_task_heartbeat"])
    def test_search_cannot_use_a_leaked_task_token(self, world: World, waiting: WaitingRun, operation: str) -> None:
        sfn = world.search.client("stepfunctions")
        arguments: dict[str, Any] = {"taskToken": waiting.token}
        if operation == "send_task_success":
            arguments["output"] = json.dumps({"approved": True, "reviewer": "search", "reason": "forged"})
        action = "states:" + "".join(part.title() for part in operation.split("_"))
        with unchanged(world), pytest.raises(ClientError) as error:
            getattr(sfn, operation)(**arguments)
        # AWS names the state machine whose execution issued the token.
        refused(error, "AccessDeniedException", action, world.machine("moderation"))
        assert _approval_item(world, waiting.request_id) is not None

    def test_moderations_own_member_cannot_approve_with_its_own_token(self, world: World, waiting: WaitingRun) -> None:
        sfn = world.moderation.client("stepfunctions")
        output = json.dumps({"approved": True, "reviewer": "myself", "reason": "looks fine to me"})
        with unchanged(world), pytest.raises(ClientError) as error:
            sfn.send_task_success(taskToken=waiting.token, output=output)
        refused(error, "AccessDeniedException", "states:SendTaskSuccess", world.machine("moderation"))

    @pytest.mark.parametrize("operation", ["describe_execution", "get_execution_history", "stop_execution"])
    def test_search_cannot_read_or_stop_moderations_run(
        self, world: World, waiting: WaitingRun, operation: str
    ) -> None:
        sfn = world.search.client("stepfunctions")
        action = "states:" + "".join(part.title() for part in operation.split("_"))
        with unchanged(world), pytest.raises(ClientError) as error:
            getattr(sfn, operation)(executionArn=waiting.execution_arn)
        refused(error, "AccessDeniedException", action, waiting.execution_arn)

    def test_search_cannot_read_the_state_table(self, world: World, waiting: WaitingRun) -> None:
        dynamodb = world.search.client("dynamodb")
        key = {"pk": {"S": f"approval#moderation#{waiting.request_id}"}}
        with unchanged(world):
            with pytest.raises(ClientError) as read:
                dynamodb.get_item(TableName=world.table, Key=key)
            with pytest.raises(ClientError) as removed:
                dynamodb.delete_item(TableName=world.table, Key=key)
        refused(read, "AccessDeniedException", "dynamodb:GetItem")
        refused(removed, "AccessDeniedException", "dynamodb:DeleteItem")

    def test_moderations_member_cannot_approve_its_own_run(self, world: World, waiting: WaitingRun) -> None:
        """Its submitter-role session holds no lambda:InvokeFunctionUrl and the function's resource policy names
        only reviewers: Lambda answers 403 before the handler runs."""
        body = {"team": "moderation", "requestId": waiting.request_id, "approve": True, "reason": ""}
        invocations = len(world.env.invocation_log)
        with unchanged(world):
            status, answer = _post_signed(world, _session_credentials(world.moderation), body)
        assert (status, answer) == (403, {"Message": "Forbidden"})
        assert len(world.env.invocation_log) == invocations, "the approval function must not even run"

    @pytest.mark.parametrize(
        ("who", "principal"),
        [("moderation-person", MODERATION_PERSON), ("search-person", SEARCH_PERSON)],
    )
    def test_submitting_people_cannot_approve(
        self, world: World, waiting: WaitingRun, who: str, principal: str
    ) -> None:
        body = {"team": "moderation", "requestId": waiting.request_id, "approve": True, "reason": ""}
        with unchanged(world):
            status, answer = _post_decision(world, principal, who, body)
        assert (status, answer) == (403, {"Message": "Forbidden"})

    def test_search_member_cannot_approve_moderations_run(self, world: World, waiting: WaitingRun) -> None:
        body = {"team": "moderation", "requestId": waiting.request_id, "approve": True, "reason": ""}
        with unchanged(world):
            status, answer = _post_signed(world, _session_credentials(world.search), body)
        assert (status, answer) == (403, {"Message": "Forbidden"})

    def test_searchs_reviewer_cannot_decide_moderations_run(self, world: World, waiting: WaitingRun) -> None:
        """A reviewer of another team passes Lambda's IAM check (its ReviewerPolicy: same account) and is
        refused by the handler: not a reviewer of moderation. The token stays where it was."""
        body = {"team": "moderation", "requestId": waiting.request_id, "approve": True, "reason": ""}
        with unchanged(world):
            status, answer = _post_decision(world, SEARCH_REVIEWER, "search-reviewer", body)
        assert status == 403, answer
        assert answer["error"] == "Forbidden"
        assert "is not a reviewer of team moderation" in answer["message"]

    def test_searchs_reviewer_cannot_redirect_the_decision_to_its_own_team(
        self, world: World, waiting: WaitingRun
    ) -> None:
        """Naming its own team with moderation's request id finds nothing to decide."""
        body = {"team": "search", "requestId": waiting.request_id, "approve": True, "reason": ""}
        with unchanged(world):
            status, answer = _post_decision(world, SEARCH_REVIEWER, "search-reviewer", body)
        assert status == 404, answer
        assert answer["error"] == "NotWaiting"

    @pytest.mark.parametrize(("who", "principal"), [("search-reviewer", SEARCH_REVIEWER), ("search-member", None)])
    def test_the_approval_function_cannot_be_invoked_directly_with_a_forged_caller(
        self, world: World, waiting: WaitingRun, who: str, principal: str | None
    ) -> None:
        """The handler trusts requestContext.authorizer.iam because only the function URL fills it: a direct
        Invoke carrying a forged one (moderation's reviewer) must be refused by IAM. Reviewers may invoke only
        via the URL (lambda:InvokedViaFunctionUrl), members not at all."""
        forged = _forged_url_event(waiting.request_id)
        if principal is not None:
            _onboard_reviewer(world, principal)  # its ReviewerPolicy: allowed through the URL, not directly
        session = world.search if principal is None else world.env.session_as(principal, who)
        function = world.env.physical_id("BftLocalPipeline", "Workflow/Functions/DecideApproval", "Arn")
        invocations = len(world.env.invocation_log)
        with unchanged(world), pytest.raises(ClientError) as error:
            session.client("lambda").invoke(FunctionName=function, Payload=json.dumps(forged).encode())
        refused(error, "AccessDeniedException", "lambda:InvokeFunction", function)
        assert len(world.env.invocation_log) == invocations

    @pytest.mark.parametrize("proof", ["none", "its-own"])
    def test_a_principal_allowed_to_invoke_the_approval_function_directly_cannot_forge_a_reviewer(
        self, world: World, waiting: WaitingRun, proof: str
    ) -> None:
        """Issue #23 (M2): a principal whose own policy allows lambda:InvokeFunction on the approval function
        reaches the handler with a forged requestContext naming moderation's reviewer. Lambda runs it; the
        handler asks STS who signed the decision's proof, and refuses: no proof, or the invoker's own."""
        function = world.env.physical_id("BftLocalPipeline", "Workflow/Functions/DecideApproval", "Arn")
        hostile = _hostile(
            world, "direct-invoker", [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function}]
        )
        forged = _forged_url_event(waiting.request_id)
        if proof == "its-own":
            decision = json.loads(forged["body"]) | {"reason": ""}
            body = decision | {"proof": caller_proof.make_proof(_session_credentials(hostile), REGION, decision)}
            forged["body"] = json.dumps(body)
        with unchanged(world):
            answer = json.loads(
                hostile.client("lambda")
                .invoke(FunctionName=function, Payload=json.dumps(forged).encode())["Payload"]
                .read()
            )
        assert answer["statusCode"] == 403, answer
        message = json.loads(answer["body"])["message"]
        assert ("no proof of the caller" if proof == "none" else "direct-invoker/mallory signed its proof") in message
        assert _approval_item(world, waiting.request_id) is not None, "the run still waits for a reviewer"

    def test_a_submitter_role_listed_as_reviewer_is_still_refused(self, world: World, waiting: WaitingRun) -> None:
        """The configuration cannot list the submitter role as a reviewer (CloudFormation names it at deploy
        time; production forbids it): the handler, called directly with settings that list it, refuses it
        before it takes the token."""
        role = world.role("moderation")
        settings = approval.ApprovalSettings(
            state_table=world.table,
            environment=ENV,
            production=True,
            reviewers={"moderation": [role, MODERATION_REVIEWER]},
            submitters={"moderation": role},
        )
        event = {
            "requestContext": {
                "http": {"method": "POST"},
                "authorizer": {
                    "iam": {
                        "userArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.rsplit('/', 1)[-1]}/moderation-member",
                        "accountId": ACCOUNT,
                        "callerId": "AROAEXAMPLE:moderation-member",
                    }
                },
            },
            "body": json.dumps({"team": "moderation", "requestId": waiting.request_id, "approve": True}),
        }

        def no_sfn() -> Any:
            raise AssertionError("a refused caller must never reach Step Functions")

        with unchanged(world):
            answer = approval.handle_function_url(
                event,
                settings=lambda: settings,
                table=lambda name: world.env.resource("dynamodb").Table(name),
                sfn=no_sfn,
            )
        assert answer["statusCode"] == 403, answer
        assert "submitter never decides on its own team's runs" in json.loads(answer["body"])["message"]


def test_a_principal_holding_send_task_success_resumes_the_run_but_it_never_serves(world: World) -> None:
    """Issue #23 (M2): a principal of the account whose own policy allows states:SendTaskSuccess, holding the
    token, resumes a run waiting for approval with a forged decision. No approval was recorded by the approval
    function: CreateServing refuses, the run fails as rejected, and nothing is served."""
    request_id = f"adv-sendtask-{int(time.time())}"
    execution, token = _park_for_approval(world, request_id)
    hostile = _hostile(
        world, "task-resumer", [{"Effect": "Allow", "Action": "states:SendTaskSuccess", "Resource": "*"}]
    )
    calls = len(world.fake.calls)
    forged = {"approved": True, "reviewer": MODERATION_REVIEWER, "reviewerRole": MODERATION_REVIEWER, "reason": "ok"}
    hostile.client("stepfunctions").send_task_success(taskToken=token, output=json.dumps(forged))
    result = world.env.wait(execution, timeout=60)
    assert (result.status, result.error) == ("FAILED", "ApprovalRejected"), result.cause
    assert f"no approval recorded for moderation/{request_id}" in (result.cause or "")
    served = [
        name for name, _ in world.fake.calls[calls:] if name.startswith(("CreateProvisioned", "CreateCustomModelD"))
    ]
    assert served == [], "an unapproved run must never ask Bedrock to serve"


# -- 5. another team's throughput and custom model -------------------------------------------------------


def _bedrock_attempts(w: World) -> dict[str, tuple[str, str, Callable[[Any, Any], Any]]]:
    """name -> (action AWS names, resource, call(bedrock, runtime))."""
    pt, model = w.moderation_pt, w.moderation_model
    return {
        "delete-throughput": (
            "bedrock:DeleteProvisionedModelThroughput",
            pt,
            lambda b, r: b.delete_provisioned_model_throughput(provisionedModelId=pt),
        ),
        "get-throughput": (
            "bedrock:GetProvisionedModelThroughput",
            pt,
            lambda b, r: b.get_provisioned_model_throughput(provisionedModelId=pt),
        ),
        "retag-throughput-as-search": (
            "bedrock:TagResource",
            pt,
            lambda b, r: b.tag_resource(resourceARN=pt, tags=[{"key": "team", "value": "search"}]),
        ),
        "untag-throughput": (
            "bedrock:UntagResource",
            pt,
            lambda b, r: b.untag_resource(resourceARN=pt, tagKeys=["team"]),
        ),
        "repoint-throughput": (
            "bedrock:UpdateProvisionedModelThroughput",
            pt,
            lambda b, r: b.update_provisioned_model_throughput(provisionedModelId=pt, desiredProvisionedModelName="x"),
        ),
        "tag-custom-model": (
            "bedrock:TagResource",
            model,
            lambda b, r: b.tag_resource(resourceARN=model, tags=[{"key": "team", "value": "search"}]),
        ),
        "delete-custom-model": (
            "bedrock:DeleteCustomModel",
            model,
            lambda b, r: b.delete_custom_model(modelIdentifier=model),
        ),
        "serve-from-throughput": (
            "bedrock:InvokeModel",
            pt,
            lambda b, r: r.converse(modelId=pt, messages=[{"role": "user", "content": [{"text": "hi"}]}]),
        ),
        "new-throughput-on-their-model": (
            "bedrock:CreateProvisionedModelThroughput",
            model,
            lambda b, r: b.create_provisioned_model_throughput(
                provisionedModelName="search-squats", modelId=model, modelUnits=1, tags=run_tags(ENV, "search", "x")
            ),
        ),
    }


BEDROCK_ATTEMPTS = [
    "delete-throughput",
    "get-throughput",
    "retag-throughput-as-search",
    "untag-throughput",
    "repoint-throughput",
    "tag-custom-model",
    "delete-custom-model",
    "serve-from-throughput",
    "new-throughput-on-their-model",
]


@pytest.mark.parametrize("attempt", BEDROCK_ATTEMPTS)
def test_search_cannot_touch_moderations_bedrock_resources(world: World, attempt: str) -> None:
    action, resource, call = _bedrock_attempts(world)[attempt]
    bedrock, runtime = world.search.client("bedrock"), world.search.client("bedrock-runtime")
    with unchanged(world), pytest.raises(ClientError) as error:
        call(bedrock, runtime)
    refused(error, "AccessDeniedException", action, resource)
    assert world.fake.resource_tags(world.moderation_pt)["team"] == "moderation"


def _run_search(w: World, request: dict[str, Any]) -> tuple[Any, dict[str, Any] | None, list[Any]]:
    """Search's member submits ``request`` to its own state machine; the result, its report and the Bedrock
    calls the run made."""
    calls = len(w.fake.calls)
    execution = w.search.client("stepfunctions").start_execution(
        stateMachineArn=w.machine("search"), name=request["requestId"], input=json.dumps(request)
    )["executionArn"]
    result = w.env.wait(execution, timeout=60)
    bedrock_calls = w.fake.calls[calls:]
    s3 = w.env.clients("s3")
    report: dict[str, Any] | None = None
    # An accepted run's record is under its request id; a refused one's under _refused/<execution name>.
    for folder in (request["requestId"], f"{REFUSED_FOLDER}/{request['requestId']}"):
        try:
            body = s3.get_object(Bucket=w.reports, Key=f"reports/search/{folder}/run.json")["Body"].read()
        except s3.exceptions.NoSuchKey:
            continue
        report = json.loads(body)
        break
    return result, report, bedrock_calls


def _search_request(w: World, request_id: str) -> dict[str, Any]:
    return {
        "team": "search",
        "baseModelId": MODEL,
        "trainingDataUri": f"s3://{w.datasets}/search/sample/train.jsonl",
        "validationDataUri": f"s3://{w.datasets}/search/sample/validation.jsonl",
        "hyperParameters": {"epochCount": "2", "learningRate": "0.0001"},
        "serving": {"modelUnits": 1},
        "evaluation": {"dataUri": f"s3://{w.datasets}/search/sample/evaluation.jsonl", "threshold": 0.5},
        "requestId": request_id,
    }


# How a request of search's may name what is moderation's: each is refused by ValidateRequest, before any
# Bedrock call. (The request format has no field for a model to serve: the workflow serves only what its
# own job trained.)
def _hostile_requests(w: World) -> dict[str, Callable[[dict[str, Any]], None]]:
    moderation = f"s3://{w.datasets}/moderation/sample"
    return {
        "base-model-is-moderations-custom-model": lambda r: r.update(baseModelId=w.moderation_model),
        "base-model-is-moderations-throughput": lambda r: r.update(baseModelId=w.moderation_pt),
        "serving-names-moderations-model": lambda r: r["serving"].update(modelArn=w.moderation_model),
        "serving-names-moderations-throughput": lambda r: r["serving"].update(provisionedModelArn=w.moderation_pt),
        "training-data-in-moderation": lambda r: r.update(trainingDataUri=f"{moderation}/train.jsonl"),
        "validation-data-in-moderation": lambda r: r.update(validationDataUri=f"{moderation}/validation.jsonl"),
        "evaluation-data-in-moderation": lambda r: r["evaluation"].update(dataUri=f"{moderation}/evaluation.jsonl"),
        "training-data-dotdot-into-moderation": lambda r: r.update(
            trainingDataUri=f"s3://{w.datasets}/search/../moderation/sample/train.jsonl"
        ),
        "training-data-in-the-reports-bucket": lambda r: r.update(
            trainingDataUri=f"s3://{w.reports}/{w.moderation_objects['report']}"
        ),
    }


HOSTILE_REQUESTS = [
    "base-model-is-moderations-custom-model",
    "base-model-is-moderations-throughput",
    "serving-names-moderations-model",
    "serving-names-moderations-throughput",
    "training-data-in-moderation",
    "validation-data-in-moderation",
    "evaluation-data-in-moderation",
    "training-data-dotdot-into-moderation",
    "training-data-in-the-reports-bucket",
]


@pytest.mark.parametrize("hostile", HOSTILE_REQUESTS)
def test_search_requests_naming_moderations_resources_are_invalid(world: World, hostile: str) -> None:
    """6 (data) and 5 (models): refused by ValidateRequest before any Bedrock call; nothing of moderation's
    changes. The run's own report and notification (and the record that it was sent) are all it leaves."""
    request = _search_request(world, f"adv-{hostile}"[:40].rstrip("-"))
    _hostile_requests(world)[hostile](request)
    before = snapshot(world)
    result, report, bedrock_calls = _run_search(world, request)
    after = snapshot(world)

    assert result.status == "FAILED"
    assert result.error == "RequestInvalid", (result.error, result.cause)
    assert report is not None
    assert report["outcome"] == "request_invalid", report
    assert bedrock_calls == [], f"ValidateRequest must refuse before Bedrock is called: {bedrock_calls}"
    assert "StartJob" not in result.states_visited
    assert "CreateServing" not in result.states_visited
    assert after["counters"] == before["counters"]
    new_objects = {key for key in after["objects"] if key not in before["objects"]}
    refused = f"{world.reports}/reports/search/{REFUSED_FOLDER}/{request['requestId']}/"
    assert all(key.startswith(refused) for key in new_objects), new_objects
    assert {k: v for k, v in after["objects"].items() if k in before["objects"]} == before["objects"]
    assert {k: v for k, v in after["executions"].items() if k in before["executions"]} == before["executions"]
    assert set(after["executions"]) - set(before["executions"]) == {result.execution_arn}
    new_items = [json.loads(item)["pk"] for item in after["state_items"] if item not in before["state_items"]]
    assert new_items == [f"notified#{result.execution_arn}"], "only the run's record that it notified"
    assert set(before["state_items"]) <= set(after["state_items"])
    for part in ("custom_models", "jobs", "throughputs", "tags"):
        assert after[part] == before[part], part


def _notifications_for(w: World, team: str) -> list[dict[str, Any]]:
    return [
        message
        for message in w.env.sns_messages(w.topic)
        if (message["attributes"].get("team") or {}).get(
            "Value", (message["attributes"].get("team") or {}).get("StringValue")
        )
        == team
    ]


def test_a_request_claiming_moderations_team_leaves_moderations_reports_alone(world: World) -> None:
    """Search's member submits to its OWN machine a request that claims team moderation and the id of one
    of moderation's runs. ValidateRequest refuses it (team does not match the machine) before any Bedrock
    call; what it must not do is write into moderation's reports or speak to moderation's subscribers."""
    request = _search_request(world, "earlier-run")  # the id of moderation's run whose report exists
    request["team"] = "moderation"
    key = f"{world.reports}/{world.moderation_objects['report']}"
    before = snapshot(world)
    notified = len(_notifications_for(world, "moderation"))
    result, _report, bedrock_calls = _run_search(world, request)
    after = snapshot(world)

    assert (result.status, result.error) == ("FAILED", "RequestInvalid"), result.cause
    assert "does not match this state machine's team 'search'" in str(result.cause)
    assert bedrock_calls == []
    prefix = f"{world.reports}/reports/moderation/"
    problems = []
    if {k: v for k, v in after["objects"].items() if k.startswith(prefix)} != {
        k: v for k, v in before["objects"].items() if k.startswith(prefix)
    }:
        problems.append(f"search's refused request rewrote moderation's report {key}")
    if len(_notifications_for(world, "moderation")) != notified:
        problems.append("search's refused request notified moderation's subscribers (team=moderation)")
    assert problems == []


# -- side doors: the notification topic, the event bus, the data key, the workflow's functions ----------

SIDE_DOORS: dict[str, tuple[str, str, Callable[[World, Any], Any]]] = {
    "publish-a-spoofed-notification": (
        "AuthorizationError",
        "sns:Publish",
        lambda w, s: s.client("sns").publish(
            TopicArn=w.topic,
            Subject="[bft local] approval needed",
            Message="approve at https://evil.example",
            MessageAttributes={"team": {"DataType": "String", "StringValue": "moderation"}},
        ),
    ),
    "subscribe-to-moderations-notifications": (
        "AuthorizationError",
        "sns:Subscribe",
        lambda w, s: s.client("sns").subscribe(TopicArn=w.topic, Protocol="email", Endpoint="spy@example.com"),
    ),
    "forge-a-bedrock-job-event": (
        "AccessDeniedException",
        "events:PutEvents",
        lambda w, s: s.client("events").put_events(
            Entries=[
                {
                    "Source": "aws.bedrock",
                    "DetailType": "Model Customization Job State Change",
                    "Detail": json.dumps({"jobName": "bft-local-moderation-x", "status": "Completed"}),
                }
            ]
        ),
    ),
    "use-the-data-key-directly": (
        "AccessDeniedException",
        "kms:GenerateDataKey",
        lambda w, s: s.client("kms").generate_data_key(
            KeyId=str(w.env.stack_output_by_key("DataKeyArn")), KeySpec="AES_256"
        ),
    ),
    "invoke-a-workflow-function": (
        "AccessDeniedException",
        "lambda:InvokeFunction",
        lambda w, s: s.client("lambda").invoke(
            FunctionName=w.env.physical_id("BftLocalPipeline", "Workflow/Functions/Cleanup", "Arn"),
            Payload=json.dumps({"state": {"run": {"team": "moderation"}}}).encode(),
        ),
    ),
}


@pytest.mark.parametrize("door", list(SIDE_DOORS))
def test_search_finds_no_side_door(world: World, door: str) -> None:
    code, action, call = SIDE_DOORS[door]
    with unchanged(world), pytest.raises(ClientError) as error:
        call(world, world.search)
    refused(error, code, action)


# -- 7. another team's role ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "principal"),
    [("search-person", SEARCH_PERSON), ("moderation-reviewer", MODERATION_REVIEWER)],
)
def test_others_cannot_assume_moderations_submitter_role(world: World, who: str, principal: str) -> None:
    with unchanged(world), pytest.raises(AccessDeniedError) as error:
        world.env.session_as(world.role("moderation"), who, caller=principal)
    assert error.value.action == "sts:AssumeRole"
    assert f"User: {principal} is not authorized to perform: sts:AssumeRole" in str(error.value)
    assert "because no resource-based policy allows" in str(error.value)


def test_moderations_own_person_cannot_assume_its_role_without_naming_itself(world: World) -> None:
    """The submitter role trusts only sessions with a source identity (issue #23): CloudTrail then names the
    person behind every call of the role, StartExecution included."""
    with pytest.raises(AccessDeniedError) as denied:
        world.env.session_as(world.role("moderation"), "anonymous", caller=MODERATION_PERSON, source_identity=None)
    assert denied.value.action == "sts:AssumeRole"
    world.env.session_as(world.role("moderation"), "named", caller=MODERATION_PERSON, source_identity="alice")


def test_searchs_role_session_cannot_assume_moderations_role_through_sts(world: World) -> None:
    sts = world.search.client("sts")
    with unchanged(world), pytest.raises(ClientError) as error:
        sts.assume_role(RoleArn=world.role("moderation"), RoleSessionName="hop")
    refused(error, "AccessDenied", "sts:AssumeRole", world.role("moderation"))


# -- 8. the alarms' path into the encrypted topic --------------------------------------------------------


def _alarm_publish(w: World, source_arn: str, source_account: str = ACCOUNT) -> Any:
    return w.env.authorizer.decide(
        Principal("cloudwatch.amazonaws.com", type="Service"),
        Call("sns", "Publish", {"TopicArn": w.topic, "Message": "ALARM"}, REGION, ACCOUNT),
        context={"aws:SourceAccount": source_account, "aws:SourceArn": source_arn},
    )


def test_an_alarm_of_this_account_may_publish_to_the_encrypted_topic(world: World) -> None:
    mark = world.mark()
    assert _alarm_publish(world, f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:bft-local-job-failures") is None
    decided = world.env.authorizer.records[mark:]
    assert {r.action for r in decided if r.allowed} >= {"sns:Publish", "kms:GenerateDataKey"}, decided
    kms = [r for r in decided if r.action.startswith("kms:")]
    assert kms, "publishing to the encrypted topic uses its key"
    assert all(r.implicit for r in kms), "the topic's key is used implicitly, via SNS"


@pytest.mark.parametrize(
    ("source_arn", "source_account"),
    [
        ("arn:aws:cloudwatch:us-west-2:210987654321:alarm:theirs", "210987654321"),
        ("arn:aws:cloudwatch:us-west-2:210987654321:alarm:theirs", ACCOUNT),
        ("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:other-region", ACCOUNT),
        (f"arn:aws:events:{REGION}:{ACCOUNT}:rule/not-an-alarm", ACCOUNT),
    ],
    ids=["other-account", "other-account-arn-claiming-ours", "other-region", "not-an-alarm"],
)
def test_an_alarm_of_another_account_may_not_publish(world: World, source_arn: str, source_account: str) -> None:
    found = _alarm_publish(world, source_arn, source_account)
    assert found is not None, "the confused-deputy guard must refuse"
    request, decision = found
    assert request.action == "sns:Publish"
    assert not decision.allowed


# -- the refusals come from the policies: loosen one statement, and the same attempt succeeds -------------


def _loosen(assembly: Path, destination: Path) -> Path:
    """A copy of ``assembly`` with four statements loosened: search's StartExecution also on moderation's
    machine; search's throughput deletes without the team tag condition; moderation's trust policy also
    naming search's person; the reviewers' policy allowing lambda:InvokeFunction without
    lambda:InvokedViaFunctionUrl."""
    shutil.copytree(assembly, destination)
    # Each team's statements live in its own stack (BftLocalTeam<Name>).
    files = {team: destination / f"BftLocalTeam{team.capitalize()}.template.json" for team in ("moderation", "search")}
    templates = {team: json.loads(path.read_text()) for team, path in files.items()}

    def logical_id(team: str, prefix: str, type_: str) -> str:
        resources = templates[team]["Resources"]
        (found,) = [k for k, v in resources.items() if k.startswith(prefix) and v["Type"] == type_]
        return found

    search, moderation = templates["search"]["Resources"], templates["moderation"]["Resources"]
    policy = search[logical_id("search", "AccessSubmitterRoleDefaultPolicy", "AWS::IAM::Policy")]
    # Moderation's machine by its ARN: its name is fixed (bft.registry.state_machine_name).
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{state_machine_name(ENV, 'moderation')}"
    loosened = set()
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if "states:StartExecution" in actions:
            statement["Resource"] = [statement["Resource"], machine]
            loosened.add("start")
        if "bedrock:DeleteProvisionedModelThroughput" in actions:
            del statement["Condition"]["StringEquals"]["aws:ResourceTag/team"]
            loosened.add("delete")
    role = moderation[logical_id("moderation", "AccessSubmitterRole", "AWS::IAM::Role")]
    role["Properties"]["AssumeRolePolicyDocument"]["Statement"].append(
        {"Action": ["sts:AssumeRole", "sts:SetSourceIdentity"], "Effect": "Allow", "Principal": {"AWS": SEARCH_PERSON}}
    )
    # Same-account reviewers call the URL through the pipeline's ReviewerPolicy (no resource-policy statement
    # per reviewer): its InvokeFunction statement loses the InvokedViaFunctionUrl condition.
    pipeline_path = destination / "BftLocalPipeline.template.json"
    pipeline = json.loads(pipeline_path.read_text())
    for logical, resource in pipeline["Resources"].items():
        if resource["Type"] != "AWS::IAM::ManagedPolicy" or not logical.startswith("ApprovalsReviewerPolicy"):
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Action"] == "lambda:InvokeFunction" and "lambda:InvokedViaFunctionUrl" in json.dumps(
                statement.get("Condition")
            ):
                del statement["Condition"]
                loosened.add(f"direct-invoke:{logical}")
    assert len(loosened) == 3, f"the statements to loosen are not in the template any more: {loosened}"
    for team, path in files.items():
        path.write_text(json.dumps(templates[team]))
    pipeline_path.write_text(json.dumps(pipeline))
    return destination


@pytest.fixture
def loosened(worlds: _Worlds) -> World:
    return worlds.get("loosened", lambda: _loosen(worlds.assembly, worlds.scratch / "loosened-assembly"))


class TestTheRefusalsComeFromThePolicies:
    def test_start_execution_on_moderations_machine_once_allowed(self, loosened: World) -> None:
        request = {"team": "search", "baseModelId": MODEL, "requestId": "loosened-start"}
        sfn = loosened.search.client("stepfunctions")
        # The same helper the refusals are checked with notices the new execution.
        started: list[str] = []
        with pytest.raises(AssertionError, match="the attempt changed executions"), unchanged(loosened):
            started.append(
                sfn.start_execution(
                    stateMachineArn=loosened.machine("moderation"), name="loosened-start", input=json.dumps(request)
                )["executionArn"]
            )
        (execution,) = started
        result = loosened.env.wait(execution, timeout=60)
        assert execution.startswith(loosened.machine("moderation").replace(":stateMachine:", ":execution:"))
        # ValidateRequest still refuses search's team on moderation's machine: the request check is a second wall.
        assert result.error == "RequestInvalid", result.cause

    def test_deleting_moderations_throughput_once_the_team_condition_is_gone(self, loosened: World) -> None:
        bedrock = loosened.search.client("bedrock")
        with pytest.raises(AssertionError, match="Bedrock received changing calls"), unchanged(loosened):
            bedrock.delete_provisioned_model_throughput(provisionedModelId=loosened.moderation_pt)
        remaining = {pt["provisionedModelArn"] for pt in loosened.fake.provisioned_throughputs()}
        assert loosened.moderation_pt not in remaining

    def test_assuming_moderations_role_once_trusted(self, loosened: World) -> None:
        session = loosened.env.session_as(loosened.role("moderation"), "loosened", caller=SEARCH_PERSON)
        # With moderation's role, search may now do what moderation's member may: start moderation's machine.
        machine = loosened.machine("moderation")
        assert session.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"] is not None

    def test_invoking_the_approval_function_directly_once_not_limited_to_the_url(self, loosened: World) -> None:
        """Without the InvokedViaFunctionUrl condition a reviewer of search reaches the handler directly; the
        handler does not believe the forged caller (no proof STS vouches for): 403, before it looks for a run."""
        forged = _forged_url_event("nothing-waits")
        _onboard_reviewer(loosened, SEARCH_REVIEWER)
        session = loosened.env.session_as(SEARCH_REVIEWER, "search-reviewer")
        function = loosened.env.physical_id("BftLocalPipeline", "Workflow/Functions/DecideApproval", "Arn")
        answer = json.loads(
            session.client("lambda")
            .invoke(FunctionName=function, Payload=json.dumps(forged).encode())["Payload"]
            .read()
        )
        assert answer["statusCode"] == 403, answer
        assert "no proof of the caller" in json.loads(answer["body"])["message"]
