"""Names and tokens of a run: valid for Bedrock, and distinct for distinct (environment, team, request, attempt)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bft.names import (
    CLIENT_REQUEST_TOKEN,
    CUSTOM_MODEL_NAME,
    JOB_NAME,
    NAME_LIMIT,
    PROVISIONED_MODEL_NAME,
    run_names,
)

environments = st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True)
teams = st.from_regex(r"[a-z][a-z0-9-]{1,30}[a-z0-9]", fullmatch=True)
requests = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}", fullmatch=True)
attempts = st.integers(min_value=1, max_value=10**6)
custom = st.none() | st.from_regex(r"([0-9a-zA-Z][_-]?){1,63}", fullmatch=True)
runs = st.tuples(environments, teams, requests, attempts)


def assert_valid(names: dict[str, str]) -> None:
    job, model, serving, token = (
        names["jobName"],
        names["customModelName"],
        names["servingName"],
        names["clientRequestToken"],
    )
    assert JOB_NAME.match(job), job
    assert len(job) <= NAME_LIMIT, job
    assert job.startswith("bft-"), "the job-events rule matches the bft- prefix"
    assert CUSTOM_MODEL_NAME.match(model), model
    assert len(model) <= NAME_LIMIT, model
    assert PROVISIONED_MODEL_NAME.match(serving), serving
    assert len(serving) <= NAME_LIMIT, serving
    assert JOB_NAME.match(serving), "also a valid deployment name"
    assert CLIENT_REQUEST_TOKEN.match(token), token
    assert len(token) <= 256, token


@settings(max_examples=300, deadline=None)
@given(runs, custom)
def test_names_are_valid(run: tuple[str, str, str, int], custom_model_name: str | None) -> None:
    assert_valid(run_names(*run, custom_model_name))


@settings(max_examples=300, deadline=None)
@given(runs, runs, custom)
def test_distinct_runs_get_distinct_names(
    first: tuple[str, str, str, int], second: tuple[str, str, str, int], custom_model_name: str | None
) -> None:
    a, b = run_names(*first), run_names(*second, custom_model_name)
    if first == second:
        assert a["jobName"] == b["jobName"]
        assert a["clientRequestToken"] == b["clientRequestToken"]
        return
    for key in ("jobName", "customModelName", "servingName", "clientRequestToken"):
        assert a[key] != b[key], (key, first, second)


def test_truncation_never_merges_two_runs() -> None:
    """Long ids that differ only beyond the readable part's cut still differ, by their hash."""
    long_team = "t" * 32
    base = "r" * 39
    a = run_names("staging", long_team, base + "1", 1)
    b = run_names("staging", long_team, base + "2", 1)
    assert a["jobName"][:40] == b["jobName"][:40], "same readable prefix after truncation"
    assert a["jobName"] != b["jobName"]
    assert a["customModelName"] != b["customModelName"]
    assert_valid(a)


def test_separators_do_not_alias() -> None:
    """("a-b", "c") and ("a", "b-c") read alike once joined with '-': the hash tells them apart."""
    one = run_names("dev", "team-x", "y", 1)
    other = run_names("dev", "team", "x-y", 1)
    assert one["jobName"].rsplit("-", 1)[0] == other["jobName"].rsplit("-", 1)[0]
    assert one["jobName"] != other["jobName"]


def test_example_format() -> None:
    names = run_names("dev", "moderation", "req-2024-01", 1)
    assert names["jobName"].startswith("bft-dev-moderation-req-2024-01-a1-")
    assert len(names["jobName"].rsplit("-", 1)[1]) == 12
    assert names["clientRequestToken"].startswith("bft-")
    assert len(names["clientRequestToken"]) == 52
