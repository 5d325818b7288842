"""Benchmark dataset validation: the CLI and the Lambda step against a naive json.loads loop, and peak RSS.

Not a test: prints figures measured in one run on this machine.

1. Generates a dataset of valid records in the bedrock-conversation-2024 format for the first Amazon Nova
   model the catalog says is live today (``bft.catalog``; Amazon Nova Micro when this was written), under
   benchmarks/.data/ (``--size-mb``, default 200). Records average ~28 KB: a system prompt and 1-5
   exchanges, 30% of user turns with a pasted document of 1,000-4,000 words, 20% of records with non-ASCII
   text; the longest stays under Nova's 32,000-token estimate, and 200 MB is ~7,200 records, under its
   20,000-record limit, so the file is valid under every rule. Then times, over that file:

   - naive: ``for line in f: json.loads(line)`` (text mode), no rule at all;
   - parse only: the validator's line splitting and orjson, no rule: the ceiling of any validator that
     parses every record with orjson;
   - CLI: the full-rule validator (``validate_paths``) as ``bft validate`` runs it in this virtualenv;
   - Lambda path: the same call in ``python -I -S`` (no site-packages, no PYTHONPATH) whose only path is a
     package layer's ``python/`` folder: what the validate function imports in AWS. The synthesized layer
     carries orjson's ARM_64 (aarch64) build, which loads only on an ARM_64 machine; elsewhere the layer is
     built with the same bundling code (``stacks.constructs.functions.bundle_layer``: src/bft, the pinned
     SDK, the orjson wheel unpacked) from the wheel of the same orjson version for this machine, fetched once
     by pip with requirements.lock's hashes into benchmarks/.data/wheels. Reading the file from S3 instead of
     a disk is the one difference from the deployed step (``bft.dataset.s3`` feeds the same validator);
   - Lambda path without orjson: the same layer run with the standard-library parser, as the layer ran
     before it shipped orjson (for comparison).

   Each runs ``--repeat`` times, interleaved, and the best CPU time of each counts (CPU, not wall, time: the
   machine may be shared; the Lambda path's is measured inside its interpreter, around the same call). The
   ratios validator/naive (goal >= 2) and Lambda path/CLI (goal >= 0.9) are printed.
2. Runs ``bft validate`` on a ~1 GB file (``--rss-size-mb``) in a subprocess and reads its peak RSS
   (VmHWM, which it reads from /proc as it exits), which must be <= 100 MB, then the same command on a
   40-record file: the difference is what the data costs, and shows memory is flat in file size.

Exit status 1 if a goal or bound is missed. Generated files are reused between runs.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import orjson

from bft.catalog import catalog
from bft.dataset import iter_lines, read_chunks, validate_paths
from bft.dataset.parsing import dumps

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(__file__).resolve().parent / ".data"
FORMAT = "bedrock-conversation-2024"
MB = 1_000_000
MAX_RSS_MB = 100
VALIDATOR_GOAL = 2.0  # full-rule validation against the naive loop
LAMBDA_GOAL = 0.9  # the Lambda path against the CLI
_ENGLISH_WORDS = (
    "the a to of and in is for on that with your order account invoice refund shipping delivery item "
    "customer support agent policy days within return window damaged replacement ticket please confirm "
    "number thank you waiting escalated request billing team payment card address update status tracking "
    "warehouse carrier estimate week business subscription plan renewal cancel charge credit balance"
)
ENGLISH = _ENGLISH_WORDS.split()
# Non-ASCII mix by record: 12% Latin accents (1-byte strings in CPython), 5% typographic
# quotes and dashes and 2% CJK (2-byte), 1% emoji (4-byte); the rest is ASCII.
LATIN = ["résumé", "naïve", "café", "déjà", "Zürich", "São", "año", "façade"]
TYPOGRAPHIC = ["\u201cquoted\u201d", "it\u2019s", "\u2014", "\u2026"]
CJK = ["東京", "データ", "注文", "返品", "ありがとう", "ございます", "配送"]
EMOJI = ["👍", "✅", "🙂"]


def nova_model() -> str:
    """The first Amazon model of the bedrock-conversation-2024 format the catalog says is live today."""
    cat, today = catalog(), datetime.now(UTC).date()
    for model in cat.models:
        if (
            model.provider == "Amazon"
            and cat.families[model.family].data_format == FORMAT
            and any(model.live(region, today) for region in model.regions)
        ):
            return model.model_id
    raise SystemExit(f"the catalog has no Amazon model of the {FORMAT} format live on {today}")


def _text(rng: random.Random, words: int, extra: list[str] | None) -> str:
    chosen = rng.choices(ENGLISH, k=max(1, words))
    if extra:
        for _ in range(max(1, words // 12)):
            chosen[rng.randrange(len(chosen))] = rng.choice(extra)
    # Paragraphs and the odd "Note:" so newlines and colons appear as in real data.
    for _ in range(words // 80):
        chosen[rng.randrange(len(chosen))] += rng.choice([".\n\n", ".\nNote:", ","])
    return " ".join(chosen)


def _record(rng: random.Random, i: int) -> dict[str, object]:
    """One valid record, ~28 KB on average: a system prompt and 1-5 exchanges, some with a long document."""
    roll = rng.random()
    extra = (
        None if roll < 0.8 else LATIN if roll < 0.92 else TYPOGRAPHIC if roll < 0.97 else CJK if roll < 0.99 else EMOJI
    )
    turns = 2 * rng.randint(1, 5)
    messages = []
    for t in range(turns):
        if t % 2 == 0:
            words = int(rng.expovariate(1 / 300)) + 5
            if rng.random() < 0.3:  # a pasted document
                words += rng.randint(1_000, 4_000)
        else:
            words = int(rng.expovariate(1 / 250)) + 5
        text = f"#{i}.{t} " + _text(rng, words, extra)
        messages.append({"role": ("user", "assistant")[t % 2], "content": [{"text": text}]})
    record: dict[str, object] = {"schemaVersion": FORMAT}
    if rng.random() < 0.7:
        record["system"] = [
            {"text": "You are a support agent for Example Corp. " + _text(rng, rng.randint(20, 400), None)}
        ]
    record["messages"] = messages
    return record


def generate(path: Path, size_mb: int, seed: int = 1) -> None:
    """Write valid, distinct records until the file reaches ``size_mb`` MB (200 MB: ~7,200 records)."""
    if path.exists() and abs(path.stat().st_size - size_mb * MB) < MB:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    target = size_mb * MB
    written = 0
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        i = 0
        while written < target:
            line = dumps(_record(rng, i)) + b"\n"
            if len(line) > 90_000:  # keep every record under the 32,000-token estimate
                continue
            out.write(line)
            written += len(line)
            i += 1
    tmp.replace(path)


# CPU time of this process, not wall time: the figures then hold on a shared,
# busy machine (other load delays both loops but is not counted).
def naive(path: Path) -> float:
    start = time.process_time()
    with open(path, encoding="utf-8") as f:
        for line in f:
            json.loads(line)
    return time.process_time() - start


def parse_only(path: Path) -> float:
    """The validator's reading and splitting (LineBatches) and orjson, with the collector paused as it does."""
    loads = orjson.loads
    gc.disable()
    start = time.process_time()
    with open(path, "rb") as f:
        for batch in iter_lines(read_chunks(f)).batches():
            for line in batch:
                loads(line)
    elapsed = time.process_time() - start
    gc.enable()
    return elapsed


