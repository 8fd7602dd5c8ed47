"""The routes `make bench` compares the webhook route with do what benchmarks/RESULTS.md says
they do: the peer refuses a bad signature and runs its receivers once per delivery; the floor
writes its done mark after them (SQLite here; the Redis and PostgreSQL variants make the same
two calls on their own drivers)."""

from __future__ import annotations

import sqlite3

import pytest

from benchmarks.bench_app import WEBHOOK_SECRET, create_app
from flask_stackone.testing import make_event, sign


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_INSTANCE", str(tmp_path))
    return create_app(store="deliveries.db").test_client()


def post(client, path, body, signature=None):
    signature = sign(body, WEBHOOK_SECRET) if signature is None else signature
    return client.post(path, data=body, headers={"X-StackOne-Signature": signature})


@pytest.mark.parametrize("path", ["/peer", "/peer-store", "/floor", "/stackone/webhooks"])
def test_every_compared_route_refuses_a_wrong_signature(client, path):
    body = make_event("account.created", account_id="acc_1")
    assert post(client, path, body, signature=sign(body, "another secret")).status_code == 401
    assert post(client, path, body).status_code == 200


def test_the_floor_claims_before_and_marks_done_after_the_receivers(client, tmp_path):
    first, second = (make_event("account.created", account_id=f"acc_{i}") for i in (1, 2))
    assert post(client, "/peer-store", first).status_code == 200
    assert post(client, "/floor", second).status_code == 200
    assert post(client, "/floor", second).status_code == 200  # a duplicate: no second mark
    with sqlite3.connect(tmp_path / "peer.db") as connection:
        rows = connection.execute("SELECT done FROM peer ORDER BY done").fetchall()
    assert rows == [(None,), (1,)]  # the peer's row has no mark; the floor's has its one
