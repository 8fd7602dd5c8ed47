"""``TimedValue``: one value kept for a while, shared by the threads of a process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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

    def clear(self) -> None:
        """Forget the value: the next :meth:`get` loads again."""
        with self._lock:
            self._value, self._expires = None, float("-inf")
