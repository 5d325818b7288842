"""Benchmark dataset validation: throughput against a naive json.loads loop, and peak RSS.

Not a test: prints figures measured in one run on this machine.

1. Generates a Claude 3 Haiku dataset of valid records (``--size-mb``, default
   200) under benchmarks/.data/ and times, over the same file, a naive loop
   (``for line in f: json.loads(line)``, text mode) and the full-rule validator
   (``validate_paths``). Records average ~27 KB (a system prompt, 1-5 exchanges,
   some with a pasted document), so 200 MB is ~7,300 records: a dataset that is
   valid under every rule, the 10,000-record limit included; 20% of the records
   carry non-ASCII text. Each loop runs ``--repeat`` times, interleaved, and the
   best CPU time of each counts (CPU, not wall, time: the machine may be shared).
   The ratio validator/naive throughput must be >= 1.0.
2. Runs ``bft validate`` on a ~1 GB file (``--rss-size-mb``) in a subprocess and
   reads its peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``), which must be
   <= 100 MB, then the same command on a 40-record file: the difference is what
   the data costs, and shows memory is flat in file size.

Exit status 1 if either bound is missed. Generated files are reused between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from bft.dataset import validate_paths
from bft.dataset.parsing import dumps

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
DATA_DIR = Path(__file__).resolve().parent / ".data"
MB = 1_000_000
MAX_RSS_MB = 100
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
    """One valid record, ~20 KB on average: a system prompt and 1-5 exchanges, some with a long document."""
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
        messages.append({"role": ("user", "assistant")[t % 2], "content": f"#{i}.{t} " + _text(rng, words, extra)})
    record: dict[str, object] = {"messages": messages}
    if rng.random() < 0.7:
        record["system"] = "You are a support agent for Example Corp. " + _text(rng, rng.randint(20, 400), None)
    return record


def generate(path: Path, size_mb: int, seed: int = 1) -> None:
    """Write valid, distinct Haiku records (~20 KB each) until the file reaches ``size_mb`` MB.

    200 MB is about 9,800 records: under Claude 3 Haiku's 10,000-record limit, so
    the file is a realistic valid dataset (larger files break only that limit).
    """
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


def full(path: Path) -> tuple[float, int]:
    start = time.process_time()
    report = validate_paths(HAIKU, path)
    elapsed = time.process_time() - start
    # Generated records are valid; only a file over ~205 MB breaks the record-count limit.
    assert not [e for e in report.errors if e.code != "too_many_records"], report.errors[:3]
    return elapsed, report.files[0].records


def warm(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def _cli() -> list[str]:
    bft = Path(sys.executable).with_name("bft")
    return [str(bft)] if bft.exists() else [sys.executable, "-m", "bft.cli"]


def peak_rss_of_cli(path: Path) -> tuple[float, float, int]:
    """Peak RSS (MB), wall seconds and exit code of ``bft validate PATH --json`` (the first child)."""
    start = time.perf_counter()
    done = subprocess.run([*_cli(), "validate", str(path), "--json"], stdout=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return peak_kib * 1024 / MB, elapsed, done.returncode


def baseline_rss_of_cli(tmp: Path) -> float:
    """Peak RSS (MB) of ``bft validate`` on a 40-record file: interpreter and imports, no data."""
    tmp.write_bytes(b"".join(dumps(_record(random.Random(3), i)) + b"\n" for i in range(40)))
    child = subprocess.Popen([*_cli(), "validate", str(tmp), "--json"], stdout=subprocess.DEVNULL)
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0  # reaped by wait4
    return usage.ru_maxrss * 1024 / MB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=200, help="throughput file size (default 200)")
    parser.add_argument("--rss-size-mb", type=int, default=1000, help="peak-RSS file size (default 1000)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each loop; the best counts (default 7)")
    parser.add_argument("--skip-rss", action="store_true", help="skip the peak-RSS run")
    args = parser.parse_args()

    ok = True
    path = DATA_DIR / f"haiku-{args.size_mb}mb.jsonl"
    print(f"generating {path} ...", flush=True)
    generate(path, args.size_mb)
    size_mb = path.stat().st_size / MB
    warm(path)
    # Interleaved, best of each: other load on the machine hits both loops alike.
    naive_runs, full_runs = [], []
    for _ in range(args.repeat):
        naive_runs.append(naive(path))
        full_runs.append(full(path))
    naive_s = min(naive_runs)
    full_s, records = min(full_runs)
    ratio = naive_s / full_s
    print(f"file: {size_mb:,.1f} MB, {records:,} records (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    print(f"naive json.loads loop:   {size_mb / naive_s:8.1f} MB/s  ({naive_s:.2f} s)")
    print(f"full-rule validator:     {size_mb / full_s:8.1f} MB/s  ({full_s:.2f} s)")
    print(f"ratio validator/naive:   {ratio:8.2f}  (must be >= 1.0) {'OK' if ratio >= 1.0 else 'FAIL'}")
    ok = ok and ratio >= 1.0

    if not args.skip_rss:
        big = DATA_DIR / f"haiku-{args.rss_size_mb}mb.jsonl"
        print(f"generating {big} ...", flush=True)
        generate(big, args.rss_size_mb, seed=2)
        warm(big)
        peak_mb, elapsed, code = peak_rss_of_cli(big)
        base_mb = baseline_rss_of_cli(DATA_DIR / "haiku-40-records.jsonl")
        big_mb = big.stat().st_size / MB
        why = " (the file breaks the 10,000-record limit)" if code == 1 else ""
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
