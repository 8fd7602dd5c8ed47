"""Serve a WSGI app on a real 127.0.0.1 port in a background thread, for tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server


@contextmanager
def serve(app: Any, port: int = 0) -> Iterator[str]:
    """Run ``app`` (threaded) until the block ends; yields its base URL ``http://127.0.0.1:N``."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def refused_port() -> Iterator[int]:
    """A 127.0.0.1 port where connections are refused until the block ends: it is bound
    (so no other program can take it meanwhile) but not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
