"""The documented way to drive the real Hub from a host's browser tests: the ``stackone_hub``
fixture of the pytest plugin on a Playwright page, against a host page served on a real
port with the sandbox on; and its init script, which opens shadow roots asked for closed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string

from flask_stackone import AccountEvent, Owner, account_created, make_blueprint
from flask_stackone.sandbox import stop_deliveries, wait_for_deliveries
from flask_stackone.testing import HubDriver

from .browser import browser_fixture, page_fixture  # noqa: F401 - the fixtures browser, page
from .live_server import serve

pytestmark = pytest.mark.browser

OWNER = Owner("org_5", "Umbrella Corp", "alice@umbrella.test")
PAGE = """<!doctype html><html><head><title>Integrations</title></head>
<body><h1>Integrations</h1>{{ stackone_hub() }}</body></html>"""
#: A custom element whose form lives in a shadow root it asks for closed.
CLOSED_PAGE = """<!doctype html><html><head><title>Closed</title></head><body>
<closed-form></closed-form>
<script>
customElements.define("closed-form", class extends HTMLElement {
  connectedCallback() {
    const root = this.attachShadow({ mode: "closed" });
    root.innerHTML = '<label>API Key <input id="key"></label>';
  }
});
</script></body></html>"""


class Host:
    """A host app with the sandbox on and a page showing the Hub; records account_created."""

    def __init__(self, instance: Path) -> None:
        self.created: list[AccountEvent] = []
        self.lock = threading.Lock()
        app = Flask("hub_driver_host", instance_path=str(instance))
        app.config.update(
            SECRET_KEY="hub-driver-host",
            STACKONE_SANDBOX=True,
            STACKONE_SANDBOX_DELIVERY_BACKOFF=0.05,
        )
        blueprint = make_blueprint()
        blueprint.owner_loader(lambda: OWNER)
        app.register_blueprint(blueprint)
        app.add_url_rule("/", "integrations", lambda: render_template_string(PAGE))
        app.add_url_rule("/closed", "closed", lambda: CLOSED_PAGE)
        account_created.connect(self.record, app, weak=False)
        self.app = app

    def record(self, sender: Flask, event: AccountEvent, **extra: Any) -> None:
        with self.lock:
            self.created.append(event)

    def sources(self, account_id: str) -> list[str]:
        with self.lock:
            return sorted(e.source for e in self.created if e.account_id == account_id)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Host, str]]:
    host = Host(tmp_path / "instance")
    try:
        with serve(host.app) as base:
            yield host, base
    finally:
        stop_deliveries(host.app)


def test_the_fixture_fills_the_real_hub_on_a_host_page(
    live: tuple[Host, str], page: Any, stackone_hub: HubDriver
) -> None:
    host, base = live
    page.goto(base + "/")
    stackone_hub.wait_until_shown()
    stackone_hub.pick("BambooHR")
    stackone_hub.fill({"Company Domain": "umbrella", "API Key": "bamboo-key"})
    stackone_hub.connect()

    linked = stackone_hub.wait_for_linked()
    assert (linked["provider"], linked["status"]) == ("bamboohr", "active")
    assert stackone_hub.events("stackone:error") == []
    assert wait_for_deliveries(host.app, timeout=10)
    assert host.sources(linked["id"]) == ["hub", "webhook"]
    assert {e.owner_id for e in host.created} == {"org_5"}


def test_the_fixture_reaches_a_shadow_root_asked_for_closed(
    live: tuple[Host, str], browser: Any
) -> None:
    _, base = live
    context = browser.new_context()
    context.set_default_timeout(5000)
    try:
        plain = context.new_page()
        plain.goto(base + "/closed")
        assert plain.evaluate("document.querySelector('closed-form').shadowRoot") is None
        assert plain.get_by_label("API Key").count() == 0  # out of the locators' reach

        driven = context.new_page()
        driver = HubDriver(driven)
        driven.goto(base + "/closed")
        driver.fill({"API Key": "typed through the open root"})
        assert driven.locator("#key").input_value() == "typed through the open root"
    finally:
        context.close()
