"""The real pinned Hub element in headless Chromium, against a host app on a real port in
sandbox mode: linking, confirming, signals from both sources, re-connect, token expiry,
sign-in and outage messages, OAuth through the popup, lazy loading and a strict CSP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, render_template_string, request

from flask_stackone import AccountEvent, Owner, account_created, account_updated, make_blueprint
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
BAMBOO = {"Company Domain": "acme", "API Key": "bamboo-key-1"}
HUB_SCRIPT = "/webcomponent.js"
PAGE = """<!doctype html>
<html><head><title>Integrations</title></head><body><h1>Integrations</h1>
{{ stackone_hub(**options) }}
{% if second %}{{ stackone_hub(lazy=true, provider="hibob", button_label="Link HiBob") }}{% endif %}
</body></html>"""


class Host:
    """A host app with the sandbox on, served on 127.0.0.1; it records its signals."""

    def __init__(self, instance: Path, owner: Owner | None = OWNER, **config: Any) -> None:
        self.owner = owner
        self.received: list[tuple[str, AccountEvent]] = []
        self.lock = threading.Lock()
        app = Flask("widget_host", instance_path=str(instance))
        app.config.update(
            SECRET_KEY="widget-host-secret",
            STACKONE_API_KEY=API_KEY,
            STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            **{"STACKONE_SANDBOX": True, "STACKONE_SANDBOX_DELIVERY_BACKOFF": 0.05, **config},
        )
        blueprint = make_blueprint()
        blueprint.owner_loader(lambda: self.owner)
        app.register_blueprint(blueprint)
        self.csp: str | None = None

        @app.route("/")
        def integrations() -> Any:
            options = json.loads(request.args.get("options", "{}"))
            html = render_template_string(PAGE, options=options, second="second" in request.args)
            headers = {"Content-Security-Policy": self.csp} if self.csp else {}
            return html, 200, headers

        @app.route("/plain")
        def plain() -> str:
            return "<!doctype html><title>Plain</title><p>No widget here.</p>"

        @app.route("/done")
        def done() -> str:
            return "<!doctype html><title>Done</title><p>All linked.</p>"

        for signal in (account_created, account_updated):
            signal.connect(self.record, app, weak=False)
        self.app = app

    def record(self, sender: Flask, event: AccountEvent, **extra: Any) -> None:
        with self.lock:
            self.received.append((event.type, event))

    def sources(self, event_type: str, account_id: str) -> list[str]:
        with self.lock:
            return sorted(
                e.source for t, e in self.received if t == event_type and e.account_id == account_id
            )


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
    from urllib.parse import urlencode

    return f"{base}/?{urlencode({'options': json.dumps(options)})}"


def token_posts(page: Any) -> list[Any]:
    """Record the page's calls to the token route."""
    seen: list[Any] = []
    page.on(
        "request",
        lambda r: seen.append(r) if r.url.endswith("/stackone/connect-session") else None,
    )
    return seen


def link_through_sandbox(base: str) -> str:
    """Link a BambooHR account over HTTP the way the Hub does; return its id."""
    token = requests.post(
        f"{base}/stackone/connect-session", json={}, headers={"X-StackOne-Request": "1"}, timeout=5
    ).json()["token"]
    created = requests.post(
        f"{base}/stackone-sandbox/hub/accounts",
        json={
            "integration_id": "sbx-bamboohr",
            "credentials": {"subdomain": "acme", "api_key": "first-key"},
        },
        headers={"x-hub-session-token": token, "x-hub-version": "1.11.4"},
        timeout=5,
    )
    assert created.status_code in (200, 201), created.text
    return created.json()["id"]


def test_link_an_account_end_to_end(host: Host, live: str, page: Any, shots: Any) -> None:
    confirms: list[Any] = []
    page.on("response", lambda r: confirms.append(r) if r.url.endswith("/confirm") else None)
    page.goto(url(live))
    connector_list(page).wait_for()
    shots(page.locator(".stackone-hub"), "connector-list")

    pick(page, "BambooHR")
    page.get_by_label("Company Domain", exact=True).wait_for()
    shots(page.locator(".stackone-hub"), "bamboohr-form")
    fill(page, BAMBOO)
    shots(page, "credentials-entered")
    connect(page)

    page.get_by_text("Connection Successful").wait_for()
    shots(page, "connection-successful")
    [linked] = wait_for_event(page, "stackone:linked")
    assert linked["provider"] == "bamboohr"
    assert linked["status"] == "active"
    assert linked["status_reasons"] == []
    [confirm] = confirms
    assert confirm.status == 200
    assert confirm.request.method == "POST"
    assert confirm.request.headers["x-stackone-request"] == "1"
    assert confirm.request.post_data_json == {}
    assert confirm.url.endswith(f"/stackone/accounts/{linked['id']}/confirm")
    assert wait_for_deliveries(host.app, timeout=10)
    assert host.sources("account.created", linked["id"]) == ["hub", "webhook"]
    assert API_KEY not in page.content()
    assert events(page, "stackone:error") == []


