"""Telling the host app about an account the page or the app changed: one
:class:`~flask_stackone.core.models.AccountEvent`, sent like StackOne's webhook sends it."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import current_app

from .. import signals
from ..core.errors import ReceiverError
from ..core.models import Account, AccountEvent

log = logging.getLogger("flask_stackone")


def send_account_event(
    account: Account, event_type: str, source: str, *, done: str, provider: str | None = None
) -> AccountEvent:
    """Build the event of ``account`` and send its signal, the current app as sender.

    :param event_type: ``account.created``, ``account.updated`` or ``account.deleted``.
    :param source: ``hub`` (the page confirmed it) or ``app`` (the app changed it).
    :param done: what happened at StackOne all the same when a receiver fails, e.g.
        ``linked``.
    :param provider: the connector key when ``account`` has none.
    :returns: the event sent.
    :raises ReceiverError: a receiver raised (logged with the event type and account id).
    """
    event = AccountEvent(
        type=event_type,
        account_id=account.id,
        provider=account.provider or provider,
        owner_id=account.origin_owner_id,
        owner_name=account.origin_owner_name,
        username=account.origin_username,
        label=account.label,
        account_type=account.type,
        event_date=datetime.now(timezone.utc),
        source=source,
        raw=account.raw,
    )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        signals.send(signals.BY_EVENT_TYPE[event_type], app, event)
    except Exception as exc:
        log.exception(
            "%s receiver failed for account %s (source %s)", event_type, account.id, source
        )
        raise ReceiverError(f"the account is {done} but could not be recorded") from exc
    return event
