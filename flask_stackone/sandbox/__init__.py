"""The StackOne sandbox: an offline emulator of the StackOne endpoints the plugin and the
Hub use, for development and tests only. ``STACKONE_SANDBOX = True`` mounts it at
``/stackone-sandbox`` (see docs/sandbox.md).

The Hub's ``base-url`` and ``app-url`` point at ``/stackone-sandbox`` on the page's host:
the Hub calls ``{base-url}/hub/...``, opens its OAuth popup at
``{base-url}/connect/oauth2/...`` and is sent back to ``{app-url}/embedded/accounts/callback``.
"""

from __future__ import annotations

from .state import SandboxMount, get_sandbox, install, reset, stop_deliveries, wait_for_deliveries

__all__ = [
    "SandboxMount",
    "get_sandbox",
    "install",
    "reset",
    "stop_deliveries",
    "wait_for_deliveries",
]
