"""The sandbox dashboard renders in every state: deliveries pending, delivered, failed and
sent again, accounts in every status (``error`` with its reason), and after a reset."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_stackone.sandbox import create_app, get_sandbox, stop_deliveries, wait_for_deliveries
from flask_stackone.sandbox.accounts import STATUSES

from .conftest import API_KEY, WEBHOOK_SECRET, build_app
from .emulator import Receiver
from .live_server import refused_port, serve

AUTH = {"Authorization": "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()}


def standalone(folder: Path, **settings: Any) -> Flask:
    return create_app(
        {
            "SANDBOX_DB": str(folder / "sandbox.sqlite3"),
            "SANDBOX_API_KEY": API_KEY,
            "SANDBOX_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SANDBOX_DELIVERY_BACKOFF": 0.05,
            **settings,
        }
    )


def link(client: FlaskClient, owner: str, **credentials: str) -> str:
    token = client.post(
        "/connect_sessions",
        json={"origin_owner_id": owner, "origin_owner_name": owner.title()},
        headers=AUTH,
    ).json["token"]
    linked = client.post(
        "/hub/accounts",
        json={"integration_id": "sbx-bamboohr", "credentials": credentials},
        headers={"x-hub-session-token": token},
    )
    assert linked.status_code == 201, linked.text
    return linked.json["id"]


def dashboard(client: FlaskClient) -> str:
    page = client.get("/")
    assert page.status_code == 200, page.text[:500]
    return page.text


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    hooks = Receiver(WEBHOOK_SECRET)
    with serve(hooks) as url:
        yield hooks, f"{url}/hooks"


def test_after_deliveries_succeeded(tmp_path: Path, receiver: tuple[Receiver, str]) -> None:
    hooks, url = receiver
    app = standalone(tmp_path, SANDBOX_WEBHOOK_URL=url)
    client = app.test_client()
    try:
        good = link(client, "org_good", subdomain="good", api_key="k")
        bad = link(client, "org_bad", subdomain="bad", api_key="error-no-permission")
        assert wait_for_deliveries(app, 10)
        page = dashboard(client)
        assert page.count("delivered") >= 2 and "Send again" in page
        assert good in page and bad in page and "refused to list employees" in page
        assert 'action="/deliveries/1/retry"' in page
        again = client.post("/deliveries/1/retry")
        assert again.status_code == 303 and again.location.endswith("/")
        assert wait_for_deliveries(app, 10)
        assert len(hooks.wait_for(3)) == 3
        [delivery] = [d for d in get_sandbox(app).store.deliveries() if d["id"] == 1]
        sent = [a["status"] for a in delivery["attempts_log"]]
        assert delivery["state"] == "delivered" and sent == [200, 200]  # sent again
        dashboard(client)
    finally:
        stop_deliveries(app)


def test_after_deliveries_failed(tmp_path: Path) -> None:
    with refused_port() as port:
        app = standalone(
            tmp_path,
            SANDBOX_WEBHOOK_URL=f"http://127.0.0.1:{port}/hooks",
            SANDBOX_DELIVERY_ATTEMPTS=2,
        )
        client = app.test_client()
        try:
            link(client, "org_1", subdomain="a", api_key="k")
            assert wait_for_deliveries(app, 10)
            [failed] = get_sandbox(app).store.deliveries()
            assert failed["state"] == "failed" and len(failed["attempts_log"]) == 2
            page = dashboard(client)
            assert "failed" in page and "ConnectionError" in page and "Send again" in page
            assert client.post("/deliveries/1/retry").status_code == 303
            assert wait_for_deliveries(app, 10)
            dashboard(client)
            stop_deliveries(app)
            get_sandbox(app).store.retry(1)  # pending, the worker stopped: still renders
            assert "Send again" not in dashboard(client).split("Connect sessions")[0]
        finally:
            stop_deliveries(app)


def test_every_status_and_a_reset_render(tmp_path: Path) -> None:
    app = standalone(tmp_path)  # no webhook URL: deliveries stay pending
    client = app.test_client()
    try:
        account = link(client, "org_1", subdomain="a", api_key="k")
        for status in STATUSES:
            changed = client.post(f"/accounts/{account}/status", data={"status": status})
            assert changed.status_code == 303
            assert f"<option selected>{status}</option>" in dashboard(client)
        assert client.post(f"/accounts/{account}/delete").status_code == 303
        assert account not in dashboard(client).split("Webhook deliveries")[0]
        assert client.post("/reset").status_code == 303
        page = dashboard(client)
        assert "No account linked yet" in page and "No webhook sent yet" in page
        assert "No session created yet" in page
    finally:
        stop_deliveries(app)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/deliveries/99999999999999999999/retry", 404),
        ("/deliveries/-1/retry", 404),
        ("/deliveries/%C2%B2/retry", 404),
        ("/accounts/nope/status", 404),
        ("/accounts/nope/delete", 404),
    ],
)
def test_bad_dashboard_actions_are_4xx(tmp_path: Path, path: str, status: int) -> None:
    app = standalone(tmp_path)
    try:
        assert app.test_client().post(path, data={"status": "active"}).status_code == status
    finally:
        stop_deliveries(app)


def test_sandbox_reset_refuses_origin_null(tmp_path):
    """A sandboxed frame or a data: page posts with Origin: null: not this site."""
    app = build_app(instance_path=str(tmp_path), STACKONE_SANDBOX=True)
    rv = app.test_client().post("/stackone-sandbox/reset", headers={"Origin": "null"})
    assert rv.status_code == 403
