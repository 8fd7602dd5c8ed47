"""The sandbox over real HTTP: sessions, the Hub's calls, OAuth, signed webhooks, retries."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask

from flask_stackone import Owner, account_created, get_client
from flask_stackone.core.errors import ConfigurationError, InvalidRequestError
from flask_stackone.sandbox import get_sandbox, stop_deliveries, wait_for_deliveries

from .conftest import API_KEY, assert_no_secret, build_app
from .live_server import refused_port, serve

OWNER = Owner("org_1", "Acme Ltd", "ada@acme.test")
HUB = "/stackone-sandbox/hub"


def sandbox_app(instance: Path, owner: Owner | None = OWNER, **config: Any) -> Flask:
    """A host app with the sandbox on, its instance folder at ``instance``."""
    settings = {"STACKONE_SANDBOX": True, "STACKONE_SANDBOX_DELIVERY_BACKOFF": 0.05, **config}
    return build_app(owner, instance_path=str(instance), **settings)


@pytest.fixture
def apps() -> Iterator[list[Flask]]:
    """Apps a test builds; their delivery threads are stopped afterwards."""
    built: list[Flask] = []
    yield built
    for app in built:
        stop_deliveries(app)


@pytest.fixture
def app(tmp_path: Path, apps: list[Flask]) -> Flask:
    app = sandbox_app(tmp_path)
    apps.append(app)
    return app


def checked(response: requests.Response) -> requests.Response:
    assert_no_secret(response.content, "response body")
    for name, value in response.headers.items():
        assert_no_secret(f"{name}: {value}", "response header")
    return response


def token_from_plugin(base: str) -> str:
    """A Hub token the way a page gets one: the plugin's token route, over HTTP."""
    response = checked(
        requests.post(
            f"{base}/stackone/connect-session",
            json={},
            headers={"X-StackOne-Request": "1"},
            timeout=5,
        )
    )
    assert response.status_code == 200, response.text
    return response.json()["token"]


def hub(base: str, token: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"x-hub-session-token": token, "x-hub-version": "1.11.4"}
    return checked(
        requests.request(method, f"{base}{HUB}{path}", headers=headers, timeout=5, **kwargs)
    )


def link_bamboohr(base: str, token: str, api_key: str = "bamboo-key-1") -> requests.Response:
    credentials = {"subdomain": "acme", "api_key": api_key}
    return hub(
        base, token, "POST", "/accounts",
        json={"integration_id": "sbx-bamboohr", "credentials": credentials},
    )  # fmt: skip


def recorder(app: Flask, signal: Any = account_created) -> list[Any]:
    events: list[Any] = []
    signal.connect(lambda sender, event, **extra: events.append(event), app, weak=False)
    return events


def test_hub_flow_links_an_account_and_the_signed_webhook_fires_account_created(app: Flask) -> None:
    events = recorder(app)
    with serve(app) as base:
        token = token_from_plugin(base)
        settings = hub(base, token, "GET", "/settings")
        assert settings.json() == {"enabled_features": []}
        listed = hub(base, token, "GET", "/connectors").json()["integrations"]
        keys = {i["provider"] for i in listed}
        assert {"bamboohr", "hibob", "personio", "greenhouse", "salesforce", "workday"} <= keys
        bamboo = next(i for i in listed if i["provider"] == "bamboohr")
        assert bamboo["active"] is True and bamboo["logo_url"].startswith(base)
        logo = checked(requests.get(bamboo["logo_url"], timeout=5))
        assert logo.headers["Content-Type"].startswith("image/svg+xml") and b"<svg" in logo.content
        config = hub(base, token, "GET", "/connectors/sbx-bamboohr").json()["config"]
        assert [f["key"] for f in config["configFields"]] == ["subdomain", "api_key"]
        created = link_bamboohr(base, token)
        assert created.status_code == 201
        account_id = created.json()["id"]
        assert created.json()["provider"] == "bamboohr"
        assert wait_for_deliveries(app, 5)
    assert len(events) == 1
    event = events[0]
    assert (event.type, event.source, event.account_id) == (
        "account.created",
        "webhook",
        account_id,
    )
    assert (event.owner_id, event.owner_name, event.username) == (
        "org_1",
        "Acme Ltd",
        "ada@acme.test",
    )
    assert event.raw["setup_information"] == {"subdomain": "acme"}
    [delivery] = get_sandbox(app).store.deliveries()
    assert delivery["state"] == "delivered"
    assert [a["status"] for a in delivery["attempts_log"]] == [200]
    assert delivery["attempts_log"][0]["url"].endswith("/stackone/webhooks")
    account = get_client(app).get_account(account_id)
    assert account.status == "active" and account.setup_information == {"subdomain": "acme"}


