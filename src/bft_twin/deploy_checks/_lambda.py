"""CreateFunction, PutFunctionConcurrency, CreateFunctionUrlConfig and AddPermission: the settings Lambda
refuses, in Lambda's words.

Ranges and enumerations are the Lambda API Reference's ("Valid Range", "Valid Values", "Pattern" of each
parameter; the botocore model carries the same), refused as the API refuses a constraint, a
``ValidationException`` reading "1 validation error detected: Value '901' at 'timeout' failed to satisfy
constraint: Member must have value less than or equal to 900" (the text CloudFormation reports, e.g.
covidatlas/li#575). The quotas are the Lambda Developer Guide's "Lambda quotas": timeout 900 s (5,400 s with
a capacity provider, cfn-lint E3717), memory 128-10,240 MB, ephemeral storage 512-10,240 MB, environment
variables 4 KB in all, and reserved concurrency that leaves at least 100 of the account's concurrency
unreserved ("Specified ReservedConcurrentExecutions for function decreases account's
UnreservedConcurrentExecution below its minimum value of [100]."). The account's concurrency quota is taken
as the documented default, 1,000 -- a guess: the offline world does not know the account's quota, and new
accounts may start lower.
"""

from __future__ import annotations

import json
from typing import Any

from bft_twin.deploy_checks import DeployContext, Site
from bft_twin.iam.actions import ActionRequest
from bft_twin.iam.context import merged_context, request_keys
from bft_twin.iam.evaluate import evaluate
from bft_twin.iam.model import AuthRequest, Principal

__all__ = ["ACCOUNT_CONCURRENCY", "function_settings", "function_url", "permission", "role_assumable"]

API = "Lambda API Reference, {operation} ({field}); Lambda Developer Guide, 'Lambda quotas'"
ACCOUNT_CONCURRENCY = 1000  # "Lambda quotas": concurrent executions, default (a guess for the account)
UNRESERVED_MINIMUM = 100
_AUTH_TYPES = ("NONE", "AWS_IAM")


def _invalid(site: Site, operation: str, field: str, value: Any, constraint: str) -> Exception:
    return site.refuse(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}",
        API.format(operation=operation, field=field),
    )


def _in_range(site: Site, operation: str, field: str, value: Any, low: int, high: int | None) -> None:
    if value is None:
        return
    number = int(value)
    if number < low:
        raise _invalid(site, operation, field, value, f"Member must have value greater than or equal to {low}")
    if high is not None and number > high:
        raise _invalid(site, operation, field, value, f"Member must have value less than or equal to {high}")


def _enum(site: Site, operation: str, field: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise _invalid(site, operation, field, value, f"Member must satisfy enum value set: [{', '.join(allowed)}]")


def function_settings(site: Site, context: DeployContext) -> None:
    timeout_max = 5400 if site.prop("CapacityProviderConfig") else 900
    _in_range(site, "CreateFunction", "timeout", site.prop("Timeout"), 1, timeout_max)
    _in_range(site, "CreateFunction", "memorySize", site.prop("MemorySize"), 128, 10240)
    storage = site.prop("EphemeralStorage") or {}
    _in_range(site, "CreateFunction", "ephemeralStorage.size", storage.get("Size"), 512, 10240)
    variables = (site.prop("Environment") or {}).get("Variables") or {}
    measured = json.dumps({k: v if isinstance(v, str) else json.dumps(v) for k, v in variables.items()})
    if len(measured.encode()) > 4096:
        raise site.refuse(
            "InvalidParameterValueException",
            "Lambda was unable to configure your environment variables because the environment variables you "
            f"have provided exceeded the 4KB limit. String measured: {measured[:80]}...",
            API.format(operation="CreateFunction", field="Environment") + " (4 KB; how Lambda measures: a guess)",
        )
    reserved = site.prop("ReservedConcurrentExecutions")
    if reserved is not None:
        _in_range(site, "PutFunctionConcurrency", "reservedConcurrentExecutions", reserved, 0, None)
        total = context.tallies.get("reserved_concurrency", 0) + int(reserved)
        if ACCOUNT_CONCURRENCY - total < UNRESERVED_MINIMUM:
            raise site.refuse(
                "InvalidParameterValueException",
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{UNRESERVED_MINIMUM}]. "
                f"({total} reserved in all, of an account quota taken as {ACCOUNT_CONCURRENCY})",
                API.format(operation="PutFunctionConcurrency", field="ReservedConcurrentExecutions"),
            )
        context.tallies["reserved_concurrency"] = total


def role_assumable(site: Site, context: DeployContext) -> None:
    """CreateFunction: "The role defined for the function cannot be assumed by Lambda." (InvalidParameterValue)."""
    role_arn = str(site.prop("Role"))
    trust = context.store.trust(role_arn)
    principal = Principal("lambda.amazonaws.com", type="Service")
    needed = ActionRequest("sts:AssumeRole", role_arn, {}, None)
    keys = merged_context(
        request_keys(principal, needed, now=context.clock(), account=context.pseudo.account_id),
        {"aws:SourceAccount": context.pseudo.account_id},
    )
    request = AuthRequest(principal, "sts:AssumeRole", role_arn, keys, resource_account=context.pseudo.account_id)
    if trust is None or not evaluate(request, resource=trust, resource_kind="trust").allowed:
        raise site.refuse(
            "InvalidParameterValueException",
            f"The role defined for the function cannot be assumed by Lambda. ({role_arn})",
            "Lambda API Reference, CreateFunction (Role); Lambda Developer Guide, 'Lambda execution role'",
        )


def function_url(site: Site, context: DeployContext) -> None:
    operation = "CreateFunctionUrlConfig"
    _enum(site, operation, "authType", site.prop("AuthType"), _AUTH_TYPES)
    _enum(site, operation, "invokeMode", site.prop("InvokeMode"), ("BUFFERED", "RESPONSE_STREAM"))
    cors = site.prop("Cors") or {}
    _in_range(site, operation, "cors.maxAge", cors.get("MaxAge"), 0, 86400)


def permission(site: Site, context: DeployContext) -> None:
    operation = "AddPermission"
    _enum(site, operation, "functionUrlAuthType", site.prop("FunctionUrlAuthType"), _AUTH_TYPES)
    action = str(site.prop("Action"))
    if not (action == "*" or action == "lambda:*" or (action.startswith("lambda:") and action[7:].isalpha())):
        raise _invalid(
            site,
            operation,
            "action",
            action,
            "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])",
        )
