"""Helpers for testing a host app's StackOne handlers without mocks.

``sign`` and ``make_event`` produce exactly what StackOne sends; ``post_event`` sends it
through a Flask test client; ``record_events`` captures the signals the plugin sent;
``link_account`` links an account in the app's sandbox and delivers its webhooks to the
app; :class:`HubDriver` drives the real Hub in a Playwright page.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from . import signals
from .core.models import Account, Owner, WebhookEvent
from .core.webhooks import SIGNATURE_HEADER, build_event_body, compute_signature
from .services.linking import check_options, create_session
from .services.state import StackOneState, get_state

__all__ = [
    "HUB_TEST_SCRIPT",
    "HubDriver",
    "link_account",
    "make_event",
    "post_event",
    "record_events",
    "sign",
]


def sign(body: bytes | str, secret: str) -> str:
    """The ``x-stackone-signature`` value StackOne would send for ``body``."""
    return compute_signature(body.encode("utf-8") if isinstance(body, str) else body, secret)


def make_event(event: str, *, account_id: str = "acc_test_1", **fields: Any) -> bytes:
    """A webhook body shaped like StackOne's, as bytes. ``fields`` add or replace keys.

    ``make_event("account.created", account_id="acc_1", origin_owner_id="org_1")``
    """
    fields.setdefault("provider", "bamboohr")
    fields.setdefault("project_id", "test-project")
    return build_event_body(event, account_id=account_id, **fields)


def post_event(
    client: FlaskClient,
    body: bytes,
    *,
    secret: str | None = None,
    blueprint: str = "stackone",
) -> TestResponse:
    """POST ``body`` to the app's webhook route, signed with ``secret``
    (default: the first configured ``STACKONE_WEBHOOK_SECRET``)."""
    app = client.application
    state = get_state(app, blueprint)
    if secret is None:
        if not state.settings.webhook_secret:
            raise RuntimeError(f"{state.settings.name('webhook_secret')} is not set")
        secret = state.settings.webhook_secret[0]
    return client.post(
        webhook_path(app, state),
        data=body,
        headers={SIGNATURE_HEADER: sign(body, secret), "Content-Type": "application/json"},
    )


def webhook_path(app: Flask, state: StackOneState) -> str:
    """The path of the app's webhook route (``/stackone/webhooks``)."""
    with app.test_request_context():
        return state.url_for("webhook")


@contextmanager
def record_events(app: Flask) -> Iterator[list[WebhookEvent]]:
    """Collect every account event and other webhook event ``app`` sends.

    ``with record_events(app) as events: ...`` then ``events[0].type``. Account events
    appear once (from their typed signal); other types from ``webhook_received``.
    """
    events: list[WebhookEvent] = []

    def on_account(sender: Flask, event: WebhookEvent, **extra: Any) -> None:
        events.append(event)

    def on_webhook(sender: Flask, event: WebhookEvent, **extra: Any) -> None:
        if event.type not in signals.BY_EVENT_TYPE:
            events.append(event)

    with (
        signals.account_created.connected_to(on_account, app),
        signals.account_updated.connected_to(on_account, app),
        signals.account_deleted.connected_to(on_account, app),
        signals.webhook_received.connected_to(on_webhook, app),
    ):
        yield events


