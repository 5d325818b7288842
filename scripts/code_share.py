"""How much of the code is the offline twin, against the product it proves (issue: the twin as a layer).

Counts source lines that are neither blank nor comment-only, in Python files:
  product: src/bft, lambda/, stacks/, app.py -- what deploys and what teams run;
  twin:    src/bft_twin -- moto wiring, the Bedrock fake, the offline IAM, the runner, the demo.
Tests are not counted on either side.

    .venv/bin/python scripts/code_share.py
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lines(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                total += 1
    return total


def main() -> None:
    twin = sorted((ROOT / "src" / "bft_twin").rglob("*.py"))
    sources = [
        *(ROOT / "src" / "bft").rglob("*.py"),
        *(ROOT / "lambda").rglob("*.py"),
        *(ROOT / "stacks").rglob("*.py"),
    ]
    product = [*sorted(sources), ROOT / "app.py"]
    product_lines, twin_lines = lines(product), lines(twin)
    share = twin_lines / (product_lines + twin_lines)
    print(f"product: {product_lines:,} lines in {len(product)} files")
    print(f"twin:    {twin_lines:,} lines in {len(twin)} files")
    print(f"twin share of the code: {share:.1%} (twin/product ratio {twin_lines / product_lines:.2f})")


if __name__ == "__main__":
    main()
