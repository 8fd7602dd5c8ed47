"""GET/POST /stackone/accounts and POST /stackone/accounts/<id>/disconnect: the accounts
panel's routes, with StackOne answered by ``responses``."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pytest
import requests
import responses
from flask import Flask
from flask_wtf.csrf import CSRFProtect
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from responses import matchers

from flask_stackone import Owner, account_deleted, get_state
from flask_stackone.testing import record_events

from .conftest import API, build_app

HEADERS = {"X-StackOne-Request": "1"}
LIST = "/stackone/accounts"
DISCONNECT = "/stackone/accounts/acc_1/disconnect"


def account(account_id: str = "acc_1", **fields: Any) -> dict[str, Any]:
    return {
        "id": account_id,
        "provider": "bamboohr",
        "provider_name": "BambooHR",
        "status": "active",
        "status_reasons": [],
        "origin_owner_id": "org_1",
        "origin_owner_name": "Acme Ltd",
        "origin_username": "ada@acme.test",
        "setup_information": {"subdomain": "acme"},
        "created_at": "2026-11-24T10:00:00.000Z",
        "updated_at": "2026-11-25T08:30:00.000Z",
        **fields,
    }


def meta(provider: str, name: str, category: str, logo: str | None = None) -> dict[str, Any]:
    return {
        "provider": provider,
        "provider_name": name,
        "category": category,
        "active": True,
        "models": {},
        "resources": {"images": {"logo_url": logo, "original_logo_horizontal_url": logo}},
    }


CONNECTORS = [
    meta("bamboohr", "BambooHR", "hris", "https://stackone-logos.com/api/bamboohr/filled/png"),
    meta("greenhouse", "Greenhouse", "ats", "javascript:alert(1)"),
    meta("hibob", "HiBob", "hris", "http://logos.example/hibob.png"),
]


def expect_list(
    api: responses.RequestsMock, items: list[dict[str, Any]], page: int = 1, **query: Any
) -> None:
    params = {"origin_owner_id": "org_1", "page_size": "25", "page": str(page), **query}
    api.get(
        f"{API}/accounts",
        json=items,
        match=[matchers.query_param_matcher(params, strict_match=True)],
    )


def expect_meta(api: responses.RequestsMock, **answer: Any) -> None:
    api.get(f"{API}/connectors/meta", **(answer or {"json": CONNECTORS}))


# -- the list ---------------------------------------------------------------------------------


def test_lists_the_owners_accounts_with_connector_names_and_logos(api, client):
    error = {"code": "permissions", "description": "Missing scope", "timestamp": None}
    expect_list(
        api,
        [
            account("acc_2", provider="hibob", provider_name=None, status="error",
                    status_reasons=[error], label="UK office"),
            account("acc_1"),
        ],
    )  # fmt: skip
    expect_meta(api)
    response = client.get(LIST, headers=HEADERS)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {
        "accounts": [
            {
                "id": "acc_1",
                "provider": "bamboohr",
                "name": "BambooHR",
                "label": None,
                "category": "hris",
                "logo_url": "https://stackone-logos.com/api/bamboohr/filled/png",
                "status": "active",
                "status_reasons": [],
                "created_at": "2026-11-24T10:00:00Z",
                "updated_at": "2026-11-25T08:30:00Z",
            },
            {
                "id": "acc_2",
                "provider": "hibob",
                "name": "HiBob",
                "label": "UK office",
                "category": "hris",
                "logo_url": None,  # plain http to another host: never put in a page
                "status": "error",
                "status_reasons": [error],
                "created_at": "2026-11-24T10:00:00Z",
                "updated_at": "2026-11-25T08:30:00Z",
            },
        ]
    }
    assert "subdomain" not in response.get_data(as_text=True)  # setup information stays home


def test_every_page_is_read(api, client):
    expect_list(api, [account(f"acc_{n:02d}") for n in range(25)], page=1)
    expect_list(api, [account("acc_25")], page=2)
    expect_meta(api)
    listed = client.get(LIST, headers=HEADERS).get_json()["accounts"]
    assert len(listed) == 26


def test_another_owners_account_is_never_listed_whatever_stackone_answers(api, client):
    expect_list(api, [account("acc_1"), account("acc_9", origin_owner_id="org_2")])
    expect_meta(api)
    listed = client.get(LIST, headers=HEADERS).get_json()["accounts"]
    assert [a["id"] for a in listed] == ["acc_1"]


def test_provider_and_categories_filter_the_list(api, client):
    expect_list(api, [account("acc_1")], providers="bamboohr")
    expect_meta(api)
    response = client.get(f"{LIST}?provider=bamboohr", headers=HEADERS)
    assert [a["id"] for a in response.get_json()["accounts"]] == ["acc_1"]

    expect_list(
        api,
        [
            account("acc_1"),
            account("acc_3", provider="greenhouse"),
            account("acc_4", provider="x", provider_name=None),
        ],
    )
    response = client.post(LIST, headers=HEADERS, json={"categories": ["ats"]})
    listed = response.get_json()["accounts"]
    # greenhouse is an ATS; StackOne says nothing of "x", so it is kept; BambooHR is not.
    assert [(a["id"], a["logo_url"]) for a in listed] == [("acc_3", None), ("acc_4", None)]


def test_an_empty_list_asks_no_connectors_meta(api, client):
    expect_list(api, [])
    response = client.get(LIST, headers=HEADERS)
    assert response.get_json() == {"accounts": []}
    assert len(api.calls) == 1


def test_connectors_meta_is_cached_and_its_failure_is_not_fatal(api, app: Flask, client):
    expect_list(api, [account("acc_1", provider_name="Bamboo (from the account)")])
    api.get(f"{API}/connectors/meta", status=500, json={"statusCode": 500, "message": "down"})
    first = client.get(LIST, headers=HEADERS).get_json()["accounts"]
    assert (first[0]["name"], first[0]["logo_url"]) == ("Bamboo (from the account)", None)
    meta_calls = len([c for c in api.calls if "connectors" in c.request.url])
    client.get(LIST, headers=HEADERS)  # the failure is remembered: no second try at once
    assert len([c for c in api.calls if "connectors" in c.request.url]) == meta_calls

    get_state(app).connectors.clear()
    api.replace(responses.GET, f"{API}/connectors/meta", json=CONNECTORS)
    assert client.get(LIST, headers=HEADERS).get_json()["accounts"][0]["name"] == "BambooHR"
    client.get(LIST, headers=HEADERS)
    assert len([c for c in api.calls if "connectors" in c.request.url]) == meta_calls + 1


def test_nobody_signed_in_is_401_before_stackone_is_asked(api):
    client = build_app(owner=None).test_client()
    for method in ("get", "post"):
        response = getattr(client, method)(LIST, headers=HEADERS)
        assert response.status_code == 401
        assert response.get_json()["error"] == "not_signed_in"


def test_the_list_needs_the_request_header(api, client):
    for method in ("get", "post"):
        response = getattr(client, method)(LIST)
        assert response.status_code == 403
        assert response.get_json()["error"] == "missing_request_header"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_on_the_list_get_a_json_405(api, client, method):
    response = getattr(client, method)(LIST, headers=HEADERS)
    assert response.status_code == 405
    assert response.is_json
    assert response.headers["Allow"] == "GET, POST"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("provider=Bamboo%20HR", "invalid_provider"),
        ("provider=bamboohr%0A", "invalid_provider"),
        ("categories=hris,nonsense", "invalid_category"),
    ],
)
def test_bad_filters_are_400_before_stackone_is_asked(api, client, query, code):
    response = client.get(f"{LIST}?{query}", headers=HEADERS)
    assert response.status_code == 400
    assert response.get_json()["error"] == code


def test_a_provider_the_app_does_not_offer_is_400(api):
    client = build_app(STACKONE_PROVIDERS=["hibob"]).test_client()
    response = client.get(f"{LIST}?provider=bamboohr", headers=HEADERS)
    assert (response.status_code, response.get_json()["error"]) == (400, "provider_not_allowed")


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"{not json", "invalid_json"), (b"[]", "invalid_json"), (b'{"provider": 7}', None)],
)
def test_a_bad_post_body_is_400(api, client, body, code):
    response = client.post(LIST, headers={**HEADERS, "Content-Type": "application/json"}, data=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == (code or "invalid_provider")


SLOW_DOWN = {"statusCode": 429, "message": "slow"}
FAILURES = [
    ({"status": 401, "json": {"statusCode": 401, "message": "Unauthorized"}}, 502,
     "stackone_auth_failed"),
    ({"status": 500, "json": {"statusCode": 500, "message": "boom"}}, 502, "stackone_unavailable"),
    ({"status": 200, "body": "<html>not json</html>"}, 502, "stackone_unavailable"),
    ({"status": 429, "json": SLOW_DOWN, "headers": {"Retry-After": "7"}}, 503,
     "stackone_rate_limited"),
    ({"body": requests.exceptions.ReadTimeout()}, 504, "stackone_timeout"),
]  # fmt: skip


@pytest.mark.parametrize(("answer", "status", "code"), FAILURES)
def test_stackone_failures_of_the_list_are_502_503_or_504(api, client, answer, status, code):
    api.get(f"{API}/accounts", **answer)
    response = client.get(LIST, headers=HEADERS)
    assert (response.status_code, response.get_json()["error"]) == (status, code)
    assert response.headers["Cache-Control"] == "no-store"
    if status == 503:
        assert response.headers["Retry-After"] == "7"


def test_without_api_key_the_list_is_503_not_configured(api):
    client = build_app(STACKONE_API_KEY=None).test_client()
    response = client.get(LIST, headers=HEADERS)
    assert (response.status_code, response.get_json()["error"]) == (503, "not_configured")


# -- disconnect -------------------------------------------------------------------------------


def test_disconnects_an_account_of_this_owner_and_sends_account_deleted(api, app, client):
    api.get(f"{API}/accounts/acc_1", json=account())
    api.delete(f"{API}/accounts/acc_1", json=account())
    with record_events(app) as events:
        response = client.post(DISCONNECT, headers=HEADERS)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {"id": "acc_1", "provider": "bamboohr", "deleted": True}
    [event] = events
    assert (event.type, event.source, event.account_id) == ("account.deleted", "app", "acc_1")
    assert (event.owner_id, event.owner_name, event.provider) == ("org_1", "Acme Ltd", "bamboohr")
    assert event.event_date is not None
    assert [c.request.method for c in api.calls] == ["GET", "DELETE"]


def test_another_owners_account_is_403_and_nothing_is_deleted(api, app, client):
    api.get(f"{API}/accounts/acc_1", json=account(origin_owner_id="org_2"))
    with record_events(app) as events:
        response = client.post(DISCONNECT, headers=HEADERS)
    assert (response.status_code, response.get_json()["error"]) == (403, "foreign_account")
    assert events == []
    assert [c.request.method for c in api.calls] == ["GET"]  # no DELETE was sent


def test_an_unknown_account_is_404_and_nothing_is_deleted(api, app, client):
    api.get(f"{API}/accounts/acc_1", status=404, json={"statusCode": 404, "message": "Not found"})
    with record_events(app) as events:
        response = client.post(DISCONNECT, headers=HEADERS)
    assert (response.status_code, response.get_json()["error"]) == (404, "account_not_found")
    assert events == []
    assert [c.request.method for c in api.calls] == ["GET"]


@pytest.mark.parametrize(
    "account_id", ["acc%20%3Cx%3E", "acc_1%0A", "%2E%2E", "a" * 129, "acc%2F1"]
)
def test_a_malformed_account_id_is_400(api, client, account_id):
    response = client.post(f"/stackone/accounts/{account_id}/disconnect", headers=HEADERS)
    assert response.status_code in (400, 404)
    if response.status_code == 400:
        assert response.get_json()["error"] == "invalid_account_id"
    assert len(api.calls) == 0


def test_a_trailing_newline_is_400_not_the_account(api, client):
    response = client.post("/stackone/accounts/acc_1%0A/disconnect", headers=HEADERS)
    assert (response.status_code, response.get_json()["error"]) == (400, "invalid_account_id")


def test_disconnect_needs_a_signed_in_owner_and_the_header(api):
    signed_out = build_app(owner=None).test_client()
    response = signed_out.post(DISCONNECT, headers=HEADERS)
    assert (response.status_code, response.get_json()["error"]) == (401, "not_signed_in")
    response = build_app().test_client().post(DISCONNECT)
    assert (response.status_code, response.get_json()["error"]) == (403, "missing_request_header")


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_disconnect_takes_post_only(api, client, method):
    response = getattr(client, method)(DISCONNECT, headers=HEADERS)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.get_json()["error"] == "method_not_allowed"


@pytest.mark.parametrize(("answer", "status", "code"), FAILURES)
def test_stackone_failures_of_disconnect_are_502_503_or_504(api, client, answer, status, code):
    api.get(f"{API}/accounts/acc_1", **answer)
    response = client.post(DISCONNECT, headers=HEADERS)
    assert (response.status_code, response.get_json()["error"]) == (status, code)


def test_a_failed_delete_is_502_and_sends_nothing(api, app, client):
    api.get(f"{API}/accounts/acc_1", json=account())
    api.delete(f"{API}/accounts/acc_1", status=500, json={"statusCode": 500, "message": "boom"})
    with record_events(app) as events:
        response = client.post(DISCONNECT, headers=HEADERS)
    assert (response.status_code, response.get_json()["error"]) == (502, "stackone_unavailable")
    assert events == []
    assert [c.request.method for c in api.calls] == ["GET", "DELETE"]  # DELETE is not retried


def test_a_failing_receiver_is_a_json_500(api, app: Flask, client):
    api.get(f"{API}/accounts/acc_1", json=account())
    api.delete(f"{API}/accounts/acc_1", json=account())

    def broken(sender, event):
        raise RuntimeError("database is down")

    account_deleted.connect(broken, app, weak=False)
    response = client.post(DISCONNECT, headers=HEADERS)
    assert (response.status_code, response.get_json()["error"]) == (500, "receiver_failed")
    assert "database is down" not in response.get_data(as_text=True)


def test_without_api_key_disconnect_is_503(api):
    client = build_app(STACKONE_API_KEY=None).test_client()
    response = client.post(DISCONNECT, headers=HEADERS)
    assert (response.status_code, response.get_json()["error"]) == (503, "not_configured")


def test_the_owner_loader_decides_not_the_browser(api):
    api.get(f"{API}/accounts/acc_1", json=account())
    client = build_app(owner=Owner("org_2", "Globex")).test_client()
    response = client.post(DISCONNECT, headers=HEADERS, json={"owner_id": "org_1"})
    assert response.status_code == 403


# -- Flask-WTF --------------------------------------------------------------------------------


def test_csrfprotect_guards_the_posts_and_lets_the_list_read(api):
    from flask_wtf.csrf import generate_csrf

    app = build_app()
    CSRFProtect(app)

    @app.get("/token")
    def token() -> str:
        return generate_csrf()

    client = app.test_client()
    refused = client.post(DISCONNECT, headers=HEADERS)
    assert (refused.status_code, refused.get_json()["error"]) == (400, "csrf_failed")
    refused = client.post(LIST, headers=HEADERS)
    assert (refused.status_code, refused.get_json()["error"]) == (400, "csrf_failed")
    expect_list(api, [])
    assert client.get(LIST, headers=HEADERS).status_code == 200

    csrf = client.get("/token").get_data(as_text=True)
    api.get(f"{API}/accounts/acc_1", json=account())
    api.delete(f"{API}/accounts/acc_1", json=account())
    response = client.post(DISCONNECT, headers={**HEADERS, "X-CSRFToken": csrf})
    assert response.status_code == 200


def test_answers_are_json_with_nothing_of_the_owner_or_setup(api, client):
    expect_list(api, [account("acc_1", origin_owner_name="Acme Secret Name")])
    expect_meta(api)
    text = json.dumps(client.get(LIST, headers=HEADERS).get_json())
    assert "Acme Secret Name" not in text and "ada@acme.test" not in text


# -- hostile input ------------------------------------------------------------------------------


def _stackone_knows_nothing(mock: responses.RequestsMock) -> None:
    """StackOne as the fuzzing sees it: an empty list, no connectors, every account 404."""
    mock.get(f"{API}/accounts", json=[])
    mock.get(f"{API}/connectors/meta", json=[])
    mock.get(
        re.compile(rf"{re.escape(API)}/accounts/.+"),
        status=404,
        json={"statusCode": 404, "message": "Not found"},
    )


texts = st.text(max_size=60) | st.sampled_from(["", "..", ".", "hris", "bamboohr", "a\n"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    provider=texts,
    categories=st.lists(texts, max_size=3),
    body=st.binary(max_size=300) | st.builds(lambda v: json.dumps(v).encode(), st.dictionaries(
        st.sampled_from(["provider", "categories", "x"]),
        st.none() | st.integers() | texts | st.lists(texts, max_size=2), max_size=3)),
    account_id=texts,
)  # fmt: skip
def test_hostile_input_is_answered_4xx_never_5xx(provider, categories, body, account_id):
    client = FUZZ_APP.test_client()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _stackone_knows_nothing(mock)
        query = [("provider", provider), *(("categories", c) for c in categories)]
        answers = [
            client.get(LIST, headers=HEADERS, query_string=query),
            client.post(
                LIST, headers={**HEADERS, "Content-Type": "application/json"}, data=body
            ),
            client.post(f"/stackone/accounts/{quote(account_id, safe='')}/disconnect",
                        headers=HEADERS, data=body),
        ]  # fmt: skip
    for answer in answers:
        assert answer.status_code < 500, answer.get_data(as_text=True)
        if answer.status_code not in (308, 404):  # Werkzeug's routing: "a//b", "/a/b/"
            assert answer.is_json


FUZZ_APP = build_app()


# -- StackOne's connectors meta ------------------------------------------------------------------


def test_the_client_reads_connectors_meta_leniently(api, app: Flask):
    from flask_stackone import get_client
    from flask_stackone.errors import InvalidResponseError

    api.get(
        f"{API}/connectors/meta",
        json={"data": [CONNECTORS[0], {"provider_name": "no key"}, "junk", {"provider": "x"}]},
    )
    bamboo, bare = get_client(app).list_connectors_meta()
    assert (bamboo.provider, bamboo.provider_name, bamboo.category, bamboo.active) == (
        "bamboohr", "BambooHR", "hris", True
    )  # fmt: skip
    assert bamboo.logo_url == "https://stackone-logos.com/api/bamboohr/filled/png"
    assert (bare.provider, bare.provider_name, bare.logo_url) == ("x", None, None)
    api.replace(responses.GET, f"{API}/connectors/meta", json={"statusCode": 200})
    with pytest.raises(InvalidResponseError):
        get_client(app).list_connectors_meta()


def test_the_sandbox_answers_connectors_meta(tmp_path):
    from flask_stackone import NotFoundError, get_client
    from flask_stackone.sandbox import stop_deliveries

    from .test_sandbox import sandbox_app

    app = sandbox_app(tmp_path)
    try:
        found = {m.provider: m for m in get_client(app).list_connectors_meta()}
        assert {"bamboohr", "hibob", "greenhouse", "salesforce"} <= set(found)
        assert (found["greenhouse"].provider_name, found["greenhouse"].category) == (
            "Greenhouse", "ats"
        )  # fmt: skip
        assert found["bamboohr"].logo_url.endswith("/stackone-sandbox/logos/bamboohr.svg")
        client = get_client(app)
        assert client._json("GET", "/connectors/meta/hibob")["provider_name"] == "HiBob"
        with pytest.raises(NotFoundError):
            client._json("GET", "/connectors/meta/nope")
    finally:
        stop_deliveries(app)
