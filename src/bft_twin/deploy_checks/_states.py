"""CreateStateMachine: the role Step Functions is given must be one it can assume, and one that can set up
the state machine's logging.

- The role's trust policy must let ``states.amazonaws.com`` assume it, with the ``aws:SourceAccount`` and
  ``aws:SourceArn`` of the state machine (Step Functions Developer Guide, "Creating an IAM role for your
  state machine"; the confused-deputy conditions CDK writes). AWS answers ``AccessDeniedException``:
  "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume
  the provided role."
- With a ``LoggingConfiguration`` at a level other than ``OFF``, the role needs the log-delivery permissions
  on ``*`` (Step Functions Developer Guide, "Logging in CloudWatch Logs", "IAM policies for logging to
  CloudWatch Logs"): ``logs:CreateLogDelivery``, ``GetLogDelivery``, ``UpdateLogDelivery``,
  ``DeleteLogDelivery``, ``ListLogDeliveries``, ``PutResourcePolicy``, ``DescribeResourcePolicies``,
  ``DescribeLogGroups``. Without them CreateStateMachine fails ``AccessDeniedException``: "The state machine
  IAM Role is not authorized to access the Log Destination" (the text CloudFormation reports, e.g.
  aws/aws-cdk#26432, aws-samples/serverless-patterns#102). Which of the eight Step Functions tests at create
  time is not documented; the twin requires all eight, as the page does.
- Tracing (``TracingConfiguration.Enabled``) is **not** refused: Step Functions creates the state machine
  without the X-Ray permissions and its segments are refused later (aws/serverless-application-model#1728:
  tracing enabled, role without X-Ray permissions, deployed; DataBiosphere/azul#6614: the AccessDenied in
  CloudTrail). The twin records a warning instead (``OfflineAssembly.deploy_warnings``).
"""

from __future__ import annotations

from bft_twin.deploy_checks import DeployContext, Site
from bft_twin.iam.actions import ActionRequest
from bft_twin.iam.context import merged_context, request_keys
from bft_twin.iam.evaluate import evaluate
from bft_twin.iam.model import AuthRequest, Decision, Principal, Undecidable
from bft_twin.offline._resources import generated_name

__all__ = ["LOG_DELIVERY", "XRAY", "logging", "role_assumable", "tracing"]

LOG_DELIVERY = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
XRAY = ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets")
ROLE_SOURCE = "Step Functions Developer Guide, 'Creating an IAM role for your state machine'"
LOGS_SOURCE = "Step Functions Developer Guide, 'Logging in CloudWatch Logs' (IAM policies for logging)"


def _machine_arn(site: Site, context: DeployContext) -> str:
    name = site.prop("StateMachineName") or generated_name(site.spec, max_length=80)
    return context.arn("states", f"stateMachine:{name}")


def role_assumable(site: Site, context: DeployContext) -> None:
    role_arn = str(site.prop("RoleArn"))
    trust = context.store.trust(role_arn)
    principal = Principal("states.amazonaws.com", type="Service")
    needed = ActionRequest("sts:AssumeRole", role_arn, {}, None)
    keys = merged_context(
        request_keys(principal, needed, now=context.clock(), account=context.pseudo.account_id),
        {"aws:SourceAccount": context.pseudo.account_id, "aws:SourceArn": _machine_arn(site, context)},
    )
    request = AuthRequest(principal, "sts:AssumeRole", role_arn, keys, resource_account=context.pseudo.account_id)
    if trust is None or not evaluate(request, resource=trust, resource_kind="trust").allowed:
        raise site.refuse(
            "AccessDeniedException",
            "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to "
            f"assume the provided role. ({role_arn})",
            ROLE_SOURCE,
        )


def _role_may(context: DeployContext, role_arn: str, action: str) -> Decision:
    """Whether the role's own policies (and boundary) allow ``action`` on ``*``, as a session of the role."""
    record = context.store.role(role_arn)
    name = role_arn.rsplit("/", 1)[-1]
    account = role_arn.split(":")[4]
    principal = Principal(
        role_arn,
        account=account,
        session_arn=f"arn:{context.pseudo.partition}:sts::{account}:assumed-role/{name}/StepFunctions",
        tags=dict(record.tags) if record is not None else {},
    )
    needed = ActionRequest(action, "*", {}, None)
    keys = request_keys(principal, needed, now=context.clock(), account=context.pseudo.account_id)
    identity, unknown = context.store.identity_policies(role_arn)
    request = AuthRequest(principal, action, "*", keys, resource_account=context.pseudo.account_id)
    decision = evaluate(request, identity=identity, boundary=context.store.boundary(role_arn))
    if not decision.allowed and unknown and not decision.denied_by:
        raise Undecidable(
            f"{role_arn} attaches managed policies whose documents the offline run does not know "
            f"({', '.join(unknown)}): it cannot tell whether they allow {action}"
        )
    return decision


def logging(site: Site, context: DeployContext) -> None:
    configuration = site.prop("LoggingConfiguration") or {}
    if str(configuration.get("Level", "OFF")).upper() == "OFF" or not configuration.get("Destinations"):
        return
    role_arn = str(site.prop("RoleArn"))
    missing = [action for action in LOG_DELIVERY if not _role_may(context, role_arn, action).allowed]
    if missing:
        raise site.refuse(
            "AccessDeniedException",
            "The state machine IAM Role is not authorized to access the Log Destination "
            f"({role_arn} is not allowed {', '.join(missing)} on *)",
            LOGS_SOURCE,
        )


def tracing(site: Site, context: DeployContext) -> None:
    configuration = site.prop("TracingConfiguration") or {}
    if not configuration.get("Enabled"):
        return
    role_arn = str(site.prop("RoleArn"))
    missing = [action for action in XRAY[:2] if not _role_may(context, role_arn, action).allowed]
    if missing:
        context.warnings.append(
            f"{site.where}: tracing is enabled but {role_arn} is not allowed {', '.join(missing)}: Step Functions "
            "creates the state machine and its trace segments are refused (not a deploy-time refusal)"
        )
