"""``python -m flask_stackone``: the tools that need no Flask app, run as a user runs them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from flask_stackone.__about__ import __version__
from flask_stackone.core import hub_script
from flask_stackone.core.hub_script import HUB_VERSION, PACKAGE, hub_dir

from .browser import require_hub_script


def main(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACKONE_", "FLASK_"))}
    return subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "flask_stackone", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    result = main("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"flask-stackone, version {__version__}"


def test_help_lists_hub_install_and_status(tmp_path: Path) -> None:
    result = main("hub", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "install" in result.stdout and "status" in result.stdout
    assert "Usage: python -m flask_stackone hub" in result.stdout


def test_hub_status_of_an_empty_folder_exits_1_and_says_how_to_install(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    result = main("hub", "status", "--dir", str(empty), cwd=tmp_path)
    assert result.returncode == 1
    assert f"pinned:      {PACKAGE} {HUB_VERSION}" in result.stdout
    assert f"{hub_dir(empty, HUB_VERSION)} (not installed)" in result.stdout
    assert result.stderr.strip().splitlines() == [
        "Error: the widget has no Hub script: run `flask stackone hub install` or set "
        "STACKONE_HUB_SCRIPT_URL"
    ]
    assert "Traceback" not in result.stderr


def test_hub_status_of_an_installed_folder_exits_0(tmp_path: Path) -> None:
    """A folder holding the pinned script (copied from this machine's cache) is verified."""
    require_hub_script()  # skipped without it, except in CI
    installed = hub_script.read_verified(None, HUB_VERSION)
    assert installed is not None
    script, gzipped = installed
    assert hashlib.sha256(script).hexdigest() == hub_script.PINS[HUB_VERSION].sha256
    folder = hub_dir(tmp_path / "cache", HUB_VERSION)
    folder.mkdir(parents=True)
    (folder / hub_script.SCRIPT_NAME).write_bytes(script)
    (folder / hub_script.GZIP_NAME).write_bytes(gzipped)
    result = main("hub", "status", "--dir", str(tmp_path / "cache"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{folder} (installed, verified)" in result.stdout
    assert result.stderr == ""


def test_hub_status_with_a_cdn_url_exits_0(tmp_path: Path) -> None:
    url = "https://cdn.example.test/hub.js"
    result = main("hub", "status", "--dir", str(tmp_path), "--script-url", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"CDN URL:     {url}" in result.stdout
