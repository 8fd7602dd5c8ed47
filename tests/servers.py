"""Real Redis and PostgreSQL servers for tests and benchmarks: Debian's ``redis-server`` and
PostgreSQL's own binaries, each on a free 127.0.0.1 port with its files in a temporary
folder, stopped (and the folder removed) afterwards.

A missing server skips the tests that need it, with a message saying what to install; with
``CI=true`` it fails them instead. PostgreSQL refuses to run as root, so as root it runs as the
``postgres`` user (``runuser``), which owns its folder.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest

from .gunicorn_server import free_port

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(why: str) -> None:
    """Skip the test (locally) or fail it (in CI): a server or driver it needs is missing."""
    if IN_CI:
        pytest.fail(f"{why} (CI=true: .ci/run installs it)", pytrace=False)
    pytest.skip(why)


def _wait_for(check, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(OSError):
            if check():
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {timeout:.0f}s")


class RedisServer:
    """``redis-server`` on 127.0.0.1: no snapshots, no append-only file, started and
    stopped (and started again, on the same port) by the test."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                   "--dir", self.folder, "--save", "", "--appendonly", "no",
                   "--logfile", os.path.join(self.folder, "redis.log")]  # fmt: skip
        self.process = subprocess.Popen(command, start_new_session=True)  # noqa: S603
        _wait_for(self._pong, f"redis-server on port {self.port}")

    def _pong(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.process.returncode}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    def stop(self) -> None:
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def flush(self) -> None:
        """Forget every key (between tests sharing one server)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(64)


def postgres_bin() -> str | None:
    """The folder of the newest PostgreSQL installed (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit() else 0,
    )
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


class PostgresServer:
    """A PostgreSQL cluster of its own in a temporary folder, on 127.0.0.1 (its unix socket
    in that folder too), trusting local connections; ``fsync`` off unless asked for."""

    def __init__(self, folder: str, bindir: str, *, fsync: bool = False) -> None:
        self.folder = folder
        self.bindir = bindir
        self.fsync = fsync
        self.port = free_port()
        self.data = os.path.join(folder, "data")
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(folder, "postgres", "postgres")
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [os.path.join(self.bindir, program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)  # noqa: S603
        if result.returncode:
            raise RuntimeError(f"{program} failed: {result.stdout}{result.stderr}")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
                   f" -c fsync={'on' if self.fsync else 'off'} -c max_connections=200")  # fmt: skip
        if not self.fsync:
            options += " -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.folder, "postgres.log"),
                  "-o", options, "-w", "-t", "60", "start")  # fmt: skip
        _wait_for(self._accepts, f"PostgreSQL on port {self.port}")

    def _accepts(self) -> bool:
        socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        return True

    def stop(self, mode: str = "fast") -> None:
        with suppress(RuntimeError):
            self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")


def _folder(prefix: str) -> str:
    # under /tmp itself: pytest's own temporary folders sit below a folder only root may
    # enter, and the postgres user must reach its data folder
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A running Redis; skipped (or failed in CI) when redis-server or redis-py is missing."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed (apt-get install redis-server)")
    try:
        import redis  # noqa: F401
    except ImportError:
        unavailable("redis-py is not installed (pip install 'flask-stackone[redis]')")
    folder = _folder("stackone-redis-")
    server = RedisServer(folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_server(*, fsync: bool = False) -> Iterator[PostgresServer]:
    """A running PostgreSQL; skipped (or failed in CI) when it or SQLAlchemy/psycopg is
    missing."""
    bindir = postgres_bin()
    if bindir is None:
        unavailable("PostgreSQL is not installed (apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        unavailable("SQLAlchemy or psycopg is missing (pip install 'flask-stackone[sql]')")
    folder = _folder("stackone-postgres-")
    try:
        server = PostgresServer(folder, bindir, fsync=fsync)
        server.start()
        try:
            yield server
        finally:
            server.stop("immediate")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- pytest fixtures (import them into a test module to use them) ------------------------------


@pytest.fixture(scope="session")
def shared_redis() -> Iterator[RedisServer]:
    """One Redis for the whole run; tests keep apart by their own keys."""
    with redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def shared_postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL for the whole run; tests keep apart by their own tables."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own, which it may stop and start."""
    with redis_server() as server:
        yield server


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test's own, which it may stop and start."""
    with postgres_server() as server:
        yield server
