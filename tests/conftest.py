"""Shared fixtures. Synthesis is slow (a jsii Node process): each environment is synthesized once
per source change and shared by every test and xdist worker.

The tests read their own organisation, tests/fixtures/config, never config/ (the platform engineer's, which
`make check-config` checks). BFT_CONFIG_DIR is set here, before any test module is imported, so that every
load_config, every `bft` command run in process, and every process the tests start (cdk synth through
bft.synth, the offline twin) reads the fixtures, whatever the shell exported.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bft.config import CONFIG_DIR_VARIABLE, known_environments
from bft.synth import ROOT, cached_synth

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The organisation the tests are written against (a copy of the config/ this repository shipped).
CONFIG = FIXTURES / "config"
os.environ[CONFIG_DIR_VARIABLE] = str(CONFIG)

# jsii (Template assertions) and synthesis need Node 22 from node_modules, however pytest was started.
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"

ENVIRONMENTS = known_environments()
SYNTH_CACHE = ROOT / ".pytest_cache" / "synth"


@dataclass(frozen=True)
class Assembly:
    env: str
    path: Path

    def templates(self) -> dict[str, dict[str, Any]]:
        manifest = json.loads((self.path / "manifest.json").read_text())
        out = {}
        for artifact in manifest["artifacts"].values():
            if artifact["type"] == "aws:cloudformation:stack":
                file = artifact["properties"]["templateFile"]
                out[file.removesuffix(".template.json")] = json.loads((self.path / file).read_text())
        return out

    def template(self, kind: str) -> dict[str, Any]:
        """The template of the stack whose name ends with ``kind`` ("Data", "Pipeline", "TeamModeration")."""
        matches = [t for name, t in self.templates().items() if name.endswith(kind)]
        assert len(matches) == 1, f"expected one {kind} stack in {self.path}"
        return matches[0]

    def team_templates(self) -> dict[str, dict[str, Any]]:
        """Team name -> the template of its own stack (``Bft<Env>Team<Name>``)."""
        from bft.config import load_config, resource_prefix
        from bft.registry import team_stack_name

        config = load_config(self.env)
        templates = self.templates()
        return {team.name: templates[team_stack_name(resource_prefix(config), team.name)] for team in config.teams}

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        """Resources of ``type_`` in every stack, keyed ``<stack>/<logical id>``."""
        return {
            f"{stack}/{logical_id}": resource
            for stack, template in self.templates().items()
            for logical_id, resource in resources(template, type_).items()
        }


@pytest.fixture(scope="session")
def assemblies() -> dict[str, Assembly]:
    return {env: Assembly(env, cached_synth(env, SYNTH_CACHE)) for env in ENVIRONMENTS}


@pytest.fixture(scope="session", params=ENVIRONMENTS)
def assembly(request: pytest.FixtureRequest, assemblies: dict[str, Assembly]) -> Assembly:
    return assemblies[request.param]


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template.get("Resources", {}).items() if v["Type"] == type_}
