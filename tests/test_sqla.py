"""The linked-accounts store, on SQLite (through Flask-SQLAlchemy) and on a real PostgreSQL
(through a sessionmaker): every order of arrival, both sources racing, a 404 and a StackOne
outage during the fetch. StackOne is ``responses``; webhooks are really signed."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from flask_stackone.sqla import LinkedAccountMixin, LinkedAccounts, SyncResult
from flask_stackone.testing import make_event, post_event

from .conftest import API, build_app
from .servers import shared_postgres  # noqa: F401 - fixture

_tables = itertools.count()
CONFIRM_HEADERS = {"X-StackOne-Request": "1"}


def account(account_id: str = "acc_1", **fields: Any) -> dict[str, Any]:
    return {
        "id": account_id,
        "provider": "bamboohr",
        "provider_name": "BambooHR",
        "status": "active",
        "status_reasons": [],
        "origin_owner_id": "org_1",
        "origin_owner_name": "Acme Ltd",
        "label": None,
        "created_at": "2026-05-01T10:00:00Z",
        "updated_at": "2026-05-01T10:00:00Z",
        **fields,
    }


#: Event dates are recent (the webhook route refuses events older than three days).
BASE = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)


def at(step: int) -> datetime:
    """The ``step``-th moment after :data:`BASE`, a minute apart."""
    return BASE + timedelta(minutes=step)


def when(step: int) -> str:
    return at(step).isoformat().replace("+00:00", "Z")


def flask_sqlalchemy_store(app: Flask, folder: Path) -> LinkedAccounts[Any]:
    """A Flask-SQLAlchemy app on a SQLite file, as most hosts have it."""
    from flask_sqlalchemy import SQLAlchemy

    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{folder / 'host.db'}"
    db = SQLAlchemy(app)

    class LinkedAccount(LinkedAccountMixin, db.Model):  # type: ignore[name-defined, misc]
        __tablename__ = "linked_accounts"

    with app.app_context():
        db.create_all()
    return LinkedAccounts(LinkedAccount, db)


def sessionmaker_store(url: str) -> tuple[LinkedAccounts[Any], Any]:
    """A plain SQLAlchemy engine and sessionmaker, a table of this test's own."""

    class Base(DeclarativeBase):
        pass

    class LinkedAccount(LinkedAccountMixin, Base):
        __tablename__ = f"linked_accounts_{next(_tables)}"

    engine = create_engine(url, pool_size=30, max_overflow=10)
    Base.metadata.create_all(engine)
    return LinkedAccounts(LinkedAccount, sessionmaker(engine)), engine


@pytest.fixture(params=["sqlite", "postgresql"])
def host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Flask, Any]]:
    """A host app with the store connected, on each database."""
    app = build_app(STACKONE_MAX_RETRY_WAIT=0)
    if request.param == "sqlite":
        linked = flask_sqlalchemy_store(app, tmp_path)
        engine = None
    else:
        server = request.getfixturevalue("shared_postgres")
        linked, engine = sessionmaker_store(server.url)
    linked.init_app(app)
    yield app, linked
    if engine is not None:
        engine.dispose()
    else:
        with app.app_context():
            app.extensions["sqlalchemy"].engine.dispose()


def row_of(app: Flask, linked: LinkedAccounts[Any], account_id: str = "acc_1") -> Any:
    with app.app_context():
        return linked.get(account_id)


def count_rows(app: Flask, linked: LinkedAccounts[Any]) -> int:
    with app.app_context(), linked._session() as session:
        return session.scalar(select(func.count()).select_from(linked.table)) or 0


def deliver(app: Flask, event: str, step: int, account_id: str = "acc_1") -> Any:
    body = make_event(event, account_id=account_id, origin_owner_id="org_1", event_date=when(step))
    return post_event(app.test_client(), body)


