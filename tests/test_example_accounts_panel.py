"""Acme People's "Connected systems" page: the plugin's accounts panel inside a real app with
Flask-WTF's CSRF protection and a strict nonce CSP, in headless Chromium against the
sandbox. The hand-written Integrations page follows what the panel did, through the
app's own signal receivers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from example_app import create_app
from flask_stackone.sandbox import stop_deliveries, wait_for_deliveries

from .browser import (  # noqa: F401 - the fixtures browser, page and shots
    browser_fixture,
    connect,
    events,
    fill,
    page_fixture,
    pick,
    shots_fixture,
    wait_for_event,
)
from .live_server import serve
from .test_example_browser import DESKTOP, PHONE, assert_fits, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(name="acme")
def acme_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Flask, str]]:
    """The example app as ``make run`` starts it (no key: sandbox), on 127.0.0.1."""
    monkeypatch.delenv("STACKONE_API_KEY", raising=False)
    monkeypatch.delenv("FLASK_STACKONE_API_KEY", raising=False)
    monkeypatch.setenv("STACKONE_SANDBOX", "1")  # what `make run` sets when no key is set
    app = create_app(
        {"STACKONE_SANDBOX_DELIVERY_BACKOFF": 0.05}, instance_path=str(tmp_path / "instance")
    )
    try:
        with serve(app) as base:
            yield app, base
    finally:
        stop_deliveries(app)


def row(page: Any) -> Any:
    return page.locator(".stackone-account")


def test_connect_reconnect_and_disconnect_from_the_panel(
    acme: tuple[Flask, str], page: Any, shots: Any
) -> None:
    app, base = acme
    page.set_viewport_size(DESKTOP)
    sign_in(page, base, "alice@northwind.example")
    page.get_by_role("link", name="Connected systems").click()
    page.get_by_text("No HR system connected yet.").wait_for()
    shots(page, "empty")

    page.get_by_role("button", name="Connect an HR system").click()
    dialog = page.get_by_role("dialog", name="Connect an HR system")
    dialog.get_by_placeholder("Search Integrations").wait_for()
    assert dialog.locator("stackone-hub button").filter(has_text="Salesforce").count() == 0
    pick(page, "BambooHR")
    fill(page, {"Company Domain": "northwind", "API Key": "error-no-scope"})
    connect(page)
    page.get_by_text("BambooHR is connected. Its status is").wait_for()
    assert row(page).get_attribute("data-status") == "error"
    assert "lacks permission" in row(page).inner_text()
    shots(page, "linked-in-error")

    page.get_by_role("button", name="Re-connect BambooHR").click()
    page.get_by_role("dialog", name="Re-connect BambooHR").get_by_label(
        "API Key", exact=True
    ).wait_for()
    fill(page, {"API Key": "bamboo-key-2"})
    connect(page)
    page.get_by_text("BambooHR is re-connected.").wait_for()
    assert row(page).get_attribute("data-status") == "active"
    shots(page, "reconnected")

    page.get_by_role("button", name="Disconnect BambooHR").click()
    page.get_by_role("button", name="Yes, disconnect BambooHR").click()
    page.get_by_text("BambooHR is disconnected.").wait_for()
    assert row(page).count() == 0
    [gone] = wait_for_event(page, "stackone:disconnected")
    shots(page, "disconnected")
    assert events(page, "stackone:error") == []

    # The app's own list followed, through its account_deleted receiver (source "app").
    page.goto(f"{base}/integrations")
    page.get_by_text("No systems connected yet.").wait_for()
    assert wait_for_deliveries(app, timeout=15)
    page.goto(f"{base}/events")
    deleted = page.locator("tr", has_text="account.deleted")
    deleted.filter(has_text="app").first.wait_for()
    assert gone["id"] in page.locator("tbody").inner_text()


def test_the_panel_page_fits_a_phone(acme: tuple[Flask, str], page: Any, shots: Any) -> None:
    _app, base = acme
    page.set_viewport_size(PHONE)
    sign_in(page, base, "alice@northwind.example")
    page.goto(f"{base}/connected-systems")
    page.get_by_role("button", name="Connect an HR system").click()
    page.get_by_placeholder("Search Integrations").wait_for()
    pick(page, "HiBob")
    fill(page, {"Hibob Service User ID": "SERVICE-1", "Hibob Service User Token": "error-x"})
    connect(page)
    page.get_by_text("HiBob is connected.").wait_for()
    assert_fits(page, PHONE["width"])
    shots(page, "connected-systems-390")
