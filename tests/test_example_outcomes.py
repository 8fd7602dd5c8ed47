"""What Acme People tells its user after each step, in headless Chromium through the real Hub
in sandbox mode: a notice after Connect and Re-connect, a connected BambooHR shown as such
with a second account an explicit choice, one clear outcome and a fresh list for an account
in error, and a branded onboarding page that names the connector. Every response the app
sends is recorded: none may be a 404 (the favicon included). Screenshots go to
test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from example_app import create_app
from flask_stackone.sandbox import stop_deliveries, wait_for_deliveries

from .browser import browser_fixture, connect, fill, page_fixture, pick, shots_fixture  # noqa: F401
from .live_server import serve
from .test_example_browser import DESKTOP, sign_in

pytestmark = pytest.mark.browser


class Recorder:
    """WSGI middleware noting the path and status of every response the app sends."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.seen: list[tuple[str, int]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")

        def start(status: str, headers: Any, *args: Any) -> Any:
            self.seen.append((path, int(status.split(" ", 1)[0])))
            return start_response(status, headers, *args)

        return self.app(environ, start)

    def not_found(self) -> list[str]:
        return [path for path, status in self.seen if status == 404]


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Flask, str]]:
    """The example app as ``make run`` starts it (no key: sandbox), on 127.0.0.1; at the
    end no response may have been a 404. ``app.recorder`` holds the responses."""
    monkeypatch.delenv("STACKONE_API_KEY", raising=False)
    monkeypatch.delenv("FLASK_STACKONE_API_KEY", raising=False)
    monkeypatch.setenv("STACKONE_SANDBOX", "1")  # what `make run` sets when no key is set
    app = create_app(
        {"STACKONE_SANDBOX_DELIVERY_BACKOFF": 0.05}, instance_path=str(tmp_path / "instance")
    )
    recorder = Recorder(app.wsgi_app)
    app.wsgi_app = recorder  # type: ignore[method-assign]
    app.recorder = recorder  # type: ignore[attr-defined]
    try:
        with serve(app) as base:
            yield app, base
    finally:
        stop_deliveries(app)
    assert recorder.not_found() == [], "the app answered 404"


def bamboohr_card(page: Any) -> Any:
    return page.locator("#bamboohr-card")


def connect_and_return(page: Any, base: str) -> None:
    """Press the Hub's Connect and wait until the widget has opened the list again."""
    with page.expect_navigation(url=f"{base}/integrations"):
        connect(page)


def link_bamboohr(page: Any, base: str, button: str, api_key: str = "bamboo-key-1") -> None:
    page.get_by_role("button", name=button).click()
    page.get_by_label("Company Domain", exact=True).wait_for()
    fill(page, {"Company Domain": "northwind", "API Key": api_key})
    connect_and_return(page, base)


def test_connect_and_reconnect_say_it_worked_and_a_second_account_is_a_choice(
    acme: tuple[Flask, str], page: Any, shots: Any
) -> None:
    app, base = acme
    page.set_viewport_size(DESKTOP)
    sign_in(page, base, "alice@northwind.example")
    page.goto(f"{base}/integrations")
    assert bamboohr_card(page).get_attribute("data-connected") == "false"

    # Connect: back on the list, a notice says it worked.
    link_bamboohr(page, base, "Connect BambooHR")
    page.get_by_text("BambooHR is connected and active.").wait_for()
    rows = page.locator("li.account")
    assert rows.count() == 1
    first = rows.first.get_attribute("data-account-id")
    shots(page, "connected-notice")

    # The BambooHR card shows the connected account instead of offering Connect again.
    card = bamboohr_card(page)
    assert card.get_attribute("data-connected") == "true"
    assert card.get_by_role("button", name="Connect BambooHR").count() == 0
    assert card.locator(".badge").inner_text().lower() == "active"
    assert first is not None and first in card.inner_text()
    add_another = card.get_by_role("button", name="Add another BambooHR account")
    assert add_another.is_visible()
    shots(card, "bamboohr-card-connected")

    # Re-connect: the notice says so.
    page.get_by_role("link", name="Re-connect").click()
    page.get_by_label("Company Domain", exact=True).wait_for()
    fill(page, {"API Key": "bamboo-key-2"})
    connect_and_return(page, base)
    page.get_by_text("BambooHR was re-connected and is active.").wait_for()
    assert page.locator("li.account").count() == 1
    shots(page, "reconnected-notice")

    # Picking BambooHR again from the general list re-links the same account (StackOne's
    # rule without `multiple`), as the card's note says: still one.
    page.get_by_role("button", name="Connect an HRIS").click()
    pick(page, "BambooHR")
    page.get_by_label("Company Domain", exact=True).wait_for()
    fill(page, {"Company Domain": "northwind", "API Key": "bamboo-key-3"})
    connect_and_return(page, base)
    assert [r.get_attribute("data-account-id") for r in page.locator("li.account").all()] == [first]

    # "Add another" is the explicit way to a second account; the first one stays.
    link_bamboohr(page, base, "Add another BambooHR account", api_key="bamboo-key-other")
    page.get_by_text("BambooHR is connected and active.").wait_for()
    ids = [r.get_attribute("data-account-id") for r in page.locator("li.account").all()]
    assert len(ids) == 2 and first in ids
    assert "2 BambooHR accounts connected." in bamboohr_card(page).inner_text()
    shots(page, "two-bamboohr-accounts")
    assert wait_for_deliveries(app, timeout=15)


