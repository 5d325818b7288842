"""Dataset validation: one streaming implementation for ``bft validate`` and the Lambda step.

Only the standard library is required (orjson is used when importable); the S3
adapter lives in :mod:`bft.dataset.s3` so the CLI never imports boto3.
"""

from bft.dataset.parsing import iter_lines, read_chunks
from bft.dataset.report import REPORT_SCHEMA_VERSION, FileSummary, Issue, Report, summary_text
from bft.dataset.validator import DatasetValidator, validate_lines, validate_paths

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "DatasetValidator",
    "FileSummary",
    "Issue",
    "Report",
    "iter_lines",
    "read_chunks",
    "summary_text",
    "validate_lines",
    "validate_paths",
]
