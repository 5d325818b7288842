"""Creating the resources of a template in moto, one CloudFormation type at a time.

Each supported type resolves only the properties it needs, creates the resource
through a boto3 client bound to moto and returns its ``Ref`` value and the
attributes ``Fn::GetAtt`` may ask for. Names the template leaves out are
generated the way CloudFormation does (stack name, logical id, a suffix), but
deterministically, so a demo prints the same names on every run.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bft_twin.iam.store import PolicyStore
from bft_twin.offline._assembly import ResourceSpec
from bft_twin.offline._imports import public_layer_packages
from bft_twin.offline._intrinsics import IntrinsicError, Pseudo, Resolver
from bft_twin.offline._lambda import InProcessFunction

__all__ = ["BudgetActionSpec", "Created", "ResourceFactory", "RuleSpec", "StateMachineSpec"]

logger = logging.getLogger(__name__)

Clients = Callable[[str], Any]


@dataclass(frozen=True)
class Created:
    """A resource that exists in moto: its ``Ref`` value and ``Fn::GetAtt`` attributes."""

    spec: ResourceSpec
    ref: Any
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def get_att(self, attribute: str) -> Any:
        if attribute not in self.attributes:
            raise IntrinsicError(
                f"{self.spec.where}: Fn::GetAtt {attribute!r} is not supported offline "
                f"(supported: {', '.join(sorted(self.attributes)) or 'none'})"
            )
        return self.attributes[attribute]


@dataclass(frozen=True)
class RuleSpec:
    """An EventBridge rule of the assembly, with its targets resolved."""

    spec: ResourceSpec
    name: str
    arn: str
    event_bus: str
    pattern: Mapping[str, Any] | None
    schedule: str | None
    enabled: bool
    targets: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class BudgetActionSpec:
    """An AWS Budgets action of the assembly (moto has no budget actions): what it would attach, to whom,
    as which role, at which threshold. :func:`bft_twin.offline.apply_budget_action` runs one."""

    spec: ResourceSpec
    action_id: str
    budget_name: str
    action_type: str
    policy_arn: str
    roles: tuple[str, ...]
    execution_role_arn: str
    threshold: float
    threshold_type: str
    notification_type: str
    approval_model: str


@dataclass(frozen=True)
class StateMachineSpec:
    spec: ResourceSpec
    name: str
    arn: str


def generated_name(spec: ResourceSpec, *, max_length: int, lower: bool = False, suffix: str = "") -> str:
    """``<stack>-<logical id>-<suffix>`` as CloudFormation names resources, but stable across runs."""
    digest = base64.b32encode(hashlib.sha256(f"{spec.stack}/{spec.logical_id}".encode()).digest()).decode()
    unique = digest[:12]
    keep = max_length - len(unique) - 1 - len(suffix)
    name = f"{spec.stack}-{spec.logical_id}"[:keep].rstrip("-") + f"-{unique}{suffix}"
    return name.lower() if lower else name


def _dummy_zip() -> bytes:
    # moto only needs a valid zip; the code that runs is the asset folder, in process.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    raise RuntimeError('runs in process')\n")
    return buffer.getvalue()


class ResourceFactory:
    """Creates supported resource types in moto and collects what the runner needs afterwards."""

    def __init__(self, *, clients: Clients, pseudo: Pseudo, module_prefix: str, store: PolicyStore) -> None:
        self._clients = clients
        self._pseudo = pseudo
        self.module_prefix = module_prefix
        self.store = store
        self.function_urls: dict[str, tuple[str, str]] = {}  # URL -> (function ARN, auth type)
        self._zip = _dummy_zip()
        self.functions: list[InProcessFunction] = []
        self.rules: list[RuleSpec] = []
        self.state_machines: list[StateMachineSpec] = []
        self.budget_actions: list[BudgetActionSpec] = []
        self.layer_dirs: dict[str, Path] = {}  # layer version ARN -> asset folder
        self._creators: dict[str, Callable[[ResourceSpec, Resolver], Created]] = {
            "AWS::S3::Bucket": self._bucket,
            "AWS::KMS::Key": self._key,
            "AWS::KMS::Alias": self._alias,
            "AWS::SNS::Topic": self._topic,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::SQS::Queue": self._queue,
            "AWS::DynamoDB::Table": self._table,
            "AWS::DynamoDB::GlobalTable": self._table,
            "AWS::IAM::Role": self._role,
            "AWS::Lambda::Function": self._function,
            "AWS::Lambda::LayerVersion": self._layer,
            "AWS::Lambda::EventSourceMapping": self._event_source_mapping,
            "AWS::SSM::Parameter": self._parameter,
            "AWS::Events::EventBus": self._event_bus,
            "AWS::Events::Rule": self._rule,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::StepFunctions::Activity": self._activity,
            "AWS::Logs::LogGroup": self._log_group,
            # Policies: nothing to create in moto (it does not enforce them); the offline authorization reads them.
            "AWS::IAM::Policy": self._policy,
            "AWS::IAM::ManagedPolicy": self._managed_policy,
            "AWS::S3::BucketPolicy": self._bucket_policy,
            "AWS::SNS::TopicPolicy": self._topic_policy,
            "AWS::Lambda::Permission": self._permission,
            "AWS::Lambda::Url": self._function_url,
            "AWS::Budgets::Budget": self._budget,
            "AWS::Budgets::BudgetsAction": self._budget_action,
        }

    def supports(self, resource_type: str) -> bool:
        return resource_type in self._creators

    def create(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        return self._creators[spec.type](spec, resolver)

    # -- helpers ----------------------------------------------------------------------------------

    def _prop(self, spec: ResourceSpec, resolver: Resolver, name: str, default: Any = None) -> Any:
        if name not in spec.properties:
            return default
        value = resolver.resolve(spec.properties[name], f"{spec.where} property {name}")
        return default if value is None else value

    def _tags(self, spec: ResourceSpec, resolver: Resolver) -> dict[str, str]:
        """The template's ``Tags`` (a list of Key/Value, or a map for SSM parameters): the resource's
        aws:ResourceTag keys and, for a role, its aws:PrincipalTag keys."""
        tags = self._prop(spec, resolver, "Tags", [])
        if isinstance(tags, Mapping):
            return {str(k): str(v) for k, v in tags.items()}
        return {str(t["Key"]): str(t["Value"]) for t in tags}

    def _arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self._pseudo.partition}:{service}:{self._pseudo.region if region else ''}:"
            f"{self._pseudo.account_id if account else ''}:{resource}"
        )

    # -- storage ----------------------------------------------------------------------------------

    def _bucket(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        s3 = self._clients("s3")
        name = self._prop(spec, resolver, "BucketName") or generated_name(spec, max_length=63, lower=True)
        if self._pseudo.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self._pseudo.region})
        versioning = self._prop(spec, resolver, "VersioningConfiguration")
        if versioning:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["Status"]})
        encryption = self._prop(spec, resolver, "BucketEncryption")
        if encryption:
            # CloudFormation's ServerSideEncryptionByDefault is the API's ApplyServerSideEncryptionByDefault.
            rules = [
                {
                    ("Apply" + key if key == "ServerSideEncryptionByDefault" else key): value
                    for key, value in rule.items()
                }
                for rule in encryption.get("ServerSideEncryptionConfiguration", [])
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        region, suffix = self._pseudo.region, self._pseudo.url_suffix
        return Created(
            spec,
            name,
            {
                "Arn": self._arn("s3", name, region=False, account=False),
                "DomainName": f"{name}.s3.{suffix}",
                "RegionalDomainName": f"{name}.s3.{region}.{suffix}",
                "DualStackDomainName": f"{name}.s3.dualstack.{region}.{suffix}",
                "WebsiteURL": f"http://{name}.s3-website-{region}.{suffix}",
            },
        )

    def _key(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        metadata = self._clients("kms").create_key(
            Description=self._prop(spec, resolver, "Description", ""),
            KeyUsage=self._prop(spec, resolver, "KeyUsage", "ENCRYPT_DECRYPT"),
            KeySpec=self._prop(spec, resolver, "KeySpec", "SYMMETRIC_DEFAULT"),
            Tags=[{"TagKey": k, "TagValue": v} for k, v in self._tags(spec, resolver).items()],
        )["KeyMetadata"]
        # moto does not enforce key policies; the offline authorization does. CloudFormation gives a key
        # without KeyPolicy the default policy, which delegates to the account's IAM policies.
        policy = self._prop(spec, resolver, "KeyPolicy") or {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{self._pseudo.partition}:iam::{self._pseudo.account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
        self.store.set_key_policy(metadata["Arn"], policy, f"{spec.stack}/{spec.logical_id}")
        return Created(spec, metadata["KeyId"], {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]})

    def _alias(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        name = self._prop(spec, resolver, "AliasName")
        target = str(self._prop(spec, resolver, "TargetKeyId")).rsplit("/", 1)[-1]
        self._clients("kms").create_alias(AliasName=name, TargetKeyId=target)
        return Created(spec, name, {})

    def _topic(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        fifo = str(self._prop(spec, resolver, "FifoTopic", "false")).lower() == "true"
        name = self._prop(spec, resolver, "TopicName") or generated_name(
            spec, max_length=256, suffix=".fifo" if fifo else ""
        )
        attributes = {"FifoTopic": "true"} if fifo else {}
        for key in ("DisplayName", "KmsMasterKeyId", "ContentBasedDeduplication"):
            value = self._prop(spec, resolver, key)
            if value is not None:
                attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        tags = [{"Key": k, "Value": v} for k, v in self._tags(spec, resolver).items()]
        arn = self._clients("sns").create_topic(Name=name, Attributes=attributes, Tags=tags)["TopicArn"]
        return Created(spec, arn, {"TopicArn": arn, "TopicName": name})

    def _subscription(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        # moto delivers to "lambda" subscriptions through LambdaFunction.invoke: in process here.
        attributes: dict[str, str] = {}
        for key in ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy"):
            value = self._prop(spec, resolver, key)
            if value is not None:
                attributes[key] = json.dumps(value) if isinstance(value, dict) else str(value).lower()
        arn = self._clients("sns").subscribe(
            TopicArn=self._prop(spec, resolver, "TopicArn"),
            Protocol=self._prop(spec, resolver, "Protocol"),
            Endpoint=self._prop(spec, resolver, "Endpoint"),
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return Created(spec, arn, {"Arn": arn})

    def _queue(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        fifo = str(self._prop(spec, resolver, "FifoQueue", "false")).lower() == "true"
        name = self._prop(spec, resolver, "QueueName") or generated_name(
            spec, max_length=80, suffix=".fifo" if fifo else ""
        )
        attributes: dict[str, str] = {}
        for key in ("FifoQueue", "ContentBasedDeduplication", "VisibilityTimeout", "MessageRetentionPeriod"):
            value = self._prop(spec, resolver, key)
            if value is not None:
                attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        redrive = self._prop(spec, resolver, "RedrivePolicy")
        if redrive:
            attributes["RedrivePolicy"] = json.dumps(redrive)
        sqs = self._clients("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return Created(spec, url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _table(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        # AWS::DynamoDB::Table and AWS::DynamoDB::GlobalTable (CDK's TableV2) share the fields used here.
        name = self._prop(spec, resolver, "TableName") or generated_name(spec, max_length=255)
        on_demand = self._prop(spec, resolver, "BillingMode", "PROVISIONED") == "PAY_PER_REQUEST"
        default_throughput = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": self._prop(spec, resolver, "KeySchema"),
            "AttributeDefinitions": self._prop(spec, resolver, "AttributeDefinitions"),
            "BillingMode": "PAY_PER_REQUEST" if on_demand else "PROVISIONED",
        }
        if not on_demand:
            request["ProvisionedThroughput"] = self._prop(spec, resolver, "ProvisionedThroughput", default_throughput)
        indexes = []
        for index in self._prop(spec, resolver, "GlobalSecondaryIndexes", []):
            entry = {key: index[key] for key in ("IndexName", "KeySchema", "Projection") if key in index}
            if not on_demand:
                entry["ProvisionedThroughput"] = index.get("ProvisionedThroughput", default_throughput)
            indexes.append(entry)
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        local_indexes = self._prop(spec, resolver, "LocalSecondaryIndexes")
        if local_indexes:
            request["LocalSecondaryIndexes"] = [
                {key: index[key] for key in ("IndexName", "KeySchema", "Projection")} for index in local_indexes
            ]
        stream = self._prop(spec, resolver, "StreamSpecification")
        if stream and stream.get("StreamViewType"):
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        own = self._tags(spec, resolver)
        if spec.type == "AWS::DynamoDB::GlobalTable":  # a TableV2's tags are its replica's
            replicas = self._prop(spec, resolver, "Replicas", [])
            here = [r for r in replicas if r.get("Region", self._pseudo.region) == self._pseudo.region]
            own = {str(t["Key"]): str(t["Value"]) for r in here[:1] for t in r.get("Tags", [])}
        if own:
            request["Tags"] = [{"Key": k, "Value": v} for k, v in own.items()]
        dynamodb = self._clients("dynamodb")
        table = dynamodb.create_table(**request)["TableDescription"]
        ttl = self._prop(spec, resolver, "TimeToLiveSpecification")
        if ttl and ttl.get("Enabled", True) and ttl.get("AttributeName"):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
            )
        attributes = {"Arn": table["TableArn"], "TableId": table.get("TableId", name)}
        if table.get("LatestStreamArn"):
            attributes["StreamArn"] = table["LatestStreamArn"]
        return Created(spec, name, attributes)

    # -- compute ----------------------------------------------------------------------------------

    def _role(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        name = self._prop(spec, resolver, "RoleName") or generated_name(spec, max_length=64)
        trust = self._prop(spec, resolver, "AssumeRolePolicyDocument", {})
        tags = self._tags(spec, resolver)
        role = self._clients("iam").create_role(
            RoleName=name,
            Path=self._prop(spec, resolver, "Path", "/"),
            AssumeRolePolicyDocument=json.dumps(trust),
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )["Role"]
        self.store.add_role(
            arn=role["Arn"],
            name=name,
            source=f"{spec.stack}/{spec.logical_id}",
            trust=trust,
            inline=[(p["PolicyName"], p["PolicyDocument"]) for p in self._prop(spec, resolver, "Policies", [])],
            managed_arns=self._prop(spec, resolver, "ManagedPolicyArns", []),
            boundary_arn=self._prop(spec, resolver, "PermissionsBoundary"),
            role_id=role["RoleId"],
            tags=tags,
        )
        return Created(spec, name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def _function(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        name = self._prop(spec, resolver, "FunctionName") or generated_name(spec, max_length=64)
        runtime = self._prop(spec, resolver, "Runtime") or "image"
        handler = self._prop(spec, resolver, "Handler") or "index.handler"
        environment = {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in (self._prop(spec, resolver, "Environment", {}).get("Variables") or {}).items()
        }
        timeout = int(self._prop(spec, resolver, "Timeout", 3))
        memory = int(self._prop(spec, resolver, "MemorySize", 128))
        code = spec.properties.get("Code", {})
        inline = code.get("ZipFile") if isinstance(code, Mapping) else None
        # Layers are not passed to moto (it would look them up): asset layers are the function's import path
        # (their python/ folders), public ones by ARN resolve from this process (_imports.py).
        layers = [str(arn) for arn in self._prop(spec, resolver, "Layers", [])]
        layer_dirs = tuple(self.layer_dirs[arn] / "python" for arn in layers if arn in self.layer_dirs)
        public = frozenset().union(*(public_layer_packages(arn) for arn in layers if arn not in self.layer_dirs))
        arn = self._clients("lambda").create_function(
            FunctionName=name,
            Runtime=runtime if runtime != "image" else "python3.12",
            Role=self._prop(spec, resolver, "Role"),
            Handler=handler,
            Code={"ZipFile": self._zip},
            Environment={"Variables": environment},
            Timeout=timeout,
            MemorySize=memory,
            Tags=self._tags(spec, resolver),
        )["FunctionArn"]
        self.functions.append(
            InProcessFunction(
                stack=spec.stack,
                logical_id=spec.logical_id,
                friendly_name=spec.friendly_name,
                function_name=name,
                function_arn=arn,
                handler=handler,
                runtime=runtime,
                code_dir=spec.asset_dir,
                environment=environment,
                timeout_s=timeout,
                memory_mb=memory,
                region=self._pseudo.region,
                module_prefix=self.module_prefix,
                inline_code=resolver.resolve(inline, f"{spec.where} property Code.ZipFile") if inline else None,
                role_arn=self._prop(spec, resolver, "Role"),
                layer_dirs=tuple(path for path in layer_dirs if path.is_dir()),
                public_packages=public,
            )
        )
        return Created(spec, name, {"Arn": arn})

    def _layer(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        name = self._prop(spec, resolver, "LayerName") or generated_name(spec, max_length=64)
        arn = self._clients("lambda").publish_layer_version(LayerName=name, Content={"ZipFile": self._zip})[
            "LayerVersionArn"
        ]
        if spec.asset_dir is not None:
            self.layer_dirs[arn] = spec.asset_dir
        return Created(spec, arn, {"LayerVersionArn": arn})

    def _event_source_mapping(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        # moto invokes the function on queue messages and stream records; the invocation runs in process.
        request: dict[str, Any] = {
            "EventSourceArn": self._prop(spec, resolver, "EventSourceArn"),
            "FunctionName": self._prop(spec, resolver, "FunctionName"),
            "Enabled": bool(self._prop(spec, resolver, "Enabled", True)),
        }
        for key in ("BatchSize", "StartingPosition"):
            value = self._prop(spec, resolver, key)
            if value is not None:
                request[key] = value
        uuid = self._clients("lambda").create_event_source_mapping(**request)["UUID"]
        return Created(spec, uuid, {"Id": uuid})

    def _parameter(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        name = self._prop(spec, resolver, "Name") or f"CFN-{generated_name(spec, max_length=128)}"
        kind = self._prop(spec, resolver, "Type", "String")
        value = self._prop(spec, resolver, "Value")
        self._clients("ssm").put_parameter(Name=name, Value=str(value), Type=kind, Overwrite=True)
        tags = [{"Key": k, "Value": v} for k, v in self._tags(spec, resolver).items()]
        if tags:  # put_parameter refuses Tags with Overwrite
            self._clients("ssm").add_tags_to_resource(ResourceType="Parameter", ResourceId=name, Tags=tags)
        return Created(spec, name, {"Type": kind, "Value": value})

    # -- orchestration ----------------------------------------------------------------------------

    def _event_bus(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        name = self._prop(spec, resolver, "Name")
        tags = [{"Key": k, "Value": v} for k, v in self._tags(spec, resolver).items()]
        arn = self._clients("events").create_event_bus(Name=name, Tags=tags)["EventBusArn"]
        return Created(spec, name, {"Arn": arn, "Name": name})

    def _rule(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        name = self._prop(spec, resolver, "Name") or generated_name(spec, max_length=64)
        bus = str(self._prop(spec, resolver, "EventBusName", "default")).rsplit("/", 1)[-1]
        pattern = self._prop(spec, resolver, "EventPattern")
        if isinstance(pattern, str):
            pattern = json.loads(pattern)
        schedule = self._prop(spec, resolver, "ScheduleExpression")
        enabled = self._prop(spec, resolver, "State", "ENABLED") == "ENABLED"
        # Targets are kept here, not put in moto: moto's PutEvents cannot deliver to Lambda.
        request: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": "ENABLED" if enabled else "DISABLED"}
        if pattern is not None:
            request["EventPattern"] = json.dumps(pattern)
        if schedule is not None:
            request["ScheduleExpression"] = schedule
        arn = self._clients("events").put_rule(**request)["RuleArn"]
        targets = []
        for index, target in enumerate(spec.properties.get("Targets", [])):
            where = f"{spec.where} target {index}"
            keys = ("Id", "Arn", "Input", "InputPath", "InputTransformer")
            targets.append({key: resolver.resolve(target[key], where) for key in keys if key in target})
        self.rules.append(RuleSpec(spec, name, arn, bus, pattern, schedule, enabled, tuple(targets)))
        return Created(spec, name, {"Arn": arn})

    def _state_machine(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        name = self._prop(spec, resolver, "StateMachineName") or generated_name(spec, max_length=80)
        if "DefinitionString" in spec.properties:
            definition = str(self._prop(spec, resolver, "DefinitionString"))
        elif "Definition" in spec.properties:
            definition = json.dumps(self._prop(spec, resolver, "Definition"))
        else:
            raise IntrinsicError(f"{spec.where}: only DefinitionString or Definition can run offline")
        for key, value in (self._prop(spec, resolver, "DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", value if isinstance(value, str) else json.dumps(value))
        arn = self._clients("stepfunctions").create_state_machine(
            name=name,
            definition=definition,
            roleArn=self._prop(spec, resolver, "RoleArn"),
            type=self._prop(spec, resolver, "StateMachineType", "STANDARD"),
            # Tags matter offline: policies condition on aws:ResourceTag of the machine.
            tags=[{"key": t["Key"], "value": t["Value"]} for t in self._prop(spec, resolver, "Tags", [])],
        )["stateMachineArn"]
        self.state_machines.append(StateMachineSpec(spec, name, arn))
        return Created(spec, arn, {"Arn": arn, "Name": name, "StateMachineRevisionId": "INITIAL"})

    def _activity(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        name = self._prop(spec, resolver, "Name")
        arn = self._clients("stepfunctions").create_activity(name=name)["activityArn"]
        return Created(spec, arn, {"Arn": arn, "Name": name})

    def _log_group(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        name = self._prop(spec, resolver, "LogGroupName") or generated_name(spec, max_length=512)
        self._clients("logs").create_log_group(logGroupName=name)
        return Created(spec, name, {"Arn": self._arn("logs", f"log-group:{name}:*")})

    # -- policies ---------------------------------------------------------------------------------

    def _source(self, spec: ResourceSpec) -> str:
        return f"{spec.stack}/{spec.logical_id}"

    def _policy(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        name = self._prop(spec, resolver, "PolicyName") or spec.logical_id
        for kind in ("Users", "Groups"):
            if self._prop(spec, resolver, kind):
                raise IntrinsicError(f"{spec.where}: policies of IAM {kind.lower()} are not modelled offline")
        self.store.attach_policy(
            roles=self._prop(spec, resolver, "Roles", []),
            document=self._prop(spec, resolver, "PolicyDocument"),
            source=self._source(spec),
        )
        return Created(spec, name, {"Id": name})

    def _managed_policy(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        name = self._prop(spec, resolver, "ManagedPolicyName") or generated_name(spec, max_length=128)
        path = self._prop(spec, resolver, "Path", "/")
        arn = f"arn:{self._pseudo.partition}:iam::{self._pseudo.account_id}:policy{path}{name}"
        self.store.add_managed_policy(
            arn=arn,
            document=self._prop(spec, resolver, "PolicyDocument"),
            source=self._source(spec),
            roles=self._prop(spec, resolver, "Roles", []),
        )
        return Created(spec, arn, {"PolicyArn": arn})

    # -- budgets ----------------------------------------------------------------------------------

    def _budget(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        """A cost budget in moto (its notifications too): Ref is the budget's name, as CloudFormation's."""
        data = dict(self._prop(spec, resolver, "Budget"))
        name = data.get("BudgetName") or generated_name(spec, max_length=100)
        budget: dict[str, Any] = {
            "BudgetName": name,
            "BudgetType": data["BudgetType"],
            "TimeUnit": data["TimeUnit"],
        }
        if data.get("BudgetLimit"):
            limit = data["BudgetLimit"]
            budget["BudgetLimit"] = {"Amount": str(limit["Amount"]), "Unit": limit["Unit"]}
        if data.get("CostFilters"):
            budget["CostFilters"] = data["CostFilters"]
        notifications = [
            {
                "Notification": item["Notification"],
                "Subscribers": [
                    {"SubscriptionType": sub["SubscriptionType"], "Address": sub["Address"]}
                    for sub in item.get("Subscribers", [])
                ],
            }
            for item in self._prop(spec, resolver, "NotificationsWithSubscribers", [])
        ]
        self._clients("budgets").create_budget(
            AccountId=self._pseudo.account_id, Budget=budget, NotificationsWithSubscribers=notifications
        )
        return Created(spec, name, {})

    def _budget_action(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        """Recorded, not created (moto has no budget actions); Ref and ActionId are a stable id."""
        definition = self._prop(spec, resolver, "Definition", {}).get("IamActionDefinition") or {}
        threshold = self._prop(spec, resolver, "ActionThreshold")
        action_id = str(uuid.UUID(bytes=hashlib.sha256(self._source(spec).encode()).digest()[:16]))
        self.budget_actions.append(
            BudgetActionSpec(
                spec=spec,
                action_id=action_id,
                budget_name=str(self._prop(spec, resolver, "BudgetName")),
                action_type=str(self._prop(spec, resolver, "ActionType")),
                policy_arn=str(definition.get("PolicyArn", "")),
                roles=tuple(str(role) for role in definition.get("Roles", [])),
                execution_role_arn=str(self._prop(spec, resolver, "ExecutionRoleArn")),
                threshold=float(threshold["Value"]),
                threshold_type=str(threshold["Type"]),
                notification_type=str(self._prop(spec, resolver, "NotificationType")),
                approval_model=str(self._prop(spec, resolver, "ApprovalModel", "MANUAL")),
            )
        )
        return Created(spec, action_id, {"ActionId": action_id})

    def _bucket_policy(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        bucket = str(self._prop(spec, resolver, "Bucket"))
        self.store.set_bucket_policy(bucket, self._prop(spec, resolver, "PolicyDocument"), self._source(spec))
        return Created(spec, bucket, {})

    def _topic_policy(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        document = self._prop(spec, resolver, "PolicyDocument")
        for topic in self._prop(spec, resolver, "Topics", []):
            self.store.set_topic_policy(str(topic), document, self._source(spec))
        return Created(spec, self._source(spec), {"Id": self._source(spec)})

    def _permission(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        """A Lambda permission becomes a statement of the function's resource policy, as Lambda builds it."""
        function = str(self._prop(spec, resolver, "FunctionName"))
        arn = function if function.startswith("arn:") else self._arn("lambda", f"function:{function}")
        principal = str(self._prop(spec, resolver, "Principal"))
        if principal == "*" or principal.endswith(".amazonaws.com"):
            who: Any = "*" if principal == "*" else {"Service": principal}
        else:
            who = {"AWS": principal if principal.startswith("arn:") else self._arn("iam", "root", region=False)}
        conditions: dict[str, dict[str, str]] = {}
        for prop, operator, key in (
            ("SourceArn", "ArnLike", "AWS:SourceArn"),
            ("SourceAccount", "StringEquals", "AWS:SourceAccount"),
            ("FunctionUrlAuthType", "StringEquals", "lambda:FunctionUrlAuthType"),
            ("PrincipalOrgID", "StringEquals", "aws:PrincipalOrgID"),
        ):
            value = self._prop(spec, resolver, prop)
            if value is not None:
                conditions.setdefault(operator, {})[key] = str(value)
        if str(self._prop(spec, resolver, "InvokedViaFunctionUrl", "false")).lower() == "true":
            # What Lambda writes for InvokedViaFunctionUrl (AddPermission API reference).
            conditions.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = "true"
        statement: dict[str, Any] = {
            "Sid": spec.logical_id,
            "Effect": "Allow",
            "Principal": who,
            "Action": self._prop(spec, resolver, "Action"),
            "Resource": arn,
        }
        if conditions:
            statement["Condition"] = conditions
        self.store.add_function_permission(":".join(arn.split(":")[:7]), statement, self._source(spec))
        return Created(spec, spec.logical_id, {})

    def _function_url(self, spec: ResourceSpec, resolver: Resolver) -> Created:
        target = str(self._prop(spec, resolver, "TargetFunctionArn"))
        arn = target if target.startswith("arn:") else self._arn("lambda", f"function:{target}")
        digest = hashlib.sha256(arn.encode()).hexdigest()[:32]
        url = f"https://{digest}.lambda-url.{self._pseudo.region}.on.aws/"
        self.function_urls[url] = (arn, str(self._prop(spec, resolver, "AuthType")))
        return Created(spec, url, {"FunctionUrl": url, "FunctionArn": arn})
