"""Bedrock: customization jobs, custom models, provisioned throughput, deployments, and inference."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from bft_twin.iam.actions._base import ActionRequest, Call, World
from bft_twin.iam.actions._common import (
    Mapper,
    merge_tags,
    request_tag_context,
    resource_tag_context,
    tag_list,
    unmapped,
)
from bft_twin.iam.actions._identity import pass_role
from bft_twin.iam.actions._kms import kms_request
from bft_twin.iam.model import ContextValue, Undecidable, Unknown

# Bedrock documents that it uses a customer managed key, not the encryption context of its KMS requests nor
# the grant it creates: conditions on those keys are Undecidable offline.
_BEDROCK_CONTEXT = "not documented by Bedrock"
_BEDROCK_GRANT = Unknown("the grant Bedrock creates for a customization job is not documented")


def _bedrock_arn(call: Call, kind: str, name: str) -> str:
    if kind == "foundation-model":
        return f"arn:aws:bedrock:{call.region}::foundation-model/{name}"
    return f"arn:aws:bedrock:{call.region}:{call.account}:{kind}/{name}"


_TAGGED_KINDS = {
    "custom-model",
    "model-customization-job",
    "provisioned-model",
    "custom-model-deployment",
    "evaluation-job",
}


def _bedrock_kind(arn: str) -> str:
    return arn.split(":", 5)[5].split("/", 1)[0]


def _resolve(call: Call, world: World, identifier: str, kind: str) -> str:
    """A Bedrock name or ARN -> ARN. A resource that does not exist is named as the API would address it."""
    found = world.bedrock_arn(identifier, kind)
    if found:
        return found
    return identifier if identifier.startswith("arn:") else _bedrock_arn(call, kind, identifier)


def _base_model(call: Call, world: World, identifier: str) -> str:
    """A base model identifier: a foundation model id or ARN, or a custom model name or ARN."""
    if identifier.startswith("arn:"):
        return identifier
    custom = world.bedrock_arn(identifier, "custom-model")
    return custom or _resolve(call, world, identifier, "foundation-model")


def _bedrock_request(
    call: Call,
    world: World,
    action: str,
    resource: str,
    *,
    request_tags: Mapping[str, str] | None = None,
    existing: bool = True,
    implicit: str | None = None,
) -> ActionRequest:
    context: dict[str, ContextValue] = dict(request_tag_context(request_tags or {}))
    if existing and resource != "*" and _bedrock_kind(resource) in _TAGGED_KINDS:
        context.update(resource_tag_context(world, resource))
    return ActionRequest(action=action, resource=resource, context=context, resource_policy=None, implicit=implicit)


def _model_user_kms(call: Call, world: World, model_arn: str, actions: Iterable[str], why: str) -> list[ActionRequest]:
    """KMS requests for using an encrypted custom model (creating a PT or deployment, invoking it)."""
    custom = model_arn if _bedrock_kind(model_arn) == "custom-model" else world.serving_model(model_arn)
    key = world.custom_model_kms_key(custom) if custom else None
    if not key:
        return []
    return [
        kms_request(world, call, action, key, via="bedrock", implicit=why, context_unknown=_BEDROCK_CONTEXT)
        for action in actions
    ]


def map_bedrock(call: Call, world: World) -> list[ActionRequest]:
    p, op = call.params, call.operation
    action = f"bedrock:{op}"

    def on(kind: str, param: str) -> list[ActionRequest]:
        return [_bedrock_request(call, world, action, _resolve(call, world, str(p[param]), kind))]

    if op == "CreateModelCustomizationJob":
        job_tags = tag_list(p.get("jobTags"))
        model_tags = tag_list(p.get("customModelTags"))
        tags = merge_tags(call, job_tags, model_tags)
        new_model = _bedrock_arn(call, "custom-model", p["customModelName"])
        new_job = _bedrock_arn(call, "model-customization-job", p["jobName"])
        requests = [
            _bedrock_request(
                call, world, action, _base_model(call, world, p["baseModelIdentifier"]), request_tags=tags
            ),
            _bedrock_request(call, world, action, new_model, request_tags=tags, existing=False),
        ]
        for resource, own in ((new_job, job_tags), (new_model, model_tags)):
            if own:
                requests.append(
                    _bedrock_request(
                        call,
                        world,
                        "bedrock:TagResource",
                        resource,
                        request_tags=own,
                        existing=False,
                        implicit="tags passed at creation",
                    )
                )
        requests.append(pass_role(p["roleArn"], "bedrock.amazonaws.com", world))
        if p.get("customModelKmsKeyId"):
            for kms_action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"):
                extra: dict[str, ContextValue] = (
                    {
                        "kms:GrantIsForAWSResource": True,
                        "kms:GrantOperations": _BEDROCK_GRANT,
                        "kms:GranteePrincipal": _BEDROCK_GRANT,
                        "kms:RetiringPrincipal": _BEDROCK_GRANT,
                    }
                    if kms_action == "kms:CreateGrant"
                    else {}
                )
                requests.append(
                    kms_request(
                        world,
                        call,
                        kms_action,
                        p["customModelKmsKeyId"],
                        via="bedrock",
                        extra=extra,
                        implicit="custom model encrypted with a customer managed key, created via Bedrock",
                        context_unknown=_BEDROCK_CONTEXT,
                    )
                )
        return requests
    if op in ("CreateProvisionedModelThroughput", "CreateCustomModelDeployment"):
        param = "modelId" if op == "CreateProvisionedModelThroughput" else "modelArn"
        model = _base_model(call, world, str(p[param]))
        tags = tag_list(p.get("tags"))
        kind = "provisioned-model" if op == "CreateProvisionedModelThroughput" else "custom-model-deployment"
        name = p["provisionedModelName"] if op == "CreateProvisionedModelThroughput" else p["modelDeploymentName"]
        requests = [_bedrock_request(call, world, action, model, request_tags=tags)]
        if tags:
            requests.append(
                _bedrock_request(
                    call,
                    world,
                    "bedrock:TagResource",
                    _bedrock_arn(call, kind, name),
                    request_tags=tags,
                    existing=False,
                    implicit="tags passed at creation",
                )
            )
        return requests + _model_user_kms(
            call, world, model, ("kms:Decrypt", "kms:GenerateDataKey"), f"encrypted custom model served via {op}"
        )
    if op == "CreateEvaluationJob":
        return _create_evaluation_job(call, world)
    if op in ("GetModelCustomizationJob", "StopModelCustomizationJob"):
        return on("model-customization-job", "jobIdentifier")
    if op in ("GetEvaluationJob", "StopEvaluationJob"):
        return on("evaluation-job", "jobIdentifier")
    if op in ("GetCustomModel", "DeleteCustomModel"):
        return on("custom-model", "modelIdentifier")
    if op in ("GetProvisionedModelThroughput", "DeleteProvisionedModelThroughput"):
        return on("provisioned-model", "provisionedModelId")
    if op == "UpdateProvisionedModelThroughput":
        requests = on("provisioned-model", "provisionedModelId")
        if p.get("desiredModelId"):
            requests.append(_bedrock_request(call, world, action, _base_model(call, world, p["desiredModelId"])))
        return requests
    if op in ("GetCustomModelDeployment", "DeleteCustomModelDeployment"):
        return on("custom-model-deployment", "customModelDeploymentIdentifier")
    if op == "UpdateCustomModelDeployment":
        # The deployment (its aws:ResourceTag), and the custom model it is pointed at as for
        # UpdateProvisionedModelThroughput's desiredModelId (a guess: docs/authorization-actions.md), whose key
        # serves the model as CreateCustomModelDeployment's does.
        model = _base_model(call, world, str(p["modelArn"]))
        requests = on("custom-model-deployment", "customModelDeploymentIdentifier")
        requests.append(_bedrock_request(call, world, action, model))
        return requests + _model_user_kms(
            call, world, model, ("kms:Decrypt", "kms:GenerateDataKey"), f"encrypted custom model served via {op}"
        )
    if op == "GetFoundationModel":
        return on("foundation-model", "modelIdentifier")
    if op in (
        "ListModelCustomizationJobs",
        "ListCustomModels",
        "ListProvisionedModelThroughputs",
        "ListCustomModelDeployments",
        "ListFoundationModels",
        "ListEvaluationJobs",
    ):
        return [_bedrock_request(call, world, action, "*")]
    if op in ("TagResource", "UntagResource", "ListTagsForResource"):
        arn = str(p["resourceARN"])
        if op == "TagResource":
            return [_bedrock_request(call, world, action, arn, request_tags=tag_list(p["tags"]))]
        request = _bedrock_request(call, world, action, arn)
        if op == "UntagResource":
            request = ActionRequest(
                action=action,
                resource=arn,
                context={**request.context, "aws:TagKeys": list(p["tagKeys"])},
                resource_policy=None,
            )
        return [request]
    raise unmapped(call)


def _create_evaluation_job(call: Call, world: World) -> list[ActionRequest]:
    """CreateEvaluationJob: the SAR's resource types are foundation-model and custom-model (the models it
    names: the judge, and a Bedrock model it would invoke) or ``*``; a job on precomputed answers with a judge
    is authorized on the judge. Tags passed at creation, PassRole of the service role, as for customization."""
    p, action = call.params, "bedrock:CreateEvaluationJob"
    if p.get("customerEncryptionKeyId"):
        raise Undecidable("bedrock:CreateEvaluationJob with customerEncryptionKeyId: its KMS requests are not mapped")
    automated = (p.get("evaluationConfig") or {}).get("automated") or {}
    judges = [
        m["modelIdentifier"]
        for config in (automated.get("customMetricConfig") or {}, automated)
        for m in ((config.get("evaluatorModelConfig") or {}).get("bedrockEvaluatorModels") or [])
    ]
    invoked = [
        m["bedrockModel"]["modelIdentifier"]
        for m in (p.get("inferenceConfig") or {}).get("models") or []
        if "bedrockModel" in m
    ]
    tags = tag_list(p.get("jobTags"))
    resources = [_base_model(call, world, str(model)) for model in dict.fromkeys([*judges, *invoked])] or ["*"]
    requests = [_bedrock_request(call, world, action, resource, request_tags=tags) for resource in resources]
    if tags:
        requests.append(
            _bedrock_request(
                call,
                world,
                "bedrock:TagResource",
                _bedrock_arn(call, "evaluation-job", p["jobName"]),
                request_tags=tags,
                existing=False,
                implicit="tags passed at creation",
            )
        )
    requests.append(pass_role(p["roleArn"], "bedrock.amazonaws.com", world))
    return requests


_INFERENCE_PROFILE_PREFIX = re.compile(r"^(us|eu|apac|jp|au|ca|us-gov|global)\.")


def _invoked_model(call: Call, world: World, model_id: str) -> str:
    if model_id.startswith("arn:"):
        kind = _bedrock_kind(model_id)
        if kind == "custom-model":
            # The SAR lists no custom-model resource type for the invoke actions: Bedrock serves a custom model
            # only through a provisioned model or a deployment (the fake refuses the ARN with ValidationException).
            raise Undecidable(
                f"bedrock-runtime:{call.operation} on a custom model's own ARN: the SAR authorizes invocation on "
                "the provisioned model or deployment serving it, not on the custom model (actions/_bedrock.py, "
                "_invoked_model)"
            )
        if kind not in ("foundation-model", "provisioned-model", "custom-model-deployment"):
            raise Undecidable(
                f"bedrock-runtime:{call.operation} on a {kind} is not mapped (actions/_bedrock.py, _invoked_model)"
            )
        return model_id
    if _INFERENCE_PROFILE_PREFIX.match(model_id):
        raise Undecidable(
            f"bedrock-runtime:{call.operation} on inference profile {model_id!r} (profile + per-region foundation "
            "models) is not mapped (src/bft_twin/iam/actions/_bedrock.py, _invoked_model)"
        )
    if "." in model_id:  # foundation model ids are "<provider>.<model>"; names allow no dot
        return _bedrock_arn(call, "foundation-model", model_id)
    for kind in ("provisioned-model", "custom-model-deployment"):
        found = world.bedrock_arn(model_id, kind)
        if found:
            return found
    raise Undecidable(f"bedrock-runtime:{call.operation}: no provisioned model or deployment named {model_id!r}")


def map_bedrock_runtime(call: Call, world: World) -> list[ActionRequest]:
    op = call.operation
    actions = {
        "InvokeModel": "bedrock:InvokeModel",
        "Converse": "bedrock:InvokeModel",
        "InvokeModelWithResponseStream": "bedrock:InvokeModelWithResponseStream",
        "ConverseStream": "bedrock:InvokeModelWithResponseStream",
    }
    if op not in actions:
        raise unmapped(call)
    for unsupported in ("guardrailConfig", "guardrailIdentifier", "promptVariables"):
        if call.params.get(unsupported):
            raise Undecidable(
                f"bedrock-runtime:{op} with {unsupported} needs further actions "
                "(actions/_bedrock.py, map_bedrock_runtime)"
            )
    model = _invoked_model(call, world, str(call.params["modelId"]))
    request = _bedrock_request(call, world, actions[op], model)
    return [
        request,
        *_model_user_kms(call, world, model, ("kms:Decrypt",), "encrypted custom model invoked via Bedrock"),
    ]


MAPPERS: dict[str, tuple[Mapper, frozenset[str]]] = {
    "bedrock": (
        map_bedrock,
        frozenset(
            {
                "CreateModelCustomizationJob",
                "GetModelCustomizationJob",
                "CreateEvaluationJob",
                "GetEvaluationJob",
                "StopEvaluationJob",
                "ListEvaluationJobs",
                "StopModelCustomizationJob",
                "ListModelCustomizationJobs",
                "GetCustomModel",
                "DeleteCustomModel",
                "ListCustomModels",
                "CreateProvisionedModelThroughput",
                "GetProvisionedModelThroughput",
                "UpdateProvisionedModelThroughput",
                "DeleteProvisionedModelThroughput",
                "ListProvisionedModelThroughputs",
                "CreateCustomModelDeployment",
                "GetCustomModelDeployment",
                "UpdateCustomModelDeployment",
                "DeleteCustomModelDeployment",
                "ListCustomModelDeployments",
                "GetFoundationModel",
                "ListFoundationModels",
                "TagResource",
                "UntagResource",
                "ListTagsForResource",
            }
        ),
    ),
    "bedrock-runtime": (
        map_bedrock_runtime,
        frozenset({"InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream"}),
    ),
}
