"""Configuration errors name the file, the line, the key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bft.config import ConfigError, EnvironmentConfig, known_environments, load_config
from tests.conftest import CONFIG

BASE = (CONFIG / "dev.yaml").read_text()


def write(tmp_path: Path, text: str, env: str = "dev") -> Path:
    (tmp_path / f"{env}.yaml").write_text(text)
    return tmp_path


def error_for(tmp_path: Path, text: str, env: str = "dev") -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(env, write(tmp_path, text, env))
    return str(caught.value)


@pytest.mark.parametrize("env", known_environments())
def test_shipped_configurations_are_valid(env: str) -> None:
    config = load_config(env)
    assert isinstance(config, EnvironmentConfig)
    assert config.name == env


def test_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown environment 'qa'.*known environments: dev, local, local-us-east-1, prod, staging"
    ):
        load_config("qa")


def test_bad_value_names_file_line_key_and_allowed_values(tmp_path: Path) -> None:
    message = error_for(tmp_path, BASE.replace("log_retention_days: 30", "log_retention_days: 31"))
    assert f"{tmp_path / 'dev.yaml'}" in message
    assert "log_retention_days: 31 is not a CloudWatch Logs retention" in message
    assert "allowed: 1, 3, 5" in message


def test_nested_key_reports_its_line(tmp_path: Path) -> None:
    text = BASE.replace("  max_model_units: 1\n  allow_commitment", "  max_model_units: 0\n  allow_commitment")
    message = error_for(tmp_path, text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "max_model_units: 0" in row)
    assert (
        f"dev.yaml:{line}: provisioned_throughput.max_model_units: Input should be greater than or equal to 1"
        in message
    )


def test_unknown_key_is_rejected_with_its_path(tmp_path: Path) -> None:
    message = error_for(tmp_path, BASE.replace("production: false", "production: false\nprodution: true"))
    assert "prodution: unknown key" in message


def test_wrong_type(tmp_path: Path) -> None:
    message = error_for(tmp_path, BASE.replace("production: false", "production: maybe"))
    assert "production: Input should be a valid boolean" in message


def test_invalid_account_region_email_subnet(tmp_path: Path) -> None:
    text = BASE.replace("region: us-west-2", 'account: "12345"\nregion: mars-1') + (
        "vpc:\n  subnet_ids: [subnet-xyz]\n  security_group_ids: [sg-0123456789abcdef0]\n"
    )
    text = text.replace("ml-platform-dev@example.com", "not-an-email")
    message = error_for(tmp_path, text)
    for key in ("account:", "region:", "notification_emails[0]:", "vpc.subnet_ids[0]:"):
        assert key in message, (key, message)


def test_auto_delete_refused_in_production(tmp_path: Path) -> None:
    message = error_for(tmp_path, BASE.replace("production: false", "production: true"))
    assert "data_retention.auto_delete_objects: must be false in production" in message


def test_production_names_its_account(tmp_path: Path) -> None:
    text = (CONFIG / "prod.yaml").read_text()
    pinned = next(line for line in text.splitlines() if line.startswith("account:"))
    message = error_for(tmp_path, text.replace(pinned + "\n", ""), env="prod")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("production:")) - 1
    assert f"prod.yaml:{line}: account: production needs the account it deploys into" in message


def test_team_limits_must_fit_the_environment(tmp_path: Path) -> None:
    text = BASE.replace(
        "    max_model_units: 1\n    throughput_ttl_hours", "    max_model_units: 3\n    throughput_ttl_hours"
    )
    message = error_for(tmp_path, text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "max_model_units: 3" in row)
    assert (
        f"dev.yaml:{line}: teams[0].max_model_units: 3 exceeds the environment's "
        "provisioned_throughput.max_model_units (1) (team moderation)"
    ) in message


# A second team of the same name, appended to the teams list (the last key of dev.yaml).
SECOND_MODERATION = "  - name: moderation\n    submitters: [arn:aws:iam::111111111111:role/other]\n"


def _line_of(text: str, needle: str, occurrence: int = 1) -> int:
    rows = [i for i, row in enumerate(text.splitlines(), 1) if needle in row]
    return rows[occurrence - 1]


def test_cross_field_errors_keep_their_line(tmp_path: Path) -> None:
    """Rules over several keys used to print no line number at all."""
    text = BASE.replace("log_retention_days: 30", "log_retention_days: 31")
    assert f"dev.yaml:{_line_of(text, 'log_retention_days')}: log_retention_days: 31 is not" in error_for(
        tmp_path, text
    )
    text = BASE.replace("    max_model_units: 1\n", "    max_model_units: 1\n    allow_commitment: true\n")
    assert f"dev.yaml:{_line_of(text, 'allow_commitment: true')}: teams[0].allow_commitment" in error_for(
        tmp_path, text
    )
    text = BASE + SECOND_MODERATION
    assert f"dev.yaml:{_line_of(text, '- name: moderation', 2)}: teams[1].name: duplicate" in error_for(tmp_path, text)
    text = BASE.replace("  default_model_units: 1", "  default_model_units: 2")
    line = _line_of(text, "default_model_units: 2")
    assert f"dev.yaml:{line}: provisioned_throughput.default_model_units: 2 exceeds" in error_for(tmp_path, text)


def test_team_name_rule_is_said_in_words(tmp_path: Path) -> None:
    message = error_for(tmp_path, BASE.replace("  - name: moderation", "  - name: Moderation_Team"))
    assert "teams[0].name: 'Moderation_Team' is not allowed: a team name is lowercase letters, digits and" in message
    assert "3-32 characters" in message
    assert "^[a-z]" not in message, "no raw regular expression"


def test_an_unquoted_account_id_says_quote_it(tmp_path: Path) -> None:
    message = error_for(tmp_path, BASE.replace('# account: "111111111111"', "account: 111111111111"))
    assert 'account: quote the account id: account: "111111111111"' in message
    assert "Input should be a valid string" not in message


def test_team_commitment_needs_environment_commitment(tmp_path: Path) -> None:
    text = BASE.replace("    max_model_units: 1\n", "    max_model_units: 1\n    allow_commitment: true\n")
    assert "allow_commitment: true needs provisioned_throughput.allow_commitment: true" in error_for(tmp_path, text)


def test_team_model_outside_environment_list(tmp_path: Path) -> None:
    text = BASE.replace(
        "    max_model_units: 1\n",
        "    max_model_units: 1\n    allowed_base_models: [meta.llama3-1-70b-instruct-v1:0:128k]\n",
    ).replace("  - meta.llama3-1-70b-instruct-v1:0:128k\n", "")
    assert "not in the environment's allowed_base_models" in error_for(tmp_path, text)


def test_model_not_customizable_in_the_region_names_key_model_and_region(tmp_path: Path) -> None:
    text = BASE.replace("  - meta.llama3-1-8b-instruct-v1:0:128k\n", "  - amazon.nova-lite-v1:0:300k\n")
    message = error_for(tmp_path, text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "amazon.nova-lite" in row)
    assert f"dev.yaml:{line}: allowed_base_models[0]: Amazon Nova Lite (amazon.nova-lite-v1:0:300k)" in message
    assert "customizable only in us-east-1, not in us-west-2" in message
    assert "ACTIVE models customizable in us-west-2: meta.llama3-1-8b-instruct-v1:0:128k" in message


def test_team_model_not_customizable_in_the_region(tmp_path: Path) -> None:
    text = BASE.replace(
        "    max_model_units: 1\n",
        "    max_model_units: 1\n    allowed_base_models: [amazon.nova-micro-v1:0:128k]\n",
    )
    message = error_for(tmp_path, text)
    assert (
        "teams[0].allowed_base_models[0]: Amazon Nova Micro (amazon.nova-micro-v1:0:128k) is customizable only"
        in message
    )


def test_unknown_base_model_is_refused(tmp_path: Path) -> None:
    text = BASE.replace("  - meta.llama3-1-8b-instruct-v1:0:128k\n", "  - meta.llama3-1-8b-instruct-v1:0\n")
    message = error_for(tmp_path, text)
    assert "allowed_base_models[0]: meta.llama3-1-8b-instruct-v1:0 is not a customizable Bedrock model" in message
    assert "customizable variant is meta.llama3-1-8b-instruct-v1:0:128k" in message


# dev moved to us-east-1 with Nova Micro, customizable there.
NOVA_IN_US_EAST_1 = BASE.replace("region: us-west-2", "region: us-east-1").replace(
    "  - meta.llama3-1-8b-instruct-v1:0:128k\n  - meta.llama3-3-70b-instruct-v1:0:128k\n"
    "  - meta.llama3-1-70b-instruct-v1:0:128k\n",
    "  - amazon.nova-micro-v1:0:128k\n",
)


def test_region_where_the_model_is_customizable_is_accepted(tmp_path: Path) -> None:
    text = NOVA_IN_US_EAST_1
    config = load_config("dev", write(tmp_path, text))
    assert config.region == "us-east-1"


def test_serving_kind_the_model_does_not_support_is_refused(tmp_path: Path) -> None:
    text = BASE + "serving_kinds:\n  meta.llama3-1-8b-instruct-v1:0:128k: on-demand-deployment\n"
    message = error_for(tmp_path, text)
    assert "serving_kinds.meta.llama3-1-8b-instruct-v1:0:128k: 'on-demand-deployment' is not a serving kind" in message
    assert "this model supports: provisioned-throughput" in message


def test_serving_kind_the_model_supports_reaches_the_policy(tmp_path: Path) -> None:
    text = NOVA_IN_US_EAST_1 + "serving_kinds:\n  amazon.nova-micro-v1:0:128k: provisioned-throughput\n"
    config = load_config("dev", write(tmp_path, text))
    assert config.policy_document("b")["servingKinds"] == {"amazon.nova-micro-v1:0:128k": "provisioned-throughput"}


def test_extends_merges_over_another_environment(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    child = "extends: dev\nregion: us-east-1\nallowed_base_models: [amazon.nova-lite-v1:0:300k]\n"
    config = load_config("dev-east", write(tmp_path, child, "dev-east"))
    dev = load_config("dev", tmp_path)
    assert (config.name, config.region, config.allowed_base_models) == (
        "dev-east",
        "us-east-1",
        ["amazon.nova-lite-v1:0:300k"],
    )
    assert config.teams == dev.teams
    assert config.provisioned_throughput == dev.provisioned_throughput


def test_extends_names_another_environment(tmp_path: Path) -> None:
    message = error_for(tmp_path, "extends: nowhere\n", "dev-east")
    assert "extends: 'nowhere' is not another environment" in message


def test_shipped_offline_worlds_differ_from_local_only_in_region_and_models() -> None:
    local, east = load_config("local"), load_config("local-us-east-1")
    differing = {key for key in type(local).model_fields if getattr(local, key) != getattr(east, key)}
    # Reinforcement fine-tuning comes with the region's models (Nova 2 Lite, us-east-1 only).
    assert differing == {"name", "region", "allowed_base_models", "customization_types"}


def test_duplicate_team(tmp_path: Path) -> None:
    text = BASE + SECOND_MODERATION
    assert "duplicate team names ['moderation']" in error_for(tmp_path, text)


def test_name_must_match_file(tmp_path: Path) -> None:
    assert "name: 'dev' must match the file name 'qa'" in error_for(tmp_path, BASE, env="qa")


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("name: [dev\n", "2:1", "a '[' list opened at line 1 is not closed with ']'"),
        ("name: dev\nteams:\n  - name: a\n   submitters: []\n", "4:4", "this line's indentation does not fit"),
        ("name: dev\ndata_retention:\n\tauto_delete_objects: true\n", "3:1", "a tab character: indent with spaces"),
        ("name: dev\nregion: us-west-2: x\n", "2:18", "a ':' where no key may start"),
        ('name: dev\ntags: {a: "b}\n', "3:1", "a quote opened at line 2 is never closed"),
        ("name: dev\nproduction\nregion: us-west-2\n", "2:1", "a key without ':'"),
        ("name: dev\ntags: {a: @b}\n", "2:11", "a value cannot start with '@': put the value in quotes"),
    ],
    ids=["unclosed-list", "indentation", "tab", "colon", "quote", "no-colon", "at-sign"],
)
def test_yaml_errors_say_file_line_column_and_what_is_wrong_in_words(
    tmp_path: Path, text: str, where: str, words: str
) -> None:
    message = error_for(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'dev.yaml'}:{where}: not valid YAML: {words}"), message
    for internal in ("while parsing", "while scanning", "<unicode string>", "<block", "<stream", "^"):
        assert internal not in message, (internal, message)
    assert "\n" not in message, "one line"


def test_a_duplicate_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    text = BASE.replace(
        "    monthly_budget_usd: 2000\n", "    monthly_budget_usd: 2000\n    monthly_budget_usd: 20000\n"
    )
    first, second = _line_of(text, "monthly_budget_usd: 2000"), _line_of(text, "monthly_budget_usd: 20000")
    assert error_for(tmp_path, text) == (
        f"{tmp_path / 'dev.yaml'}:{second}: teams[0].monthly_budget_usd: duplicate key, first at line {first}: "
        "YAML would keep only this later value and drop the first without a word (a missing '- ' before a list "
        "item does this too)"
    )
    top = BASE + "log_retention_days: 90\n"
    assert f"dev.yaml:{_line_of(top, 'log_retention_days: 90')}: log_retention_days: duplicate key, first at line " + (
        f"{_line_of(top, 'log_retention_days: 30')}:"
    ) in error_for(tmp_path, top)


def test_a_missing_dash_does_not_delete_a_team_silently(tmp_path: Path) -> None:
    """Without the '- ' the second team's keys land in the first team's mapping: YAML would keep one team."""
    second = "    name: search\n    submitters: [arn:aws:iam::111111111111:role/search-ml-engineers]\n"
    message = error_for(tmp_path, BASE + second)
    text = BASE + second
    assert (
        f"dev.yaml:{_line_of(text, 'name: search')}: teams[0].name: duplicate key, "
        f"first at line {_line_of(text, '- name: moderation')}"
    ) in message


def test_a_duplicate_key_in_the_extended_file_names_that_file(tmp_path: Path) -> None:
    write(tmp_path, BASE + "log_retention_days: 90\n")
    message = error_for(tmp_path, "extends: dev\nregion: us-east-1\n", "dev-east")
    assert message.startswith(f"{tmp_path / 'dev.yaml'}:")
    assert "log_retention_days: duplicate key, first at line" in message
    write(tmp_path, BASE + "tags: [x\n")
    assert error_for(tmp_path, "extends: dev\n", "dev-east").startswith(f"{tmp_path / 'dev.yaml'}:")


@pytest.mark.parametrize(
    "submitters",
    ["", "    submitters: []\n"],
    ids=["key-missing", "empty-list"],
)
def test_a_team_without_submitters_is_refused_with_the_consequence(tmp_path: Path, submitters: str) -> None:
    text = BASE.replace("    submitters:\n      - arn:aws:iam::111111111111:role/moderation-ml-engineers\n", submitters)
    assert "moderation-ml-engineers" not in text
    line = _line_of(text, "submitters: []") if submitters else _line_of(text, "- name: moderation")
    assert (
        f"dev.yaml:{line}: teams[0].submitters: team moderation has no submitters, so nobody could submit runs"
    ) in error_for(tmp_path, text)


def test_commitment_is_off_by_default_outside_prod() -> None:
    assert EnvironmentConfig(name="x").provisioned_throughput.allow_commitment is False
    assert load_config("dev").provisioned_throughput.allow_commitment is False


def test_unknown_team_lookup_lists_known_teams() -> None:
    with pytest.raises(
        ConfigError, match=r"team 'payments' is not onboarded in environment 'dev' \(known: moderation\)"
    ):
        load_config("dev").team("payments")


def test_app_refuses_an_unknown_environment_before_building_anything(tmp_path: Path) -> None:
    from bft.synth import synth

    with pytest.raises(RuntimeError, match=r"unknown environment 'qa'") as caught:
        synth("qa", tmp_path / "out")
    assert "Traceback" not in str(caught.value)


PROD = (CONFIG / "prod.yaml").read_text()


def line_of(text: str, fragment: str) -> int:
    return next(i for i, row in enumerate(text.splitlines(), 1) if fragment in row)


def test_too_short_execution_timeout_names_file_line_keys_and_minimum(tmp_path: Path) -> None:
    text = BASE.replace(
        "  reconcile_interval_minutes: 30\n", "  reconcile_interval_minutes: 30\n  execution_timeout_seconds: 86400\n"
    )
    message = error_for(tmp_path, text)
    minimum = load_config("dev").workflow.minimum_execution_seconds()
    line = line_of(text, "execution_timeout_seconds: 86400")
    assert f"dev.yaml:{line}: workflow.execution_timeout_seconds: 86400 must be greater than" in message
    for part in ("job_timeout_seconds (172800)", "approval_timeout_seconds (259200)", "serving wait", "step task"):
        assert part in message, (part, message)
    assert f"set at least {minimum}" in message


def test_execution_minimum_adds_job_approval_serving_steps_and_retries() -> None:
    timing = load_config("prod").workflow
    # 72 h job + 7 d approval + 20 min + 12 * 5 min serving wait + 12 * 5 min waiting for a promotion into the
    # team's endpoint + the steps (CheckServing once per poll, each evaluation chunk once per round: 400 chunks
    # two at a time, and a throttled chunk's retries; PromoteToEndpoint once, CheckPromotion once per poll; an LLM
    # judge's StartJudge once and CheckJudge once per poll, after its wait of 36 * 10 min) + 5 * 60 s.
    steps = 60 + 960 + 60 + 90 + 150 + 90 + 60 * 13 + 300 + 960 * 200 + 8 * 240 + 300 + 90 + 60 * 12 + 90 + 150 + 90
    steps += 300 + 60 * 36
    judge_wait = 36 * 600
    assert timing.minimum_execution_seconds() == 259200 + 604800 + 1200 + 3600 + 3600 + judge_wait + steps + 300 + 1
    assert timing.execution_timeout_seconds >= timing.minimum_execution_seconds()


def test_execution_timeout_check_without_the_key_in_the_file_points_at_the_workflow_block(tmp_path: Path) -> None:
    text = BASE.replace("  job_timeout_seconds: 172800       # 48 h\n", "  job_timeout_seconds: 1000000\n")
    message = error_for(tmp_path, text)
    assert f"dev.yaml:{line_of(text, 'workflow:')}: workflow.execution_timeout_seconds: 1209600 must be" in message


def test_production_needs_reviewers(tmp_path: Path) -> None:
    text = PROD.replace("reviewers:\n  - arn:aws:iam::333333333333:role/ml-platform-reviewers\n", "")
    message = error_for(tmp_path, text, env="prod")
    assert f"prod.yaml:{line_of(text, '- name: moderation')}: teams[0].reviewers: team moderation has no reviewers" in (
        message
    )


def test_approval_required_outside_production_needs_reviewers(tmp_path: Path) -> None:
    reviewers = "reviewers:\n  - arn:aws:iam::111111111111:role/ml-platform-reviewers\n"
    assert reviewers in BASE
    text = BASE.replace(reviewers, "approval_required: true\n")
    message = error_for(tmp_path, text)
    assert f"dev.yaml:{line_of(text, '- name: moderation')}: teams[0].reviewers: team moderation has no reviewers" in (
        message
    )
    assert load_config("dev", write(tmp_path, BASE.replace(reviewers, ""))).reviewers == []


def test_production_refuses_a_submitter_as_reviewer(tmp_path: Path) -> None:
    submitter = "arn:aws:iam::333333333333:role/moderation-ml-engineers"
    text = PROD.replace("role/ml-platform-reviewers", "role/moderation-ml-engineers")
    message = error_for(tmp_path, text, env="prod")
    assert f"prod.yaml:{line_of(text, 'reviewers:')}: reviewers: {submitter} is one of the team's submitters" in message


def test_production_refuses_a_team_reviewer_that_is_a_submitter_session_root_or_submitter_role(tmp_path: Path) -> None:
    for reviewer, problem in (
        ("arn:aws:iam::333333333333:root", "is the account root of a submitter"),
        (
            "arn:aws:iam::333333333333:role/BftProdTeamModeration-AccessSubmitterRole7F7D9-ABC",
            "is a submitter role of this pipeline",
        ),
    ):
        text = PROD.replace("    max_model_units: 2\n", f"    max_model_units: 2\n    reviewers: ['{reviewer}']\n")
        message = error_for(tmp_path, text, env="prod")
        assert f"prod.yaml:{line_of(text, '    reviewers:')}: teams[0].reviewers: {reviewer} {problem}" in message
    # An STS session is not a reviewer principal (a resource policy names roles, users or accounts).
    text = PROD.replace("role/ml-platform-reviewers", "assumed-role/moderation-ml-engineers/alice").replace(
        "arn:aws:iam::333333333333:assumed", "arn:aws:sts::333333333333:assumed"
    )
    assert "reviewers[0]: String should match pattern" in error_for(tmp_path, text, env="prod")


def test_production_approval_cannot_be_switched_off(tmp_path: Path) -> None:
    text = PROD.replace("approval_required: true", "approval_required: false")
    message = error_for(tmp_path, text, env="prod")
    assert f"prod.yaml:{line_of(text, 'approval_required:')}: approval_required: must be true in production" in message


def test_guardrail_document_carries_approval_rules_for_the_workflow() -> None:
    prod = load_config("prod").policy_document("datasets")
    assert prod["production"] is True
    assert prod["approvalMandatory"] is True
    assert prod["approvalRequiredByDefault"] is True
    assert prod["reviewers"] == {"moderation": ["arn:aws:iam::333333333333:role/ml-platform-reviewers"]}
    dev = load_config("dev").policy_document("datasets")
    assert (dev["production"], dev["approvalMandatory"]) == (False, False)


def test_team_reviewers_override_the_environments(tmp_path: Path) -> None:
    team_reviewer = "arn:aws:iam::111111111111:role/moderation-reviewers"
    text = BASE.replace("    max_model_units: 1\n", f"    max_model_units: 1\n    reviewers: ['{team_reviewer}']\n")
    text = text.replace("role/ml-platform-reviewers", "role/platform-reviewers")
    config = load_config("dev", write(tmp_path, text))
    assert config.policy_document("b")["reviewers"] == {"moderation": [team_reviewer]}


def test_local_demo_has_a_reviewer_and_optional_approval() -> None:
    local = load_config("local")
    assert not local.production
    assert not local.approval_mandatory
    assert local.team_reviewers(local.team("moderation")) == ["arn:aws:iam::123456789012:role/moderation-reviewers"]


def test_a_customization_type_no_allowed_model_supports_is_refused_naming_the_models(tmp_path: Path) -> None:
    text = NOVA_IN_US_EAST_1 + "customization_types: [fine-tuning, reinforcement]\n"
    message = error_for(tmp_path, text)
    assert "customization_types[1]: reinforcement: none of allowed_base_models supports REINFORCEMENT_FINE_TUNING" in (
        message
    )
    assert "models that do: amazon.nova-2-lite-v1:0:256k" in message


def test_customization_types_reach_the_policy_and_a_team_may_narrow_them(tmp_path: Path) -> None:
    text = NOVA_IN_US_EAST_1.replace(
        "  - amazon.nova-micro-v1:0:128k\n", "  - amazon.nova-micro-v1:0:128k\n  - amazon.nova-2-lite-v1:0:256k\n"
    ).replace("    max_model_units: 1\n", "    max_model_units: 1\n    customization_types: [reinforcement]\n")
    config = load_config("dev", write(tmp_path, text + "customization_types: [fine-tuning, reinforcement]\n"))
    document = config.policy_document("bucket")
    assert document["customizationTypes"] == ["fine-tuning", "reinforcement"]
    assert document["teams"]["moderation"]["customizationTypes"] == ["reinforcement"]
    assert load_config("dev", write(tmp_path, NOVA_IN_US_EAST_1)).customization_types == ["fine-tuning"]
    assert "['reinforcement'] not in the environment's customization_types ['fine-tuning']" in error_for(tmp_path, text)
