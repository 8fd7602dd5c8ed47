"""The CLI and email onboarding against the sandbox: real HTTP to the app on 127.0.0.1, the
sandbox's hosted auth-link page, and its signed webhook reaching the app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from flask_stackone.sandbox import stop_deliveries, wait_for_deliveries
from flask_stackone.testing import record_events

from .conftest import assert_no_secret, build_app
from .live_server import refused_port, serve

OWNER = ["--owner-id", "org_1", "--owner-name", "Acme Ltd"]
BAMBOO = {"integration": "sbx-bamboohr", "subdomain": "acme", "api_key": "bamboo-key-1"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = build_app(
        STACKONE_SANDBOX=True,
        STACKONE_SANDBOX_DB=str(tmp_path / "sandbox.sqlite3"),
        STACKONE_SANDBOX_DELIVERY_BACKOFF=0.05,
        STACKONE_ONBOARDING_MODE="redirect",
    )
    yield app
    stop_deliveries(app)


@pytest.fixture
def base(app: Flask) -> Iterator[str]:
    with serve(app) as url:
        requests.get(f"{url}/stackone-sandbox/", timeout=5)  # the sandbox learns the app's URL
        yield url


def run(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["stackone", *args])
    assert_no_secret(result.output, "command output")
    assert result.exit_code == 0, result.output
    return result.output


def field(output: str, label: str) -> str:
    match = re.search(rf"^{label}:\s+(\S+)", output, re.M)
    assert match, output
    return match.group(1)


def link_bamboohr(page_url: str, **form: str) -> requests.Response:
    """Fill in the sandbox-hosted page as the customer would."""
    http = requests.Session()
    opened = http.get(page_url, timeout=5)
    assert opened.status_code == 200 and "Acme Ltd" in opened.text
    return http.post(opened.url, data={**BAMBOO, **form}, timeout=5)


def test_auth_link_opens_the_sandbox_page_and_the_webhook_reaches_the_app(app, base):
    output = run(app, "auth-link", *OWNER, "--provider", "bamboohr", "--days", "2")
    url = field(output, "auth link")
    assert url.startswith(f"{base}/stackone-sandbox/auth-link/")
    assert "(in 2 days)" in output
    with record_events(app) as events:
        linked = link_bamboohr(url)
        assert linked.status_code == 200
        assert wait_for_deliveries(app, timeout=10)
    assert [(e.type, e.owner_id, e.provider, e.source) for e in events] == [
        ("account.created", "org_1", "bamboohr", "webhook")
    ]
    account_id = events[0].account_id
    listed = run(app, "accounts", "list", "--owner-id", "org_1")
    assert account_id in listed and "active" in listed
    assert "active" in run(app, "accounts", "show", account_id)


def test_onboarding_link_click_leads_to_the_sandbox_page_and_a_webhook(app, base):
    output = run(app, "auth-link", *OWNER, "--onboarding", "--base-url", base)
    link = field(output, "onboarding link")
    http = requests.Session()
    page = http.get(link, timeout=5)
    assert page.status_code == 200 and "Connect" in page.text
    assert run(app, "accounts", "list").strip() == "No accounts."  # opening created nothing
    connect = http.post(link, headers={"Origin": base}, allow_redirects=False, timeout=5)
    assert connect.status_code == 303
    hosted = connect.headers["Location"]
    assert hosted.startswith(f"{base}/stackone-sandbox/auth-link/")
    with record_events(app) as events:
        assert link_bamboohr(hosted).status_code == 200
        assert wait_for_deliveries(app, timeout=10)
    assert [(e.type, e.owner_id) for e in events] == [("account.created", "org_1")]


def test_session_and_accounts_commands_against_the_sandbox(app, base):
    output = run(app, "session", *OWNER, "--category", "hris")
    assert field(output, "token")
    page = field(output, "auth link")
    with record_events(app) as events:
        linked = link_bamboohr(page, api_key="error-no-permission")
        assert linked.status_code == 200
        assert wait_for_deliveries(app, timeout=10)
    account_id = events[0].account_id
    shown = app.test_cli_runner().invoke(args=["stackone", "accounts", "show", account_id])
    assert shown.exit_code == 1
    assert "status:            error" in shown.output
    assert "permission" in shown.output
    as_json = run(app, "accounts", "list", "--status", "error", "--json")
    assert account_id in as_json
    with record_events(app) as events:
        deleted = run(app, "accounts", "delete", account_id, "--yes")
        assert f"Deleted account {account_id}" in deleted
        assert wait_for_deliveries(app, timeout=10)
    assert [e.type for e in events] == ["account.deleted"]
    gone = app.test_cli_runner().invoke(args=["stackone", "accounts", "show", account_id])
    assert gone.exit_code == 1 and "no such record" in gone.output


def test_trigger_with_the_sandbox_generated_secret(tmp_path):
    app = build_app(
        STACKONE_SANDBOX=True,
        STACKONE_WEBHOOK_SECRET=None,
        STACKONE_SANDBOX_DB=str(tmp_path / "sandbox.sqlite3"),
    )
    try:
        with serve(app) as url, record_events(app) as events:
            output = run(
                app, "trigger", "account.updated", "--account-id", "acc_5", "--base-url", url
            )
        assert "200 OK" in output
        assert [(e.type, e.account_id) for e in events] == [("account.updated", "acc_5")]
    finally:
        stop_deliveries(app)


def test_sandbox_reset_forgets_accounts(app, base):
    url = field(run(app, "auth-link", *OWNER, "--provider", "bamboohr"), "auth link")
    assert link_bamboohr(url).status_code == 200
    assert wait_for_deliveries(app, timeout=10)
    assert "bamboohr" in run(app, "accounts", "list")
    run(app, "sandbox", "reset")
    assert run(app, "accounts", "list").strip() == "No accounts."


# -- in sandbox mode the app's address is known: no --base-url needed --------------------------


def test_trigger_finds_the_sandbox_app_where_flask_run_serves_it(app, monkeypatch):
    monkeypatch.delenv("FLASK_RUN_HOST", raising=False)
    with serve(app) as url, record_events(app) as events:
        monkeypatch.setenv("FLASK_RUN_PORT", url.rsplit(":", 1)[1])
        output = run(app, "trigger", "account.created", "--account-id", "acc_7")
        monkeypatch.setenv("FLASK_RUN_HOST", "0.0.0.0")  # noqa: S104 - reached as 127.0.0.1
        run(app, "trigger", "account.deleted", "--account-id", "acc_7")
    assert f"account.created -> {url}/stackone/webhooks" in output and "200 OK" in output
    assert [(e.type, e.account_id) for e in events] == [
        ("account.created", "acc_7"),
        ("account.deleted", "acc_7"),
    ]


def test_onboarding_link_defaults_to_where_flask_run_serves_the_sandbox_app(app, monkeypatch):
    monkeypatch.delenv("FLASK_RUN_HOST", raising=False)
    monkeypatch.delenv("FLASK_RUN_PORT", raising=False)
    output = run(app, "auth-link", *OWNER, "--onboarding")
    assert field(output, "onboarding link").startswith("http://127.0.0.1:5000/stackone/link/")
    with serve(app) as url:
        monkeypatch.setenv("FLASK_RUN_PORT", url.rsplit(":", 1)[1])
        link = field(run(app, "auth-link", *OWNER, "--onboarding"), "onboarding link")
        assert link.startswith(f"{url}/stackone/link/")
        page = requests.get(link, timeout=5)
    assert page.status_code == 200 and "Acme Ltd" in page.text


def test_the_sandbox_default_gives_way_to_server_name_and_a_dead_port_says_what_to_pass(
    tmp_path, monkeypatch
):
    named = build_app(
        STACKONE_SANDBOX=True,
        STACKONE_SANDBOX_DB=str(tmp_path / "named.sqlite3"),
        SERVER_NAME="people.example.test",
    )
    try:
        output = run(named, "auth-link", *OWNER, "--onboarding")
        assert field(output, "onboarding link").startswith("http://people.example.test/stackone/")
    finally:
        stop_deliveries(named)
    app = build_app(STACKONE_SANDBOX=True, STACKONE_SANDBOX_DB=str(tmp_path / "s.sqlite3"))
    try:
        with refused_port() as port:
            monkeypatch.setenv("FLASK_RUN_PORT", str(port))
            result = app.test_cli_runner().invoke(
                args=["stackone", "trigger", "account.created", "--account-id", "a"]
            )
        assert result.exit_code == 1
        assert f"could not reach http://127.0.0.1:{port}/stackone/webhooks" in result.output
        assert "pass --base-url / --url" in result.output
    finally:
        stop_deliveries(app)
