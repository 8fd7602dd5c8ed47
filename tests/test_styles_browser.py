"""The accounts panel and the onboarding pages keep their look when the host page loads a CSS
framework (Bootstrap 5.3, Tailwind 3's preflight, Pico 2), in headless Chromium: every element's
computed style equals the page without the framework. The host can still theme the panel with
the documented custom properties and give its buttons its own classes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flask_stackone import onboarding_link
from flask_stackone.sandbox import stop_deliveries

from .browser import (  # noqa: F401 - the fixtures browser, page and shots
    browser_fixture,
    page_fixture,
    shots_fixture,
)
from .css_frameworks import framework_css
from .live_server import serve
from .test_accounts_browser import OWNER, Host, expect, link_two, row, url

pytestmark = pytest.mark.browser

FRAMEWORKS = ["bootstrap", "tailwind", "pico"]

#: What a CSS framework's reset changes, and more.
PROPERTIES = [
    "display", "position", "box-sizing", "width", "height",
    "margin-top", "margin-right", "margin-bottom", "margin-left",
    "padding-top", "padding-right", "padding-bottom", "padding-left",
    "border-top-width", "border-right-width", "border-bottom-width", "border-left-width",
    "border-top-style", "border-top-color",
    "border-top-left-radius", "border-top-right-radius",
    "border-bottom-left-radius", "border-bottom-right-radius",
    "font-family", "font-size", "font-weight", "font-style", "line-height", "letter-spacing",
    "text-transform", "text-align", "text-decoration-line", "vertical-align", "white-space",
    "list-style-type", "list-style-position", "color", "background-color", "background-image",
    "box-shadow", "opacity", "cursor", "gap", "appearance",
]  # fmt: skip

#: Every element under ``scope`` (the Hub excepted): its place, and its computed styles.
COMPUTED = """([scope, skip, properties]) => {
  const root = document.querySelector(scope);
  return [root, ...root.querySelectorAll("*")]
    .filter((node) => !(skip && node.closest(skip)))
    .map((node) => {
      const style = getComputedStyle(node);
      const where = node.tagName.toLowerCase() + "." + [...node.classList].join(".");
      return [where, Object.fromEntries(properties.map((p) => [p, style.getPropertyValue(p)]))];
    });
}"""

#: The panel's width is the host page's to give (a framework's body margin changes it).
WIDTH = "document.querySelector('.stackone-accounts').style.width = '720px'"

#: Appended after everything else of the page: the framework's rules come last.
LOAD = """(css) => {
  const style = document.createElement("style");
  style.textContent = css;
  document.body.appendChild(style);
}"""


@pytest.fixture(scope="module")
def frameworks() -> dict[str, str]:
    return framework_css()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Host, str]]:
    """The panel's host app (sandbox on) and its address."""
    host = Host(tmp_path / "instance")
    with serve(host.app) as base:
        yield host, base
    stop_deliveries(host.app)


def computed(page: Any, scope: str, skip: str | None = None) -> list[Any]:
    return page.evaluate(COMPUTED, [scope, skip, PROPERTIES])


def differences(base: list[Any], other: list[Any]) -> list[str]:
    """Each property of each element that differs (elements compared in document order)."""
    assert [where for where, _ in base] == [where for where, _ in other]
    return [
        f"{where} {name}: {value!r} became {other_style[name]!r}"
        for (where, style), (_, other_style) in zip(base, other, strict=True)
        for name, value in style.items()
        if other_style[name] != value
    ]


def show_panel(page: Any, live: str, css: str | None, **options: Any) -> Any:
    """The panel with two accounts, HiBob's disconnection being confirmed (its buttons are
    made by the script); ``css`` loaded last."""
    page.goto(url(live, **options))
    page.evaluate(WIDTH)
    if css is not None:
        page.evaluate(LOAD, css)
    page.wait_for_function("() => window.StackOneAccounts !== undefined")
    row(page, "HiBob").get_by_role("button", name="Disconnect HiBob").click()
    row(page, "HiBob").get_by_role("button", name="Yes, disconnect HiBob").wait_for()
    page.mouse.move(0, 0)  # no hover
    # a framework's transitions (Bootstrap's .btn colours) run after its CSS arrives: read
    # the styles they end at, however slow the machine
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")
    return page.locator(".stackone-accounts")


