"""``{{ stackone_accounts() }}`` in headless Chromium against a host app in sandbox mode on a
real port: the owner's accounts listed with status and reasons, re-connect through the real
Hub, disconnect with confirmation, add, keyboard use, a CSP that forbids logos, a page
without JavaScript, and an outage."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask, render_template_string, request

from flask_stackone import (
    AccountEvent,
    NotFoundError,
    Owner,
    account_created,
    account_deleted,
    account_updated,
    get_client,
    make_blueprint,
)
from flask_stackone.sandbox import stop_deliveries, wait_for_deliveries

from .browser import (  # noqa: F401 - the fixtures browser, page and shots
    browser_fixture,
    connect,
    connector_list,
    events,
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
OTHER = Owner("org_2", "Globex", "hank@globex.test")
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Integrations</title></head>
<body><main><h1>Integrations</h1>{{ stackone_accounts(**options) }}</main></body></html>"""
#: A page with the Hub and two panels: each panel follows what the others do.
TOGETHER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Integrations</title></head>
<body><main>{{ stackone_accounts(title="Above") }}{{ stackone_hub() }}
{{ stackone_accounts(title="Below", allow_add=False) }}</main></body></html>"""
STRICT_CSP = (
    "default-src 'self'; script-src 'nonce-r4nd0m'; style-src 'self' 'unsafe-inline'; "
    "img-src data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'"
)


class Host:
    """A host app with the sandbox on, served on 127.0.0.1; it records its account signals."""

    def __init__(self, instance: Path) -> None:
        self.owner: Owner | None = OWNER
        self.received: list[AccountEvent] = []
        self.lock = threading.Lock()
        self.csp: str | None = None
        app = Flask("accounts_host", instance_path=str(instance))
        app.config.update(
            SECRET_KEY="accounts-host-secret",
            STACKONE_API_KEY=API_KEY,
            STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            STACKONE_SANDBOX=True,
            STACKONE_SANDBOX_DELIVERY_BACKOFF=0.05,
        )
        blueprint = make_blueprint()
        blueprint.owner_loader(lambda: self.owner)
        app.register_blueprint(blueprint)

        @app.route("/")
        def integrations() -> Any:
            options = json.loads(request.args.get("options", "{}"))
            headers = {"Content-Security-Policy": self.csp} if self.csp else {}
            return render_template_string(PAGE, options=options), 200, headers

        @app.route("/together")
        def together() -> Any:
            return render_template_string(TOGETHER)

        for signal in (account_created, account_updated, account_deleted):
            signal.connect(self.record, app, weak=False)
        self.app = app

    def record(self, sender: Flask, event: AccountEvent, **extra: Any) -> None:
        with self.lock:
            self.received.append(event)

    def sources(self, event_type: str, account_id: str) -> list[str]:
        with self.lock:
            return sorted(
                e.source
                for e in self.received
                if e.type == event_type and e.account_id == account_id
            )

    def link(self, base: str, owner: Owner, integration: str, credentials: dict[str, str]) -> str:
        """Link an account of ``owner`` the way the Hub does, over HTTP; return its id."""
        self.owner = owner
        try:
            token = requests.post(
                f"{base}/stackone/connect-session",
                json={},
                headers={"X-StackOne-Request": "1"},
                timeout=5,
            ).json()["token"]
        finally:
            self.owner = OWNER
        created = requests.post(
            f"{base}/stackone-sandbox/hub/accounts",
            json={"integration_id": integration, "credentials": credentials},
            headers={"x-hub-session-token": token, "x-hub-version": "1.11.4"},
            timeout=5,
        )
        assert created.status_code == 201, created.text
        return str(created.json()["id"])


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    made = Host(tmp_path / "instance")
    yield made
    stop_deliveries(made.app)


@pytest.fixture
def live(host: Host) -> Iterator[str]:
    with serve(host.app) as base:
        yield base


def url(base: str, **options: Any) -> str:
    return f"{base}/?{urlencode({'options': json.dumps(options)})}"


def link_two(host: Host, base: str) -> tuple[str, str]:
    """BambooHR (active) and HiBob (status error) for OWNER."""
    bamboo = host.link(base, OWNER, "sbx-bamboohr", {"subdomain": "acme", "api_key": "key-1"})
    hibob = host.link(
        base, OWNER, "sbx-hibob", {"service_user_id": "SERVICE-42", "service_user_token": "error"}
    )
    return bamboo, hibob


def expect(locator: Any) -> Any:
    """Playwright's auto-waiting assertions (imported late: playwright may be missing)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def row(page: Any, name: str) -> Any:
    return page.locator(".stackone-account").filter(
        has=page.locator(".stackone-account-name", has_text=name)
    )