def utc_of(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def test_a_duplicate_created_leaves_one_row(host, api) -> None:
    app, linked = host
    api.get(f"{API}/accounts/acc_1", json=account())
    api.get(f"{API}/accounts/acc_1", json=account(label="again"))
    assert deliver(app, "account.created", 1).status_code == 200
    # the same event again, in another body (StackOne's retry with a new sent_at)
    body = make_event("account.created", account_id="acc_1", event_date=when(1), sent_at=when(2))
    assert post_event(app.test_client(), body).status_code == 200
    row = row_of(app, linked)
    assert (row.status, row.owner_id, row.provider, row.label) == (
        "active",
        "org_1",
        "bamboohr",
        None,
    )
    assert utc_of(row.last_event_at) == at(1)
    assert count_rows(app, linked) == 1


def test_updated_before_created(host, api) -> None:
    app, linked = host
    api.get(f"{API}/accounts/acc_1", json=account(status="error"))
    api.get(f"{API}/accounts/acc_1", json=account(status="active"))
    assert deliver(app, "account.updated", 2).status_code == 200
    assert deliver(app, "account.created", 1).status_code == 200
    row = row_of(app, linked)
    assert row.status == "error"  # the older created changed nothing
    assert utc_of(row.last_event_at) == at(2)
    assert count_rows(app, linked) == 1


def test_deleted_first_then_a_late_created(host, api) -> None:
    app, linked = host
    assert deliver(app, "account.deleted", 3).status_code == 200
    api.get(f"{API}/accounts/acc_1", json=account())  # StackOne still answers: a stale replica
    assert deliver(app, "account.created", 1).status_code == 200
    row = row_of(app, linked)
    assert row.is_deleted and row.owner_id == "org_1"
    with app.app_context():
        assert linked.for_owner("org_1") == []


def test_a_late_updated_after_deleted(host, api) -> None:
    app, linked = host
    api.get(f"{API}/accounts/acc_1", json=account())
    api.get(f"{API}/accounts/acc_1", json=account(status="error"))
    assert deliver(app, "account.created", 1).status_code == 200
    assert deliver(app, "account.deleted", 2).status_code == 200
    assert deliver(app, "account.updated", 3).status_code == 200  # even a newer one
    row = row_of(app, linked)
    assert row.is_deleted and row.status == "active"
    assert count_rows(app, linked) == 1


def test_an_older_updated_after_a_newer_one(host, api) -> None:
    app, linked = host
    api.get(f"{API}/accounts/acc_1", json=account(status="active", label="new"))
    api.get(f"{API}/accounts/acc_1", json=account(status="expired", label="old"))
    assert deliver(app, "account.updated", 5).status_code == 200
    assert deliver(app, "account.updated", 4).status_code == 200
    row = row_of(app, linked)
    assert (row.status, row.label) == ("active", "new")
    assert utc_of(row.last_event_at) == at(5)


def test_long_names_and_a_date_at_the_calendars_edge_are_stored(host, api) -> None:
    app, linked = host
    long_name, long_label = "Acme " * 100, "Payroll " * 60  # past any VARCHAR(255)
    api.get(f"{API}/accounts/acc_1", json=account(origin_owner_name=long_name, label=long_label))
    body = make_event(
        "account.created",
        account_id="acc_1",
        origin_owner_id="org_1",
        event_date="9999-12-31T23:00:00-05:00",  # later than UTC can hold: no 500
        sent_at=when(1),
    )
    assert post_event(app.test_client(), body).status_code == 200
    row = row_of(app, linked)
    assert (row.owner_name, row.label) == (long_name, long_label)
    assert utc_of(row.last_event_at).year == 9999


def test_a_404_on_fetch_gives_a_tombstone_and_a_200(host, api) -> None:
    app, linked = host
    api.get(f"{API}/accounts/acc_1", json=account())
    assert deliver(app, "account.created", 1).status_code == 200
    api.get(
        f"{API}/accounts/acc_1",
        status=404,
        json={"statusCode": 404, "message": "Not found", "timestamp": when(2)},
    )
    assert deliver(app, "account.updated", 2).status_code == 200
    assert row_of(app, linked).is_deleted


def test_a_stackone_outage_answers_500_then_the_retry_applies_it(host, api) -> None:
    app, linked = host
    api.get(f"{API}/accounts/acc_1", json=account())
    assert deliver(app, "account.created", 1).status_code == 200
    down = {"statusCode": 503, "message": "Service Unavailable", "timestamp": when(2)}
    api.get(f"{API}/accounts/acc_1", status=503, json=down)
    body = make_event("account.updated", account_id="acc_1", event_date=when(2))
    assert post_event(app.test_client(), body).status_code == 500
    row = row_of(app, linked)
    assert row.status == "active"
    assert utc_of(row.last_event_at) == at(1)
    api.get(f"{API}/accounts/acc_1", json=account(status="suspended"))
    assert post_event(app.test_client(), body).status_code == 200  # StackOne's redelivery
    row = row_of(app, linked)
    assert row.status == "suspended"
    assert utc_of(row.last_event_at) == at(2)


def test_the_confirm_stores_the_verified_account(host, api) -> None:
    app, linked = host
    api.get(f"{API}/accounts/acc_1", json=account(status="error", label="Payroll"))
    response = app.test_client().post("/stackone/accounts/acc_1/confirm", headers=CONFIRM_HEADERS)
    assert response.status_code == 200
    assert len(api.calls) == 1  # the confirm's own check; the store fetched nothing more
    row = row_of(app, linked)
    assert (row.status, row.label, row.owner_name) == ("error", "Payroll", "Acme Ltd")
    with app.app_context():
        assert [r.account_id for r in linked.for_owner("org_1")] == ["acc_1"]
        assert linked.for_owner("org_2") == []


def race(app: Flask, account_id: str) -> list[tuple[str, int, str]]:
    """The page's confirm and the webhook for ``account_id``, released at once in two
    threads; the answers that were not a 200."""
    barrier = threading.Barrier(2)
    failures: list[tuple[str, int, str]] = []

    def confirm() -> None:
        client = app.test_client()
        barrier.wait()
        answer = client.post(f"/stackone/accounts/{account_id}/confirm", headers=CONFIRM_HEADERS)
        if answer.status_code != 200:
            failures.append(("confirm", answer.status_code, answer.get_data(as_text=True)))

    def webhook() -> None:
        body = make_event("account.created", account_id=account_id, event_date=when(1))
        client = app.test_client()
        barrier.wait()
        answer = post_event(client, body)
        if answer.status_code != 200:
            failures.append(("webhook", answer.status_code, answer.get_data(as_text=True)))

    threads = [threading.Thread(target=confirm), threading.Thread(target=webhook)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_confirm_and_webhook_racing_leave_one_row(host) -> None:
    app, linked = host
    rounds = 20
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        for n in range(rounds):
            api.get(f"{API}/accounts/race_{n}", json=account(f"race_{n}"))
        for n in range(rounds):
            assert race(app, f"race_{n}") == []
            row = row_of(app, linked, f"race_{n}")
            assert row is not None and row.status == "active" and not row.is_deleted
    assert count_rows(app, linked) == rounds


def test_the_portable_upsert_keeps_the_same_rules(tmp_path: Path) -> None:
    """Databases without ``ON CONFLICT``: update, else insert, retried on the unique key."""
    from flask_stackone.core.models import Account

    linked, engine = sessionmaker_store(f"sqlite:///{tmp_path / 'portable.db'}")
    with linked._session() as session:
        insert_or_update = linked._update_or_insert
        table = linked.table
        values = {"account_id": "acc_p", "owner_id": "org_1", "status": "active",
                  "status_reasons": [], "last_event_at": at(2)}  # fmt: skip

        def newer(new: Any) -> Any:
            return (table.c.deleted_at.is_(None)) & (table.c.last_event_at < new.last_event_at)

        assert insert_or_update(session, values, ["status", "last_event_at"], newer, {})
        older = {**values, "status": "error", "last_event_at": at(1)}
        assert not insert_or_update(session, older, ["status", "last_event_at"], newer, {})
        later = {**values, "status": "expired", "last_event_at": at(3)}
        assert insert_or_update(session, later, ["status", "last_event_at"], newer, {})
        session.commit()
    assert linked.get("acc_p").status == "expired"
    assert linked.tombstone("acc_p", at=at(1))
    assert not linked.store(Account.from_api(account("acc_p")), at=at(1))
    engine.dispose()


def test_sync_result_prints_its_counts() -> None:
    assert str(SyncResult(added=1, deleted=2)) == "added 1, updated 0, deleted 2, unchanged 0"


def test_the_model_must_use_the_mixin() -> None:
    with pytest.raises(TypeError, match="LinkedAccountMixin"):
        LinkedAccounts(object, None)  # type: ignore[type-var]


# -- sync against the sandbox ------------------------------------------------------------------


def seed(app: Flask, count: int, owner: str, start: int = 0) -> list[str]:
    """``count`` accounts of ``owner`` straight into the sandbox (no webhook is sent)."""
    from flask_stackone.sandbox import get_sandbox

    sandbox = get_sandbox(app)
    ids = []
    for n in range(start, start + count):
        sandbox.store.save_account(
            account(f"sbx_{owner}_{n:03d}", origin_owner_id=owner, created_at=when(n))
        )
        ids.append(f"sbx_{owner}_{n:03d}")
    return ids


@pytest.fixture(params=["sqlite", "postgresql"])
def sandboxed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Flask, Any]]:
    """A host app on the in-process sandbox, with a store on each database."""
    from flask_stackone.sandbox import stop_deliveries

    from .test_sandbox import sandbox_app

    app = sandbox_app(tmp_path)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'sync.db'}"
    else:
        url = request.getfixturevalue("shared_postgres").url
    linked, engine = sessionmaker_store(url)
    linked.init_app(app)
    yield app, linked
    stop_deliveries(app)
    engine.dispose()


