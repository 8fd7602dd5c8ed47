"""The accounts panel on an app with a linked-accounts store (``flask_stackone.sqla``): the page
renders from the store without calling StackOne, and the panel's script then shows
StackOne's live status (the list route), in the test client and in headless Chromium."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from flask_stackone import Owner, get_client, get_state
from flask_stackone.core.cache import TimedValue
from flask_stackone.core.models import Account, ConnectorMeta
from flask_stackone.sandbox import stop_deliveries, wait_for_deliveries
from flask_stackone.sqla import LinkedAccountMixin, LinkedAccounts

from .conftest import API, build_app
from .live_server import serve
from .test_accounts_browser import (  # noqa: F401 - the fixtures browser, page and shots
    OWNER,
    Host,
    browser_fixture,
    expect,
    link_two,
    page_fixture,
    row,
    shots_fixture,
    url,
)
from .test_accounts_panel import panel_of
from .test_accounts_routes import CONNECTORS, account
from .test_widget import Elements

LATER = datetime.now(timezone.utc) + timedelta(hours=1)


def sqlite_store(folder: Path) -> LinkedAccounts[Any]:
    """A store on a SQLite file, through a sessionmaker."""

    class Base(DeclarativeBase):
        pass

    class LinkedAccount(LinkedAccountMixin, Base):
        __tablename__ = "linked_accounts"

    engine = create_engine(f"sqlite:///{folder / 'host.db'}")
    Base.metadata.create_all(engine)
    return LinkedAccounts(LinkedAccount, sessionmaker(engine))


@pytest.fixture
def app(installed: Path, tmp_path: Path) -> Iterator[Flask]:
    app = build_app(STACKONE_HUB_DIR=str(installed))
    linked = sqlite_store(tmp_path)
    linked.init_app(app)
    yield app
    linked.db.kw["bind"].dispose()  # type: ignore[attr-defined]


def store_of(app: Flask) -> LinkedAccounts[Any]:
    [store] = app.extensions["stackone_linked_accounts"].values()
    return store  # type: ignore[no-any-return]


def stored(app: Flask, *items: dict[str, Any]) -> None:
    for item in items:
        store_of(app).store(Account.from_api(item), at=LATER)


def render(app: Flask, **options: Any) -> str:
    with app.test_request_context("/integrations"):
        return render_template_string("{{ stackone_accounts(**options) }}", options=options)


def rows_of(html: str) -> list[dict[str, str | None]]:
    return [a for t, a in Elements(html).found if t == "li" and "data-account-id" in a]


def test_the_page_renders_from_the_store_without_calling_stackone(api, app: Flask) -> None:
    reason = {"code": "permissions", "description": "Missing scope employees:read"}
    stored(
        app,
        account("acc_1"),
        account(
            "acc_2", provider="hibob", provider_name=None, status="error", status_reasons=[reason]
        ),
        account("acc_3", origin_owner_id="org_2"),
    )
    store_of(app).tombstone("acc_4", at=LATER, owner_id="org_1", provider="bamboohr")

    html = render(app)

    assert len(api.calls) == 0  # no StackOne call at all, not even for connector names
    assert panel_of(html)["data-refresh"] == "stored"  # the script asks StackOne after load
    assert panel_of(html)["data-problem"] == ""
    assert [(r["data-account-id"], r["data-status"]) for r in rows_of(html)] == [
        ("acc_1", "active"),
        ("acc_2", "error"),  # another owner's account and the tombstone are left out
    ]
    assert "BambooHR" in html
    assert "Missing scope employees:read" in html
    # no connector names cached yet: the provider key and its monogram, no logo
    assert ">hibob</span>" in html and ">Hi</span>" in html
    assert "<img" not in html


def test_cached_connector_names_and_logos_are_used(api, app: Flask) -> None:
    stored(app, account("acc_2", provider="hibob", provider_name=None))
    known = {m["provider"]: ConnectorMeta.from_api(m) for m in CONNECTORS}
    with app.app_context():
        get_state(app).connectors.get(lambda: known, lambda exc: {})

    html = render(app)

    assert len(api.calls) == 0
    assert ">HiBob</span>" in html
    assert 'src="http://logos.example/hibob.png"' not in html  # only https logos
    [item] = rows_of(html)
    assert item["data-name"] == "HiBob"


def test_the_store_rows_follow_the_panel_filters(api, app: Flask) -> None:
    stored(app, account("acc_1"), account("acc_2", provider="hibob", provider_name="HiBob"))
    html = render(app, provider="hibob")
    assert len(api.calls) == 0
    assert [r["data-account-id"] for r in rows_of(html)] == ["acc_2"]


def test_an_empty_store_shows_the_empty_text(api, app: Flask) -> None:
    html = render(app)
    assert len(api.calls) == 0
    assert "No systems connected yet." in html
    [empty] = [a for t, a in Elements(html).found if a.get("class") == "stackone-accounts-empty"]
    assert "hidden" not in empty


def test_signed_out_renders_no_rows(api, installed: Path, tmp_path: Path) -> None:
    app = build_app(owner=None, STACKONE_HUB_DIR=str(installed))
    sqlite_store(tmp_path).init_app(app)
    stored(app, account("acc_1"))
    html = render(app)
    assert rows_of(html) == []
    assert "data-refresh" not in panel_of(html)
    assert len(api.calls) == 0


def test_the_live_refresh_answers_stackones_status(api, app: Flask) -> None:
    """What the panel's script asks for after load: the list route reads StackOne."""
    stored(app, account("acc_1"))  # stored as active
    reason = {"code": "expired", "description": "The API key expired", "timestamp": None}
    api.get(f"{API}/accounts", json=[account("acc_1", status="error", status_reasons=[reason])])
    api.get(f"{API}/connectors/meta", json=CONNECTORS)
    with app.test_request_context("/integrations"):
        list_url = panel_of(render_template_string("{{ stackone_accounts() }}"))["data-list-url"]
    assert list_url is not None

    headers = {"Accept": "text/html", "X-StackOne-Request": "1"}
    answer = app.test_client().get(list_url, headers=headers)

    assert answer.status_code == 200
    [item] = rows_of(answer.get_data(as_text=True))
    assert item["data-status"] == "error"
    assert "The API key expired" in answer.get_data(as_text=True)
    # and the connector names are cached now, for the next render from the store
    calls = len(api.calls)
    assert ">BambooHR</span>" in render(app)
    assert len(api.calls) == calls