def test_expired_token_is_refused_with_stackones_401(app: Flask) -> None:
    session = get_client(app).create_connect_session(
        origin_owner_id="org_1", origin_owner_name="Acme Ltd", expires_in=1
    )
    with serve(app) as base:
        assert hub(base, session.token, "GET", "/settings").status_code == 200
        time.sleep(1.1)
        refused = hub(base, session.token, "GET", "/connectors")
        assert refused.status_code == 401
        assert refused.json()["statusCode"] == 401 and "expired" in refused.json()["message"]
        assert link_bamboohr(base, session.token).status_code == 401
        assert hub(base, "not-a-token", "GET", "/settings").status_code == 401
        page = checked(requests.get(base + urlsplit(session.auth_link_url).path, timeout=5))
        assert page.status_code == 401 and "expired" in page.text
    with pytest.raises(InvalidRequestError, match="expired"):
        get_client(app).authenticate_connect_session(session.token)


def test_oauth_attempt_completes_through_the_popup(app: Flask) -> None:
    events = recorder(app)
    with serve(app) as base:
        token = token_from_plugin(base)
        config = hub(base, token, "GET", "/connectors/sbx-salesforce").json()["config"]
        assert config["type"] == "oauth2" and config["grantType"] == "authorization_code"
        attempt = hub(base, token, "POST", "/connection_attempts", json={"token": token}).json()
        state = hub(base, token, "GET", f"/connection_attempts/{attempt['id']}").json()
        assert state == {"id": attempt["id"], "status": "pending", "account": None, "error": None}
        # The URL the Hub opens: {base-url}/connect/oauth2/{id}?redirect_uri={app-url}/embedded/...
        callback = f"{base}/stackone-sandbox/embedded/accounts/callback"
        popup = f"{base}/stackone-sandbox/connect/oauth2/sbx-salesforce"
        query = {
            "redirect_uri": callback, "token": token, "connection_attempt_id": attempt["id"],
            "instance_url": "https://acme.my.salesforce.com",
        }  # fmt: skip
        shown = checked(requests.get(popup, params=query, timeout=5))
        assert shown.status_code == 200 and "Authorize" in shown.text
        done = checked(requests.post(popup, data={**query, "action": "authorize"}, timeout=5))
        assert done.status_code == 200 and done.url.startswith(callback)
        assert "Account connected" in done.text
        state = hub(base, token, "GET", f"/connection_attempts/{attempt['id']}").json()
        assert state["status"] == "authenticated" and state["error"] is None
        account = get_client(app).get_account(state["account"]["id"])
        assert account.provider == "salesforce"
        assert account.setup_information == {"instance_url": "https://acme.my.salesforce.com"}
        again = checked(requests.post(popup, data={**query, "action": "authorize"}, timeout=5))
        assert again.status_code == 409
        # Deny: the attempt ends in an error the Hub shows.
        second = hub(base, token, "POST", "/connection_attempts", json={"token": token}).json()
        checked(
            requests.post(
                popup,
                data={**query, "connection_attempt_id": second["id"], "action": "deny"},
                timeout=5,
            )
        )
        denied = hub(base, token, "GET", f"/connection_attempts/{second['id']}").json()
        assert denied["status"] == "error" and denied["error"]["code"] == "access_denied"
        assert wait_for_deliveries(app, 5)
    assert [e.account_id for e in events] == [account.id]


