"""The sandbox's SQLite file: sessions, accounts, OAuth attempts and webhook deliveries.

Standard library only. Every call opens its own connection and writes inside
``BEGIN IMMEDIATE``, so the store is safe with the threaded dev server, with the
delivery thread and with several processes sharing the file. Records are kept as JSON
documents: the sandbox's data is small and its shapes follow StackOne's.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, overload

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sessions (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " token TEXT NOT NULL UNIQUE, expires_at REAL NOT NULL, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY, created REAL NOT NULL,"
    " data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS attempts (id TEXT PRIMARY KEY, session_id INTEGER NOT NULL,"
    " created REAL NOT NULL, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " event TEXT NOT NULL, account_id TEXT, body BLOB NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,"
    " next_at REAL NOT NULL, created REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at)",
    "CREATE TABLE IF NOT EXISTS delivery_attempts (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " delivery_id INTEGER NOT NULL, at REAL NOT NULL, url TEXT NOT NULL, status INTEGER,"
    " answer TEXT, error TEXT)",
)
#: Cleared by :meth:`SandboxStore.reset`; ``meta`` (generated credentials) is kept.
DATA_TABLES = ("sessions", "accounts", "attempts", "deliveries", "delivery_attempts")


#: What a folder the sandbox creates says to git.
GITIGNORE = "# Created by flask-stackone's sandbox: its data and generated secrets.\n*\n"


def make_own_folder(folder: str) -> None:
    """Create ``folder`` (and its parents) when missing, with a ``.gitignore`` of ``*``;
    a folder that exists already is left as it is (it is not the sandbox's own)."""
    if os.path.isdir(folder):
        return
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, ".gitignore"), "w", encoding="utf-8") as ignore:
        ignore.write(GITIGNORE)


