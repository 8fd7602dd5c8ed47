"""The pinned Hub script, served by the sandbox itself for its hosted auth-link page.

The page loads it by the plugin's own rule (``core.hub_script.script_source``): the CDN copy
when ``SANDBOX_HUB_SCRIPT_URL`` is set, else the copy installed in the per-user cache the
plugin uses (``flask stackone hub install``), read and verified once per process.
"""

from __future__ import annotations

from flask import Response, abort, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from ..core.hub_script import installed_script, script_source
from .api import sandbox

CACHE_CONTROL = "public, max-age=31536000, immutable"


def hub_source() -> tuple[str, str] | None:
    """``(src, integrity)`` of the Hub script for a page of the sandbox, or ``None`` when
    neither a CDN URL nor an installed copy is available."""
    config = sandbox().config
    return script_source(
        config.hub_script_url,
        config.hub_dir,
        lambda version: url_for("stackone_sandbox.hub_script", version=version),
    )


def hub_script(version: str) -> BaseResponse:
    """``GET /hub-script/<version>/webcomponent.js``: the pinned script, verified."""
    found = installed_script(sandbox().config.hub_dir, version)
    if found is None:
        abort(404)
    use_gzip = request.accept_encodings["gzip"] > 0
    response = Response(found.gzipped if use_gzip else found.data, mimetype="text/javascript")
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(found.etag + ("-gzip" if use_gzip else ""))
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.make_conditional(request)
