"""A small host app for tests that need real worker processes (gunicorn) or a receiver
that fails on purpose. Every receiver run is written to a SQLite table, so a test can
count runs across processes.

``gunicorn 'tests.hostapp:create_app()'`` reads ``HOSTAPP_INSTANCE`` (its folder),
``HOSTAPP_FAIL_FIRST`` (fail the first N runs of each delivery), ``HOSTAPP_RECEIVER_DELAY``
(seconds each run takes), ``HOSTAPP_STALL_FIRST`` (seconds the first run of each delivery
takes on top: a receiver that outlives the worker) and ``STACKONE_*``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Any

from flask import Flask

from flask_stackone import AccountEvent, Owner, account_created, make_blueprint

from .conftest import API_KEY, WEBHOOK_SECRET

RUNS_DB = "receiver-runs.db"


def runs_db(instance: str) -> sqlite3.Connection:
    db = sqlite3.connect(os.path.join(instance, RUNS_DB), timeout=30, isolation_level=None)
    db.execute(
        "CREATE TABLE IF NOT EXISTS runs (delivery_key TEXT, account_id TEXT, failed INTEGER)"
    )
    db.execute("CREATE TABLE IF NOT EXISTS starts (delivery_key TEXT)")
    return db


def create_app(instance: str | None = None, fail_first: int | None = None, **config: Any) -> Flask:
    """The host app; ``instance`` and ``fail_first`` default to the environment."""
    instance = instance or os.environ["HOSTAPP_INSTANCE"]
    if fail_first is None:
        fail_first = int(os.environ.get("HOSTAPP_FAIL_FIRST", "0"))
    delay = float(os.environ.get("HOSTAPP_RECEIVER_DELAY", "0"))
    stall_first = float(os.environ.get("HOSTAPP_STALL_FIRST", "0"))
    app = Flask(__name__, instance_path=instance)
    app.config.update(
        SECRET_KEY="hostapp-secret-key",
        STACKONE_API_KEY=API_KEY,
        STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STACKONE_DELIVERY_STORE="deliveries.db",
    )
    app.config.update({k: v for k, v in os.environ.items() if k.startswith("STACKONE_")})
    app.config.update(config)
    runs_db(instance).close()
    blueprint = make_blueprint()
    blueprint.owner_loader(lambda: Owner("org_1", "Acme Ltd", "ada@acme.test"))
    app.register_blueprint(blueprint)

    @account_created.connect_via(app, weak=False)
    def record_run(sender: Flask, event: AccountEvent, **extra: Any) -> None:
        db = runs_db(instance)
        try:
            db.execute("INSERT INTO starts VALUES (?)", (event.delivery_key,))
            (started,) = db.execute(
                "SELECT COUNT(*) FROM starts WHERE delivery_key = ?", (event.delivery_key,)
            ).fetchone()
            time.sleep(delay + (stall_first if started == 1 else 0))
            failed = db.execute(
                "SELECT COUNT(*) FROM runs WHERE delivery_key = ? AND failed", (event.delivery_key,)
            ).fetchone()[0]
            fail = failed < fail_first
            db.execute(
                "INSERT INTO runs VALUES (?, ?, ?)", (event.delivery_key, event.account_id, fail)
            )
        finally:
            db.close()
        if fail:
            raise RuntimeError(f"receiver fails on purpose ({failed + 1} of {fail_first})")

    return app
