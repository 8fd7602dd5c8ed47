"""The pinned Hub script, served by the sandbox itself for its hosted auth-link page.

The bytes come from the same per-user cache the plugin uses (``flask stackone hub install``),
checked against the pinned hashes once per process; a CDN copy (``SANDBOX_HUB_SCRIPT_URL``)
is used when none is installed.
"""

from __future__ import annotations

import os
import threading

from flask import Response, abort, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from ..core.hub_script import HUB_VERSION, PINS, is_installed, read_verified
from .api import sandbox

CACHE_CONTROL = "public, max-age=31536000, immutable"
_cache: dict[tuple[str | None, str], tuple[bytes, bytes] | None] = {}
_lock = threading.Lock()


def _verified(root: str | None, version: str) -> tuple[bytes, bytes] | None:
    key = (None if root is None else os.path.abspath(root), version)
    with _lock:
        if _cache.get(key) is None:
            _cache[key] = read_verified(root, version)
        return _cache[key]


def hub_source() -> tuple[str, str] | None:
    """``(src, integrity)`` of the Hub script for a page of the sandbox, or ``None`` when
    neither an installed copy nor a CDN URL is available."""
    config = sandbox().config
    integrity = PINS[HUB_VERSION].integrity
    if is_installed(config.hub_dir, HUB_VERSION):
        return url_for("stackone_sandbox.hub_script", version=HUB_VERSION), integrity
    if config.hub_script_url:
        return config.hub_script_url, integrity
    return None


def hub_script(version: str) -> BaseResponse:
    """``GET /hub-script/<version>/webcomponent.js``: the pinned script, verified."""
    found = _verified(sandbox().config.hub_dir, version) if version in PINS else None
    if found is None:
        abort(404)
    use_gzip = request.accept_encodings["gzip"] > 0
    response = Response(found[1] if use_gzip else found[0], mimetype="text/javascript")
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(PINS[version].sha256[:32] + ("-gzip" if use_gzip else ""))
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.make_conditional(request)
