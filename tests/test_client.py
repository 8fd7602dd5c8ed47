"""StackOneClient: what goes over the wire, how StackOne's answers and failures map."""

from __future__ import annotations

import base64
import json
import threading
import time
from types import SimpleNamespace

import pytest
import requests
from flask import Flask, Response
from responses import matchers

import flask_stackone.core.client as client_module
from flask_stackone import StackOneClient, errors
from flask_stackone.core.client import USER_AGENT, is_local_url, is_loopback, parse_retry_after

from .conftest import API, API_KEY
from .live_server import refused_port, serve

SESSION_ANSWER = {
    "id": 42,
    "organization_id": 7,
    "project_id": "proj_1",
    "origin_owner_id": "org_1",
    "origin_owner_name": "Acme Ltd",
    "created_at": "2026-11-24T10:00:00.000Z",
    "token": "hub-token-abc",
    "auth_link_url": "https://hub.stackone.com/connect?token=hub-token-abc",
    "brand_new_field": 1,
}


def account(id="acc_1", owner="org_1", status="active", **extra):
    return {"id": id, "provider": "bamboohr", "status": status, "origin_owner_id": owner, **extra}


@pytest.fixture
def client():
    return StackOneClient(API_KEY, timeout=2, max_retries=2, max_retry_wait=2)


def test_create_session_sends_exactly_the_documented_body_and_basic_auth(api, client):
    expected_auth = "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()
    api.post(
        f"{API}/connect_sessions",
        status=201,
        json=SESSION_ANSWER,
        match=[
            matchers.header_matcher({"Authorization": expected_auth, "User-Agent": USER_AGENT}),
            matchers.json_params_matcher(
                {
                    "origin_owner_id": "org_1",
                    "origin_owner_name": "Acme Ltd",
                    "origin_username": "ada@acme.test",
                    "provider": "bamboohr",
                    "categories": ["hris"],
                    "account_id": "acc_9",
                    "expires_in": 600,
                    "metadata": {"plan": "pro"},
                    "multiple": True,
                    "label": "Main HR",
                    "type": "production",
                    "connector_profile_id": "cp_1",
                },
                strict_match=True,
            ),
        ],
    )
    session = client.create_connect_session(
        origin_owner_id="org_1",
        origin_owner_name="Acme Ltd",
        origin_username="ada@acme.test",
        provider="bamboohr",
        categories=["hris"],
        account_id="acc_9",
        expires_in=600,
        metadata={"plan": "pro"},
        multiple=True,
        label="Main HR",
        type="production",
        connector_profile_id="cp_1",
    )
    assert session.token == "hub-token-abc"
    assert session.id == "42" and session.organization_id == "7"
    assert session.expires_in == 600
    assert session.raw["brand_new_field"] == 1
    assert "hub-token-abc" not in repr(session)


def test_optional_fields_left_out_are_not_sent(api, client):
    api.post(
        f"{API}/connect_sessions",
        status=201,
        json=SESSION_ANSWER,
        match=[
            matchers.json_params_matcher(
                {"origin_owner_id": "org_1", "origin_owner_name": "Acme"}, strict_match=True
            )
        ],
    )
    session = client.create_connect_session(origin_owner_id="org_1", origin_owner_name="Acme")
    assert session.expires_in == 1800  # StackOne's default when none is sent


def test_the_older_name_of_the_connector_profile_is_sent_as_the_current_one(api, client):
    api.post(
        f"{API}/connect_sessions",
        status=201,
        json=SESSION_ANSWER,
        match=[
            matchers.json_params_matcher(
                {"origin_owner_id": "o", "origin_owner_name": "O", "connector_profile_id": "cp_2"},
                strict_match=True,
            )
        ],
    )
    client.create_connect_session(origin_owner_id="o", origin_owner_name="O", integration_id="cp_2")
    with pytest.raises(ValueError, match="one field"):
        client.create_connect_session(
            origin_owner_id="o", origin_owner_name="O", integration_id="a", connector_profile_id="b"
        )


