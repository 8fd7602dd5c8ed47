"""Linked accounts (flask-stackone's linked-accounts store on this app's SQLite file) and the
event log, per organisation.

Account events arrive at least once, from two sources (the page's confirm and StackOne's
webhook) and in any order. The store applies the rules: an upsert by account id that only
applies when the event is newer than what is stored, and a tombstone a deletion leaves, so
replays, duplicates and late arrivals change nothing. An organisation's accounts are those
whose ``owner_id`` is its own (what StackOne calls ``origin_owner_id``).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Text, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from flask_stackone import AccountEvent, LinkedAccountMixin, LinkedAccounts, WebhookEvent

from .db import now_iso, to_iso

# Outcomes written to the event log.
STORED = "stored"
STALE = "ignored: not newer than what is stored"
GONE = "ignored: account already disconnected"
UNKNOWN_OWNER = "ignored: unknown organisation"
RECEIVED = "received"

EXTENSION_KEY = "acme_linked_accounts"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class IsoTime(TypeDecorator[datetime]):
    """A time kept as ISO 8601 UTC text with microseconds, like every time of this app's
    schema: text order is time order."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> str | None:
        return to_iso(value) if value is not None else None

    def process_result_value(self, value: str | None, dialect: Any) -> datetime | None:
        return datetime.fromisoformat(value) if value else None


class ShownReasons(TypeDecorator[list[dict[str, Any]]]):
    """Status reasons as JSON text, keeping of each what the pages show."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: list[dict[str, Any]] | None, dialect: Any) -> str:
        kept = [
            {"code": r.get("code"), "description": r.get("description")}
            for r in value or ()
            if r.get("code") or r.get("description")
        ]
        return json.dumps(kept)

    def process_result_value(self, value: str | None, dialect: Any) -> list[dict[str, Any]]:
        return json.loads(value) if value else []


class Base(DeclarativeBase):
    pass


class LinkedAccount(LinkedAccountMixin, Base):
    """The mixin's columns, with this app's forms of times and reasons (db.py's migration 3
    creates the table)."""

    __tablename__ = "linked_accounts"

    status_reasons: Mapped[list[dict[str, Any]]] = mapped_column(ShownReasons, default=list)
    created_at: Mapped[datetime | None] = mapped_column(IsoTime)
    updated_at: Mapped[datetime | None] = mapped_column(IsoTime)
    last_event_at: Mapped[datetime] = mapped_column(IsoTime)
    deleted_at: Mapped[datetime | None] = mapped_column(IsoTime)


def init_app(app: Flask) -> None:
    """The app's store, on its SQLite file (a connection per use, waiting for locks)."""
    engine = create_engine(
        f"sqlite:///{app.config['DATABASE']}", poolclass=NullPool, connect_args={"timeout": 15}
    )
    app.extensions[EXTENSION_KEY] = LinkedAccounts(LinkedAccount, engine)


def linked() -> LinkedAccounts[LinkedAccount]:
    """The current app's store."""
    store: LinkedAccounts[LinkedAccount] = current_app.extensions[EXTENSION_KEY]
    return store


def organisation_for_owner(db: sqlite3.Connection, owner_id: str | None) -> int | None:
    """The organisation StackOne calls ``owner_id`` (its ``origin_owner_id``)."""
    if not owner_id:
        return None
    row = db.execute("SELECT id FROM organisations WHERE owner_id = ?", (owner_id,)).fetchone()
    return row["id"] if row else None


def organisation_for_account(db: sqlite3.Connection, account_id: str | None) -> int | None:
    """The organisation an account was linked by, deleted or not."""
    row = linked().get(account_id) if account_id else None
    return organisation_for_owner(db, row.owner_id) if row is not None else None


def list_accounts(owner_id: str) -> list[dict[str, object]]:
    """The organisation's linked accounts, newest first (disconnected ones left out)."""
    oldest_first = linked().for_owner(owner_id)
    rows = sorted(oldest_first, key=lambda row: row.created_at or EPOCH, reverse=True)
    return [_account_view(row) for row in rows]


def get_account(owner_id: str, account_id: str) -> dict[str, object] | None:
    """One of the organisation's linked accounts, or ``None`` (also for another's)."""
    row = linked().get(account_id)
    if row is None or row.is_deleted or row.owner_id != owner_id:
        return None
    return _account_view(row)


def _account_view(row: LinkedAccount) -> dict[str, object]:
    return {
        "account_id": row.account_id,
        "provider": row.provider,
        "provider_name": row.provider_name,
        "status": row.status or "unknown",
        "status_reasons": row.status_reasons,
        "label": row.label,
        "created_at": _iso_or_none(row.created_at),
        "updated_at": _iso_or_none(row.updated_at),
        "name": row.label or row.provider_name or row.provider or row.account_id,
    }


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


def event_time(event: AccountEvent) -> datetime:
    """When the event happened (the receipt time if StackOne sent none)."""
    return event.event_date or datetime.now(timezone.utc)


def _iso_or_none(value: datetime | None) -> str | None:
    return to_iso(value) if value is not None else None