def link_account(
    app: Flask,
    owner: Owner,
    provider: str = "bamboohr",
    *,
    status: str = "active",
    label: str | None = None,
    multiple: bool = False,
    blueprint: str = "stackone",
) -> Account:
    """Link an account for ``owner`` in the app's sandbox, as the Hub does, and deliver the
    sandbox's signed webhooks for it to the app's webhook route through a Flask test
    client, on this thread. No browser and no server are needed.

    The session is created by the plugin (``connect_session_created`` is sent, the
    provider allow-list applies); the sandbox links the account with credentials for the
    connector's fields and sends ``account.created`` (``account.updated`` when the owner
    already has an account of this provider and ``multiple`` is false, as StackOne does).
    ``status="error"`` links with the sandbox's magic credentials (status ``error`` with a
    ``status_reasons`` entry); another status than ``active`` is then set as the provider
    would, which sends ``account.updated`` too.

    :param status: one of ``active``, ``inactive``, ``suspended``, ``archived``,
        ``expired``, ``error``.
    :param label: the session's label, kept on the account.
    :returns: the account as StackOne's API shows it.
    :raises RuntimeError: the sandbox is not on for this app (``STACKONE_SANDBOX``), or
        the app's webhook route answered other than 2xx (the delivery stays pending and is
        retried as usual).
    :raises ValueError: the sandbox has no such connector, or no such status.
    :raises InvalidOptionError: the app does not offer this provider.
    """
    from .sandbox import get_sandbox
    from .sandbox.accounts import STATUSES, link, public, sample_credentials, set_status
    from .sandbox.connectors import BY_KEY

    sandbox = get_sandbox(app)
    if sandbox is None:
        raise RuntimeError("the StackOne sandbox is not on for this app: set STACKONE_SANDBOX")
    connector = BY_KEY.get(provider)
    if connector is None:
        raise ValueError(f"the sandbox has no connector {provider!r} (it has {sorted(BY_KEY)})")
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    state = get_state(app, blueprint)
    with app.app_context():
        options = check_options(
            state.settings, {"provider": provider, "multiple": multiple, "label": label}
        )
        session = create_session(state, owner, state.settings.session_expires_in, options)
    found = sandbox.store.live_session(session.token)
    if found is None:
        raise RuntimeError("the session was created outside this app's sandbox (STACKONE_API_URL)")
    client = app.test_client()

    def post(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
        response = client.post(url, data=body, headers=dict(headers))
        return response.status_code, response.get_data(as_text=True)[:500]

    credentials = sample_credentials(connector, error=status == "error")
    with sandbox.deliverer.held():
        account = link(sandbox, found[0], connector, credentials)
        if account["status"] != status:
            account = set_status(sandbox, account, status)
        attempts = sandbox.deliverer.deliver_due(
            webhook_path(app, state), post, account_id=account["id"]
        )
    for attempt in attempts:
        if not attempt.delivered:
            raise RuntimeError(
                f"the app answered {attempt.status} to the sandbox's {attempt.event} webhook: "
                f"{attempt.answer}"
            )
    return Account.from_api(public(account))


#: A script for every page of a browser test (Playwright's ``add_init_script``): each shadow
#: root the page attaches is open, whatever mode its element asks for, so locators reach
#: the Hub's fields; and the widget's DOM events are kept in ``window.__stackoneTestEvents``
#: as ``[name, detail]``. For tests only: it changes how every element of the page works.
HUB_TEST_SCRIPT = """
(() => {
  const attachShadow = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    return attachShadow.call(this, Object.assign({}, init, { mode: "open" }));
  };
  window.__stackoneTestEvents = [];
  for (const name of [
    "stackone:linked", "stackone:error", "stackone:reconnected", "stackone:disconnected",
  ]) {
    document.addEventListener(name, (event) => {
      window.__stackoneTestEvents.push([name, event.detail]);
    });
  }
})();
"""


class HubDriver:
    """Drives the real StackOne Hub in a Playwright page (sync API) of a browser test.

    Built before the page opens the host's page: it adds :data:`HUB_TEST_SCRIPT` to the
    page. The pinned Hub's texts are used to find things (its connector buttons, the
    ``Connect`` button), form fields by their labels.

    :param page: a Playwright ``Page``.
    """

    def __init__(self, page: Any) -> None:
        self.page = page
        page.add_init_script(HUB_TEST_SCRIPT)

    def wait_until_shown(self) -> None:
        """Wait until the Hub shows its connector list."""
        self.page.get_by_placeholder("Search Integrations").wait_for()

    def pick(self, connector: str) -> None:
        """Click a connector of the Hub's list by its name (``"BambooHR"``)."""
        self.page.locator("stackone-hub button").filter(has_text=connector).first.click()

    def fill(self, values: Mapping[str, str]) -> None:
        """Fill the form's fields, found by their exact labels."""
        for label, value in values.items():
            self.page.get_by_label(label, exact=True).fill(value)

    def connect(self) -> None:
        """Press the Hub's ``Connect`` button."""
        self.page.get_by_role("button", name="Connect", exact=True).click()

    def events(self, name: str) -> list[Any]:
        """The details of the widget's DOM events ``name`` so far (``"stackone:linked"``)."""
        recorded = self.page.evaluate("window.__stackoneTestEvents")
        return [detail for event, detail in recorded if event == name]

    def wait_for_linked(self, count: int = 1) -> dict[str, Any]:
        """Wait for the ``count``-th ``stackone:linked`` event; returns its detail, the
        verified account (``id``, ``provider``, ``status``, ``status_reasons``)."""
        self.page.wait_for_function(
            "(count) => window.__stackoneTestEvents"
            ".filter(([name]) => name === 'stackone:linked').length >= count",
            arg=count,
        )
        linked: dict[str, Any] = self.events("stackone:linked")[count - 1]
        return linked
