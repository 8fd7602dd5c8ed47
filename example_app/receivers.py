"""What Acme People does with StackOne's events. ``create_app`` connects these to the
plugin's signals; they work the same for both sources (``event.source`` ``"hub"``: the
page confirmed a success; ``"webhook"``: StackOne told us)."""

from __future__ import annotations

from flask import flash

from flask_stackone import (
    Account,
    AccountEvent,
    NotFoundError,
    StackOneError,
    WebhookEvent,
    get_client,
)

from . import accounts
from .db import get_db

ACCOUNT_EVENT_TYPES = ("account.created", "account.updated", "account.deleted")


def store_linked_account(event: AccountEvent) -> str:
    """``account.created`` / ``account.updated``: store the account as StackOne has it now,
    for the organisation that linked it.

    A webhook carries no status, so the account is fetched; a confirm from the page
    already carries the verified account. A StackOne failure is re-raised: the webhook
    route then answers 500 and StackOne delivers the event again.

    :returns: the outcome written to the event log.
    """
    db = get_db()
    store = accounts.linked()
    at = accounts.event_time(event)
    try:
        account = _account_of(event)
    except NotFoundError:
        account = None
    except StackOneError as exc:
        with db:
            accounts.record_event(
                db,
                accounts.organisation_for_account(db, event.account_id),
                event,
                f"failed: {exc.message}; StackOne will deliver it again",
            )
        raise
    if account is None:  # gone at StackOne: deleted, also here
        organisation = accounts.organisation_for_account(db, event.account_id)
        if organisation is not None and event.account_id:
            store.tombstone(event.account_id, at=at, provider=event.provider)
        outcome = accounts.GONE
    else:
        organisation = accounts.organisation_for_owner(db, account.origin_owner_id)
        if organisation is None:
            outcome = accounts.UNKNOWN_OWNER
        elif store.store(account, at=at):
            outcome = accounts.STORED
        elif accounts.get_account(account.origin_owner_id or "", account.id) is None:
            outcome = accounts.GONE
        else:
            outcome = accounts.STALE
    with db:
        accounts.record_event(db, organisation, event, outcome)
    return outcome


def announce_link(event: AccountEvent) -> None:
    """Tell the person who just connected or re-connected an account that it worked.

    Runs in the page's confirm request, so the message shows on the page the widget opens
    next. An account that is linked but not active gets none: the widget shows why.
    """
    if event.raw.get("status") != "active":
        return
    name = event.raw.get("provider_name") or event.provider or "The account"
    if event.type == "account.updated":
        flash(f"{name} was re-connected and is active.", "success")
    else:
        flash(
            f"{name} is connected and active. Acme People can now read your people data.", "success"
        )


def forget_linked_account(event: AccountEvent) -> str:
    """``account.deleted``: leave a tombstone, whatever the order events came in."""
    db = get_db()
    organisation = accounts.organisation_for_account(
        db, event.account_id
    ) or accounts.organisation_for_owner(db, event.owner_id)
    if organisation is None or not event.account_id:
        outcome = accounts.UNKNOWN_OWNER
    elif accounts.linked().tombstone(
        event.account_id,
        at=accounts.event_time(event),
        owner_id=event.owner_id,
        provider=event.provider,
    ):
        outcome = accounts.STORED
    else:
        outcome = accounts.GONE
    with db:
        accounts.record_event(db, organisation, event, outcome)
    return outcome


def log_other_event(event: WebhookEvent) -> None:
    """Every other verified webhook (``hris_employees.updated``...) goes to the event log."""
    if event.type in ACCOUNT_EVENT_TYPES:
        return  # logged with their outcome by the two receivers above
    db = get_db()
    owner_id = event.raw.get("origin_owner_id")
    with db:
        organisation = accounts.organisation_for_account(
            db, event.account_id
        ) or accounts.organisation_for_owner(db, owner_id if isinstance(owner_id, str) else None)
        accounts.record_event(db, organisation, event, accounts.RECEIVED)


def _account_of(event: AccountEvent) -> Account:
    """The account as StackOne has it: from the confirm's verified copy, or fetched."""
    if event.source == "hub" and "status" in event.raw:
        return Account.from_api(event.raw)
    if not event.account_id:
        raise NotFoundError("the event names no account")
    return get_client().get_account(event.account_id)
