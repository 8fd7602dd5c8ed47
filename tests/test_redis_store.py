"""The Redis store's own connections, against a real redis-server: each thread sends on a
connection of its own (a forked worker never shares its parent's), a connection Redis dropped
is replaced once, a script Redis forgot is sent again, and an app's client that decodes
answers to text works alike."""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest

from .servers import own_redis, shared_redis  # noqa: F401 - fixtures

_prefixes = itertools.count()


def new_store(url_or_client: Any, **options: Any) -> Any:
    from flask_stackone.core.stores.redis import RedisDeliveryStore

    return RedisDeliveryStore(url_or_client, prefix=f"redis-test{next(_prefixes)}:", **options)


def test_a_restarted_redis_is_reached_again_by_the_next_claim(own_redis) -> None:  # noqa: F811
    store = new_store(own_redis.url)
    assert store.claim("before") == "claimed"
    store.remember("before")
    own_redis.stop()  # nothing sent meanwhile: the store's connection is stale, not failed
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
    store.check()
    connection = store._connection()
    read = connection.read_response
    lost = []

    def drop_first_answer(*args: Any, **kwargs: Any) -> Any:
        answer = read(*args, **kwargs)  # Redis ran the SET: only its answer is lost
        if not lost:
            lost.append(answer)
            raise RedisConnectionError("connection reset by peer")
        return answer

    connection.read_response = drop_first_answer
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
    client.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_uses_a_connection_of_its_own(shared_redis) -> None:  # noqa: F811
    store = new_store(shared_redis.url)
    assert store.claim("parent-before") == "claimed"
    parent_connection = store._connection()
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(reader)
        try:
            ok = store._connection() is not parent_connection and all(
                store.claim(f"child-{i}") == "claimed" for i in range(50)
            )
        except BaseException:
            ok = False
        os.write(writer, b"1" if ok else b"0")
        os._exit(0)
    os.close(writer)
    for i in range(50):  # meanwhile, on the parent's connection
        assert store.claim(f"parent-{i}") == "claimed"
    with os.fdopen(reader, "rb") as pipe:
        assert pipe.read() == b"1", "the child claimed on a connection of its own"
    os.waitpid(child, 0)
    assert store._connection() is parent_connection
    assert [store.claim(f"child-{i}") for i in range(3)] == ["busy"] * 3
    store.remember("parent-before")
    assert store.claim("parent-before") == "done"


def test_a_pool_with_no_connection_left_is_an_unavailable_store(shared_redis) -> None:  # noqa: F811
    import redis

    from flask_stackone import StoreUnavailable

    client = redis.Redis.from_url(shared_redis.url, max_connections=1)
    taken = client.connection_pool.make_connection()  # the app's own use holds the only one
    store = new_store(client)
    with pytest.raises(StoreUnavailable, match="cannot be reached"):
        store.claim("no-connection-left")
    taken.disconnect()


def test_a_key_holding_foreign_bytes_is_busy_not_an_error(shared_redis) -> None:  # noqa: F811
    import redis

    store = new_store(shared_redis.url)
    redis.Redis.from_url(shared_redis.url).set(store.prefix + "foreign", b"\xff\xfe not text")
    assert store.claim("foreign") == "busy"
