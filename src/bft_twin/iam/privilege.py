"""Least privilege, measured: which Allow statements of the pipeline's roles the offline runs needed.

The offline IAM (:mod:`bft_twin.iam.authorizer`) decides every AWS call of a run from the synthesized
templates' policies and records, for each allowed call, every Allow statement that matched it. This
module sets those records against what the templates grant:

- **granted**: every Allow statement of every identity policy attached to a pipeline role (below), one
  statement = one (policy source, statement index), and within it every action as written
  (``s3:GetObject*`` is one action grant);
- **needed**: a statement that allowed at least one call of the runs; an action grant that matched the
  action of at least one such call;
- **unused**: granted but not needed. Each unused action grant must be explained by an entry of
  :data:`KEPT` (a reason to keep it although no offline scenario exercises it), or it is a finding: a
  candidate for removal from the stacks.

Which roles count (:func:`is_pipeline_role`): every role of the assembly except the roles of CDK's own
framework functions (the ``Custom::S3AutoDeleteObjects`` provider, log retention, bucket notifications,
``AwsCustomResource``). Those are CDK's code, run at deploy time by CloudFormation; no scenario exercises
them and the project does not write their policies. What remains is the pipeline's: the Lambda execution
roles of the workflow's steps (including the scheduled reconciler and throughput reaper, and the approval
function behind its URL), the state machine's role, the Bedrock service role that customization jobs run
as, and the teams' submitter roles. The teams' reviewer and ML-engineer roles are people's roles outside
the assembly (the platform team's); they are not granted by these templates.

Policies counted: inline policies, ``AWS::IAM::Policy`` and customer managed policies attached to those
roles. AWS managed policies are AWS's documents (none is attached to a pipeline role today). Resource
policies (bucket, key, topic, function permissions, trust policies) are not counted: they name who may
reach a resource, and their Deny statements are guardrails no successful call can "use".
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bft_twin.iam.authorizer import CallRecord
from bft_twin.iam.store import PolicyStore

__all__ = [
    "CDK_FRAMEWORK_ROLES",
    "KEPT",
    "REMOVAL_CANDIDATES",
    "ActionGrant",
    "Explanation",
    "GrantedStatement",
    "PrivilegeReport",
    "granted_statements",
    "is_pipeline_role",
    "kept_matches",
    "measure",
]

# Logical ids (regular expressions, searched) of the roles CDK's framework creates for its own functions.
CDK_FRAMEWORK_ROLES: tuple[str, ...] = (
    r"^Custom[A-Za-z0-9]*CustomResourceProviderRole",  # Custom::S3AutoDeleteObjects, Custom::CDKBucketDeployment...
    r"^LogRetention[0-9a-f]{32}ServiceRole",  # logRetention on a Lambda function
    r"^BucketNotificationsHandler[0-9a-f]{32}Role",  # S3 bucket notifications
    r"^AWS679f53fac002430cb0da5b7982bd2287ServiceRole",  # AwsCustomResource's singleton function
)

# Granted action grants no offline scenario needs, and why each stays. Key: "<policy source glob>
# <action glob>[|<action glob>...] [<resource glob>]", matched (fnmatch; case-insensitive for actions)
# against "<stack>/<logical id of the policy>", the action as the statement writes it and, when given,
# any of the statement's resources (physical names: match the construct's part, "*datasetsbucket*"). Patterns name
# constructs, not CDK's hash suffixes, so they survive logical-id changes. An entry that matches no unused
# action grant is stale and fails the test (tests/workflow/test_least_privilege.py).
KEPT: dict[str, str] = {
    # -- the AWS services' own use of a role, which the offline run does not model ------------------------
    "*/WorkflowFunctions*RoleDefaultPolicy* xray:PutTraceSegments|xray:PutTelemetryRecords": (
        "active tracing (Tracing.ACTIVE, stacks/constructs/functions.py): the Lambda runtime's X-Ray daemon sends "
        "the function's segments with the execution role; handler code never calls X-Ray, and the offline run "
        "does not model the runtime"
    ),
    "*/WorkflowStateMachineRoleDefaultPolicy* logs:*|xray:*": (
        "the state machine logs to CloudWatch Logs and traces (tracing_enabled): Step Functions sets up the log "
        "delivery with its role when the state machine is created or updated, and sends its own trace segments; "
        "no task of the definition makes these calls, so no execution does"
    ),
    "*/CustomizationServiceRoleDefaultPolicy* s3:GetBucket*|s3:Abort*": (
        "Bedrock's own S3 use as the job's service role: it checks the buckets (location, region) when it "
        "validates the job and uploads large model artefacts in parts (AbortMultipartUpload on failure); the "
        "Bedrock fake reads and writes small objects with GetObject, HeadBucket and PutObject only"
    ),
    "*/CustomizationServiceRoleDefaultPolicy* kms:CreateGrant|kms:DescribeKey": (
        "statement UseDataAndModelKeys: Bedrock uses the service role to encrypt the custom model it creates "
        "with the model key (stacks/constructs/customization_role.py); the fake encrypts the model under the "
        "caller's grant (StartJob's kms:CreateGrant), so only the S3 side (Decrypt, GenerateDataKey) is "
        "exercised. Not verifiable offline: check against CloudTrail in a real account"
    ),
    "*/WorkflowFunctionsEvaluateRoleDefaultPolicy* kms:GenerateDataKey": (
        "the model-key statement (kms:ViaService bedrock): the Bedrock user guide (encryption-custom-job) lists "
        "Decrypt and GenerateDataKey for users of an encrypted custom model; the offline mapper asks only "
        "kms:Decrypt for inference (docs/authorization-actions.md)"
    ),
    "*/EvaluationServiceRoleDefaultPolicy* s3:GetBucketLocation|s3:AbortMultipartUpload": (
        "Bedrock's own S3 use as the LLM judge's evaluation service role (stacks/constructs/evaluation_role.py): "
        "it checks the output bucket and may upload results in parts (AbortMultipartUpload on failure); the "
        "Bedrock fake reads the dataset and writes small result objects with PutObject only"
    ),
    "*/EvaluationServiceRoleDefaultPolicy* s3:GetObject */output/*": (
        "statement WriteJudgeResults: Bedrock reading back under its job's output location as the service role; "
        "the fake only writes there. Not verifiable offline: check against CloudTrail in a real account"
    ),
    # -- paths no scenario takes ---------------------------------------------------------------------------
    "*/CapActionRoleDefaultPolicy* iam:AttachRolePolicy|iam:DetachRolePolicy": (
        "AWS Budgets runs the team's cap action as this role when actual cost reaches monthly_cap_usd "
        "(stacks/constructs/guardrails.py TeamCap); no scenario spends that much, and the action is played "
        "offline by tests/workflow/test_team_cap_action.py (env.apply_budget_action)"
    ),
    "*/WorkflowFunctionsEvaluateRoleDefaultPolicy* bedrock:StopEvaluationJob": (
        "CheckJudge stops the judge's jobs when one failed or they ran past judge_max_polls "
        "(bft.workflow.judge.check); no scenario's judge fails or runs that long (tests/unit/test_judge_workflow.py "
        "takes both paths against the fake)"
    ),
    "*/WorkflowFunctions*RoleDefaultPolicy* bedrock:*CustomModelDeployment*": (
        "serving by on-demand custom model deployment (bft.workflow.serving, kind != provisioned throughput): "
        "create, check, evaluate and clean up a deployment; the measurement runs the us-west-2 world (local), "
        "where every scenario serves with a provisioned throughput; Nova's deployments run in local-us-east-1 "
        "(tests/workflow/test_scenarios.py, authorized with no refusal)"
    ),
    "*/WorkflowFunctionsCreateServingRoleDefaultPolicy* bedrock:CreateProvisionedModelThroughput": (
        "the statement on provisioned-model/* and custom-model-deployment/*: the Service Authorization "
        "Reference authorizes the create on the model only (which the offline mapper follows); kept in the "
        "stack 'in case Bedrock checks' the new resource. A candidate to drop once a real deployment shows "
        "CloudTrail never needs it"
    ),
    "*/WorkflowFunctionsStartJobRoleDefaultPolicy* bedrock:GetModelCustomizationJob|bedrock:ListTagsForResource": (
        "StartJob adopts the job an earlier attempt of the same step created (ConflictException: read it, check "
        "its tags; bft.workflow.job._adopt). The throttled scenario's retries happen before any job exists"
    ),
    "*/WorkflowFunctions*RoleDefaultPolicy* s3:ListBucket": (
        "S3 answers a GetObject of a missing key with 404 NoSuchKey only to a caller with s3:ListBucket, else "
        "403 AccessDenied; the dataset reader tells 'file missing' from 'access denied' by it "
        "(bft.dataset.s3). No scenario reads a missing file, and the offline S3 does not model the 403"
    ),
    "*/WorkflowFunctions*RoleDefaultPolicy* dynamodb:GetItem|dynamodb:PutItem|dynamodb:UpdateItem"
    "|dynamodb:DeleteItem|dynamodb:Scan": (
        "the item and scan actions bft.workflow.state uses (claim, token, finish); one grant "
        "(table.grant_read_write_data) gives every table step all five, and which a step reaches depends on the "
        "path (WaitForJob deletes its token when the job already ended; DecideApproval and JobEvents read "
        "before they take). Per-step narrowing is possible (see the removal candidates)"
    ),
    # -- the team's CLI, which the scenarios do not run ------------------------------------------------------
    "*Team*/AccessSubmitterRoleDefaultPolicy* states:ListExecutions|states:DescribeExecution": (
        "`bft list` and `bft status` (bft.cli.pipeline); the scenarios only submit"
    ),
    "*Team*/AccessSubmitterRoleDefaultPolicy* s3:ListBucket *reportsbucket*": (
        "on the reports bucket (prefix reports/<team>/): `bft status` of a run without a report yet must get "
        "NoSuchKey, not AccessDenied (bft.cli.pipeline._read_report). Whether S3 applies the s3:prefix "
        "condition to that check is not documented: verify in a real account"
    ),
    "*Team*/AccessSubmitterRoleDefaultPolicy* s3:GetObject *reportsbucket*": (
        "on reports/<team>/*: `bft status` and `bft teardown` read the run's report"
    ),
    "*Team*/AccessSubmitterRoleDefaultPolicy* kms:Decrypt": (
        "reading the SSE-KMS report (`bft status`), and multipart uploads of datasets over boto3's 8 MB "
        "threshold (S3 needs kms:Decrypt to complete an SSE-KMS multipart upload); the scenarios upload small files"
    ),
    "*Team*/AccessSubmitterRoleDefaultPolicy* bedrock:DeleteProvisionedModelThroughput|bedrock:GetCustomModelDeployment"
    "|bedrock:DeleteCustomModelDeployment|bedrock:ListTagsForResource|bedrock:GetModelCustomizationJob"
    "|bedrock:GetCustomModel|bedrock:DeleteCustomModel|bedrock:GetProvisionedModelThroughput": (
        "`bft teardown [--delete-model]` (tag-conditioned to the team): reads the resource's tags, deletes the "
        "run's throughput or deployment and, on request, the model its own job produced; run under the submitter "
        "role by tests/workflow/test_cli_offline.py, which the scenario measurement does not include"
    ),
    "*TeamSearch/AccessSubmitterRoleDefaultPolicy* *": (
        "the second team of the local environment: the scenarios run team moderation; the adversarial tests "
        "(tests/workflow/test_adversarial.py) use search's role only for what must be refused"
    ),
    "*/WorkflowFunctions*RoleDefaultPolicy* sqs:SendMessage": (
        "the dead-letter queue of the asynchronously invoked functions: Lambda itself sends an event that failed "
        "every EventBridge retry there, with the execution role; no scenario exhausts those retries and the "
        "offline run does not model Lambda's asynchronous retries"
    ),
    "*Team*/AccessSubmitterRoleDefaultPolicy* cloudformation:DescribeStacks|ssm:GetParametersByPath"
    "|states:GetExecutionHistory": (
        "DescribeStacks and GetParametersByPath: every bft command finds the deployment from the pipeline stack's "
        "outputs and the team's machine and role in its own registry entry (bft.deployment, exercised by "
        "tests/workflow/test_cli_offline.py); GetExecutionHistory: `bft status` "
        "names the step a run is in (waiting for approval, training, provisioning), and the team reads its own "
        "runs in the Step Functions console, where the runbook's timed_out entry sends them"
    ),
    "*/ApprovalsReviewerPolicy* cloudformation:DescribeStacks|lambda:InvokeFunctionUrl|lambda:InvokeFunction": (
        "the managed policy platform teams attach to reviewer roles (`bft approve`): the scenarios' reviewer is "
        "allowed by the function's resource policy alone; tests/workflow/test_cli_offline.py runs `bft approve` "
        "with it attached"
    ),
}

# Granted action grants no scenario needs and no code path or AWS service uses: findings, routed to the
# stacks' owner for removal. Listed so the test stays green until the stacks change; an entry that stops
# matching (the grant was removed, or a scenario now uses it) fails the test as stale, like KEPT's. Checked
# before KEPT: a grant listed here is a finding even if a broader KEPT pattern would also match it.
REMOVAL_CANDIDATES: dict[str, str] = {
    # Empty: the first measurement's candidates (grant_read_write_data's batch and stream actions,
    # grant_read on the guardrail parameter, grant_put's object-lock and tagging actions, Cleanup's reads and
    # model key, the submitter's StopExecution, dataset reads and throughput listing) were removed from the
    # stacks. A new unused grant with no reason to stay goes here until the stacks change.
}


@dataclass(frozen=True)
class GrantedStatement:
    """One Allow statement of an identity policy attached to pipeline roles."""

    source: str  # "<stack>/<logical id>" of the policy (or "<stack>/<role>:<inline policy name>")
    index: int
    sid: str | None
    roles: tuple[str, ...]  # sources ("<stack>/<logical id>") of the pipeline roles it is attached to
    actions: tuple[str, ...]  # as written; a NotAction statement is one entry "NotAction:<...>"
    resources: tuple[str, ...]
    conditional: bool

    @property
    def key(self) -> str:
        return f"{self.source}#{self.index}"


@dataclass(frozen=True)
class ActionGrant:
    """One action of one statement: the finer unit ("actions never used")."""

    statement: GrantedStatement
    action: str

    @property
    def key(self) -> str:
        return f"{self.statement.key} {self.action}"


@dataclass
class StatementUse:
    calls: int = 0
    actions: dict[str, set[str]] = field(default_factory=dict)  # action as written -> actions of calls it allowed
    principals: set[str] = field(default_factory=set)
    # Calls this statement alone allowed among the identity statements that matched: removing it denies them.
    sole_actions: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Explanation:
    kind: str  # "kept" or "candidate"
    pattern: str
    reason: str


@dataclass
class PrivilegeReport:
    granted: list[GrantedStatement]
    used: dict[str, StatementUse]  # statement key -> use
    kept: Mapping[str, str]
    candidates: Mapping[str, str]

    @property
    def needed(self) -> list[GrantedStatement]:
        return [s for s in self.granted if s.key in self.used]

    @property
    def unused(self) -> list[GrantedStatement]:
        return [s for s in self.granted if s.key not in self.used]

    @property
    def action_grants(self) -> list[ActionGrant]:
        return [ActionGrant(s, a) for s in self.granted for a in s.actions]

    def action_used(self, grant: ActionGrant) -> bool:
        use = self.used.get(grant.statement.key)
        return bool(use and use.actions.get(grant.action))

    @property
    def needed_actions(self) -> list[ActionGrant]:
        return [g for g in self.action_grants if self.action_used(g)]

    @property
    def unused_actions(self) -> list[ActionGrant]:
        """Every action grant no call used, in unused statements and in used ones alike."""
        return [g for g in self.action_grants if not self.action_used(g)]

    def actions_never_used(self) -> list[ActionGrant]:
        """Unused actions of statements that are needed (the statement is broader than its use)."""
        return [g for g in self.unused_actions if g.statement.key in self.used]

    def explain(self, grant: ActionGrant) -> Explanation | None:
        """Why an unused action grant is there: a removal candidate first, else the first KEPT entry."""
        for kind, table in (("candidate", self.candidates), ("kept", self.kept)):
            for pattern, why in table.items():
                if kept_matches(pattern, grant):
                    return Explanation(kind, pattern, why)
        return None

    def unexplained(self) -> list[ActionGrant]:
        return [g for g in self.unused_actions if self.explain(g) is None]

    def candidate_grants(self) -> list[ActionGrant]:
        return [g for g in self.unused_actions if (e := self.explain(g)) is not None and e.kind == "candidate"]

    def stale(self) -> list[str]:
        """Entries that explain nothing: no unused action grant is explained by them (all they matched is
        used now, or removed from the stacks, or a candidate entry shadows them)."""
        explaining = {e.pattern for g in self.unused_actions if (e := self.explain(g)) is not None}
        return [pattern for pattern in [*self.candidates, *self.kept] if pattern not in explaining]

    def figures(self) -> dict[str, Any]:
        granted, needed = len(self.granted), len(self.needed)
        actions, actions_needed = len(self.action_grants), len(self.needed_actions)
        candidates = self.candidate_grants()
        return {
            "statements_granted": granted,
            "statements_needed": needed,
            "statements_ratio": round(needed / granted, 3) if granted else None,
            "actions_granted": actions,
            "actions_needed": actions_needed,
            "actions_ratio": round(actions_needed / actions, 3) if actions else None,
            "unused_statements": [s.key for s in self.unused],
            "actions_kept": len(self.unused_actions) - len(candidates) - len(self.unexplained()),
            "removal_candidates": [g.key for g in candidates],
            "unexplained": [g.key for g in self.unexplained()],
            "stale": self.stale(),
        }


def kept_matches(pattern: str, grant: ActionGrant) -> bool:
    """Whether a KEPT / REMOVAL_CANDIDATES key matches one action grant."""
    source_glob, action_globs, *resource_glob = pattern.split(" ")
    if not fnmatch.fnmatchcase(grant.statement.source, source_glob):
        return False
    if not any(fnmatch.fnmatchcase(grant.action.lower(), a.lower()) for a in action_globs.split("|")):
        return False
    return not resource_glob or any(fnmatch.fnmatchcase(r, resource_glob[0]) for r in grant.statement.resources)


def is_pipeline_role(source: str) -> bool:
    """Whether a role (``<stack>/<logical id>``) is the pipeline's, not one of CDK's framework functions'."""
    logical_id = source.rsplit("/", 1)[-1]
    return not any(re.search(pattern, logical_id) for pattern in CDK_FRAMEWORK_ROLES)


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (str(value),) if isinstance(value, str) else tuple(str(v) for v in value)