def test_without_a_store_the_page_reads_stackone(api, installed: Path) -> None:
    app = build_app(STACKONE_HUB_DIR=str(installed))
    api.get(f"{API}/accounts", json=[account("acc_1")])
    api.get(f"{API}/connectors/meta", json=CONNECTORS)
    html = render(app)
    assert "data-refresh" not in panel_of(html)
    assert [r["data-account-id"] for r in rows_of(html)] == ["acc_1"]


@pytest.fixture(name="host")
def host_fixture(tmp_path: Path) -> Iterator[Host]:
    made = Host(tmp_path / "instance")
    yield made
    stop_deliveries(made.app)


@pytest.fixture(name="live")
def live_fixture(host: Host) -> Iterator[str]:
    with serve(host.app) as base:
        yield base


@pytest.mark.browser
def test_the_page_shows_stackones_live_status_after_load(
    host: Host, live: str, page: Any, tmp_path: Path
) -> None:
    linked = sqlite_store(tmp_path)
    linked.init_app(host.app)
    _, hibob = link_two(host, live)
    wait_for_deliveries(host.app)
    with host.app.app_context():
        live_hibob = get_client(host.app).get_account(hibob)
    assert live_hibob.status == "error"
    # the store is behind StackOne: it still has HiBob as active (its webhook is late)
    linked.store(dataclasses.replace(live_hibob, status="active", status_reasons=()), at=LATER)
    assert linked.get(hibob).status == "active"  # type: ignore[union-attr]

    with host.app.test_request_context("/"):
        host.owner = OWNER
        html = render_template_string("{{ stackone_accounts() }}")
    assert {r["data-account-id"]: r["data-status"] for r in rows_of(html)}[hibob] == "active"

    page.goto(url(live))
    expect(row(page, "HiBob")).to_have_attribute("data-status", "error")
    expect(row(page, "HiBob")).to_contain_text("needs attention")
    expect(row(page, "BambooHR")).to_have_attribute("data-status", "active")
    linked.db.kw["bind"].dispose()  # type: ignore[attr-defined]


def test_owner_accounts_reads_rows_as_accounts(app: Flask) -> None:
    reason = {"code": "permissions", "description": "Missing scope", "timestamp": None}
    stored(app, account("acc_1", status="error", status_reasons=[reason], label="Payroll"))
    [found] = store_of(app).owner_accounts("org_1")
    assert (found.id, found.provider, found.status, found.label) == (
        "acc_1",
        "bamboohr",
        "error",
        "Payroll",
    )
    assert found.status_reasons[0].description == "Missing scope"
    assert found.origin_owner_id == "org_1"
    assert found.created_at == datetime(2026, 11, 24, 10, tzinfo=timezone.utc)
    assert store_of(app).owner_accounts("org_2") == []


def test_an_owner_is_never_shown_another_owners_rows(api, installed: Path, tmp_path) -> None:
    app = build_app(owner=Owner("org_2", "Globex"), STACKONE_HUB_DIR=str(installed))
    sqlite_store(tmp_path).init_app(app)
    stored(app, account("acc_1"))
    assert rows_of(render(app)) == []
    assert len(api.calls) == 0


def test_peek_gives_a_fresh_value_and_never_loads() -> None:
    now = [0.0]
    cache: TimedValue[int] = TimedValue(10, 3, clock=lambda: now[0])
    assert cache.peek() is None  # nothing loaded yet, and peek loads nothing
    assert cache.get(lambda: 42, lambda exc: -1) == 42
    assert cache.peek() == 42
    now[0] = 11
    assert cache.peek() is None  # expired
