"""Model customization jobs and the custom models they produce."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from bft_twin.bedrock_fake import _learner, _metrics
from bft_twin.bedrock_fake._core import (
    _INVALID_MODEL,
    _RECORDS_WITHOUT_S3,
    _Core,
    _dt,
    _QuotaErrors,
    _split_s3,
)
from bft_twin.bedrock_fake._records import (
    PHASES,
    STOP_DELAY_S,
    CustomModel,
    Job,
    JobPlan,
    PhaseState,
    Step,
    job_steps,
)
from bft_twin.bedrock_fake._wire import ServiceError
from bft_twin.catalog import FoundationModel

RFT = "REINFORCEMENT_FINE_TUNING"


class _Jobs(_Core):
    """CreateModelCustomizationJob, Get/Stop/List, and Get/Delete/ListCustomModels."""

    def _find_job(self, identifier: str) -> Job:
        job = self._jobs.get(identifier) or next((j for j in self._jobs.values() if j.name == identifier), None)
        if job is None:
            # Assumption: wording of not-found messages.
            raise ServiceError("ResourceNotFoundException", f"Model customization job {identifier} not found.")
        return job

    def _base_model_for_job(self, identifier: str, customization: str, now: float) -> FoundationModel:
        if self._find_custom_model(identifier) is not None:
            raise NotImplementedError("Bedrock fake: customizing a custom model is not implemented")
        base = self.catalog.get(identifier, self.region)
        if base is None:
            # Assumption: unknown ids and models not offered in this region get the invalid-identifier error.
            raise ServiceError("ValidationException", _INVALID_MODEL)
        if customization not in (base.job_customizations or base.customizations):
            raise ServiceError(
                "ValidationException",
                f"The model {base.model_id} does not support {customization} customization in {self.region}.",
            )
        self._base_alive(base, now)
        if base.lifecycle.status == "LEGACY" and not self._legacy_allows_customization:
            # Guess: Legacy customization "might face restrictions" (docs/bedrock-behaviour.md#legacy-restrictions);
            # whether it is refused, and this wording, are the scenario's choice (legacy_allows_customization).
            raise ServiceError(
                "ValidationException",
                f"The model {base.model_id} is Legacy; new customization jobs are not available for it.",
            )
        return base

    def _check_role(self, role_arn: str) -> None:
        match = re.fullmatch(r"arn:aws:iam::(\d{12}):role/[\w+=,.@/-]+", role_arn)
        # Assumption: a role of another account (or without one) cannot be assumed by this account's job.
        if match is None or match.group(1) != self.account_id:
            raise ServiceError("ValidationException", f"Could not assume provided IAM role {role_arn}.")

    @staticmethod
    def _check_hyperparameters(base: FoundationModel, values: Mapping[str, str]) -> dict[str, float]:
        parsed = {hp.name: hp.default for hp in base.hyperparameters}
        for name, text in values.items():
            hp = base.hyperparameter(name)
            if hp is None:
                known = ", ".join(h.name for h in base.hyperparameters)
                raise ServiceError(
                    "ValidationException",
                    f"Hyperparameter {name} is not supported for {base.model_id}. Supported: {known}.",
                )
            try:
                value = float(int(text)) if hp.kind == "int" else float(text)
            except ValueError:
                raise ServiceError(
                    "ValidationException",
                    f"Hyperparameter {name} must be {'an integer' if hp.kind == 'int' else 'a number'}: {text!r}.",
                ) from None
            # Assumption: Bedrock refuses values outside the documented range at creation.
            if not hp.minimum <= value <= hp.maximum:
                bounds = f"[{hp.minimum:g}, {hp.maximum:g}]"
                raise ServiceError(
                    "ValidationException", f"Hyperparameter {name}={text} is outside {bounds} for {base.model_id}."
                )
            parsed[name] = value
        return parsed

    def _check_customization_config(self, customization: str, request: dict[str, Any]) -> dict[str, float]:
        """customizationConfig's rules beyond botocore's shapes (which the wire layer checks, ranges included).
        Returns the RFT hyperparameters, typed."""
        config = request.get("customizationConfig") or {}
        rft = config.get("rftConfig")
        if customization != RFT:
            if rft is not None:
                # Assumption: wording; an rftConfig on another type is refused.
                raise ServiceError("ValidationException", "rftConfig is only valid for REINFORCEMENT_FINE_TUNING.")
            return {}
        if not isinstance(rft, dict) or "lambdaArn" not in ((rft.get("graderConfig") or {}).get("lambdaGrader") or {}):
            # Assumption: RFT needs a grader (the shape makes rftConfig optional; the user guide does not).
            raise ServiceError(
                "ValidationException", "REINFORCEMENT_FINE_TUNING requires customizationConfig.rftConfig.graderConfig."
            )
        if request.get("hyperParameters"):
            # Assumption: RFT takes its hyperparameters in rftConfig only (the string map is supervised's).
            raise ServiceError(
                "ValidationException",
                "Hyperparameters for REINFORCEMENT_FINE_TUNING go in customizationConfig.rftConfig.hyperParameters.",
            )
        arn = rft["graderConfig"]["lambdaGrader"]["lambdaArn"]
        parts = arn.split(":")
        if len(parts) < 7 or parts[3] != self.region or parts[4] != self.account_id:
            # Assumption: a grader of another account or region cannot be invoked with the job's role.
            raise ServiceError(
                "ValidationException", f"The grader Lambda function {arn} is not in this account and Region."
            )
        # The ranges are botocore's shape constraints, which the wire layer enforces with AWS's wording.
        values = dict(rft.get("hyperParameters") or {})
        return {k: float(v) for k, v in values.items() if isinstance(v, int | float)}

    def _job_s3(self, role_arn: str, job_arn: str) -> Any:
        """The S3 client the job uses: as its service role when the world checks permissions."""
        if self._service_role_s3 is None:
            return self._s3
        return self._service_role_s3(role_arn, job_arn)

    @staticmethod
    def _s3_object_lines(s3: Any, uri: str, what: str) -> int | None:
        """Count JSONL records at ``uri`` (None without an S3 client); refuse a missing object."""
        if s3 is None:
            return None
        bucket, key = _split_s3(uri)
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            # Assumption: Bedrock checks data access at creation and answers ValidationException; the
            # wording, and that it carries S3's own message, are assumed (docs/bedrock-behaviour.md).
            raise ServiceError(
                "ValidationException", f"Amazon Bedrock could not access the {what} data at {uri}: {error}"
            ) from None
        return sum(1 for line in body.splitlines() if line.strip())

    @staticmethod
    def _check_output_bucket(s3: Any, uri: str) -> None:
        if s3 is None:
            return
        bucket, _ = _split_s3(uri)
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as error:
            raise ServiceError(
                "ValidationException", f"Amazon Bedrock could not access the output location {uri}: {error}"
            ) from None

    def _create_job(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        replayed = self._replay("CreateModelCustomizationJob", request)
        if replayed is not None:
            return {"jobArn": replayed}
        customization = request.get("customizationType", "FINE_TUNING")
        base = self._base_model_for_job(request["baseModelIdentifier"], customization, now)
        self._check_role(request["roleArn"])
        name = request["jobName"]
        if any(j.name == name for j in self._jobs.values()):
            # ValidationException with exactly this message, not ConflictException
            # (docs/bedrock-behaviour.md#job-name-in-use).
            raise ServiceError("ValidationException", "The provided job name is currently in use.")
        model_name = request["customModelName"]
        taken = any(m.name == model_name for m in self._models.values()) or any(
            j.request["customModelName"] == model_name and j.status in ("InProgress", "Stopping")
            for j in self._jobs.values()
        )
        if taken:
            # Assumption: duplicate custom model name -> ValidationException (unconfirmed; could be Conflict).
            raise ServiceError("ValidationException", f"The provided custom model name {model_name} is already in use.")
        self._check_customization_config(customization, request)
        if customization != RFT:
            self._check_hyperparameters(base, request.get("hyperParameters") or {})
        training = request["trainingDataConfig"]
        if "invocationLogsConfig" in training:
            raise NotImplementedError("Bedrock fake: training from invocation logs is not implemented")
        if "s3Uri" not in training:
            raise ServiceError("ValidationException", "trainingDataConfig.s3Uri is required.")
        job_id = self._new_id()
        job_arn = self._arn(f"model-customization-job/{base.model_id}/{job_id}")
        s3 = self._job_s3(request["roleArn"], job_arn)
        records = self._s3_object_lines(s3, training["s3Uri"], "training")
        for validator in (request.get("validationDataConfig") or {}).get("validators") or []:
            self._s3_object_lines(s3, validator["s3Uri"], "validation")
        self._check_output_bucket(s3, request["outputDataConfig"]["s3Uri"])
        if self._max_running_jobs is not None:
            running = sum(1 for j in self._jobs.values() if j.status in ("InProgress", "Stopping"))
            if running >= self._max_running_jobs:
                # Assumption: wording; the concurrent-jobs quota default is unconfirmed
                # (docs/bedrock-behaviour.md#concurrent-jobs-quota).
                raise _QuotaErrors.running_jobs(self._max_running_jobs)

        plan = self._job_plans.take()
        if records is not None and not base.min_training_records <= records <= base.max_training_records:
            # Assumption: record-count limits fail the job in its validation sub-task (message wording assumed).
            plan = JobPlan(
                "Failed",
                plan.duration_s * 0.1,
                f"Validation failed: the training data has {records} records; {base.model_id} needs between "
                f"{base.min_training_records} and {base.max_training_records}.",
                "validation",
            )
        job = Job(
            arn=job_arn,
            job_id=job_id,
            name=name,
            request=request,
            base=base,
            created=now,
            plan=plan,
            records=records if records is not None else _RECORDS_WITHOUT_S3,
            steps=job_steps(plan, now),
            modified=now,
            s3=s3,
        )
        job.phases["validation"] = PhaseState("InProgress", now, now)
        self._jobs[job.arn] = job
        self._tags[job.arn] = list(request.get("jobTags") or [])
        self._remember("CreateModelCustomizationJob", request, job.arn)
        self.counters.jobs_started += 1
        self._emit(job, now)
        return {"jobArn": job.arn}

    def _apply_job(self, job: Job, step: Step) -> None:
        at = step.at
        phase = job.current_phase()
        if step.kind == "advance" and phase is not None:
            job.phases[phase].status, job.phases[phase].modified = "Completed", at
            following = PHASES[PHASES.index(phase) + 1]
            job.phases[following] = PhaseState("InProgress", at, at)
        elif step.kind == "complete":
            self._complete_job(job, at)
        elif step.kind == "fail":
            self._fail_job(job, at, job.plan.failure_message)
        elif step.kind == "stopping":
            job.status = "Stopping"
            if phase is not None:
                job.phases[phase].status, job.phases[phase].modified = "Stopping", at
        elif step.kind == "stopped":
            job.status, job.end = "Stopped", at
            if phase is not None:
                job.phases[phase].status, job.phases[phase].modified = "Stopped", at
            self.counters.jobs_stopped += 1
        job.modified = at
        if job.status in ("Completed", "Failed", "Stopped"):
            job.modified = job.end or at
            self._emit(job, at)
        elif step.kind == "stopping":
            # Stopping is a state change of its own (docs/bedrock-behaviour.md#job-state-events).
            self._emit(job, at)

    def _fail_job(self, job: Job, at: float, message: str) -> None:
        phase = job.current_phase()
        if phase is not None:
            job.phases[phase].status, job.phases[phase].modified = "Failed", at
        job.status, job.end, job.failure_message = "Failed", at, message
        self.counters.jobs_failed += 1

    def _complete_job(self, job: Job, at: float) -> None:
        request = job.request
        customization = request.get("customizationType", "FINE_TUNING")
        if customization == RFT:
            # Simulated: the policy is fit to the reference answers, as if the grader rewarded them; the
            # grader is not invoked in process yet.
            hp = {"epochCount": 2.0} | self._check_customization_config(customization, request)
        else:
            hp = self._check_hyperparameters(job.base, request.get("hyperParameters") or {})
        validators = (request.get("validationDataConfig") or {}).get("validators") or []
        # Haiku scales a multiplier, the other families set the rate itself: compare with the default.
        rate = job.base.hyperparameter("learningRateMultiplier") or job.base.hyperparameter("learningRate")
        lr_factor = hp[rate.name] / rate.default if rate is not None and rate.default and rate.name in hp else 1.0
        # The simulated training takes no simulated time (the job's duration is planned): the clock is frozen.
        with self._stand_in():
            try:
                # The simulated training: a small learner fit to the job's own data (bedrock_fake._learner).
                limit = job.base.max_training_records
                training = self._job_examples(job, request["trainingDataConfig"]["s3Uri"], limit)
                validation = self._job_examples(job, validators[0]["s3Uri"], limit) if validators else None
            except ClientError as error:
                # Assumption: data that became unreadable after creation fails the job (message wording assumed).
                self._fail_job(job, at, f"Amazon Bedrock could not read the training data: {error}")
                return
            learner, run = _learner.train(
                training,
                validation,
                epochs=int(hp.get("epochCount", 2)),
                batch_size=int(hp.get("batchSize", 1)),
                lr_factor=lr_factor,
                seed=f"{self._seed}|{job.name}|{request['customModelName']}",
                records=job.records,
            )
        try:
            self._write_metrics(job, run)
        except ClientError as error:
            # Assumption: an unwritable output location fails the job (message wording assumed).
            uri = request["outputDataConfig"]["s3Uri"]
            self._fail_job(job, at, f"Amazon Bedrock could not write to the output location {uri}: {error}")
            return
        for phase in PHASES:
            state = job.phases[phase]
            finished = state.modified if state.status == "Completed" and state.modified is not None else at
            job.phases[phase] = PhaseState("Completed", state.created or at, finished)
        # Assumption: the custom model appears (Active) only when the job completes, created at that time.
        model_arn = self._arn(f"custom-model/{job.base.model_id}/{self._new_id()}")
        kms = request.get("customModelKmsKeyId")
        self._models[model_arn] = CustomModel(model_arn, request["customModelName"], job, at, self._kms_arn(kms))
        self._learners[model_arn] = learner
        self._tags[model_arn] = list(request.get("customModelTags") or [])
        job.status, job.end, job.output_model_arn = "Completed", at, model_arn
        job.training_loss = run.final_training_loss
        last = run.final_validation_loss
        if last is not None:
            # Assumption: one metric per validator, the later ones a little apart.
            job.validation_losses = [round(last * (1 + 0.01 * i), 6) for i in range(len(validators))]
        self.counters.jobs_completed += 1

    @staticmethod
    def _job_examples(job: Job, uri: str, limit: int) -> list[_learner.Example]:
        """The job's records read through its own S3 client (bounded; none without S3)."""
        if job.s3 is None:
            return []
        bucket, key = _split_s3(uri)
        return _learner.read_examples(job.s3, bucket, key, limit)

    def _kms_arn(self, key: str | None) -> str | None:
        if key is None:
            return None
        if key.startswith("arn:") and ":key/" in key:
            return key
        if re.fullmatch(r"[a-zA-Z0-9-]{36}", key):
            return f"arn:aws:kms:{self.region}:{self.account_id}:key/{key}"
        # Assumption: an alias is not resolved, so the key ARN is not reported.
        return None

    def _write_metrics(self, job: Job, run: _metrics.TrainingRun) -> None:
        s3 = job.s3
        if s3 is None:
            return
        bucket, prefix = _split_s3(job.request["outputDataConfig"]["s3Uri"])
        root = f"{prefix.rstrip('/')}/" if prefix.strip("/") else ""
        root += f"model-customization-job-{job.job_id}"
        s3.put_object(
            Bucket=bucket,
            Key=f"{root}/training_artifacts/step_wise_training_metrics.csv",
            Body=_metrics.training_csv(run).encode(),
        )
        if run.validation:
            s3.put_object(
                Bucket=bucket,
                Key=f"{root}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
                Body=_metrics.validation_csv(run).encode(),
            )

    def _job_view(self, job: Job, summary: bool = False) -> dict[str, Any]:
        details = {}
        # Assumption: a NotStarted sub-task carries no timestamps.
        for phase in PHASES:
            state = job.phases[phase]
            detail: dict[str, Any] = {"status": state.status}
            if state.created is not None:
                detail["creationTime"] = _dt(state.created)
            if state.modified is not None:
                detail["lastModifiedTime"] = _dt(state.modified)
            details[f"{phase}Details"] = detail
        request = job.request
        view: dict[str, Any] = {
            "jobArn": job.arn,
            "jobName": job.name,
            "status": job.status,
            "statusDetails": details,
            "creationTime": _dt(job.created),
            "lastModifiedTime": _dt(job.modified),
            "baseModelArn": job.base.arn(self.region),
            "customizationType": request.get("customizationType", "FINE_TUNING"),
        }
        if request.get("customizationConfig") and not summary:
            view["customizationConfig"] = copy.deepcopy(request["customizationConfig"])
        if job.end is not None:
            view["endTime"] = _dt(job.end)
        if summary:
            view["customModelName"] = request["customModelName"]
            if job.output_model_arn:
                view["customModelArn"] = job.output_model_arn
            return view
        view |= {
            "outputModelName": request["customModelName"],
            "roleArn": request["roleArn"],
            # Assumption: hyperParameters are reported as submitted, without the defaults filled in.
            "hyperParameters": dict(request.get("hyperParameters") or {}),
            "trainingDataConfig": copy.deepcopy(request["trainingDataConfig"]),
            # Required by the output shape even when the request had none.
            "validationDataConfig": copy.deepcopy(request.get("validationDataConfig") or {"validators": []}),
            "outputDataConfig": copy.deepcopy(request["outputDataConfig"]),
        }
        optional = {
            "clientRequestToken": request.get("clientRequestToken"),
            "outputModelArn": job.output_model_arn,
            "failureMessage": job.failure_message,
            "outputModelKmsKeyArn": self._kms_arn(request.get("customModelKmsKeyId")),
            "vpcConfig": copy.deepcopy(request.get("vpcConfig")),
        }
        view |= {k: v for k, v in optional.items() if v is not None}
        if job.training_loss is not None:
            view["trainingMetrics"] = {"trainingLoss": job.training_loss}
            view["validationMetrics"] = [{"validationLoss": v} for v in job.validation_losses]
        return view

    def _get_job(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        return self._job_view(self._find_job(request["jobIdentifier"]))

    def _stop_job(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        job = self._find_job(request["jobIdentifier"])
        if job.status != "InProgress":
            # Assumption: stopping a job that is not InProgress is a ConflictException (Stop declares it).
            raise ServiceError("ConflictException", f"Job {job.name} is {job.status} and cannot be stopped.")
        self._apply_job(job, Step(now, "stopping"))
        job.steps = [Step(now + STOP_DELAY_S, "stopped")]
        return {}

    def _list_jobs(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        needle = (request.get("nameContains") or "").lower()
        found = [
            j
            for j in self._jobs.values()
            if (request.get("statusEquals") in (None, j.status))
            # Assumption: nameContains is a case-insensitive substring match.
            and needle in j.name.lower()
            and self._in_window(j.created, request, "creationTimeAfter", "creationTimeBefore")
        ]
        page, following = self._page(
            "ListModelCustomizationJobs", self._order(found, lambda j: j.created, request), request
        )
        result: dict[str, Any] = {"modelCustomizationJobSummaries": [self._job_view(j, summary=True) for j in page]}
        if following:
            result["nextToken"] = following
        return result

    def _get_custom_model(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        model = self._custom_model(request["modelIdentifier"])
        job = model.job
        view: dict[str, Any] = {
            "modelArn": model.arn,
            "modelName": model.name,
            "jobName": job.name,
            "jobArn": job.arn,
            "baseModelArn": job.base.arn(self.region),
            "customizationType": job.request.get("customizationType", "FINE_TUNING"),
            "hyperParameters": dict(job.request.get("hyperParameters") or {}),
            "trainingDataConfig": copy.deepcopy(job.request["trainingDataConfig"]),
            "validationDataConfig": copy.deepcopy(job.request.get("validationDataConfig") or {"validators": []}),
            "outputDataConfig": copy.deepcopy(job.request["outputDataConfig"]),
            "creationTime": _dt(model.created),
            "modelStatus": "Active",
        }
        if job.request.get("customizationConfig"):
            view["customizationConfig"] = copy.deepcopy(job.request["customizationConfig"])
        if model.kms_key_arn:
            view["modelKmsKeyArn"] = model.kms_key_arn
        if job.training_loss is not None:
            view["trainingMetrics"] = {"trainingLoss": job.training_loss}
            view["validationMetrics"] = [{"validationLoss": v} for v in job.validation_losses]
        return view

    def _delete_custom_model(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        model = self._custom_model(request["modelIdentifier"])
        users = [t.name for t in self._throughputs.values() if model.arn in (t.model_arn, t.desired_model_arn)]
        users += [d.name for d in self._deployments.values() if model.arn in (d.model_arn, d.updating_to())]
        if users:
            # Documented for distilled models (docs/bedrock-behaviour.md#in-use-deletion); a guess for the rest,
            # and the code is the only conflict error botocore lists for DeleteCustomModel.
            raise ServiceError(
                "ConflictException", f"Custom model {model.name} is in use by {', '.join(sorted(users))}."
            )
        del self._models[model.arn]
        self._tags.pop(model.arn, None)
        self.counters.custom_models_deleted += 1
        return {}

    def _list_custom_models(self, request: dict[str, Any], now: float) -> dict[str, Any]:
        needle = (request.get("nameContains") or "").lower()
        base_arn = request.get("baseModelArnEquals") or request.get("foundationModelArnEquals")
        found = [
            m
            for m in self._models.values()
            # Assumption: the fake holds no models shared from other accounts, so isOwned=false lists none.
            if request.get("isOwned", True)
            and request.get("modelStatus") in (None, "Active")
            and needle in m.name.lower()
            and base_arn in (None, m.job.base.arn(self.region))
            and self._in_window(m.created, request, "creationTimeAfter", "creationTimeBefore")
        ]
        page, following = self._page("ListCustomModels", self._order(found, lambda m: m.created, request), request)
        summaries = [
            {
                "modelArn": m.arn,
                "modelName": m.name,
                "creationTime": _dt(m.created),
                "baseModelArn": m.job.base.arn(self.region),
                # Assumption: baseModelName is the model id without its version suffix (the shape's pattern).
                "baseModelName": m.job.base.model_id.split(":", 1)[0],
                "customizationType": m.job.request.get("customizationType", "FINE_TUNING"),
                "ownerAccountId": self.account_id,
                "modelStatus": "Active",
            }
            for m in page
        ]
        result: dict[str, Any] = {"modelSummaries": summaries}
        if following:
            result["nextToken"] = following
        return result
