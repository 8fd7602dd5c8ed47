"""Headless Chromium fixtures and helpers for tests that drive the real Hub widget.

Import the fixtures into a test module (no conftest needed)::

    from .browser import browser_fixture, page_fixture, shots_fixture  # noqa: F401

which provides the fixtures ``browser``, ``page`` and ``shots``.

Debian's Chromium is used (``/usr/bin/chromium``, or ``$CHROMIUM``); Playwright's own
browser downloads are not needed. When Chromium or the installed Hub script is missing the
tests are skipped with the reason, except when ``CI=true``: there they fail.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flask_stackone.core.hub_script import HUB_VERSION, INSTALL_COMMAND
from flask_stackone.core.hub_script import installed_script as load_script

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TIMEOUT_MS = 15_000

#: Recorded in every page: the widget's DOM events, in order, as ``[name, detail]``.
RECORD_EVENTS = """
window.__stackoneEvents = [];
for (const name of [
  "stackone:linked", "stackone:error", "stackone:reconnected", "stackone:disconnected",
]) {
  document.addEventListener(name, (event) => window.__stackoneEvents.push([name, event.detail]));
}
"""


def unavailable(reason: str) -> None:
    """Skip the test, or fail it when ``CI=true`` (CI must run the browser tests)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


def require_hub_script() -> None:
    """The self-hosted Hub script must be installed in the default cache folder."""
    if load_script(None, HUB_VERSION) is None:
        unavailable(f"the Hub script {HUB_VERSION} is not installed: run `{INSTALL_COMMAND}`")


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Any]:
    """One headless Chromium per test module. Module scope, not session: Playwright's sync
    API runs an event loop in this thread while it is open, which other tests (``async def``
    signal receivers through asgiref) must not find running."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(name="page")
def page_fixture(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page; ``page.console`` collects console lines."""
    require_hub_script()
    context = browser.new_context(viewport={"width": 1000, "height": 760})
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(RECORD_EVENTS)
    new_page = context.new_page()
    console: list[str] = []
    new_page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    new_page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    new_page.console = console
    try:
        yield new_page
    finally:
        context.close()


@pytest.fixture(name="shots")
def shots_fixture(request: pytest.FixtureRequest) -> Callable[..., Path]:
    """``shots(page, "step")`` saves ``test-artifacts/<module>/<test>/NN-step.png``."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    folder = ARTIFACTS / request.node.module.__name__.rsplit(".", 1)[-1] / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    count = 0

    def shot(target: Any, step: str) -> Path:
        nonlocal count
        count += 1
        path = folder / f"{count:02d}-{step}.png"
        target.screenshot(path=str(path))
        return path

    return shot


# -- talking to the widget ----------------------------------------------------------------------


def events(page: Any, name: str | None = None) -> list[Any]:
    """The widget events recorded so far (their details when ``name`` is given)."""
    recorded = page.evaluate("window.__stackoneEvents")
    return [detail for n, detail in recorded if n == name] if name else recorded


def wait_for_event(page: Any, name: str, count: int = 1) -> list[Any]:
    """Wait until ``count`` events ``name`` were dispatched; return their details."""
    page.wait_for_function(
        "([name, count]) => window.__stackoneEvents.filter(([n]) => n === name).length >= count",
        arg=[name, count],
    )
    return events(page, name)


def connector_list(page: Any) -> Any:
    """The Hub's search box, which appears with the connector list."""
    return page.get_by_placeholder("Search Integrations")


def pick(page: Any, connector: str) -> None:
    """Click a connector of the Hub's list by its name."""
    page.locator("stackone-hub button").filter(has_text=connector).first.click()


def fill(page: Any, values: dict[str, str]) -> None:
    """Fill the Hub's form fields, found by their exact labels."""
    for label, value in values.items():
        page.get_by_label(label, exact=True).fill(value)


def connect(page: Any) -> None:
    """Press the Hub's Connect button."""
    page.get_by_role("button", name="Connect", exact=True).click()
