"""The sandbox's hosted auth-link page with the real Hub in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from flask_stackone import account_created, get_client
from flask_stackone.sandbox import stop_deliveries, wait_for_deliveries

from .browser import browser_fixture, connect, fill, page_fixture, pick, shots_fixture  # noqa: F401
from .live_server import serve
from .test_sandbox import recorder, sandbox_app

pytestmark = pytest.mark.browser


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = sandbox_app(tmp_path, owner=None)  # nobody signed in: the link is all it takes
    yield app
    stop_deliveries(app)


def test_an_auth_link_links_an_account_with_the_real_hub(app: Flask, page: Any, shots: Any) -> None:
    events = recorder(app, account_created)
    session = get_client(app).create_connect_session(
        origin_owner_id="org_7", origin_owner_name="Initech", categories=["hris"]
    )
    with serve(app) as base:
        page.goto(base + urlsplit(session.auth_link_url).path)
        page.get_by_placeholder("Search Integrations").wait_for()
        shots(page, "auth-link-hub")
        assert page.locator("stackone-hub button").filter(has_text="Greenhouse").count() == 0
        pick(page, "HiBob")
        fill(page, {"Hibob Service User ID": "SERVICE-42", "Hibob Service User Token": "invalid"})
        connect(page)
        page.get_by_text("HiBob rejected the credentials", exact=False).wait_for()
        shots(page, "rejected")
        fill(page, {"Hibob Service User ID": "SERVICE-42", "Hibob Service User Token": "tok-1"})
        connect(page)
        page.get_by_text("Connection Successful").wait_for()
        shots(page, "linked")
        assert wait_for_deliveries(app, 5)
    [event] = events
    assert (event.owner_id, event.provider, event.source) == ("org_7", "hibob", "webhook")
    assert get_client(app).get_account(event.account_id).status == "active"
