"""The ``session_fields`` hook: label, metadata and type from the server reach StackOne's
session and account, for the token route, an auth link and an onboarding link; a label from
the page is checked; the confirm answer and the signal's event carry label and type."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, render_template_string

from flask_stackone import Owner, create_auth_link, onboarding_link
from flask_stackone.sandbox import get_sandbox, stop_deliveries
from flask_stackone.testing import record_events

from .test_sandbox import sandbox_app

HEADERS = {"X-StackOne-Request": "1"}
PERSONIO = {"client_id": "papi-1", "client_secret": "s3cret", "app_id": "acme-hris"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = sandbox_app(tmp_path, SERVER_NAME="localhost")
    calls: list[tuple[Owner, dict[str, Any]]] = []

    @app.blueprints["stackone"].session_fields
    def fields(owner: Owner, options: Mapping[str, Any]) -> dict[str, Any]:
        calls.append((owner, dict(options)))
        return {"metadata": {"plan": "pro", "org": owner.id}, "type": "test"}

    app.extensions["session_fields_calls"] = calls
    yield app
    stop_deliveries(app)


def link(app: Flask, token: str) -> dict[str, Any]:
    """Link Personio with ``token`` as the Hub does; the stored account."""
    answer = app.test_client().post(
        "/stackone-sandbox/hub/accounts",
        json={"integration_id": "sbx-personio", "credentials": PERSONIO},
        headers={"x-hub-session-token": token},
    )
    assert answer.status_code == 201, answer.text
    account = get_sandbox(app).store.account(answer.json["id"])
    assert account is not None
    return account


def stored_session(app: Flask, token: str) -> dict[str, Any]:
    found = get_sandbox(app).store.live_session(token)
    assert found is not None
    return found[0]


def test_the_token_route_sends_the_hooks_fields_and_the_pages_label(app: Flask) -> None:
    client = app.test_client()
    answer = client.post(
        "/stackone/connect-session", json={"label": "  Payroll DE "}, headers=HEADERS
    )
    assert answer.status_code == 200, answer.text
    token = answer.json["token"]
    session = stored_session(app, token)
    assert (session["label"], session["type"]) == ("Payroll DE", "test")
    assert session["metadata"] == {"plan": "pro", "org": "org_1"}
    [(owner, options)] = app.extensions["session_fields_calls"]
    assert owner.id == "org_1" and options["label"] == "Payroll DE"
    account = link(app, token)
    assert (account["label"], account["type"]) == ("Payroll DE", "test")
    assert account["metadata"] == {"plan": "pro", "org": "org_1"}

    with record_events(app) as events:
        confirmed = client.post(f"/stackone/accounts/{account['id']}/confirm", headers=HEADERS)
    assert confirmed.status_code == 200
    assert (confirmed.json["label"], confirmed.json["type"]) == ("Payroll DE", "test")
    [event] = events
    assert (event.label, event.account_type) == ("Payroll DE", "test")


def test_the_panel_shows_the_label(app: Flask) -> None:
    client = app.test_client()
    token = client.post(
        "/stackone/connect-session", json={"label": "Payroll DE"}, headers=HEADERS
    ).json["token"]
    link(app, token)
    with app.test_request_context():
        html = render_template_string("{{ stackone_accounts() }}")
    assert "Payroll DE" in html


def test_an_auth_link_carries_the_hooks_fields(app: Flask) -> None:
    with app.app_context():
        auth_link = create_auth_link(Owner("org_1", "Acme Ltd"), provider="personio")
    token = urlsplit(auth_link.url).path.rsplit("/", 1)[1]
    assert stored_session(app, token)["metadata"] == {"plan": "pro", "org": "org_1"}
    account = link(app, token)
    assert account["type"] == "test" and account["metadata"]["plan"] == "pro"


def test_an_onboarding_link_carries_the_hooks_fields(app: Flask) -> None:
    with app.app_context():
        url = str(onboarding_link(Owner("org_1", "Acme Ltd"), "personio"))
    path = urlsplit(url).path
    answer = app.test_client().post(f"{path}/session", headers=HEADERS)
    assert answer.status_code == 200, answer.text
    account = link(app, answer.json["token"])
    assert account["type"] == "test" and account["metadata"] == {"plan": "pro", "org": "org_1"}


def test_a_label_from_the_hook_replaces_the_pages(app: Flask) -> None:
    @app.blueprints["stackone"].session_fields
    def fields(owner: Owner, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"label": f"{owner.name}: {options['label'] or 'HR'}"}

    token = (
        app.test_client()
        .post("/stackone/connect-session", json={"label": "Mine"}, headers=HEADERS)
        .json["token"]
    )
    assert stored_session(app, token)["label"] == "Acme Ltd: Mine"


@pytest.mark.parametrize("label", ["", "   ", "x" * 256, "a\nb", 5, ["a"]])
def test_a_bad_label_from_the_page_is_refused(app: Flask, label: Any) -> None:
    answer = app.test_client().post(
        "/stackone/connect-session", json={"label": label}, headers=HEADERS
    )
    assert answer.status_code == 400 and answer.json["error"] == "invalid_label"


@pytest.mark.parametrize(
    ("label", "error"), [("", ValueError), ("a\x00", ValueError), (5, TypeError)]
)
def test_the_macro_checks_its_label(app: Flask, label: Any, error: type[Exception]) -> None:
    with app.test_request_context(), pytest.raises(error, match="label"):
        render_template_string("{{ stackone_hub(label=label) }}", label=label)


def test_the_macro_sends_its_label_to_the_token_route(app: Flask) -> None:
    with app.test_request_context():
        html = render_template_string('{{ stackone_hub(label="Payroll DE") }}')
    assert '"label": "Payroll DE"' in html


@pytest.mark.parametrize(
    "returned",
    [{"origin_owner_id": "other"}, {"account_id": "a"}, {"type": "staging"},
     {"metadata": "plan"}, {"label": ""}, ["label"]],
)  # fmt: skip
def test_the_hook_may_set_only_its_fields(app: Flask, returned: Any) -> None:
    app.blueprints["stackone"].session_fields(lambda owner, options: returned)
    with app.test_request_context(), pytest.raises(TypeError, match="session_fields"):
        create_auth_link(Owner("org_1", "Acme Ltd"))


@pytest.mark.parametrize("label", ["a\x85b", "a\x9bb", "a\u2028b", "a\u2029b"])
def test_a_label_with_other_control_or_line_characters_is_refused(app: Flask, label: str) -> None:
    answer = app.test_client().post(
        "/stackone/connect-session", json={"label": label}, headers=HEADERS
    )
    assert answer.status_code == 400 and answer.json["error"] == "invalid_label"
