"""``create_app``: the sandbox as a WSGI app of its own.

It emulates the StackOne endpoints account linking uses, for any stack: served alone by
``python -m flask_stackone.sandbox``, or mounted by the plugin in a Flask app that turns
``STACKONE_SANDBOX`` on. It imports nothing of the plugin but its Flask-free core.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, NotFound

from . import api, pages
from .accounts import SandboxError
from .blueprint import add_hub_cors, is_api_path, sandbox_bp
from .config import read_config
from .state import SANDBOX_EXTENSION_KEY, Sandbox
from .store import SandboxStore

log = logging.getLogger("flask_stackone.sandbox")

#: The largest request body the sandbox reads (its forms and JSON are small).
MAX_CONTENT_LENGTH = 1024 * 1024
#: Endpoints that are pages for a person: their errors are pages too.
PAGE_ENDPOINTS = frozenset(
    f"stackone_sandbox.{name}"
    for name in (
        "oauth_popup", "callback", "auth_link", "logo", "dashboard",
        "set_account_status", "delete_account", "retry_delivery", "reset_all",
    )
)  # fmt: skip


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    instance_path: str | os.PathLike[str] | None = None,
    setting_prefix: str = "",
) -> Flask:
    """Build a sandbox app.

    :param config: Flask config values and the sandbox's ``SANDBOX_*`` settings
        (``SANDBOX_API_KEY``, ``SANDBOX_WEBHOOK_SECRET``, ``SANDBOX_WEBHOOK_URL``,
        ``SANDBOX_DB``, ``SANDBOX_DELIVERY_ATTEMPTS``, ``SANDBOX_DELIVERY_BACKOFF``,
        ``SANDBOX_DELIVERY_TIMEOUT``, ``SANDBOX_HUB_DIR``, ``SANDBOX_HUB_SCRIPT_URL``).
    :param instance_path: the folder a relative ``SANDBOX_DB`` is in (default: the working
        directory).
    :param setting_prefix: how the user writes the settings, for error messages
        (``"STACKONE_"`` when a host app passes its ``STACKONE_SANDBOX_*`` keys).
    :raises ConfigurationError: a setting is wrong (the message names it).
    """
    app = Flask(
        "flask_stackone.sandbox",
        instance_path=os.path.abspath(instance_path or os.getcwd()),
        static_folder="static",
        static_url_path="/static",
    )
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    app.config.update(config or {})
    settings = read_config(app.config, setting_prefix)
    store = SandboxStore(os.path.join(app.instance_path, settings.db))  # an absolute path wins
    app.extensions[SANDBOX_EXTENSION_KEY] = Sandbox(settings, store)
    app.register_blueprint(sandbox_bp)
    app.register_error_handler(SandboxError, api.failure)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(InternalServerError, server_error)
    app.after_request(add_hub_cors)
    return app


def owns(app: Flask, path: str, method: str) -> bool:
    """True when ``path`` (relative to the sandbox's root) is the sandbox's to answer: one
    of its routes (any method), or any path of StackOne's JSON API."""
    if is_api_path(path):
        return True
    try:
        app.url_map.bind("sandbox.localhost").match(path or "/", method)
    except NotFound:
        return False
    except HTTPException:  # another method, or a redirect to the canonical URL
        return True
    return True


def is_page() -> bool:
    """The request is for a page a person sees; under StackOne's API paths it never is."""
    return request.endpoint in PAGE_ENDPOINTS and not is_api_path(request.path)


def http_error(exc: HTTPException) -> Response:
    """A routing or protocol error: StackOne's JSON error body, or a page for the pages."""
    status = exc.code or 500
    if is_page():
        return pages.error_page(status, exc.description or exc.name)
    response = api.failure(SandboxError(status, exc.name))
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def server_error(exc: InternalServerError) -> Response:
    """A bug: StackOne's 500 body (the exception itself is logged by Flask)."""
    message = "Internal server error: the sandbox failed to answer this request"
    if is_page():
        return pages.error_page(500, message)
    return api.failure(SandboxError(500, message))
