"""Token renewal with the real pinned Hub in headless Chromium, sessions a few seconds long.

The Hub 1.11.4 cannot take a new token without losing an open form (it reloads the form
empty at the next keystroke) and its OAuth poll keeps the token it started with. So the
glue renews only while the connector list shows, never during a form or a sign-in, and
starts the Hub afresh with a notice when a token runs out during one. These tests show
both sides: a person who stays in a form past the renewal time still submits it, and one
whose token ran out sees why the form is empty and can finish."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from flask_stackone.sandbox import stop_deliveries

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
from .conftest import API_KEY
from .live_server import serve
from .test_widget_browser import Host, url

pytestmark = pytest.mark.browser

#: Seconds a session lasts where the person stays past the renewal time and must still
#: finish before it runs out: wide margins on both sides.
LONG_ENOUGH = 45
#: Seconds a session lasts where the test waits for it to run out.
RUNS_OUT = 12
RESTARTED = "The session ran out before the account was connected"

#: Recorded in the page: each token the glue received with when it was asked for (the
#: page's clock, from which the glue counts its life), and when a restart notice appeared.
RECORD_TOKENS = """
window.__tokens = [];
const originalFetch = window.fetch;
window.fetch = (url, init) => {
  const asked = Date.now();
  const answer = originalFetch(url, init);
  if (String(url).endsWith("/connect-session")) {
    answer.then((response) => response.clone().json())
      .then((body) => { if (body.token) window.__tokens.push({ asked, token: body.token }); })
      .catch(() => {});
  }
  return answer;
};
new MutationObserver(() => {
  if (!window.__restartedAt && document.querySelector(".stackone-hub-restarted")) {
    window.__restartedAt = Date.now();
  }
}).observe(document, { childList: true, subtree: true });
"""


@contextmanager
def short_sessions(tmp_path: Path, seconds: int) -> Iterator[tuple[Host, str]]:
    """A host app whose sessions last ``seconds``, served on a real port."""
    host = Host(tmp_path / "instance", STACKONE_SESSION_EXPIRES_IN=seconds)
    try:
        with serve(host.app) as base:
            yield host, base
    finally:
        stop_deliveries(host.app)


def hub_token(page: Any) -> str:
    return str(page.locator("stackone-hub").get_attribute("token"))


def asked_at(page: Any, token: str) -> int:
    """When the page asked for ``token`` (ms, the page's clock)."""
    page.wait_for_function("(token) => window.__tokens.some((t) => t.token === token)", arg=token)
    return int(
        page.evaluate("(token) => window.__tokens.find((t) => t.token === token).asked", token)
    )


def wait_past_renewal_time(page: Any, token: str, seconds: int) -> None:
    """Wait until four fifths of ``token``'s life of ``seconds`` are over, plus two seconds
    for the glue's once-a-second look: past its renewal at the list (half the life), and
    past any renewal a fifth of the life before the end."""
    due = asked_at(page, token) + seconds * 800 + 2000
    page.wait_for_function("(due) => Date.now() >= due", arg=due, timeout=seconds * 1000)


def sandbox_account(base: str, account_id: str) -> dict[str, Any]:
    answer = requests.get(
        f"{base}/stackone-sandbox/accounts/{account_id}", auth=(API_KEY, ""), timeout=5
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_form_kept_open_past_the_renewal_time_is_submitted(
    tmp_path: Path, page: Any, shots: Any
) -> None:
    page.add_init_script(RECORD_TOKENS)
    with short_sessions(tmp_path, LONG_ENOUGH) as (host, base):
        page.goto(url(base))
        connector_list(page).wait_for()
        pick(page, "BambooHR")
        fill(page, {"Company Domain": "acm", "API Key": "bamboo-key-1"})
        token = hub_token(page)

        wait_past_renewal_time(page, token, LONG_ENOUGH)
        shots(page, "form-past-the-renewal-time")
        domain = page.get_by_label("Company Domain", exact=True)
        domain.press("End")
        domain.press_sequentially("e")  # after a new token, the Hub reloads its form empty here
        assert domain.input_value() == "acme"
        assert page.get_by_label("API Key", exact=True).input_value() == "bamboo-key-1"
        assert hub_token(page) == token  # not renewed under the form
        connect(page)

        page.get_by_text("Connection Successful").wait_for()
        shots(page, "submitted")
        [linked] = wait_for_event(page, "stackone:linked")
        assert linked["provider"] == "bamboohr"
        assert "hub" in host.sources("account.created", linked["id"])
        assert sandbox_account(base, linked["id"])["setup_information"] == {"subdomain": "acme"}
        assert events(page, "stackone:error") == []
        assert page.locator(".stackone-hub-restarted").count() == 0


def test_a_token_that_runs_out_during_a_form_restarts_the_hub_with_a_notice(
    tmp_path: Path, page: Any, shots: Any
) -> None:
    page.add_init_script(RECORD_TOKENS)
    with short_sessions(tmp_path, RUNS_OUT) as (host, base):
        page.goto(url(base))
        connector_list(page).wait_for()
        pick(page, "BambooHR")
        fill(page, {"Company Domain": "acme"})
        token = hub_token(page)

        notice = page.locator(".stackone-hub-restarted")
        notice.wait_for(timeout=RUNS_OUT * 1000 + 20_000)
        shots(page, "restarted-with-a-notice")
        assert RESTARTED in notice.inner_text()
        assert notice.get_attribute("role") == "alert"
        # Never before the token ran out, and with a fresh one.
        assert page.evaluate("window.__restartedAt") >= asked_at(page, token) + RUNS_OUT * 1000
        assert hub_token(page) != token
        assert events(page, "stackone:error") == []

        # The person can finish: the Hub is back at its list, with a token that works.
        connector_list(page).wait_for()
        pick(page, "BambooHR")
        fill(page, {"Company Domain": "acme", "API Key": "bamboo-key-1"})
        connect(page)
        page.get_by_text("Connection Successful").wait_for()
        [linked] = wait_for_event(page, "stackone:linked")
        assert linked["provider"] == "bamboohr"
        assert "hub" in host.sources("account.created", linked["id"])
        assert notice.count() == 0  # linked: the notice is no longer true
        shots(page, "finished-after-the-restart")


def test_an_oauth_sign_in_kept_open_past_the_renewal_time_completes(
    tmp_path: Path, page: Any, shots: Any
) -> None:
    page.add_init_script(RECORD_TOKENS)
    with short_sessions(tmp_path, LONG_ENOUGH) as (host, base):
        page.goto(url(base))
        connector_list(page).wait_for()
        pick(page, "Salesforce")
        fill(page, {"Salesforce URL": "https://acme.my.salesforce.com"})
        token = hub_token(page)
        with page.expect_popup() as popup_info:
            connect(page)
        popup = popup_info.value
        authorize = popup.get_by_role("button", name="Authorize")
        authorize.wait_for()

        wait_past_renewal_time(page, token, LONG_ENOUGH)
        shots(page, "signing-in-past-the-renewal-time")
        assert hub_token(page) == token  # the Hub polls with this token: kept
        authorize.click()

        page.get_by_text("Connection Successful").wait_for(timeout=20_000)
        shots(page, "oauth-connected")
        [linked] = wait_for_event(page, "stackone:linked")
        assert linked["provider"] == "salesforce"
        assert "hub" in host.sources("account.created", linked["id"])
        assert events(page, "stackone:error") == []
        assert page.locator(".stackone-hub-restarted").count() == 0


def test_a_token_that_runs_out_during_an_oauth_sign_in_restarts_the_hub_with_a_notice(
    tmp_path: Path, page: Any, shots: Any
) -> None:
    page.add_init_script(RECORD_TOKENS)
    with short_sessions(tmp_path, RUNS_OUT) as (host, base):
        page.goto(url(base))
        connector_list(page).wait_for()
        pick(page, "Salesforce")
        fill(page, {"Salesforce URL": "https://acme.my.salesforce.com"})
        token = hub_token(page)
        with page.expect_popup() as popup_info:
            connect(page)
        stale = popup_info.value
        stale.get_by_role("button", name="Authorize").wait_for()

        # The Hub would poll with the dead token until it timed out: it starts again instead.
        notice = page.locator(".stackone-hub-restarted")
        notice.wait_for(timeout=RUNS_OUT * 1000 + 20_000)
        shots(page, "restarted-during-the-sign-in")
        assert RESTARTED in notice.inner_text()
        assert page.evaluate("window.__restartedAt") >= asked_at(page, token) + RUNS_OUT * 1000
        assert hub_token(page) != token
        # The popup of the old attempt cannot link anything any more, and says so.
        stale.get_by_role("button", name="Authorize").click()
        stale.get_by_text("has expired").wait_for()
        shots(stale, "stale-popup")
        stale.close()

        connector_list(page).wait_for()
        pick(page, "Salesforce")
        fill(page, {"Salesforce URL": "https://acme.my.salesforce.com"})
        with page.expect_popup() as popup_info:
            connect(page)
        popup = popup_info.value
        popup.get_by_role("button", name="Authorize").click()
        page.get_by_text("Connection Successful").wait_for(timeout=20_000)
        [linked] = wait_for_event(page, "stackone:linked")
        assert linked["provider"] == "salesforce"
        assert "hub" in host.sources("account.created", linked["id"])
        assert events(page, "stackone:error") == []
        assert notice.count() == 0
        shots(page, "oauth-finished-after-the-restart")
