"""Auth links and onboarding links do what the widget does: re-connect a given account (an
onboarding link checks, when used, that it is still the owner's) and add another account of
a connector the owner has (``multiple``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from flask_stackone import Owner, create_auth_link, get_client, onboarding_link
from flask_stackone.core.errors import InvalidOptionError
from flask_stackone.sandbox import stop_deliveries

from .test_sandbox import sandbox_app

HEADERS = {"X-StackOne-Request": "1"}
ACME = Owner("org_1", "Acme Ltd")
PERSONIO = {"client_id": "papi-1", "client_secret": "s3cret", "app_id": "acme-hris"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = sandbox_app(tmp_path, SERVER_NAME="localhost")
    yield app
    stop_deliveries(app)


def link(app: Flask, token: str, **credentials: str) -> str:
    """Link Personio with ``token`` as the Hub does; the account id."""
    answer = app.test_client().post(
        "/stackone-sandbox/hub/accounts",
        json={"integration_id": "sbx-personio", "credentials": {**PERSONIO, **credentials}},
        headers={"x-hub-session-token": token},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json["id"])


def auth_link_token(app: Flask, owner: Owner = ACME, **options: Any) -> str:
    with app.app_context():
        url = create_auth_link(owner, provider="personio", **options).url
    return urlsplit(url).path.rsplit("/", 1)[1]


def onboarding_token(app: Flask, owner: Owner = ACME, **options: Any) -> Any:
    """The answer of the link's own token route (the Hub page's "Connect")."""
    with app.app_context():
        url = str(onboarding_link(owner, "personio", **options))
    return app.test_client().post(f"{urlsplit(url).path}/session", headers=HEADERS)


def accounts(app: Flask) -> list[str]:
    return [a.id for a in get_client(app).list_accounts(owner_id=ACME.id)]


def test_an_auth_link_with_multiple_adds_a_second_account(app: Flask) -> None:
    first = link(app, auth_link_token(app))
    assert link(app, auth_link_token(app), app_id="again") == first  # re-linked, as StackOne
    second = link(app, auth_link_token(app, multiple=True), app_id="payroll-2")
    assert second != first and accounts(app) == [first, second]


def test_an_onboarding_link_with_multiple_adds_a_second_account(app: Flask) -> None:
    first = link(app, auth_link_token(app))
    answer = onboarding_token(app, multiple=True)
    assert answer.status_code == 200, answer.text
    second = link(app, answer.json["token"], app_id="payroll-2")
    assert second != first and accounts(app) == [first, second]


def test_an_onboarding_link_reconnects_the_given_account(app: Flask) -> None:
    first = link(app, auth_link_token(app, multiple=True))
    second = link(app, auth_link_token(app, multiple=True), app_id="payroll-2")
    answer = onboarding_token(app, account_id=first)
    assert answer.status_code == 200, answer.text
    assert link(app, answer.json["token"], app_id="renewed") == first
    assert accounts(app) == [first, second]
    assert get_client(app).get_account(first).setup_information["app_id"] == "renewed"


def test_an_onboarding_link_for_another_owners_account_is_refused_when_used(app: Flask) -> None:
    theirs = link(app, auth_link_token(app, Owner("org_2", "Other Ltd")))
    answer = onboarding_token(app, account_id=theirs)
    assert answer.status_code == 403 and answer.json["error"] == "foreign_account"
    with app.app_context():
        url = str(onboarding_link(ACME, account_id=theirs))
    client = app.test_client()
    assert client.get(urlsplit(url).path).status_code == 200  # opening shows a page only
    page = client.post(urlsplit(url).path, headers={"Sec-Fetch-Site": "same-origin"})
    assert page.status_code == 403


def test_the_hub_page_of_a_reconnecting_link_opens_the_accounts_edit_form(app: Flask) -> None:
    mine = link(app, auth_link_token(app))
    app.config["STACKONE_ONBOARDING_MODE"] = "hub"
    with app.app_context():
        url = str(onboarding_link(ACME, account_id=mine))
    page = app.test_client().post(urlsplit(url).path, headers={"Sec-Fetch-Site": "same-origin"})
    assert page.status_code == 200 and f'data-account-id="{mine}"' in page.text


@pytest.mark.parametrize("make", [create_auth_link, onboarding_link])
def test_multiple_and_account_id_are_not_both_allowed(app: Flask, make: Any) -> None:
    with app.app_context(), pytest.raises(InvalidOptionError, match="not both"):
        make(ACME, account_id="acc_1", multiple=True)
