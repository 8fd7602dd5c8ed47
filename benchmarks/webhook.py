"""Webhook cost: verify + parse + dispatch per event in process, and the webhook route's
throughput under gunicorn against a bare Flask route returning 200 (same server, same
workers, same load generator: threads making one HTTP/1.1 request per connection, as
gunicorn's default sync workers close each connection)."""

from __future__ import annotations

import http.client
import os
import tempfile
import threading
import time
from itertools import count
from statistics import median

from flask_stackone import signals
from flask_stackone.core.webhooks import parse_event, verify_signature
from flask_stackone.testing import make_event, sign
from tests.gunicorn_server import gunicorn

from .bench_app import WEBHOOK_SECRET, create_app

EVENTS = 20_000
DURATION = 4.0
WORKERS = 2
CLIENT_THREADS = 8


def _bodies(n: int, prefix: str) -> list[tuple[bytes, str]]:
    bodies = []
    for i in range(n):
        body = make_event("account.created", account_id=f"{prefix}_{i}", origin_owner_id="org_1")
        bodies.append((body, sign(body, WEBHOOK_SECRET)))
    return bodies


def in_process() -> list[dict[str, str]]:
    app = create_app()
    bodies = _bodies(EVENTS, "acc_inproc")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    for body, signature in bodies:
        verify_signature(body, signature, WEBHOOK_SECRET)
    timings["verify"] = time.perf_counter() - started
    started = time.perf_counter()
    events = [parse_event(body) for body, _ in bodies]
    timings["parse"] = time.perf_counter() - started
    started = time.perf_counter()
    with app.app_context():
        for event in events:
            signals.send(signals.webhook_received, app, event)
            signals.send(signals.account_created, app, event)
    timings["dispatch"] = time.perf_counter() - started
    client = app.test_client()
    started = time.perf_counter()
    for body, signature in bodies[:5000]:
        client.post("/stackone/webhooks", data=body, headers={"X-StackOne-Signature": signature})
    route = (time.perf_counter() - started) / 5000
    per_event = {k: v / EVENTS * 1e6 for k, v in timings.items()}
    total = sum(per_event.values())
    return [
        {"benchmark": "webhook in process", "measure": f"{k} per event",
         "value": f"{v:.1f} µs"} for k, v in per_event.items()
    ] + [
        {"benchmark": "webhook in process", "measure": "verify+parse+dispatch per event",
         "value": f"{total:.1f} µs"},
        {"benchmark": "webhook in process", "measure": "whole route via Flask's test client",
         "value": f"{route * 1e6:.0f} µs"},
    ]  # fmt: skip


def _load(
    port: int, path: str, bodies: list[tuple[bytes, str]], duration: float
) -> tuple[float, int]:
    """Requests per second for ``duration`` seconds; also the count of non-2xx answers."""
    numbers = count()
    stop = time.monotonic() + duration
    done = [0] * CLIENT_THREADS
    failed = [0] * CLIENT_THREADS

    def worker(slot: int) -> None:
        while time.monotonic() < stop:
            body, signature = bodies[next(numbers) % len(bodies)]
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", path, body, {"X-StackOne-Signature": signature,
                                              "Content-Type": "application/json"})  # fmt: skip
            response = conn.getresponse()
            response.read()
            conn.close()
            done[slot] += 1
            failed[slot] += not 200 <= response.status < 300

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENT_THREADS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - started), sum(failed)


def under_gunicorn() -> list[dict[str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as instance:
        env = {"BENCH_INSTANCE": instance}
        for store, label in ((None, "in-memory store"), ("deliveries.db", "SQLite store")):
            spec = f"benchmarks.bench_app:create_app(store={store!r})"
            with gunicorn(spec, workers=WORKERS, env=env) as server:
                port = server.port
                bodies = _bodies(60_000, f"acc_{label[:3]}")
                _load(port, "/bare", bodies, 0.5)  # warm up both routes
                rates = {"bare": [], "webhook": []}
                failures = 0
                for _ in range(2):  # interleaved, so drift hits both alike
                    rate, bad = _load(port, "/bare", bodies, DURATION / 2)
                    rates["bare"].append(rate)
                    failures += bad
                    rate, bad = _load(port, "/stackone/webhooks", bodies, DURATION / 2)
                    rates["webhook"].append(rate)
                    failures += bad
            bare, hook = median(rates["bare"]), median(rates["webhook"])
            rows += [
                {"benchmark": f"gunicorn ({WORKERS} sync workers), {label}",
                 "measure": "bare Flask route", "value": f"{bare:.0f} req/s"},
                {"benchmark": f"gunicorn ({WORKERS} sync workers), {label}",
                 "measure": "webhook route (distinct signed events)", "value": f"{hook:.0f} req/s"},
                {"benchmark": f"gunicorn ({WORKERS} sync workers), {label}",
                 "measure": "webhook / bare throughput", "value": f"{hook / bare:.2f}",
                 "target": ">= 0.80", "note": f"{failures} non-2xx answers"},
            ]  # fmt: skip
    return rows


def run() -> list[dict[str, str]]:
    os.environ.setdefault("PYTHONHASHSEED", "0")
    return in_process() + under_gunicorn()