def announcement(page: Any) -> Any:
    return page.locator(".stackone-accounts-announcement")


def post_from_page(page: Any, path: str) -> list[Any]:
    """POST ``path`` from the page as the panel's script does (same cookies, the header)."""
    return page.evaluate(
        """async (path) => {
          const headers = {"X-StackOne-Request": "1"};
          const response = await fetch(path, {method: "POST", headers});
          return [response.status, await response.json()];
        }""",
        path,
    )


def test_list_reconnect_and_disconnect(host: Host, live: str, page: Any, shots: Any) -> None:
    bamboo, hibob = link_two(host, live)
    foreign = host.link(live, OTHER, "sbx-bamboohr", {"subdomain": "globex", "api_key": "key-9"})
    client = get_client(host.app)
    assert client.get_account(hibob).status == "error"
    assert wait_for_deliveries(host.app, 10)

    page.goto(url(live))
    panel = page.locator(".stackone-accounts")
    panel.get_by_role("heading", name="Connected systems").wait_for()
    assert page.locator(".stackone-account").count() == 2  # never the other owner's account
    assert page.locator(f'[data-account-id="{foreign}"]').count() == 0
    assert row(page, "BambooHR").locator(".stackone-account-status").inner_text() == "Active"
    assert row(page, "HiBob").locator(".stackone-account-status").inner_text() == "Error"
    reason = client.get_account(hibob).status_reasons[0].description
    assert reason and reason in row(page, "HiBob").inner_text()
    assert "needs attention" not in row(page, "BambooHR").inner_text()
    linked = row(page, "HiBob").locator("time").first
    assert linked.get_attribute("datetime", timeout=1000).endswith("Z")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.stackone-account-img')]"
        ".every((img) => img.complete && img.naturalWidth > 0)"
    )
    assert page.locator(".stackone-account-img").count() == 2  # the sandbox's logos
    shots(panel, "two-accounts-one-in-error")

    # Re-connect the error one through the real Hub, in edit mode.
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/hub/accounts/" in r.url else None)
    row(page, "HiBob").get_by_role("button", name="Re-connect HiBob").click()
    dialog = page.get_by_role("dialog", name="Re-connect HiBob")
    dialog.wait_for()
    dialog.get_by_label("Hibob Service User ID", exact=True).wait_for()
    assert asked == [f"{live}/stackone-sandbox/hub/accounts/{hibob}"]  # edit mode, this account
    shots(page, "reconnect-dialog")
    fill(page, {"Hibob Service User ID": "SERVICE-42", "Hibob Service User Token": "fresh-token"})
    connect(page)
    [reconnected] = wait_for_event(page, "stackone:reconnected")
    assert (reconnected["id"], reconnected["status"]) == (hibob, "active")
    announcement(page).get_by_text("HiBob is re-connected.").wait_for()
    assert not dialog.is_visible()
    assert row(page, "HiBob").locator(".stackone-account-status").inner_text() == "Active"
    assert "needs attention" not in row(page, "HiBob").inner_text()
    assert client.get_account(hibob).status == "active"
    assert "hub" in host.sources("account.updated", hibob)
    focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused == "Re-connect HiBob"  # back where the user was
    shots(panel, "reconnected")

    # Disconnect the other one: a confirmation first, then it is gone from StackOne.
    row(page, "BambooHR").get_by_role("button", name="Disconnect BambooHR").click()
    question = row(page, "BambooHR").get_by_role("group", name="Disconnect BambooHR?")
    question.wait_for()
    assert page.evaluate("document.activeElement.textContent") == "Cancel"
    shots(panel, "confirm-disconnect")
    question.get_by_role("button", name="Yes, disconnect BambooHR").click()
    [disconnected] = wait_for_event(page, "stackone:disconnected")
    assert disconnected == {"id": bamboo, "provider": "bamboohr", "name": "BambooHR"}
    announcement(page).get_by_text("BambooHR is disconnected.").wait_for()
    assert row(page, "BambooHR").count() == 0
    assert page.locator(".stackone-account").count() == 1
    with pytest.raises(NotFoundError):
        client.get_account(bamboo)
    assert wait_for_deliveries(host.app, 10)
    assert host.sources("account.deleted", bamboo) == ["app", "webhook"]
    shots(panel, "disconnected")

    # Another owner's account id, sent the panel's way: refused, nothing deleted.
    status, answer = post_from_page(page, f"/stackone/accounts/{foreign}/disconnect")
    assert (status, answer["error"]) == (403, "foreign_account")
    status, answer = post_from_page(page, "/stackone/accounts/sbx_acc_unknown/disconnect")
    assert (status, answer["error"]) == (404, "account_not_found")
    assert client.get_account(foreign).origin_owner_id == OTHER.id
    assert host.sources("account.deleted", foreign) == []
    assert API_KEY not in page.content()
    assert events(page, "stackone:error") == []
    assert not [line for line in page.console if line.startswith("pageerror")]


