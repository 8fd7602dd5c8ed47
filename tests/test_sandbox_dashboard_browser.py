"""The sandbox dashboard in headless Chromium, mounted in a host app: after webhook deliveries
succeeded (with an account in ``error`` status), and after they failed and were sent again.
Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from flask_stackone.sandbox import get_sandbox, stop_deliveries, wait_for_deliveries

from .browser import browser_fixture, page_fixture, shots_fixture  # noqa: F401
from .live_server import refused_port, serve
from .test_sandbox import hub, link_bamboohr, sandbox_app, token_from_plugin

pytestmark = pytest.mark.browser


@pytest.fixture
def apps() -> Iterator[list[Flask]]:
    built: list[Flask] = []
    yield built
    for app in built:
        stop_deliveries(app)


#: Tall enough for the accounts and the deliveries in one screenshot.
VIEWPORT = {"width": 1100, "height": 1300}


def row(page: Any, text: str) -> Any:
    return page.locator("tr").filter(has_text=text)


def test_the_dashboard_after_deliveries_succeeded(
    tmp_path: Path, apps: list[Flask], page: Any, shots: Any
) -> None:
    app = sandbox_app(tmp_path)
    apps.append(app)
    page.set_viewport_size(VIEWPORT)
    with serve(app) as base:
        good = link_bamboohr(base, token_from_plugin(base)).json()["id"]
        credentials = {"service_user_id": "SERVICE-7", "service_user_token": "error-scope"}
        bad = hub(
            base, token_from_plugin(base), "POST", "/accounts",
            json={"integration_id": "sbx-hibob", "credentials": credentials},
        ).json()["id"]  # fmt: skip
        assert wait_for_deliveries(app, 10)
        page.goto(f"{base}/stackone-sandbox/")
        page.get_by_role("heading", name="StackOne sandbox").wait_for()
        assert row(page, good).first.locator("td.ok").inner_text().strip() == "active"
        error_cell = row(page, bad).first.locator("td.error")
        assert "error" in error_cell.inner_text() and "permission" in error_cell.inner_text()
        deliveries = page.locator("tr").filter(has_text="account.created")
        assert deliveries.count() == 2
        assert deliveries.filter(has_text="delivered").count() == 2
        assert "200" in deliveries.first.inner_text()
        shots(page, "dashboard-delivered")
        page.get_by_role("button", name="Send again").first.click()
        page.get_by_role("heading", name="StackOne sandbox").wait_for()
        assert page.url == f"{base}/stackone-sandbox/"
        assert wait_for_deliveries(app, 10)
        page.reload()
        shots(page, "dashboard-sent-again")
    states = [d["state"] for d in get_sandbox(app).store.deliveries()]
    assert states == ["delivered", "delivered"]


def test_the_dashboard_after_deliveries_failed(
    tmp_path: Path, apps: list[Flask], page: Any, shots: Any
) -> None:
    with refused_port() as port:
        app = sandbox_app(
            tmp_path,
            STACKONE_SANDBOX_WEBHOOK_URL=f"http://127.0.0.1:{port}/stackone/webhooks",
            STACKONE_SANDBOX_DELIVERY_ATTEMPTS=2,
        )
        apps.append(app)
        page.set_viewport_size(VIEWPORT)
        with serve(app) as base:
            account = link_bamboohr(base, token_from_plugin(base)).json()["id"]
            assert wait_for_deliveries(app, 10)
            page.goto(f"{base}/stackone-sandbox/")
            failed = page.locator("tr").filter(has_text="account.created")
            assert "failed" in failed.inner_text() and "ConnectionError" in failed.inner_text()
            shots(page, "dashboard-failed")
            # Set a status from the dashboard: one more delivery, which fails too.
            row(page, account).first.get_by_label("status").select_option("suspended")
            row(page, account).first.get_by_role("button", name="Set").click()
            page.get_by_role("heading", name="StackOne sandbox").wait_for()
            assert wait_for_deliveries(app, 10)
            page.reload()
            assert "suspended" in row(page, account).first.inner_text()
            assert page.locator("tr").filter(has_text="account.updated").count() == 1
            page.get_by_role("button", name="Send again").first.click()
            page.get_by_role("heading", name="StackOne sandbox").wait_for()
            shots(page, "dashboard-failed-sent-again")
            assert requests.get(f"{base}/stackone-sandbox/", timeout=5).status_code == 200
