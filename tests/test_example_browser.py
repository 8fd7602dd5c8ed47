"""Acme People in headless Chromium, in sandbox mode on a real port: a demo user links an
account through the real Hub, sees it active and the webhook arrive, re-connects it,
checks its status and disconnects it; the other organisation never sees it. Screenshots
of every step at 1280 px, and of each page at 390 px, go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from example_app import create_app
from example_app.db import DEMO_PASSWORD
from flask_stackone.sandbox import stop_deliveries, wait_for_deliveries

from .browser import browser_fixture, connect, events, fill, page_fixture, shots_fixture  # noqa: F401
from .live_server import serve

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Flask, str]]:
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


def sign_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Work email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Overview").wait_for()


def account_row(page: Any) -> Any:
    return page.locator("li.account")


def assert_fits(page: Any, width: int) -> None:
    """Nothing wider than the viewport: no sideways scrolling on a phone."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width}px wide at {width}px"


def test_link_reconnect_check_disconnect(
    acme: tuple[Flask, str], browser: Any, page: Any, shots: Any
) -> None:
    app, base = acme
    page.set_viewport_size(DESKTOP)
    page.goto(f"{base}/")
    page.get_by_text("Demo accounts").wait_for()
    shots(page, "login")
    sign_in(page, base, "alice@northwind.example")
    shots(page, "overview-empty")

    # Link BambooHR through the real Hub (provider option: it opens BambooHR's form).
    page.goto(f"{base}/integrations")
    page.get_by_text("No systems connected yet.").wait_for()
    shots(page, "integrations-empty")
    page.get_by_role("button", name="Connect BambooHR").click()
    page.get_by_label("Company Domain", exact=True).wait_for()
    shots(page, "bamboohr-form")
    fill(page, {"Company Domain": "northwind", "API Key": "bamboo-key-1"})
    connect(page)

    # The widget confirms, then follows redirect_to back to the list.
    row = account_row(page)
    row.wait_for()
    assert row.get_attribute("data-status") == "active"
    assert row.locator(".badge").inner_text().lower() == "active"
    account_id = row.get_attribute("data-account-id")
    shots(page, "linked-active")

    assert wait_for_deliveries(app, timeout=15)
    page.goto(f"{base}/events")
    webhook_row = page.locator("tr", has_text="account.created").filter(has_text="webhook")
    webhook_row.wait_for()
    assert "account.created" in page.locator("tbody").inner_text()
    shots(page, "event-log-webhook")

    # The other organisation does not see it.
    other = browser.new_context(viewport=DESKTOP)
    try:
        globex = other.new_page()
        sign_in(globex, base, "chen@globex.example")
        globex.goto(f"{base}/integrations")
        globex.get_by_text("No systems connected yet.").wait_for()
        assert account_id not in globex.content()
        globex.goto(f"{base}/events")
        assert account_id not in globex.content()
        shots(globex, "other-organisation")
    finally:
        other.close()

    # Re-connect: the Hub opens in edit mode for this account.
    page.goto(f"{base}/integrations")
    page.get_by_role("link", name="Re-connect").click()
    domain = page.get_by_label("Company Domain", exact=True)
    domain.wait_for()
    assert domain.input_value() == "northwind"
    shots(page, "reconnect-form")
    fill(page, {"API Key": "bamboo-key-2"})
    connect(page)
    page.get_by_role("heading", name="Integrations").wait_for()
    assert account_row(page).count() == 1
    page.goto(f"{base}/events")
    page.locator("tr", has_text="account.updated").filter(has_text="hub").first.wait_for()

    # Check status.
    page.goto(f"{base}/integrations")
    page.get_by_role("button", name="Check status").click()
    page.get_by_text("is connected and active").wait_for()
    shots(page, "status-checked")

    # Disconnect, confirmed on its own page.
    page.get_by_role("link", name="Disconnect").click()
    page.get_by_role("heading", name="Disconnect BambooHR?").wait_for()
    shots(page, "disconnect-confirm")
    page.get_by_role("button", name="Disconnect").click()
    page.get_by_text("is disconnected").wait_for()
    assert account_row(page).count() == 0
    shots(page, "disconnected")
    assert wait_for_deliveries(app, timeout=15)
    page.goto(f"{base}/events")
    page.locator("tr", has_text="account.deleted").first.wait_for()
    assert events(page, "stackone:error") == []


def test_pages_at_phone_width(acme: tuple[Flask, str], page: Any, shots: Any) -> None:
    app, base = acme
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/login")
    assert_fits(page, PHONE["width"])
    shots(page, "login-390")
    sign_in(page, base, "alice@northwind.example")

    # An account in error status, so the page shows a badge and the reason.
    page.goto(f"{base}/integrations")
    page.get_by_role("button", name="Connect BambooHR").click()
    page.get_by_label("Company Domain", exact=True).wait_for()
    assert_fits(page, PHONE["width"])
    shots(page, "hub-390")
    fill(page, {"Company Domain": "northwind", "API Key": "error-no-scope"})
    connect(page)
    page.get_by_role("link", name="Continue").click()  # the widget shows the status first
    page.locator('li.account[data-status="error"]').wait_for()
    assert page.locator(".status-reasons").inner_text().strip()
    assert wait_for_deliveries(app, timeout=15)

    for path, name in (
        ("/overview", "overview"),
        ("/integrations", "integrations"),
        ("/events", "events"),
    ):
        page.goto(base + path)
        assert_fits(page, PHONE["width"])
        shots(page, f"{name}-390")
    page.goto(f"{base}/integrations")
    page.get_by_label("Colleague's email").fill("it@northwind.example")
    page.get_by_role("button", name="Send link").click()
    page.get_by_role("heading", name="Outbox").wait_for()
    assert_fits(page, PHONE["width"])
    shots(page, "outbox-390")
    page.set_viewport_size(DESKTOP)
    for path, name in (("/overview", "overview"), ("/outbox", "outbox")):
        page.goto(base + path)
        shots(page, f"{name}-1280")
