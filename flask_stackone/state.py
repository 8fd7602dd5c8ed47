"""Per-app state: what one registration of the blueprint keeps in ``app.extensions``.

``app.extensions["stackone"]`` maps each registered blueprint name to its
:class:`StackOneState`. Nothing per-app is stored on the blueprint object itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from .client import StackOneClient
from .config import Settings
from .delivery_store import DeliveryStore, MemoryDeliveryStore, SQLiteDeliveryStore
from .errors import ConfigurationError

if TYPE_CHECKING:
    from .blueprint import StackOneBlueprint

EXTENSION_KEY = "stackone"


@dataclass
class StackOneState:
    """One blueprint's settings, client and delivery store on one app."""

    blueprint: StackOneBlueprint
    name: str
    settings: Settings
    delivery_store: DeliveryStore
    _client: StackOneClient | None = None

    @property
    def client(self) -> StackOneClient:
        """The app's pooled client. :raises ConfigurationError: no API key is set."""
        if self._client is None:
            if not self.settings.api_key:
                raise ConfigurationError(
                    f"{self.settings.name('api_key')} is not set: "
                    "flask-stackone cannot call StackOne"
                )
            self._client = StackOneClient(
                self.settings.api_key,
                self.settings.api_url,
                timeout=self.settings.timeout,
                max_retries=self.settings.max_retries,
                max_retry_wait=self.settings.max_retry_wait,
            )
        return self._client

    def url_for(self, endpoint: str, **values: Any) -> str:
        """``url_for`` of one of this blueprint's endpoints (``"webhooks"`` ...)."""
        from flask import url_for

        return url_for(f"{self.name}.{endpoint}", **values)


def make_delivery_store(app: Flask, settings: Settings) -> DeliveryStore:
    """``None`` -> in memory; a string -> SQLite file (relative to the instance folder)."""
    value = settings.delivery_store
    if value is None:
        return MemoryDeliveryStore()
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if path.startswith("sqlite:///"):
            path = path[len("sqlite:///") :]
        return SQLiteDeliveryStore(os.path.join(app.instance_path, path))
    if all(callable(getattr(value, m, None)) for m in ("claim", "remember", "release")):
        return value
    raise ConfigurationError(
        f"{settings.name('delivery_store')} must be None, a SQLite file path, or an object "
        "with claim(), remember() and release()"
    )


def get_state(app: Flask | None = None, name: str = "stackone") -> StackOneState:
    """The state of blueprint ``name`` on ``app`` (default: the current app).

    ``name`` is the registered name (``"parent.stackone"`` when nested); the blueprint's
    own name also finds it when it is registered once on the app.

    :raises RuntimeError: the blueprint is not registered on that app.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    states: dict[str, StackOneState] = app.extensions.get(EXTENSION_KEY, {})
    if name in states:
        return states[name]
    found = [state for state in states.values() if state.blueprint.name == name]
    if len(found) == 1:
        return found[0]
    raise RuntimeError(
        f"flask-stackone blueprint {name!r} is not registered on this app: "
        "call app.register_blueprint(stackone_bp)"
    )


def get_client(app: Flask | None = None, name: str = "stackone") -> StackOneClient:
    """The pooled :class:`StackOneClient` of blueprint ``name`` on ``app``."""
    return get_state(app, name).client