def test_authenticate_answers_a_typed_session_without_token(api, client):
    answer = {k: v for k, v in SESSION_ANSWER.items() if k not in ("token", "auth_link_url")}
    answer.update(
        label="Payroll", type="test", metadata={"plan": "pro"}, integration_id="cp_1",
        latest_connection_attempt={"id": "att_1", "status": "pending"},
    )  # fmt: skip
    api.post(
        f"{API}/connect_sessions/authenticate",
        status=201,
        json=answer,
        match=[matchers.json_params_matcher({"token": "hub-token-abc"}, strict_match=True)],
    )
    session = client.authenticate_connect_session("hub-token-abc")
    assert (session.id, session.organization_id, session.origin_owner_id) == ("42", "7", "org_1")
    assert (session.label, session.type, session.metadata) == ("Payroll", "test", {"plan": "pro"})
    assert session.connector_profile_id == "cp_1"
    assert session.latest_connection_attempt == {"id": "att_1", "status": "pending"}
    assert session.raw["brand_new_field"] == 1


def test_get_account_meta(api, client):
    api.get(
        f"{API}/accounts/acc_1/meta",
        json={"provider": "hibob", "category": "hris", "models": {"employees": {}}},
    )
    meta = client.get_account_meta("acc_1")
    assert (meta.provider, meta.category, meta.models) == ("hibob", "hris", {"employees": {}})
    api.get(f"{API}/accounts/gone/meta", status=404, json={"statusCode": 404, "message": "no"})
    with pytest.raises(errors.NotFoundError):
        client.get_account_meta("gone")


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [
        (400, errors.InvalidRequestError),
        (401, errors.AuthenticationError),
        (403, errors.AuthenticationError),
        (404, errors.NotFoundError),
        (409, errors.InvalidRequestError),
        (422, errors.InvalidRequestError),
        (500, errors.ServerError),
        (501, errors.ServerError),
    ],
)
def test_error_bodies_become_typed_errors(api, client, status, exc_type):
    api.get(
        f"{API}/accounts/acc_1",
        status=status,
        json={
            "statusCode": status,
            "message": f"nope {status}",
            "timestamp": "2026-01-01T00:00:00Z",
        },
        headers={"x-request-id": "req-123"},
    )
    with pytest.raises(exc_type) as info:
        client.get_account("acc_1")
    assert info.value.status == status
    assert info.value.message == f"nope {status}"
    assert info.value.request_id == "req-123"
    assert "req-123" in str(info.value)


def test_the_key_is_redacted_from_stackone_messages_and_never_in_repr(api, client):
    api.get(f"{API}/accounts/acc_1", status=401, json={"message": f"bad key {API_KEY}"})
    with pytest.raises(errors.AuthenticationError) as info:
        client.get_account("acc_1")
    assert API_KEY not in str(info.value) and "***" in str(info.value)
    assert API_KEY not in repr(client)


@pytest.mark.parametrize("before", [490, 495, 499, 500 - len(API_KEY) + 1])
def test_a_key_straddling_the_cut_of_a_long_message_leaks_none_of_it(api, client, before, caplog):
    """StackOne's message is cut to 500 characters: masking after the cut let the first
    characters of a key that straddled it through, into the exception and the log."""
    message = "x" * before + API_KEY + " y" * 300
    api.get(f"{API}/accounts/acc_1", status=400, json={"message": message})
    with pytest.raises(errors.InvalidRequestError) as info:
        client.get_account("acc_1")
    texts = [str(info.value), info.value.message, *(r.getMessage() for r in caplog.records)]
    for text in texts:
        for size in range(4, len(API_KEY) + 1):
            assert API_KEY[:size] not in text, f"{size} characters of the key leaked"
    assert info.value.message.startswith("x" * before) and len(info.value.message) <= 500


