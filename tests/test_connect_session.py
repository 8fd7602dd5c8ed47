"""POST /stackone/connect-session: the token route the widget calls."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
import requests

from flask_stackone import Owner, connect_session_created

from .conftest import API, API_KEY, build_app, expect_session

HEADERS = {"X-StackOne-Request": "1"}


def owner_body(**extra):
    return {
        "origin_owner_id": "org_1",
        "origin_owner_name": "Acme Ltd",
        "origin_username": "ada@acme.test",
        "expires_in": 1800,
        **extra,
    }


def test_answers_only_token_and_expiry_with_no_store(api, client):
    expect_session(api, owner_body())
    before = datetime.now(timezone.utc)
    response = client.post("/stackone/connect-session", headers=HEADERS)
    assert response.status_code == 200
    data = response.get_json()
    assert set(data) == {"token", "expires_in", "expires_at"}
    assert data["token"] == "hub-token-xyz" and data["expires_in"] == 1800
    expires_at = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=1799) <= expires_at <= before + timedelta(seconds=1802)
    assert response.headers["Cache-Control"] == "no-store"
    sent = api.calls[0].request
    assert (
        sent.headers["Authorization"]
        == "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()
    )


def test_the_owner_comes_from_the_server_never_the_browser(api, client):
    expect_session(api, owner_body())
    forged = {"origin_owner_id": "org_evil", "owner_id": "org_evil", "origin_owner_name": "Evil"}
    assert client.post("/stackone/connect-session", json=forged, headers=HEADERS).status_code == 200


def test_provider_and_categories_are_passed_on(api, client):
    expect_session(api, owner_body(provider="bamboohr", categories=["ats", "hris"]))
    response = client.post(
        "/stackone/connect-session",
        json={"provider": "bamboohr", "categories": ["hris", "ats", "hris"]},
        headers=HEADERS,
    )
    assert response.status_code == 200


def test_configured_session_lifetime_is_sent(api):
    app = build_app(STACKONE_SESSION_EXPIRES_IN=600)
    expect_session(api, owner_body(expires_in=600))
    assert (
        app.test_client()
        .post("/stackone/connect-session", headers=HEADERS)
        .get_json()["expires_in"]
        == 600
    )


def test_category_allow_list_is_applied_when_none_is_asked_for(api):
    app = build_app(STACKONE_CATEGORIES=["hris"])
    expect_session(api, owner_body(categories=["hris"]))
    assert app.test_client().post("/stackone/connect-session", headers=HEADERS).status_code == 200


@pytest.mark.parametrize(
    ("config", "body", "code"),
    [
        ({}, {"provider": "Bad Provider!"}, "invalid_provider"),
        ({}, {"provider": 12}, "invalid_provider"),
        ({"STACKONE_PROVIDERS": ["hibob"]}, {"provider": "bamboohr"}, "provider_not_allowed"),
        ({}, {"categories": ["hris", "spaceships"]}, "invalid_category"),
        ({}, {"categories": {"hris": 1}}, "invalid_category"),
        ({"STACKONE_CATEGORIES": ["hris"]}, {"categories": ["ats"]}, "invalid_category"),
        ({}, {"account_id": "../../etc"}, "invalid_account_id"),
        ({}, {"account_id": 5}, "invalid_account_id"),
    ],
)
def test_bad_options_are_400_and_never_reach_stackone(api, config, body, code):
    client = build_app(**config).test_client()
    response = client.post("/stackone/connect-session", json=body, headers=HEADERS)
    assert response.status_code == 400
    assert response.get_json()["error"] == code
    assert len(api.calls) == 0


@pytest.mark.parametrize(
    "raw", [b"{", b"[1, 2]", b'"text"', b"\xff\xfe\x00", b"[" * 5000 + b"]" * 5000]
)
def test_malformed_json_is_400(api, client, raw):
    response = client.post(
        "/stackone/connect-session",
        data=raw,
        headers={**HEADERS, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_json"


def test_an_oversized_body_is_413_json(api, client):
    response = client.post("/stackone/connect-session", data=b" " * 20000, headers=HEADERS)
    assert response.status_code == 413 and response.get_json()["error"] == "too_large"


def test_without_the_request_header_the_route_refuses_403(api, client):
    response = client.post("/stackone/connect-session")
    assert response.status_code == 403
    assert response.get_json()["error"] == "missing_request_header"
    assert (
        client.post("/stackone/connect-session", headers={"X-StackOne-Request": "yes"}).status_code
        == 403
    )


def test_no_owner_is_401_json_never_a_redirect(api):
    client = build_app(owner=None).test_client()
    response = client.post("/stackone/connect-session", headers=HEADERS)
    assert response.status_code == 401
    assert response.get_json() == {"error": "not_signed_in", "message": "sign in to link accounts"}


def test_get_is_405_json(client):
    response = client.get("/stackone/connect-session")
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"


def test_missing_key_is_503_naming_the_setting(api):
    client = build_app(STACKONE_API_KEY=None).test_client()
    response = client.post("/stackone/connect-session", headers=HEADERS)
    assert response.status_code == 503
    assert response.get_json()["error"] == "not_configured"
    assert "STACKONE_API_KEY" in response.get_json()["message"]


def test_missing_owner_loader_is_503_naming_the_decorator(api):
    from flask import Flask

    from flask_stackone import make_blueprint

    app = Flask("no_loader")
    app.config.update(STACKONE_API_KEY=API_KEY, STACKONE_WEBHOOK_SECRET="s")
    app.register_blueprint(make_blueprint())
    response = app.test_client().post("/stackone/connect-session", headers=HEADERS)
    assert response.status_code == 503
    assert "owner_loader" in response.get_json()["message"]


# -- re-connect ------------------------------------------------------------------------------


def test_reconnect_checks_the_account_belongs_to_the_owner(api, client):
    api.get(
        f"{API}/accounts/acc_1",
        json={"id": "acc_1", "provider": "hibob", "origin_owner_id": "org_1"},
    )
    expect_session(api, owner_body(account_id="acc_1", provider="hibob"))
    response = client.post(
        "/stackone/connect-session", json={"account_id": "acc_1"}, headers=HEADERS
    )
    assert response.status_code == 200


def test_reconnect_of_another_owners_account_is_403(api, client):
    api.get(
        f"{API}/accounts/acc_2",
        json={"id": "acc_2", "provider": "hibob", "origin_owner_id": "org_2"},
    )
    response = client.post(
        "/stackone/connect-session", json={"account_id": "acc_2"}, headers=HEADERS
    )
    assert response.status_code == 403
    assert response.get_json()["error"] == "foreign_account"


def test_reconnect_of_an_unknown_account_is_404(api, client):
    api.get(f"{API}/accounts/acc_404", status=404, json={"statusCode": 404, "message": "Not found"})
    response = client.post(
        "/stackone/connect-session", json={"account_id": "acc_404"}, headers=HEADERS
    )
    assert response.status_code == 404
    assert response.get_json()["error"] == "account_not_found"


# -- StackOne failures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stackone", "status", "code"),
    [
        (
            {"status": 401, "json": {"statusCode": 401, "message": "Unauthorized"}},
            502,
            "stackone_auth_failed",
        ),
        (
            {"status": 403, "json": {"statusCode": 403, "message": "Forbidden"}},
            502,
            "stackone_auth_failed",
        ),
        (
            {"status": 400, "json": {"statusCode": 400, "message": "bad"}},
            502,
            "stackone_unavailable",
        ),
        (
            {"status": 500, "json": {"statusCode": 500, "message": "boom"}},
            502,
            "stackone_unavailable",
        ),
        ({"status": 502, "body": "<html>bad gateway</html>"}, 502, "stackone_unavailable"),
        ({"status": 201, "body": '{"id": 1, "tok'}, 502, "stackone_unavailable"),
        ({"status": 201, "json": {"id": 1}}, 502, "stackone_unavailable"),
        ({"body": requests.exceptions.ReadTimeout("slow")}, 504, "stackone_timeout"),
        ({"body": requests.exceptions.ConnectionError("refused")}, 502, "stackone_unavailable"),
    ],
)
def test_stackone_failures_map_to_documented_codes(api, client, stackone, status, code):
    api.post(f"{API}/connect_sessions", **stackone)
    response = client.post("/stackone/connect-session", headers=HEADERS)
    assert response.status_code == status
    assert response.get_json()["error"] == code


def test_rate_limit_is_503_with_retry_after(api):
    client = build_app(STACKONE_MAX_RETRIES=0).test_client()
    api.post(
        f"{API}/connect_sessions", status=429, json={"statusCode": 429, "message": "Too many"},
        headers={"Retry-After": "7"},
    )  # fmt: skip
    response = client.post("/stackone/connect-session", headers=HEADERS)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert response.get_json()["error"] == "stackone_rate_limited"


# -- signal ----------------------------------------------------------------------------------


def test_connect_session_created_is_sent_without_the_token(api, app, client):
    expect_session(api, owner_body(provider="bamboohr"))
    seen = []
    with connect_session_created.connected_to(
        lambda sender, event: seen.append((sender, event)), app
    ):
        client.post("/stackone/connect-session", json={"provider": "bamboohr"}, headers=HEADERS)
    ((sender, event),) = seen
    assert sender is app
    assert event.session_id == "9" and event.owner_id == "org_1" and event.provider == "bamboohr"
    assert "hub-token-xyz" not in repr(event) and "hub-token-xyz" not in json.dumps(
        str(vars(event))
    )


def test_owner_loader_returning_something_else_fails_loudly(api):
    app = build_app(owner=None)
    app.blueprints["stackone"].owner_loader(lambda: {"id": "org_1"})
    with pytest.raises(TypeError, match="Owner"):
        app.test_client().post("/stackone/connect-session", headers=HEADERS)


def test_owner_is_plain_dataclass():
    assert Owner("o", "n").username is None


def test_an_empty_category_list_does_not_widen_the_allow_list(api):
    app = build_app(STACKONE_CATEGORIES=["hris"])
    expect_session(api, owner_body(categories=["hris"]))
    response = app.test_client().post(
        "/stackone/connect-session", json={"categories": []}, headers=HEADERS
    )
    assert response.status_code == 200


@pytest.mark.parametrize("account_id", [".", ".."])
def test_dot_account_ids_are_400_not_500(api, client, account_id):
    response = client.post(
        "/stackone/connect-session", json={"account_id": account_id}, headers=HEADERS
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_account_id"


# -- multiple: one more account of a connector the owner already has ---------------------------


def test_multiple_is_passed_on_only_when_true(api, client):
    expect_session(api, owner_body(provider="bamboohr", multiple=True))
    expect_session(api, owner_body(provider="bamboohr"))
    for multiple in (True, False):
        response = client.post(
            "/stackone/connect-session",
            json={"provider": "bamboohr", "multiple": multiple},
            headers=HEADERS,
        )
        assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"multiple": "yes"},
        {"multiple": 1},
        {"multiple": None, "account_id": "acc_1", "provider": 5},
        {"multiple": True, "account_id": "acc_1"},
    ],
)
def test_a_bad_multiple_is_400_and_never_reaches_stackone(api, client, body):
    response = client.post("/stackone/connect-session", json=body, headers=HEADERS)
    assert response.status_code == 400
    assert response.get_json()["error"] in ("invalid_multiple", "invalid_provider")
    assert len(api.calls) == 0