def full(model: str, path: Path) -> tuple[float, int, str]:
    start = time.process_time()
    report = validate_paths(model, path)
    elapsed = time.process_time() - start
    # Generated records are valid; only a file over ~550 MB breaks the record-count limit.
    assert not [e for e in report.errors if e.code != "too_many_records"], report.errors[:3]
    return elapsed, report.files[0].records, report.parser


LAMBDA_PROBE = """
import json, sys, time
sys.path.insert(0, {layer!r})
import bft
from bft.dataset import validate_paths
from bft.dataset.parsing import default_backend, stdlib_backend
backend = stdlib_backend() if {stdlib!r} else default_backend()
start = time.process_time()
report = validate_paths({model!r}, {path!r}, backend=backend)
elapsed = time.process_time() - start
orjson = sys.modules.get("orjson")
print(json.dumps({{"cpu": elapsed, "parser": report.parser, "errors": report.error_count, "bft": bft.__file__,
                  "orjson": getattr(orjson, "__file__", None)}}))
"""


def lambda_path(layer: Path, model: str, path: Path, *, stdlib: bool = False) -> float:
    """CPU seconds of validate_paths in ``python -I -S`` whose only path is the layer (its own measurement)."""
    code = LAMBDA_PROBE.format(layer=str(layer), model=model, path=str(path), stdlib=stdlib)
    done = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the Lambda path failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout)
    assert result["errors"] == 0, result
    assert result["bft"].startswith(str(layer)), result
    assert result["parser"] == ("json" if stdlib else "orjson"), result
    assert stdlib or result["orjson"].startswith(str(layer)), result
    return float(result["cpu"])


