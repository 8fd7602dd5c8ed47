"""The in-memory delivery store: one process only."""

from __future__ import annotations

import threading
import time

from .base import DAY, ClaimResult, ClaimTokens


class MemoryDeliveryStore:
    """In-process store with a time-to-live. Right for one process; not shared by workers."""

    def __init__(self, ttl: float = 7 * DAY, lease: float = 60.0, max_entries: int = 100_000):
        self.ttl = ttl
        self.lease = lease
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._done: dict[str, float] = {}
        self._claimed: dict[str, tuple[float, str]] = {}
        self._tokens = ClaimTokens()

    def claim(self, key: str) -> ClaimResult:
        now = time.monotonic()
        with self._lock:
            done_at = self._done.get(key)
            if done_at is not None and now - done_at < self.ttl:
                return "done"
            claimed = self._claimed.get(key)
            if claimed is not None and now - claimed[0] < self.lease:
                return "busy"
            token = self._tokens.new()
            self._claimed[key] = (now, token)
        self._tokens.hold(key, token)
        return "claimed"

    def remember(self, key: str) -> None:
        token = self._tokens.take(key)
        now = time.monotonic()
        with self._lock:
            claimed = self._claimed.get(key)
            if claimed is not None and claimed[1] != token and now - claimed[0] < self.lease:
                return  # another worker's live claim: it remembers or releases itself
            self._claimed.pop(key, None)
            self._done[key] = now
            if len(self._done) > self.max_entries:
                self._prune(now)

    def release(self, key: str) -> None:
        token = self._tokens.take(key)
        with self._lock:
            claimed = self._claimed.get(key)
            if claimed is not None and claimed[1] == token:
                del self._claimed[key]

    def _prune(self, now: float) -> None:
        self._done = {k: t for k, t in self._done.items() if now - t < self.ttl}
        while len(self._done) > self.max_entries:  # oldest first: dicts keep insertion order
            self._done.pop(next(iter(self._done)))
