"""The state machine and the roles of the workflow, as synthesized."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template

from bft.capacity import worst_case_rounds
from bft.config import (
    EVALUATION_THROTTLE_MAX_DELAY_SECONDS,
    EVALUATION_THROTTLE_RETRIES,
    STEP_TIMEOUT_SECONDS,
    load_config,
)
from bft.registry import state_machine_name, state_machine_prefix
from tests.conftest import Assembly, resources

WAITING_TASKS = {"WaitForJob": "$.run.timeouts.jobSeconds", "RequestApproval": "$.run.timeouts.approvalSeconds"}


def definitions(assembly: Assembly) -> list[dict[str, Any]]:
    found = []
    for machine in assembly.resources("AWS::StepFunctions::StateMachine").values():
        parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
        # Function ARNs are registry parameters (Refs): a placeholder keeps the JSON parseable.
        found.append(json.loads("".join(p if isinstance(p, str) else "ARN" for p in parts)))
    return found


def definition(assembly: Assembly) -> dict[str, Any]:
    """The first team's definition (every team's machine is built by the same code; see the test below)."""
    return definitions(assembly)[0]


def test_one_state_machine_per_team_stamping_its_team(assembly: Assembly) -> None:
    teams = [team.name for team in load_config(assembly.env).teams]
    found = definitions(assembly)
    assert sorted(d["States"]["Init"]["Parameters"]["assignedTeam"] for d in found) == sorted(teams)
    shapes = {json.dumps({k: sorted(v) for k, v in d.items() if k == "States"}) for d in found}
    assert len(shapes) == 1, "every team runs the same workflow"


def tasks(assembly: Assembly) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in definition(assembly)["States"].items() if state["Type"] == "Task"}


def maps(assembly: Assembly) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in definition(assembly)["States"].items() if state["Type"] == "Map"}


def map_tasks(assembly: Assembly) -> dict[str, dict[str, Any]]:
    """The task states inside the Maps' item processors."""
    return {
        name: state
        for found in maps(assembly).values()
        for name, state in found["ItemProcessor"]["States"].items()
        if state["Type"] == "Task"
    }


def test_every_task_has_a_timeout_and_a_catch(assembly: Assembly) -> None:
    found = tasks(assembly)
    assert len(found) >= 12
    for name, state in found.items():
        assert "TimeoutSeconds" in state or "TimeoutSecondsPath" in state, name
        if name != "FinalizeFailure":
            assert state.get("Catch"), f"{name} has no Catch"
        catches = [c["Next"] for c in state.get("Catch", [])]
        if name not in ("Cleanup", "FinalizeFailure"):
            assert catches == ["Cleanup"], f"{name} must lead to cleanup on any error"


