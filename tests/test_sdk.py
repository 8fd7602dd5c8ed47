"""StackOne's official TypeScript SDK (``@stackone/stackone-client-ts``, generated from
StackOne's OpenAPI spec, every answer checked with zod) drives the standalone sandbox: each
call it makes must come back valid.

The SDK is installed pinned with npm into the per-user cache (like the Hub script), never
into the repository. Without node and npm the test is skipped with a message, except in
CI (``CI=true``), where it fails.

One translation, in this test only: ``organization_id`` is a string in StackOne's current
spec and in the sandbox's answers; this SDK release still declares a number, so the Node
script turns that one field into a number before the SDK reads it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import requests

from .browser import unavailable
from .emulator import ROOT, emulator

PACKAGE = "@stackone/stackone-client-ts"
SDK_VERSION = "4.28.0"
#: The SDK asks for zod ^3.20; the version it was checked with is pinned too.
ZOD_VERSION = "3.25.76"
DRIVER = ROOT / "tests" / "sdk" / "drive.mjs"


def sdk_folder() -> Path:
    """``$XDG_CACHE_HOME/flask-stackone/sdk/stackone-client-ts-<version>`` (``~/.cache``)."""
    cache = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"
    return base / "flask-stackone" / "sdk" / f"stackone-client-ts-{SDK_VERSION}"


def installed_version(folder: Path) -> str | None:
    try:
        manifest = folder / "node_modules" / PACKAGE / "package.json"
        return json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None


@pytest.fixture(scope="module")
def sdk() -> Path:
    """The pinned SDK, installed with npm on first use."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        unavailable(
            "node and npm are needed to run StackOne's TypeScript SDK (apt-get install npm)"
        )
    assert node and npm
    major = subprocess.run(  # noqa: S603 - fixed arguments
        [node, "-p", "process.versions.node.split('.')[0]"],
        capture_output=True, text=True, timeout=30, check=False,
    ).stdout.strip()  # fmt: skip
    if not major.isdigit() or int(major) < 18:
        unavailable(f"Node.js 18 or later is needed (fetch), found {major or 'none'}")
    folder = sdk_folder()
    if installed_version(folder) == SDK_VERSION:
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".install-") as tmp:
        work = Path(tmp)
        manifest = {"private": True, "dependencies": {PACKAGE: SDK_VERSION, "zod": ZOD_VERSION}}
        (work / "package.json").write_text(json.dumps(manifest), encoding="utf-8")
        done = subprocess.run(  # noqa: S603 - fixed arguments
            [npm, "install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=work, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        if done.returncode != 0 or installed_version(work) != SDK_VERSION:
            unavailable(f"npm could not install {PACKAGE}@{SDK_VERSION}: {done.stderr[-500:]}")
        shutil.rmtree(folder, ignore_errors=True)
        work.rename(folder)
    return folder


def drive(sdk: Path, base_url: str, api_key: str) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [shutil.which("node") or "node", str(DRIVER)],
        env={**os.environ, "SDK_DIR": str(sdk), "SANDBOX_URL": base_url,
             "SANDBOX_API_KEY": api_key},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.stdout, done.stderr
    report = json.loads(done.stdout)
    failed = {name: report["calls"][name] for name in report["unexpected"]}
    assert done.returncode == 0 and not failed, json.dumps(failed, indent=2)
    return report


def test_the_official_sdk_accepts_every_answer(sdk: Path, tmp_path: Path) -> None:
    with emulator(tmp_path) as sandbox:
        raw = requests.post(
            f"{sandbox.base_url}/connect_sessions",
            json={"origin_owner_id": "o", "origin_owner_name": "O"},
            auth=sandbox.auth,
            timeout=10,
        ).json()
        report = drive(sdk, sandbox.base_url, sandbox.api_key)
    assert isinstance(raw["organization_id"], str)  # what the sandbox sends, as StackOne does
    calls = {name: call.get("value") for name, call in report["calls"].items()}
    session = calls["createConnectSession"]
    assert session["organizationId"] == int(raw["organization_id"])  # translated by the test
    assert session["authLinkUrl"].startswith(f"{sandbox.base_url}/auth-link/")
    assert (session["originOwnerId"], session["categories"]) == ("org_sdk_1", ["hris"])
    authenticated = calls["authenticateConnectSession"]
    assert authenticated["id"] == session["id"] and authenticated["label"] == "From the SDK"
    assert "token" not in authenticated  # StackOne's authenticate answer carries none

    bamboo, hibob, other = (report["linked"][k] for k in ("bamboo", "hibob", "other"))
    assert calls["listLinkedAccounts"] == [bamboo, hibob, other]
    assert calls["listLinkedAccounts originOwnerIds"] == [bamboo, hibob, other]
    assert calls["listLinkedAccounts originOwnerId"] == [other]
    assert calls["listLinkedAccounts provider"] == [hibob]
    assert calls["listLinkedAccounts providers"] == [bamboo, other]
    assert calls["listLinkedAccounts accountIds+status"] == [bamboo, other]
    assert calls["listLinkedAccounts page"] == [other]

    assert calls["getAccount"]["provider"] == "bamboohr"
    updated = calls["updateAccount"]
    assert (updated["originOwnerName"], updated["originUsername"], updated["type"]) == (
        "SDK Limited", "grace@sdk.example", "production",
    )  # fmt: skip
    assert calls["updateAccount (type only)"]["type"] == "test"
    moved = calls["updateAccount (integration_id, shared)"]
    assert (moved["provider"], moved["label"]) == ("bamboohr", "Moved")
    assert calls["updateAccount back to hibob"]["provider"] == "hibob"
    assert calls["createConnectSession (integration_id)"]["token"]
    assert calls["getAccountMetaInfo"]["provider"] == "hibob"
    assert calls["getAccountMetaInfo"]["category"] == "hris"
    connectors = {c["provider"]: c for c in calls["listConnectorsMeta"]}
    assert connectors["hibob"]["providerName"] == "HiBob"
    logo = connectors["hibob"]["resources"]["images"]["logoUrl"]
    assert logo == f"{sandbox.base_url}/logos/hibob.svg"
    assert calls["getConnectorMeta"]["provider"] == "hibob"
    missing = report["calls"]["getConnectorMeta unknown"]
    assert (missing["error"], missing["status"]) == ("NotFoundResponse", 404)
    assert calls["deleteAccount"]["id"] == other
    gone = report["calls"]["getAccount deleted"]
    assert (gone["error"], gone["status"]) == ("NotFoundResponse", 404)
