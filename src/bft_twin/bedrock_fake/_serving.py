"""Serving: provisioned throughput, custom model deployments and bedrock-runtime inference."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from bft_twin import catalog as catalog_module
from bft_twin.bedrock_fake import _base_model, _inference
from bft_twin.bedrock_fake._core import (
    _COMMITMENT_DAYS,
    _INVALID_MODEL,
    _Core,
    _dt,
    _iso,
    _QuotaErrors,
    _Reply,
)
from bft_twin.bedrock_fake._records import (
    UPDATE_DELAY_S,
    Deployment,
    Step,
    Throughput,
)
from bft_twin.bedrock_fake._wire import ServiceError
from bft_twin.catalog import FoundationModel


@dataclass(frozen=True)
class _Generation:
    base: FoundationModel
    answer: str
    input_tokens: int
    output_tokens: int
    truncated: bool
    latency_ms: int


# Assumptions (docs/bedrock-behaviour.md#evaluation-capacity): the concurrent requests a target serves before
# it throttles. AWS publishes no per-model figure for a model unit of a custom model, nor for a custom model
# deployment's or a base model's on-demand concurrency (its quotas are per minute and per account).
CONCURRENT_REQUESTS_PER_MODEL_UNIT = 2
DEPLOYMENT_CONCURRENT_REQUESTS = 4
ON_DEMAND_CONCURRENT_REQUESTS = 10


@dataclass(frozen=True)
class _Hold:
    """A request in flight on ``target`` for ``seconds`` of simulated latency (released after the sleep)."""

    target: str
    seconds: float


class _Serving(_Core):
    """Provisioned throughput, custom model deployments, Converse and InvokeModel."""

    def _capacity(self, model_id: str) -> int:
        if ":provisioned-model/" in model_id:
            return self._throughputs[model_id].units * self._requests_per_model_unit
        if ":custom-model-deployment/" in model_id:
            return DEPLOYMENT_CONCURRENT_REQUESTS
        return ON_DEMAND_CONCURRENT_REQUESTS

    def _take_capacity(self, model_id: str, latency_ms: int) -> None:
        """With simulated latency, a request occupies one of its target's slots while it is answered; past the
        target's capacity it is throttled, as Bedrock throttles past a throughput's or a quota's capacity."""
        if self._latency_sleep is None:
            return
        busy = self._in_flight.get(model_id, 0)
        if busy >= self._capacity(model_id):
            self.counters.throttled += 1
            raise ServiceError("ThrottlingException", "Too many requests, please wait before trying again.")
        self._in_flight[model_id] = busy + 1
        self.peak_in_flight[model_id] = max(self.peak_in_flight.get(model_id, 0), busy + 1)
        self._holds[threading.get_ident()] = _Hold(model_id, latency_ms / 1000)

    def _release_capacity(self) -> _Hold | None:
        """The calling thread's hold, if its request took one (with the state lock held)."""
        return self._holds.pop(threading.get_ident(), None)

    def _end_hold(self, hold: _Hold) -> None:
        with self._lock:
            self._in_flight[hold.target] -= 1

    def _find_throughput(self, identifier: str) -> Throughput:
        found = self._throughputs.get(identifier) or next(
            (t for t in self._throughputs.values() if t.name == identifier), None
        )
        if found is None:
            raise ServiceError("ResourceNotFoundException", f"Provisioned model {identifier} not found.")
        return found

    def _throughput_target(self, identifier: str, now: float) -> tuple[str, FoundationModel, bool]:
        """(model ARN, foundation model, is custom) for a PT's modelId."""
        custom = self._find_custom_model(identifier)
        if custom is not None:
            base = custom.job.base
            self._base_alive(base, now)
            if base.lifecycle.status == "LEGACY":
                # In Legacy "creating new provisioned throughput by model units becomes unavailable", for custom
                # models of that base too (docs/bedrock-behaviour.md#legacy-restrictions). Assumption: the
                # code and wording (docs/bedrock-behaviour.md#legacy-or-eol-errors).
                raise ServiceError(
                    "ValidationException",
                    f"Provisioned Throughput can't be purchased for models based on legacy model {base.model_id}.",
                )
            return custom.arn, base, True
        # Foundation-model ids always contain a dot; custom model names never do (CustomModelName pattern).
        if ":custom-model/" in identifier or "." not in identifier:
            raise ServiceError("ResourceNotFoundException", f"Custom model {identifier} not found.")
        base_model = self.catalog.get(identifier, self.region)
        if base_model is None:
            raise ServiceError("ValidationException", _INVALID_MODEL)
        if "PROVISIONED" not in base_model.inference_types:
            raise ServiceError(
                "ValidationException", f"The model {base_model.model_id} doesn't support Provisioned Throughput."
            )
        if base_model.lifecycle.status == "LEGACY":
            # No new Provisioned Throughput for a LEGACY model (docs/bedrock-behaviour.md#legacy-restrictions);
            # wording assumed.
            raise ServiceError(
                "ValidationException",
                f"The model {base_model.model_id} is Legacy; you can't create new Provisioned Throughput for it.",
            )
        return base_model.arn(self.region), base_model, False

    def _create_throughput(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        replayed = self._replay("CreateProvisionedModelThroughput", request)
        if replayed is not None:
            return {"provisionedModelArn": replayed}
        name = request["provisionedModelName"]
        if any(t.name == name for t in self._throughputs.values()):
            # Assumption: duplicate PT name -> ValidationException (unconfirmed).
            raise ServiceError("ValidationException", f"A provisioned model named {name} already exists.")
        model_arn, base, custom = self._throughput_target(request["modelId"], now)
        units = request["modelUnits"]
        commitment = request.get("commitmentDuration")
        if commitment is None and custom:
            # Quota "Model units no-commitment Provisioned Throughputs across custom models", 0 until AWS Support
            # raises it (docs/bedrock-behaviour.md#no-commit-quota).
            # Assumption: only Creating/InService/Updating PTs count; base-model PTs do not.
            used = sum(
                t.units
                for t in self._throughputs.values()
                if t.custom and t.commitment is None and t.status in ("Creating", "InService", "Updating")
            )
            if used + units > self._no_commit_units:
                raise _QuotaErrors.no_commit(base, used, units, self._no_commit_units)
        elif commitment is not None:
            # "By default, your account has no model units for purchasing Provisioned Throughputs with
            # commitment" (API reference; docs/bedrock-behaviour.md#commit-quota). Assumption: one pool per
            # account, counting every committed throughput that is not Failed (a term runs until it ends).
            used = sum(t.units for t in self._throughputs.values() if t.commitment is not None and t.status != "Failed")
            if used + units > self._commit_units:
                raise _QuotaErrors.commitment(base, used, units, self._commit_units)
        plan = self._throughput_plans.take()
        throughput = Throughput(
            arn=self._arn(f"provisioned-model/{self._new_id()}"),
            name=name,
            model_arn=model_arn,
            foundation=base,
            custom=custom,
            units=units,
            commitment=commitment,
            commitment_expiration=now + _COMMITMENT_DAYS[commitment] * 86400 if commitment else None,
            created=now,
            steps=[Step(now + plan.duration_s, "ready" if plan.outcome == "InService" else "fail")],
            failure_message_if_failed=plan.failure_message,
            modified=now,
        )
        self._throughputs[throughput.arn] = throughput
        self._tags[throughput.arn] = list(request.get("tags") or [])
        self._remember("CreateProvisionedModelThroughput", request, throughput.arn)
        self.counters.throughputs_created += 1
        return {"provisionedModelArn": throughput.arn}

    def _apply_throughput(self, throughput: Throughput, step: Step) -> None:
        throughput.modified = step.at
        if step.kind == "ready":
            throughput.status = "InService"
            self.counters.throughputs_in_service += 1
        elif step.kind == "fail":
            throughput.status, throughput.failure_message = "Failed", throughput.failure_message_if_failed
            self.counters.throughputs_failed += 1
        elif step.kind == "updated":
            throughput.status = "InService"
            throughput.model_arn = throughput.desired_model_arn or throughput.model_arn
            throughput.desired_model_arn = None

    def _throughput_view(self, throughput: Throughput) -> dict[str, Any]:
        view: dict[str, Any] = {
            "modelUnits": throughput.units,
            "desiredModelUnits": throughput.units,
            "provisionedModelName": throughput.name,
            "provisionedModelArn": throughput.arn,
            "modelArn": throughput.model_arn,
            "desiredModelArn": throughput.desired_model_arn or throughput.model_arn,
            "foundationModelArn": throughput.foundation.arn(self.region),
            "status": throughput.status,
            "creationTime": _dt(throughput.created),
            "lastModifiedTime": _dt(throughput.modified),
        }
        if throughput.failure_message:
            view["failureMessage"] = throughput.failure_message
        if throughput.commitment:
            view["commitmentDuration"] = throughput.commitment
            view["commitmentExpirationTime"] = _dt(throughput.commitment_expiration or throughput.created)
        return view

    def _get_throughput(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        return self._throughput_view(self._find_throughput(request["provisionedModelId"]))

    def _update_throughput(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        throughput = self._find_throughput(request["provisionedModelId"])
        if throughput.status != "InService":
            # Assumption: only an InService PT can be updated.
            raise ServiceError(
                "ValidationException",
                f"Provisioned model {throughput.name} is {throughput.status}; update it when InService.",
            )
        new_name = request.get("desiredProvisionedModelName")
        if new_name and new_name != throughput.name:
            if any(t.name == new_name for t in self._throughputs.values()):
                raise ServiceError("ValidationException", f"A provisioned model named {new_name} already exists.")
            # Assumption: a rename takes effect at once.
            throughput.name = new_name
            throughput.modified = now
        desired = request.get("desiredModelId")
        if desired:
            if not throughput.custom:
                # Facts: the model can change only for custom-model PTs.
                raise ServiceError(
                    "ValidationException", "The model of a Provisioned Throughput for a base model can't be changed."
                )
            model = self._custom_model(desired)
            if model.job.base.model_id != throughput.foundation.model_id:
                # Assumption: the new custom model must come from the same base model.
                raise ServiceError(
                    "ValidationException",
                    f"Custom model {model.name} is not customized from {throughput.foundation.model_id}.",
                )
            if model.arn != throughput.model_arn:
                throughput.status, throughput.desired_model_arn, throughput.modified = "Updating", model.arn, now
                throughput.steps = [Step(now + UPDATE_DELAY_S, "updated")]
        return {}

    def _delete_throughput(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        throughput = self._find_throughput(request["provisionedModelId"])
        expiry = throughput.commitment_expiration
        if expiry is not None and now < expiry:
            # Facts: no deletion before the commitment ends. Assumption: the code is ValidationException.
            raise ServiceError(
                "ValidationException",
                f"Provisioned model {throughput.name} is committed until {_iso(expiry)}; delete it after that.",
            )
        # Assumption: a PT can be deleted in any status (Creating, Updating, Failed included).
        del self._throughputs[throughput.arn]
        self._tags.pop(throughput.arn, None)
        self.counters.throughputs_deleted += 1
        return {}

    def _list_throughputs(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        needle = (request.get("nameContains") or "").lower()
        found = [
            t
            for t in self._throughputs.values()
            if request.get("statusEquals") in (None, t.status)
            and request.get("modelArnEquals") in (None, t.model_arn)
            and needle in t.name.lower()
            and self._in_window(t.created, request, "creationTimeAfter", "creationTimeBefore")
        ]
        page, following = self._page(
            "ListProvisionedModelThroughputs", self._order(found, lambda t: t.created, request), request
        )
        summaries = []
        for t in page:
            view = self._throughput_view(t)
            view.pop("failureMessage", None)
            summaries.append(view)
        result: dict[str, Any] = {"provisionedModelSummaries": summaries}
        if following:
            result["nextToken"] = following
        return result

    def _find_deployment(self, identifier: str) -> Deployment:
        found = self._deployments.get(identifier) or next(
            (d for d in self._deployments.values() if d.name == identifier), None
        )
        if found is None:
            raise ServiceError("ResourceNotFoundException", f"Custom model deployment {identifier} not found.")
        return found

    def _create_deployment(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        replayed = self._replay("CreateCustomModelDeployment", request)
        if replayed is not None:
            return {"customModelDeploymentArn": replayed}
        name = request["modelDeploymentName"]
        if any(d.name == name for d in self._deployments.values()):
            # Assumption: duplicate deployment name -> ValidationException.
            raise ServiceError("ValidationException", f"A custom model deployment named {name} already exists.")
        model = self._models.get(request["modelArn"])
        if model is None:
            raise ServiceError("ResourceNotFoundException", f"Custom model {request['modelArn']} not found.")
        base = model.job.base
        if not base.on_demand_deployment:
            # Facts: on-demand deployment supports Nova only (not Claude 3 Haiku). Wording assumed.
            raise ServiceError(
                "ValidationException",
                f"On-demand deployment is not supported for custom models based on {base.model_id}; "
                "use Provisioned Throughput.",
            )
        if model.job.created < catalog_module.NOVA_ON_DEMAND_SINCE.timestamp():
            raise ServiceError(
                "ValidationException", "On-demand deployment supports models customized on or after 2025-07-16."
            )
        self._base_alive(base, now)
        plan = self._deployment_plans.take()
        deployment = Deployment(
            arn=self._arn(f"custom-model-deployment/{self._new_id()}"),
            name=name,
            model_arn=model.arn,
            base_model_id=base.model_id,
            description=request.get("description"),
            created=now,
            steps=[Step(now + plan.duration_s, "ready" if plan.outcome == "Active" else "fail")],
            failure_message_if_failed=plan.failure_message,
            modified=now,
        )
        self._deployments[deployment.arn] = deployment
        self._tags[deployment.arn] = list(request.get("tags") or [])
        self._remember("CreateCustomModelDeployment", request, deployment.arn)
        self.counters.deployments_created += 1
        return {"customModelDeploymentArn": deployment.arn}

    def _update_deployment(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        """UpdateCustomModelDeployment: point the deployment (its ARN unchanged) at another custom model.

        botocore: PATCH, 202, ``{customModelDeploymentArn}``; errors ResourceNotFound, Validation, AccessDenied,
        InternalServer, Throttling (no Conflict). What it refuses and how the update shows in
        GetCustomModelDeployment: docs/bedrock-behaviour.md#deployment-update (sources and guesses).
        """
        deployment = self._find_deployment(request["customModelDeploymentIdentifier"])
        if deployment.status == "Creating" or deployment.updating_to() is not None:
            # cloud-custodian's Bedrock fixture README (verified 2026-07-28) records this answer to a *delete*
            # while the deployment is Creating. Assumption: an update while Creating or Updating is refused alike.
            raise ServiceError("ValidationException", "Custom model deployment is in a mutating state")
        if deployment.status == "Failed":
            # Assumption: a Failed deployment takes no update (wording assumed).
            raise ServiceError(
                "ValidationException",
                f"Custom model deployment {deployment.name} is Failed; delete it and create a new deployment.",
            )
        model = self._models.get(request["modelArn"])
        if model is None:
            raise ServiceError("ResourceNotFoundException", f"Custom model {request['modelArn']} not found.")
        base = model.job.base
        if base.model_id != deployment.base_model_id:
            # Issue 19 documents the refusal of a model of another base (the botocore model names only
            # ValidationException for a bad request); the wording is assumed.
            raise ServiceError(
                "ValidationException",
                f"Custom model {model.name} is customized from {base.model_id}; custom model deployment "
                f"{deployment.name} serves custom models of {deployment.base_model_id} and can only be updated to "
                "one of them.",
            )
        if model.job.created < catalog_module.NOVA_ON_DEMAND_SINCE.timestamp():
            raise ServiceError(
                "ValidationException", "On-demand deployment supports models customized on or after 2025-07-16."
            )
        self._base_alive(base, now)
        plan = self._deployment_update_plans.take()
        # Assumption: the deployment stays Active and keeps serving (and reporting) its current model until the
        # update completes; updateDetails names the new one.
        deployment.update_model_arn, deployment.update_status, deployment.modified = model.arn, "Updating", now
        deployment.steps.append(
            Step(now + plan.duration_s, "updated" if plan.outcome == "UpdateCompleted" else "update_failed")
        )
        self.counters.deployments_updated += 1
        return {"customModelDeploymentArn": deployment.arn}

    def _apply_deployment(self, deployment: Deployment, step: Step) -> None:
        deployment.modified = step.at
        if step.kind == "ready":
            deployment.status = "Active"
        elif step.kind == "updated":
            deployment.model_arn = deployment.update_model_arn or deployment.model_arn
            deployment.update_status = "UpdateCompleted"
        elif step.kind == "update_failed":
            # Assumption: the deployment goes on serving the model it served before, still Active.
            deployment.update_status = "UpdateFailed"
        else:
            deployment.status, deployment.failure_message = "Failed", deployment.failure_message_if_failed

    def _deployment_view(self, deployment: Deployment, summary: bool = False) -> dict[str, Any]:
        view: dict[str, Any] = {
            "customModelDeploymentArn": deployment.arn,
            "customModelDeploymentName" if summary else "modelDeploymentName": deployment.name,
            "modelArn": deployment.model_arn,
            "createdAt": _dt(deployment.created),
            "status": deployment.status,
            "lastUpdatedAt": _dt(deployment.modified),
        }
        if deployment.failure_message:
            view["failureMessage"] = deployment.failure_message
        if deployment.description and not summary:
            view["description"] = deployment.description
        if deployment.update_model_arn and not summary:
            # botocore's CustomModelDeploymentSummary has no updateDetails; GetCustomModelDeployment does.
            view["updateDetails"] = {
                "modelArn": deployment.update_model_arn,
                "updateStatus": deployment.update_status,
            }
        return view

    def _get_deployment(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        return self._deployment_view(self._find_deployment(request["customModelDeploymentIdentifier"]))

    def _delete_deployment(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        deployment = self._find_deployment(request["customModelDeploymentIdentifier"])
        # Assumption: a deployment can be deleted in any status.
        del self._deployments[deployment.arn]
        self._tags.pop(deployment.arn, None)
        self.counters.deployments_deleted += 1
        return {}

    def _list_deployments(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        needle = (request.get("nameContains") or "").lower()
        found = [
            d
            for d in self._deployments.values()
            if request.get("statusEquals") in (None, d.status)
            and request.get("modelArnEquals") in (None, d.model_arn)
            and needle in d.name.lower()
            and self._in_window(d.created, request, "createdAfter", "createdBefore")
        ]
        page, following = self._page(
            "ListCustomModelDeployments", self._order(found, lambda d: d.created, request), request
        )
        result: dict[str, Any] = {"modelDeploymentSummaries": [self._deployment_view(d, True) for d in page]}
        if following:
            result["nextToken"] = following
        return result

    def _inference_target(self, model_id: str, now: float) -> tuple[FoundationModel, str, str | None]:
        """(base model, stable model key, the custom model's ARN or None) for a runtime modelId."""
        served: str | None = None  # the model ARN behind a PT or deployment
        if model_id.startswith("arn:"):
            parts = model_id.split(":", 5)
            if len(parts) != 6 or parts[3] != self.region:
                # Assumption: an ARN of another region is an invalid identifier for this endpoint.
                raise ServiceError("ValidationException", _INVALID_MODEL)
            kind = parts[5].split("/", 1)[0]
            if kind == "provisioned-model":
                throughput = self._throughputs.get(model_id)
                if throughput is None:
                    # Assumption: an unknown PT ARN is ResourceNotFoundException.
                    raise ServiceError("ResourceNotFoundException", f"Provisioned model {model_id} not found.")
                if throughput.status not in ("InService", "Updating"):
                    # Assumption: code and wording for a PT that is not InService.
                    raise ServiceError(
                        "ValidationException",
                        f"Provisioned model {model_id} is {throughput.status} and can't serve requests yet.",
                    )
                served = throughput.model_arn
            elif kind == "custom-model-deployment":
                deployment = self._deployments.get(model_id)
                if deployment is None:
                    raise ServiceError("ResourceNotFoundException", f"Custom model deployment {model_id} not found.")
                if deployment.status != "Active":
                    raise ServiceError(
                        "ValidationException",
                        f"Custom model deployment {model_id} is {deployment.status} and can't serve requests yet.",
                    )
                served = deployment.model_arn
            elif kind == "custom-model":
                # Facts: custom models are invoked through a PT (or, for Nova, a deployment). Wording assumed.
                raise ServiceError(
                    "ValidationException",
                    "Custom models can only be invoked through Provisioned Throughput or a custom model deployment.",
                )
            elif kind != "foundation-model":
                raise NotImplementedError(f"Bedrock fake: invoking {kind} resources is not implemented")
        elif re.match(r"(us|eu|apac|us-gov|global|jp|au|ca)\.", model_id):
            raise NotImplementedError("Bedrock fake: cross-region inference profiles are not implemented")
        elif self._find_custom_model(model_id) is not None:
            raise ServiceError(
                "ValidationException",
                "Custom models can only be invoked through Provisioned Throughput or a custom model deployment.",
            )
        if served is not None and served in self._models:
            custom = self._models[served]
            base = custom.job.base
            model_key, custom_arn = custom.name, custom.arn
        else:
            base_id = served or model_id
            found = self.catalog.get(base_id, self.region)
            if found is None:
                raise ServiceError("ValidationException", _INVALID_MODEL)
            if served is None and "ON_DEMAND" not in found.inference_types:
                # Real Bedrock message for a provisioned-only model id used on demand.
                raise ServiceError("ValidationException", "The provided model doesn't support on-demand throughput.")
            base = found
            model_key, custom_arn = base.model_id, None
        end_of_life = base.lifecycle.end_of_life
        if end_of_life is not None and now >= end_of_life.timestamp():
            # Assumption: past end of life, invocations fail as AWS does for retired models.
            raise ServiceError(
                "ResourceNotFoundException",
                "This model version has reached the end of its life. "
                "Please refer to the AWS documentation for more details.",
            )
        return base, model_key, custom_arn

    def _respond(self, model_key: str, custom_arn: str | None, prompt: _inference.Prompt) -> str:
        """Computed, not preset: a custom model answers with what its job's learner predicts from the training
        data; a base model with what its prompt alone tells (:mod:`bft_twin.bedrock_fake._base_model`). A custom
        model that learned nothing echoes the question, tagged with its name."""
        learner = self._learners.get(custom_arn) if custom_arn is not None else None
        with self._stand_in():  # the stand-in's compute is not the model's latency (simulated apart)
            answer: str | None
            if custom_arn is None:
                answer = _base_model.base_answer(prompt)
            else:
                answer = learner.predict(prompt.all_text) if learner is not None else None
        return answer if answer is not None else f"[{model_key}] {prompt.last_user_text}"

    def _generate(self, request: dict[str, Any], now: float, *, invoke: bool) -> _Generation:
        base, model_key, custom_arn = self._inference_target(request["modelId"], now)
        if "TEXT" not in base.output_modalities:
            # Assumption: code and wording for a non-text model (embeddings) on Converse/InvokeModel.
            raise ServiceError(
                "ValidationException",
                "This action doesn't support the model that you provided. "
                "Try again with a supported text or chat model.",
            )
        if invoke:
            prompt = _inference.invoke_prompt(base.body, request.get("body") or b"")
        else:
            prompt = _inference.converse_prompt(request)
        answer = self._respond(model_key, custom_arn, prompt)
        # Assumption: ~4 characters per token plus 4 tokens of framing per turn.
        input_tokens = _inference.tokens(prompt.all_text) + 4 * prompt.turns
        output_tokens = _inference.tokens(answer)
        truncated = prompt.max_tokens is not None and output_tokens > prompt.max_tokens
        if truncated and prompt.max_tokens is not None:
            answer, output_tokens = answer[: prompt.max_tokens * 4], prompt.max_tokens
        # Assumption (docs/bedrock-behaviour.md#evaluation-capacity): 400 ms to the first token, then 50 tokens a
        # second; slept in simulated time when the fake has a latency_sleep (the offline world's clock).
        latency_ms = 400 + 20 * output_tokens
        self._take_capacity(request["modelId"], latency_ms)
        self.counters.invocations += 1
        self.counters.latency_ms += latency_ms
        return _Generation(base, answer, input_tokens, output_tokens, truncated, latency_ms)

    def _converse(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        out = self._generate(request, now, invoke=False)
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": out.answer}]}},
            "stopReason": "max_tokens" if out.truncated else "end_turn",
            "usage": {
                "inputTokens": out.input_tokens,
                "outputTokens": out.output_tokens,
                "totalTokens": out.input_tokens + out.output_tokens,
            },
            "metrics": {"latencyMs": out.latency_ms},
        }

    def _invoke_model(self, request: dict[str, Any], now: float) -> _Reply:
        content_type = request.get("contentType", "application/json")
        # Assumption: only JSON bodies (all catalog models take JSON); wording assumed.
        if content_type != "application/json":
            raise ServiceError("ValidationException", f"The content type {content_type} is not supported.")
        out = self._generate(request, now, invoke=True)
        usage = (out.input_tokens, out.output_tokens)
        body = _inference.invoke_body(out.base.body, out.base.model_id, out.answer, usage, out.truncated)
        headers = {
            "x-amzn-bedrock-input-token-count": str(out.input_tokens),
            "x-amzn-bedrock-output-token-count": str(out.output_tokens),
            "x-amzn-bedrock-invocation-latency": str(out.latency_ms),
        }
        return _Reply({"body": body, "contentType": "application/json"}, headers)
