"""The app the HTTP benchmarks serve under gunicorn: the plugin's webhook route next to a
bare Flask route that returns 200, in one app so both share the same server and workers."""

from __future__ import annotations

import os
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

    return app