def test_the_panel_looks_the_same_under_each_framework(
    served: tuple[Host, str], page: Any, shots: Any, frameworks: dict[str, str]
) -> None:
    host, live = served
    link_two(host, live)
    panel = show_panel(page, live, None)
    alone = computed(page, ".stackone-accounts", ".stackone-accounts-hub")
    assert len(alone) > 40  # the rows, their times, reasons and buttons: every element
    assert dict(alone)["ul.stackone-accounts-list"]["padding-left"] == "0px"
    shots(panel, "alone")
    for name in FRAMEWORKS:
        panel = show_panel(page, live, frameworks[name])
        under = computed(page, ".stackone-accounts", ".stackone-accounts-hub")
        assert differences(alone, under) == [], name
        shots(panel, name)


def test_the_onboarding_pages_look_the_same_under_each_framework(
    served: tuple[Host, str], page: Any, shots: Any, frameworks: dict[str, str]
) -> None:
    host, live = served
    with host.app.test_request_context(base_url=live):
        link = onboarding_link(OWNER, provider="bamboohr")
    for address, step in ((link, "link"), (f"{live}/stackone/link/not-a-link", "bad-link")):
        page.goto(address)
        alone = computed(page, ".stackone-onboarding")
        assert len(alone) >= 4  # the page, main, heading, text...
        main = dict(alone)["main."]
        assert (main["padding-top"], main["background-color"]) == ("32px", "rgb(255, 255, 255)")
        shots(page, f"{step}-alone")
        for name in FRAMEWORKS:
            page.goto(address)
            page.evaluate(LOAD, frameworks[name])
            assert differences(alone, computed(page, ".stackone-onboarding")) == [], name
            shots(page, f"{step}-{name}")


def test_custom_properties_and_the_hosts_button_classes_under_bootstrap(
    served: tuple[Host, str], page: Any, shots: Any, frameworks: dict[str, str]
) -> None:
    host, live = served
    link_two(host, live)
    panel = show_panel(page, live, frameworks["bootstrap"])
    page.evaluate("document.documentElement.style.setProperty('--stackone-radius', '3px')")
    assert panel.evaluate("(node) => getComputedStyle(node).borderTopLeftRadius") == "3px"

    panel = show_panel(
        page,
        live,
        frameworks["bootstrap"],
        button_class="btn btn-outline-secondary",
        primary_button_class="btn btn-primary",
        danger_button_class="btn btn-outline-danger",
    )
    add = page.get_by_role("button", name="Add a connection")
    reconnect = row(page, "BambooHR").get_by_role("button", name="Re-connect BambooHR")
    yes = row(page, "HiBob").get_by_role("button", name="Yes, disconnect HiBob")
    cancel = row(page, "HiBob").get_by_role("button", name="Cancel")
    style = "(node, name) => getComputedStyle(node).getPropertyValue(name)"
    assert add.evaluate(style, "background-color") == "rgb(13, 110, 253)"  # Bootstrap's primary
    for button in (add, reconnect, yes, cancel):
        assert button.evaluate(style, "border-top-left-radius") == "6px"  # .btn's radius
        assert "stackone-host-button" in button.get_attribute("class")
    assert yes.get_attribute("class") == "stackone-host-button btn btn-outline-danger"
    assert cancel.get_attribute("class") == "stackone-host-button btn btn-outline-secondary"
    shots(panel, "bootstrap-buttons")

    # The rows the script reloads keep the host's classes.
    row(page, "HiBob").get_by_role("button", name="Cancel").click()
    page.evaluate("document.dispatchEvent(new CustomEvent('stackone:disconnected', {detail: {}}))")
    expect(reconnect).to_have_class("stackone-host-button btn btn-outline-secondary")
    disconnect = row(page, "HiBob").get_by_role("button", name="Disconnect HiBob")
    expect(disconnect).to_have_class("stackone-host-button btn btn-outline-danger")
