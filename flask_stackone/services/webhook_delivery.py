"""Handling one webhook delivery: verify, parse, claim, send the signals, then remember
(every receiver succeeded) or release (one failed, so StackOne's redelivery runs again)."""

from __future__ import annotations

import logging
import time
from typing import Literal

from flask import Flask

from .. import signals
from ..core.errors import (
    ConfigurationError,
    DeliveryInProgress,
    ReceiverError,
    SignatureVerificationError,
    StaleEventError,
    StoreUnavailable,
)
from ..core.webhooks import check_event_time, parse_event, verify_signature
from .state import StackOneState

log = logging.getLogger("flask_stackone")

Outcome = Literal["handled", "duplicate"]


def check_configured(state: StackOneState) -> None:
    """:raises ConfigurationError: no webhook secret is set, so nothing can be verified."""
    if not state.settings.webhook_secret:
        setting = state.settings.name("webhook_secret")
        raise ConfigurationError(f"{setting} is not set on this server")


def handle_delivery(
    state: StackOneState, app: Flask, body: bytes, signature: str | None
) -> Outcome:
    """Run one delivery's receivers at most once per store.

    :returns: ``"handled"``, or ``"duplicate"`` when the store saw it done before.
    :raises ConfigurationError: no webhook secret is configured (never accept unsigned).
    :raises SignatureVerificationError: the signature matches no secret.
    :raises InvalidPayloadError: signed, but not a JSON object.
    :raises StaleEventError: signed, but sent longer ago than ``STACKONE_WEBHOOK_MAX_AGE``
        (or dated in the future): a replay the delivery store may have forgotten.
    :raises DeliveryInProgress: another worker still holds it after ``STACKONE_DELIVERY_WAIT``.
    :raises ReceiverError: a receiver failed; the delivery is released for a redelivery.
    :raises StoreUnavailable: the store cannot be reached, so nothing ran: retry later.
    """
    settings = state.settings
    check_configured(state)
    try:
        verify_signature(body, signature, settings.webhook_secret)
    except SignatureVerificationError as exc:
        log.warning("webhook refused: %s", exc)
        raise
    event = parse_event(body)
    try:
        check_event_time(event, settings.webhook_max_age)
    except StaleEventError as exc:
        log.warning(
            "webhook refused (%s): %s; %s for account %s",
            exc.code,
            exc,
            event.type,
            event.account_id,
        )
        raise
    store = state.delivery_store
    key = event.delivery_key
    assert key is not None
    deadline = time.monotonic() + settings.delivery_wait
    while (claim := store.claim(key)) == "busy" and time.monotonic() < deadline:
        time.sleep(0.05)
    if claim == "done":
        return "duplicate"
    if claim == "busy":
        raise DeliveryInProgress("this delivery is being handled; retry later")
    try:
        signals.send(signals.webhook_received, app, event)
        typed = signals.BY_EVENT_TYPE.get(event.type)
        if typed is not None:
            signals.send(typed, app, event)
    except Exception as exc:
        try:
            store.release(key)
        except StoreUnavailable as lost:  # the claim lapses after its lease instead
            log.warning("could not release the failed delivery: %s", lost)
        log.exception(
            "webhook receiver failed for %s (account %s); answering 500 so StackOne redelivers",
            event.type,
            event.account_id,
        )
        raise ReceiverError("a receiver failed; the event will be redelivered") from exc
    try:
        store.remember(key)
    except StoreUnavailable as exc:
        # Every receiver ran: acknowledge. Only the done mark is lost, so a later
        # duplicate of this delivery may run the receivers once more.
        log.warning("delivery handled but not remembered: %s", exc)
    return "handled"
