"""The offline world's IAM: who makes each AWS call, and whether AWS would let them.

Every identity gets credentials of its own, as STS would issue them: a Lambda function runs with its
execution role's (Lambda puts them in the environment), a state machine's service integrations with its
role's, the CLI with the team role a person assumed, a customization job with the Bedrock service role it
was given. While an :class:`Authorizer` is installed, every botocore client in the process is checked
before its request is built: the caller is found from the client's access key, the call is mapped to the
IAM actions AWS authorizes for it (:mod:`bft_twin.iam.actions`, implicit KMS use included) and each is
decided by :func:`bft_twin.iam.evaluate.evaluate` from the policies of the synthesized templates
(:class:`~bft_twin.iam.store.PolicyStore`). A refusal raises the service's own AccessDenied error with
AWS's message, so the pipeline's error handling meets what it would meet in AWS.

The operator's credentials (the access key ``testing``: standing the stacks up, reading results, the
Bedrock fake's bookkeeping) are not a pipeline identity and are not checked; a Lambda handler that calls
AWS with them is a defect of the twin and raises at once.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.client import BaseClient
from botocore.validate import ParamValidator

from bft_twin.iam.actions import ActionRequest, Call, ResourceRef, World, auth_requests
from bft_twin.iam.actions._common import resource_tag_context
from bft_twin.iam.context import merged_context, request_keys
from bft_twin.iam.evaluate import access_denied_message, evaluate
from bft_twin.iam.model import AuthRequest, ContextValue, Decision, Principal, StatementRef, Undecidable
from bft_twin.iam.store import PolicyStore

__all__ = ["OPERATOR_ACCESS_KEY", "Authorizer", "CallRecord", "Credentials"]

OPERATOR_ACCESS_KEY = "testing"
# moto's own placeholder credentials (what a client without any gets inside mock_aws): the operator too.
_OPERATOR_KEYS = frozenset({OPERATOR_ACCESS_KEY, "FOOBARKEY"})

# The error each service answers a refused call with: (code, HTTP status). JSON services answer
# AccessDeniedException with 400; the REST/query ones below differ (their API references).
_DENIED: dict[str, tuple[str, int]] = {
    "s3": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "sts": ("AccessDenied", 403),
    "iam": ("AccessDenied", 403),
    "cloudformation": ("AccessDenied", 403),
    "bedrock": ("AccessDeniedException", 403),
    "bedrock-runtime": ("AccessDeniedException", 403),
    "lambda": ("AccessDeniedException", 403),
}
# A refusal of the KMS key behind an encrypted topic (SNS Publish's KMSAccessDeniedException).
_KMS_DENIED: dict[str, tuple[str, int]] = {"sns": ("KMSAccessDenied", 400)}


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str

    def client_kwargs(self) -> dict[str, str]:
        return {
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "aws_session_token": self.token,
        }

    def environment(self) -> dict[str, str]:
        """The variables Lambda sets for a function's execution role."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_SESSION_TOKEN": self.token,
        }


@dataclass(frozen=True)
class CallRecord:
    """One authorization decision: the least-privilege measurement and the adversarial tests read these."""

    principal: str  # role ARN or service principal
    service: str
    operation: str
    action: str
    resource: str
    allowed: bool
    reason: str
    allowed_by: tuple[StatementRef, ...]
    implicit: str | None = None
    # The twin could not decide (it fails closed): a refusal of the run, counted and listed with the others.
    undecidable: bool = False


class AccessDeniedError(Exception):
    """A refused call outside botocore (AssumeRole by the twin itself, a function URL, a rule's delivery)."""

    def __init__(self, message: str, *, action: str, code: str = "AccessDenied") -> None:
        super().__init__(message)
        self.action = action
        self.code = code


@dataclass
class _Identity:
    principal: Principal
    credentials: Credentials
    role_name: str = ""
    sessions: set[str] = field(default_factory=set)