def test_every_action_is_reachable_by_keyboard(host: Host, live: str, page: Any) -> None:
    link_two(host, live)
    page.goto(url(live))
    page.locator(".stackone-account").first.wait_for()
    page.wait_for_function("() => window.StackOneAccounts !== undefined")
    reached = []
    for _ in range(5):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                "document.activeElement.getAttribute('aria-label') || "
                "document.activeElement.textContent"
            )
        )
    assert reached == [
        "Add a connection",
        "Re-connect BambooHR",
        "Disconnect BambooHR",
        "Re-connect HiBob",
        "Disconnect HiBob",
    ]

    # Disconnect by keyboard: Enter asks, Escape takes it back, focus returns.
    page.get_by_role("button", name="Disconnect BambooHR").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.textContent") == "Cancel"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == (
        "Yes, disconnect BambooHR"
    )
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == (
        "Disconnect BambooHR"
    )
    assert page.locator(".stackone-account-confirm").count() == 0
    assert page.locator(".stackone-account").count() == 2

    # Re-connect by keyboard: the dialog takes focus; Escape closes it and gives it back.
    page.get_by_role("button", name="Re-connect HiBob").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Re-connect HiBob")
    dialog.wait_for()
    dialog.get_by_label("Hibob Service User ID", exact=True).wait_for()
    assert page.evaluate("document.activeElement.closest('dialog') !== null")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == (
        "Re-connect HiBob"
    )
    assert page.locator("stackone-hub").count() == 0  # the Hub is gone with its timers


def test_add_opens_the_hub_with_the_panel_options(host: Host, live: str, page: Any) -> None:
    page.goto(url(live, provider="bamboohr", title="HR system", empty_text="Nothing yet."))
    empty = page.locator(".stackone-accounts-empty")
    empty.get_by_text("Nothing yet.").wait_for()
    page.get_by_role("button", name="Add a connection").click()
    page.get_by_role("dialog", name="Add a connection").get_by_label(
        "Company Domain", exact=True
    ).wait_for()  # straight to BambooHR's form: the provider option
    fill(page, {"Company Domain": "acme", "API Key": "key-1"})
    connect(page)
    [linked] = wait_for_event(page, "stackone:linked")
    announcement(page).get_by_text("BambooHR is connected.").wait_for()
    assert row(page, "BambooHR").get_attribute("data-account-id") == linked["id"]
    assert empty.is_hidden()
    assert "hub" in host.sources("account.created", linked["id"])
    assert events(page, "stackone:reconnected") == []


