"""CreateKey's policy lockout safety check: a key policy must let the principal creating the key change it later.

AWS KMS API Reference, CreateKey and PutKeyPolicy, ``BypassPolicyLockoutSafetyCheck``: "Setting this value
to true increases the risk that the KMS key becomes unmanageable ... For more information, see Default key
policy"; without it, KMS refuses a policy under which "the principal that is making the CreateKey request"
could not call PutKeyPolicy on the key: ``MalformedPolicyDocumentException``, "The new key policy will not
allow you to update the key policy in the future." (AWS KMS Developer Guide, "Default key policy": "Allows
access to the AWS account and enables IAM policies").

The principal making the request is CloudFormation's: the stack's execution role, which CDK's bootstrap
creates (``cdk-hnb659fds-cfn-exec-role-<account>-<region>``, the stack's ``cloudFormationExecutionRoleArn`` in
the assembly's manifest) with ``AdministratorAccess`` by default (CDK bootstrapping guide,
``--cloudformation-execution-policies``). That the deployer is that role with that policy is the twin's
assumption for a bootstrap it cannot see (``DeployContext.deployer``).
"""

from __future__ import annotations

from bft_twin.deploy_checks import DeployContext, Site
from bft_twin.iam.actions import ActionRequest
from bft_twin.iam.context import merged_context, request_keys
from bft_twin.iam.evaluate import evaluate
from bft_twin.iam.model import AuthRequest, Policy

__all__ = ["lockout"]

SOURCE = "AWS KMS API Reference, CreateKey (BypassPolicyLockoutSafetyCheck); Developer Guide, 'Default key policy'"


def lockout(site: Site, context: DeployContext) -> None:
    document = site.prop("KeyPolicy")
    if document is None or str(site.prop("BypassPolicyLockoutSafetyCheck", "false")).lower() == "true":
        return  # no policy: KMS gives the key its default policy, which delegates to the account's IAM policies
    key_arn = context.arn("kms", "key/00000000-0000-0000-0000-000000000000")  # the new key's id is not known yet
    deployer = context.deployer
    needed = ActionRequest("kms:PutKeyPolicy", key_arn, {}, None)
    keys = merged_context(
        request_keys(deployer, needed, now=context.clock(), account=context.pseudo.account_id),
        {"kms:CallerAccount": deployer.account or context.pseudo.account_id},
    )
    request = AuthRequest(deployer, "kms:PutKeyPolicy", key_arn, keys, resource_account=context.pseudo.account_id)
    decision = evaluate(
        request,
        identity=[Policy(context.deployer_policy, "deployer:AdministratorAccess", "identity")],
        resource=Policy(document, f"{site.spec.stack}/{site.spec.logical_id}", "key"),
        resource_kind="kms",
    )
    if not decision.allowed:
        raise site.refuse(
            "MalformedPolicyDocumentException",
            "The new key policy will not allow you to update the key policy in the future. "
            f"({deployer.arn} would be refused kms:PutKeyPolicy: {decision.reason})",
            SOURCE,
        )
