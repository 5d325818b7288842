"""Write the committed sample dataset: data/sample/{train,validation,evaluation}.jsonl (Bedrock's conversation
format: Amazon Nova, Nova 2 Lite, Llama 3.3), and the same records in the other families' formats under
data/sample/prompt-completion/ (Llama 3.1) and data/sample/anthropic-messages/ (Claude 3 Haiku, past its end of
life: the starting point of a migration).

Synthetic comment-moderation records (one label per forum comment) from the seeded generator in
``bft.sample_data``, with the split sizes `bft local-run` uploads, so the committed files are the
demo's data byte for byte. Deterministic: a second run rewrites the same bytes, and
tests/unit/test_report_html.py fails if the committed files drift from what this script writes.

    .venv/bin/python scripts/make_sample_data.py [--out DIR]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from bft.sample_data import Format, write_splits

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "data" / "sample"
# Llama needs at least 100 training records; a few hundred keeps the files small and reviewable.
SIZES = {"training": 400, "validation": 60, "evaluation": 80}
# Format -> sub-directory of the output: the format of today's models at the top.
FOLDERS: dict[Format, str] = {
    "bedrock-conversation-2024": "",
    "prompt-completion": "prompt-completion",
    "anthropic-messages": "anthropic-messages",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the deterministic sample dataset.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    for data_format, folder in FOLDERS.items():
        for name, path in write_splits(args.out / folder, **SIZES, data_format=data_format).items():
            lines = path.read_text(encoding="utf-8").count("\n")
            print(f"{data_format} {name}: {path} ({lines} records, {path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
