"""Delivery stores: claim / remember / release, in memory and in SQLite across processes."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from flask_stackone import MemoryDeliveryStore, SQLiteDeliveryStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    if request.param == "memory":
        return MemoryDeliveryStore(ttl=60, lease=0.3)
    return SQLiteDeliveryStore(tmp_path / "sub" / "d.db", ttl=60, lease=0.3)


def test_claim_remember_then_done(store):
    assert store.claim("k") == "claimed"
    assert store.claim("k") == "busy"
    store.remember("k")
    assert store.claim("k") == "done"


def test_release_lets_a_redelivery_claim_again(store):
    assert store.claim("k") == "claimed"
    store.release("k")
    assert store.claim("k") == "claimed"


def test_a_claim_of_a_dead_worker_expires_after_the_lease(store):
    assert store.claim("k") == "claimed"
    time.sleep(0.35)
    assert store.claim("k") == "claimed"


def test_done_keys_expire_after_the_ttl(tmp_path):
    for store in (MemoryDeliveryStore(ttl=0.1), SQLiteDeliveryStore(tmp_path / "t.db", ttl=0.1)):
        store.claim("k")
        store.remember("k")
        time.sleep(0.15)
        assert store.claim("k") == "claimed"


def test_memory_store_is_bounded():
    store = MemoryDeliveryStore(max_entries=10)
    for i in range(50):
        store.claim(str(i))
        store.remember(str(i))
    assert store.claim("49") == "done"
    assert store.claim("0") == "claimed"


def _claim_many(path: str, keys: list[str], queue) -> None:
    store = SQLiteDeliveryStore(path)
    queue.put([k for k in keys if store.claim(k) == "claimed"])


def test_sqlite_store_gives_each_key_to_exactly_one_process(tmp_path):
    path = str(tmp_path / "shared.db")
    SQLiteDeliveryStore(path)
    keys = [f"key-{i}" for i in range(200)]
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_claim_many, args=(path, keys, queue)) for _ in range(4)]
    for w in workers:
        w.start()
    claimed = [k for _ in workers for k in queue.get(timeout=60)]
    for w in workers:
        w.join(30)
    assert sorted(claimed) == sorted(keys)
