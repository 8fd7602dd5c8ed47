"""Delivery stores: where the webhook route remembers which deliveries it handled.

One module per backend; :func:`open_store` turns the ``STACKONE_DELIVERY_STORE`` setting
into a store. The Redis and SQL stores (and their drivers) are imported only when asked for.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, cast

from ..errors import ConfigurationError, StoreUnavailable
from .base import ClaimResult, DeliveryStore
from .memory import MemoryDeliveryStore
from .sqlite import SQLiteDeliveryStore

if TYPE_CHECKING:
    from .redis import RedisDeliveryStore
    from .sql import SQLDeliveryStore

__all__ = [
    "ClaimResult",
    "DeliveryStore",
    "MemoryDeliveryStore",
    "RedisDeliveryStore",
    "SQLDeliveryStore",
    "SQLiteDeliveryStore",
    "open_store",
]

#: The stores that need an optional extra: module, and the extra that installs the driver.
_OPTIONAL = {"RedisDeliveryStore": ("redis", "Redis"), "SQLDeliveryStore": ("sql", "SQL")}


def __getattr__(name: str) -> Any:
    if name not in _OPTIONAL:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _OPTIONAL[name][0]
    return getattr(__import__(f"{__name__}.{module}", fromlist=[name]), name)


def _load(name: str, setting: str) -> Any:
    """The class of an optional store, or a ConfigurationError saying what to install."""
    extra, label = _OPTIONAL[name]
    try:
        return __getattr__(name)
    except ImportError as exc:
        raise ConfigurationError(
            f"{setting} asks for the {label} delivery store, which needs the package "
            f"{exc.name or 'of its driver'}: pip install 'flask-stackone[{extra}]'"
        ) from None


def open_store(
    value: Any, instance_path: str, setting: str, *, lease: float = 60.0
) -> DeliveryStore:
    """The store a setting asks for, ready to use.

    - ``None``: in memory (one process);
    - a ``redis://`` or ``rediss://`` URL, or a ``redis.Redis`` client: Redis;
    - any other URL with ``://`` (``postgresql+psycopg://...``), or a SQLAlchemy ``Engine``:
      a table in that database; ``sqlite:///file`` stays the built-in SQLite store;
    - another string or path: a SQLite file (relative to ``instance_path``);
    - an object with ``claim``, ``remember`` and ``release``: itself.

    ``lease``: seconds after which a claim left by a dead worker lapses.

    :raises ConfigurationError: naming ``setting`` when the value is none of these, its
        driver is not installed, or the store cannot be reached now (with its address,
        never a password).
    """
    if value is None:
        return MemoryDeliveryStore(lease=lease)
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if text.startswith("sqlite:///"):
            return SQLiteDeliveryStore(os.path.join(instance_path, text[10:]), lease=lease)
        scheme = text.partition("://")[0].lower() if "://" in text else ""
        if scheme in ("redis", "rediss"):
            return _reachable(_load("RedisDeliveryStore", setting)(text, lease=lease), setting)
        if scheme:
            store_class = _load("SQLDeliveryStore", setting)
            try:
                store = store_class(text, lease=lease)
            except ImportError as exc:  # the URL names a driver that is not installed
                raise ConfigurationError(
                    f"{setting} names a database driver that is not installed ({exc.name})"
                ) from None
            except Exception as exc:  # the URL itself: never repeat it (it may hold a password)
                raise ConfigurationError(
                    f"{setting} is not a database URL SQLAlchemy understands "
                    f"({type(exc).__name__} for a {scheme}:// URL)"
                ) from None
            return _reachable(store, setting)
        return SQLiteDeliveryStore(os.path.join(instance_path, text), lease=lease)
    if _is_instance(value, "sqlalchemy.engine", "Engine"):
        return _reachable(_load("SQLDeliveryStore", setting)(value, lease=lease), setting)
    if _is_instance(value, "redis", "Redis"):
        try:
            store = _load("RedisDeliveryStore", setting)(value, lease=lease)
        except TypeError as exc:  # a client the store cannot serve (client-side caching)
            raise ConfigurationError(f"{setting}: {exc}") from None
        return _reachable(store, setting)
    if all(callable(getattr(value, m, None)) for m in ("claim", "remember", "release")):
        return value  # type: ignore[no-any-return]
    raise ConfigurationError(
        f"{setting} must be None, a SQLite file path, a redis:// URL, a database URL, "
        "a SQLAlchemy Engine, or an object with claim(), remember() and release()"
    )


def _is_instance(value: Any, module: str, name: str) -> bool:
    """``isinstance(value, module.name)`` without importing ``module``: an object of a
    class from a module nobody imported cannot be one."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(value, getattr(loaded, name))


def _reachable(store: Any, setting: str) -> DeliveryStore:
    """The store, once it answered (a SQL store also creates its table now)."""
    try:
        store.check()
    except StoreUnavailable as exc:
        raise ConfigurationError(f"{setting}: {exc}") from None
    return cast(DeliveryStore, store)
