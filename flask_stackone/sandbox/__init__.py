"""The StackOne sandbox: an offline emulator of the StackOne endpoints account linking uses,
for development and tests only.

It is a WSGI app of its own, built by :func:`create_app` and importing nothing of the
plugin but its Flask-free core. Serve it alone for any stack with
``python -m flask_stackone.sandbox`` (see docs/emulator.md), or turn ``STACKONE_SANDBOX`` on
in a Flask app with the plugin: the plugin mounts it at ``/stackone-sandbox`` and reaches
it in process (see docs/sandbox.md).
"""

from __future__ import annotations

from .app import create_app
from .config import SandboxConfig
from .state import Sandbox, get_sandbox, reset, stop_deliveries, wait_for_deliveries

__all__ = [
    "Sandbox",
    "SandboxConfig",
    "create_app",
    "get_sandbox",
    "reset",
    "stop_deliveries",
    "wait_for_deliveries",
]
