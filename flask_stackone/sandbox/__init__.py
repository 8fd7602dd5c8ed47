"""The StackOne sandbox: an offline emulator of the StackOne endpoints the plugin and the
Hub use, for development and tests only. ``STACKONE_SANDBOX = True`` mounts it at
``/stackone-sandbox`` (see docs/sandbox.md).

For the widget, two functions give the ``<stackone-hub>`` attributes in a request:

- :func:`hub_base_url`: the ``base-url`` attribute, the absolute URL of
  ``/stackone-sandbox`` on the current request's host (the Hub calls ``{base-url}/hub/...``
  and opens its OAuth popup at ``{base-url}/connect/oauth2/...``).
- :func:`hub_app_url`: the ``app-url`` attribute (the Hub sends the OAuth popup back to
  ``{app-url}/embedded/accounts/callback``, which the sandbox serves).

Both return ``None`` when the sandbox is not on for the current app, so a template can
set the attributes only when they are needed.
"""

from __future__ import annotations

from flask import url_for

from .state import get_sandbox, install, reset, stop_deliveries, wait_for_deliveries


def hub_base_url() -> str | None:
    """The Hub's ``base-url`` for the current request, or ``None`` (sandbox off)."""
    if get_sandbox() is None:
        return None
    return url_for("stackone_sandbox.dashboard", _external=True).rstrip("/")


def hub_app_url() -> str | None:
    """The Hub's ``app-url`` (OAuth popup callbacks) for the current request, or ``None``."""
    return hub_base_url()


__all__ = [
    "get_sandbox",
    "hub_app_url",
    "hub_base_url",
    "install",
    "reset",
    "stop_deliveries",
    "wait_for_deliveries",
]
