"""Every option of the pinned Hub reaches the real element in headless Chromium, and each Hub
shows exactly the theme its macro asked for, whatever another page of the site stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flask_stackone.sandbox import stop_deliveries

from .browser import (  # noqa: F401 - the fixtures browser, page and shots
    browser_fixture,
    connector_list,
    page_fixture,
    shots_fixture,
)
from .live_server import serve
from .test_widget_browser import Host, url

pytestmark = pytest.mark.browser

RADIUS = "--malachite-radius-xl"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[str]:
    host = Host(tmp_path / "instance")
    with serve(host.app) as base:
        yield base
    stop_deliveries(host.app)


def hub_attribute(page: Any, name: str) -> str | None:
    return page.locator("stackone-hub").get_attribute(name)


def radius(page: Any) -> str:
    """The Hub's ``radius.xl`` as it set it on the page (12px unless a theme changed it)."""
    return page.evaluate(
        "(name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim()",
        RADIUS,
    )


def test_the_hub_options_reach_the_element(live: str, page: Any) -> None:
    page.goto(url(live, show_footer_links=False, on_close_label="Back to settings", debug=True))
    connector_list(page).wait_for()
    assert hub_attribute(page, "show-footer-links") == "false"
    assert hub_attribute(page, "on-close-label") == "Back to settings"
    assert hub_attribute(page, "debug") == "true"
    assert page.get_by_text("Privacy", exact=False).count() == 0


def test_without_the_options_the_hub_keeps_its_defaults(live: str, page: Any) -> None:
    page.goto(url(live))
    connector_list(page).wait_for()
    for name in ("show-footer-links", "on-close-label", "debug"):
        assert hub_attribute(page, name) is None


def test_the_app_url_setting_reaches_the_element(live: str, tmp_path: Path, page: Any) -> None:
    """Outside sandbox mode, against StackOne's API at another URL (here the first host's
    sandbox), the Hub's ``app-url`` is ``STACKONE_HUB_APP_URL``."""
    elsewhere = Host(
        tmp_path / "elsewhere",
        STACKONE_SANDBOX=False,
        STACKONE_API_URL=f"{live}/stackone-sandbox",
        STACKONE_HUB_APP_URL="https://app.eu.example",
    )
    with serve(elsewhere.app) as base:
        page.goto(url(base))
        connector_list(page).wait_for()
        assert hub_attribute(page, "app-url") == "https://app.eu.example"
        assert hub_attribute(page, "base-url") == f"{live}/stackone-sandbox"


def test_one_theme_per_page_in_one_browser_context(live: str, page: Any) -> None:
    page.goto(url(live, theme={"radius": {"xl": "31px"}}))
    connector_list(page).wait_for()
    page.wait_for_function("(name) => getComputedStyle(document.documentElement)"
                           ".getPropertyValue(name).trim() === '31px'", arg=RADIUS)  # fmt: skip
    other = page.context.new_page()
    other.goto(url(live, theme="light"))
    connector_list(other).wait_for()
    assert radius(other) == "12px"  # tenant A's brand does not leak into tenant B's Hub
    page.reload()
    connector_list(page).wait_for()
    assert radius(page) == "31px"
