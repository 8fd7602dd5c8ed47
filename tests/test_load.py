"""Under load: the example app under gunicorn (4 worker processes, its SQLite database and
SQLite delivery store) gets 2,000 distinct signed account events, each posted twice in random
order by 32 concurrent clients. Every delivery is answered 2xx and every event is stored, and
its receivers run, exactly once."""

from __future__ import annotations

import hashlib
import random
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from flask import Flask, jsonify

from flask_stackone.testing import make_event, sign

from .conftest import API_KEY, WEBHOOK_SECRET
from .gunicorn_server import gunicorn
from .live_server import serve

pytestmark = pytest.mark.slow

EVENTS = 2000
CLIENTS = 32
OWNER = "org_northwind"  # a seeded organisation of the example app


def stackone_stub(calls: list[str]) -> Flask:
    """StackOne's ``GET /accounts/{id}``, which the example app's receiver calls."""
    stub = Flask("stackone_stub")
    lock = threading.Lock()

    @stub.get("/accounts/<account_id>")
    def account(account_id: str):  # type: ignore[no-untyped-def]
        with lock:
            calls.append(account_id)
        return jsonify(id=account_id, provider="bamboohr", status="active", origin_owner_id=OWNER,
                       origin_owner_name="Northwind Traders")  # fmt: skip

    return stub


def test_concurrent_duplicated_deliveries_across_workers_store_each_event_once(tmp_path):
    bodies = [
        make_event("account.created", account_id=f"acc_load_{i:04d}", origin_owner_id=OWNER)
        for i in range(EVENTS)
    ]
    deliveries = [*range(EVENTS), *range(EVENTS)]
    random.Random(8).shuffle(deliveries)
    local = threading.local()

    def deliver(index: int) -> tuple[int, int, dict]:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        body = bodies[index]
        response = session.post(
            url,
            data=body,
            headers={"X-StackOne-Signature": sign(body, WEBHOOK_SECRET),
                     "Content-Type": "application/json"},
            timeout=60,
        )  # fmt: skip
        return index, response.status_code, response.json()

    calls: list[str] = []
    with serve(stackone_stub(calls)) as stackone:
        env = {"STACKONE_API_KEY": API_KEY, "STACKONE_WEBHOOK_SECRET": WEBHOOK_SECRET,
               "STACKONE_API_URL": stackone}  # fmt: skip
        app = f"example_app:create_app(instance_path={str(tmp_path)!r})"
        with gunicorn(app, workers=4, env=env) as server:
            url = server.url + "/stackone/webhooks"
            with ThreadPoolExecutor(CLIENTS) as pool:
                results = list(pool.map(deliver, deliveries, timeout=300))

    statuses = sorted({status for _, status, _ in results})
    assert statuses == [200], f"statuses seen: {statuses}"
    first = sorted(i for i, _, answer in results if answer == {"ok": True})
    repeats = sorted(i for i, _, answer in results if answer == {"ok": True, "duplicate": True})
    assert first == list(range(EVENTS)) and repeats == list(range(EVENTS))

    db = sqlite3.connect(tmp_path / "acme-people.db")
    events = db.execute("SELECT delivery_key, account_id, outcome FROM events").fetchall()
    linked = db.execute("SELECT account_id FROM linked_accounts").fetchall()
    db.close()
    expected = {(hashlib.sha256(b).hexdigest(), f"acc_load_{i:04d}") for i, b in enumerate(bodies)}
    assert len(events) == EVENTS, "each event's receiver ran exactly once"
    assert {(key, account) for key, account, _ in events} == expected
    assert {outcome for _, _, outcome in events} == {"stored"}
    assert sorted(a for (a,) in linked) == sorted(a for _, a in expected)
    assert len(calls) == EVENTS, "a duplicate never even reached StackOne"
