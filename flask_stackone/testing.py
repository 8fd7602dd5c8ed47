"""Helpers for testing a host app's StackOne handlers without mocks.

``sign`` and ``make_event`` produce exactly what StackOne sends; ``post_event`` sends it
through a Flask test client; ``record_events`` captures the signals the plugin sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from . import signals
from .models import WebhookEvent
from .state import get_state
from .webhooks import SIGNATURE_HEADER, compute_signature

__all__ = ["make_event", "post_event", "record_events", "sign"]


def sign(body: bytes | str, secret: str) -> str:
    """The ``x-stackone-signature`` value StackOne would send for ``body``."""
    return compute_signature(body.encode("utf-8") if isinstance(body, str) else body, secret)


def make_event(event: str, *, account_id: str = "acc_test_1", **fields: Any) -> bytes:
    """A webhook body shaped like StackOne's, as bytes. ``fields`` add or replace keys.

    ``make_event("account.created", account_id="acc_1", origin_owner_id="org_1")``
    """
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body: dict[str, Any] = {
        "project_id": "test-project",
        "event": event,
        "event_date": now,
        "record_type": "account",
        "record_id": account_id,
        "sent_at": now,
        "account_id": account_id,
        "provider": "bamboohr",
    }
    body.update(fields)
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


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