class SandboxStore:
    """One sandbox database file. ``path`` is created with its folder when missing; a
    folder created here gets a ``.gitignore`` of ``*`` (as pytest's cache folder does), so
    the file, which holds the generated API key and webhook secret, stays out of git."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        make_own_folder(os.path.dirname(os.path.abspath(self.path)))
        self._use_wal()
        with self._tx() as db:
            for statement in SCHEMA:
                db.execute(statement)

    def __repr__(self) -> str:
        return f"<SandboxStore {self.path}>"

    def _use_wal(self, timeout: float = 30.0) -> None:
        """Switch the file to WAL (readers never wait for the writer). SQLite answers
        "locked" at once, without waiting, while another process does the same at start-up
        (gunicorn workers): retry until ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            db = self._connect()
            try:
                db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError:
                if time.monotonic() >= deadline:
                    raise
            finally:
                db.close()
            time.sleep(0.05)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        # WAL with NORMAL sync: a crash of the machine may lose the last writes of a
        # development emulator, never corrupt the file; each write stays a few times faster.
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        db = self._connect()
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    # -- meta ------------------------------------------------------------------------------

    @overload
    def meta(self, key: str) -> str | None: ...

    @overload
    def meta(self, key: str, default: Callable[[], str]) -> str: ...

    def meta(self, key: str, default: Callable[[], str] | None = None) -> str | None:
        """The stored value of ``key``; with ``default``, create it first when missing."""
        if default is None:
            rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
            return str(rows[0]["value"]) if rows else None
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return str(row["value"])
            value = default()
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
            return value

    # -- connect sessions ------------------------------------------------------------------

    def add_session(self, data: dict[str, Any], expires_at: float) -> dict[str, Any]:
        """Store a session; returns it with its new numeric ``id`` and ``token``."""
        token = secrets.token_urlsafe(32)
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO sessions (token, expires_at, data) VALUES (?, ?, '{}')",
                (token, expires_at),
            )
            data = {**data, "id": cursor.lastrowid, "token": token}
            db.execute("UPDATE sessions SET data = ? WHERE id = ?", (json.dumps(data), data["id"]))
        return data

    def live_session(self, token: str) -> tuple[dict[str, Any], float] | None:
        """``(session, expires_at)`` for ``token`` while it has not expired; ``None`` when
        ``token`` is empty, unknown or expired."""
        if not token:
            return None
        rows = self._read(
            "SELECT data, expires_at FROM sessions WHERE token = ? AND expires_at > ?",
            (token, time.time()),
        )
        return (json.loads(rows[0]["data"]), rows[0]["expires_at"]) if rows else None

    def sessions(self, limit: int = 50) -> list[tuple[dict[str, Any], float]]:
        rows = self._read(
            "SELECT data, expires_at FROM sessions ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [(json.loads(r["data"]), r["expires_at"]) for r in rows]

    # -- accounts --------------------------------------------------------------------------

    def save_account(self, account: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO accounts (id, created, data) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET data = excluded.data",
                (account["id"], time.time(), json.dumps(account)),
            )

    def account(self, account_id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT data FROM accounts WHERE id = ?", (account_id,))
        return json.loads(rows[0]["data"]) if rows else None

    def accounts(self) -> list[dict[str, Any]]:
        """Every account, oldest first (the order of ``GET /accounts`` pages)."""
        rows = self._read("SELECT data FROM accounts ORDER BY created, id")
        return [json.loads(r["data"]) for r in rows]

    def delete_account(self, account_id: str) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM accounts WHERE id = ?", (account_id,)).rowcount == 1

    # -- OAuth connection attempts ---------------------------------------------------------

    def save_attempt(self, attempt: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO attempts (id, session_id, created, data) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET data = excluded.data",
                (attempt["id"], attempt["session_id"], time.time(), json.dumps(attempt)),
            )

    def attempt(self, attempt_id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT data FROM attempts WHERE id = ?", (attempt_id,))
        return json.loads(rows[0]["data"]) if rows else None

    def latest_attempt(self, session_id: int) -> dict[str, Any] | None:
        """The newest connection attempt of a session, or ``None``."""
        rows = self._read(
            "SELECT data FROM attempts WHERE session_id = ? ORDER BY created DESC, rowid DESC"
            " LIMIT 1",
            (session_id,),
        )
        return json.loads(rows[0]["data"]) if rows else None

    # -- webhook deliveries ----------------------------------------------------------------

    def enqueue(self, event: str, account_id: str | None, body: bytes) -> int:
        """Add a pending delivery, due now; returns its id."""
        now = time.time()
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO deliveries (event, account_id, body, next_at, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (event, account_id, body, now, now),
            )
            return int(cursor.lastrowid or 0)

    def claim_due(
        self, lease: float, *, account_id: str | None = None, skip: Collection[int] = ()
    ) -> sqlite3.Row | None:
        """The oldest pending delivery that is due, leased for ``lease`` seconds so no
        other worker (thread or process) sends it meanwhile; ``None`` when none is due.

        :param account_id: only a delivery about this account.
        :param skip: ids of deliveries not to claim (those sent already in this pass).
        """
        now = time.time()
        where = "state = 'pending' AND next_at <= ?"
        args: list[Any] = [now]
        if account_id is not None:
            where += " AND account_id = ?"
            args.append(account_id)
        if skip:
            where += f" AND id NOT IN ({', '.join('?' * len(skip))})"
            args.extend(skip)
        with self._tx() as db:
            row: sqlite3.Row | None = db.execute(
                "SELECT id, event, account_id, body, attempts FROM deliveries"  # noqa: S608
                f" WHERE {where} ORDER BY next_at, id LIMIT 1",
                args,
            ).fetchone()
            if row is not None:
                db.execute(
                    "UPDATE deliveries SET next_at = ? WHERE id = ?", (now + lease, row["id"])
                )
            found: sqlite3.Row | None = row
            return found

    def next_due(self) -> float | None:
        """When the next pending delivery is due (epoch seconds), or ``None``: none pending."""
        rows = self._read("SELECT MIN(next_at) AS at FROM deliveries WHERE state = 'pending'")
        at = rows[0]["at"]
        return None if at is None else float(at)

    def record_attempt(
        self,
        delivery_id: int,
        url: str,
        *,
        status: int | None,
        answer: str | None,
        error: str | None,
        next_at: float | None,
        delivered: bool,
    ) -> None:
        """Log one attempt; the delivery becomes ``delivered``, stays ``pending`` until
        ``next_at``, or (no ``next_at``) ``failed`` for good."""
        state = "delivered" if delivered else "pending" if next_at is not None else "failed"
        with self._tx() as db:
            db.execute(
                "INSERT INTO delivery_attempts (delivery_id, at, url, status, answer, error)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (delivery_id, time.time(), url, status, answer, error),
            )
            db.execute(
                "UPDATE deliveries SET attempts = attempts + 1, state = ?, next_at = ?"
                " WHERE id = ?",
                (state, next_at if next_at is not None else 0, delivery_id),
            )

    def retry(self, delivery_id: int) -> bool:
        """Send a delivery again from now, with a fresh count of attempts."""
        with self._tx() as db:
            return (
                db.execute(
                    "UPDATE deliveries SET state = 'pending', attempts = 0, next_at = ?"
                    " WHERE id = ?",
                    (time.time(), delivery_id),
                ).rowcount
                == 1
            )

    def deliveries(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest deliveries, each with its ``attempts_log`` (oldest attempt first)."""
        rows = self._read(
            "SELECT id, event, account_id, body, state, attempts, next_at, created"
            " FROM deliveries ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        result = []
        for row in rows:
            item = dict(row)
            item["body"] = bytes(row["body"]).decode("utf-8", "replace")
            item["attempts_log"] = [
                {
                    **dict(a),
                    "time": datetime.fromtimestamp(a["at"], timezone.utc).strftime("%H:%M:%S"),
                }
                for a in self._read(
                    "SELECT at, url, status, answer, error FROM delivery_attempts"
                    " WHERE delivery_id = ? ORDER BY id",
                    (row["id"],),
                )
            ]
            result.append(item)
        return result

    def reset(self) -> None:
        """Forget every session, account, attempt and delivery; keep the credentials."""
        with self._tx() as db:
            for table in DATA_TABLES:
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            db.execute(
                "DELETE FROM sqlite_sequence WHERE name IN ('sessions', 'deliveries',"
                " 'delivery_attempts')"
            )
