"""The accounts panel's page render: from the linked-accounts store (``flask_stackone.sqla`` on
a SQLite file) against from StackOne, StackOne answering with 150 ms of added latency.

A stub StackOne on 127.0.0.1 answers ``GET /accounts`` (one page of the owner's accounts)
and ``GET /connectors/meta`` after sleeping 150 ms, on connections kept alive. Two host
apps render the same page through Flask's test client: one without a store (each render
reads the owner's accounts from StackOne; the connectors meta is cached after the first),
one with the store holding the same accounts (the render reads the table; the panel's
script would refresh from StackOne after load, which is not part of the render). Both are
warmed first, so the store-backed app has the connector names cached as it would after its
first live refresh. Medians of interleaved rounds.
"""

from __future__ import annotations

import http.server
import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from statistics import median
from typing import Any

from flask import Flask, render_template
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from flask_stackone import Owner, make_blueprint
from flask_stackone.core.models import Account
from flask_stackone.sqla import LinkedAccountMixin, LinkedAccounts

from .bench_app import API_KEY, WEBHOOK_SECRET

#: StackOne's added latency per answer, in seconds.
LATENCY = 0.150
ROUNDS = 5
#: Renders per round: a few from StackOne (each waits 150 ms), many from the store.
FROM_STACKONE = 4
FROM_STORE = 40
TARGET = 10.0
OWNER = Owner("org_1", "Acme Ltd", "ada@acme.test")
PAGE = "<!doctype html><title>Integrations</title><main>{{ stackone_accounts() }}</main>"
ACCOUNTS = [
    {"id": f"acc_{n}", "provider": provider, "provider_name": name, "status": status,
     "status_reasons": [], "origin_owner_id": OWNER.id, "origin_owner_name": OWNER.name,
     "label": None, "created_at": "2026-05-01T10:00:00Z", "updated_at": "2026-05-02T10:00:00Z"}
    for n, (provider, name, status) in enumerate(
        [("bamboohr", "BambooHR", "active"), ("hibob", "HiBob", "error"),
         ("greenhouse", "Greenhouse", "active"), ("workday", "Workday", "active"),
         ("personio", "Personio", "active")]
    )
]  # fmt: skip
CONNECTORS = [
    {"provider": a["provider"], "provider_name": a["provider_name"], "category": "hris",
     "resources": {"images": {"logo_url": f"https://stackone-logos.com/{a['provider']}.png"}}}
    for a in ACCOUNTS
]  # fmt: skip


class StubStackOne(http.server.BaseHTTPRequestHandler):
    """``GET /accounts`` and ``GET /connectors/meta``, each after :data:`LATENCY`; counts
    the requests it answers."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    calls = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with StubStackOne.lock:
            StubStackOne.calls += 1
        time.sleep(LATENCY)
        path = self.path.split("?", 1)[0]
        answer = json.dumps(CONNECTORS if path == "/connectors/meta" else ACCOUNTS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def stub() -> Iterator[str]:
    """Serve the stub on 127.0.0.1; yield its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StubStackOne)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def host_app(folder: Path, api_url: str) -> Flask:
    """A host app with the panel on ``/integrations`` (a template file, compiled once, as a
    host's pages are), every setting given so nothing is logged."""
    (folder / "templates").mkdir(parents=True, exist_ok=True)
    (folder / "templates" / "integrations.html").write_text(PAGE, encoding="utf-8")
    app = Flask(
        "panel_bench",
        instance_path=str(folder / "instance"),
        template_folder=str(folder / "templates"),
    )
    app.config.update(
        SECRET_KEY="bench-secret",
        STACKONE_API_KEY=API_KEY,
        STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STACKONE_API_URL=api_url,
        STACKONE_HUB_SCRIPT_URL="https://cdn.example/stackone-hub.js",
    )
    blueprint = make_blueprint()
    blueprint.owner_loader(lambda: OWNER)
    app.register_blueprint(blueprint)
    app.add_url_rule("/integrations", "integrations", lambda: render_template("integrations.html"))
    return app


def with_store(app: Flask, folder: Path) -> LinkedAccounts[Any]:
    """Set up a store on a SQLite file holding :data:`ACCOUNTS`."""

    class Base(DeclarativeBase):
        pass

    class LinkedAccount(LinkedAccountMixin, Base):
        __tablename__ = "linked_accounts"

    engine = create_engine(f"sqlite:///{folder / 'host.db'}")
    Base.metadata.create_all(engine)
    linked = LinkedAccounts(LinkedAccount, sessionmaker(engine))
    linked.init_app(app)
    for item in ACCOUNTS:
        linked.store(Account.from_api(item), at=datetime.now(timezone.utc))
    return linked


def page_render(app: Flask) -> Callable[[], None]:
    client = app.test_client()

    def render() -> None:
        answer = client.get("/integrations")
        assert answer.status_code == 200 and answer.text.count("data-account-id") == 5

    return render


def measure(calls: dict[str, tuple[Callable[[], None], int]]) -> dict[str, float]:
    """Median milliseconds of each call, ``n`` times per round, in interleaved rounds."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(ROUNDS):
        for name, (call, n) in calls.items():
            for _ in range(n):
                started = time.perf_counter()
                call()
                samples[name].append(time.perf_counter() - started)
    return {name: median(values) * 1000 for name, values in samples.items()}


def run() -> list[dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="bench-panel-") as tmp, stub() as url:
        folder = Path(tmp)
        (folder / "a").mkdir()
        (folder / "b").mkdir()
        live = page_render(host_app(folder / "a", url))
        stored_app = host_app(folder / "b", url)
        linked = with_store(stored_app, folder / "b")
        stored = page_render(stored_app)
        live()  # warm: connectors meta cached, connection open
        list_rows = stored_app.test_client().get(
            "/stackone/accounts", headers={"X-StackOne-Request": "1", "Accept": "text/html"}
        )  # the panel script's refresh, which caches the connector names
        assert list_rows.status_code == 200
        stored()
        before = StubStackOne.calls
        stored()
        store_calls = StubStackOne.calls - before
        ms = measure({"stackone": (live, FROM_STACKONE), "store": (stored, FROM_STORE)})
        linked.db.kw["bind"].dispose()  # type: ignore[attr-defined]
    ratio = ms["stackone"] / ms["store"]
    name = "accounts panel render"
    return [
        {"benchmark": name, "measure": "page with the panel, from StackOne (median)",
         "value": f"{ms['stackone']:.1f} ms", "note": "StackOne answers after 150 ms"},
        {"benchmark": name, "measure": "page with the panel, from the store (median)",
         "value": f"{ms['store']:.2f} ms",
         "note": f"SQLite store; StackOne calls during the render: {store_calls}"},
        {"benchmark": name, "measure": "store-backed render speed-up",
         "value": f"{ratio:.0f}x", "target": f">= {TARGET:.0f}x",
         "note": "met" if ratio >= TARGET else "NOT met"},
    ]  # fmt: skip
