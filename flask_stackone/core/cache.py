"""Values shared by the threads of a process: ``TimedValue`` (one value kept for a while) and
``FileCache`` (what was derived from files, kept while they stay the same)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


class TimedValue(Generic[T]):
    """A value loaded on first use and again once it is older than its time to live.

    One thread loads while the others wait for its result, so a cold cache costs one call,
    not one per request. When loading fails, ``fallback`` is kept for ``failure_ttl``
    seconds (so an outage is not asked again on every request) and returned.

    :param ttl: seconds a loaded value is used.
    :param failure_ttl: seconds the fallback is used after a failed load.
    :param clock: the monotonic clock (tests pass their own).
    """

    def __init__(
        self,
        ttl: float,
        failure_ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.failure_ttl = failure_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._expires = float("-inf")

    def get(self, load: Callable[[], T], fallback: Callable[[Exception], T]) -> T:
        """The cached value, or ``load()``'s while it is fresh; ``fallback(error)`` when
        ``load`` raised (the error is not propagated)."""
        with self._lock:
            now = self._clock()
            if now < self._expires:
                return self._value  # type: ignore[return-value]
            try:
                value, ttl = load(), self.ttl
            except Exception as exc:
                value, ttl = fallback(exc), self.failure_ttl
            self._value, self._expires = value, self._clock() + ttl
            return value

    def peek(self) -> T | None:
        """The value while it is fresh, else ``None``; never loads."""
        with self._lock:
            return self._value if self._clock() < self._expires else None

    def clear(self) -> None:
        """Forget the value: the next :meth:`get` loads again."""
        with self._lock:
            self._value, self._expires = None, float("-inf")


@dataclass(frozen=True)
class Asset:
    """A file served from memory: its bytes, their gzip copy and the file's ETag."""

    data: bytes
    gzipped: bytes
    etag: str


class FileCache:
    """What was derived from some files, derived again only when one of them changes (its
    mtime or size): each file is read once per version, not once per request."""

    def __init__(self) -> None:
        self._entries: dict[tuple[tuple[str, int, int], ...], Asset | None] = {}
        self._lock = threading.Lock()

    def get(self, paths: Sequence[Path], load: Callable[[], Asset | None]) -> Asset | None:
        """``load()``'s result for the files as they are now; ``None`` when one is missing."""
        try:
            key = tuple(
                (os.fspath(path), stat.st_mtime_ns, stat.st_size)
                for path, stat in ((path, path.stat()) for path in paths)
            )
        except OSError:
            return None
        with self._lock:
            if key not in self._entries:
                loaded = load()
                self._entries.clear()  # a file changed: the old version goes
                self._entries[key] = loaded
            return self._entries[key]
