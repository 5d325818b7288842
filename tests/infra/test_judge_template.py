"""The LLM judge as synthesized: the evaluation service role's trust and rights, the evaluate function's rights
to start, read and stop evaluation jobs and to pass that role only, and the judge's states."""

from __future__ import annotations

import json
from typing import Any

from bft.config import load_config
from tests.conftest import Assembly, resources
from tests.infra.test_workflow_template import definition

JUDGE = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def _roles(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources(template, "AWS::IAM::Role")


def evaluation_role(assembly: Assembly) -> tuple[str, dict[str, Any]]:
    template = assembly.template("Pipeline")
    found = {k: v for k, v in _roles(template).items() if k.startswith("EvaluationServiceRole")}
    assert len(found) == 1, sorted(_roles(template))
    return next(iter(found.items()))


def statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies attached to the role ``role_id``."""
    found = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def text(value: Any) -> str:
    return json.dumps(value)


def test_only_an_environment_with_judges_has_the_evaluation_role(assemblies: dict[str, Assembly]) -> None:
    for env, assembly in assemblies.items():
        has = any(k.startswith("EvaluationServiceRole") for k in _roles(assembly.template("Pipeline")))
        assert has == bool(load_config(env).judge_models), env


def test_the_role_trusts_bedrock_for_this_account_s_evaluation_jobs_only(assemblies: dict[str, Assembly]) -> None:
    _, role = evaluation_role(assemblies["local"])
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    account = load_config("local").account or {"Ref": "AWS::AccountId"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    source = text(trust["Condition"]["ArnLike"]["aws:SourceArn"])
    assert ":evaluation-job/*" in source
    assert "model-customization-job" not in source


def test_the_role_invokes_only_the_allowed_judges_and_reads_writes_only_the_judge_prefixes(
    assemblies: dict[str, Assembly],
) -> None:
    template = assemblies["local"].template("Pipeline")
    role_id, _ = evaluation_role(assemblies["local"])
    by_sid = {s["Sid"]: s for s in statements(template, role_id)}
    invoke = by_sid["InvokeJudgeModels"]
    assert invoke["Action"] == "bedrock:InvokeModel"
    assert text(invoke["Resource"]).endswith(f':foundation-model/{JUDGE}"]]}}')
    assert "judge/*/input/*" in text(by_sid["ReadJudgeDatasets"]["Resource"])
    assert "judge/*/output/*" in text(by_sid["WriteJudgeResults"]["Resource"])
    region = load_config("local").region
    assert by_sid["UseDataKeyThroughS3"]["Condition"]["StringEquals"]["kms:ViaService"] == f"s3.{region}.amazonaws.com"
    every = [s for s in statements(template, role_id)]
    assert not any("bedrock:*" in text(s["Action"]) or s["Resource"] == "*" for s in every)


def _evaluate_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    functions = resources(template, "AWS::Lambda::Function")
    (evaluate,) = [f for f in functions.values() if "Score the custom model" in f["Properties"].get("Description", "")]
    role_id = evaluate["Properties"]["Role"]["Fn::GetAtt"][0]
    return statements(template, role_id)


def test_the_evaluate_function_passes_the_evaluation_role_to_bedrock_only(assemblies: dict[str, Assembly]) -> None:
    template = assemblies["local"].template("Pipeline")
    role_id, _ = evaluation_role(assemblies["local"])
    found = _evaluate_statements(template)
    (passing,) = [s for s in found if s["Action"] == "iam:PassRole"]
    assert passing["Resource"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}


def test_the_evaluate_function_starts_jobs_with_the_allowed_judges_and_stops_only_its_own(
    assemblies: dict[str, Assembly],
) -> None:
    found = _evaluate_statements(assemblies["local"].template("Pipeline"))
    (create,) = [s for s in found if s["Action"] == "bedrock:CreateEvaluationJob"]
    assert f"foundation-model/{JUDGE}" in text(create["Resource"])
    assert "*" not in text(create["Resource"]).replace("AWS::", "")
    (stop,) = [s for s in found if s["Action"] == "bedrock:StopEvaluationJob"]
    assert stop["Condition"]["StringEquals"]["aws:ResourceTag/project"] == "bedrock-fine-tuning"
    (tag,) = [s for s in found if s["Action"] == "bedrock:TagResource" and "evaluation-job" in text(s["Resource"])]
    assert tag["Condition"]["Null"] == {"aws:ResourceTag/project": "true"}


def test_the_judge_waits_and_checks_between_the_chunks_and_the_score(assemblies: dict[str, Assembly]) -> None:
    states = definition(assemblies["local"])["States"]
    choice = states["JudgeRequested?"]
    assert choice["Default"] == "ScoreEvaluation"
    assert choice["Choices"][0]["Next"] == "StartJudge"
    assert states["EvaluateChunks"]["Next"] == "JudgeRequested?"
    assert states["StartJudge"]["Next"] == "WaitForJudge"
    assert states["WaitForJudge"]["SecondsPath"] == "$.run.evaluation.judgePoll.pollSeconds"
    assert states["CheckJudge"]["Next"] == "JudgeDone?"
    done = states["JudgeDone?"]
    assert done["Choices"][0]["Next"] == "ScoreEvaluation"
    assert done["Default"] == "WaitForJudge"
    assert states["CheckJudge"]["Catch"][0]["Next"] == "Cleanup"


def _cleanup_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    functions = resources(template, "AWS::Lambda::Function")
    (cleanup,) = [f for f in functions.values() if f["Properties"].get("Description", "").startswith("Stop and delete")]
    return statements(template, cleanup["Properties"]["Role"]["Fn::GetAtt"][0])


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_cleanup_finds_reads_and_stops_only_this_pipeline_s_evaluation_jobs(assemblies: dict[str, Assembly]) -> None:
    found = _cleanup_statements(assemblies["local"].template("Pipeline"))
    on_jobs = [s for s in found if "evaluation-job/*" in text(s["Resource"])]
    # Read and stop: this pipeline's evaluation jobs of this environment only.
    (stop,) = [s for s in on_jobs if "bedrock:StopEvaluationJob" in _actions(s)]
    assert "bedrock:GetEvaluationJob" in _actions(stop)
    assert stop["Condition"]["StringEquals"] == {
        "aws:ResourceTag/project": "bedrock-fine-tuning",
        "aws:ResourceTag/environment": "local",
    }
    # Tags read on any evaluation job (a foreign one is reported, not touched), unconditioned.
    (tags,) = [s for s in on_jobs if "bedrock:ListTagsForResource" in _actions(s)]
    assert "Condition" not in tags
    # Found by name: ListEvaluationJobs takes no resource ARN.
    (listing,) = [s for s in found if "bedrock:ListEvaluationJobs" in _actions(s)]
    assert listing["Resource"] == "*"
    assert not [s for s in found if {"bedrock:CreateEvaluationJob", "bedrock:TagResource"} & set(_actions(s))]


def test_without_judges_cleanup_has_no_evaluation_job_rights(assemblies: dict[str, Assembly]) -> None:
    without = [env for env in assemblies if not load_config(env).judge_models]
    assert without, "every synthesized environment allows judges: nothing to compare"
    for env in without:
        found = _cleanup_statements(assemblies[env].template("Pipeline"))
        assert not [s for s in found if "EvaluationJob" in text(s["Action"]) or "evaluation-job" in text(s["Resource"])]


def test_cleanup_is_given_the_execution_s_name(assemblies: dict[str, Assembly]) -> None:
    states = definition(assemblies["local"])["States"]
    assert states["Cleanup"]["Parameters"]["executionName.$"] == "$$.Execution.Name"