def test_logos_a_csp_forbids_become_monograms(host: Host, live: str, page: Any, shots: Any) -> None:
    link_two(host, live)
    host.csp = STRICT_CSP
    page.goto(url(live, nonce="r4nd0m"))
    page.wait_for_function("() => document.querySelectorAll('.stackone-account-img').length === 0")
    monograms = page.locator(".stackone-account-monogram")
    assert monograms.all_inner_texts() == ["Ba", "Hi"]
    assert all(m.is_visible() for m in monograms.all())
    shots(page.locator(".stackone-accounts"), "monograms-under-csp")
    violations = [line for line in page.console if "Content Security Policy" in line]
    assert violations and not [line for line in violations if "script" in line]
    # The buttons work under this policy too.
    page.get_by_role("button", name="Disconnect BambooHR").click()
    page.get_by_role("button", name="Yes, disconnect BambooHR").click()
    announcement(page).get_by_text("BambooHR is disconnected.").wait_for()


def test_the_list_is_there_before_any_script_runs(
    host: Host, live: str, browser: Any, shots: Any
) -> None:
    link_two(host, live)
    context = browser.new_context(java_script_enabled=False, viewport={"width": 900, "height": 700})
    try:
        page = context.new_page()
        page.goto(url(live))
        assert page.locator(".stackone-account").count() == 2
        assert "needs attention" in row(page, "HiBob").inner_text()
        assert row(page, "BambooHR").get_by_text("Active").is_visible()
        assert page.locator("noscript").count() == 1  # says the buttons need JavaScript
        shots(page, "without-javascript")
    finally:
        context.close()


def test_an_outage_shows_a_retry_and_recovers(host: Host, live: str, page: Any) -> None:
    link_two(host, live)
    failures = [1]

    def outage(route: Any) -> None:
        if failures:
            failures.pop()
            body = {"error": "stackone_unavailable", "message": "StackOne could not complete"}
            route.fulfill(status=502, json=body)
        else:
            route.continue_()

    page.route("**/stackone/accounts", outage)
    page.goto(url(live, server_render=False))
    page.get_by_text("StackOne is not available right now.").wait_for()
    page.get_by_role("button", name="Try again").click()
    page.locator(".stackone-account").nth(1).wait_for()
    assert page.get_by_text("StackOne is not available right now.").count() == 0


def test_the_panels_follow_the_hub_and_each_other(
    host: Host, live: str, page: Any, shots: Any
) -> None:
    page.goto(f"{live}/together")
    above, below = page.locator("#stackone-accounts"), page.locator("#stackone-accounts-2")
    for panel in (above, below):
        expect(panel.locator(".stackone-accounts-empty")).to_be_visible()
    connector_list(page).wait_for()
    pick(page, "BambooHR")
    fill(page, {"Company Domain": "acme", "API Key": "key-1"})
    connect(page)
    [linked] = wait_for_event(page, "stackone:linked")
    for panel in (above, below):  # no reload: both panels show the account the Hub linked
        expect(panel.locator(f'[data-account-id="{linked["id"]}"]')).to_have_count(1)
        expect(panel.locator(".stackone-accounts-empty")).to_be_hidden()
    shots(page, "linked-in-the-hub")

    below.get_by_role("button", name="Disconnect BambooHR").click()
    below.get_by_role("button", name="Yes, disconnect BambooHR").click()
    wait_for_event(page, "stackone:disconnected")
    expect(above.locator(".stackone-account")).to_have_count(0)
    expect(above.locator(".stackone-accounts-empty")).to_be_visible()
    shots(page, "disconnected-in-the-other-panel")
    assert not [line for line in page.console if line.startswith("pageerror")]
