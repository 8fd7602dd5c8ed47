"""The CSS frameworks host apps load (Bootstrap 5.3, Tailwind 3's preflight, Pico 2), fetched
with npm into a cache folder once, never committed.

``framework_css()`` returns ``{name: style sheet text}``; without npm (or when it fails) the
test is skipped locally and failed with ``CI=true``, like the browser tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .browser import unavailable

CACHE = Path(
    os.environ.get("FLASK_STACKONE_CSS_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "flask-stackone"
    / "css-frameworks"
)
PACKAGES = ["bootstrap@5.3", "tailwindcss@3", "@picocss/pico@2"]
FILES = {
    "bootstrap": "node_modules/bootstrap/dist/css/bootstrap.min.css",
    "tailwind": "tailwind-preflight.css",
    "pico": "node_modules/@picocss/pico/css/pico.min.css",
}


def _run(command: list[str]) -> None:
    done = subprocess.run(  # noqa: S603 - fixed commands, no shell
        command, cwd=CACHE, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        unavailable(f"{' '.join(command[:3])} failed: {done.stderr.strip()[-400:]}")


def _install() -> None:
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        unavailable("npm and node are needed to fetch the CSS frameworks (apt-get install npm)")
    assert npm is not None and node is not None
    CACHE.mkdir(parents=True, exist_ok=True)
    _run([npm, "install", "--prefix", str(CACHE), "--no-audit", "--no-fund", *PACKAGES])
    # Tailwind's preflight as a page gets it: built by Tailwind's own CLI from `@tailwind base`.
    (CACHE / "preflight-input.css").write_text("@tailwind base;\n")
    (CACHE / "preflight-content.html").write_text("<p></p>\n")
    cli = CACHE / "node_modules" / "tailwindcss" / "lib" / "cli.js"
    _run([node, str(cli), "-i", "preflight-input.css", "-o", FILES["tailwind"],
          "--content", "preflight-content.html"])  # fmt: skip


def framework_css() -> dict[str, str]:
    """Each framework's style sheet, installed on first use."""
    if not all((CACHE / path).is_file() for path in FILES.values()):
        _install()
    return {name: (CACHE / path).read_text(encoding="utf-8") for name, path in FILES.items()}
