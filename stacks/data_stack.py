"""The stateful deployment unit: keys and buckets. Changed rarely; retained in production."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.constructs.storage import Storage


@dataclass(frozen=True)
class DataRefs:
    """The data stack's resources as another stack sees them, through named exports.

    Named exports (instead of CDK's automatic cross-stack references) keep the contract between
    the stacks explicit and stable, so the stateless stack can be refactored or replaced freely.
    """

    key: kms.IKey
    datasets: s3.IBucket
    outputs: s3.IBucket
    reports: s3.IBucket

    @staticmethod
    def export_name(stack_prefix: str, item: str) -> str:
        return f"{stack_prefix}-{item}"

    @classmethod
    def objects_finding(cls, stack_prefix: str, bucket: str) -> str:
        """How cdk-nag names ``<imported bucket ARN>/*`` in an IAM5 finding."""
        return f"Resource::{cls.export_name(stack_prefix, f'{bucket}BucketArn')}/*"

    @classmethod
    def import_into(cls, scope: Construct, stack_prefix: str) -> DataRefs:
        def value(item: str) -> str:
            return Fn.import_value(cls.export_name(stack_prefix, item))

        key = kms.Key.from_key_arn(scope, "DataKey", value("DataKeyArn"))

        def bucket(name: str) -> s3.IBucket:
            # No encryption_key here: grants on these buckets then stay S3-only, and every
            # consumer is granted the key explicitly (grant_* would add kms:ReEncrypt* etc.).
            return s3.Bucket.from_bucket_attributes(
                scope, name, bucket_arn=value(f"{name}BucketArn"), bucket_name=value(f"{name}BucketName")
            )

        return cls(key=key, datasets=bucket("Datasets"), outputs=bucket("Outputs"), reports=bucket("Reports"))


class DataStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        export_prefix: str,
        production: bool,
        auto_delete_objects: bool,
        noncurrent_version_days: int,
        access_log_days: int,
        report_expiration_days: int | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.storage = Storage(
            self,
            "Storage",
            retain=production or not auto_delete_objects,
            auto_delete_objects=auto_delete_objects,
            noncurrent_version_days=noncurrent_version_days,
            access_log_days=access_log_days,
            report_expiration_days=report_expiration_days,
        )
        exports = {"DataKeyArn": self.storage.key.key_arn}
        for name, bucket in (
            ("Datasets", self.storage.datasets),
            ("Outputs", self.storage.outputs),
            ("Reports", self.storage.reports),
        ):
            exports[f"{name}BucketArn"] = bucket.bucket_arn
            exports[f"{name}BucketName"] = bucket.bucket_name
        for item, value in exports.items():
            CfnOutput(self, item, value=value, export_name=DataRefs.export_name(export_prefix, item))
