"""The SQL store against a real PostgreSQL, where databases really fail: every pooled
connection dropped while the server stays up, an idle-session timeout, a database that turns
read-only (a standby after failover), a role without privileges, a table of another shape,
and a claim whose reply was lost. Each is a working store again or a 503 (never a 500), a
``ConfigurationError`` at registration, and never a delivery run twice."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from flask_stackone import ConfigurationError, account_created, get_state
from flask_stackone.errors import StoreUnavailable
from flask_stackone.testing import make_event, post_event

from .conftest import build_app, counting_app
from .servers import own_postgres, shared_postgres  # noqa: F401 - fixtures

_tables = itertools.count()


def admin(url: str) -> Any:
    """A psycopg connection of the test's own (autocommit), outside every store's pool."""
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def drop_every_other_connection(url: str) -> int:
    """Terminate every backend but the admin's own, as a failover or a pooler restart does;
    the number terminated."""
    with admin(url) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND datname = current_database()"
        ).fetchall()
    return len(rows)


def set_system(url: str, setting: str, value: str | None) -> None:
    """``ALTER SYSTEM`` (``None``: reset), then reload: every session, new or pooled, follows."""
    with admin(url) as connection:
        if value is None:
            connection.execute(f"ALTER SYSTEM RESET {setting}")
        else:
            connection.execute(f"ALTER SYSTEM SET {setting} = '{value}'")
        connection.execute("SELECT pg_reload_conf()")
    time.sleep(0.2)  # backends read the new file at their next command; give the signal a moment


def new_store(url_or_engine: Any, **options: Any) -> Any:
    from flask_stackone.core.stores.sql import SQLDeliveryStore

    store = SQLDeliveryStore(url_or_engine, table=f"sql_test_{next(_tables)}", **options)
    store.check()
    return store


def fill_the_pool(engine: Any, size: int) -> None:
    """Check out ``size`` connections at once, then give them back: the pool keeps them."""
    connections = [engine.connect() for _ in range(size)]
    for connection in connections:
        connection.exec_driver_sql("SELECT 1")
    for connection in connections:
        connection.close()


@pytest.fixture
def read_only_reset(own_postgres) -> Iterator[Any]:  # noqa: F811
    yield own_postgres
    set_system(own_postgres.url, "default_transaction_read_only", None)


@pytest.mark.parametrize("engine_kind", ["own engine", "app engine without pre-ping"])
def test_every_pooled_connection_dropped_with_the_database_up(
    shared_postgres,  # noqa: F811
    engine_kind: str,
) -> None:
    import sqlalchemy as sa

    if engine_kind == "own engine":
        store = new_store(shared_postgres.url)
    else:  # the app's engine, as it configured it: the store leans on its invalidation
        store = new_store(sa.create_engine(shared_postgres.url, pool_size=5))
    fill_the_pool(store.engine, 5)
    assert store.engine.pool.checkedin() == 5
    assert drop_every_other_connection(shared_postgres.url) >= 5
    for i in range(3):
        assert store.claim(f"after-drop-{i}") == "claimed"
        store.remember(f"after-drop-{i}")
        assert store.claim(f"after-drop-{i}") == "done"
    store.close()
    store.engine.dispose()


def test_a_quiet_spell_past_the_idle_session_timeout_then_a_webhook_is_handled(
    own_postgres,  # noqa: F811
) -> None:
    app, runs = counting_app(own_postgres.url)
    client = app.test_client()
    assert post_event(client, make_event("account.created", account_id="acc_0")).status_code == 200
    set_system(own_postgres.url, "idle_session_timeout", "1s")
    for i in range(1, 4):
        time.sleep(1.5)  # every pooled connection is closed by the server meanwhile
        answer = post_event(client, make_event("account.created", account_id=f"acc_{i}"))
        assert answer.status_code == 200, answer.get_data(as_text=True)
    assert runs == ["acc_0", "acc_1", "acc_2", "acc_3"]
    get_state(app).delivery_store.close()


def test_a_read_only_database_answers_503_before_the_receivers(read_only_reset) -> None:
    server = read_only_reset
    app, runs = counting_app(server.url)
    set_system(server.url, "default_transaction_read_only", "on")
    client = app.test_client()
    body = make_event("account.created", account_id="acc_ro")
    answer = post_event(client, body)
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.get_json()["error"] == "store_unavailable"
    assert runs == [], "nothing ran: StackOne's retry runs it once the database is writable"
    set_system(server.url, "default_transaction_read_only", None)
    assert post_event(client, body).get_json() == {"ok": True}
    assert post_event(client, body).get_json() == {"ok": True, "duplicate": True}
    assert runs == ["acc_ro"]
    get_state(app).delivery_store.close()


def test_a_database_turning_read_only_during_the_receivers_still_acknowledges(
    read_only_reset,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = read_only_reset
    app, runs = counting_app(server.url)

    @account_created.connect_via(app, weak=False)
    def failover(sender: Flask, event: Any, **extra: Any) -> None:
        set_system(server.url, "default_transaction_read_only", "on")

    answer = post_event(app.test_client(), make_event("account.created", account_id="acc_mid"))
    assert answer.get_json() == {"ok": True}, "the receivers ran: a 5xx would run them again"
    assert runs == ["acc_mid"]
    assert any("handled but not remembered" in r.getMessage() for r in caplog.records)
    get_state(app).delivery_store.close()


def test_a_read_only_database_is_a_configuration_error_at_registration(read_only_reset) -> None:
    server = read_only_reset
    set_system(server.url, "default_transaction_read_only", "on")
    with pytest.raises(ConfigurationError, match=r"^STACKONE_DELIVERY_STORE: .*read-only"):
        build_app(STACKONE_DELIVERY_STORE=server.url)


def test_a_role_without_privileges_answers_503_and_is_refused_at_registration(
    own_postgres,  # noqa: F811
) -> None:
    from flask_stackone.core.stores.sql import SQLDeliveryStore

    owner = SQLDeliveryStore(own_postgres.url)
    owner.check()  # the table exists, owned by the app's migration role
    owner.close()
    with admin(own_postgres.url) as connection:
        connection.execute("CREATE ROLE reader LOGIN")
        connection.execute("GRANT SELECT ON stackone_deliveries TO reader")
    reader_url = own_postgres.url.replace("postgres@", "reader@")
    with pytest.raises(ConfigurationError, match=r"^STACKONE_DELIVERY_STORE: .*permission denied"):
        build_app(STACKONE_DELIVERY_STORE=reader_url)

    store = SQLDeliveryStore(reader_url)  # a running app whose grants were taken away
    with pytest.raises(StoreUnavailable, match="refused the store's statement"):
        store.claim("no-privilege")
    app, runs = counting_app(FirstCheckSkipped(store))
    answer = post_event(app.test_client(), make_event("account.created", account_id="acc_np"))
    assert answer.status_code == 503 and answer.get_json()["error"] == "store_unavailable"
    assert runs == []
    store.close()


class FirstCheckSkipped:
    """The store as an app holds it once registered: its three methods, nothing checked."""

    def __init__(self, store: Any) -> None:
        self.claim, self.remember, self.release = store.claim, store.remember, store.release


def test_a_table_of_another_shape_is_a_configuration_error(shared_postgres) -> None:  # noqa: F811
    with admin(shared_postgres.url) as connection:
        connection.execute("DROP TABLE IF EXISTS stackone_deliveries_other_shape")
        connection.execute("CREATE TABLE stackone_deliveries_other_shape (id integer)")
    from flask_stackone.core.stores.sql import SQLDeliveryStore

    store = SQLDeliveryStore(shared_postgres.url, table="stackone_deliveries_other_shape")
    with pytest.raises(StoreUnavailable, match="refused the store's statement"):
        store.check()
    with pytest.raises(StoreUnavailable, match="refused the store's statement"):
        store.claim("shape")
    store.close()


def test_a_claim_whose_reply_was_lost_is_still_the_claimants(shared_postgres) -> None:  # noqa: F811
    import psycopg
    from sqlalchemy import event

    store = new_store(shared_postgres.url)
    lost: list[str] = []

    @event.listens_for(store.engine, "after_cursor_execute")
    def lose_the_first_claims_reply(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
        if not lost and statement.startswith("INSERT"):
            lost.append(statement)  # committed by the server: only its reply is lost
            conn.connection.dbapi_connection.close()
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    assert store.claim("lost") == "claimed", "the row holds this claim's own token"
    assert lost, "the reply really was lost"
    store.remember("lost")
    assert store.claim("lost") == "done"
    store.close()


def test_threads_racing_after_every_connection_dropped_take_each_key_once(
    shared_postgres,  # noqa: F811
) -> None:
    store = new_store(shared_postgres.url)
    fill_the_pool(store.engine, 5)
    drop_every_other_connection(shared_postgres.url)
    results: list[tuple[str, str]] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(20):
            outcome = store.claim(f"race-{i}")
            with lock:
                results.append((f"race-{i}", outcome))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = sorted(key for key, outcome in results if outcome == "claimed")
    assert claimed == sorted(f"race-{i}" for i in range(20))
    store.close()
