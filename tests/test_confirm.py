"""POST /stackone/accounts/<id>/confirm: the page reports the Hub's success; the server checks."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from flask import Flask

from flask_stackone import Owner, account_created, account_updated
from flask_stackone.testing import record_events

from .conftest import API, API_KEY, build_app

HEADERS = {"X-StackOne-Request": "1"}
URL = "/stackone/accounts/acc_1/confirm"
ACCOUNT = {
    "id": "acc_1",
    "provider": "bamboohr",
    "provider_name": "BambooHR",
    "status": "active",
    "status_reasons": [],
    "origin_owner_id": "org_1",
    "origin_owner_name": "Acme Ltd",
    "origin_username": "ada@acme.test",
    "setup_information": {"subdomain": "acme"},
    "created_at": "2026-11-24T10:00:00Z",
}


def expect_account(api, **fields) -> None:
    api.get(f"{API}/accounts/acc_1", status=200, json={**ACCOUNT, **fields})


def test_confirms_an_account_of_this_owner_and_sends_account_created(api, app, client):
    expect_account(api)
    with record_events(app) as events:
        response = client.post(URL, headers=HEADERS)
    assert response.status_code == 200
    assert response.get_json() == {
        "id": "acc_1",
        "provider": "bamboohr",
        "status": "active",
        "status_reasons": [],
    }
    assert response.headers["Cache-Control"] == "no-store"
    [event] = events
    assert (event.type, event.source, event.account_id) == ("account.created", "hub", "acc_1")
    assert (event.owner_id, event.owner_name, event.provider) == ("org_1", "Acme Ltd", "bamboohr")
    assert event.username == "ada@acme.test"
    assert event.event_date is not None
    sent = api.calls[0].request
    assert sent.method == "GET"
    assert (
        sent.headers["Authorization"]
        == "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()
    )


def test_a_reconnect_sends_account_updated(api, app, client):
    expect_account(api)
    created: list = []
    account_created.connect(lambda sender, event: created.append(event), app, weak=False)
    with record_events(app) as events:
        response = client.post(URL, headers=HEADERS, json={"reconnect": True})
    assert response.status_code == 200
    assert [(e.type, e.source) for e in events] == [("account.updated", "hub")]
    assert created == []


def test_a_status_other_than_active_is_answered_with_its_reasons(api, app, client):
    reason = {
        "code": "permissions",
        "description": "Missing scope: employees:read",
        "timestamp": None,
    }
    expect_account(api, status="error", status_reasons=[reason])
    with record_events(app) as events:
        response = client.post(URL, headers=HEADERS)
    assert response.status_code == 200
    assert response.get_json()["status"] == "error"
    assert response.get_json()["status_reasons"] == [reason]
    assert len(events) == 1  # linked all the same: the host stores it and shows the reason


def test_an_unknown_status_value_is_passed_on(api, client):
    expect_account(api, status="quarantined")
    assert client.post(URL, headers=HEADERS).get_json()["status"] == "quarantined"


def test_another_owners_account_is_refused_without_a_signal(api, app, client):
    expect_account(api, origin_owner_id="org_2", origin_owner_name="Globex")
    with record_events(app) as events:
        response = client.post(URL, headers=HEADERS)
    assert response.status_code == 403
    assert response.get_json()["error"] == "foreign_account"
    assert "Globex" not in response.get_data(as_text=True)
    assert events == []


def test_an_account_without_owner_is_refused(api, client):
    expect_account(api, origin_owner_id=None)
    assert client.post(URL, headers=HEADERS).status_code == 403


def test_an_unknown_account_is_404(api, app, client):
    api.get(f"{API}/accounts/acc_1", status=404, json={"statusCode": 404, "message": "Not found"})
    with record_events(app) as events:
        response = client.post(URL, headers=HEADERS)
    assert response.status_code == 404
    assert response.get_json()["error"] == "account_not_found"
    assert events == []


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        ({"status": 401, "json": {"statusCode": 401, "message": "Unauthorized"}}, 502, None),
        ({"status": 500, "json": {"statusCode": 500, "message": "boom"}}, 502, None),
        ({"body": requests.exceptions.ReadTimeout()}, 504, "stackone_timeout"),
        ({"status": 200, "body": "<html>not json</html>"}, 502, "stackone_unavailable"),
    ],
)
def test_stackone_failures_are_502_or_504_never_passed_through(api, client, answer, status, code):
    api.get(f"{API}/accounts/acc_1", **answer)
    response = client.post(URL, headers=HEADERS)
    assert response.status_code == status
    assert response.is_json
    if code:
        assert response.get_json()["error"] == code


def test_needs_the_request_header(api, client):
    response = client.post(URL)
    assert response.status_code == 403
    assert response.get_json()["error"] == "missing_request_header"


def test_nobody_signed_in_is_401_before_stackone_is_asked(api):
    client = build_app(owner=None).test_client()
    response = client.post(URL, headers=HEADERS)
    assert response.status_code == 401
    assert response.get_json()["error"] == "not_signed_in"


def test_the_owner_loader_decides_not_the_browser(api):
    expect_account(api)
    client = build_app(owner=Owner("org_2", "Globex")).test_client()
    response = client.post(URL, headers=HEADERS, json={"owner_id": "org_1"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"[]", "invalid_json"),
        (json.dumps({"reconnect": "yes"}).encode(), "invalid_reconnect"),
    ],
)
def test_a_bad_body_is_400_before_stackone_is_asked(api, client, body, code):
    response = client.post(URL, headers={**HEADERS, "Content-Type": "application/json"}, data=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == code


def test_a_malformed_account_id_is_400(api, client):
    response = client.post("/stackone/accounts/acc%20%3Cx%3E/confirm", headers=HEADERS)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_account_id"


def test_other_methods_get_a_json_405(api, client):
    response = client.get(URL, headers=HEADERS)
    assert response.status_code == 405
    assert response.is_json
    assert response.headers["Allow"] == "POST"


def test_without_api_key_it_is_503_not_configured(api):
    client = build_app(STACKONE_API_KEY=None).test_client()
    response = client.post(URL, headers=HEADERS)
    assert response.status_code == 503
    assert response.get_json()["error"] == "not_configured"


def test_a_failing_receiver_is_a_json_500(api, app: Flask, client):
    expect_account(api)

    def broken(sender, event):
        raise RuntimeError("database is down")

    account_updated.connect(broken, app, weak=False)
    response = client.post(URL, headers=HEADERS, json={"reconnect": True})
    assert response.status_code == 500
    assert response.get_json()["error"] == "receiver_failed"
    assert "database is down" not in response.get_data(as_text=True)


# -- the page and StackOne report the same kind of event ---------------------------------------


def test_a_relinked_account_is_confirmed_as_updated_like_stackones_webhook(api, app, client):
    """The Hub edits the owner's existing account of that provider (no ``multiple``):
    StackOne's webhook says account.updated, so the page's confirmation does too."""
    expect_account(api, created_at="2026-11-20T09:00:00Z", updated_at="2026-11-24T10:00:00Z")
    created: list = []
    account_created.connect(lambda sender, event: created.append(event), app, weak=False)
    with record_events(app) as events:
        response = client.post(URL, headers=HEADERS)
    assert response.status_code == 200
    assert [(e.type, e.source) for e in events] == [("account.updated", "hub")]
    assert created == []


@pytest.mark.parametrize(
    "updated_at",
    [None, "2026-11-24T10:00:00Z", "2026-11-24T10:00:00.250Z", "2026-11-24T10:00:30Z"],
)
def test_a_new_account_is_confirmed_as_created(api, app, client, updated_at):
    """Created now (its last change within a minute of its creation): account.created."""
    expect_account(api, created_at="2026-11-24T10:00:00Z", updated_at=updated_at)
    with record_events(app) as events:
        client.post(URL, headers=HEADERS)
    assert [e.type for e in events] == ["account.created"]


def test_relinking_through_the_sandbox_both_sources_say_updated(tmp_path) -> None:
    """End to end over HTTP: link BambooHR for an owner, then (a day later) the same owner
    links BambooHR again; the sandbox, like StackOne, edits the account."""
    from datetime import datetime, timedelta, timezone

    from flask_stackone.core.models import format_datetime
    from flask_stackone.sandbox import get_sandbox, stop_deliveries, wait_for_deliveries

    from .live_server import serve
    from .test_sandbox import sandbox_app

    app = sandbox_app(tmp_path / "instance")
    received: list[tuple[str, str, str]] = []
    for signal in (account_created, account_updated):
        signal.connect(
            lambda sender, event: received.append((event.type, event.source, event.account_id)),
            app,
            weak=False,
        )

    def link_bamboohr(base: str, api_key: str) -> str:
        token = requests.post(
            f"{base}/stackone/connect-session", json={}, headers=HEADERS, timeout=5
        ).json()["token"]
        created = requests.post(
            f"{base}/stackone-sandbox/hub/accounts",
            json={"integration_id": "sbx-bamboohr",
                  "credentials": {"subdomain": "acme", "api_key": api_key}},
            headers={"x-hub-session-token": token, "x-hub-version": "1.11.4"},
            timeout=5,
        )  # fmt: skip
        assert created.status_code in (200, 201), created.text
        account_id = created.json()["id"]
        confirm = requests.post(
            f"{base}/stackone/accounts/{account_id}/confirm", json={}, headers=HEADERS, timeout=5
        )
        assert confirm.status_code == 200, confirm.text
        return account_id

    try:
        with serve(app) as base:
            first = link_bamboohr(base, "first-key")
            assert wait_for_deliveries(app, timeout=10)
            store = get_sandbox(app).store
            yesterday = format_datetime(datetime.now(timezone.utc) - timedelta(days=1))
            store.save_account({**store.account(first), "created_at": yesterday,
                                "updated_at": yesterday})  # fmt: skip
            received.clear()
            again = link_bamboohr(base, "second-key")
            assert wait_for_deliveries(app, timeout=10)
    finally:
        stop_deliveries(app)
    assert again == first
    assert sorted(received) == [
        ("account.updated", "hub", first),
        ("account.updated", "webhook", first),
    ]
