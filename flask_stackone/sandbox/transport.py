"""A ``requests`` transport that answers from a WSGI app in process.

Mounted on the plugin client's session for :data:`IN_PROCESS_URL`, it lets a Flask app
call the sandbox it mounts with no server running (CLI, Flask's test client) and without a
request to itself over HTTP that a single-threaded server could never answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from werkzeug.test import EnvironBuilder, run_wsgi_app

#: The client's base URL when the sandbox answers in process (never resolved by DNS).
IN_PROCESS_URL = "http://sandbox.localhost/stackone-sandbox"
#: Set in the WSGI environ of in-process calls (they are not the app's public traffic).
IN_PROCESS_KEY = "flask_stackone.sandbox.in_process"


class WSGIAdapter(BaseAdapter):
    """Send each request to ``app`` as if it arrived at ``public_root()`` + ``mount_path``.

    :param app: the sandbox app.
    :param public_root: returns the public root URL of the app that mounts the sandbox
        (``http://127.0.0.1:5000/``), so links the sandbox builds (``auth_link_url``) open
        in a browser.
    :param mount_path: where the sandbox is mounted under that root; the same path begins
        the requests' URLs (``http://sandbox.localhost/stackone-sandbox/accounts``).
    """

    def __init__(
        self, app: Flask, public_root: Callable[[], str], mount_path: str = "/stackone-sandbox"
    ) -> None:
        super().__init__()
        self.app = app
        self.public_root = public_root
        self.mount_path = mount_path.rstrip("/")

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        path = url.path
        if path == self.mount_path or path.startswith(self.mount_path + "/"):
            path = path[len(self.mount_path) :]
        body = request.body
        builder = EnvironBuilder(
            path=path or "/",
            base_url=self.public_root().rstrip("/") + self.mount_path + "/",
            query_string=url.query,
            method=request.method or "GET",
            headers=list(request.headers.items()),
            data=body.encode("utf-8") if isinstance(body, str) else body or b"",
            environ_overrides={IN_PROCESS_KEY: True},
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        # A fresh app context, never the caller's (whose ``g`` must stay as it is).
        with self.app.app_context():
            app_iter, status, headers = run_wsgi_app(self.app.wsgi_app, environ, buffered=True)
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.split(" ", 1)[1] if " " in status else ""
        response.headers = CaseInsensitiveDict(headers.items())
        response._content = b"".join(app_iter)
        response.encoding = get_encoding_from_headers(response.headers)
        response.url = request.url or ""
        response.request = request
        response.connection = self  # type: ignore[assignment]  # the stubs expect HTTPAdapter
        return response

    def close(self) -> None:
        """Nothing to release: no socket is ever opened."""