def test_an_account_in_error_is_one_outcome_and_the_list_refreshes_by_itself(
    acme: tuple[Flask, str], page: Any, shots: Any
) -> None:
    app, base = acme
    page.set_viewport_size(DESKTOP)
    sign_in(page, base, "alice@northwind.example")
    page.goto(f"{base}/integrations")
    page.get_by_text("No systems connected yet.").wait_for()
    page.get_by_role("button", name="Connect BambooHR").click()
    page.get_by_label("Company Domain", exact=True).wait_for()
    fill(page, {"Company Domain": "northwind", "API Key": "error-no-scope"})
    connect(page)

    notice = page.locator(".stackone-hub-notice")
    notice.wait_for()
    # The list above shows the new account and its reason without pressing Continue.
    row = page.locator('#linked-accounts li.account[data-status="error"]')
    row.wait_for()
    assert "permission" in row.locator(".status-reasons").inner_text()
    assert page.url == f"{base}/integrations"
    assert page.get_by_text("No systems connected yet.").count() == 0
    # One outcome: the warning, not the Hub's green success beside it, and no success notice.
    assert page.locator("stackone-hub").count() == 0
    assert page.get_by_text("Connection Successful").count() == 0
    assert page.locator(".flash.success").count() == 0
    assert "cannot be used yet" in notice.inner_text()
    shots(page, "error-outcome")
    notice.get_by_role("link", name="Continue").click()
    page.locator('li.account[data-status="error"]').wait_for()
    assert wait_for_deliveries(app, timeout=15)


def test_pages_that_name_no_icon_get_the_apps_favicon(acme: tuple[Flask, str], page: Any) -> None:
    app, base = acme
    page.goto(f"{base}/stackone-sandbox/")  # the sandbox's page names no icon
    page.wait_for_load_state("load")
    recorder = app.recorder  # type: ignore[attr-defined]
    for _ in range(100):  # the browser asks for it after the page has loaded
        if any(path == "/favicon.ico" for path, _status in recorder.seen):
            break
        page.wait_for_timeout(100)
    assert ("/favicon.ico", 301) in recorder.seen
    icon = page.request.get(f"{base}/favicon.ico")
    assert icon.ok and icon.headers["content-type"].startswith("image/svg+xml")


def test_the_onboarding_page_carries_the_apps_brand_and_the_connectors_name(
    acme: tuple[Flask, str], browser: Any, page: Any, shots: Any
) -> None:
    _app, base = acme
    page.set_viewport_size(DESKTOP)
    sign_in(page, base, "alice@northwind.example")
    page.goto(f"{base}/integrations")
    page.get_by_label("Colleague's email").fill("it@northwind.example")
    page.get_by_label("System", exact=True).select_option("bamboohr")
    page.get_by_role("button", name="Send link").click()
    page.get_by_role("heading", name="Outbox").wait_for()
    link = page.locator("a[href*='/stackone/link/']").first.get_attribute("href")
    assert link

    # The colleague opens it: not signed in, another browser.
    other = browser.new_context(viewport=DESKTOP)
    try:
        colleague = other.new_page()
        colleague.goto(link)
        colleague.get_by_role("heading", name="Connect your BambooHR account").wait_for()
        assert colleague.title() == "Connect BambooHR for Northwind Traders · Acme People"
        brand = colleague.locator("header.brand")
        assert brand.inner_text().strip() == "Acme People"
        logo = brand.locator("img")
        assert logo.evaluate("img => img.complete && img.naturalWidth > 0")
        icon = colleague.locator("link[rel=icon]").get_attribute("href")
        assert icon == "/static/favicon.svg"
        assert "bamboohr account" not in colleague.content()
        shots(colleague, "onboarding-branded")
        colleague.get_by_role("button", name="Connect").click()
        colleague.get_by_role("heading", name="Connect BambooHR for Northwind Traders").wait_for()
        colleague.get_by_label("Company Domain", exact=True).wait_for()
        assert colleague.locator("header.brand").is_visible()
        shots(colleague, "onboarding-hub-branded")
    finally:
        other.close()