class Authorizer:
    """Issues credentials to the offline identities and decides each of their calls."""

    def __init__(
        self,
        store: PolicyStore,
        *,
        account: str,
        region: str,
        partition: str = "aws",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.store = store
        # Epoch seconds of the world (its virtual clock): aws:CurrentTime, aws:EpochTime. Without one they
        # are Unknown, and a condition on them Undecidable.
        self.clock = clock
        self.account = account
        self.region = region
        self.partition = partition
        self.world: World | None = None
        self.records: list[CallRecord] = []
        self._by_key: dict[str, _Identity] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._patch: Any = None
        self._validator = ParamValidator()
        self.client_hooks: list[Callable[[BaseClient], None]] = []  # run once per client, at its first call
        core = botocore.session.Session()
        self._session = boto3.session.Session(botocore_session=core, region_name=region)

    # -- identities ---------------------------------------------------------------------------------

    def credentials(self, role_arn: str, session_name: str) -> Credentials:
        """Credentials of a session of ``role_arn`` (the role must be one of the assembly's, or external)."""
        digest = hashlib.sha256(f"{role_arn}|{session_name}".encode()).hexdigest().upper()
        key = "ASIA" + digest[:16]
        with self._lock:
            found = self._by_key.get(key)
            if found is None:
                role_name = role_arn.rsplit("/", 1)[-1]
                account = role_arn.split(":")[4]
                session_arn = f"arn:{self.partition}:sts::{account}:assumed-role/{role_name}/{session_name}"
                record = self.store.role(role_arn)
                ours = record is not None and not record.source.startswith("external:")
                principal = Principal(
                    arn=role_arn,
                    type="AWS",
                    account=account,
                    session_arn=session_arn,
                    tags=dict(record.tags) if record is not None and ours else {},
                    userid=f"{record.role_id}:{session_name}" if record is not None and record.role_id else None,
                    tags_known=ours,
                )
                found = _Identity(principal, Credentials(key, "offline-" + digest[16:56], "offline-" + digest[:40]))
                found.role_name = role_name
                self._by_key[key] = found
            return found.credentials

    def assume_role(
        self,
        caller: Principal,
        role_arn: str,
        session_name: str,
        *,
        context: Mapping[str, ContextValue] | None = None,
        source_identity: str | None = None,
    ) -> Credentials:
        """AssumeRole as ``caller``: the role's trust policy decides (and the caller's own policies, if ours).

        With ``source_identity`` (AssumeRole's SourceIdentity), the request carries sts:SourceIdentity and the
        trust policy must also allow sts:SetSourceIdentity, as STS requires."""
        trust = self.store.trust(role_arn)
        if self.store.role(role_arn) is None:
            raise AccessDeniedError(
                f"User: {caller.shown} is not authorized to perform: sts:AssumeRole on resource: {role_arn} "
                "(the role is not part of the assembly)",
                action="sts:AssumeRole",
            )
        needed = ActionRequest("sts:AssumeRole", role_arn, {}, ResourceRef("iam-role", role_arn))
        tags = resource_tag_context(self.world, role_arn) if self.world is not None else {}
        given = dict(context or {})
        if source_identity is not None:
            given["sts:SourceIdentity"] = source_identity
        keys = merged_context(self._keys(caller, needed), tags, given)
        identity: list[Any] = []
        if caller.type == "AWS":
            # A person's own role lies outside the assembly; its policies are the platform team's and are
            # taken to allow AssumeRole (the trust policy still decides).
            identity, _ = self.store.identity_policies(caller.arn)
        actions = ["sts:AssumeRole"] + (["sts:SetSourceIdentity"] if source_identity is not None else [])
        for action in actions:
            request = AuthRequest(caller, action, role_arn, keys, resource_account=self.account)
            decision = evaluate(request, identity=identity, resource=trust, resource_kind="trust")
            self._record(caller, "sts", "AssumeRole", request, decision, None)
            if not decision.allowed:
                raise AccessDeniedError(access_denied_message(request, decision), action=action)
        return self.credentials(role_arn, session_name)

    def session(self, credentials: Credentials) -> boto3.session.Session:
        """A boto3 session that makes calls as ``credentials`` (shares the loaded service models)."""
        core = botocore.session.Session()
        core.register_component("data_loader", self._session._session.get_component("data_loader"))
        return boto3.session.Session(botocore_session=core, region_name=self.region, **credentials.client_kwargs())

    def issued(self, access_key: str) -> tuple[Principal, Credentials] | None:
        """The identity and credentials behind an access key this world issued."""
        found = self._by_key.get(access_key)
        return (found.principal, found.credentials) if found is not None else None

    def principal_of(self, access_key: str | None) -> Principal | None:
        """The identity behind an access key; None for the operator."""
        if access_key is None or access_key in _OPERATOR_KEYS:
            return None
        found = self._by_key.get(access_key)
        if found is None:
            raise Undecidable(f"access key {access_key} was not issued in this offline world")
        return found.principal

    @contextmanager
    def running_function(self, name: str) -> Iterator[None]:
        """Marks this thread as inside a Lambda handler: its calls must carry the function role's credentials."""
        previous = getattr(self._local, "function", None)
        self._local.function = name
        try:
            yield
        finally:
            self._local.function = previous

    # -- decisions ----------------------------------------------------------------------------------

    def decide(
        self,
        principal: Principal,
        call: Call,
        *,
        context: Mapping[str, ContextValue] | None = None,
        requests: Sequence[ActionRequest] | None = None,
    ) -> tuple[ActionRequest, Decision] | None:
        """Every authorization ``call`` needs, recorded; the first refusal, or None when all are allowed."""
        assert self.world is not None, "the runner sets Authorizer.world before any call"
        try:
            needed = list(requests) if requests is not None else auth_requests(call, self.world)
            for needed_request in needed:
                decision = self._decide_one(principal, needed_request, call, context or {})
                if not decision.allowed:
                    return needed_request, decision
        except Undecidable as exc:
            # Fails closed, and is counted: a summary that left it out would read as a clean run.
            record = CallRecord(
                principal=principal.arn,
                service=call.service,
                operation=call.operation,
                action=f"{call.service}:{call.operation}",
                resource="?",
                allowed=False,
                reason=f"undecidable offline: {exc}",
                allowed_by=(),
                undecidable=True,
            )
            with self._lock:
                self.records.append(record)
            raise
        return None

    def _decide_one(
        self, principal: Principal, needed: ActionRequest, call: Call, extra: Mapping[str, ContextValue]
    ) -> Decision:
        keys = merged_context(self._keys(principal, needed), needed.context, extra)
        identity: list[Any] = []
        unknown: list[str] = []
        boundary = None
        if principal.type == "AWS":
            identity, unknown = self.store.identity_policies(principal.arn)
            boundary = self.store.boundary(principal.arn)
        resource_policy, kind, grants = self._resource_policy(needed.resource_policy)
        request = AuthRequest(
            principal,
            needed.action,
            needed.resource,
            keys,
            resource_account=self.account,
            encryption_context=needed.encryption_context,
        )
        decision = evaluate(
            request, identity=identity, boundary=boundary, resource=resource_policy, resource_kind=kind, grants=grants
        )
        if not decision.allowed and unknown and not decision.denied_by:
            raise Undecidable(
                f"{principal.arn} attaches managed policies whose documents the offline run does not know "
                f"({', '.join(unknown)}); it cannot tell whether they allow {needed.action} on {needed.resource}"
            )
        self._record(principal, call.service, call.operation, request, decision, needed.implicit)
        return decision

    def _keys(self, principal: Principal, needed: ActionRequest) -> dict[str, ContextValue]:
        """What every request carries (:mod:`bft_twin.iam.context`), the time from the world's clock."""
        now = self.clock() if self.clock is not None else None
        return request_keys(principal, needed, now=now, account=self.account)

    def _resource_policy(self, ref: ResourceRef | None) -> tuple[Any, Any, list[Any]]:
        if ref is None:
            return None, "generic", []
        if ref.kind == "s3-bucket":
            return self.store.bucket_policies.get(ref.arn.split(":::", 1)[-1]), "generic", []
        if ref.kind == "kms-key":
            return self.store.key_policies.get(ref.arn), "kms", self.store.grants_for(ref.arn)
        if ref.kind == "sns-topic":
            return self.store.topic_policies.get(ref.arn), "generic", []
        if ref.kind == "lambda-function":
            return self.store.function_policy(ref.arn), "generic", []
        if ref.kind == "iam-role":
            return self.store.trust(ref.arn), "trust", []
        raise Undecidable(f"resource policies of kind {ref.kind!r} are not modelled offline")

    def _record(
        self,
        principal: Principal,
        service: str,
        operation: str,
        request: AuthRequest,
        decision: Decision,
        implicit: str | None,
    ) -> None:
        record = CallRecord(
            principal=principal.arn,
            service=service,
            operation=operation,
            action=request.action,
            resource=request.resource,
            allowed=decision.allowed,
            reason=decision.reason,
            allowed_by=decision.allowed_by,
            implicit=implicit,
        )
        with self._lock:
            self.records.append(record)

    # -- botocore -----------------------------------------------------------------------------------

    def install(self) -> None:
        """Check every botocore client of the process from now on (until :meth:`uninstall`)."""
        if self._patch is not None:
            return
        original = getattr(BaseClient, "_make_api_call")  # noqa: B009 -- private: not in botocore's stubs
        authorizer = self

        def _make_api_call(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
            if getattr(client, "_bft_authorizer", None) is not authorizer:
                authorizer._attach(client)
            if operation_name == "GetCallerIdentity" and client.meta.service_model.service_name == "sts":
                known = authorizer._caller_identity(client)
                if known is not None:  # one of this world's sessions: STS names it (moto knows only its own)
                    return known
            result = original(client, operation_name, api_params)
            if operation_name == "AssumeRole" and client.meta.service_model.service_name == "sts":
                # Authorized above (trust, caller, source identity): the session's keys must be this world's, so
                # its later calls are decided as that role's, as AWS does (moto's own keys are unknown here).
                result = authorizer._issued_by_sts(result, api_params)
            return result

        setattr(BaseClient, "_make_api_call", _make_api_call)  # noqa: B010
        self._patch = original

    def _caller_identity(self, client: BaseClient) -> dict[str, Any] | None:
        credentials = client._request_signer._credentials  # type: ignore[attr-defined]
        try:
            principal = self.principal_of(credentials.access_key if credentials is not None else None)
        except Undecidable:
            return None
        if principal is None:
            return None
        return {
            "UserId": principal.userid or principal.arn,
            "Account": principal.account or self.account,
            "Arn": principal.session_arn or principal.arn,
            "ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": str(uuid.uuid4())},
        }

    def _issued_by_sts(self, result: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        role_arn, session = str(params["RoleArn"]), str(params["RoleSessionName"])
        issued = self.credentials(role_arn, session)
        account, role_name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
        return {
            **result,
            "Credentials": {
                **result["Credentials"],
                "AccessKeyId": issued.access_key,
                "SecretAccessKey": issued.secret_key,
                "SessionToken": issued.token,
            },
            "AssumedRoleUser": {
                **result.get("AssumedRoleUser", {}),
                "Arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}",
            },
        }

    def uninstall(self) -> None:
        if self._patch is not None:
            setattr(BaseClient, "_make_api_call", self._patch)  # noqa: B010
            self._patch = None

    def _attach(self, client: BaseClient) -> None:
        service_id = client.meta.service_model.service_id.hyphenize()

        def check(params: dict[str, Any], model: Any, **_: Any) -> None:
            self._check(client, model, params)

        # Last: after boto3's own parameter transformations (DynamoDB's high-level interface), so the
        # call is authorized as it goes on the wire.
        client.meta.events.register_last(f"before-parameter-build.{service_id}", check)
        client._bft_authorizer = self  # type: ignore[attr-defined]
        for hook in self.client_hooks:
            hook(client)

    def _check(self, client: BaseClient, model: Any, params: dict[str, Any]) -> None:
        validate = getattr(client.meta.config, "parameter_validation", True) and model.input_shape is not None
        if validate and self._validator.validate(params, model.input_shape).has_errors():
            return  # botocore raises ParamValidationError next, before anything reaches AWS
        credentials = client._request_signer._credentials  # type: ignore[attr-defined]
        access_key = credentials.access_key if credentials is not None else None
        principal = self.principal_of(access_key)
        if principal is None:
            function = getattr(self._local, "function", None)
            if function is not None:
                raise RuntimeError(
                    f"Lambda function {function} called {model.service_model.service_name}:{model.name} with the "
                    "operator's credentials instead of its execution role's: a defect of the offline run"
                )
            return
        service = model.service_model.service_name
        call = Call(service=service, operation=model.name, params=params, region=self.region, account=self.account)
        refused = self.decide(principal, call)
        if refused is None:
            return
        needed, decision = refused
        code, status = (_KMS_DENIED if needed.implicit and needed.action.startswith("kms:") else {}).get(
            service, _DENIED.get(service, ("AccessDeniedException", 400))
        )
        request = AuthRequest(principal, needed.action, needed.resource)
        message = access_denied_message(request, decision)
        error_class: Any = client.exceptions.from_code(code)
        # Every AWS answer carries a request id; Step Functions quotes it in a Lambda task's cause.
        request_id = str(uuid.uuid4())
        response: Any = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": request_id},
        }
        raise error_class(response, model.name)
