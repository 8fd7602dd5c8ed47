"""Run a WSGI app under gunicorn on a free 127.0.0.1 port, in its own process group, for tests
and benchmarks that need real worker processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port free now, for a server that must be started (and restarted) on a port known
    in advance; another program may take it meanwhile, so prefer ``port=0``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """One gunicorn master with its workers. :meth:`kill` sends SIGKILL to all of them."""

    def __init__(
        self, app: str, *, workers: int, env: Mapping[str, str], port: int, args: tuple[str, ...]
    ) -> None:
        self.app, self.workers, self.env, self.port, self.args = app, workers, env, port, args
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start gunicorn and wait until it listens. With ``port=0`` the first start binds
        a port the operating system chooses (no race with other programs) and reads it back;
        a restart reuses it."""
        env = {**os.environ, **self.env}
        command = [sys.executable, "-m", "gunicorn", "--workers", str(self.workers),
                   "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning",
                   *self.args, self.app]  # fmt: skip
        with tempfile.TemporaryDirectory() as folder:
            if self.port == 0:
                env["TEST_GUNICORN_PORT_FILE"] = port_file = os.path.join(folder, "port")
                command[-1:-1] = ["--config", "python:tests.gunicorn_port"]
            self.process = subprocess.Popen(  # noqa: S603 - our own command line
                command, cwd=ROOT, env=env, start_new_session=True
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
                if self.port == 0 and os.path.exists(port_file):
                    with open(port_file) as file:
                        self.port = int(file.read())
                    self.url = f"http://127.0.0.1:{self.port}"
                if self.port != 0:
                    try:
                        socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                        return
                    except OSError:
                        pass
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not listen on port {self.port} in {timeout}s")

    def kill(self) -> None:
        """SIGKILL the master and every worker at once (nothing gets to clean up), then wait
        until the dying workers' listening socket is gone, so a restart is really new."""
        self._signal_group(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            except OSError:
                return
            time.sleep(0.05)
        raise RuntimeError(f"port {self.port} still answers 10s after SIGKILL")

    def stop(self) -> None:
        self._signal_group(signal.SIGTERM)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None


@contextmanager
def gunicorn(
    app: str,
    *,
    workers: int = 4,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[Gunicorn]:
    """Serve ``app`` (``"module:factory()"``) until the block ends; always stopped after."""
    server = Gunicorn(app, workers=workers, env=env or {}, port=0, args=args)
    server.start()
    try:
        yield server
    finally:
        server.stop()
