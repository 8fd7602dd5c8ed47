"""Alembic autogenerate on a host's model that uses the mixin, in a temporary project run
as a host runs it (the ``alembic`` command): the migration needs no hand edits, upgrades
cleanly on SQLite and on PostgreSQL, and a second autogenerate finds no difference."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .servers import shared_postgres  # noqa: F401 - fixture

pytest.importorskip("alembic")

ROOT = Path(__file__).resolve().parent.parent
_databases = itertools.count()

MODELS = """
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from flask_stackone.sqla import LinkedAccountMixin


class Base(DeclarativeBase):
    pass


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))


class LinkedAccount(LinkedAccountMixin, Base):
    __tablename__ = "linked_accounts"

    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    organisation: Mapped[Organisation | None] = relationship()
"""


def alembic(project: Path, *args: str) -> str:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "alembic", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": f"{project}{os.pathsep}{ROOT}"},
    )
    assert result.returncode == 0, f"alembic {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout + result.stderr


def new_postgres_database(url: str) -> str:
    import psycopg

    name = f"alembic_{os.getpid()}_{next(_databases)}"
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + f"/{name}"


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_autogenerate_needs_no_hand_edits(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'host.db'}"
    else:
        url = new_postgres_database(request.getfixturevalue("shared_postgres").url)
    project = tmp_path / "host"
    project.mkdir()
    (project / "models.py").write_text(MODELS, encoding="utf-8")
    alembic(project, "init", "migrations")
    ini = project / "alembic.ini"
    ini.write_text(
        ini.read_text(encoding="utf-8").replace(
            "sqlalchemy.url = driver://user:pass@localhost/dbname", f"sqlalchemy.url = {url}"
        ),
        encoding="utf-8",
    )
    env = project / "migrations" / "env.py"
    env.write_text(
        env.read_text(encoding="utf-8").replace(
            "target_metadata = None", "from models import Base\ntarget_metadata = Base.metadata"
        ),
        encoding="utf-8",
    )

    alembic(project, "revision", "--autogenerate", "-m", "linked accounts")
    [migration] = (project / "migrations" / "versions").glob("*.py")
    text = migration.read_text(encoding="utf-8")
    assert "op.create_table('linked_accounts'" in text
    assert "flask_stackone" not in text  # only SQLAlchemy's own types: nothing to import
    assert "sa.JSON()" in text and "sa.DateTime(timezone=True)" in text

    alembic(project, "upgrade", "head")
    assert "No new upgrade operations detected" in alembic(project, "check")
    alembic(project, "downgrade", "base")
    alembic(project, "upgrade", "head")
