"""Installing, verifying and serving the pinned Hub script (core/hub_script.py,
widget/assets.py).

npm is replaced by a small executable that records how it was called and writes a real
npm-style tarball, so the installer's subprocess, tar and hash code all run for real.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
from flask import Flask

import flask_stackone
from flask_stackone.core import hub_script as hub_assets
from flask_stackone.core.hub_script import (
    HUB_VERSION,
    PINS,
    HubInstallError,
    HubIntegrityError,
    HubPin,
    NpmNotFoundError,
    install,
    script_source,
)

from .conftest import build_app

FAKE_VERSION = "0.0.0-test"
FAKE_SCRIPT = (
    b"/* fake hub */ customElements.define('x-fake', class extends HTMLElement {});\n" * 50
)

FAKE_NPM = """#!{python}
import json, os, sys, tarfile, io
with open(os.environ["FAKE_NPM_LOG"], "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd()}}) + "\\n")
if os.environ.get("FAKE_NPM_EXIT"):
    sys.stderr.write("npm error 404 Not Found - GET @stackone/hub\\n")
    sys.exit(int(os.environ["FAKE_NPM_EXIT"]))
spec = sys.argv[2]
name = spec.rsplit("@", 1)[0].lstrip("@").replace("/", "-") + "-" + spec.rsplit("@", 1)[1]
with tarfile.open(name + ".tgz", "w:gz") as tar:
    def add(path, data):
        info = tarfile.TarInfo(path)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    add("package/package.json", b'{{"name": "@stackone/hub"}}')
    source = os.environ.get("FAKE_NPM_SOURCE")
    if source:
        add("package/dist/webcomponent.js", open(source, "rb").read())
print(name + ".tgz")
"""


def sri(data: bytes) -> str:
    import base64

    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@pytest.fixture
def npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A fake ``npm`` first on PATH; ``calls()`` lists its invocations."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "npm"
    script.write_text(FAKE_NPM.format(python=sys.executable))
    script.chmod(0o755)
    source = tmp_path / "served.js"
    source.write_bytes(FAKE_SCRIPT)
    log = tmp_path / "npm.log"
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_NPM_LOG", str(log))
    monkeypatch.setenv("FAKE_NPM_SOURCE", str(source))
    monkeypatch.delenv("FAKE_NPM_EXIT", raising=False)
    return {"source": source, "log": log, "root": tmp_path / "cache"}


def calls(npm: dict[str, Path]) -> list[dict]:
    if not npm["log"].exists():
        return []
    return [json.loads(line) for line in npm["log"].read_text().splitlines()]


@pytest.fixture
def fake_pin(monkeypatch: pytest.MonkeyPatch) -> HubPin:
    """Pin a test version whose bytes are :data:`FAKE_SCRIPT`."""
    pin = HubPin(
        FAKE_VERSION, len(FAKE_SCRIPT), hashlib.sha256(FAKE_SCRIPT).hexdigest(), sri(FAKE_SCRIPT)
    )
    monkeypatch.setitem(PINS, FAKE_VERSION, pin)
    return pin


# -- the pin ----------------------------------------------------------------------------------


def test_pinned_version_and_hashes_are_the_published_ones() -> None:
    pin = PINS[HUB_VERSION]
    assert HUB_VERSION == "1.11.4"
    assert pin.size == 1_212_755
    assert pin.sha256 == "050848c09fc444ac5c0c6c8ce5ddeeb34d0e26beaae179b82d2939a280b55041"
    assert (
        pin.integrity == "sha384-rpn1IheWieiWj9y+/Z5IV1lm+ivtKZ4NT+lUG7XyQ1SCqRHYMRoxC1bEQKScjgcx"
    )


def test_the_package_never_contains_the_hub_script() -> None:
    package = Path(flask_stackone.__file__).parent
    files = [p for p in package.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.startswith("webcomponent")]
    assert max(p.stat().st_size for p in files) < 100_000


# -- installing -------------------------------------------------------------------------------


def test_install_fetches_with_npm_pack_verifies_and_stores_both_copies(
    npm: dict[str, Path], fake_pin: HubPin
) -> None:
    path, fetched = install(FAKE_VERSION, npm["root"])

    assert fetched is True
    assert path == npm["root"] / FAKE_VERSION / "webcomponent.js"
    assert path.read_bytes() == FAKE_SCRIPT
    assert gzip.decompress((path.parent / "webcomponent.js.gz").read_bytes()) == FAKE_SCRIPT
    [call] = calls(npm)
    assert call["argv"][:2] == ["pack", f"@stackone/hub@{FAKE_VERSION}"]
    assert not any("registry" in arg for arg in call["argv"])  # npm's own configuration decides
    assert not Path(call["cwd"]).exists()  # a temporary folder, removed afterwards
    assert {p.name for p in path.parent.iterdir()} == {"webcomponent.js", "webcomponent.js.gz"}


def test_install_is_idempotent_and_force_fetches_again(
    npm: dict[str, Path], fake_pin: HubPin
) -> None:
    install(FAKE_VERSION, npm["root"])
    path, fetched = install(FAKE_VERSION, npm["root"])
    assert fetched is False
    assert len(calls(npm)) == 1
    _, fetched = install(FAKE_VERSION, npm["root"], force=True)
    assert fetched is True
    assert len(calls(npm)) == 2
    assert path.read_bytes() == FAKE_SCRIPT


def test_a_damaged_copy_is_fetched_again(npm: dict[str, Path], fake_pin: HubPin) -> None:
    path, _ = install(FAKE_VERSION, npm["root"])
    path.write_bytes(FAKE_SCRIPT.replace(b"fake", b"evil"))
    _, fetched = install(FAKE_VERSION, npm["root"])
    assert fetched is True
    assert path.read_bytes() == FAKE_SCRIPT


def test_a_hash_mismatch_is_refused_and_nothing_is_written(npm: dict[str, Path]) -> None:
    # The fake registry serves other bytes for the pinned 1.11.4.
    npm["source"].write_bytes(b"x" * PINS[HUB_VERSION].size)
    with pytest.raises(HubIntegrityError) as caught:
        install(HUB_VERSION, npm["root"])
    message = str(caught.value)
    assert "refusing @stackone/hub 1.11.4" in message
    assert PINS[HUB_VERSION].sha256 in message
    assert hashlib.sha256(b"x" * PINS[HUB_VERSION].size).hexdigest() in message
    assert not (npm["root"] / HUB_VERSION).exists()


def test_npm_missing_names_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_pin: HubPin
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm there
    with pytest.raises(NpmNotFoundError) as caught:
        install(FAKE_VERSION, tmp_path / "cache")
    assert "npm was not found" in str(caught.value)
    assert "flask stackone hub install" in str(caught.value)
    assert "STACKONE_HUB_SCRIPT_URL" in str(caught.value)


def test_npm_failing_is_reported_with_its_message(
    npm: dict[str, Path], fake_pin: HubPin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_EXIT", "1")
    with pytest.raises(HubInstallError, match="exit code 1: npm error 404 Not Found"):
        install(FAKE_VERSION, npm["root"])


def test_a_package_without_the_script_is_refused(
    npm: dict[str, Path], fake_pin: HubPin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_SOURCE", "")
    with pytest.raises(HubInstallError, match=r"has no dist/webcomponent\.js"):
        install(FAKE_VERSION, npm["root"])


def test_an_unpinned_version_is_refused_before_npm_runs(npm: dict[str, Path]) -> None:
    with pytest.raises(HubInstallError, match=r"9\.9\.9 is not pinned .*pinned: 1\.11\.4"):
        install("9.9.9", npm["root"])
    assert calls(npm) == []


def test_cache_folder_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STACKONE_HUB_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub_assets.hub_dir(None) == tmp_path / "xdg" / "flask-stackone" / "hub" / HUB_VERSION
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert hub_assets.hub_root(None) == tmp_path / "home" / ".cache" / "flask-stackone" / "hub"
    monkeypatch.setenv("STACKONE_HUB_DIR", str(tmp_path / "env"))
    assert hub_assets.hub_root(None) == tmp_path / "env"
    assert hub_assets.hub_root(tmp_path / "setting") == tmp_path / "setting"


# -- the command line -------------------------------------------------------------------------


def test_flask_command_installs_into_the_configured_folder(
    npm: dict[str, Path], fake_pin: HubPin
) -> None:
    app = build_app(STACKONE_HUB_DIR=str(npm["root"]))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["stackone", "hub", "install", "--version", FAKE_VERSION])
    assert result.exit_code == 0, result.output
    assert f"@stackone/hub {FAKE_VERSION} installed (sha256 verified)" in result.output
    again = runner.invoke(args=["stackone", "hub", "install", "--version", FAKE_VERSION])
    assert "already installed" in again.output
    assert (npm["root"] / FAKE_VERSION / "webcomponent.js").read_bytes() == FAKE_SCRIPT


def test_flask_command_without_npm_fails_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    app = build_app(STACKONE_HUB_DIR=str(tmp_path / "cache"))
    result = app.test_cli_runner().invoke(args=["stackone", "hub", "install"])
    assert result.exit_code == 1
    assert "npm was not found" in result.output
    assert "flask stackone hub install" in result.output
    assert "Traceback" not in result.output


def test_flask_status_command_says_where_the_script_comes_from(tmp_path: Path) -> None:
    app = build_app(STACKONE_HUB_DIR=str(tmp_path))
    result = app.test_cli_runner().invoke(args=["stackone", "hub", "status"])
    assert result.exit_code == 1
    assert "not installed" in result.output
    assert "flask stackone hub install" in result.output
    cdn = build_app(STACKONE_HUB_DIR=str(tmp_path), STACKONE_HUB_SCRIPT_URL="https://cdn.test/h.js")
    result = cdn.test_cli_runner().invoke(args=["stackone", "hub", "status"])
    assert result.exit_code == 0
    assert "https://cdn.test/h.js" in result.output


# -- serving ----------------------------------------------------------------------------------


@pytest.fixture
def served(npm: dict[str, Path], fake_pin: HubPin) -> Flask:
    install(FAKE_VERSION, npm["root"])
    return build_app(STACKONE_HUB_DIR=str(npm["root"]))


URL = f"/stackone/hub/{FAKE_VERSION}/webcomponent.js"


def test_serves_the_script_with_immutable_caching(served: Flask) -> None:
    response = served.test_client().get(URL)
    assert response.status_code == 200
    assert response.data == FAKE_SCRIPT
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in response.headers
    assert response.headers["ETag"].startswith('"')


def test_sends_the_gzip_copy_when_accepted(served: Flask) -> None:
    client = served.test_client()
    plain = client.get(URL)
    zipped = client.get(URL, headers={"Accept-Encoding": "br, gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert int(zipped.headers["Content-Length"]) == len(zipped.data) < len(FAKE_SCRIPT)
    assert gzip.decompress(zipped.data) == FAKE_SCRIPT
    assert zipped.headers["ETag"] != plain.headers["ETag"]  # one strong ETag per encoding
    refused = client.get(URL, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers
    assert refused.data == FAKE_SCRIPT


def test_answers_304_to_a_matching_etag(served: Flask) -> None:
    client = served.test_client()
    for headers in ({}, {"Accept-Encoding": "gzip"}):
        etag = client.get(URL, headers=headers).headers["ETag"]
        again = client.get(URL, headers={**headers, "If-None-Match": etag})
        assert again.status_code == 304
        assert again.data == b""
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    other = client.get(URL, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200
    assert other.data == FAKE_SCRIPT


def test_head_has_the_headers_and_no_body(served: Flask) -> None:
    response = served.test_client().head(URL, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["Content-Encoding"] == "gzip"


def test_missing_unknown_or_altered_script_is_not_served(
    served: Flask, npm: dict[str, Path], tmp_path: Path
) -> None:
    client = served.test_client()
    assert client.get("/stackone/hub/9.9.9/webcomponent.js").status_code == 404
    empty = build_app(STACKONE_HUB_DIR=str(tmp_path / "empty")).test_client()
    missing = empty.get(URL)
    assert missing.status_code == 404
    assert b"flask stackone hub install" in missing.data
    assert missing.headers["Cache-Control"] == "no-store"
    script = npm["root"] / FAKE_VERSION / "webcomponent.js"
    script.write_bytes(FAKE_SCRIPT.replace(b"fake", b"evil"))
    os.utime(script, ns=(1, 1))  # a new mtime: the copy in memory is re-checked
    assert client.get(URL).status_code == 404


# -- where a page loads it from -----------------------------------------------------------------

CDN_COPY = "https://cdn.example/@stackone/hub/dist/webcomponent.js"


def test_one_rule_picks_the_source_a_configured_cdn_copy_first(installed: Path) -> None:
    integrity = PINS[HUB_VERSION].integrity
    local = "/local/{}/webcomponent.js".format
    assert script_source(CDN_COPY, installed, local) == (CDN_COPY, integrity)
    assert script_source(None, installed, local) == (local(HUB_VERSION), integrity)
    assert script_source(None, installed / "none", local) is None


def test_the_plugin_and_the_sandbox_follow_the_same_rule(installed: Path, tmp_path: Path) -> None:
    from flask import render_template_string

    from flask_stackone.sandbox import assets as sandbox_assets
    from flask_stackone.sandbox import create_app, stop_deliveries

    from .test_widget import Elements

    plugin = build_app(STACKONE_HUB_DIR=str(installed), STACKONE_HUB_SCRIPT_URL=CDN_COPY)
    with plugin.test_request_context():
        [widget] = Elements(render_template_string("{{ stackone_hub() }}")).widgets()
    sandbox = create_app(
        {
            "SANDBOX_DB": str(tmp_path / "s.sqlite3"),
            "SANDBOX_HUB_DIR": str(installed),
            "SANDBOX_HUB_SCRIPT_URL": CDN_COPY,
        },
    )
    try:
        with sandbox.test_request_context():
            source = sandbox_assets.hub_source()
    finally:
        stop_deliveries(sandbox)
    assert widget["data-hub-src"] == CDN_COPY
    assert source == (CDN_COPY, PINS[HUB_VERSION].integrity)
