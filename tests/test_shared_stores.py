"""The webhook route on the Redis and SQL stores, against real servers: configured by URL or
engine, answering 503 with Retry-After while the store is down (never a 200 whose receivers did
not run, never a 500) and recovering by itself; start-up with an unreachable store names the
setting and the address, never a password."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from flask import Flask

from flask_stackone import (
    ConfigurationError,
    account_created,
    get_state,
    make_blueprint,
)
from flask_stackone.core.stores import open_store
from flask_stackone.errors import StoreUnavailable
from flask_stackone.testing import make_event, post_event

from .conftest import API_KEY, WEBHOOK_SECRET, counting_app
from .gunicorn_server import free_port
from .servers import own_postgres, own_redis, shared_postgres, shared_redis  # noqa: F401

PASSWORD = "hunter2-Pa55word"


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_a_url_gives_a_store_every_app_shares(kind: str, request: pytest.FixtureRequest) -> None:
    server = request.getfixturevalue(f"shared_{kind}")
    if kind == "redis":
        server.flush()
    first, runs_first = counting_app(server.url)
    second, runs_second = counting_app(server.url)  # another host, as far as it can tell
    body = make_event("account.created", account_id=f"acc_share_{kind}")
    assert post_event(first.test_client(), body).get_json() == {"ok": True}
    assert post_event(second.test_client(), body).get_json() == {"ok": True, "duplicate": True}
    assert runs_first == [f"acc_share_{kind}"] and runs_second == []


def test_an_engine_gives_a_sql_store(shared_postgres) -> None:  # noqa: F811
    import sqlalchemy as sa

    from flask_stackone.core.stores.sql import SQLDeliveryStore

    engine = sa.create_engine(shared_postgres.url)
    try:
        app, runs = counting_app(engine)
        store = get_state(app).delivery_store
        assert isinstance(store, SQLDeliveryStore) and store.engine is engine
        body = make_event("account.created", account_id="acc_engine")
        client = app.test_client()
        assert post_event(client, body).status_code == 200
        assert post_event(client, body).get_json() == {"ok": True, "duplicate": True}
        assert runs == ["acc_engine"]
        with engine.connect() as connection:  # the table is in the app's own database
            states = connection.execute(sa.text("SELECT state FROM stackone_deliveries")).all()
        assert ("done",) in states
    finally:
        engine.dispose()


def test_a_redis_client_gives_a_redis_store(shared_redis) -> None:  # noqa: F811
    import redis

    from flask_stackone.core.stores.redis import RedisDeliveryStore

    client = redis.Redis.from_url(shared_redis.url)
    store = open_store(client, "/nowhere", "STACKONE_DELIVERY_STORE")
    assert isinstance(store, RedisDeliveryStore) and store.redis is client
    client.close()


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_a_store_that_goes_down_answers_503_and_recovers(
    kind: str, request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue(f"own_{kind}")
    app, runs = counting_app(server.url)
    client = app.test_client()
    before, during, after = (
        make_event("account.created", account_id=f"acc_{when}") for when in ("1", "2", "3")
    )
    assert post_event(client, before).status_code == 200

    server.stop()
    for body in (during, before):
        answer = post_event(client, body)
        assert answer.status_code == 503, answer.get_data(as_text=True)
        assert answer.get_json()["error"] == "store_unavailable"
        assert int(answer.headers["Retry-After"]) > 0
        assert answer.headers["Cache-Control"] == "no-store"
    assert runs == ["acc_1"], "no receiver ran while the store was down"
    unsigned = client.post("/stackone/webhooks", data=during)
    assert unsigned.status_code == 401, "the signature is still checked first"

    server.start()  # same port: the app was not restarted
    assert post_event(client, during).get_json() == {"ok": True}
    assert post_event(client, after).get_json() == {"ok": True}
    assert post_event(client, during).get_json() == {"ok": True, "duplicate": True}
    if kind == "postgres":  # Redis ran without persistence: its done marks went with it
        assert post_event(client, before).get_json() == {"ok": True, "duplicate": True}
    assert runs == ["acc_1", "acc_2", "acc_3"]
    store = get_state(app).delivery_store
    getattr(store, "close", lambda: None)()


UNREACHABLE = {
    "redis": "redis://:{password}@127.0.0.1:{port}/0",
    "postgres": "postgresql+psycopg://app:{password}@127.0.0.1:{port}/app",
}


@pytest.mark.parametrize("kind", ["redis", "postgres"])
@pytest.mark.parametrize("prefix", ["STACKONE_", "STACKONE_EU_"])
def test_start_up_with_an_unreachable_store_names_the_setting_and_address(
    kind: str, prefix: str
) -> None:
    pytest.importorskip("redis" if kind == "redis" else "sqlalchemy")
    port = free_port()  # nothing listens there
    app = Flask("unreachable")
    app.config.update({
        f"{prefix}API_KEY": API_KEY,
        f"{prefix}WEBHOOK_SECRET": WEBHOOK_SECRET,
        f"{prefix}DELIVERY_STORE": UNREACHABLE[kind].format(password=PASSWORD, port=port),
    })  # fmt: skip
    with pytest.raises(ConfigurationError) as raised:
        app.register_blueprint(make_blueprint(config_prefix=prefix))
    message = str(raised.value)
    assert message.startswith(f"{prefix}DELIVERY_STORE")
    assert f"127.0.0.1:{port}" in message
    assert PASSWORD not in message and PASSWORD not in repr(raised.value.__cause__)


def test_a_missing_driver_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("redis", "sqlalchemy"):
        monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    for module in ("flask_stackone.core.stores.redis", "flask_stackone.core.stores.sql"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    for url, extra in (
        ("redis://cache:6379/0", "redis"),
        ("postgresql+psycopg://db/app", "sql"),
    ):
        with pytest.raises(ConfigurationError, match=rf"flask-stackone\[{extra}\]") as raised:
            open_store(url, "/nowhere", "STACKONE_DELIVERY_STORE")
        assert "STACKONE_DELIVERY_STORE" in str(raised.value)


def test_a_bad_database_url_is_refused_without_repeating_it() -> None:
    pytest.importorskip("sqlalchemy")
    with pytest.raises(ConfigurationError) as raised:
        open_store(f"nosuchdb://u:{PASSWORD}@h/d", "/nowhere", "STACKONE_DELIVERY_STORE")
    assert "STACKONE_DELIVERY_STORE" in str(raised.value)
    assert PASSWORD not in str(raised.value)


def test_the_stores_package_imports_no_driver() -> None:
    code = (
        "import sys, flask_stackone.core.stores as s, flask_stackone\n"
        "s.open_store(None, '.', 'X')\n"
        "assert not {'redis', 'sqlalchemy', 'psycopg', 'flask'} & set(sys.modules), "
        "sorted(m for m in sys.modules if m.split('.')[0] in ('redis', 'sqlalchemy', 'flask'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603


class FailingAfterClaim:
    """A store that claims, then cannot be reached for the done mark or the release."""

    def __init__(self) -> None:
        self.claimed: list[str] = []

    def claim(self, key: str) -> str:
        self.claimed.append(key)
        return "claimed"

    def remember(self, key: str) -> None:
        raise StoreUnavailable("the database at db:5432 cannot be reached", address="db:5432")

    release = remember


def test_a_store_lost_after_the_receivers_ran_still_acknowledges(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, runs = counting_app(FailingAfterClaim())
    answer = post_event(app.test_client(), make_event("account.created", account_id="acc_late"))
    assert answer.get_json() == {"ok": True}, "the receivers ran: a 503 would run them again"
    assert runs == ["acc_late"]
    assert any("handled but not remembered" in r.getMessage() for r in caplog.records)


def test_a_store_lost_before_a_release_still_answers_the_receivers_failure() -> None:
    app, _runs = counting_app(FailingAfterClaim())

    @account_created.connect_via(app, weak=False)
    def fail(sender: Flask, event: Any, **extra: Any) -> None:
        raise RuntimeError("the receiver's own database is down")

    answer = post_event(app.test_client(), make_event("account.created", account_id="acc_fail"))
    assert answer.status_code == 500
    assert answer.get_json()["error"] == "receiver_failed"
