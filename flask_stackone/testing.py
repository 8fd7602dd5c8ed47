"""Helpers for testing a host app's StackOne handlers without mocks.

``sign`` and ``make_event`` produce exactly what StackOne sends; ``post_event`` sends it
through a Flask test client; ``record_events`` captures the signals the plugin sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from . import signals
from .core.models import WebhookEvent
from .core.webhooks import SIGNATURE_HEADER, build_event_body, compute_signature
from .services.state import get_state

__all__ = ["make_event", "post_event", "record_events", "sign"]


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
    with app.test_request_context():
        url = state.url_for("webhook")
    return client.post(
        url,
        data=body,
        headers={SIGNATURE_HEADER: sign(body, secret), "Content-Type": "application/json"},
    )


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
