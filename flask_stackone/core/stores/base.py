"""The delivery store contract: remembering which webhook deliveries were handled.

A store answers :meth:`~DeliveryStore.claim` with ``"claimed"`` (handle it now), ``"done"``
(handled before: acknowledge) or ``"busy"`` (another worker is handling it right now). The
claimant then calls :meth:`~DeliveryStore.remember` once every receiver succeeded, or
:meth:`~DeliveryStore.release` when one failed, so that StackOne's redelivery is handled
again. A claim left by a worker that died expires after its lease.

Each claim carries a token of its own, and :meth:`~DeliveryStore.remember` and
:meth:`~DeliveryStore.release` act only on the claim the calling thread holds: a worker whose
lease ran out can never release, or mark done, the claim another worker took since.

Any object with these three methods can be a store (``STACKONE_DELIVERY_STORE``).
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import Literal, Protocol

ClaimResult = Literal["claimed", "done", "busy"]

#: Seconds in a day: the default time-to-live of done marks is a week.
DAY = 86400


class DeliveryStore(Protocol):
    """What the webhook route needs of a store: any object with these three methods can be
    one (``STACKONE_DELIVERY_STORE``). A claim left by a worker that died expires after its
    lease."""

    def claim(self, key: str) -> ClaimResult:
        """Claim the delivery ``key`` for the calling thread.

        :returns: ``"claimed"`` (handle it now), ``"done"`` (handled before) or ``"busy"``
            (another worker holds a live claim).
        """
        ...

    def remember(self, key: str) -> None:
        """Mark ``key`` handled, ending this thread's claim."""
        ...

    def release(self, key: str) -> None:
        """Drop this thread's claim on ``key``, so a redelivery is handled again."""
        ...


def _new_process_tag() -> None:
    """Random per process, drawn again in a forked child (gunicorn's workers), so no two
    processes on any host ever hand out the same token."""
    global _process_tag, _claims
    _process_tag = os.urandom(8).hex() + "-"
    _claims = itertools.count(1)  # next() on it is atomic: threads share it safely


_process_tag = ""
_claims = itertools.count(1)
_new_process_tag()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_process_tag)


class ClaimTokens:
    """The claim tokens a store's caller holds, one map per thread (the route claims,
    then remembers or releases, in one thread), so two threads of one process that take
    turns on one key never act on each other's claim."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _held(self) -> dict[str, str]:
        held: dict[str, str] | None = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = {}
        return held

    @staticmethod
    def new() -> str:
        """A token no other claim has: this process's 64 random bits, then a count."""
        return f"{_process_tag}{next(_claims):x}"

    def hold(self, key: str, token: str) -> None:
        """This thread now holds the claim of ``key`` under ``token``."""
        self._held()[key] = token

    def take(self, key: str) -> str | None:
        """The token this thread holds for ``key`` (forgotten now), or ``None``."""
        return self._held().pop(key, None)
