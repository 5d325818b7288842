"""The models a config may name: live in its region on the day it is read, by the model catalog."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bft.config import ConfigError, load_config

DAY = date(2026, 12, 7)

MINIMAL = """name: dev
region: {region}
teams:
  - name: search
    submitters:
      - arn:aws:iam::111111111111:role/search-ml-engineers
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "dev.yaml").write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("model", "why"),
    [
        ("meta.llama3-2-1b-instruct-v1:0:128k", "past its end of life (2026-07-07) on 2026-12-07"),
        ("anthropic.claude-3-haiku-20240307-v1:0:200k", "past its end of life (2026-09-10) on 2026-12-07"),
        ("amazon.nova-micro-v1:0:128k", "customizable only in us-east-1, not in us-west-2"),
        ("amazon.titan-text-express-v1:0:8k", "Legacy"),
        ("amazon.nova-micro-v1:0", "is not a customizable Bedrock model"),
    ],
)
def test_a_model_not_live_in_the_region_is_refused_with_its_replacements(tmp_path: Path, model: str, why: str) -> None:
    text = MINIMAL.format(region="us-west-2") + f"allowed_base_models:\n  - {model}\n"
    with pytest.raises(ConfigError) as raised:
        load_config("dev", _write(tmp_path, text), today=DAY)
    message = str(raised.value)
    assert "dev.yaml:8: allowed_base_models[0]: " in message  # file, line, key
    assert why in message
    assert "ACTIVE models customizable in us-west-2: meta.llama3-1-8b-instruct-v1:0:128k" in message


def test_a_team_list_is_checked_too(tmp_path: Path) -> None:
    text = (
        MINIMAL.format(region="us-west-2") + "    allowed_base_models:\n      - meta.llama3-2-3b-instruct-v1:0:128k\n"
    )
    with pytest.raises(ConfigError, match=r"dev.yaml:8: teams\[0\]\.allowed_base_models\[0\]: .*past its end of life"):
        load_config("dev", _write(tmp_path, text), today=DAY)


def test_the_day_decides(tmp_path: Path) -> None:
    """Before Llama 3.2's Legacy date the same file was valid: synthesis judges on its own day."""
    text = MINIMAL.format(region="us-west-2") + "allowed_base_models:\n  - meta.llama3-2-1b-instruct-v1:0:128k\n"
    config = load_config("dev", _write(tmp_path, text), today=date(2025, 12, 1))
    assert config.allowed_base_models == ["meta.llama3-2-1b-instruct-v1:0:128k"]


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        (
            "us-west-2",
            [
                "meta.llama3-1-8b-instruct-v1:0:128k",
                "meta.llama3-1-70b-instruct-v1:0:128k",
                "meta.llama3-3-70b-instruct-v1:0:128k",
            ],
        ),
        (
            "us-east-1",
            [
                "amazon.nova-micro-v1:0:128k",
                "amazon.nova-lite-v1:0:300k",
                "amazon.nova-pro-v1:0:300k",
                "amazon.nova-2-lite-v1:0:256k",
            ],
        ),
    ],
)
def test_without_a_list_the_region_s_live_models_are_allowed(tmp_path: Path, region: str, expected: list[str]) -> None:
    config = load_config("dev", _write(tmp_path, MINIMAL.format(region=region)), today=DAY)
    assert config.allowed_base_models == expected


def test_a_region_without_customizable_models_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dev.yaml:2: .*no model is customizable in eu-west-1 on 2026-12-07"):
        load_config("dev", _write(tmp_path, MINIMAL.format(region="eu-west-1")), today=DAY)