def test_a_failing_receiver_gets_three_deliveries_and_the_account_is_stored_once(
    app: Flask,
) -> None:
    calls: list[str] = []
    stored: dict[str, Any] = {}

    @account_created.connect_via(app, weak=False)
    def flaky_store(sender: Flask, event: Any, **extra: Any) -> None:
        calls.append(event.account_id)
        if len(calls) <= 2:
            raise RuntimeError("database is down")
        stored[event.account_id] = event

    with serve(app) as base:
        account_id = link_bamboohr(base, token_from_plugin(base)).json()["id"]
        assert wait_for_deliveries(app, 10)
    assert calls == [account_id] * 3
    assert list(stored) == [account_id]
    [delivery] = get_sandbox(app).store.deliveries()
    assert delivery["state"] == "delivered" and delivery["attempts"] == 3
    assert [a["status"] for a in delivery["attempts_log"]] == [500, 500, 200]
    assert "receiver_failed" in delivery["attempts_log"][0]["answer"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A webhook URL on a port held (bound, not listening) for the test: always refused."""
    with refused_port() as port:
        yield f"http://127.0.0.1:{port}/stackone/webhooks"


def test_pending_deliveries_resume_after_a_restart(
    tmp_path: Path, apps: list[Flask], dead_url: str
) -> None:
    first = sandbox_app(
        tmp_path, STACKONE_SANDBOX_WEBHOOK_URL=dead_url, STACKONE_SANDBOX_DELIVERY_BACKOFF=0.3
    )
    apps.append(first)
    client = first.test_client()
    token = (
        get_client(first)
        .create_connect_session(origin_owner_id="org_1", origin_owner_name="Acme Ltd")
        .token
    )
    credentials = {"service_user_id": "SERVICE-1", "service_user_token": "t"}
    created = client.post(
        f"{HUB}/accounts",
        json={"integration_id": "sbx-hibob", "credentials": credentials},
        headers={"x-hub-session-token": token},
    )
    assert created.status_code == 201
    store = get_sandbox(first).store
    deadline = time.monotonic() + 5
    while not store.deliveries()[0]["attempts_log"] and time.monotonic() < deadline:
        time.sleep(0.02)
    stop_deliveries(first)
    [pending] = store.deliveries()
    assert pending["state"] == "pending"
    assert (
        pending["attempts_log"][0]["status"] is None
        and "ConnectionError" in pending["attempts_log"][0]["error"]
    )

    second = sandbox_app(tmp_path)  # same instance folder, the app's own webhook route
    apps.append(second)
    events = recorder(second)
    with serve(second) as base:
        assert checked(requests.get(f"{base}/stackone-sandbox/", timeout=5)).status_code == 200
        assert wait_for_deliveries(second, 5)
    assert [e.account_id for e in events] == [created.json["id"]]
    [delivered] = get_sandbox(second).store.deliveries()
    assert delivered["state"] == "delivered" and delivered["attempts_log"][-1]["status"] == 200


def test_invalid_credentials_are_rejected_and_error_ones_link_an_error_account(app: Flask) -> None:
    with serve(app) as base:
        token = token_from_plugin(base)
        refused = link_bamboohr(base, token, api_key="my-invalid-key")
        assert refused.status_code == 400
        body = refused.json()
        assert body["statusCode"] == 400 and "BambooHR rejected" in body["message"]
        assert "timestamp" in body and "provider_response" in body
        assert get_client(app).list_accounts() == []
        missing = hub(
            base,
            token,
            "POST",
            "/accounts",
            json={"integration_id": "sbx-bamboohr", "credentials": {"subdomain": "acme"}},
        )
        assert missing.status_code == 400 and "API Key is required" in missing.json()["message"]
        created = link_bamboohr(base, token, api_key="error-please")
        assert created.status_code == 201
        assert wait_for_deliveries(app, 5)
    account = get_client(app).get_account(created.json()["id"])
    assert account.status == "error" and not account.is_active
    assert account.status_reasons and "permission" in account.status_reasons[0].description
    assert [d["event"] for d in get_sandbox(app).store.deliveries()] == ["account.created"]


def test_session_filters_are_honoured_by_the_connector_calls(app: Flask) -> None:
    client = get_client(app)
    only_bamboo = client.create_connect_session(
        origin_owner_id="o", origin_owner_name="O", provider="bamboohr"
    )
    ats = client.create_connect_session(
        origin_owner_id="o", origin_owner_name="O", categories=["ats"]
    )
    with serve(app) as base:
        listed = hub(base, only_bamboo.token, "GET", "/connectors").json()["integrations"]
        assert [i["provider"] for i in listed] == ["bamboohr"]
        assert hub(base, only_bamboo.token, "GET", "/connectors/sbx-greenhouse").status_code == 404
        refused = hub(
            base,
            only_bamboo.token,
            "POST",
            "/accounts",
            json={"integration_id": "sbx-hibob", "credentials": {}},
        )
        assert refused.status_code == 404
        providers = {
            i["provider"] for i in hub(base, ats.token, "GET", "/connectors").json()["integrations"]
        }
        assert providers == {"greenhouse", "lever", "workday"}
        narrowed = hub(base, ats.token, "GET", "/connectors", params={"provider": "lever"}).json()
        assert [i["provider"] for i in narrowed["integrations"]] == ["lever"]


def test_accounts_list_filters_and_pages(app: Flask) -> None:
    client = get_client(app)
    with serve(app) as base:
        ids = []
        for owner in ("a", "a", "b"):
            token = client.create_connect_session(
                origin_owner_id=owner, origin_owner_name=owner.upper(), multiple=True
            ).token
            ids.append(link_bamboohr(base, token).json()["id"])

        def listed(**params: Any) -> list[str]:
            response = checked(
                requests.get(
                    f"{base}/stackone-sandbox/accounts",
                    params=params,
                    auth=(API_KEY, ""),
                    timeout=5,
                )
            )
            assert response.status_code == 200 and isinstance(response.json(), list)
            return [a["id"] for a in response.json()]

        assert listed() == ids
        assert listed(origin_owner_id="a") == ids[:2]
        assert listed(page_size=2, page=2) == ids[2:]
        assert listed(providers="hibob") == []
        assert listed(account_ids=[ids[0], ids[2]]) == [ids[0], ids[2]]
        assert listed(status="error") == []
        bad = checked(
            requests.get(
                f"{base}/stackone-sandbox/accounts",
                params={"page_size": "x"},
                auth=(API_KEY, ""),
                timeout=5,
            )
        )
        assert bad.status_code == 400 and bad.json()["statusCode"] == 400
    assert [a.id for a in client.list_accounts(owner_id="a", page_size=1)] == ids[:2]


def test_wrong_or_missing_api_key_gets_stackones_401(app: Flask) -> None:
    with serve(app) as base:
        for auth in (("sk_wrong", ""), None):
            response = checked(
                requests.post(
                    f"{base}/stackone-sandbox/connect_sessions",
                    json={"origin_owner_id": "o", "origin_owner_name": "O"},
                    auth=auth,
                    timeout=5,
                )
            )
            assert response.status_code == 401
            body = response.json()
            assert body["statusCode"] == 401 and body["message"].startswith("Unauthorized")
            assert set(body) == {"statusCode", "message", "timestamp"}
        ok = checked(
            requests.post(
                f"{base}/stackone-sandbox/connect_sessions",
                json={"origin_owner_id": "o", "origin_owner_name": "O"},
                auth=(API_KEY, ""),
                timeout=5,
            )
        )
        assert ok.status_code == 201
        assert ok.json()["auth_link_url"].startswith(f"{base}/stackone-sandbox/auth-link/")


def test_the_sandbox_refuses_a_remote_api_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="STACKONE_API_URL") as info:
        sandbox_app(tmp_path, STACKONE_API_URL="https://eu.api.stackone.com")
    assert API_KEY not in str(info.value)


def test_a_local_api_url_is_used_over_real_http(tmp_path: Path, apps: list[Flask]) -> None:
    port = free_port()
    app = sandbox_app(tmp_path, STACKONE_API_URL=f"http://127.0.0.1:{port}/stackone-sandbox")
    apps.append(app)
    client = get_client(app)
    assert client.base_url == f"http://127.0.0.1:{port}/stackone-sandbox"
    with serve(app, port=port):
        session = client.create_connect_session(origin_owner_id="o", origin_owner_name="O")
    assert session.auth_link_url.startswith(f"http://127.0.0.1:{port}/stackone-sandbox/auth-link/")