def granted_statements(store: PolicyStore) -> list[GrantedStatement]:
    """Every Allow statement of every identity policy attached to a pipeline role, in a stable order."""
    roles_of: dict[str, list[str]] = {}
    documents: dict[str, Mapping[str, Any]] = {}
    for record in store.roles.values():
        if not is_pipeline_role(record.source):
            continue
        policies, _unknown = store.identity_policies(record.arn)
        for policy in policies:
            if policy.source.startswith("aws-managed:"):
                continue
            roles_of.setdefault(policy.source, []).append(record.source)
            documents[policy.source] = policy.document
    found: list[GrantedStatement] = []
    for source in sorted(documents):
        raw = documents[source].get("Statement", [])
        for index, statement in enumerate([raw] if isinstance(raw, dict) else raw):
            if statement.get("Effect") != "Allow":
                continue
            actions = _strings(statement.get("Action"))
            if "NotAction" in statement:
                actions = ("NotAction:" + ",".join(_strings(statement["NotAction"])),)
            found.append(
                GrantedStatement(
                    source=source,
                    index=index,
                    sid=statement.get("Sid"),
                    roles=tuple(sorted(set(roles_of[source]))),
                    actions=actions,
                    resources=_strings(statement.get("Resource") or statement.get("NotResource")),
                    conditional=bool(statement.get("Condition")),
                )
            )
    return found


