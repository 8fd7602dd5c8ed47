"""Flask-WTF's CSRF token for the page's scripts, so a host with ``CSRFProtect(app)``
needs no ``<meta name="csrf-token">`` tag: the widget and the accounts panel carry the
token in a ``data-stackone-csrf-token`` attribute that ``static/stackone/common.js`` reads
(a page's own meta tag, when there is one, wins)."""

from __future__ import annotations

import sys

from flask import current_app


def csrf_token() -> str | None:
    """The current session's CSRF token when Flask-WTF's ``CSRFProtect`` is set up on the
    app (it is then imported), else ``None``.

    :returns: the token, made (and kept in the session) by ``flask_wtf.csrf.generate_csrf``.
    """
    csrf = sys.modules.get("flask_wtf.csrf")
    if csrf is None or "csrf" not in current_app.extensions:
        return None
    token: str = csrf.generate_csrf()
    return token
