"""Run the standalone sandbox (``python -m flask_stackone.sandbox``) as a process for a test,
and a plain WSGI webhook receiver that verifies StackOne's signature without Flask."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask_stackone.core.errors import SignatureVerificationError
from flask_stackone.core.webhooks import SIGNATURE_HEADER, verify_signature

ROOT = Path(__file__).resolve().parent.parent
FIELDS = {
    "base URL": "base_url",
    "API key": "api_key",
    "webhook secret": "webhook_secret",
    "webhooks go to": "webhook_url",
}


@dataclass
class Emulator:
    """A running standalone sandbox and what it printed on start."""

    process: subprocess.Popen[str]
    printed: str
    base_url: str = ""
    api_key: str = ""
    webhook_secret: str = ""
    webhook_url: str = ""
    stderr_path: Path = field(default_factory=Path)

    @property
    def auth(self) -> tuple[str, str]:
        return (self.api_key, "")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def emulator(folder: Path, *args: str, timeout: float = 20.0) -> Iterator[Emulator]:
    """Start ``python -m flask_stackone.sandbox --port 0 --data <folder>/... *args``; yield
    once it printed its base URL; stop it (SIGINT, as Ctrl+C) afterwards."""
    stderr_path = folder / "emulator.stderr"
    command = [
        sys.executable, "-m", "flask_stackone.sandbox",
        "--port", "0", "--data", str(folder / "emulator.sqlite3"), *args,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(stderr_path, "w", encoding="utf-8") as errors:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    lines: list[str] = []
    found: dict[str, str] = {}

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            match = re.match(r"^([a-zA-Z ]+):\s+(\S.*)$", line.rstrip())
            if match and match.group(1) in FIELDS:
                found[FIELDS[match.group(1)]] = match.group(2)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while not any(line.startswith("data:") for line in lines):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait(5)
            reader.join(5)
            if process.stdout is not None:
                process.stdout.close()
            raise AssertionError(
                f"the sandbox did not start: {''.join(lines)}{stderr_path.read_text()}"
            )
        time.sleep(0.02)
    running = Emulator(process, "".join(lines), stderr_path=stderr_path, **found)
    try:
        yield running
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        reader.join(5)
        if process.stdout is not None:
            process.stdout.close()
        running.printed = "".join(lines)


class Receiver:
    """A webhook receiver in plain WSGI: it checks ``x-stackone-signature`` with the
    Flask-free core and records each verified event; ``fail_first`` answers 500 first."""

    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.events: list[dict[str, Any]] = []
        self.refused = 0
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        header = environ.get("HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_"))
        with self._lock:
            self.calls += 1
            try:
                verify_signature(body, header, self.secret)
            except SignatureVerificationError:
                self.refused += 1
                start_response("401 Unauthorized", [("Content-Type", "text/plain")])
                return [b"bad signature"]
            if self.calls <= self.fail_first:
                start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
                return [b"receiver down"]
            self.events.append(json.loads(body))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"ok": true}']

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.events)
