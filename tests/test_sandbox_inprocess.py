"""The sandbox with no server running: the plugin's client in process, Flask's test client,
the dashboard, edit mode, generated credentials, the CLI and the safety rules."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, g, render_template_string, request
from flask_wtf import CSRFProtect

from flask_stackone import get_client, get_state, make_blueprint
from flask_stackone.core.errors import NotFoundError
from flask_stackone.core.webhooks import SIGNATURE_HEADER, compute_signature
from flask_stackone.sandbox import delivery as delivery_module
from flask_stackone.sandbox import get_sandbox, stop_deliveries, wait_for_deliveries
from flask_stackone.sandbox import store as store_module
from flask_stackone.sandbox.delivery import Deliverer
from flask_stackone.sandbox.store import SandboxStore

from .conftest import API_KEY, WEBHOOK_SECRET, build_app
from .live_server import refused_port, serve
from .test_sandbox import HUB, sandbox_app
from .test_widget import Elements


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = sandbox_app(tmp_path)
    yield app
    stop_deliveries(app)


def session_token(app: Flask, **options: Any) -> str:
    return (
        get_client(app)
        .create_connect_session(origin_owner_id="org_1", origin_owner_name="Acme Ltd", **options)
        .token
    )


def link(client: Any, token: str, **credentials: str) -> Any:
    return client.post(
        f"{HUB}/accounts",
        json={"integration_id": "sbx-personio", "credentials": credentials},
        headers={"x-hub-session-token": token},
    )


PERSONIO = {"client_id": "papi-1", "client_secret": "s3cret", "app_id": "acme-hris"}


def events(app: Flask) -> list[str]:
    return [d["event"] for d in reversed(get_sandbox(app).store.deliveries())]


def test_the_plugin_client_reaches_the_sandbox_in_process(app: Flask) -> None:
    client = get_client(app)
    assert client.base_url == "http://sandbox.localhost/stackone-sandbox"
    session = client.create_connect_session(
        origin_owner_id="org_1", origin_owner_name="Acme Ltd", provider="personio", expires_in=600
    )
    assert session.token and session.provider == "personio" and session.expires_in == 600
    assert client.authenticate_connect_session(session.token).origin_owner_id == "org_1"
    account_id = link(app.test_client(), session.token, **PERSONIO).json["id"]
    account = client.update_account(account_id, label="Payroll")
    assert account.label == "Payroll"
    assert account.setup_information == {"app_id": "acme-hris"}  # secret fields are not kept
    assert client.delete_account(account_id).id == account_id
    with pytest.raises(NotFoundError):
        client.get_account(account_id)
    assert events(app) == ["account.created", "account.updated", "account.deleted"]


def test_an_in_process_call_leaves_the_callers_request_state_alone(tmp_path: Path) -> None:
    app = sandbox_app(tmp_path)

    @app.before_request
    def who() -> None:
        g.user = request.path  # each request sets its own

    @app.get("/caller")
    def caller() -> str:
        get_client(app).create_connect_session(origin_owner_id="o", origin_owner_name="O")
        return f"{g.user} {request.path}"

    try:
        assert app.test_client().get("/caller").get_data(as_text=True) == "/caller /caller"
    finally:
        stop_deliveries(app)


def test_the_token_route_works_through_flasks_test_client(app: Flask) -> None:
    response = app.test_client().post(
        "/stackone/connect-session", headers={"X-StackOne-Request": "1"}
    )
    assert response.status_code == 200
    token = response.json["token"]
    assert (
        app.test_client().get(f"{HUB}/settings", headers={"x-hub-session-token": token}).status_code
        == 200
    )


def test_the_session_body_is_checked_like_stackones(app: Flask) -> None:
    client = app.test_client()
    auth = {"Authorization": "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()}
    cases = [
        ({"origin_owner_name": "O"}, 400, "origin_owner_id"),
        (
            {"origin_owner_id": "o", "origin_owner_name": "O", "categories": ["nope"]},
            400,
            "categories",
        ),
        ({"origin_owner_id": "o", "origin_owner_name": "O", "expires_in": 0}, 400, "expires_in"),
        (
            {"origin_owner_id": "o", "origin_owner_name": "O", "provider_version": "1"},
            400,
            "deprecated",
        ),
        ({"origin_owner_id": "o", "origin_owner_name": "O", "account_id": "nope"}, 404, "Account"),
        ({"origin_owner_id": "o", "origin_owner_name": "O", "provider": "nope"}, 400, "provider"),
    ]
    for body, status, word in cases:
        response = client.post("/stackone-sandbox/connect_sessions", json=body, headers=auth)
        assert response.status_code == status, body
        assert response.json["statusCode"] == status and word in response.json["message"]
    garbage = client.post("/stackone-sandbox/connect_sessions", data=b"{", headers=auth)
    assert garbage.status_code == 400 and garbage.json["statusCode"] == 400


def basic_auth() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()}


@pytest.mark.parametrize("name", ["connector_profile_id", "integration_id"])
def test_the_connector_profile_is_answered_by_the_name_it_was_sent(app: Flask, name: str) -> None:
    body = {"origin_owner_id": "o", "origin_owner_name": "O", name: "cp_1"}
    response = app.test_client().post(
        "/stackone-sandbox/connect_sessions", json=body, headers=basic_auth()
    )
    assert response.status_code == 201
    other = {"connector_profile_id", "integration_id"} - {name}
    assert response.json[name] == "cp_1" and not other & set(response.json)


def test_both_names_of_the_connector_profile_must_agree(app: Flask) -> None:
    body = {"origin_owner_id": "o", "origin_owner_name": "O", "connector_profile_id": "a",
            "integration_id": "b"}  # fmt: skip
    response = app.test_client().post(
        "/stackone-sandbox/connect_sessions", json=body, headers=basic_auth()
    )
    assert response.status_code == 400 and "differ" in response.json["message"]


def test_authenticate_answers_the_session_without_its_token(app: Flask) -> None:
    client = app.test_client()
    token = session_token(app, provider="salesforce", label="CRM", metadata={"plan": "pro"})

    def authenticate() -> Any:
        return client.post(
            "/stackone-sandbox/connect_sessions/authenticate",
            json={"token": token},
            headers=basic_auth(),
        )

    first = authenticate()
    assert first.status_code == 201
    assert "token" not in first.json and "auth_link_url" not in first.json
    assert first.json["origin_owner_id"] == "org_1" and first.json["label"] == "CRM"
    assert first.json["metadata"] == {"plan": "pro"}
    assert first.json["latest_connection_attempt"] is None
    attempt = client.post(
        f"{HUB}/connection_attempts", json={"token": token}, headers={"x-hub-session-token": token}
    ).json["id"]
    latest = authenticate().json["latest_connection_attempt"]
    assert (latest["id"], latest["status"]) == (attempt, "pending")
    typed = get_client(app).authenticate_connect_session(token)
    assert typed.label == "CRM" and typed.latest_connection_attempt == latest


def test_patch_takes_the_fields_newer_sdks_send(app: Flask) -> None:
    client = app.test_client()
    account_id = link(client, session_token(app), **PERSONIO).json["id"]
    url = f"/stackone-sandbox/accounts/{account_id}"
    changed = client.patch(
        url, json={"integration_id": "sbx-hibob", "shared": True}, headers=basic_auth()
    )
    assert changed.status_code == 200 and changed.json["provider"] == "hibob"
    for body, word in (({"shared": "yes"}, "shared"), ({"integration_id": "nope"}, "integration")):
        refused = client.patch(url, json=body, headers=basic_auth())
        assert refused.status_code == 400 and word in refused.json["message"]


def test_edit_mode_reconnects_the_sessions_account(app: Flask) -> None:
    client = app.test_client()
    account_id = link(client, session_token(app), **PERSONIO).json["id"]
    token = session_token(app, account_id=account_id, provider="personio")
    headers = {"x-hub-session-token": token}
    assert client.get(f"{HUB}/settings", headers=headers).json["existing_account_id"] == account_id
    shown = client.get(f"{HUB}/accounts/{account_id}", headers=headers).json
    assert shown == {
        "secureId": account_id, "provider": "personio", "integrationId": "sbx-personio",
        "authConfigKey": "default", "environment": "production",
        "setupInformation": {"app_id": "acme-hris"},
    }  # fmt: skip
    # The Hub leaves blank secret fields out when re-connecting.
    patched = client.patch(
        f"{HUB}/accounts/{account_id}",
        json={"integration_id": "sbx-personio", "credentials": {"app_id": "new-app"}},
        headers=headers,
    )
    assert patched.status_code == 200 and patched.json == {"id": account_id, "provider": "personio"}
    assert get_client(app).get_account(account_id).setup_information == {"app_id": "new-app"}
    # A new session of the same owner and provider edits instead of creating (unless multiple).
    again = link(client, session_token(app), **PERSONIO)
    assert again.json["id"] == account_id
    assert len(get_client(app).list_accounts()) == 1
    # Another owner's token cannot read this account.
    foreign = get_client(app).create_connect_session(
        origin_owner_id="org_2", origin_owner_name="Other"
    )
    assert (
        client.get(
            f"{HUB}/accounts/{account_id}", headers={"x-hub-session-token": foreign.token}
        ).status_code
        == 404
    )
    assert events(app) == ["account.created", "account.updated", "account.updated"]


def test_the_dashboard_lists_and_changes_accounts(app: Flask) -> None:
    client = app.test_client()
    account_id = link(client, session_token(app), **PERSONIO).json["id"]
    page = client.get("/stackone-sandbox/")
    assert page.status_code == 200
    for text in (account_id, "Personio", "account.created", "Acme Ltd"):
        assert text in page.text
    changed = client.post(
        f"/stackone-sandbox/accounts/{account_id}/status", data={"status": "expired"}
    )
    assert changed.status_code == 303
    account = get_client(app).get_account(account_id)
    assert account.status == "expired" and account.status_reasons[0].code == "expired"
    assert events(app) == ["account.created", "account.updated"]
    bad = client.post(f"/stackone-sandbox/accounts/{account_id}/status", data={"status": "weird"})
    assert bad.status_code == 400
    cross = client.post(
        f"/stackone-sandbox/accounts/{account_id}/delete",
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert client.post(f"/stackone-sandbox/accounts/{account_id}/delete").status_code == 303
    assert get_client(app).list_accounts() == []
    assert events(app)[-1] == "account.deleted"


def test_generated_credentials_are_kept_in_the_instance_folder(tmp_path: Path) -> None:
    first = sandbox_app(tmp_path, STACKONE_API_KEY=None, STACKONE_WEBHOOK_SECRET=None)
    second = sandbox_app(tmp_path, STACKONE_API_KEY=None, STACKONE_WEBHOOK_SECRET=None)
    try:
        settings = get_state(first).settings
        assert settings.api_key and settings.webhook_secret
        assert get_state(second).settings.api_key == settings.api_key
        assert get_state(second).settings.webhook_secret == settings.webhook_secret
        page = second.test_client().get("/stackone-sandbox/").text
        assert settings.api_key not in page and settings.webhook_secret[0] not in page
        # The sandbox signs with the generated secret the plugin's webhook route verifies
        # with: that route answers 401 to a bad signature, and the delivery is retried.
        account_id = link(second.test_client(), session_token(second), **PERSONIO).json["id"]
        with serve(second) as base:
            requests.get(f"{base}/stackone-sandbox/", timeout=5)  # teaches the webhook URL
            assert wait_for_deliveries(second, 10)
            [delivery] = get_sandbox(second).store.deliveries()
            forged = requests.post(
                f"{base}/stackone/webhooks",
                data=delivery["body"].encode(),
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: compute_signature(delivery["body"].encode(), "not-it"),
                },
                timeout=5,
            )
        assert forged.status_code == 401
        assert delivery["state"] == "delivered" and account_id in delivery["body"]
        assert [a["status"] for a in delivery["attempts_log"]] == [200]
        assert delivery["attempts_log"][0]["url"] == f"{base}/stackone/webhooks"
    finally:
        stop_deliveries(first)
        stop_deliveries(second)


def test_cli_reset_forgets_everything(app: Flask) -> None:
    link(app.test_client(), session_token(app), **PERSONIO)
    result = app.test_cli_runner().invoke(args=["stackone", "sandbox", "reset"])
    assert result.exit_code == 0, result.output
    assert get_client(app).list_accounts() == []
    assert get_sandbox(app).store.deliveries() == [] and get_sandbox(app).store.sessions() == []


def test_cli_reset_refuses_without_the_sandbox() -> None:
    result = build_app().test_cli_runner().invoke(args=["stackone", "sandbox", "reset"])
    assert result.exit_code == 1 and "STACKONE_SANDBOX" in result.output


def test_csrf_protect_does_not_block_the_sandbox(tmp_path: Path) -> None:
    app = Flask("csrf_app", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="k", STACKONE_SANDBOX=True, STACKONE_API_KEY=API_KEY,
                      STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET)  # fmt: skip
    CSRFProtect(app)
    app.register_blueprint(make_blueprint())
    response = link(app.test_client(), session_token(app), **PERSONIO)
    assert response.status_code == 201
    stop_deliveries(app)


def test_hub_urls_point_at_the_sandbox(tmp_path: Path) -> None:
    cdn = {"STACKONE_HUB_SCRIPT_URL": "https://cdn.example/hub/webcomponent.js"}
    app = sandbox_app(tmp_path, **cdn)
    try:
        with app.test_request_context(base_url="http://127.0.0.1:5000/"):
            [widget] = Elements(render_template_string("{{ stackone_hub() }}")).widgets()
        hub_base_url, hub_app_url = widget.get("data-base-url"), widget.get("data-app-url")
        assert hub_base_url == "http://127.0.0.1:5000/stackone-sandbox"
        assert hub_app_url == "http://127.0.0.1:5000/stackone-sandbox"
    finally:
        stop_deliveries(app)
    with build_app(**cdn).test_request_context():
        [widget] = Elements(render_template_string("{{ stackone_hub() }}")).widgets()
        hub_base_url = widget.get("data-base-url")
        assert hub_base_url is None


def test_the_sandbox_announces_itself_and_is_off_by_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = build_app()
    assert get_sandbox(plain) is None
    assert "stackone_sandbox" not in plain.blueprints
    app = sandbox_app(tmp_path)
    banner = [
        r
        for r in caplog.records
        if r.name == "flask_stackone.sandbox" and r.levelno == logging.WARNING
    ]
    assert banner and "STACKONE SANDBOX IS ON" in banner[0].getMessage()
    assert "never enable it in production" in banner[0].getMessage()
    assert app.test_client().options(f"{HUB}/settings").headers["Access-Control-Allow-Headers"]


def test_the_auth_link_page_links_with_a_plain_form(app: Flask) -> None:
    client = app.test_client()
    session = get_client(app).create_connect_session(
        origin_owner_id="org_1", origin_owner_name="Acme Ltd", categories=["hris"]
    )
    path = session.auth_link_url.split("://", 1)[1].split("/", 1)[1]
    listing = client.get(f"/{path}?form=1")
    assert listing.status_code == 200
    assert "Personio" in listing.text and "Greenhouse" not in listing.text
    form = {"integration": "sbx-personio", **PERSONIO}
    refused = client.post(f"/{path}", data={**form, "client_secret": "invalid"})
    assert refused.status_code == 422 and "Personio answered 401" in refused.text
    linked = client.post(f"/{path}", data=form)
    assert linked.status_code == 200 and "linked" in linked.text
    assert [a.provider for a in get_client(app).list_accounts()] == ["personio"]
    oauth = get_client(app).create_connect_session(
        origin_owner_id="org_1", origin_owner_name="Acme Ltd", provider="hubspot"
    )
    start = client.post("/" + oauth.auth_link_url.split("://", 1)[1].split("/", 1)[1], data={})
    assert start.status_code == 303 and "/connect/oauth2/sbx-hubspot?" in start.location
    done = client.post(start.location, data={"action": "authorize"}, follow_redirects=True)
    assert "Account connected" in done.text
    assert {a.provider for a in get_client(app).list_accounts()} == {"personio", "hubspot"}


# -- routing errors, query numbers, CORS under a script root, sessions, deliveries ------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("PUT", "/stackone-sandbox/accounts/x", 405),
        ("POST", "/stackone-sandbox/accounts", 405),
        ("GET", "/stackone-sandbox/hub/nope", 404),
        ("GET", "/stackone-sandbox/connect_sessions", 405),
        ("GET", "/stackone-sandbox/accounts/x/y/z", 404),
    ],
)
def test_api_routing_errors_answer_stackones_json(
    app: Flask, method: str, path: str, status: int
) -> None:
    response = app.test_client().open(path, method=method)
    assert response.status_code == status
    body = response.get_json()
    assert body is not None and body["statusCode"] == status
    assert body["message"] and body["timestamp"].endswith("Z")
    if status == 405:
        assert method not in response.headers["Allow"]
    if "/hub/" in path:
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_the_host_apps_own_error_pages_are_kept(tmp_path: Path) -> None:
    app = sandbox_app(tmp_path)
    app.register_error_handler(404, lambda exc: ("host 404 page", 404))
    try:
        client = app.test_client()
        assert client.get("/no-such-page").text == "host 404 page"
        assert client.get("/stackone-sandbox/no-such-page").text == "host 404 page"
        assert client.get("/stackone-sandbox/accounts/x/y/z").get_json()["statusCode"] == 404
    finally:
        stop_deliveries(app)


@pytest.mark.parametrize("page", ["²", "\u0661", "0", "-1", "1e3", " 1", "99999999", ""])
def test_a_page_number_that_is_not_plain_digits_is_a_400(app: Flask, page: str) -> None:
    auth = base64.b64encode(f"{API_KEY}:".encode()).decode()
    response = app.test_client().get(
        "/stackone-sandbox/accounts",
        query_string={"page": page},
        headers={"Authorization": f"Basic {auth}"},
    )
    assert response.status_code == 400
    assert "page must be an integer" in response.get_json()["message"]


def test_hub_cors_headers_under_a_script_root(app: Flask) -> None:
    token = session_token(app)
    response = app.test_client().get(
        "/stackone-sandbox/hub/settings",
        headers={"x-hub-session-token": token},
        base_url="http://localhost/app/",
    )
    assert response.status_code == 200 and response.request.script_root == "/app"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "x-hub-session-token" in response.headers["Access-Control-Allow-Headers"]


def test_a_session_reset_between_requests_is_a_401_never_a_500(app: Flask) -> None:
    token = session_token(app)
    client = app.test_client()
    assert client.post(f"/stackone-sandbox/auth-link/{token}/session").status_code == 200
    get_sandbox(app).store.reset()
    answer = client.post(f"/stackone-sandbox/auth-link/{token}/session")
    assert answer.status_code == 401 and answer.get_json()["error"] == "invalid_session"
    hub = client.get(f"{HUB}/settings", headers={"x-hub-session-token": token})
    assert hub.status_code == 401 and hub.get_json()["statusCode"] == 401


def test_an_expired_session_is_refused_everywhere(app: Flask, monkeypatch: Any) -> None:
    token = session_token(app, expires_in=60)
    store = get_sandbox(app).store
    assert store.live_session(token) is not None and store.live_session("") is None
    later = time.time() + 61
    monkeypatch.setattr(store_module.time, "time", lambda: later)
    assert store.live_session(token) is None
    client = app.test_client()
    assert client.get(f"{HUB}/settings", headers={"x-hub-session-token": token}).status_code == 401
    assert client.get(f"/stackone-sandbox/auth-link/{token}?form=1").status_code == 401
    assert client.post(f"/stackone-sandbox/auth-link/{token}/session").status_code == 401


def test_the_dashboard_says_it_is_for_development_only(app: Flask) -> None:
    page = app.test_client().get("/stackone-sandbox/").text
    assert "Development only" in page and "never enable" in page
    assert "until your app answers 2xx" in page


def failing_deliverer(tmp_path: Path, attempts: int | None) -> tuple[Deliverer, SandboxStore]:
    store = SandboxStore(tmp_path / "deliveries.sqlite3")
    deliverer = Deliverer(
        store, target=lambda: None, secret=lambda: WEBHOOK_SECRET,
        attempts=attempts, backoff=1.0, timeout=1.0,
    )  # fmt: skip
    store.enqueue("account.created", "acc_1", b"{}")
    return deliverer, store


def test_deliveries_are_retried_until_a_2xx_by_default(tmp_path: Path, monkeypatch: Any) -> None:
    assert get_state(sandbox_app(tmp_path)).settings.sandbox_config.delivery_attempts is None
    deliverer, store = failing_deliverer(tmp_path, None)
    with refused_port() as port, requests.Session() as session:
        for done in (0, 1, 50):
            before = time.time()
            deliverer._send(session, f"http://127.0.0.1:{port}/", 1, b"{}", done, "account.created")
            [delivery] = store.deliveries()
            assert delivery["state"] == "pending"
            assert delivery["next_at"] - before <= delivery_module.MAX_WAIT + 1
    assert delivery_module.MAX_WAIT == 60


def test_a_configured_limit_of_attempts_gives_up(tmp_path: Path) -> None:
    app = sandbox_app(tmp_path, STACKONE_SANDBOX_DELIVERY_ATTEMPTS=2)
    assert get_state(app).settings.sandbox_config.delivery_attempts == 2
    unlimited = sandbox_app(tmp_path, STACKONE_SANDBOX_DELIVERY_ATTEMPTS=0)
    assert get_state(unlimited).settings.sandbox_config.delivery_attempts is None
    deliverer, store = failing_deliverer(tmp_path, 2)
    with refused_port() as port, requests.Session() as session:
        deliverer._send(session, f"http://127.0.0.1:{port}/", 1, b"{}", 0, "account.created")
        assert store.deliveries()[0]["state"] == "pending"
        deliverer._send(session, f"http://127.0.0.1:{port}/", 1, b"{}", 1, "account.created")
        assert store.deliveries()[0]["state"] == "failed"
