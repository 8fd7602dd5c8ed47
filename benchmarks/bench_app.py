"""The app the HTTP benchmarks serve under gunicorn: the plugin's webhook route next to a
bare Flask route that returns 200, in one app so both share the same server and workers.

``/floor`` is the bare route plus the least a delivery store on the same server can do per
delivery: one write transaction on a SQLite file of its own, one Redis round trip (``PING``)
or one PostgreSQL round trip (``SELECT 1``), on a connection each worker thread keeps. No
correct store can cost less; it shows what the machine allows."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask

from flask_stackone import AccountEvent, Owner, account_created, make_blueprint

API_KEY = "sk_bench_key"
WEBHOOK_SECRET = "whsec_bench_secret"


def create_app(store: str | None = None, api_url: str | None = None) -> Flask:
    """``store``: ``None`` (in memory), a SQLite file name in the instance folder, or a
    Redis or database URL."""
    app = Flask(__name__, instance_path=os.environ.get("BENCH_INSTANCE", "/tmp/bench-instance"))
    app.config.update(
        STACKONE_API_KEY=API_KEY,
        STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STACKONE_DELIVERY_STORE=store,
    )
    if api_url:
        app.config["STACKONE_API_URL"] = api_url
    blueprint = make_blueprint()
    blueprint.owner_loader(lambda: Owner("org_1", "Acme Ltd", "ada@acme.test"))
    app.register_blueprint(blueprint)
    linked: set[str] = set()

    @account_created.connect_via(app, weak=False)
    def store_account(sender: Flask, event: AccountEvent, **extra: Any) -> None:
        linked.add(event.account_id or "")

    @app.post("/bare")
    def bare() -> tuple[str, int]:
        return "ok", 200

    if store is not None:
        one_operation = _floor(store, app.instance_path)

        @app.post("/floor")
        def floor() -> tuple[str, int]:
            one_operation()
            return "ok", 200

    return app


def _floor(store: str, instance: str) -> Callable[[], None]:
    """One operation on the store's server, on this thread's own connection."""
    local = threading.local()
    if store.startswith("redis://"):

        def operation() -> None:
            connection = getattr(local, "connection", None)
            if connection is None:
                import redis

                pool = redis.Redis.from_url(store).connection_pool
                connection = local.connection = pool.make_connection()
            connection.send_command("PING")
            connection.read_response()

    elif "://" in store:

        def operation() -> None:
            connection = getattr(local, "connection", None)
            if connection is None:
                import psycopg

                url = store.replace("postgresql+psycopg://", "postgresql://")
                connection = local.connection = psycopg.connect(url, autocommit=True)
            connection.execute("SELECT 1", prepare=True).fetchone()

    else:
        path = os.path.join(instance, "floor.db")

        def operation() -> None:  # the writers take turns as the SQLite store's do: flock
            connection = getattr(local, "connection", None)
            if connection is None:
                connection = local.connection = sqlite3.connect(
                    path, timeout=30, isolation_level=None
                )
                local.lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
                with _turn(local.lock):
                    connection.execute("PRAGMA journal_mode=WAL")
                    connection.execute("CREATE TABLE IF NOT EXISTS floor (n INTEGER PRIMARY KEY)")
                connection.execute("PRAGMA synchronous=NORMAL")
            with _turn(local.lock):
                connection.execute("INSERT INTO floor DEFAULT VALUES")

    return operation


@contextmanager
def _turn(lock: int) -> Iterator[None]:
    """The write turn, through an OS file lock: a blocked writer wakes as soon as it is free
    (SQLite's own wait sleeps in steps of milliseconds)."""
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
