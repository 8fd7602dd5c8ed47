"""SQLite storage (standard library ``sqlite3``): one connection per app context,
schema migrations by ``PRAGMA user_version``, and the seeded demo organisations."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from functools import cache

from flask import Flask, current_app, g
from werkzeug.security import generate_password_hash

#: Each entry migrates the schema one version up. Append; never edit a shipped entry.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE organisations (
            id INTEGER PRIMARY KEY,
            owner_id TEXT NOT NULL UNIQUE,  -- what StackOne knows it as: origin_owner_id
            name TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            organisation_id INTEGER NOT NULL REFERENCES organisations (id),
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE linked_accounts (
            account_id TEXT PRIMARY KEY,
            organisation_id INTEGER NOT NULL REFERENCES organisations (id),
            provider TEXT,
            provider_name TEXT,
            status TEXT NOT NULL,
            status_reasons TEXT NOT NULL DEFAULT '[]',  -- JSON list of {code, description}
            label TEXT,
            created_at TEXT,       -- StackOne's own timestamps
            updated_at TEXT,
            last_event_at TEXT NOT NULL,  -- the newest event applied: older ones are stale
            deleted_at TEXT        -- kept as a tombstone so a late 'created' cannot revive it
        )""",
        "CREATE INDEX linked_accounts_by_organisation ON linked_accounts (organisation_id)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            organisation_id INTEGER REFERENCES organisations (id),
            received_at TEXT NOT NULL,
            source TEXT NOT NULL,  -- 'webhook' or 'hub'
            type TEXT NOT NULL,
            account_id TEXT,
            provider TEXT,
            event_date TEXT,
            outcome TEXT NOT NULL,
            delivery_key TEXT
        )""",
        "CREATE INDEX events_by_organisation ON events (organisation_id, id)",
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            organisation_id INTEGER NOT NULL REFERENCES organisations (id),
            sender_id INTEGER REFERENCES users (id),
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            link TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
    ),
    (
        # A member who left: they cannot sign in, and the onboarding links they sent stop working.
        "ALTER TABLE users ADD COLUMN removed_at TEXT",
        # Each emailed link's own id, so one invitation can be withdrawn.
        "ALTER TABLE outbox ADD COLUMN link_id TEXT",
        "ALTER TABLE outbox ADD COLUMN withdrawn_at TEXT",
        "CREATE UNIQUE INDEX outbox_by_link_id ON outbox (link_id)",
    ),
    (
        # Linked accounts kept by flask-stackone's store (accounts.LinkedAccount: the
        # mixin's columns, times as ISO text): by owner id instead of organisation id.
        "ALTER TABLE linked_accounts RENAME TO linked_accounts_2",
        """CREATE TABLE linked_accounts (
            id INTEGER PRIMARY KEY,
            account_id VARCHAR(128) NOT NULL UNIQUE,
            owner_id VARCHAR(255),  -- the organisation's owner_id: StackOne's origin_owner_id
            owner_name VARCHAR(255),
            provider VARCHAR(100),
            provider_name VARCHAR(255),
            status VARCHAR(50),
            status_reasons TEXT NOT NULL,  -- JSON list of {code, description}
            label VARCHAR(255),
            created_at TEXT,       -- StackOne's own timestamps
            updated_at TEXT,
            last_event_at TEXT NOT NULL,  -- the newest event applied: older ones are stale
            deleted_at TEXT        -- kept as a tombstone so a late 'created' cannot revive it
        )""",
        "CREATE INDEX ix_linked_accounts_owner_id ON linked_accounts (owner_id)",
        """INSERT INTO linked_accounts (account_id, owner_id, owner_name, provider,
               provider_name, status, status_reasons, label, created_at, updated_at,
               last_event_at, deleted_at)
           SELECT a.account_id, o.owner_id, o.name, a.provider, a.provider_name, a.status,
               a.status_reasons, a.label, a.created_at, a.updated_at, a.last_event_at,
               a.deleted_at
           FROM linked_accounts_2 AS a JOIN organisations AS o ON o.id = a.organisation_id""",
        "DROP TABLE linked_accounts_2",
    ),
)

#: The demo organisations and their users. Everyone's password is ``DEMO_PASSWORD``.
DEMO_PASSWORD = "acme-demo"  # noqa: S105 - the published password of the demo users
DEMO_ORGANISATIONS = (
    ("org_northwind", "Northwind Traders", (("Alice Moreau", "alice@northwind.example"),
                                            ("Bruno Silva", "bruno@northwind.example"))),
    ("org_globex", "Globex Corporation", (("Chen Wei", "chen@globex.example"),)),
)  # fmt: skip


def now_iso() -> str:
    """The current UTC time as stored: ISO 8601 with microseconds, comparable as text."""
    return to_iso(datetime.now(timezone.utc))


def to_iso(value: datetime) -> str:
    """``value`` in the stored form (UTC, microseconds), so text order is time order."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def connect(path: str) -> sqlite3.Connection:
    """A connection that waits for other workers' locks and returns rows by name."""
    conn = sqlite3.connect(path, timeout=15)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def get_db() -> sqlite3.Connection:
    """This app context's connection (opened on first use, closed on teardown)."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


def migrate(path: str, *, seed: bool) -> int:
    """Bring the database at ``path`` to the newest schema; seed the demo data when asked
    and the database has no organisation yet. Safe when several workers start at once.

    :returns: the schema version.
    """
    conn = connect(path)
    conn.isolation_level = None  # explicit transactions below
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in statements:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number:d}")
            if seed and conn.execute("SELECT COUNT(*) FROM organisations").fetchone()[0] == 0:
                _seed(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return len(MIGRATIONS)
    finally:
        conn.close()


@cache
def _demo_password_hash(email: str) -> str:
    """Each demo user's own salted hash, computed once per process (scrypt is slow on purpose)."""
    return generate_password_hash(DEMO_PASSWORD)


def _seed(conn: sqlite3.Connection) -> None:
    created = now_iso()
    for owner_id, name, users in DEMO_ORGANISATIONS:
        org_id = conn.execute(
            "INSERT INTO organisations (owner_id, name, created_at) VALUES (?, ?, ?)",
            (owner_id, name, created),
        ).lastrowid
        for user_name, email in users:
            conn.execute(
                "INSERT INTO users (organisation_id, email, name, password_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (org_id, email, user_name, _demo_password_hash(email), created),
            )


def init_app(app: Flask) -> None:
    """Migrate (and seed, unless ``DEMO_DATA`` is false) at start-up; close per context."""
    migrate(app.config["DATABASE"], seed=app.config["DEMO_DATA"])
    app.teardown_appcontext(close_db)
