"""What the authorization asks of the offline world, answered from moto's backends and the Bedrock fake.

Read straight from the backends, not through boto3: a lookup made while deciding a call must not itself
be a call that needs deciding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from moto.awslambda.models import lambda_backends
from moto.dynamodb.models import dynamodb_backends
from moto.events.models import events_backends
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.s3.models import s3_backends
from moto.sns.models import sns_backends
from moto.ssm.models import ssm_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

if TYPE_CHECKING:
    from bft_twin.bedrock_fake import FakeBedrock

__all__ = ["MotoWorld"]


class MotoWorld:
    """Implements :class:`bft_twin.iam.actions.World` for one account and region of moto."""

    def __init__(self, *, account: str, region: str, partition: str = "aws") -> None:
        self.account = account
        self.region = region
        self.partition = partition
        self.fake: FakeBedrock | None = None
        self.stack_ids: dict[str, str] = {}  # stack name -> stack ARN

    # -- S3 -------------------------------------------------------------------------------------------

    def _bucket(self, bucket: str) -> Any:
        return s3_backends[self.account][self.partition].buckets.get(bucket)

    def _default_encryption(self, bucket: str) -> Mapping[str, Any]:
        found = self._bucket(bucket)
        rule = ((found.encryption or {}) if found is not None else {}).get("Rule") or {}
        return rule if isinstance(rule, Mapping) else {}

    def bucket_default_kms_key(self, bucket: str) -> str | None:
        default = self._default_encryption(bucket).get("ApplyServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm") not in ("aws:kms", "aws:kms:dsse"):
            return None
        key = default.get("KMSMasterKeyID")
        return self.kms_key_arn(key) if key else self._aws_managed_key("s3")

    def bucket_key_enabled(self, bucket: str) -> bool:
        return str(self._default_encryption(bucket).get("BucketKeyEnabled", "false")).lower() == "true"

    def object_kms_key(self, bucket: str, key: str, version_id: str | None) -> str | None:
        found = self._bucket(bucket)
        if found is None:
            return None
        if version_id:
            obj = next((v for v in found.keys.getlist(key, []) if str(v.version_id) == version_id), None)
        else:
            obj = found.keys.get(key)
        if obj is None or obj.encryption not in ("aws:kms", "aws:kms:dsse"):
            return None
        return self.kms_key_arn(obj.kms_key_id) if obj.kms_key_id else self._aws_managed_key("s3")

    def _aws_managed_key(self, service: str) -> str:
        return f"arn:{self.partition}:kms:{self.region}:{self.account}:alias/aws/{service}"

    # -- KMS, SNS, DynamoDB, SSM ----------------------------------------------------------------------

    def kms_key_arn(self, key_id: str) -> str:
        backend = kms_backends[self.account][self.region]
        if key_id.startswith("arn:") and ":key/" in key_id:
            return key_id
        name = key_id.split(":", 5)[-1] if key_id.startswith("arn:") else key_id
        if name.startswith("alias/aws/"):
            return f"arn:{self.partition}:kms:{self.region}:{self.account}:{name}"
        resolved = backend.any_id_to_key_id(name)
        return f"arn:{self.partition}:kms:{self.region}:{self.account}:key/{resolved}"

    def topic_kms_key(self, topic_arn: str) -> str | None:
        topic = sns_backends[self.account][self.region].topics.get(topic_arn)
        key = getattr(topic, "kms_master_key_id", None) if topic is not None else None
        return self.kms_key_arn(key) if key else None

    def _table(self, table: str) -> Any:
        return dynamodb_backends[self.account][self.region].get_table(table.rsplit("/", 1)[-1])

    def table_kms_key(self, table: str) -> str | None:
        sse = getattr(self._table(table), "sse_specification", None) or {}
        key = sse.get("KMSMasterKeyId") if sse.get("Enabled") and sse.get("SSEType") == "KMS" else None
        return self.kms_key_arn(key) if key else None

    def table_partition_key(self, table: str) -> str:
        return str(self._table(table).hash_key_attr)

    def parameter_kms_key(self, name: str) -> str | None:
        backend = ssm_backends[self.account][self.region]
        found = backend.get_parameter(name)
        if found is None or found.parameter_type != "SecureString":
            return None
        return self.kms_key_arn(found.keyid or "alias/aws/ssm")

    # -- tags and Bedrock -----------------------------------------------------------------------------

    def resource_tags(self, arn: str) -> Mapping[str, str] | None:
        """The resource's tags as the runner created it (its template's ``Tags``); None for a service whose
        tags the offline world does not record (CloudFormation stacks, log groups): Unknown, not absent."""
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        try:
            return self._tags(service, arn)
        except Exception:  # not a resource moto holds (deleted, or never created offline): its tags are unknown
            return None

    def _tags(self, service: str, arn: str) -> Mapping[str, str] | None:
        region = self.region
        if service == "bedrock":
            return self.fake.resource_tags(arn) if self.fake is not None else {}
        if service == "states":
            backend = stepfunctions_parser_backends[self.account][region]
            machine = arn if ":stateMachine:" in arn else ""
            if not machine:
                return {}  # an execution: its tags are its machine's (the mapper asks for the machine)
            return {t["key"]: t["value"] for t in backend.get_tags_list_for_state_machine(machine)}
        if service == "sns":
            topic = sns_backends[self.account][region].topics.get(arn)
            return dict(getattr(topic, "_tags", {}) or {}) if topic is not None else {}
        if service == "lambda":
            return dict(lambda_backends[self.account][region].list_tags(":".join(arn.split(":")[:7])) or {})
        if service == "kms":
            found = kms_backends[self.account][region].list_resource_tags(arn).get("Tags", [])
            return {t["TagKey"]: t["TagValue"] for t in found}
        if service == "dynamodb":
            table = arn.split("/index/", 1)[0]
            return {t["Key"]: t["Value"] for t in dynamodb_backends[self.account][region].list_tags_of_resource(table)}
        if service == "ssm":
            name = arn.split(":parameter", 1)[1]
            return dict(ssm_backends[self.account][region].list_tags_for_resource("Parameter", name))
        if service == "iam" and ":role/" in arn:
            tags, _ = iam_backends[self.account][self.partition].list_role_tags(arn.rsplit("/", 1)[-1], None, 100)
            return {t["Key"]: t["Value"] for t in tags}
        if service == "events" and ":event-bus/" in arn:
            found = events_backends[self.account][region].list_tags_for_resource(arn).get("Tags", [])
            return {t["Key"]: t["Value"] for t in found}
        return None

    def bedrock_arn(self, identifier: str, kind: str) -> str | None:
        if kind == "foundation-model":
            model_id = identifier.split("/", 1)[-1] if identifier.startswith("arn:") else identifier
            return f"arn:{self.partition}:bedrock:{self.region}::foundation-model/{model_id}"
        if self.fake is None:
            return identifier if identifier.startswith("arn:") else None
        return self.fake.resolve_arn(identifier, kind)

    def custom_model_kms_key(self, model_arn: str) -> str | None:
        return self.fake.custom_model_kms_key(model_arn) if self.fake is not None else None

    def serving_model(self, arn: str) -> str | None:
        return self.fake.serving_model(arn) if self.fake is not None else None

    # -- Step Functions, CloudFormation ---------------------------------------------------------------

    def task_token_state_machine(self, token: str) -> str | None:
        backend = stepfunctions_parser_backends[self.account][self.region]
        for execution in backend._get_executions():
            worker = getattr(execution, "exec_worker", None)
            pool = getattr(getattr(worker, "env", None), "callback_pool_manager", None)
            if pool is not None and pool.get(token) is not None:
                return str(execution.state_machine_arn)
        return None

    def stack_arn(self, name: str) -> str:
        return self.stack_ids.get(
            name, f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:stack/{name}/offline"
        )
