"""Delivery stores: where the webhook route remembers which deliveries it handled.

One module per backend; :func:`open_store` turns the ``STACKONE_DELIVERY_STORE`` setting
into a store.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import ConfigurationError
from .base import ClaimResult, DeliveryStore
from .memory import MemoryDeliveryStore
from .sqlite import SQLiteDeliveryStore

__all__ = [
    "ClaimResult",
    "DeliveryStore",
    "MemoryDeliveryStore",
    "SQLiteDeliveryStore",
    "open_store",
]


def open_store(value: Any, instance_path: str, setting: str) -> DeliveryStore:
    """The store a setting asks for.

    ``None``: in memory; a string or path: a SQLite file (relative to ``instance_path``,
    ``sqlite:///`` allowed); an object with ``claim``, ``remember`` and ``release``: itself.

    :raises ConfigurationError: naming ``setting`` when the value is none of these.
    """
    if value is None:
        return MemoryDeliveryStore()
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if path.startswith("sqlite:///"):
            path = path[len("sqlite:///") :]
        return SQLiteDeliveryStore(os.path.join(instance_path, path))
    if all(callable(getattr(value, m, None)) for m in ("claim", "remember", "release")):
        return value  # type: ignore[no-any-return]
    raise ConfigurationError(
        f"{setting} must be None, a SQLite file path, or an object "
        "with claim(), remember() and release()"
    )
