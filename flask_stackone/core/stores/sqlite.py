"""The SQLite delivery store: one file shared by every worker process on one machine."""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .base import DAY, ClaimResult, ClaimTokens

try:
    import fcntl
except ImportError:  # Windows: SQLite's own locking alone
    fcntl = None  # type: ignore[assignment]


class SQLiteDeliveryStore:
    """A store in one SQLite file, shared by every worker process on the machine.

    Uses only the standard library. Each thread of each process keeps its own
    connection (a forked worker opens new ones), and a claim is one atomic statement.
    """

    def __init__(self, path: str | os.PathLike[str], ttl: float = 7 * DAY, lease: float = 60.0):
        self.path = os.fspath(path)
        self.ttl = ttl
        self.lease = lease
        self._local = threading.local()
        self._writes = itertools.count(1)
        self._tokens = ClaimTokens()
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with self._writing() as db:  # workers starting together take turns
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS stackone_deliveries ("
                " key TEXT PRIMARY KEY, state TEXT NOT NULL, at REAL NOT NULL, token TEXT)"
                " WITHOUT ROWID"
            )  # rows kept in the key's b-tree and no index on ``at``: one b-tree per write
            # (a file made before keeps its rowid table); the rare prune scans the table
            columns = [row[1] for row in db.execute("PRAGMA table_info(stackone_deliveries)")]
            if "token" not in columns:  # a file written before claims had tokens
                db.execute("ALTER TABLE stackone_deliveries ADD COLUMN token TEXT")

    def __repr__(self) -> str:
        return f"<SQLiteDeliveryStore {self.path}>"

    def _handle(self) -> _Handle:
        """This thread's connection and lock file, opened anew after a fork."""
        handle: _Handle | None = getattr(self._local, "handle", None)
        if handle is None or handle.pid != os.getpid():
            handle = self._local.handle = _Handle(self.path)
        return handle

    def _db(self) -> sqlite3.Connection:
        return self._handle().db

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, with the write turn taken through an OS file lock.

        Waiting on SQLite's own lock means sleeping in steps of milliseconds; a blocked
        ``flock`` wakes as soon as the other writer is done.
        """
        handle = self._handle()
        if fcntl is None:
            yield handle.db
            return
        fcntl.flock(handle.lock, fcntl.LOCK_EX)
        try:
            yield handle.db
        finally:
            fcntl.flock(handle.lock, fcntl.LOCK_UN)

    def claim(self, key: str) -> ClaimResult:
        now = time.time()
        token = self._tokens.new()
        with self._writing() as db:
            taken = db.execute(
                "INSERT INTO stackone_deliveries (key, state, at, token)"
                " VALUES (?, 'claimed', ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET state = 'claimed', at = excluded.at,"
                " token = excluded.token"
                " WHERE (state = 'claimed' AND at <= ?) OR (state = 'done' AND at <= ?)",
                (key, now, token, now - self.lease, now - self.ttl),
            ).rowcount
        if taken:
            self._tokens.hold(key, token)
            return "claimed"
        row = (
            self._db()
            .execute("SELECT state FROM stackone_deliveries WHERE key = ?", (key,))
            .fetchone()
        )
        if row is None:  # released between the two statements: try once more
            return self.claim(key)
        return "done" if row[0] == "done" else "busy"

    def remember(self, key: str) -> None:
        token = self._tokens.take(key)
        now = time.time()
        with self._writing() as db:
            # Done over this thread's claim, a lapsed claim or an older done mark; never
            # over another worker's live claim (it remembers or releases for itself).
            db.execute(
                "INSERT INTO stackone_deliveries (key, state, at) VALUES (?, 'done', ?)"
                " ON CONFLICT (key) DO UPDATE SET state = 'done', at = excluded.at, token = NULL"
                " WHERE state = 'done' OR token IS ? OR at <= ?",
                (key, now, token, now - self.lease),
            )
            if next(self._writes) % 500 == 0:  # prune now and then, not on every delivery
                db.execute(
                    "DELETE FROM stackone_deliveries WHERE state = 'done' AND at < ?",
                    (now - self.ttl,),
                )

    def release(self, key: str) -> None:
        token = self._tokens.take(key)
        if token is None:
            return
        with self._writing() as db:
            db.execute(
                "DELETE FROM stackone_deliveries WHERE key = ? AND state = 'claimed' AND token = ?",
                (key, token),
            )


class _Handle:
    """One thread's SQLite connection and lock file descriptor, closed with it."""

    def __init__(self, path: str) -> None:
        self.pid = os.getpid()
        # used by one thread only; check_same_thread=False lets whichever thread drops the
        # last reference close it
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        # WAL without an fsync per commit: an app crash loses nothing; a power cut may
        # forget the last few "done" marks, so those deliveries would run once more.
        self.db.execute("PRAGMA synchronous=NORMAL")
        # pages read through a memory map, not a system call each: the table outgrows
        # SQLite's own page cache within days of deliveries
        self.db.execute("PRAGMA mmap_size=67108864")
        self.lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)

    def __del__(self) -> None:
        if self.pid == os.getpid():
            self.db.close()
        os.close(self.lock)