def test_waits_on_task_tokens_time_out_from_the_request(assembly: Assembly) -> None:
    found = tasks(assembly)
    for name, path in WAITING_TASKS.items():
        assert found[name]["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken" or found[name][
            "Resource"
        ].endswith(":lambda:invoke.waitForTaskToken"), name
        assert found[name]["TimeoutSecondsPath"] == path
        assert found[name]["Parameters"]["Payload"]["token.$"] == "$$.Task.Token"


def test_retries_only_transient_errors_with_backoff_and_jitter(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    for name, state in tasks(assembly).items():
        (retry,) = state["Retry"]
        assert "TransientError" in retry["ErrorEquals"], name
        assert "States.ALL" not in retry["ErrorEquals"], name
        assert not {"DatasetInvalid", "JobFailed", "QuotaExceeded"} & set(retry["ErrorEquals"]), name
        assert retry["BackoffRate"] == 2
        assert retry["JitterStrategy"] == "FULL"
        assert retry["IntervalSeconds"] == config.workflow.retry_interval_seconds
        assert retry["MaxAttempts"] == config.workflow.retry_max_attempts


def test_failure_path_ends_in_a_typed_fail_state(assembly: Assembly) -> None:
    states = definition(assembly)["States"]
    assert states["Cleanup"]["Next"] == "FinalizeFailure"
    assert states["FinalizeFailure"]["Next"] == "RunFailed"
    assert states["RunFailed"] == {"Type": "Fail", "ErrorPath": "$.result.errorType", "CausePath": "$.result.cause"}
    assert states["FinalizeFailure"]["Catch"][0]["Next"] == "ReportFailed"


def test_serving_poll_is_bounded_by_waits_from_the_run(assembly: Assembly) -> None:
    states = definition(assembly)["States"]
    assert states["WaitForServing"]["SecondsPath"] == "$.run.serving.firstPollSeconds"
    assert states["WaitBeforeNextCheck"]["SecondsPath"] == "$.run.serving.pollSeconds"
    assert states["WaitBeforeNextCheck"]["Next"] == "CheckServing"


def test_state_machine_logs_traces_and_times_out(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    for team, found in assembly.team_templates().items():
        template = Template.from_json(found)
        template.has_resource_properties(
            "AWS::StepFunctions::StateMachine",
            {
                "StateMachineName": state_machine_name(config.name, team),
                "StateMachineType": "STANDARD",
                "TracingConfiguration": {"Enabled": True},
                # Never execution data, in any environment: states' inputs carry task tokens (issue #23, L1).
                "LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": False}),
            },
        )
    assert definition(assembly)["TimeoutSeconds"] == config.workflow.execution_timeout_seconds


def test_alarms_on_failed_and_timed_out_executions(assembly: Assembly) -> None:
    for template in assembly.team_templates().values():
        alarms = resources(template, "AWS::CloudWatch::Alarm").values()
        metrics = {a["Properties"]["MetricName"] for a in alarms}
        assert {"ExecutionsFailed", "ExecutionsTimedOut"} <= metrics
        for alarm in alarms:
            assert alarm["Properties"]["AlarmActions"], "an alarm nobody hears"


def test_job_events_rule_matches_final_states_of_our_jobs(assembly: Assembly) -> None:
    rules = resources(assembly.template("Pipeline"), "AWS::Events::Rule").values()
    patterns = [r["Properties"]["EventPattern"] for r in rules if "EventPattern" in r["Properties"]]
    assert patterns == [
        {
            "source": ["aws.bedrock"],
            "detail-type": ["Model Customization Job State Change"],
            "detail": {"jobStatus": ["Completed", "Failed", "Stopped"], "jobName": [{"prefix": "bft-"}]},
        }
    ]
    schedules = [r["Properties"]["ScheduleExpression"] for r in rules if "ScheduleExpression" in r["Properties"]]
    assert len(schedules) == 2, "the job reconciler and the throughput reaper"


def _role_statements(template: dict[str, Any], role_fragment: str) -> list[dict[str, Any]]:
    role_ids = [k for k in resources(template, "AWS::IAM::Role") if role_fragment in k]
    assert role_ids, role_fragment
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if any(r.get("Ref") in role_ids for r in policy["Properties"]["Roles"]):
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_pass_role_only_for_the_service_role_and_only_to_bedrock(assembly: Assembly) -> None:
    template = assembly.template("Pipeline")
    roles = resources(template, "AWS::IAM::Role")
    service_role = next(k for k in roles if k.startswith("CustomizationServiceRole"))
    # The LLM judge's evaluation role, where the environment allows a judge: passed by the Evaluate function only.
    judge_role = next((k for k in roles if k.startswith("EvaluationServiceRole")), None)
    passer = {service_role: "StartJob", judge_role: "Evaluate"}
    passing = []
    for logical_id, policy in resources(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "iam:PassRole" in _actions(statement):
                (passed,) = [role for role in passer if statement["Resource"] == {"Fn::GetAtt": [role, "Arn"]}]
                passing.append((passer[passed], logical_id))
                assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
    assert len(passing) == (2 if judge_role else 1), "only StartJob (and Evaluate, for the judge) pass a role"
    assert all(function in policy for function, policy in passing)


def test_bedrock_permissions_are_scoped_per_step(assembly: Assembly) -> None:
    template = assembly.template("Pipeline")
    start = [a for s in _role_statements(template, "StartJobRole") for a in _actions(s)]
    assert "bedrock:CreateModelCustomizationJob" in start
    assert not [a for a in start if "ProvisionedModelThroughput" in a]
    serve = [a for s in _role_statements(template, "CreateServingRole") for a in _actions(s)]
    assert "bedrock:CreateProvisionedModelThroughput" in serve
    assert "bedrock:CreateModelCustomizationJob" not in serve
    validate = [a for s in _role_statements(template, "ValidateRequestRole") for a in _actions(s)]
    assert not [a for a in validate if a.startswith("bedrock:") and a != "bedrock:GetFoundationModel"]
    for statement in _role_statements(template, "StateMachineRole"):
        if "lambda:InvokeFunction" in _actions(statement):
            assert all("Fn::GetAtt" in r for r in statement["Resource"]), "invoke only the workflow's functions"


def test_only_this_environments_state_machines_may_assume_their_role(assembly: Assembly) -> None:
    """Audit L3: the trust names its source (aws:SourceAccount, aws:SourceArn), the confused-deputy guard."""
    template = assembly.template("Pipeline")
    (role,) = [r for k, r in resources(template, "AWS::IAM::Role").items() if "StateMachineRole" in k]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "states.amazonaws.com"}
    condition = statement["Condition"]
    assert set(condition) == {"StringEquals", "ArnLike"}
    assert set(condition["StringEquals"]) == {"aws:SourceAccount"}
    source = json.dumps(condition["ArnLike"]["aws:SourceArn"])
    assert ":stateMachine:bft-" in source, source
    assert "*" in source, "every team's machine of the environment, by the registry's name prefix"


def test_only_resume_functions_may_send_task_results(assembly: Assembly) -> None:
    template = assembly.template("Pipeline")
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "states:SendTaskSuccess" in _actions(statement):
                roles = {r["Ref"] for r in policy["Properties"]["Roles"]}
                assert roles, "send-task policy attached to nobody"
                # The resume functions and the approval function: never a human role (see test_approvals).
                assert all(
                    ("WaitForJob" in r or "JobEvents" in r or "ReconcileJobs" in r or "DecideApproval" in r)
                    for r in roles
                ), roles
                # Every team's machine through one name pattern of this environment (constant in the number of
                # teams), never a bare wildcard: the machine names are bft-<env>-team-<team> (bft.registry).
                machines = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                assert len(machines) == 1, statement
                text = json.dumps(machines[0])
                assert f":stateMachine:{state_machine_prefix(assembly.env)}*" in text, text


def test_state_table_has_ttl_and_point_in_time_recovery(assembly: Assembly) -> None:
    Template.from_json(assembly.template("Pipeline")).has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
            "Replicas": [Match.object_like({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})],
        },
    )


