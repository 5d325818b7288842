"""Synthesize environments exactly as `cdk synth -c env=<name>` does, into a chosen directory.

Tests, the offline runner and the benchmarks use this so that what they read is what `cdk
synth` writes: the same ``app.py`` code path (config loaded and validated once, stacks built,
cdk-nag run), only the output directory differs.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# Everything of the checkout that can change a synthesized template or asset; the configuration is the directory
# actually read (bft.config.resolve_config_dir), wherever it lives.
# requirements.lock: the layer ships the installed SDK; requirements-layer.lock: the wheels it unpacks, named with
# their hashes (stacks/constructs/functions.py).
_INPUTS = ("app.py", "cdk.json", "stacks", "lambda", "src/bft", "requirements.lock", "requirements-layer.lock")


def source_digest(root: Path = ROOT, config_dir: Path | None = None) -> str:
    """A digest of the sources under ``root`` and of the environments' files in the config directory
    (``config_dir``, else the one the rule chooses: BFT_CONFIG_DIR, else the checkout's ``config/``)."""
    from bft.config import resolve_config_dir

    digest = hashlib.sha256()
    for item in _INPUTS:
        path = root / item
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    # load_config reads <env>.yaml and the one it extends: the YAML files of the directory, by name.
    for file in sorted(resolve_config_dir(config_dir).glob("*.yaml")):
        digest.update(f"config/{file.name}".encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def synth(env: str, outdir: Path, *, root: Path = ROOT, config_dir: Path | None = None) -> Path:
    """Run ``app.py`` for ``env`` into ``outdir`` (a fresh process, so one jsii runtime each), with the config
    directory ``config_dir`` or, when None, the one the rule chooses (named to app.py explicitly either way)."""
    from bft.config import resolve_config_dir

    if outdir.exists():
        shutil.rmtree(outdir)
    node_bin = root / "node_modules" / ".bin"
    environ = dict(os.environ)
    environ["PATH"] = f"{node_bin}{os.pathsep}{environ.get('PATH', '')}"
    environ["CDK_OUTDIR"] = str(outdir)
    # The CDK CLI passes cdk.json's context (feature flags) the same way.
    context = json.loads((root / "cdk.json").read_text()).get("context", {})
    context |= {"env": env, "config_dir": str(resolve_config_dir(config_dir))}
    environ["CDK_CONTEXT_JSON"] = json.dumps(context)
    environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    result = subprocess.run(
        [sys.executable, str(root / "app.py")],
        cwd=root,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"synth of {env!r} failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return outdir


def cached_synth(env: str, cache_root: Path, *, root: Path = ROOT, config_dir: Path | None = None) -> Path:
    """Synthesize once per source digest (the config directory's files included), shared by parallel test
    workers through a file lock."""
    from bft.config import resolve_config_dir

    config_dir = resolve_config_dir(config_dir)
    cache_root.mkdir(parents=True, exist_ok=True)
    target = cache_root / f"{env}-{source_digest(root, config_dir)}"
    with open(cache_root / f".{env}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "manifest.json").is_file():
            # Older digests may still be read by a test run of other code: drop only old ones.
            for stale in cache_root.glob(f"{env}-*"):
                if time.time() - stale.stat().st_mtime > 3600:
                    shutil.rmtree(stale, ignore_errors=True)
            synth(env, target, root=root, config_dir=config_dir)
    return target


# -- CloudFormation and IAM limits of a synthesized assembly (the teams test and benchmark) -----------------------
RESOURCE_LIMIT = 500  # resources per CloudFormation template
MANAGED_POLICY_LIMIT = 6144  # characters of a managed policy document (IAM quotas; whitespace not counted)
ROLE_INLINE_LIMIT = 10240  # characters of all inline policies of one role together
TRUST_POLICY_LIMIT = 2048  # characters of a role trust policy (the default quota)
# An intrinsic stands for a value only known at deploy time (an ARN, a name): counted as this many characters,
# more than a generated ARN takes (arn:aws:iam::<12>:role/ + a 64-character generated name is 95).
PLACEHOLDER_CHARS = 100


@dataclass(frozen=True)
class PolicySize:
    kind: str  # "managed", "role inline (aggregate)" or "trust"
    where: str  # <stack>/<logical id>
    chars: int
    limit: int


@dataclass(frozen=True)
class AssemblyLimits:
    stacks: int
    largest_template: tuple[str, int]  # stack, resources
    policies: list[PolicySize]

    @property
    def largest_policy(self) -> PolicySize:
        """The policy closest to its limit."""
        return max(self.policies, key=lambda p: p.chars / p.limit)


def iam_chars(document: Any, pseudo: dict[str, str] | None = None) -> int:
    """A policy document's size as IAM counts it (characters other than whitespace), with each intrinsic
    replaced by its value where the template says it (pseudo parameters) or a ``PLACEHOLDER_CHARS`` stand-in."""
    pseudo = pseudo or {}

    def resolve(value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref" and arg in pseudo:
                    return pseudo[arg]
                if key in ("Ref", "Fn::GetAtt", "Fn::ImportValue", "Fn::Sub", "Fn::Select", "Fn::GetStackOutput"):
                    return "x" * PLACEHOLDER_CHARS
                if key == "Fn::Join":
                    separator, parts = arg
                    return separator.join(str(resolve(part)) for part in parts)
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(item) for item in value]
        return value

    text = json.dumps(resolve(document), separators=(",", ":"))
    return sum(1 for char in text if not char.isspace())


def assembly_limits(outdir: Path) -> AssemblyLimits:
    """Resource counts and IAM policy sizes of every stack template of a synthesized assembly."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    templates = {
        name: json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    pseudo = {"AWS::Partition": "aws", "AWS::AccountId": "123456789012", "AWS::URLSuffix": "amazonaws.com"}
    policies: list[PolicySize] = []
    largest = ("", 0)
    for stack, template in templates.items():
        resources = template.get("Resources", {})
        if len(resources) > largest[1]:
            largest = (stack, len(resources))
        inline: dict[str, int] = {}
        for logical_id, resource in resources.items():
            kind, properties = resource["Type"], resource.get("Properties", {})
            if kind == "AWS::IAM::ManagedPolicy":
                size = iam_chars(properties["PolicyDocument"], pseudo)
                policies.append(PolicySize("managed", f"{stack}/{logical_id}", size, MANAGED_POLICY_LIMIT))
            elif kind == "AWS::IAM::Policy":
                size = iam_chars(properties["PolicyDocument"], pseudo)
                for role in properties.get("Roles", []):
                    key = role["Ref"] if isinstance(role, dict) and "Ref" in role else json.dumps(role)
                    inline[key] = inline.get(key, 0) + size
            elif kind == "AWS::IAM::Role":
                trust = iam_chars(properties["AssumeRolePolicyDocument"], pseudo)
                policies.append(PolicySize("trust", f"{stack}/{logical_id}", trust, TRUST_POLICY_LIMIT))
                for policy in properties.get("Policies", []):
                    inline[logical_id] = inline.get(logical_id, 0) + iam_chars(policy["PolicyDocument"], pseudo)
        policies += [
            PolicySize("role inline (aggregate)", f"{stack}/{role}", size, ROLE_INLINE_LIMIT)
            for role, size in inline.items()
        ]
    return AssemblyLimits(stacks=len(templates), largest_template=largest, policies=policies)
