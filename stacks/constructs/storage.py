"""Encrypted, versioned, TLS-only buckets for datasets, job outputs and reports."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.nag import acknowledge


class Storage(Construct):
    """The pipeline's stateful data: a customer-managed key and four buckets.

    * ``datasets``: training, validation and evaluation data, one prefix per team (``<team>/``);
    * ``outputs``: what Bedrock writes for each job (metrics CSVs);
    * ``reports``: validation, evaluation and run reports;
    * ``access_logs``: S3 server access logs of the three above.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        retain: bool,
        auto_delete_objects: bool,
        noncurrent_version_days: int,
        access_log_days: int,
        report_expiration_days: int | None,
    ) -> None:
        super().__init__(scope, id_)
        if retain and auto_delete_objects:
            raise ValueError("auto_delete_objects cannot be combined with retained data")
        # Destroying the key would make retained objects unreadable: it follows the buckets.
        removal = RemovalPolicy.DESTROY if auto_delete_objects else RemovalPolicy.RETAIN

        self.key = kms.Key(
            self,
            "DataKey",
            description="Encrypts fine-tuning datasets, job outputs, reports and custom models",
            enable_key_rotation=True,
            removal_policy=removal,
            pending_window=Duration.days(30 if retain else 7),
        )
        _pin_logical_id(self.key, "DataKey")

        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            # S3 server access logging delivers only to SSE-S3 buckets, not SSE-KMS.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal,
            auto_delete_objects=auto_delete_objects,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(access_log_days),
                    noncurrent_version_expiration=Duration.days(noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        _pin_logical_id(self.access_logs, "AccessLogsBucket")
        acknowledge(
            self.access_logs,
            "S1",
            "This is the access-log target; logging it into itself would loop.",
        )

        def data_bucket(id_: str, logical_id: str, expiration_days: int | None = None) -> s3.Bucket:
            bucket = s3.Bucket(
                self,
                id_,
                encryption=s3.BucketEncryption.KMS,
                encryption_key=self.key,
                bucket_key_enabled=True,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                versioned=True,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                server_access_logs_bucket=self.access_logs,
                server_access_logs_prefix=f"{logical_id}/",
                removal_policy=removal,
                auto_delete_objects=auto_delete_objects,
                lifecycle_rules=[
                    s3.LifecycleRule(
                        id="NoncurrentVersions",
                        noncurrent_version_expiration=Duration.days(noncurrent_version_days),
                        abort_incomplete_multipart_upload_after=Duration.days(7),
                        expiration=Duration.days(expiration_days) if expiration_days else None,
                    )
                ],
            )
            _pin_logical_id(bucket, logical_id)
            return bucket

        self.datasets = data_bucket("Datasets", "DatasetsBucket")
        self.outputs = data_bucket("Outputs", "OutputsBucket")
        self.reports = data_bucket("Reports", "ReportsBucket", report_expiration_days)

        if auto_delete_objects:
            # The provider function CDK adds to empty buckets on delete uses an AWS-managed policy and
            # its own runtime; it exists only in non-production environments that asked for it.
            for rule, reason in (
                (
                    "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                    "CDK's bucket auto-delete provider; non-production only.",
                ),
                ("L1", "CDK's bucket auto-delete provider pins its own runtime; non-production only."),
            ):
                acknowledge(self, rule, reason)

    @property
    def buckets(self) -> list[s3.Bucket]:
        return [self.datasets, self.outputs, self.reports, self.access_logs]


def _pin_logical_id(construct: Construct, logical_id: str) -> None:
    """Keep the logical ID of stateful resources stable across refactors (a new ID replaces the resource)."""
    child = construct.node.default_child
    assert isinstance(child, (s3.CfnBucket, kms.CfnKey)), child
    child.override_logical_id(logical_id)
