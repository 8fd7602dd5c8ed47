"""The ``flask stackone`` group comes with the installed package (Flask's ``flask.commands``
entry point): in a fresh virtual environment holding only the wheel and its dependencies,
an app that never registers the blueprint still has ``flask stackone hub install``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flask_stackone.core.hub_script import HUB_VERSION

ROOT = Path(__file__).resolve().parent.parent
#: Each step's bound: building, installing from the package index, npm fetching the Hub.
STEP_TIMEOUT = 600

BARE_APP = """
from flask import Flask

app = Flask(__name__)  # no StackOne blueprint registered
"""

pytestmark = pytest.mark.slow


def run(*argv: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(  # noqa: S603 - our own commands
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment (no system site-packages) with the wheel built from this tree."""
    where = tmp_path_factory.mktemp("installed")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", where / "dist", ROOT,
        cwd=where)  # fmt: skip
    [wheel] = (where / "dist").glob("flask_stackone-*.whl")
    run(sys.executable, "-m", "venv", where / "venv", cwd=where)
    python = where / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", wheel, cwd=where)
    return where / "venv"


def flask_env(hub_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACKONE_", "FLASK_"))}
    env.pop("PYTHONPATH", None)  # the installed wheel, not this tree
    env["STACKONE_HUB_DIR"] = str(hub_dir)
    return env


def test_hub_install_works_in_an_app_without_the_blueprint(venv: Path, tmp_path: Path) -> None:
    (tmp_path / "bareapp.py").write_text(BARE_APP)
    flask = venv / "bin" / "flask"
    env = flask_env(tmp_path / "hub")
    location = "import flask_stackone; print(flask_stackone.__file__)"
    where = run(venv / "bin" / "python", "-c", location, cwd=tmp_path, env=env)
    assert str(venv) in where  # the wheel's copy
    out = run(flask, "--app", "bareapp", "stackone", "hub", "install", cwd=tmp_path, env=env)
    assert f"@stackone/hub {HUB_VERSION} installed (sha256 verified)" in out
    assert (tmp_path / "hub" / HUB_VERSION / "webcomponent.js").is_file()
    status = run(flask, "--app", "bareapp", "stackone", "hub", "status", cwd=tmp_path, env=env)
    assert "installed, verified" in status


def test_commands_that_need_the_blueprint_name_it(venv: Path, tmp_path: Path) -> None:
    (tmp_path / "bareapp.py").write_text(BARE_APP)
    done = subprocess.run(  # noqa: S603 - our own command
        [venv / "bin" / "flask", "--app", "bareapp", "stackone", "accounts", "list"],
        cwd=tmp_path, env=flask_env(tmp_path / "hub"), capture_output=True, text=True,
        timeout=STEP_TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "blueprint 'stackone' is not registered" in done.stderr
    assert "Traceback" not in done.stderr