def _action_matches(written: str, action: str) -> bool:
    if written.startswith("NotAction:"):
        return not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in written[10:].split(","))
    return fnmatch.fnmatchcase(action.lower(), written.lower())


def measure(
    store: PolicyStore,
    records: Iterable[CallRecord],
    *,
    kept: Mapping[str, str] | None = None,
    candidates: Mapping[str, str] | None = None,
) -> PrivilegeReport:
    """Granted against needed, from the store of one run and the records of one or more runs of the assembly.

    Statement sources and indexes are the templates' (``<stack>/<logical id>#<index>``), so records of
    several runs of the same assembly add up even though the physical names differ between runs.
    """
    granted = granted_statements(store)
    by_key = {s.key: s for s in granted}
    used: dict[str, StatementUse] = {}
    for record in records:
        if not record.allowed:
            continue
        mine = [ref for ref in record.allowed_by if f"{ref.source}#{ref.index}" in by_key]
        for ref in mine:
            statement = by_key[f"{ref.source}#{ref.index}"]
            use = used.setdefault(statement.key, StatementUse())
            use.calls += 1
            use.principals.add(record.principal)
            for written in statement.actions:
                if _action_matches(written, record.action):
                    use.actions.setdefault(written, set()).add(record.action)
            if len(mine) == 1:
                use.sole_actions.add(record.action)
    return PrivilegeReport(
        granted=granted,
        used=used,
        kept=KEPT if kept is None else kept,
        candidates=REMOVAL_CANDIDATES if candidates is None else candidates,
    )