def test_get_retries_429_honouring_retry_after_then_succeeds(api, client):
    api.get(
        f"{API}/accounts/acc_1",
        status=429,
        json={"message": "slow down"},
        headers={"Retry-After": "0"},
    )
    api.get(f"{API}/accounts/acc_1", status=503, json={"message": "busy"})
    api.get(f"{API}/accounts/acc_1", json=account())
    assert client.get_account("acc_1").is_active
    assert len(api.calls) == 3


def test_get_retries_are_bounded_in_count(api, client):
    for _ in range(3):
        api.get(f"{API}/accounts/acc_1", status=502, json={"message": "bad gateway"})
    with pytest.raises(errors.ServerError):
        client.get_account("acc_1")
    assert len(api.calls) == 3  # one try and max_retries=2 retries


def test_a_retry_after_beyond_the_budget_is_not_waited_for(api, client, monkeypatch):
    api.get(
        f"{API}/accounts/acc_1",
        status=429,
        json={"message": "later"},
        headers={"Retry-After": "120"},
    )
    waits: list[float] = []
    fake_time = SimpleNamespace(monotonic=time.monotonic, sleep=waits.append)
    monkeypatch.setattr(client_module, "time", fake_time)
    with pytest.raises(errors.RateLimitedError) as info:
        client.get_account("acc_1")
    assert waits == []  # 120 s is beyond max_retry_wait=2: the error comes at once
    assert len(api.calls) == 1
    assert info.value.retry_after == 120


def test_session_post_is_not_retried_after_it_may_have_reached_stackone(api, client):
    api.post(f"{API}/connect_sessions", status=503, json={"message": "unavailable"})
    with pytest.raises(errors.ServerError):
        client.create_connect_session(origin_owner_id="o", origin_owner_name="O")
    assert len(api.calls) == 1


def test_session_post_is_retried_on_429(api, client):
    api.post(
        f"{API}/connect_sessions", status=429, json={"message": "x"}, headers={"Retry-After": "0"}
    )
    api.post(f"{API}/connect_sessions", status=201, json=SESSION_ANSWER)
    assert client.create_connect_session(origin_owner_id="o", origin_owner_name="O").token
    assert len(api.calls) == 2