def test_sync_reads_every_page_and_brings_the_table_in_line(sandboxed) -> None:
    from flask_stackone.sandbox import get_sandbox

    app, linked = sandboxed
    acme = seed(app, 60, "org_1")  # three pages of 25
    globex = seed(app, 5, "org_2")
    with app.app_context():
        assert linked.sync() == SyncResult(added=65)
        assert len(linked.for_owner("org_1")) == 60
        assert linked.sync() == SyncResult(unchanged=65)

        store = get_sandbox(app).store
        store.save_account({**store.account(acme[0]), "status": "error"})
        store.save_account({**store.account(acme[59]), "label": "Payroll"})
        store.delete_account(acme[1])
        store.delete_account(acme[30])
        seed(app, 2, "org_1", start=100)
        assert linked.sync() == SyncResult(added=2, updated=2, deleted=2, unchanged=61)
        assert linked.get(acme[0]).status == "error"
        assert linked.get(acme[59]).label == "Payroll"
        assert linked.get(acme[1]).is_deleted and linked.get(acme[30]).is_deleted
        assert linked.sync() == SyncResult(unchanged=65)  # tombstones are left alone

        store.delete_account(globex[0])
        assert linked.sync(owner_id="org_2") == SyncResult(deleted=1, unchanged=4)
        assert linked.sync(owner_id="org_2") == SyncResult(unchanged=4)
        assert len(linked.for_owner("org_1")) == 60
        assert len(linked.for_owner("org_2")) == 4


