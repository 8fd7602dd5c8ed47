"""The app the HTTP benchmarks serve under gunicorn: the plugin's webhook route next to a
peer, a webhook route written by hand from StackOne's docs (HMAC-SHA256 of the raw body
compared in constant time, ``json.loads``, one blinker signal), in one app so both share the
same server and workers.

``/peer-store`` is the peer plus the one store operation a hand-written de-duplication needs:
``INSERT OR IGNORE`` into a SQLite file, ``SET NX`` in Redis, or ``INSERT ... ON CONFLICT DO
NOTHING`` in PostgreSQL, on a connection each worker thread keeps. It runs the receivers at
most once, not exactly once: a worker that dies mid-delivery loses it."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from blinker import Namespace
from flask import Flask, abort, request

from flask_stackone import AccountEvent, Owner, account_created, make_blueprint

API_KEY = "sk_bench_key"
WEBHOOK_SECRET = "whsec_bench_secret"


def create_app(store: str | None = None, api_url: str | None = None) -> Flask:
    """``store``: ``None`` (in memory), a SQLite file name in the instance folder, or a
    Redis or database URL."""
    app = Flask(__name__, instance_path=os.environ.get("BENCH_INSTANCE", "/tmp/bench-instance"))
    app.config.update(
        SECRET_KEY="bench-secret-key",
        STACKONE_API_KEY=API_KEY,
        STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STACKONE_DELIVERY_STORE=store,
    )
    if api_url:
        app.config["STACKONE_API_URL"] = api_url
    blueprints = [make_blueprint()]
    variant = _variant_store(store)
    if variant is not None:  # the same route on a store configured another way
        blueprints.append(make_blueprint("variant", url_prefix="/variant", delivery_store=variant))
    for blueprint in blueprints:
        blueprint.owner_loader(lambda: Owner("org_1", "Acme Ltd", "ada@acme.test"))
        app.register_blueprint(blueprint)
    linked: set[str] = set()

    @account_created.connect_via(app, weak=False)
    def store_account(sender: Flask, event: AccountEvent, **extra: Any) -> None:
        linked.add(event.account_id or "")

    peer_signal = Namespace().signal("account-created")
    peer_signal.connect(lambda sender, **extra: linked.add(extra["event"].get("account_id")),
                        weak=False)  # fmt: skip
    secret = WEBHOOK_SECRET.encode()

    def peer_event() -> dict[str, Any]:
        body = request.get_data()
        expected = base64.urlsafe_b64encode(hmac.new(secret, body, hashlib.sha256).digest())
        given = request.headers.get("X-StackOne-Signature", "").encode("ascii", "replace")
        if not hmac.compare_digest(expected.rstrip(b"="), given):
            abort(401)
        event: dict[str, Any] = json.loads(body)
        return event

    @app.post("/peer")
    def peer() -> tuple[str, int]:
        peer_signal.send(app, event=peer_event())
        return "ok", 200

    if store is not None:
        first_time, mark_done = _dedupe(store, app.instance_path)

        @app.post("/peer-store")
        def peer_store() -> tuple[str, int]:
            event = peer_event()
            if first_time(hashlib.sha256(request.get_data()).hexdigest()):
                peer_signal.send(app, event=event)
            return "ok", 200

        @app.post("/floor")
        def floor() -> tuple[str, int]:
            event = peer_event()
            key = hashlib.sha256(request.get_data()).hexdigest()
            if first_time(key):
                peer_signal.send(app, event=event)
                mark_done(key)
            return "ok", 200

    return app


#: What the variant route's store leaves out, by kind of store (see :func:`_variant_store`).
VARIANTS = {
    "redis": "a client with one connection (no pool checkout per command)",
    "postgres": "an engine without pre-ping (as an app's own engine may be)",
}


def _variant_store(store: str | None) -> Any:
    """The store of the ``/variant`` webhook route: Redis on a client holding one connection,
    or PostgreSQL on an engine that does not ping its pooled connections; both are ways a
    user may configure the store. ``None`` for the other kinds."""
    if store is None or "://" not in store:
        return None
    if store.startswith("redis://"):
        import redis

        from flask_stackone.core.stores.redis import RedisDeliveryStore

        return RedisDeliveryStore(redis.Redis.from_url(store, single_connection_client=True))
    import sqlalchemy as sa

    from flask_stackone.core.stores.sql import SQLDeliveryStore

    engine = sa.create_engine(store, isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
    return SQLDeliveryStore(engine)


def _dedupe(store: str, instance: str) -> tuple[Callable[[str], bool], Callable[[str], None]]:
    """The store's operations on this thread's own connection: is this delivery new (the
    peer's one operation), and its done mark (the floor's second one)."""
    local = threading.local()
    if store.startswith("redis://"):

        def first_time(key: str) -> bool:
            client = getattr(local, "client", None)
            if client is None:
                import redis

                client = local.client = redis.Redis.from_url(store, single_connection_client=True)
            return bool(client.set("peer:" + key, 1, nx=True, ex=7 * 86400))

        def mark_done(key: str) -> None:
            local.client.set("peer:" + key, "done", ex=7 * 86400)

    elif "://" in store:

        def first_time(key: str) -> bool:
            connection = getattr(local, "connection", None)
            if connection is None:
                import psycopg

                url = store.replace("postgresql+psycopg://", "postgresql://")
                connection = local.connection = psycopg.connect(url, autocommit=True)
                with connection.transaction():  # workers start together: one creates it
                    connection.execute("SELECT pg_advisory_xact_lock(1)")
                    connection.execute(
                        "CREATE TABLE IF NOT EXISTS peer (key text PRIMARY KEY, done boolean)"
                    )
            inserted = connection.execute(
                "INSERT INTO peer (key) VALUES (%s) ON CONFLICT DO NOTHING", (key,), prepare=True
            )
            return inserted.rowcount == 1

        def mark_done(key: str) -> None:
            local.connection.execute(
                "UPDATE peer SET done = true WHERE key = %s", (key,), prepare=True
            )

    else:
        path = os.path.join(instance, "peer.db")

        def first_time(key: str) -> bool:  # the writers take turns as the SQLite store's do
            connection = getattr(local, "connection", None)
            if connection is None:
                connection = local.connection = sqlite3.connect(
                    path, timeout=30, isolation_level=None
                )
                local.lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
                with _turn(local.lock):
                    connection.execute("PRAGMA journal_mode=WAL")
                    connection.execute(
                        "CREATE TABLE IF NOT EXISTS peer (key TEXT PRIMARY KEY, done INTEGER)"
                    )
                connection.execute("PRAGMA synchronous=NORMAL")
            with _turn(local.lock):
                cursor = connection.execute("INSERT OR IGNORE INTO peer (key) VALUES (?)", (key,))
            return cursor.rowcount == 1

        def mark_done(key: str) -> None:
            with _turn(local.lock):
                local.connection.execute("UPDATE peer SET done = 1 WHERE key = ?", (key,))

    return first_time, mark_done


@contextmanager
def _turn(lock: int) -> Iterator[None]:
    """The write turn, through an OS file lock: a blocked writer wakes as soon as it is free
    (SQLite's own wait sleeps in steps of milliseconds)."""
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
