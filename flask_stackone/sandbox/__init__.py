"""The StackOne sandbox: an offline emulator of the StackOne endpoints account linking uses,
for development and tests only.

It is a WSGI app of its own, built by :func:`create_app` and importing nothing of the
plugin but its Flask-free core. Serve it alone for any stack with
``python -m flask_stackone.sandbox`` (see docs/emulator.md), or turn ``STACKONE_SANDBOX`` on
in a Flask app with the plugin: the plugin mounts it at ``/stackone-sandbox`` and reaches
it in process (see docs/sandbox.md).

The names below are imported on first use (PEP 562): reading the sandbox's settings
(:mod:`.config`) loads none of its app.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "create_app": ".app",
    "SandboxConfig": ".config",
    "read_config": ".config",
    "Sandbox": ".state",
    "get_sandbox": ".state",
    "reset": ".state",
    "stop_deliveries": ".state",
    "wait_for_deliveries": ".state",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flask_stackone.sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from .app import create_app as create_app
    from .config import SandboxConfig as SandboxConfig
    from .config import read_config as read_config
    from .state import Sandbox as Sandbox
    from .state import get_sandbox as get_sandbox
    from .state import reset as reset
    from .state import stop_deliveries as stop_deliveries
    from .state import wait_for_deliveries as wait_for_deliveries
