"""Per-app state: what one registration of the blueprint keeps in ``app.extensions``.

``app.extensions["stackone"]`` maps each registered blueprint name to its
:class:`StackOneState`, built once, complete, when the blueprint is registered, and never
changed afterwards. Nothing per-app is stored on the blueprint object itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, request

from ..core.cache import TimedValue
from ..core.errors import ConfigurationError, NotRegisteredError
from ..core.stores import DeliveryStore
from .settings import Settings

if TYPE_CHECKING:
    from ..core.client import StackOneClient
    from ..core.models import ConnectorMeta, Owner

#: Where an app keeps its blueprints' states in ``app.extensions``: a dict by blueprint name
#: (a mounted sandbox is under ``SANDBOX_EXTENSION_KEY``).
EXTENSION_KEY = "stackone"

OwnerLoader = Callable[[], "Owner | None"]
#: The host's ``session_fields`` hook: ``(owner, options) -> {label, metadata, type, ...}``.
SessionFieldsHook = Callable[["Owner", Mapping[str, Any]], "Mapping[str, Any] | None"]

#: Seconds StackOne's connectors meta (names, logos) is kept, and after a failed read.
CONNECTORS_TTL = 600.0
CONNECTORS_FAILURE_TTL = 60.0


def _connectors_cache() -> TimedValue[dict[str, ConnectorMeta]]:
    return TimedValue(CONNECTORS_TTL, CONNECTORS_FAILURE_TTL)


@dataclass(frozen=True)
class StackOneState:
    """One blueprint's settings, client, delivery store and owner loader on one app.

    :ivar name: the registered name (``"parent.stackone"`` when nested).
    :ivar blueprint_name: the blueprint's own name.
    :ivar owner_loader: returns the host's owner loader function (``None`` until decorated).
    :ivar loader_hint: how the host names the decorator, for error messages.
    :ivar session_fields: returns the host's ``session_fields`` hook (``None`` when none).
    :ivar sandbox_path: where the sandbox is mounted on the app, when it is on.
    :ivar connectors: StackOne's connectors meta by provider key, cached (the accounts
        panel's names and logos).
    """

    name: str
    blueprint_name: str
    settings: Settings
    delivery_store: DeliveryStore
    owner_loader: Callable[[], OwnerLoader | None]
    loader_hint: str
    session_fields: Callable[[], SessionFieldsHook | None] = lambda: None
    api_client: StackOneClient | None = field(default=None, repr=False)
    sandbox_path: str | None = None
    connectors: TimedValue[dict[str, ConnectorMeta]] = field(
        default_factory=_connectors_cache, repr=False, compare=False
    )

    @property
    def client(self) -> StackOneClient:
        """The app's pooled client. :raises ConfigurationError: no API key is set."""
        return self.require_client()

    def require_client(self) -> StackOneClient:
        """The app's pooled client; called first by the routes that will need StackOne, so
        they refuse before doing anything else.

        :raises ConfigurationError: no API key is set (the message names the setting).
        """
        if self.api_client is None:
            raise ConfigurationError(
                f"{self.settings.name('api_key')} is not set: flask-stackone cannot call StackOne"
            )
        return self.api_client

    def url_for(self, endpoint: str, **values: Any) -> str:
        """``url_for`` of one of this blueprint's endpoints (``"webhook"`` ...)."""
        from flask import url_for

        return url_for(f"{self.name}.{endpoint}", **values)


def get_state(app: Flask | None = None, blueprint: str = "stackone") -> StackOneState:
    """The state of blueprint ``blueprint`` on ``app`` (default: the current app).

    ``blueprint`` is the registered name (``"parent.stackone"`` when nested); the
    blueprint's own name also finds it when it is registered once on the app.

    :raises NotRegisteredError: the blueprint is not registered on that app.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    states: dict[str, StackOneState] = app.extensions.get(EXTENSION_KEY, {})
    if blueprint in states:
        return states[blueprint]
    found = [state for state in states.values() if state.blueprint_name == blueprint]
    if len(found) == 1:
        return found[0]
    raise NotRegisteredError(
        f"flask-stackone blueprint {blueprint!r} is not registered on this app: "
        "call app.register_blueprint(stackone_bp)"
    )


def request_state() -> StackOneState:
    """The state of the blueprint serving the current request."""
    return get_state(blueprint=request.blueprint or "stackone")


def get_client(app: Flask | None = None, blueprint: str = "stackone") -> StackOneClient:
    """The pooled :class:`StackOneClient` of blueprint ``blueprint`` on ``app``.

    :raises ConfigurationError: no API key is set, or the blueprint is not registered.
    """
    return get_state(app, blueprint).client
