"""Jobs the RQ hand-off test enqueues; a real ``rq worker`` process imports this module."""

from __future__ import annotations

from pathlib import Path


def import_employees(account_id: str, done_file: str) -> str:
    """Stands for slow work on a linked account: appends ``account_id`` to ``done_file``."""
    with Path(done_file).open("a", encoding="utf-8") as out:
        out.write(f"{account_id}\n")
    return account_id
