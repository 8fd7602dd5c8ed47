"""The example app, Acme People: factory, sign-in, tenant isolation, the signal receivers,
every page, and the account actions, against StackOne mocked with ``responses``."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from werkzeug.security import check_password_hash

from example_app import create_app
from example_app.db import DEMO_PASSWORD, MIGRATIONS
from flask_stackone import SQLiteDeliveryStore, get_state
from flask_stackone.sandbox import stop_deliveries, wait_for_deliveries
from flask_stackone.testing import make_event, post_event

from .conftest import API, API_KEY, WEBHOOK_SECRET, GuardedClient
from .live_server import serve

ALICE = "alice@northwind.example"  # Northwind Traders
BRUNO = "bruno@northwind.example"  # Northwind Traders
CHEN = "chen@globex.example"  # Globex Corporation


@pytest.fixture(autouse=True)
def no_stackone_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own STACKONE_* / FLASK_* variables must not change these tests."""
    for name in list(os.environ):
        if name.startswith(("STACKONE_", "FLASK_")):
            monkeypatch.delenv(name)


def make_app(instance: Path, **config: Any) -> Flask:
    settings = {
        "TESTING": True,
        "STACKONE_API_KEY": API_KEY,
        "STACKONE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STACKONE_MAX_RETRY_WAIT": 0.2,
        **config,
    }
    app = create_app(settings, instance_path=str(instance))
    app.test_client_class = GuardedClient
    return app


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path / "instance")


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    response = client.post(
        "/login",
        data={"email": email, "password": DEMO_PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def account_json(account_id: str, owner_id: str = "org_northwind", **fields: Any) -> dict[str, Any]:
    return {
        "id": account_id,
        "provider": "bamboohr",
        "provider_name": "BambooHR",
        "status": "active",
        "status_reasons": [],
        "origin_owner_id": owner_id,
        "origin_owner_name": "Northwind Traders",
        "origin_username": ALICE,
        "label": "Northwind HQ",
        "created_at": "2025-03-01T09:00:00.000Z",
        "updated_at": "2025-03-01T09:00:00.000Z",
        **fields,
    }


def webhook(app: Flask, event: str, account_id: str, event_date: str, **fields: Any) -> Any:
    body = make_event(event, account_id=account_id, event_date=event_date, **fields)
    return post_event(app.test_client(), body)


def stored(app: Flask, account_id: str) -> sqlite3.Row | None:
    with sqlite3.connect(app.config["DATABASE"]) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(
            "SELECT * FROM linked_accounts WHERE account_id = ?", (account_id,)
        ).fetchone()


def outcomes(app: Flask, account_id: str) -> list[tuple[str, str, str]]:
    with sqlite3.connect(app.config["DATABASE"]) as conn:
        return conn.execute(
            "SELECT type, source, outcome FROM events WHERE account_id = ? ORDER BY id",
            (account_id,),
        ).fetchall()


def link_via_webhook(
    app: Flask, api: responses.RequestsMock, account_id: str, **fields: Any
) -> None:
    api.get(f"{API}/accounts/{account_id}", json=account_json(account_id, **fields))
    response = webhook(app, "account.created", account_id, "2025-03-01T09:00:01.000Z")
    assert response.status_code == 200, response.get_data(as_text=True)


# -- the factory ----------------------------------------------------------------------------------


def test_factory_without_a_key_runs_the_sandbox_and_migrates(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    app = create_app({"TESTING": True, "STACKONE_SANDBOX": False}, instance_path=str(instance))
    assert app.config["DATABASE"] == str(instance / "acme-people.db")
    with sqlite3.connect(app.config["DATABASE"]) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        users = conn.execute("SELECT email, password_hash FROM users ORDER BY id").fetchall()
    assert [email for email, _ in users] == [ALICE, BRUNO, CHEN]
    for _, password_hash in users:
        assert password_hash != DEMO_PASSWORD
        assert check_password_hash(password_hash, DEMO_PASSWORD)
    store = get_state(app).delivery_store
    assert isinstance(store, SQLiteDeliveryStore)
    assert os.path.exists(instance / "stackone-deliveries.db")


def test_sandbox_is_the_default_only_without_an_api_key(tmp_path: Path) -> None:
    keyless = create_app({"TESTING": True}, instance_path=str(tmp_path / "a"))
    assert get_state(keyless).settings.sandbox is True
    keyed = create_app(
        {"TESTING": True, "STACKONE_API_KEY": API_KEY}, instance_path=str(tmp_path / "b")
    )
    assert get_state(keyed).settings.sandbox is False


def test_stackone_settings_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STACKONE_API_KEY", API_KEY)
    monkeypatch.setenv("STACKONE_WEBHOOK_SECRET", '["whsec_old", "whsec_new"]')
    monkeypatch.setenv("FLASK_SECRET_KEY", "from-the-environment")
    app = create_app({"TESTING": True}, instance_path=str(tmp_path))
    settings = get_state(app).settings
    assert settings.api_key == API_KEY
    assert settings.webhook_secret == ("whsec_old", "whsec_new")
    assert settings.sandbox is False
    assert app.config["SECRET_KEY"] == "from-the-environment"


def test_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    first = make_app(tmp_path)
    second = make_app(tmp_path)
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) == 64
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    assert make_app(tmp_path / "other").config["SECRET_KEY"] != first.config["SECRET_KEY"]


# -- signing in -----------------------------------------------------------------------------------


def test_login_page_shows_the_demo_credentials(app: Flask) -> None:
    page = app.test_client().get("/login").get_data(as_text=True)
    for text in (ALICE, BRUNO, CHEN, DEMO_PASSWORD, "Northwind Traders", "Globex Corporation"):
        assert text in page


def test_wrong_password_is_refused(app: Flask) -> None:
    client = app.test_client()
    response = client.post(
        "/login", data={"email": ALICE, "password": "guess", "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 401
    assert "do not match" in response.get_data(as_text=True)
    assert client.get("/integrations").status_code == 302


def test_login_without_csrf_token_is_refused(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/login", data={"email": ALICE, "password": DEMO_PASSWORD})
    assert response.status_code == 400
    assert client.get("/overview").status_code == 302


def test_sign_in_and_out(app: Flask) -> None:
    client = sign_in(app, ALICE)
    page = client.get("/overview").get_data(as_text=True)
    assert "Alice Moreau" in page and "Northwind Traders" in page
    assert client.post("/logout").status_code == 400  # no CSRF token: still signed in
    assert client.get("/overview").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/overview")})
    assert response.status_code == 302
    assert client.get("/overview").headers["Location"].startswith("/login")


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/events", "/events"),
        ("//evil.example/x", "/overview"),
        ("https://evil.example", "/overview"),
        ("/\t/evil.example", "/overview"),
        ("/\n/x", "/overview"),
        ("/\r/x", "/overview"),
        ("/\x7f/x", "/overview"),
        ("/\\evil.example", "/overview"),
        ("/events?tab=1#top", "/events?tab=1#top"),
    ],
)
def test_sign_in_returns_only_to_local_pages(app: Flask, target: str, landing: str) -> None:
    client = app.test_client()
    response = client.post(
        "/login",
        data={
            "email": ALICE,
            "password": DEMO_PASSWORD,
            "next": target,
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == landing


@pytest.mark.parametrize("query", ["/%09/evil.example", "/%0a/x", "/%0d/x", "//evil.example"])
def test_a_signed_in_visit_to_login_never_leaves_the_site(app: Flask, query: str) -> None:
    response = sign_in(app, ALICE).get(f"/login?next={query}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/overview"


@pytest.mark.parametrize("path", ["/overview", "/integrations", "/events", "/outbox"])
def test_pages_need_a_signed_in_user(app: Flask, path: str) -> None:
    response = app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={path}"


# -- receivers: upsert, stale updates, both sources -----------------------------------------------


def test_webhook_links_an_account_for_its_organisation(
    app: Flask, api: responses.RequestsMock
) -> None:
    link_via_webhook(app, api, "acc_nw_1")
    row = stored(app, "acc_nw_1")
    assert row is not None and row["status"] == "active" and row["provider"] == "bamboohr"
    assert outcomes(app, "acc_nw_1") == [("account.created", "webhook", "stored")]
    page = sign_in(app, ALICE).get("/integrations").get_data(as_text=True)
    assert 'data-account-id="acc_nw_1"' in page and "Northwind HQ" in page


def test_one_organisation_never_sees_the_others_accounts(
    app: Flask, api: responses.RequestsMock
) -> None:
    link_via_webhook(app, api, "acc_nw_1")
    chen = sign_in(app, CHEN)
    for path in ("/integrations", "/overview", "/events"):
        page = chen.get(path).get_data(as_text=True)
        assert "acc_nw_1" not in page and "Northwind HQ" not in page
    token = csrf_token(chen, "/integrations")
    # No StackOne call is registered: reaching StackOne would fail the test.
    assert chen.get("/integrations/acc_nw_1/reconnect").status_code == 404
    assert chen.get("/integrations/acc_nw_1/disconnect").status_code == 404
    assert (
        chen.post("/integrations/acc_nw_1/disconnect", data={"csrf_token": token}).status_code
        == 404
    )
    assert chen.post("/integrations/acc_nw_1/check", data={"csrf_token": token}).status_code == 404
    assert stored(app, "acc_nw_1")["deleted_at"] is None
    bruno = sign_in(app, BRUNO)  # same organisation as Alice
    assert "acc_nw_1" in bruno.get("/integrations").get_data(as_text=True)


def test_stale_update_is_ignored_and_newer_one_applies(
    app: Flask, api: responses.RequestsMock
) -> None:
    link_via_webhook(app, api, "acc_1")
    failing = account_json(
        "acc_1",
        status="error",
        updated_at="2025-03-02T10:00:00.000Z",
        status_reasons=[{"code": "403", "description": "The API user lacks the Employees scope"}],
    )
    api.get(f"{API}/accounts/acc_1", json=failing)
    assert webhook(app, "account.updated", "acc_1", "2025-03-02T10:00:00.000Z").status_code == 200
    api.get(f"{API}/accounts/acc_1", json=account_json("acc_1", label="an old state"))
    assert webhook(app, "account.updated", "acc_1", "2025-03-01T12:00:00.000Z").status_code == 200

    row = stored(app, "acc_1")
    assert row["status"] == "error" and row["label"] == "Northwind HQ"
    assert row["last_event_at"] == "2025-03-02T10:00:00.000000+00:00"
    assert [o for *_, o in outcomes(app, "acc_1")] == [
        "stored",
        "stored",
        "ignored: not newer than what is stored",
    ]
    page = sign_in(app, ALICE).get("/integrations").get_data(as_text=True)
    assert "The API user lacks the Employees scope" in page
    assert 'data-status="error"' in page


def test_duplicate_delivery_reaches_the_receivers_once(
    app: Flask, api: responses.RequestsMock
) -> None:
    api.get(f"{API}/accounts/acc_1", json=account_json("acc_1"))
    body = make_event("account.created", account_id="acc_1")
    client = app.test_client()
    assert post_event(client, body).status_code == 200
    assert post_event(client, body).get_json() == {"ok": True, "duplicate": True}
    assert len(outcomes(app, "acc_1")) == 1


def test_page_confirm_then_older_webhook(app: Flask, api: responses.RequestsMock) -> None:
    """Source "hub" stores the verified account; the later webhook is older, so ignored."""
    api.get(f"{API}/accounts/acc_2", json=account_json("acc_2"))
    alice = sign_in(app, ALICE)
    response = alice.post(
        "/stackone/accounts/acc_2/confirm",
        headers={"X-StackOne-Request": "1", "X-CSRFToken": csrf_token(alice, "/overview")},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "active"
    assert stored(app, "acc_2")["status"] == "active"
    api.get(f"{API}/accounts/acc_2", json=account_json("acc_2"))
    assert webhook(app, "account.created", "acc_2", "2025-03-01T09:00:01.000Z").status_code == 200
    assert outcomes(app, "acc_2") == [
        ("account.created", "hub", "stored"),
        ("account.created", "webhook", "ignored: not newer than what is stored"),
    ]


def test_confirm_of_another_organisations_account_is_refused(
    app: Flask, api: responses.RequestsMock
) -> None:
    api.get(f"{API}/accounts/acc_3", json=account_json("acc_3"))  # Northwind's
    chen = sign_in(app, CHEN)
    response = chen.post(
        "/stackone/accounts/acc_3/confirm",
        headers={"X-StackOne-Request": "1", "X-CSRFToken": csrf_token(chen, "/overview")},
    )
    assert response.status_code == 403
    assert stored(app, "acc_3") is None


def test_deleted_account_is_not_revived_by_a_late_event(
    app: Flask, api: responses.RequestsMock
) -> None:
    link_via_webhook(app, api, "acc_4")
    assert webhook(app, "account.deleted", "acc_4", "2025-03-03T00:00:00.000Z").status_code == 200
    assert "acc_4" not in sign_in(app, ALICE).get("/integrations").get_data(as_text=True)
    api.get(f"{API}/accounts/acc_4", json=account_json("acc_4", updated_at="2025-03-04T00:00:00Z"))
    assert webhook(app, "account.updated", "acc_4", "2025-03-04T00:00:00.000Z").status_code == 200
    api.get(f"{API}/accounts/acc_4", status=404, json={"statusCode": 404, "message": "Not found"})
    assert webhook(app, "account.created", "acc_4", "2025-03-01T00:00:00.000Z").status_code == 200
    assert stored(app, "acc_4")["deleted_at"] is not None
    assert [o for *_, o in outcomes(app, "acc_4")] == [
        "stored",
        "stored",
        "ignored: account already disconnected",
        "ignored: account already disconnected",
    ]


def test_account_of_an_unknown_owner_is_stored_nowhere(
    app: Flask, api: responses.RequestsMock
) -> None:
    link_via_webhook(app, api, "acc_5", owner_id="org_someone_else")
    assert stored(app, "acc_5") is None
    assert outcomes(app, "acc_5") == [
        ("account.created", "webhook", "ignored: unknown organisation")
    ]


def test_stackone_failure_in_a_receiver_gets_the_event_redelivered(
    app: Flask, api: responses.RequestsMock
) -> None:
    body = make_event("account.created", account_id="acc_6")
    api.get(f"{API}/accounts/acc_6", status=500, json={"statusCode": 500, "message": "down"})
    client = app.test_client()
    assert post_event(client, body).status_code == 500  # StackOne will deliver it again
    assert stored(app, "acc_6") is None
    api.replace(responses.GET, f"{API}/accounts/acc_6", json=account_json("acc_6"))
    assert post_event(client, body).status_code == 200  # the same delivery, not a duplicate
    assert stored(app, "acc_6")["status"] == "active"
    assert [o.split(":")[0] for *_, o in outcomes(app, "acc_6")] == ["failed", "stored"]


def test_other_webhook_events_are_logged_for_the_accounts_organisation(
    app: Flask, api: responses.RequestsMock
) -> None:
    link_via_webhook(app, api, "acc_7")
    body = make_event("hris_employees.updated", account_id="acc_7", record_type="employee")
    assert post_event(app.test_client(), body).status_code == 200
    page = sign_in(app, ALICE).get("/events").get_data(as_text=True)
    assert "hris_employees.updated" in page
    assert "hris_employees.updated" not in sign_in(app, CHEN).get("/events").get_data(as_text=True)


# -- pages and actions ----------------------------------------------------------------------------


def test_every_page_renders(app: Flask, api: responses.RequestsMock) -> None:
    link_via_webhook(app, api, "acc_1", status="error")
    client = sign_in(app, ALICE)
    for path in (
        "/overview",
        "/integrations",
        "/events",
        "/outbox",
        "/integrations/acc_1/reconnect",
        "/integrations/acc_1/disconnect",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert "<h1" in page and "Northwind Traders" in page, path
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "nonce-" in policy
        assert "http" not in re.sub(r'href="http://localhost/stackone/link/[^"]+"', "", page)
    assert client.get("/no/such/page").status_code == 404


def test_check_status_stores_and_shows_the_reason(app: Flask, api: responses.RequestsMock) -> None:
    link_via_webhook(app, api, "acc_1")
    client = sign_in(app, ALICE)
    reasons = [{"code": "expired", "description": "The BambooHR API key was revoked"}]
    api.get(
        f"{API}/accounts/acc_1",
        json=account_json("acc_1", status="expired", status_reasons=reasons),
    )
    token = csrf_token(client, "/integrations")
    response = client.post("/integrations/acc_1/check", data={"csrf_token": token})
    assert response.status_code == 302
    page = client.get("/integrations").get_data(as_text=True)
    assert "needs attention: status expired (The BambooHR API key was revoked)" in page
    assert stored(app, "acc_1")["status"] == "expired"


def test_check_status_when_stackone_is_down_says_so(
    app: Flask, api: responses.RequestsMock
) -> None:
    link_via_webhook(app, api, "acc_1")
    client = sign_in(app, ALICE)
    api.get(f"{API}/accounts/acc_1", status=503, json={"statusCode": 503, "message": "busy"})
    response = client.post(
        "/integrations/acc_1/check",
        data={"csrf_token": csrf_token(client, "/integrations")},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Could not reach StackOne to check" in response.get_data(as_text=True)
    assert stored(app, "acc_1")["status"] == "active"


def test_check_status_of_an_account_deleted_elsewhere_removes_it(
    app: Flask, api: responses.RequestsMock
) -> None:
    link_via_webhook(app, api, "acc_1")
    client = sign_in(app, ALICE)
    api.get(f"{API}/accounts/acc_1", status=404, json={"statusCode": 404, "message": "Not found"})
    page = client.post(
        "/integrations/acc_1/check",
        data={"csrf_token": csrf_token(client, "/integrations")},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "no longer exists at StackOne" in page
    assert 'data-account-id="acc_1"' not in page


def test_disconnect_needs_a_confirmed_csrf_protected_post(
    app: Flask, api: responses.RequestsMock
) -> None:
    link_via_webhook(app, api, "acc_1")
    client = sign_in(app, ALICE)
    confirm = client.get("/integrations/acc_1/disconnect").get_data(as_text=True)
    assert 'method="post"' in confirm and 'name="csrf_token"' in confirm
    assert client.post("/integrations/acc_1/disconnect").status_code == 400  # no token
    assert stored(app, "acc_1")["deleted_at"] is None
    delete = api.delete(f"{API}/accounts/acc_1", json=account_json("acc_1"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', confirm).group(1)
    page = client.post(
        "/integrations/acc_1/disconnect", data={"csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert delete.call_count == 1
    assert "is disconnected" in page and 'data-account-id="acc_1"' not in page
    assert webhook(app, "account.deleted", "acc_1", "2025-03-05T00:00:00.000Z").status_code == 200
    assert outcomes(app, "acc_1")[-1][2] == "ignored: account already disconnected"


def test_disconnect_failure_keeps_the_account(app: Flask, api: responses.RequestsMock) -> None:
    link_via_webhook(app, api, "acc_1")
    client = sign_in(app, ALICE)
    api.delete(f"{API}/accounts/acc_1", status=502, json={"statusCode": 502, "message": "bad"})
    page = client.post(
        "/integrations/acc_1/disconnect",
        data={"csrf_token": csrf_token(client, "/integrations")},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "StackOne could not disconnect" in page
    assert 'data-account-id="acc_1"' in page


def test_onboarding_link_goes_to_the_organisations_outbox(app: Flask) -> None:
    client = sign_in(app, ALICE)
    token = csrf_token(client, "/integrations")
    response = client.post(
        "/integrations/invitations",
        data={"recipient": "hr-admin@northwind.example", "provider": "bamboohr", "days": "3",
              "csrf_token": token},
        follow_redirects=True,
    )  # fmt: skip
    page = response.get_data(as_text=True)
    assert "Connect BambooHR to Acme People" in page and "hr-admin@northwind.example" in page
    link = re.search(r'href="(http://localhost/stackone/link/[^"]+)"', page).group(1)
    assert "it works for 3 days" in page
    landing = app.test_client().get(link.removeprefix("http://localhost"))
    assert landing.status_code == 200 and "Northwind Traders" in landing.get_data(as_text=True)
    assert "hr-admin" not in sign_in(app, CHEN).get("/outbox").get_data(as_text=True)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"recipient": "not-an-email"}, "email address"),
        ({"provider": "unknown"}, "Choose a system"),
        ({"days": "0"}, "1 to 30 days"),
        ({"days": "many"}, "1 to 30 days"),
    ],
)
def test_bad_invitation_is_refused_with_a_reason(
    app: Flask, fields: dict[str, str], message: str
) -> None:
    client = sign_in(app, ALICE)
    data = {"recipient": "it@northwind.example", "provider": "", "days": "5", **fields}
    data["csrf_token"] = csrf_token(client, "/integrations")
    response = client.post("/integrations/invitations", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with sqlite3.connect(app.config["DATABASE"]) as conn:
        assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0


def test_event_log_page_lists_outcomes(app: Flask, api: responses.RequestsMock) -> None:
    link_via_webhook(app, api, "acc_1")
    page = sign_in(app, ALICE).get("/events").get_data(as_text=True)
    assert "account.created" in page and ">webhook<" in page and ">stored<" in page


def test_status_reasons_json_is_what_the_page_shows(
    app: Flask, api: responses.RequestsMock
) -> None:
    reasons = [{"code": "perm", "description": "Missing <b>scope</b>", "timestamp": "x"}]
    link_via_webhook(app, api, "acc_1", status="error", status_reasons=reasons)
    assert json.loads(stored(app, "acc_1")["status_reasons"]) == [
        {"code": "perm", "description": "Missing <b>scope</b>"}
    ]
    page = sign_in(app, ALICE).get("/integrations").get_data(as_text=True)
    assert "Missing &lt;b&gt;scope&lt;/b&gt;" in page  # escaped, never markup


# -- end to end over real HTTP, with the sandbox as StackOne ---------------------------------


@pytest.fixture
def sandbox_app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"TESTING": True}, instance_path=str(tmp_path / "instance"))
    assert get_state(app).settings.sandbox
    yield app
    stop_deliveries(app)


class Browser:
    """A signed-in user's cookie jar on the app served at ``base``."""

    def __init__(self, base: str, email: str) -> None:
        self.base = base
        self.http = requests.Session()
        login = self.http.get(f"{base}/login", timeout=10).text
        response = self.http.post(
            f"{base}/login",
            data={"email": email, "password": DEMO_PASSWORD, "csrf_token": _meta_token(login)},
            timeout=10,
        )
        assert response.status_code == 200 and email.split("@")[0].title() in response.text

    def page(self, path: str) -> str:
        response = self.http.get(self.base + path, timeout=10)
        assert response.status_code == 200, path
        return response.text

    def token(self) -> str:
        return _meta_token(self.page("/overview"))

    def api(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        """A call as the widget's script makes it."""
        headers = {"X-StackOne-Request": "1", "X-CSRFToken": self.token()}
        return self.http.post(self.base + path, json=body or {}, headers=headers, timeout=10)

    def form(self, path: str) -> str:
        response = self.http.post(self.base + path, data={"csrf_token": self.token()}, timeout=10)
        assert response.status_code == 200, response.text
        return response.text


def _meta_token(page: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def hub_link(base: str, token: str, credentials: dict[str, str]) -> str:
    """What the Hub does when the customer submits BambooHR's form."""
    response = requests.post(
        f"{base}/stackone-sandbox/hub/accounts",
        json={"integration_id": "sbx-bamboohr", "credentials": credentials},
        headers={"x-hub-session-token": token, "x-hub-version": "1.11.4"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_link_check_disconnect_through_the_sandbox(sandbox_app: Flask) -> None:
    with serve(sandbox_app) as base:
        alice = Browser(base, ALICE)
        session = alice.api("/stackone/connect-session", {"provider": "bamboohr"})
        assert session.status_code == 200, session.text
        account_id = hub_link(
            base, session.json()["token"], {"subdomain": "northwind", "api_key": "k1"}
        )
        confirmed = alice.api(f"/stackone/accounts/{account_id}/confirm")
        assert confirmed.json()["status"] == "active"
        assert f'data-account-id="{account_id}" data-status="active"' in alice.page("/integrations")

        assert wait_for_deliveries(sandbox_app, 15)
        log = outcomes(sandbox_app, account_id)
        assert ("account.created", "hub", "stored") in log
        assert any(source == "webhook" for _, source, _ in log)
        assert "Globex" in Browser(base, CHEN).page("/integrations")
        assert account_id not in Browser(base, CHEN).page("/integrations")

        assert "is connected and active" in alice.form(f"/integrations/{account_id}/check")
        page = alice.form(f"/integrations/{account_id}/disconnect")
        assert "is disconnected" in page and f'data-account-id="{account_id}"' not in page
        assert wait_for_deliveries(sandbox_app, 15)
        assert outcomes(sandbox_app, account_id)[-1] == (
            "account.deleted",
            "webhook",
            "ignored: account already disconnected",
        )


def test_error_credentials_show_the_status_reason(sandbox_app: Flask) -> None:
    with serve(sandbox_app) as base:
        alice = Browser(base, ALICE)
        token = alice.api("/stackone/connect-session", {"provider": "bamboohr"}).json()["token"]
        account_id = hub_link(base, token, {"subdomain": "northwind", "api_key": "error"})
        confirmed = alice.api(f"/stackone/accounts/{account_id}/confirm").json()
        assert confirmed["status"] == "error" and confirmed["status_reasons"]
        reason = confirmed["status_reasons"][0]["description"]
        page = alice.page("/integrations")
        assert 'data-status="error"' in page and str(escape(reason)) in page


def test_connected_systems_page_lists_the_organisations_accounts_from_stackone(
    app: Flask, api: responses.RequestsMock
) -> None:
    assert app.test_client().get("/connected-systems").status_code == 302  # signed in only
    api.get(
        f"{API}/accounts",
        json=[account_json("acc_1", status="error")],
        match=[responses.matchers.query_param_matcher(
            {"origin_owner_id": "org_northwind", "page_size": "25", "page": "1"})],
    )  # fmt: skip
    api.get(f"{API}/connectors/meta", json=[])
    response = sign_in(app, ALICE).get("/connected-systems")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-account-id="acc_1"' in page and 'data-status="error"' in page
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])
    assert nonce and page.count(f'nonce="{nonce.group(1)}"') >= 2  # both panel scripts


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/accounts/acc_1", 400),
        ("GET", "/accounts/acc_1", 503),
        ("DELETE", "/accounts/acc_1", 502),
        ("DELETE", "/accounts/acc_1", 401),
    ],
)
def test_stackone_text_is_logged_never_shown_to_the_user(
    app: Flask, api: responses.RequestsMock, caplog: pytest.LogCaptureFixture, method, path, status
) -> None:
    """StackOne's own message (which may quote the request, and cut in the wrong place
    could quote part of the key) goes to the log; the user sees a message of the app's."""
    link_via_webhook(app, api, "acc_1")
    client = sign_in(app, ALICE)
    stackone_text = "upstream provider said: tenant acme-internal-42 rejected"
    api.add(
        method, f"{API}{path}", status=status, json={"statusCode": status, "message": stackone_text}
    )
    action = "check" if method == "GET" else "disconnect"
    page = client.post(
        f"/integrations/acc_1/{action}",
        data={"csrf_token": csrf_token(client, "/integrations")},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "acme-internal-42" not in page and "upstream provider" not in page
    assert "StackOne" in page  # the user is told what failed, in the app's words
    assert any("acme-internal-42" in r.getMessage() for r in caplog.records)


def forge_cookies(client: FlaskClient, host: str) -> None:
    """Send the signed-in member's cookies to ``host`` too, as a hand-made request does."""
    for name in ("session",):
        cookie = client.get_cookie(name)
        assert cookie is not None
        client.set_cookie(name, cookie.value, domain=host)


def _outbox_links(app: Flask) -> list[str]:
    with sqlite3.connect(app.config["DATABASE"]) as conn:
        return [link for (link,) in conn.execute("SELECT link FROM outbox")]


def test_an_invitation_posted_with_a_forged_host_sends_no_link(app: Flask) -> None:
    """A signed-in member posted the invite form with ``Host: attacker.example`` and the
    outbox got a genuine onboarding link to that host."""
    client = sign_in(app, ALICE)
    token = csrf_token(client, "/integrations")
    forge_cookies(client, "attacker.example")  # curl sends whatever cookie it is given
    response = client.post(
        "/integrations/invitations",
        data={"recipient": "hr-admin@northwind.example", "provider": "bamboohr", "days": "3",
              "csrf_token": token},
        headers={"Host": "attacker.example"},
    )  # fmt: skip
    assert 400 <= response.status_code < 500
    assert "Invitations cannot be sent from this address" in response.get_data(as_text=True)
    assert not any("attacker.example" in link for link in _outbox_links(app))
    assert _outbox_links(app) == []


def test_invitation_links_use_the_public_url_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STACKONE_PUBLIC_URL", "https://people.example.com")
    app = make_app(tmp_path / "instance")
    client = sign_in(app, ALICE)
    token = csrf_token(client, "/integrations")
    forge_cookies(client, "attacker.example")
    for host in ("localhost", "attacker.example"):
        response = client.post(
            "/integrations/invitations",
            data={"recipient": "it@northwind.example", "provider": "", "days": "2",
                  "csrf_token": token},
            headers={"Host": host},
        )  # fmt: skip
        assert response.status_code == 302, response.get_data(as_text=True)
    links = _outbox_links(app)
    assert len(links) == 2
    assert all(link.startswith("https://people.example.com/stackone/link/") for link in links)


# -- withdrawing invitations, and the links of a member who left ---------------------------------


def _invite(client: FlaskClient, recipient: str) -> str:
    response = client.post(
        "/integrations/invitations",
        data={"recipient": recipient, "provider": "bamboohr", "days": "30",
              "csrf_token": csrf_token(client, "/integrations")},
    )  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)
    with sqlite3.connect(client.application.config["DATABASE"]) as conn:
        (link,) = conn.execute("SELECT link FROM outbox ORDER BY id DESC LIMIT 1").fetchone()
    return link.removeprefix("http://localhost")


def test_the_links_of_a_member_who_left_stop_working(app: Flask) -> None:
    """A link lives for up to 30 days here; the member who sent it may leave before."""
    alices = _invite(sign_in(app, ALICE), "it@northwind.example")
    brunos = _invite(sign_in(app, BRUNO), "hr@northwind.example")
    visitor = app.test_client()
    assert visitor.get(alices).status_code == 200

    result = app.test_cli_runner().invoke(args=["members", "remove", ALICE])
    assert result.exit_code == 0, result.output
    assert "1 onboarding link" in result.output

    refused = visitor.get(alices)
    assert refused.status_code == 410
    assert "This link was withdrawn" in refused.get_data(as_text=True)
    assert visitor.get(brunos).status_code == 200  # Bruno is still a member
    alice = app.test_client()  # and Alice can no longer sign in
    page = alice.post(
        "/login", data={"email": ALICE, "password": DEMO_PASSWORD, "csrf_token": csrf_token(alice)}
    )
    assert page.status_code == 401


def test_a_signed_in_session_of_a_member_who_left_ends(app: Flask) -> None:
    client = sign_in(app, ALICE)
    assert client.get("/overview").status_code == 200
    app.test_cli_runner().invoke(args=["members", "remove", ALICE])
    assert client.get("/overview").status_code == 302  # back to the sign-in page


def test_one_invitation_can_be_withdrawn_from_the_outbox(app: Flask) -> None:
    client = sign_in(app, ALICE)
    first = _invite(client, "it@northwind.example")
    second = _invite(client, "hr@northwind.example")
    outbox = client.get("/outbox").get_data(as_text=True)
    withdraw = re.findall(r'action="(/outbox/\d+/withdraw)"', outbox)
    assert len(withdraw) == 2
    with sqlite3.connect(app.config["DATABASE"]) as conn:
        (first_id,) = conn.execute(
            "SELECT id FROM outbox WHERE recipient = 'it@northwind.example'"
        ).fetchone()
    assert client.post(f"/outbox/{first_id}/withdraw").status_code == 400  # CSRF-protected
    answer = client.post(
        f"/outbox/{first_id}/withdraw",
        data={"csrf_token": csrf_token(client, "/outbox")},
        follow_redirects=True,
    )
    assert answer.status_code == 200 and "withdrawn" in answer.get_data(as_text=True)
    visitor = app.test_client()
    assert visitor.get(first).status_code == 410
    assert visitor.get(second).status_code == 200
    chen = sign_in(app, CHEN)  # another organisation cannot withdraw Northwind's invitations
    other = chen.post(
        f"/outbox/{first_id + 1}/withdraw", data={"csrf_token": csrf_token(chen, "/outbox")}
    )
    assert other.status_code == 404
    assert visitor.get(second).status_code == 200


def test_a_link_made_outside_the_outbox_works_until_it_expires(app: Flask) -> None:
    """``flask stackone auth-link --onboarding`` makes links the outbox does not know."""
    from flask_stackone import Owner, onboarding_link

    with app.test_request_context():
        made_elsewhere = onboarding_link(Owner("org_northwind", "Northwind Traders"))
    assert app.test_client().get(made_elsewhere.removeprefix("http://localhost")).status_code == 200
