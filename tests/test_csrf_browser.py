"""A host with Flask-WTF's ``CSRFProtect(app)`` and no ``<meta name="csrf-token">`` tag: the
widget links an account and the accounts panel disconnects one, in headless Chromium with the
real Hub against the sandbox; a refused token tells the person what to do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string
from flask_wtf.csrf import CSRFProtect

from flask_stackone import NotFoundError, Owner, get_client, make_blueprint
from flask_stackone.sandbox import stop_deliveries

from .browser import (  # noqa: F401 - the fixtures browser, page and shots
    browser_fixture,
    connect,
    connector_list,
    fill,
    page_fixture,
    pick,
    shots_fixture,
    wait_for_event,
)
from .conftest import API_KEY, WEBHOOK_SECRET
from .live_server import serve

pytestmark = pytest.mark.browser

OWNER = Owner("org_1", "Acme Ltd", "ada@acme.test")
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Integrations</title></head>
<body><h1>Integrations</h1>{{ stackone_hub() }}{{ stackone_accounts() }}</body></html>"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    made = Flask("csrf_host", instance_path=str(tmp_path / "instance"))
    made.config.update(
        SECRET_KEY="csrf-host-secret",
        STACKONE_API_KEY=API_KEY,
        STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STACKONE_SANDBOX=True,
        STACKONE_SANDBOX_DELIVERY_BACKOFF=0.05,
    )
    CSRFProtect(made)
    blueprint = make_blueprint()
    blueprint.owner_loader(lambda: OWNER)
    made.register_blueprint(blueprint)
    made.add_url_rule("/", "integrations", lambda: render_template_string(PAGE))
    yield made
    stop_deliveries(made)


@pytest.fixture
def live(app: Flask) -> Iterator[str]:
    with serve(app) as base:
        yield base


def test_link_and_disconnect_with_csrfprotect_and_no_meta_tag(
    app: Flask, live: str, page: Any, shots: Any
) -> None:
    page.goto(live)
    assert page.locator('meta[name="csrf-token"]').count() == 0
    connector_list(page).wait_for()
    pick(page, "BambooHR")
    fill(page, {"Company Domain": "acme", "API Key": "bamboo-key-1"})
    connect(page)
    [linked] = wait_for_event(page, "stackone:linked")  # token route and confirm: both POSTs
    assert linked["provider"] == "bamboohr"
    shots(page, "linked")

    page.reload()
    page.get_by_role("button", name="Disconnect BambooHR").click()
    page.get_by_role("button", name="Yes, disconnect BambooHR").click()
    [gone] = wait_for_event(page, "stackone:disconnected")
    assert gone["id"] == linked["id"]
    shots(page, "disconnected")
    with pytest.raises(NotFoundError), app.app_context():
        get_client(app).get_account(linked["id"])
    assert not [line for line in page.console if "CSRF" in line]


def test_a_refused_token_names_the_fix(live: str, page: Any) -> None:
    page.goto(live)
    page.locator("[data-stackone-csrf-token]").first.wait_for(state="attached")
    message = page.evaluate(
        """async () => {
          for (const node of document.querySelectorAll("[data-stackone-csrf-token]")) {
            node.setAttribute("data-stackone-csrf-token", "stale");
          }
          try {
            await window.StackOneCommon.request("POST", "/stackone/connect-session");
          } catch (error) {
            return error.message;
          }
          return null;
        }"""
    )
    assert message is not None and "Reload the page and try again." in message
    assert any("csrf-token" in line for line in page.console)  # the developer's fix
