"""Gunicorn configuration for tests: once gunicorn listens, write the port it bound (it was
asked for port 0, so the operating system chose a free one) to ``$TEST_GUNICORN_PORT_FILE``."""

from __future__ import annotations

import os
from typing import Any


def when_ready(server: Any) -> None:
    port = server.LISTENERS[0].sock.getsockname()[1]
    path = os.environ["TEST_GUNICORN_PORT_FILE"]
    with open(path + ".tmp", "w") as file:
        file.write(str(port))
    os.replace(path + ".tmp", path)