def test_session_post_read_timeout_is_not_retried(api, client):
    api.post(f"{API}/connect_sessions", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(errors.StackOneTimeout):
        client.create_connect_session(origin_owner_id="o", origin_owner_name="O")
    assert len(api.calls) == 1


def test_list_accounts_walks_every_page_and_sends_filters(api, client):
    base = {"page_size": "2", "origin_owner_id": "org_1", "providers": ["bamboohr", "hibob"]}
    for page, ids in ((1, ["a", "b"]), (2, ["c", "d"]), (3, ["e"])):
        api.get(
            f"{API}/accounts",
            json=[account(i) for i in ids] if page != 2 else {"data": [account(i) for i in ids]},
            match=[matchers.query_param_matcher({**base, "page": str(page)})],
        )
    found = client.list_accounts(owner_id="org_1", providers=["bamboohr", "hibob"], page_size=2)
    assert [a.id for a in found] == ["a", "b", "c", "d", "e"]


def test_list_accounts_sends_the_owner_and_account_lists_as_repeated_keys(api, client):
    wanted = {"page_size": "25", "page": "1", "origin_owner_ids": ["o1", "o2"],
              "account_ids": ["a", "b"], "status": "active"}  # fmt: skip
    api.get(f"{API}/accounts", json=[account("a")], match=[matchers.query_param_matcher(wanted)])
    found = client.list_accounts(owner_ids=["o1", "o2"], account_ids=["a", "b"], status=["active"])
    assert [a.id for a in found] == ["a"]


def test_non_json_success_is_an_invalid_response(api, client):
    api.get(f"{API}/accounts/acc_1", body="<html>proxy error</html>", status=200)
    with pytest.raises(errors.InvalidResponseError):
        client.get_account("acc_1")


def test_ids_cannot_change_the_path(api, client):
    api.get(f"{API}/accounts/..%2Fconnect_sessions", status=404, json={"message": "no"})
    with pytest.raises(errors.NotFoundError):
        client.get_account("../connect_sessions")
    with pytest.raises(ValueError):
        client.get_account("..")


@pytest.mark.parametrize("url", ["http://api.stackone.com", "ftp://x", "not a url"])
def test_the_key_is_never_sent_to_a_non_https_remote_url(url):
    with pytest.raises(errors.ConfigurationError, match="STACKONE_API_URL"):
        StackOneClient(API_KEY, url)


@pytest.mark.parametrize(
    "url", ["http://localhost:8080", "http://127.0.0.1:5000/x", "http://sb.localhost"]
)
def test_local_http_is_allowed(url):
    assert StackOneClient(API_KEY, url).base_url == url.rstrip("/")


def test_missing_key_is_a_configuration_error():
    with pytest.raises(errors.ConfigurationError, match="STACKONE_API_KEY"):
        StackOneClient("")


@pytest.mark.parametrize(
    ("header", "expected"), [("3", 3.0), ("0", 0.0), ("-4", 0.0), ("soon", None), (None, None)]
)
def test_retry_after_parsing(header, expected):
    assert parse_retry_after(header) == expected


# -- over real HTTP --------------------------------------------------------------------------


def test_connection_refused_is_a_connection_error():
    with refused_port() as port:
        client = StackOneClient(API_KEY, f"http://127.0.0.1:{port}", timeout=1, max_retries=0)
        with pytest.raises(errors.StackOneConnectionError):
            client.get_account("acc_1")


def test_a_stackone_that_never_answers_times_out():
    stub = Flask("hanging_stackone")
    release = threading.Event()
    calls: list[str] = []

    @stub.get("/accounts/<id>")
    def hang(id):
        calls.append(id)
        release.wait(60)  # answers only once the test is over
        return account(id)

    outcome: list[BaseException] = []

    def call() -> None:
        try:
            client.get_account("acc_1")
        except errors.StackOneError as exc:
            outcome.append(exc)

    with serve(stub) as url:
        client = StackOneClient(API_KEY, url, timeout=0.3, max_retries=1, max_retry_wait=1)
        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        thread.join(30)  # a hang detector: the client's timeout must end the call long before
        release.set()
        assert not thread.is_alive(), "the client waited for an answer that never came"
    assert len(outcome) == 1 and isinstance(outcome[0], errors.StackOneTimeout)
    assert 1 <= len(calls) <= 2  # one try and at most max_retries=1 retry


def test_truncated_body_is_an_invalid_response():
    stub = Flask("truncating_stackone")

    @stub.get("/accounts/<id>")
    def truncated(id):
        return Response(json.dumps(account(id))[:20], mimetype="application/json")

    with serve(stub) as url, pytest.raises(errors.InvalidResponseError):
        StackOneClient(API_KEY, url).get_account("acc_1")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("sandbox.localhost", False),  # a Host header is not vouched for by its suffix
        ("localhost.attacker.example", False),
        ("127.0.0.1.attacker.example", False),
        ("0.0.0.0", False),  # noqa: S104 - an address that listens everywhere
        ("10.0.0.1", False),
        ("", False),
    ],
)
def test_the_loopback_rule(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://localhost:5000/", True),
        ("http://127.0.0.1:4010", True),
        ("http://[::1]:4010/", True),
        ("http://sandbox.localhost/stackone-sandbox", True),  # resolves to this machine only
        ("http://localhost.attacker.example/", False),
        ("https://api.stackone.com", False),
        ("http://[::1", False),
    ],
)
def test_a_url_on_this_machine(url: str, local: bool) -> None:
    assert is_local_url(url) is local
