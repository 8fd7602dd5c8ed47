"""Response headers for the app's own pages: a Content-Security-Policy with a per-request
nonce (passed to ``stackone_hub(nonce=...)``) and the usual hardening headers."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, g, request

from flask_stackone import get_state

#: Blueprints whose HTML pages get this app's policy (the plugin's and the sandbox's own
#: pages set their own headers).
OWN_BLUEPRINTS = frozenset({"main", "auth", None})


def csp_nonce() -> str:
    """This request's nonce, created on first use."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def content_security_policy(app: Flask, nonce: str) -> str:
    """The policy the StackOne Hub needs, and nothing from outside in sandbox mode."""
    scripts = ["'self'", f"'nonce-{nonce}'"]
    connect = ["'self'"]
    images = ["'self'", "data:"]
    settings = get_state(app).settings  # the plugin's checked settings, not raw config
    if settings.hub_script_url:
        scripts.append(_origin(settings.hub_script_url))
    if not settings.sandbox:
        connect.append(_origin(settings.api_url))  # the Hub calls StackOne's API
        images.append("https:")  # connector logos come from StackOne's image hosts
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {' '.join(scripts)}",
            "style-src 'self' 'unsafe-inline'",  # the Hub injects its own styles
            f"img-src {' '.join(images)}",
            "font-src 'self' data:",
            f"connect-src {' '.join(connect)}",
            "base-uri 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        )
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def set_security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html" and request.blueprint in OWN_BLUEPRINTS:
            response.headers.setdefault(
                "Content-Security-Policy", content_security_policy(app, csp_nonce())
            )
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response
