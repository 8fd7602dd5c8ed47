"""blinker signals sent by flask-stackone.

The sender is the Flask app (so ``signal.connect_via(app)`` works) and the payload is
one keyword argument, ``event``. Receivers' return values are ignored. ``async def``
receivers work when Flask's async extra is installed (``pip install flask[async]``).

Receivers defined inside an app factory are garbage-collected unless connected with
``weak=False``: ``@account_created.connect_via(app, weak=False)``.
"""

from __future__ import annotations

from typing import Any

from blinker import Namespace, Signal
from flask import Flask

stackone_signals = Namespace()

#: An account was linked. ``event`` is an :class:`~flask_stackone.models.AccountEvent`,
#: ``event.source`` is ``"webhook"`` or ``"hub"`` (confirmed from the page).
account_created = stackone_signals.signal("account-created")
#: An account changed (re-connected, status changed). Fetch the status with ``get_account``.
account_updated = stackone_signals.signal("account-updated")
#: An account was deleted: ``event.source`` is ``"webhook"``, or ``"app"`` when the app
#: disconnected it (the accounts panel's disconnect route).
account_deleted = stackone_signals.signal("account-deleted")
#: Every verified webhook event, account events and all other types alike.
webhook_received = stackone_signals.signal("webhook-received")
#: A Connect Session was created. ``event`` is a :class:`~flask_stackone.models.SessionCreated`
#: (owner id and session id, never the token).
connect_session_created = stackone_signals.signal("connect-session-created")

BY_EVENT_TYPE: dict[str, Signal] = {
    "account.created": account_created,
    "account.updated": account_updated,
    "account.deleted": account_deleted,
}


def send(signal: Signal, app: Flask, event: Any) -> None:
    """Send ``event`` with the app as sender; async receivers run through ``ensure_sync``."""
    if signal.receivers:
        signal.send(app, _async_wrapper=app.ensure_sync, event=event)
