"""Delivery stores: claim / remember / release, in memory, in SQLite across processes, and on
real Redis and PostgreSQL servers (the same contract for each)."""

from __future__ import annotations

import itertools
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from flask_stackone import MemoryDeliveryStore, SQLiteDeliveryStore

from .servers import shared_postgres, shared_redis  # noqa: F401 - fixtures

STORES = ["memory", "sqlite", "redis", "postgres", "sqlalchemy-sqlite", "sqlalchemy-generic"]
_names = itertools.count()


@pytest.fixture(params=STORES)
def make_store(request, tmp_path):
    """A factory of handles on one store: in memory, the one object (two threads are two
    workers); elsewhere, a new handle on the same file, Redis keys or table each time
    (another process, another host)."""
    kind = request.param
    if kind == "memory":
        shared = {}

        def memory(ttl=60, lease=0.3):
            return shared.setdefault("store", MemoryDeliveryStore(ttl=ttl, lease=lease))

        return memory
    if kind == "sqlite":
        return lambda ttl=60, lease=0.3: SQLiteDeliveryStore(
            tmp_path / "sub" / "d.db", ttl=ttl, lease=lease
        )
    if kind == "redis":
        from flask_stackone.core.stores.redis import RedisDeliveryStore

        server = request.getfixturevalue("shared_redis")
        prefix = f"test{next(_names)}:"
        return lambda ttl=60, lease=0.3: RedisDeliveryStore(
            server.url, prefix=prefix, ttl=ttl, lease=lease
        )
    from flask_stackone.core.stores.sql import SQLDeliveryStore

    if kind == "postgres":
        url = request.getfixturevalue("shared_postgres").url
    else:  # SQLAlchemy on a SQLite file: its upsert, or what other databases get
        pytest.importorskip("sqlalchemy")
        url = f"sqlite:///{tmp_path / 'sa.db'}"
    table = f"deliveries_{next(_names)}"

    def postgres(ttl=60, lease=0.3):
        store = SQLDeliveryStore(url, table=table, ttl=ttl, lease=lease)
        if kind == "sqlalchemy-generic":
            store._upsert = False  # insert, then a guarded update: MySQL, SQL Server...
        store.check()
        request.addfinalizer(store.close)
        return store

    return postgres


@pytest.fixture
def store(make_store):
    return make_store()


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


def test_done_marks_expire_after_the_ttl_in_every_store(make_store):
    store = make_store(ttl=0.3)
    assert store.claim("k") == "claimed"
    store.remember("k")
    assert store.claim("k") == "done"
    time.sleep(0.4)
    assert store.claim("k") == "claimed"


def test_a_claim_is_the_claimants_own(make_store):
    """Worker A's lease ran out and worker B claimed the delivery: whatever A does then
    (release after a failure, remember after a success) leaves B's claim alone."""
    lease = 1.0  # long enough for the checks below to run within B's lease on a busy machine
    a, b = make_store(lease=lease), make_store(lease=lease)
    with ThreadPoolExecutor(1) as thread_a, ThreadPoolExecutor(1) as thread_b:

        def as_a(method, key):
            return thread_a.submit(getattr(a, method), key).result()

        def as_b(method, key):
            return thread_b.submit(getattr(b, method), key).result()

        def seen(key):
            return store_state(make_store(lease=lease), key)

        assert as_a("claim", "k") == "claimed"
        assert as_a("claim", "j") == "claimed"
        time.sleep(lease + 0.05)  # A's leases lapse
        assert as_b("claim", "k") == "claimed"
        assert as_b("claim", "j") == "claimed"
        as_a("release", "k")
        assert seen("k") == "busy", "A released B's claim"
        as_a("remember", "k")
        assert seen("k") == "busy", "A overwrote B's claim"
        as_b("release", "k")
        assert seen("k") == "claimed", "B could not release its own claim"

        as_a("remember", "j")
        as_b("remember", "j")
        assert seen("j") == "done"


def store_state(store, key):
    """What a third worker is told about ``key`` (releasing again what it claims)."""
    with ThreadPoolExecutor(1) as thread:
        state = thread.submit(store.claim, key).result()
        if state == "claimed":
            thread.submit(store.release, key).result()
    return state


def test_a_lapsed_claimant_remembers_a_delivery_nobody_took_since(store):
    assert store.claim("k") == "claimed"
    time.sleep(0.35)
    store.remember("k")  # its receivers did run
    assert store.claim("k") == "done"


def test_release_without_a_claim_changes_nothing(store):
    store.release("never-claimed")
    assert store.claim("k") == "claimed"
    with ThreadPoolExecutor(1) as other:
        other.submit(store.release, "k").result()  # another thread holds no claim on it
    assert store.claim("k") == "busy"


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


def _claim_many_on(kind: str, url: str, name: str, keys: list[str], queue) -> None:
    if kind == "redis":
        from flask_stackone.core.stores.redis import RedisDeliveryStore

        store = RedisDeliveryStore(url, prefix=name)
    else:
        from flask_stackone.core.stores.sql import SQLDeliveryStore

        store = SQLDeliveryStore(url, table=name)
    queue.put([k for k in keys if store.claim(k) == "claimed"])
    if kind != "redis":
        store.close()


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_a_shared_server_gives_each_key_to_exactly_one_process(kind, request):
    server = request.getfixturevalue(f"shared_{kind}")
    name = f"race_{next(_names)}"
    if kind == "postgres":
        from flask_stackone.core.stores.sql import SQLDeliveryStore

        first = SQLDeliveryStore(server.url, table=name)
        first.check()  # the table, before the race
        first.close()
    keys = [f"key-{i}" for i in range(300)]
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers = [
        ctx.Process(target=_claim_many_on, args=(kind, server.url, name, keys, queue))
        for _ in range(4)
    ]
    for w in workers:
        w.start()
    claimed = [k for _ in workers for k in queue.get(timeout=60)]
    for w in workers:
        w.join(30)
    assert sorted(claimed) == sorted(keys)