def _host_wheel() -> Path:
    """orjson's wheel for this machine, at the version the layer pins, hash-checked against requirements.lock."""
    folder = DATA_DIR / "wheels" / platform.machine()
    version = metadata.version("orjson")
    text = (ROOT / "requirements.lock").read_text().replace("\\\n", " ")
    match = re.search(r"^orjson==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)", text, re.MULTILINE)
    if match is None or match[1] != version:
        raise SystemExit(f"requirements.lock does not pin orjson {version}, the version this virtualenv runs")
    for found in sorted(folder.glob(f"orjson-{version}-*.whl")):  # fetched by an earlier run
        if hashlib.sha256(found.read_bytes()).hexdigest() in match[2]:
            return found
        found.unlink()
    lock = DATA_DIR / "wheels" / "orjson.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(f"orjson=={version}{match[2]}\n")
    print(f"fetching orjson {version}'s wheel for {platform.machine()} (once, into {folder}) ...", flush=True)
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"]
    subprocess.run([*pip, "--only-binary=:all:", "--require-hashes", "-r", str(lock), "-d", str(folder)], check=True)
    (wheel,) = folder.glob(f"orjson-{version}-*.whl")
    return wheel


def lambda_layer() -> tuple[Path, str]:
    """A layer's python/ folder this machine can run, and what it is, built by a child process: the bundling
    code imports the CDK (100 MB), and a child's peak RSS, read below, counts its parent's memory at fork."""
    done = subprocess.run(
        [sys.executable, __file__, "--build-layer"], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if done.returncode != 0:
        raise SystemExit(f"building the Lambda path's layer failed:\n{done.stderr[-3000:]}")
    built = json.loads(done.stdout.splitlines()[-1])
    return Path(built["python"]), str(built["what"])


def build_layer() -> tuple[Path, str]:
    sys.path.insert(0, str(ROOT))  # the CDK app's packages (stacks/), as app.py has them
    from stacks.constructs.functions import LayerWheel, bundle_layer, layer_wheels

    (pinned,) = layer_wheels()  # LayerWheelError: run `make setup`
    native = platform.machine() in ("aarch64", "arm64") and sys.version_info[:2] == (3, 13)
    if native:
        wheel, what = pinned, f"the functions' layer, bundled as synthesis does ({pinned.path.name})"
    else:
        path = _host_wheel()
        wheel = LayerWheel("orjson", pinned.version, path, hashlib.sha256(path.read_bytes()).hexdigest())
        what = (
            f"the functions' layer rebuilt for {platform.machine()} by the same bundling code ({path.name}; "
            f"the deployed layer has {pinned.path.name}, which cannot load here)"
        )
    folder = DATA_DIR / f"lambda-layer-{platform.machine()}"
    shutil.rmtree(folder, ignore_errors=True)
    bundle_layer(folder / "python", [wheel])
    return folder / "python", what


def warm(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


# ``bft validate`` as its console script runs it, reporting its own peak RSS on exit. VmHWM is the high-water
# mark of this program's memory alone: a child's getrusage() maxrss would also count its parent's memory at
# fork (this process's, with its generated records and loops), hiding what the validation costs.
RSS_PROBE = """
import re, sys
from bft.cli import main
code = main(sys.argv[1:])
peak = re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read())
print("peak_kib", peak[1], file=sys.stderr)
raise SystemExit(code)
"""


def rss_of_cli(model: str, path: Path) -> tuple[float, float, int]:
    """Peak RSS (MB), wall seconds and exit code of ``bft validate PATH --base-model MODEL --json``."""
    start = time.perf_counter()
    command = [sys.executable, "-c", RSS_PROBE, "validate", str(path), "--base-model", model, "--json"]
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - start
    found = re.search(r"^peak_kib (\d+)$", done.stderr, re.MULTILINE)
    if found is None:
        raise SystemExit(f"bft validate did not report its peak RSS:\n{done.stderr[-3000:]}")
    return int(found[1]) * 1024 / MB, elapsed, done.returncode


def _goal(ratio: float, goal: float) -> str:
    return f"(goal >= {goal}) {'MET' if ratio >= goal else 'MISSED'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=200, help="throughput file size (default 200)")
    parser.add_argument("--rss-size-mb", type=int, default=1000, help="peak-RSS file size (default 1000)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each loop; the best counts (default 7)")
    parser.add_argument("--skip-rss", action="store_true", help="skip the peak-RSS run")
    parser.add_argument("--build-layer", action="store_true", help=argparse.SUPPRESS)  # lambda_layer()'s child
    args = parser.parse_args()
    if args.build_layer:
        python, what = build_layer()
        print(json.dumps({"python": str(python), "what": what}))
        return 0

    ok = True
    model = nova_model()
    path = DATA_DIR / f"nova-{args.size_mb}mb.jsonl"
    print(f"generating {path} ({model}, {FORMAT}) ...", flush=True)
    generate(path, args.size_mb)
    layer, layer_what = lambda_layer()
    size_mb = path.stat().st_size / MB
    warm(path)
    # Interleaved, best of each: other load on the machine hits every loop alike.
    runs: dict[str, list[float]] = {"naive": [], "parse": [], "cli": [], "lambda": [], "lambda_json": []}
    records, parser_name = 0, ""
    for _ in range(args.repeat):
        runs["naive"].append(naive(path))
        runs["parse"].append(parse_only(path))
        cpu, records, parser_name = full(model, path)
        runs["cli"].append(cpu)
        runs["lambda"].append(lambda_path(layer, model, path))
        runs["lambda_json"].append(lambda_path(layer, model, path, stdlib=True))
    best = {name: min(times) for name, times in runs.items()}
    rate = {name: size_mb / seconds for name, seconds in best.items()}
    validator_ratio = rate["cli"] / rate["naive"]
    lambda_ratio = rate["lambda"] / rate["cli"]
    print(f"file: {size_mb:,.1f} MB, {records:,} records (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    print(f"Lambda path: python -I -S with {layer_what}")
    print(f"naive json.loads loop:         {rate['naive']:8.1f} MB/s  ({best['naive']:.2f} s)")
    print(f"parse only (orjson, no rule):  {rate['parse']:8.1f} MB/s  ({best['parse']:.2f} s)")
    print(f"full-rule validator, CLI:      {rate['cli']:8.1f} MB/s  ({best['cli']:.2f} s, {parser_name})")
    print(f"full-rule validator, Lambda:   {rate['lambda']:8.1f} MB/s  ({best['lambda']:.2f} s, orjson from the layer)")
    print(f"  the same without orjson:     {rate['lambda_json']:8.1f} MB/s  ({best['lambda_json']:.2f} s, stdlib json)")
    print(f"ratio parse only/naive:        {rate['parse'] / rate['naive']:8.2f}  (the most any rule set could reach)")
    print(f"ratio validator/naive:         {validator_ratio:8.2f}  {_goal(validator_ratio, VALIDATOR_GOAL)}")
    print(f"ratio Lambda path/CLI:         {lambda_ratio:8.2f}  {_goal(lambda_ratio, LAMBDA_GOAL)}")
    ok = ok and validator_ratio >= VALIDATOR_GOAL and lambda_ratio >= LAMBDA_GOAL

    if not args.skip_rss:
        big = DATA_DIR / f"nova-{args.rss_size_mb}mb.jsonl"
        print(f"generating {big} ...", flush=True)
        generate(big, args.rss_size_mb, seed=2)
        warm(big)
        peak_mb, elapsed, code = rss_of_cli(model, big)
        small = DATA_DIR / "nova-40-records.jsonl"
        small.write_bytes(b"".join(dumps(_record(random.Random(3), i)) + b"\n" for i in range(40)))
        base_mb, _, _ = rss_of_cli(model, small)
        big_mb = big.stat().st_size / MB
        why = " (the file breaks the 20,000-record limit)" if code == 1 else ""
        print(
            f"bft validate on {big_mb:,.0f} MB: peak RSS {peak_mb:.1f} MB (must be <= {MAX_RSS_MB}) "
            f"{'OK' if peak_mb <= MAX_RSS_MB else 'FAIL'}; {elapsed:.1f} s wall, exit {code}{why}"
        )
        print(
            f"bft validate on 40 records: peak RSS {base_mb:.1f} MB (interpreter and imports); "
            f"growth with {big_mb:,.0f} MB of data: {peak_mb - base_mb:+.1f} MB"
        )
        ok = ok and peak_mb <= MAX_RSS_MB
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
