"""Linked accounts and the event log, per organisation.

Account events arrive at least once, from two sources (the page's confirm and StackOne's
webhook) and in any order. Every write is an upsert by account id that only applies when
the event is newer than what is stored, and a deletion leaves a tombstone, so replays,
duplicates and late arrivals change nothing.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from flask_stackone import Account, AccountEvent, WebhookEvent

from .db import now_iso, to_iso

# Outcomes written to the event log.
STORED = "stored"
STALE = "ignored: not newer than what is stored"
GONE = "ignored: account already disconnected"
UNKNOWN_OWNER = "ignored: unknown organisation"
RECEIVED = "received"


def organisation_for_owner(db: sqlite3.Connection, owner_id: str | None) -> int | None:
    """The organisation StackOne calls ``owner_id`` (its ``origin_owner_id``)."""
    if not owner_id:
        return None
    row = db.execute("SELECT id FROM organisations WHERE owner_id = ?", (owner_id,)).fetchone()
    return row["id"] if row else None


def organisation_for_account(db: sqlite3.Connection, account_id: str | None) -> int | None:
    """The organisation an account was linked by, deleted or not."""
    if not account_id:
        return None
    row = db.execute(
        "SELECT organisation_id FROM linked_accounts WHERE account_id = ?", (account_id,)
    ).fetchone()
    return row["organisation_id"] if row else None


def list_accounts(db: sqlite3.Connection, organisation_id: int) -> list[dict[str, object]]:
    """The organisation's linked accounts, newest first (disconnected ones left out)."""
    rows = db.execute(
        "SELECT * FROM linked_accounts WHERE organisation_id = ? AND deleted_at IS NULL"
        " ORDER BY created_at DESC, account_id",
        (organisation_id,),
    ).fetchall()
    return [_account_view(row) for row in rows]


def get_account(
    db: sqlite3.Connection, organisation_id: int, account_id: str
) -> dict[str, object] | None:
    """One of the organisation's linked accounts, or ``None`` (also for another's)."""
    row = db.execute(
        "SELECT * FROM linked_accounts"
        " WHERE account_id = ? AND organisation_id = ? AND deleted_at IS NULL",
        (account_id, organisation_id),
    ).fetchone()
    return _account_view(row) if row else None


def _account_view(row: sqlite3.Row) -> dict[str, object]:
    view = dict(row)
    view["status_reasons"] = json.loads(row["status_reasons"])
    view["name"] = row["label"] or row["provider_name"] or row["provider"] or row["account_id"]
    return view


def store_account(db: sqlite3.Connection, organisation_id: int, account: Account, at: str) -> bool:
    """Upsert ``account`` as of event time ``at``; ``False`` when it was stale or deleted."""
    reasons = [
        {"code": r.code, "description": r.description}
        for r in account.status_reasons
        if r.code or r.description
    ]
    cursor = db.execute(
        """INSERT INTO linked_accounts (account_id, organisation_id, provider, provider_name,
               status, status_reasons, label, created_at, updated_at, last_event_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (account_id) DO UPDATE SET
               provider = excluded.provider,
               provider_name = excluded.provider_name,
               status = excluded.status,
               status_reasons = excluded.status_reasons,
               label = excluded.label,
               created_at = coalesce(excluded.created_at, linked_accounts.created_at),
               updated_at = excluded.updated_at,
               last_event_at = excluded.last_event_at
           WHERE excluded.last_event_at > linked_accounts.last_event_at
             AND linked_accounts.organisation_id = excluded.organisation_id
             AND linked_accounts.deleted_at IS NULL""",
        (
            account.id,
            organisation_id,
            account.provider,
            account.provider_name,
            account.status or "unknown",
            json.dumps(reasons),
            account.label,
            _iso_or_none(account.created_at) or at,
            _iso_or_none(account.updated_at) or at,
            at,
        ),
    )
    return cursor.rowcount == 1


def mark_deleted(
    db: sqlite3.Connection, organisation_id: int, account_id: str, provider: str | None, at: str
) -> bool:
    """Leave a tombstone for ``account_id``. A deletion is final, so it applies whatever its
    date; ``False`` when the account was already gone."""
    cursor = db.execute(
        """INSERT INTO linked_accounts (account_id, organisation_id, provider, status,
               last_event_at, deleted_at)
           VALUES (?, ?, ?, 'deleted', ?, ?)
           ON CONFLICT (account_id) DO UPDATE SET
               status = 'deleted',
               deleted_at = excluded.deleted_at,
               last_event_at = max(linked_accounts.last_event_at, excluded.last_event_at)
           WHERE linked_accounts.organisation_id = excluded.organisation_id
             AND linked_accounts.deleted_at IS NULL""",
        (account_id, organisation_id, provider, at, now_iso()),
    )
    return cursor.rowcount == 1


def record_event(
    db: sqlite3.Connection, organisation_id: int | None, event: WebhookEvent, outcome: str
) -> None:
    """Append ``event`` and what became of it to the event log."""
    db.execute(
        "INSERT INTO events (organisation_id, received_at, source, type, account_id, provider,"
        " event_date, outcome, delivery_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            organisation_id,
            now_iso(),
            event.source,
            event.type,
            event.account_id,
            event.provider,
            _iso_or_none(event.event_date),
            outcome,
            event.delivery_key,
        ),
    )


def list_events(
    db: sqlite3.Connection, organisation_id: int, limit: int = 200
) -> list[sqlite3.Row]:
    """The organisation's newest events first."""
    return db.execute(
        "SELECT * FROM events WHERE organisation_id = ? ORDER BY id DESC LIMIT ?",
        (organisation_id, limit),
    ).fetchall()


def event_time(event: AccountEvent) -> str:
    """When the event happened, in the stored form (the receipt time if StackOne sent none)."""
    return _iso_or_none(event.event_date) or now_iso()


def _iso_or_none(value: datetime | None) -> str | None:
    return to_iso(value) if value is not None else None