def test_reconnect_opens_the_edit_form(host: Host, live: str, page: Any, shots: Any) -> None:
    account_id = link_through_sandbox(live)
    confirms: list[Any] = []
    page.on("request", lambda r: confirms.append(r) if r.url.endswith("/confirm") else None)
    page.goto(url(live, account_id=account_id))

    domain = page.get_by_label("Company Domain", exact=True)
    domain.wait_for()
    shots(page, "edit-form")
    assert domain.input_value() == "acme"  # set up before: shown again
    assert page.get_by_label("API Key", exact=True).input_value() == ""  # secrets never come back
    fill(page, {"API Key": "rotated-key-2"})
    connect(page)

    page.get_by_text("Connection Successful").wait_for()
    shots(page, "reconnected")
    [linked] = wait_for_event(page, "stackone:linked")
    assert linked["id"] == account_id
    assert confirms[0].post_data_json == {"reconnect": True}
    assert "hub" in host.sources("account.updated", account_id)


def test_an_expired_token_is_replaced_without_a_reload(
    tmp_path: Path, page: Any, shots: Any
) -> None:
    host = Host(tmp_path / "instance", STACKONE_SESSION_EXPIRES_IN=4)
    posts = token_posts(page)
    try:
        with serve(host.app) as base:
            page.goto(url(base))
            connector_list(page).wait_for()
            page.evaluate("window.__sameDocument = true")
            first = page.locator("stackone-hub").get_attribute("token")
            # 4 s sessions: the glue asks for the next token before this one runs out.
            page.wait_for_function(
                "(first) => document.querySelector('stackone-hub').getAttribute('token') !== first",
                arg=first,
                timeout=8000,
            )
            connector_list(page).wait_for()
            shots(page, "after-token-refresh")
            assert page.evaluate("window.__sameDocument") is True
            assert len(posts) >= 2
            # The new token works: a connector can still be linked with it.
            pick(page, "BambooHR")
            fill(page, BAMBOO)
            connect(page)
            page.get_by_text("Connection Successful").wait_for()
            wait_for_event(page, "stackone:linked")
    finally:
        stop_deliveries(host.app)


#: Recorded in the page: when each token request starts (ms, the page's clock).
RECORD_TOKEN_ASKS = """
window.__tokenAsks = [];
const originalFetch = window.fetch;
window.fetch = (url, init) => {
  if (String(url).endsWith("/connect-session")) window.__tokenAsks.push(Date.now());
  return originalFetch(url, init);
};
document.addEventListener("stackone:error", () => { window.__errorAt = Date.now(); });
"""
UNAVAILABLE = {"error": "stackone_unavailable", "message": "StackOne could not complete"}


def test_a_failed_background_renewal_keeps_the_hub_and_retries(
    tmp_path: Path, page: Any, shots: Any
) -> None:
    host = Host(tmp_path / "instance", STACKONE_SESSION_EXPIRES_IN=8)
    answered: list[int] = []

    def fail_first_renewal(route: Any) -> None:
        if len(answered) == 1:  # the first scheduled renewal, ~1.6 s before the token expires
            answered.append(503)
            route.fulfill(status=503, json=UNAVAILABLE)
        else:
            answered.append(200)
            route.continue_()

    page.route("**/stackone/connect-session", fail_first_renewal)
    try:
        with serve(host.app) as base:
            page.goto(url(base))
            connector_list(page).wait_for()
            page.evaluate("document.querySelector('stackone-hub').__sameHub = true")
            first = page.locator("stackone-hub").get_attribute("token")
            page.wait_for_function(
                "(first) => (document.querySelector('stackone-hub') || {}).getAttribute?.('token')"
                " !== first",
                arg=first,
                timeout=12_000,
            )
            assert events(page, "stackone:error") == []  # not wiped by the failed renewal
            shots(page, "renewed-after-a-failed-renewal")
            assert answered[:3] == [200, 503, 200]
            # The same Hub, never replaced by a message: the user's work in it is kept.
            assert page.evaluate("document.querySelector('stackone-hub').__sameHub") is True
            assert events(page, "stackone:error") == []
            assert page.locator(".stackone-hub-message").count() == 0
            # The renewed token works.
            pick(page, "BambooHR")
            fill(page, BAMBOO)
            connect(page)
            page.get_by_text("Connection Successful").wait_for()
            wait_for_event(page, "stackone:linked")
    finally:
        stop_deliveries(host.app)