def test_notifications_topic_is_encrypted_and_subscribed(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    template = assembly.template("Pipeline")
    (topic,) = resources(template, "AWS::SNS::Topic").values()
    assert "KmsMasterKeyId" in topic["Properties"]
    emails = {s["Properties"]["Endpoint"] for s in assembly.resources("AWS::SNS::Subscription").values()}
    # The platform's addresses and each team's (filtered to the team: see test_security).
    team_emails = {email for team in config.teams for email in team.notification_emails}
    assert emails == set(config.notification_emails) | team_emails


def test_functions_share_one_package_layer_and_have_log_retention(assembly: Assembly) -> None:
    config = load_config(assembly.env)
    template = assembly.template("Pipeline")
    functions = resources(template, "AWS::Lambda::Function")
    assert len(functions) >= 13
    for logical_id, function in functions.items():
        assert function["Properties"]["Architectures"] == ["arm64"], logical_id
        assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}, logical_id
        assert len(function["Properties"]["Layers"]) == 2, logical_id
    for group in resources(template, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == config.log_retention_days


def test_architecture_page_names_every_state_of_the_synthesized_machine(assemblies: dict[str, Assembly]) -> None:
    from bft.synth import ROOT

    page = (ROOT / "docs" / "architecture.md").read_text()
    block = page.split("```")[1]
    states = set(definition(assemblies["dev"])["States"]) - {
        "ApprovalRequired?",
        "ServingReady?",
        "EvaluationRequested?",
        "EndpointRequested?",
        "EndpointServesIt?",
        "ReportFailed",
    }
    missing = sorted(name for name in states if name not in block)
    assert not missing, f"docs/architecture.md's diagram is out of date with the template: {missing}"


def test_step_timeouts_come_from_the_one_table_the_config_check_adds_up(assembly: Assembly) -> None:
    found = {**tasks(assembly), **map_tasks(assembly)}
    for name, seconds in STEP_TIMEOUT_SECONDS.items():
        assert found[name]["TimeoutSeconds"] == seconds, name
    assert set(found) - set(STEP_TIMEOUT_SECONDS) == set(WAITING_TASKS), "a step whose timeout the check ignores"


def test_the_evaluation_fans_out_bounded_by_the_plan_and_caught_by_cleanup(assembly: Assembly) -> None:
    """The Map runs as many chunks at once as the plan allows (the serving capacity), discards its output (the
    parts are in S3) and leads to cleanup on any error; each chunk retries throttling with backoff."""
    ((name, found),) = maps(assembly).items()
    assert name == "EvaluateChunks"
    assert found["ItemsPath"] == "$.evaluationPlan.chunks"
    assert found["MaxConcurrencyPath"] == "$.evaluationPlan.concurrency"
    assert found["ResultPath"] is None
    assert [c["Next"] for c in found["Catch"]] == ["Cleanup"]
    assert found["ItemProcessor"].get("ProcessorConfig", {}).get("Mode", "INLINE") == "INLINE"
    chunk = map_tasks(assembly)["EvaluateChunk"]
    (retry,) = chunk["Retry"]
    assert "TransientError" in retry["ErrorEquals"]
    assert retry["MaxAttempts"] == EVALUATION_THROTTLE_RETRIES
    assert retry["MaxDelaySeconds"] == EVALUATION_THROTTLE_MAX_DELAY_SECONDS  # what the config check counts
    assert retry["BackoffRate"] > 1
    assert retry["JitterStrategy"] == "FULL"
    states = definition(assembly)["States"]
    # Then the LLM judge when the request names it (tests/infra/test_judge_template.py), else the score.
    assert (states["Evaluate"]["Next"], found["Next"]) == ("EvaluateChunks", "JudgeRequested?")
    assert states["JudgeRequested?"]["Default"] == "ScoreEvaluation"


def test_execution_timeout_outlasts_every_wait_and_step(assembly: Assembly) -> None:
    """An execution timeout skips every Catch: the run would end without cleanup (a late PT keeps billing)."""
    config = load_config(assembly.env)
    states = tasks(assembly)
    timing = config.workflow
    steps = (
        sum(STEP_TIMEOUT_SECONDS.values())
        + STEP_TIMEOUT_SECONDS["CheckServing"] * timing.throughput_max_polls
        + STEP_TIMEOUT_SECONDS["EvaluateChunk"] * (worst_case_rounds() - 1)
        + EVALUATION_THROTTLE_RETRIES * EVALUATION_THROTTLE_MAX_DELAY_SECONDS
    )
    serving = timing.throughput_first_poll_seconds + timing.throughput_max_polls * timing.throughput_poll_seconds
    (retry,) = states["StartJob"]["Retry"]
    retries = retry["MaxAttempts"] * min(
        retry["IntervalSeconds"] * retry["BackoffRate"] ** max(retry["MaxAttempts"] - 1, 0), retry["MaxDelaySeconds"]
    )
    budget = timing.job_timeout_seconds + timing.approval_timeout_seconds + serving + steps + retries
    assert definition(assembly)["TimeoutSeconds"] > budget


def test_finalize_reads_only_the_runs_documents_and_its_own_executions_history(assembly: Assembly) -> None:
    """The report needs: PutObject under reports/, the three documents by name (and which exist: ListBucket
    on reports/ only), and the history of executions of this pipeline's own machines. Nothing else of S3
    or Step Functions, and no other function reads an execution's history."""
    template = assembly.template("Pipeline")
    by_action: dict[str, list[Any]] = {}
    for statement in _role_statements(template, "FinalizeRole"):
        listed = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in _actions(statement):
            by_action.setdefault(action, []).extend(listed)
            if action == "s3:ListBucket":
                assert statement["Condition"] == {"StringLike": {"s3:prefix": ["reports/*"]}}
    assert {a for a in by_action if a.startswith("s3:")} == {"s3:PutObject", "s3:GetObject", "s3:ListBucket"}
    assert [r["Fn::Join"][1][-1] for r in by_action["s3:PutObject"]] == ["/reports/*"]
    read = sorted(r["Fn::Join"][1][-1] for r in by_action["s3:GetObject"])
    assert read == ["/reports/*/dataset-validation.json", "/reports/*/evaluation.json", "/reports/*/metrics.json"]
    assert {a for a in by_action if a.startswith("states:")} == {"states:GetExecutionHistory"}
    # The executions of this environment's team machines, by their fixed name prefix: one resource, whatever
    # the number of teams (each team's machine lives in its own stack).
    (history,) = by_action["states:GetExecutionHistory"]
    assert history["Fn::Join"][1][-1].endswith(f":execution:{state_machine_prefix(assembly.env)}*:*"), history
    roles = resources(template, "AWS::IAM::Role")
    functions = {k for k, role in roles.items() if "lambda.amazonaws.com" in json.dumps(role["Properties"])}
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "states:GetExecutionHistory" in _actions(statement):
                readers = {role["Ref"] for role in policy["Properties"]["Roles"]} & functions
                assert all("Finalize" in role for role in readers), readers
