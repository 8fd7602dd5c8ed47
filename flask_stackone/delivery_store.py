"""Remembering which webhook deliveries were handled, so a repeat fires nothing twice.

A store answers :meth:`claim` with ``"claimed"`` (handle it now), ``"done"`` (handled
before: acknowledge) or ``"busy"`` (another worker is handling it right now). The
claimant then calls :meth:`remember` once every receiver succeeded, or :meth:`release`
when one failed, so that StackOne's redelivery is handled again. A claim left by a
worker that died expires after ``lease`` seconds.

Any object with these three methods can be a store (``STACKONE_DELIVERY_STORE``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import Literal, Protocol

ClaimResult = Literal["claimed", "done", "busy"]

DAY = 86400
_UPSERT = "INSERT OR REPLACE INTO stackone_deliveries (key, state, at) VALUES (?, '{state}', ?)"


class DeliveryStore(Protocol):
    def claim(self, key: str) -> ClaimResult: ...

    def remember(self, key: str) -> None: ...

    def release(self, key: str) -> None: ...


class MemoryDeliveryStore:
    """In-process store with a time-to-live. Right for one process; not shared by workers."""

    def __init__(self, ttl: float = 7 * DAY, lease: float = 60.0, max_entries: int = 100_000):
        self.ttl = ttl
        self.lease = lease
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._done: dict[str, float] = {}
        self._claimed: dict[str, float] = {}

    def claim(self, key: str) -> ClaimResult:
        now = time.monotonic()
        with self._lock:
            done_at = self._done.get(key)
            if done_at is not None and now - done_at < self.ttl:
                return "done"
            claimed_at = self._claimed.get(key)
            if claimed_at is not None and now - claimed_at < self.lease:
                return "busy"
            self._claimed[key] = now
            return "claimed"

    def remember(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._claimed.pop(key, None)
            self._done[key] = now
            if len(self._done) > self.max_entries:
                self._prune(now)

    def release(self, key: str) -> None:
        with self._lock:
            self._claimed.pop(key, None)

    def _prune(self, now: float) -> None:
        self._done = {k: t for k, t in self._done.items() if now - t < self.ttl}
        while len(self._done) > self.max_entries:  # oldest first: dicts keep insertion order
            self._done.pop(next(iter(self._done)))


class SQLiteDeliveryStore:
    """A store in one SQLite file, shared by every worker process on the machine.

    Uses only the standard library. Each call opens its own connection, so the store
    is safe across threads and across ``fork`` (gunicorn workers).
    """

    def __init__(self, path: str | os.PathLike[str], ttl: float = 7 * DAY, lease: float = 60.0):
        self.path = os.fspath(path)
        self.ttl = ttl
        self.lease = lease
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS stackone_deliveries ("
                " key TEXT PRIMARY KEY, state TEXT NOT NULL, at REAL NOT NULL)"
            )
            db.execute(
                "CREATE INDEX IF NOT EXISTS stackone_deliveries_age"
                " ON stackone_deliveries (state, at)"
            )

    def __repr__(self) -> str:
        return f"<SQLiteDeliveryStore {self.path}>"

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def claim(self, key: str) -> ClaimResult:
        now = time.time()
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT state, at FROM stackone_deliveries WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                state, at = row
                if state == "done" and now - at < self.ttl:
                    db.execute("COMMIT")
                    return "done"
                if state == "claimed" and now - at < self.lease:
                    db.execute("COMMIT")
                    return "busy"
            db.execute(
                _UPSERT.format(state="claimed"),
                (key, now),
            )
            db.execute("COMMIT")
            return "claimed"
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def remember(self, key: str) -> None:
        now = time.time()
        db = self._connect()
        try:
            db.execute(
                _UPSERT.format(state="done"),
                (key, now),
            )
            db.execute(
                "DELETE FROM stackone_deliveries WHERE state = 'done' AND at < ?", (now - self.ttl,)
            )
        finally:
            db.close()

    def release(self, key: str) -> None:
        db = self._connect()
        try:
            db.execute(
                "DELETE FROM stackone_deliveries WHERE key = ? AND state = 'claimed'", (key,)
            )
        finally:
            db.close()
