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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Everything that can change a synthesized template or asset.
# requirements.lock: the layer ships the installed SDK (stacks/constructs/functions.py).
_INPUTS = ("app.py", "cdk.json", "stacks", "lambda", "src/bft", "config", "requirements.lock")


def source_digest(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for item in _INPUTS:
        path = root / item
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def synth(env: str, outdir: Path, *, root: Path = ROOT, config_dir: Path | None = None) -> Path:
    """Run ``app.py`` for ``env`` into ``outdir`` (a fresh process, so one jsii runtime each)."""
    if outdir.exists():
        shutil.rmtree(outdir)
    node_bin = root / "node_modules" / ".bin"
    environ = dict(os.environ)
    environ["PATH"] = f"{node_bin}{os.pathsep}{environ.get('PATH', '')}"
    environ["CDK_OUTDIR"] = str(outdir)
    # The CDK CLI passes cdk.json's context (feature flags) the same way.
    context = json.loads((root / "cdk.json").read_text()).get("context", {})
    context |= {"env": env} | ({"config_dir": str(config_dir)} if config_dir else {})
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


def cached_synth(env: str, cache_root: Path, *, root: Path = ROOT) -> Path:
    """Synthesize once per source digest, shared by parallel test workers through a file lock."""
    cache_root.mkdir(parents=True, exist_ok=True)
    target = cache_root / f"{env}-{source_digest(root)}"
    with open(cache_root / f".{env}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "manifest.json").is_file():
            # Older digests may still be read by a test run of other code: drop only old ones.
            for stale in cache_root.glob(f"{env}-*"):
                if time.time() - stale.stat().st_mtime > 3600:
                    shutil.rmtree(stale, ignore_errors=True)
            synth(env, target, root=root)
    return target
