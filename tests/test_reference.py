"""The API reference (docs/api.md) builds from the docstrings with Sphinx, warnings as errors,
and documents every public name.

Building needs the ``docs`` extra (Sphinx, MyST). Without it these tests are skipped, except
when ``CI=true``: there they fail. The lowest-versions run installs only ``[test]`` and leaves
them out (``-m "not docs"``).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

import flask_stackone
from flask_stackone import StackOneClient, errors

ROOT = Path(__file__).resolve().parent.parent


def require_sphinx() -> None:
    missing = [name for name in ("sphinx", "myst_parser") if importlib.util.find_spec(name) is None]
    if not missing:
        return
    why = f"the docs extra is not installed (no {', '.join(missing)}): pip install -e '.[docs]'"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{why} (CI=true: the reference must be built)", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML docs, built once by ``python -m sphinx -W --keep-going``."""
    require_sphinx()
    out = tmp_path_factory.mktemp("html")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [*command, "-d", str(out / ".doctrees"), str(ROOT / "docs"), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stderr}{result.stdout}"
    return out


def inventory(built: Path) -> dict[str, tuple[str, str]]:
    """The Python objects in Sphinx's ``objects.inv``: name -> (role, page)."""
    data = (built / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):  # "# Sphinx inventory version 2", project, version, "zlib" line
        header_end = data.index(b"\n", header_end) + 1
    found = {}
    for line in zlib.decompress(data[header_end:]).decode("utf-8").splitlines():
        match = re.match(r"(?P<name>\S+)\s+(?P<role>py:\w+)\s+-?\d+\s+(?P<uri>\S*)", line)
        if match:
            found[match["name"]] = (match["role"], match["uri"].partition("#")[0])
    return found


@pytest.mark.docs
def test_the_docs_build_with_warnings_as_errors(built: Path) -> None:
    for page in ["index", "api", "quickstart", "signals", "testing"]:
        assert (built / f"{page}.html").is_file(), page
    index = (built / "index.html").read_text(encoding="utf-8")
    assert 'href="api.html"' in index


@pytest.mark.docs
def test_every_public_name_is_in_the_reference(built: Path) -> None:
    documented = inventory(built)
    missing = [
        name
        for name in flask_stackone.__all__
        if documented.get(f"flask_stackone.{name}", ("", ""))[1] != "api.html"
    ]
    assert not missing, f"not in docs/api.md: {missing}"
    assert documented["flask_stackone.errors"][0] == "py:module"
    missing = [
        name
        for name in errors.__all__
        if f"flask_stackone.errors.{name}" not in documented
        and f"flask_stackone.{name}" not in documented
    ]
    assert not missing, f"exceptions not in docs/api.md: {missing}"


@pytest.mark.docs
def test_models_fields_and_client_methods_are_in_the_reference(built: Path) -> None:
    documented = inventory(built)
    for model in ("Account", "StatusReason", "AccountEvent", "ConnectSession", "Owner"):
        cls = getattr(flask_stackone, model)
        for field in cls.__dataclass_fields__:
            assert f"flask_stackone.{model}.{field}" in documented, f"{model}.{field}"
        assert f"flask_stackone.{model}.to_dict" in documented
    for method in public_methods(StackOneClient):
        assert f"flask_stackone.StackOneClient.{method}" in documented, method
    api = (built / "api.html").read_text(encoding="utf-8")
    assert "NotFoundError" in api and "provider_name" in api


def public_methods(cls: type) -> list[str]:
    return [name for name, _ in inspect.getmembers(cls, inspect.isfunction) if name[0] != "_"]


def test_each_client_call_says_what_it_raises() -> None:
    for name in public_methods(StackOneClient):
        if name == "close":
            continue
        doc = inspect.getdoc(getattr(StackOneClient, name)) or ""
        assert ":raises StackOneError:" in doc, f"StackOneClient.{name} does not say"
    assert ":raises NotFoundError:" in (inspect.getdoc(StackOneClient.get_account) or "")