def test_sync_leaves_alone_a_row_an_event_wrote_after_it_started(sandboxed) -> None:
    from flask_stackone.core.models import Account

    app, linked = sandboxed
    with app.app_context():
        # a webhook stored this account just now, dated later than the sync's start
        future = datetime.now(timezone.utc) + timedelta(minutes=5)
        linked.store(Account.from_api(account("acc_new")), at=future)
        assert linked.sync() == SyncResult(unchanged=1)
        assert not linked.get("acc_new").is_deleted


def test_the_sync_command_prints_the_counts(sandboxed) -> None:
    app, _ = sandboxed
    seed(app, 3, "org_1")
    seed(app, 2, "org_2")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["stackone", "accounts", "sync", "--owner", "org_2"])
    assert result.exit_code == 0, result.output
    assert result.output == "Linked accounts synced: added 2, updated 0, deleted 0, unchanged 0.\n"
    result = runner.invoke(args=["stackone", "accounts", "sync"])
    assert "added 3, updated 0, deleted 0, unchanged 2" in result.output


def test_the_sync_command_without_a_store_says_so() -> None:
    from flask_stackone.sqla import sync_command

    app = build_app()
    result = app.test_cli_runner().invoke(sync_command)
    assert result.exit_code == 1
    assert "no linked-accounts store is set up on this app" in result.output