def test_a_renewal_that_keeps_failing_shows_the_outage_once_the_token_expired(
    tmp_path: Path, page: Any, shots: Any
) -> None:
    host = Host(tmp_path / "instance", STACKONE_SESSION_EXPIRES_IN=4)
    answered: list[int] = []

    def outage_after_the_first(route: Any) -> None:
        if answered:
            answered.append(503)
            route.fulfill(status=503, json=UNAVAILABLE)
        else:
            answered.append(200)
            route.continue_()

    page.add_init_script(RECORD_TOKEN_ASKS)
    page.route("**/stackone/connect-session", outage_after_the_first)
    try:
        with serve(host.app) as base:
            page.goto(url(base))
            connector_list(page).wait_for()
            page.get_by_text("StackOne is not available right now.").wait_for(timeout=12_000)
            shots(page, "renewal-failed-after-expiry")
            [error] = wait_for_event(page, "stackone:error")
            assert (error["stage"], error["status"]) == ("session", 503)
            assert answered.count(503) >= 2  # the renewal was tried again before giving up
            asks, error_at = page.evaluate("[window.__tokenAsks, window.__errorAt]")
            assert error_at - asks[0] >= 3900  # not before the 4 s token ran out
            assert page.locator("stackone-hub").count() == 0
    finally:
        stop_deliveries(host.app)


def test_the_hub_expired_state_fetches_a_fresh_token(live: str, page: Any, shots: Any) -> None:
    posts = token_posts(page)
    refused: list[str] = []

    def expire_once(route: Any) -> None:
        if refused:
            route.continue_()
            return
        refused.append(route.request.headers.get("x-hub-session-token", ""))
        route.fulfill(status=401, json={"statusCode": 401, "message": "Unauthorized"})

    page.route("**/stackone-sandbox/hub/connectors*", expire_once)
    page.goto(url(live))
    connector_list(page).wait_for()
    shots(page, "recovered-from-expired-token")
    assert len(posts) == 2
    assert refused and page.locator("stackone-hub").get_attribute("token") != refused[0]


def test_a_signed_out_visitor_sees_the_sign_in_message(
    host: Host, live: str, page: Any, shots: Any
) -> None:
    host.owner = None
    page.goto(url(live))
    message = page.get_by_text("Please sign in to link an account.")
    message.wait_for()
    shots(page, "sign-in-message")
    assert page.locator("stackone-hub").count() == 0
    [error] = wait_for_event(page, "stackone:error")
    assert (error["status"], error["error"], error["stage"]) == (401, "not_signed_in", "session")


def test_stackone_unavailable_shows_a_retry_button(live: str, page: Any, shots: Any) -> None:
    failures = [1]

    def outage(route: Any) -> None:
        if failures:
            failures.pop()
            body = {"error": "stackone_unavailable", "message": "StackOne could not complete"}
            route.fulfill(status=502, json=body)
        else:
            route.continue_()

    page.route("**/stackone/connect-session", outage)
    page.goto(url(live))
    page.get_by_text("StackOne is not available right now.").wait_for()
    shots(page, "stackone-unavailable")
    page.get_by_role("button", name="Try again").click()
    connector_list(page).wait_for()
    shots(page, "after-retry")


def test_a_non_active_account_shows_its_status_reasons(
    host: Host, live: str, page: Any, shots: Any
) -> None:
    page.goto(url(live, provider="bamboohr", redirect_to="/done"))
    fill(page, {"Company Domain": "acme", "API Key": "error-scope-missing"})
    connect(page)
    [linked] = wait_for_event(page, "stackone:linked")
    assert linked["status"] == "error"
    notice = page.locator(".stackone-hub-notice")
    notice.wait_for()
    shots(page, "status-error")
    assert "its status is \u201cerror\u201d" in notice.inner_text()
    assert linked["status_reasons"][0]["description"] in notice.inner_text()
    assert page.url.startswith(live + "/?")  # not redirected: the reason stays visible
    assert notice.get_by_role("link", name="Continue").get_attribute("href") == f"{live}/done"


