"""The example app keeps its linked accounts in flask-stackone's store: a database made
before (schema version 2, accounts by organisation) moves its accounts, tombstones included,
into the store's table."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from example_app import accounts, create_app
from example_app.db import MIGRATIONS, connect, now_iso


def test_an_older_database_keeps_its_accounts(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    path = instance / "acme-people.db"
    conn = connect(str(path))
    for statements in MIGRATIONS[:2]:
        for statement in statements:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    org = conn.execute(
        "INSERT INTO organisations (owner_id, name, created_at) VALUES (?, ?, ?)",
        ("org_northwind", "Northwind Traders", now_iso()),
    ).lastrowid
    rows = [
        ("acc_1", "active", None),
        ("acc_2", "deleted", "2025-03-03T00:00:00.000000+00:00"),
    ]
    for account_id, status, deleted_at in rows:
        conn.execute(
            "INSERT INTO linked_accounts (account_id, organisation_id, provider, provider_name,"
            " status, status_reasons, label, created_at, updated_at, last_event_at, deleted_at)"
            " VALUES (?, ?, 'bamboohr', 'BambooHR', ?, ?, 'HQ', ?, ?, ?, ?)",
            (account_id, org, status, '[{"code": "x", "description": "Why"}]',
             "2025-03-01T09:00:00.000000+00:00", "2025-03-01T09:00:00.000000+00:00",
             "2025-03-02T10:00:00.000000+00:00", deleted_at),
        )  # fmt: skip
    conn.commit()
    conn.close()

    app = create_app({"TESTING": True}, instance_path=str(instance))

    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    with app.app_context():
        [listed] = accounts.list_accounts("org_northwind")
        assert listed["account_id"] == "acc_1" and listed["label"] == "HQ"
        assert listed["status_reasons"] == [{"code": "x", "description": "Why"}]
        assert listed["created_at"] == "2025-03-01T09:00:00.000000+00:00"
        gone = accounts.linked().get("acc_2")
        assert gone is not None and gone.is_deleted and gone.owner_id == "org_northwind"
        row = accounts.linked().get("acc_1")
        assert row is not None and row.owner_name == "Northwind Traders"
        assert row.last_event_at.isoformat() == "2025-03-02T10:00:00+00:00"
