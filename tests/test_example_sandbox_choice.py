"""The example app never runs the sandbox by accident: on only when asked (``make run`` asks),
or in debug and testing mode without a key; without a key and without the sandbox it refuses
to start, naming both settings. ``STACKONE_SANDBOX=off`` is off everywhere (pages, CSP)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from example_app import create_app
from example_app.db import DEMO_PASSWORD
from flask_stackone import ConfigurationError, get_state
from flask_stackone.sandbox import get_sandbox, stop_deliveries

from .conftest import API_KEY, WEBHOOK_SECRET
from .emulator import ROOT

ALICE = "alice@northwind.example"


@pytest.fixture(autouse=True)
def no_stackone_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("STACKONE_", "FLASK_")) and name != "STACKONE_HUB_DIR":
            monkeypatch.delenv(name)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STACKONE_", "FLASK_")) or k == "STACKONE_HUB_DIR"
    }
    return {**env, **extra}


@pytest.mark.parametrize("sandbox", [None, "off", "0", False])
def test_no_key_and_no_sandbox_refuses_to_start(tmp_path: Path, sandbox: Any) -> None:
    config = {} if sandbox is None else {"STACKONE_SANDBOX": sandbox}
    with pytest.raises(ConfigurationError) as info:
        create_app(config, instance_path=str(tmp_path))
    assert "STACKONE_API_KEY" in str(info.value) and "STACKONE_SANDBOX" in str(info.value)


def test_flask_run_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    factory = f"example_app:create_app(instance_path={str(tmp_path)!r})"
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "flask", "--app", factory, "run", "--port", "0"],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "STACKONE_API_KEY" in done.stderr and "STACKONE_SANDBOX" in done.stderr
    assert "Running on" not in done.stdout + done.stderr


def test_the_sandbox_is_on_only_when_asked(tmp_path: Path) -> None:
    asked = create_app({"STACKONE_SANDBOX": "1"}, instance_path=str(tmp_path / "a"))
    debug = create_app({"DEBUG": True}, instance_path=str(tmp_path / "b"))
    keyed = create_app({"STACKONE_API_KEY": API_KEY}, instance_path=str(tmp_path / "c"))
    try:
        assert get_state(asked).settings.sandbox and get_sandbox(asked) is not None
        assert get_state(debug).settings.sandbox and get_sandbox(debug) is not None
        assert not get_state(keyed).settings.sandbox and get_sandbox(keyed) is None
    finally:
        stop_deliveries(asked)
        stop_deliveries(debug)


def sign_in(app: Any) -> Any:
    client = app.test_client()
    login = client.get("/login")
    assert login.status_code == 200, login.text[:300]
    token = re.search(r'name="csrf-token" content="([^"]+)"', login.text).group(1)
    response = client.post(
        "/login", data={"email": ALICE, "password": DEMO_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


@pytest.mark.parametrize("off", ["off", "False", "no", "0", ""])
def test_sandbox_off_in_any_spelling_serves_every_page(tmp_path: Path, off: str) -> None:
    app = create_app(
        {"STACKONE_API_KEY": API_KEY, "STACKONE_WEBHOOK_SECRET": WEBHOOK_SECRET,
         "STACKONE_SANDBOX": off},
        instance_path=str(tmp_path),
    )  # fmt: skip
    client = sign_in(app)
    for path in ("/overview", "/integrations", "/events", "/outbox"):
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        assert "Sandbox dashboard" not in page.text and "Sandbox mode" not in page.text
    policy = client.get("/integrations").headers["Content-Security-Policy"]
    connect = re.search(r"connect-src ([^;]+)", policy).group(1).split()
    assert "https://api.stackone.com" in connect  # the real Hub calls StackOne's API
    assert "https:" in re.search(r"img-src ([^;]+)", policy).group(1).split()
    assert get_sandbox(app) is None
    assert client.get("/stackone-sandbox/").status_code == 404


def test_sandbox_on_links_its_dashboard_and_keeps_the_policy_local(tmp_path: Path) -> None:
    app = create_app({"STACKONE_SANDBOX": "yes"}, instance_path=str(tmp_path))
    try:
        client = sign_in(app)
        page = client.get("/integrations")
        assert page.status_code == 200 and "Sandbox mode" in page.text
        assert 'href="/stackone-sandbox/">Sandbox dashboard' in page.text
        policy = page.headers["Content-Security-Policy"]
        assert "stackone.com" not in policy
        assert client.get("/stackone-sandbox/").status_code == 200
    finally:
        stop_deliveries(app)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_make_run_links_a_sandbox_account(tmp_path: Path) -> None:
    """The README's ``make run``, as a newcomer runs it (no key set): sign in, ask for a
    session, link BambooHR as the Hub does, see it confirmed active and its webhook."""
    make = shutil.which("make")
    if make is None or not (ROOT / ".venv" / "bin" / "flask").exists():
        pytest.skip("make and the project's .venv are needed (make test creates them)")
    port = free_port()
    started = time.monotonic()
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [make, "--no-print-directory", "run", f"PORT={port}"],
        cwd=ROOT, env=clean_env(ACME_INSTANCE_PATH=str(tmp_path)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        http = requests.Session()
        deadline = time.monotonic() + 300  # the first run may install the project first
        while True:
            try:
                login = http.get(f"{base}/login", timeout=5)
                break
            except requests.ConnectionError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "make run did not serve the app"
                time.sleep(0.2)
        token = re.search(r'name="csrf-token" content="([^"]+)"', login.text).group(1)
        http.post(
            f"{base}/login",
            data={"email": ALICE, "password": DEMO_PASSWORD, "csrf_token": token},
            timeout=10,
        )
        page = http.get(f"{base}/integrations", timeout=10)
        assert "Sandbox mode" in page.text
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
        headers = {"X-StackOne-Request": "1", "X-CSRFToken": csrf}
        session = http.post(
            f"{base}/stackone/connect-session",
            json={"provider": "bamboohr"},
            headers=headers,
            timeout=10,
        )
        assert session.status_code == 200, session.text
        linked = requests.post(
            f"{base}/stackone-sandbox/hub/accounts",
            json={
                "integration_id": "sbx-bamboohr",
                "credentials": {"subdomain": "northwind", "api_key": "any-key"},
            },
            headers={"x-hub-session-token": session.json()["token"]},
            timeout=10,
        )
        assert linked.status_code == 201, linked.text
        account_id = linked.json()["id"]
        confirmed = http.post(
            f"{base}/stackone/accounts/{account_id}/confirm", json={}, headers=headers, timeout=10
        )
        assert confirmed.status_code == 200 and confirmed.json()["status"] == "active"
        deadline = time.monotonic() + 30
        while "webhook" not in http.get(f"{base}/events", timeout=10).text:
            assert time.monotonic() < deadline, "the sandbox's webhook never arrived"
            time.sleep(0.2)
        print(f"make run: an account linked {time.monotonic() - started:.1f} s after start")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)
        if server.stdout is not None:
            server.stdout.close()