def test_a_non_active_account_is_one_outcome_not_the_hubs_success_screen(
    live: str, page: Any, shots: Any
) -> None:
    page.goto(url(live, provider="bamboohr"))
    fill(page, {"Company Domain": "acme", "API Key": "error-scope-missing"})
    connect(page)
    [linked] = wait_for_event(page, "stackone:linked")
    assert linked["status"] == "error"
    notice = page.locator(".stackone-hub-notice")
    notice.wait_for()
    shots(page, "status-error-alone")
    # The Hub and its green "Connection Successful" are gone: only the warning is left.
    assert page.locator("stackone-hub").count() == 0
    assert page.get_by_text("Connection Successful").count() == 0
    assert page.locator("#stackone-hub").inner_text().strip() == notice.inner_text().strip()
    assert linked["status_reasons"][0]["description"] in notice.inner_text()
    # Without redirect_to, Close offers the Hub again.
    notice.get_by_role("button", name="Close").click()
    connector_list(page).or_(page.get_by_label("Company Domain", exact=True)).wait_for()
    assert page.locator(".stackone-hub-notice").count() == 0


def test_an_active_account_follows_redirect_to(live: str, page: Any) -> None:
    page.goto(url(live, provider="bamboohr", redirect_to="/done"))
    fill(page, BAMBOO)
    connect(page)
    page.wait_for_url(f"{live}/done")
    assert page.get_by_text("All linked.").is_visible()


def test_an_oauth_connector_completes_through_the_popup(
    host: Host, live: str, page: Any, shots: Any
) -> None:
    page.goto(url(live))
    connector_list(page).wait_for()
    pick(page, "Salesforce")
    fill(page, {"Salesforce URL": "https://acme.my.salesforce.com"})
    shots(page, "oauth-connector")
    with page.expect_popup() as popup_info:
        connect(page)
    popup = popup_info.value
    popup.get_by_role("button", name="Authorize").wait_for()
    assert "https://acme.my.salesforce.com" in popup.content()  # the form's values came along
    shots(popup, "oauth-consent-popup")
    popup.get_by_role("button", name="Authorize").click()

    page.get_by_text("Connection Successful").wait_for(timeout=20_000)
    shots(page, "oauth-connected")
    [linked] = wait_for_event(page, "stackone:linked")
    assert linked["provider"] == "salesforce"
    assert "hub" in host.sources("account.created", linked["id"])


def test_lazy_widgets_load_nothing_until_clicked(live: str, page: Any, shots: Any) -> None:
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(url(live, lazy=True, button_label="Connect your HR system") + "&second=1")
    page.get_by_role("button", name="Connect your HR system").wait_for()
    page.get_by_role("button", name="Link HiBob").wait_for()
    shots(page, "lazy-buttons")
    page.wait_for_load_state("networkidle")
    assert not [u for u in fetched if HUB_SCRIPT in u or u.endswith("/connect-session")]

    page.get_by_role("button", name="Connect your HR system").click()
    connector_list(page).wait_for()
    page.get_by_role("button", name="Link HiBob").click()
    page.locator("stackone-hub").nth(1).get_by_label("Hibob Service User ID", exact=True).wait_for()
    shots(page, "two-widgets")
    assert len([u for u in fetched if HUB_SCRIPT in u]) == 1  # one script for both widgets


def test_a_page_without_the_widget_loads_no_hub_bytes(live: str, page: Any) -> None:
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(f"{live}/plain")
    page.wait_for_load_state("networkidle")
    assert fetched == [f"{live}/plain"]


def test_the_widget_works_under_a_strict_csp_with_a_nonce(
    host: Host, live: str, page: Any, shots: Any
) -> None:
    host.csp = (
        "default-src 'self'; script-src 'nonce-r4nd0m'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )
    page.goto(url(live, nonce="r4nd0m", provider="bamboohr"))
    fill(page, BAMBOO)
    shots(page, "under-csp")
    connect(page)
    page.get_by_text("Connection Successful").wait_for()
    wait_for_event(page, "stackone:linked")
    script_violations = [
        line for line in page.console if "Content Security Policy" in line and "script" in line
    ]
    assert script_violations == []
