"""In headless Chromium, a host app with Flask-Babel and a German reader: the panel, its
script's messages and times, and the widget's error states are German."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import request

from flask_stackone.sandbox import stop_deliveries

from .browser import (  # noqa: F401 - the fixtures browser, page and shots
    browser_fixture,
    page_fixture,
    shots_fixture,
)
from .live_server import serve
from .test_accounts_browser import Host, expect, link_two, row, url

pytestmark = pytest.mark.browser
flask_babel = pytest.importorskip("flask_babel")


@pytest.fixture
def german(tmp_path: Path) -> Iterator[tuple[Host, str]]:
    """The panel's host app with Flask-Babel (German, French, Spanish, Dutch), served."""
    host = Host(tmp_path / "instance")
    flask_babel.Babel(
        host.app,
        locale_selector=lambda: request.accept_languages.best_match(["en", "de", "fr", "es", "nl"]),
    )
    with serve(host.app) as base:
        yield host, base
    stop_deliveries(host.app)


def test_a_german_reader_sees_the_panel_and_the_widget_in_german(
    german: tuple[Host, str], page: Any, shots: Any
) -> None:
    host, live = german
    link_two(host, live)
    page.set_extra_http_headers({"Accept-Language": "de-DE,de;q=0.9"})
    page.goto(url(live))
    panel = page.locator(".stackone-accounts")
    panel.get_by_role("heading", name="Verbundene Systeme").wait_for()
    assert page.locator("html").get_attribute("lang") == "en"  # the host's own page
    bamboo = row(page, "BambooHR")
    expect(bamboo.locator(".stackone-account-status")).to_have_text("Aktiv")
    expect(row(page, "HiBob").locator(".stackone-account-status")).to_have_text("Fehler")
    # the script shows the times in the page's language (and the reader's time zone)
    expect(bamboo.locator("time").first).to_contain_text("Dez. 2026")
    bamboo.get_by_role("button", name="BambooHR trennen").click()
    question = bamboo.get_by_role("group", name="BambooHR trennen?")
    expect(question).to_contain_text("Diese Website kann es dann nicht mehr verwenden.")
    expect(question.get_by_role("button", name="Ja, BambooHR trennen")).to_have_text("Ja, trennen")
    shots(panel, "confirm-disconnect-de")
    question.get_by_role("button", name="Ja, BambooHR trennen").click()
    expect(page.locator(".stackone-accounts-announcement")).to_have_text("BambooHR ist getrennt.")

    # Signed out: the panel and the widget say so in German.
    host.owner = None
    page.goto(f"{live}/together")
    hub = page.locator(".stackone-hub")
    expect(hub).to_contain_text("Bitte melden Sie sich an, um ein Konto zu verbinden.")
    expect(page.locator("#stackone-accounts")).to_contain_text(
        "Melden Sie sich an, um Ihre verbundenen Systeme zu sehen."
    )
    shots(page, "signed-out-de")
    assert not [line for line in page.console if line.startswith("pageerror")]
