"""Measure a rendered report in a real headless browser (Debian's Chromium): does it fit an A4 page's width,
and how many pages does it print on. No Python dependency: the page is copied with a measuring script appended,
Chromium dumps the DOM after running it, and the measurement is read back from an attribute.

The report itself carries no script (it must open offline and inert); only the copy measured here does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# A4 at 96 CSS pixels an inch: 210 mm x 297 mm.
A4_WIDTH_PX, A4_HEIGHT_PX = 794, 1123
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
REQUIRE_VARIABLE = "BFT_REQUIRE_BROWSER"
_TIMEOUT_S = 120

# Runs when the parser reaches it, at the end of <body>: reading layout properties forces layout, so the numbers
# are those of the finished page. Every element whose right edge passes the viewport counts as overflowing.
_MEASURE = """<script>
(() => {
  const root = document.documentElement;
  const tables = [...document.querySelectorAll("table")].map((t) => t.getBoundingClientRect().width);
  const over = [...document.body.querySelectorAll("*")].filter(
    (e) => e.getBoundingClientRect().right > root.clientWidth + 0.5).length;
  root.setAttribute("data-measure", JSON.stringify({
    scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
    widestTable: Math.max(0, ...tables), overflowing: over}));
})();
</script>"""


@dataclass(frozen=True)
class Layout:
    scroll_width: int
    client_width: int
    widest_table: float
    overflowing: int  # elements whose right edge is past the viewport

    @property
    def fits(self) -> bool:
        return (
            self.scroll_width <= self.client_width and self.widest_table <= self.client_width and not self.overflowing
        )


def find_browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_required() -> bool:
    return os.environ.get(REQUIRE_VARIABLE) == "1"


def _run(browser: str, workdir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    profile = workdir / "chromium-profile"  # its own profile: runs by others on this machine do not share one
    command = [
        browser,
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        f"--user-data-dir={profile}",
        *arguments,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT_S, check=True)


def measure(page: str, workdir: Path, browser: str) -> Layout:
    """The layout of ``page`` in a window as wide as an A4 page."""
    copy = workdir / "measured.html"
    copy.write_text(page.replace("</body>", _MEASURE + "</body>", 1), encoding="utf-8")
    done = _run(browser, workdir, f"--window-size={A4_WIDTH_PX},{A4_HEIGHT_PX}", "--dump-dom", copy.as_uri())
    found = re.search(r'data-measure="([^"]*)"', done.stdout)
    if found is None:
        raise AssertionError(f"Chromium dumped no measurement: {done.stdout[:300]!r} {done.stderr[-500:]!r}")
    values = json.loads(found.group(1).replace("&quot;", '"'))
    return Layout(values["scrollWidth"], values["clientWidth"], float(values["widestTable"]), values["overflowing"])


def printed_pages(page: str, workdir: Path, browser: str) -> int:
    """How many pages Chromium prints ``page`` on (the page's own @page size, no header or footer)."""
    source, pdf = workdir / "printed.html", workdir / "printed.pdf"
    source.write_text(page, encoding="utf-8")
    _run(browser, workdir, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", source.as_uri())
    return pdf_pages(pdf.read_bytes())


def pdf_pages(pdf: bytes) -> int:
    """Page objects in a PDF (``/Type /Page``, not the ``/Pages`` tree nodes)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
