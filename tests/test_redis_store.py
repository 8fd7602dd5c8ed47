"""The Redis store against a real redis-server: commands go on connections of the client's
pool (its limits hold, threads that end keep none, a forked worker never shares its
parent's), a dropped connection is replaced once, a script Redis forgot is sent again, and
whatever Redis refuses or holds at a key is a store that cannot serve (503), never a 500."""

from __future__ import annotations

import itertools
import os
import threading
from typing import Any

import pytest
from flask import Flask

from flask_stackone import ConfigurationError, account_created
from flask_stackone.core.webhooks import delivery_key
from flask_stackone.errors import StoreUnavailable
from flask_stackone.testing import make_event, post_event

from .conftest import build_app, counting_app
from .servers import own_redis, shared_redis  # noqa: F401 - fixtures

_prefixes = itertools.count()


def new_store(url_or_client: Any, **options: Any) -> Any:
    from flask_stackone.core.stores.redis import RedisDeliveryStore

    return RedisDeliveryStore(url_or_client, prefix=f"redis-test{next(_prefixes)}:", **options)


def connections_to(url: str) -> int:
    """Clients connected to the server right now, counted by the server (this one included)."""
    import redis

    with redis.Redis.from_url(url) as admin:
        return len(admin.client_list())


def one_thread_each(count: int, work: Any) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads started one after another, as a server that
    starts a thread per request does; their results in order."""
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            results[i] = work(i)
        except Exception as exc:  # reported in the results, not raised in the thread
            results[i] = exc

    for i in range(count):
        thread = threading.Thread(target=run, args=(i,))
        thread.start()
        thread.join()
    return results


def test_threads_that_end_leave_no_connection_behind(shared_redis) -> None:  # noqa: F811
    store = new_store(shared_redis.url)
    before = connections_to(shared_redis.url)
    results = one_thread_each(150, lambda i: store.claim(f"thread-{i}"))
    assert results == ["claimed"] * 150
    assert connections_to(shared_redis.url) <= before + 1, "one pooled connection, reused"


@pytest.mark.parametrize("pool_class", ["ConnectionPool", "BlockingConnectionPool"])
def test_the_apps_pool_keeps_its_limit_and_the_app_its_connections(
    shared_redis,  # noqa: F811
    pool_class: str,
) -> None:
    import redis

    pool = getattr(redis, pool_class).from_url(shared_redis.url, max_connections=2)
    client = redis.Redis(connection_pool=pool)
    store = new_store(client)
    before = connections_to(shared_redis.url)
    results = one_thread_each(40, lambda i: store.claim(f"limited-{i}"))
    assert results == ["claimed"] * 40
    assert client.ping() is True, "the store never starves the app's own Redis use"
    assert connections_to(shared_redis.url) <= before + 2
    client.close()


def test_a_restarted_redis_is_reached_again_by_the_next_claim(own_redis) -> None:  # noqa: F811
    store = new_store(own_redis.url)
    assert store.claim("before") == "claimed"
    store.remember("before")
    own_redis.stop()  # nothing sent meanwhile: the pooled connection is stale, not failed
    own_redis.start()
    assert store.claim("after") == "claimed", "the dropped connection is replaced at once"
    store.remember("after")
    assert store.claim("after") == "done"


def test_a_script_redis_forgot_is_sent_again(shared_redis) -> None:  # noqa: F811
    import redis

    store = new_store(shared_redis.url)
    assert store.claim("one") == "claimed"
    redis.Redis.from_url(shared_redis.url).script_flush()
    store.remember("one")
    assert store.claim("one") == "done"
    assert store.claim("two") == "claimed"
    redis.Redis.from_url(shared_redis.url).script_flush()
    store.release("two")
    assert store.claim("two") == "claimed", "released, though Redis had forgotten the script"


def test_a_claim_whose_answer_was_lost_is_still_the_claimants(shared_redis) -> None:  # noqa: F811
    from redis.exceptions import ConnectionError as RedisConnectionError

    store = new_store(shared_redis.url)
    pool = store.redis.connection_pool
    checkout = pool.get_connection
    lost: list[Any] = []

    def connection_that_drops_the_first_answer(*args: Any, **kwargs: Any) -> Any:
        connection = checkout(*args, **kwargs)
        read = connection.read_response

        def read_response(*args: Any, **kwargs: Any) -> Any:
            answer = read(*args, **kwargs)  # Redis ran the command: only its answer is lost
            if not lost:
                lost.append(answer)
                raise RedisConnectionError("connection reset by peer")
            return answer

        connection.read_response = read_response
        return connection

    pool.get_connection = connection_that_drops_the_first_answer
    assert store.claim("lost") == "claimed"
    assert lost == [b"OK"]
    store.remember("lost")
    assert store.claim("lost") == "done"


def test_an_app_client_that_decodes_answers_works_alike(shared_redis) -> None:  # noqa: F811
    import redis

    client = redis.Redis.from_url(shared_redis.url, decode_responses=True)
    store = new_store(client)
    other = type(store)(client, prefix=store.prefix)  # another worker, same keys
    assert store.claim("text") == "claimed"
    assert other.claim("text") == "busy"
    store.remember("text")
    assert other.claim("text") == "done"
    client.set(store.prefix + "foreign", b"\xff\xfe not text")
    assert store.claim("foreign") == "busy", "bytes that are not text: another worker's claim"
    client.close()


def test_a_key_holding_foreign_bytes_is_busy_not_an_error(shared_redis) -> None:  # noqa: F811
    import redis

    store = new_store(shared_redis.url)
    redis.Redis.from_url(shared_redis.url).set(store.prefix + "foreign", b"\xff\xfe not text")
    assert store.claim("foreign") == "busy"


def test_a_pool_with_no_connection_left_is_an_unavailable_store(shared_redis) -> None:  # noqa: F811
    import redis

    client = redis.Redis.from_url(shared_redis.url, max_connections=1)
    taken = client.connection_pool.get_connection()  # the app's own use holds the only one
    store = new_store(client)
    with pytest.raises(StoreUnavailable, match="cannot be reached"):
        store.claim("no-connection-left")
    client.connection_pool.release(taken)
    assert store.claim("no-connection-left") == "claimed"


def test_clients_the_store_cannot_serve_are_refused_when_it_is_made(shared_redis) -> None:  # noqa: F811
    import redis

    with pytest.raises(TypeError, match="Redis Cluster"):
        new_store(object())  # no connection pool: what a RedisCluster client looks like
    cache_config = pytest.importorskip("redis.cache").CacheConfig()
    caching = redis.Redis.from_url(shared_redis.url, protocol=3, cache_config=cache_config)
    with pytest.raises(TypeError, match="client-side caching"):
        new_store(caching)
    with pytest.raises(ConfigurationError, match=r"^STACKONE_DELIVERY_STORE: .*client-side"):
        build_app(STACKONE_DELIVERY_STORE=caching)


def test_a_value_of_another_type_at_the_key_answers_503(shared_redis) -> None:  # noqa: F811
    import redis

    store = new_store(shared_redis.url)
    app, runs = counting_app(store)
    body = make_event("account.created", account_id="acc_wrongtype")
    redis.Redis.from_url(shared_redis.url).hset(store.prefix + delivery_key(body), "a", "b")
    answer = post_event(app.test_client(), body)
    assert answer.status_code == 503 and answer.get_json()["error"] == "store_unavailable"
    assert runs == []


def test_redis_out_of_memory_after_the_receivers_ran_still_acknowledges(
    own_redis,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    import redis

    admin = redis.Redis.from_url(own_redis.url)
    admin.config_set("maxmemory-policy", "noeviction")
    app, runs = counting_app(new_store(own_redis.url))

    @account_created.connect_via(app, weak=False)
    def fill_redis(sender: Flask, event: Any, **extra: Any) -> None:
        admin.config_set("maxmemory", 1)  # every write refused from now on: OOM

    client = app.test_client()
    answer = post_event(client, make_event("account.created", account_id="acc_oom"))
    assert answer.get_json() == {"ok": True}, "the receivers ran: a 503 would run them again"
    assert runs == ["acc_oom"]
    assert any("handled but not remembered" in r.getMessage() for r in caplog.records)
    answer = post_event(client, make_event("account.created", account_id="acc_oom_next"))
    assert answer.status_code == 503, "a claim Redis refuses: retry later, nothing ran"
    assert runs == ["acc_oom"]
    admin.config_set("maxmemory", 0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_claims_on_connections_of_its_own(shared_redis) -> None:  # noqa: F811
    store = new_store(shared_redis.url)
    assert store.claim("parent-before") == "claimed"  # the parent's pool holds a connection
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(reader)
        try:
            ok = all(store.claim(f"child-{i}") == "claimed" for i in range(50))
        except BaseException:
            ok = False
        os.write(writer, b"1" if ok else b"0")
        os._exit(0)
    os.close(writer)
    for i in range(50):  # meanwhile, on the parent's connection
        assert store.claim(f"parent-{i}") == "claimed"
    with os.fdopen(reader, "rb") as pipe:
        assert pipe.read() == b"1", "every answer the child read was its own"
    os.waitpid(child, 0)
    assert [store.claim(f"child-{i}") for i in range(3)] == ["busy"] * 3
    store.remember("parent-before")
    assert store.claim("parent-before") == "done"


@pytest.mark.parametrize("pool_class", ["ConnectionPool", "BlockingConnectionPool"])
def test_a_pool_momentarily_full_while_a_delivery_finishes_still_records_it(
    shared_redis,  # noqa: F811
    pool_class: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import redis

    pool = getattr(redis, pool_class).from_url(shared_redis.url, max_connections=1)
    if pool_class == "BlockingConnectionPool":
        pool.timeout = 0.05  # gives up at once, as a busy pool's short wait would
    client = redis.Redis(connection_pool=pool)
    store = new_store(client)
    app, runs = counting_app(store)

    @account_created.connect_via(app, weak=False)
    def app_uses_its_only_connection(sender: Flask, event: Any, **extra: Any) -> None:
        taken = pool.get_connection()  # the app's own Redis use, finishing a moment later
        threading.Timer(0.3, pool.release, args=(taken,)).start()

    body = make_event("account.created", account_id="acc_full_pool")
    answer = post_event(app.test_client(), body)
    assert answer.get_json() == {"ok": True}
    assert not any("not remembered" in r.getMessage() for r in caplog.records)
    assert post_event(app.test_client(), body).get_json() == {"ok": True, "duplicate": True}
    assert runs == ["acc_full_pool"]
    client.close()


def test_a_read_only_redis_answers_503_before_the_receivers_and_200_after(
    own_redis,  # noqa: F811
) -> None:
    import redis

    from .gunicorn_server import free_port

    admin = redis.Redis.from_url(own_redis.url)
    app, runs = counting_app(new_store(own_redis.url))
    client = app.test_client()
    admin.replicaof("127.0.0.1", free_port())  # a failover made it a replica: READONLY
    answer = post_event(client, make_event("account.created", account_id="acc_ro"))
    assert answer.status_code == 503 and answer.get_json()["error"] == "store_unavailable"
    assert runs == []
    admin.replicaof("NO", "ONE")

    @account_created.connect_via(app, weak=False)
    def failover(sender: Flask, event: Any, **extra: Any) -> None:
        admin.replicaof("127.0.0.1", free_port())

    answer = post_event(client, make_event("account.created", account_id="acc_ro_mid"))
    assert answer.get_json() == {"ok": True}, "the receivers ran: a 5xx would run them again"
    assert runs == ["acc_ro_mid"]
    admin.replicaof("NO", "ONE")


def test_a_redis_user_without_permission_answers_503(shared_redis) -> None:  # noqa: F811
    import redis

    admin = redis.Redis.from_url(shared_redis.url)
    admin.acl_setuser("pinger", enabled=True, passwords=["+pw-pinger"], commands=["+ping"],
                      keys=["*"])  # fmt: skip
    url = shared_redis.url.replace("redis://", "redis://pinger:pw-pinger@")
    app, runs = counting_app(new_store(url))
    answer = post_event(app.test_client(), make_event("account.created", account_id="acc_np"))
    assert answer.status_code == 503 and answer.get_json()["error"] == "store_unavailable"
    assert "pw-pinger" not in answer.get_data(as_text=True)
    assert runs == []
    admin.acl_deluser("pinger")
