"""The delivery store contract: remembering which webhook deliveries were handled.

A store answers :meth:`~DeliveryStore.claim` with ``"claimed"`` (handle it now), ``"done"``
(handled before: acknowledge) or ``"busy"`` (another worker is handling it right now). The
claimant then calls :meth:`~DeliveryStore.remember` once every receiver succeeded, or
:meth:`~DeliveryStore.release` when one failed, so that StackOne's redelivery is handled
again. A claim left by a worker that died expires after its lease.

Any object with these three methods can be a store (``STACKONE_DELIVERY_STORE``).
"""

from __future__ import annotations

from typing import Literal, Protocol

ClaimResult = Literal["claimed", "done", "busy"]

#: Seconds in a day: the default time-to-live of done marks is a week.
DAY = 86400


class DeliveryStore(Protocol):
    """What the webhook route needs of a store."""

    def claim(self, key: str) -> ClaimResult: ...

    def remember(self, key: str) -> None: ...

    def release(self, key: str) -> None: ...
