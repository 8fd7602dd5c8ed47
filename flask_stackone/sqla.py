"""Linked accounts in the host's own database, kept right by the account signals.

:class:`LinkedAccountMixin` gives the host's SQLAlchemy model its columns;
:class:`LinkedAccounts` reads and writes it::

    class LinkedAccount(LinkedAccountMixin, db.Model):
        __tablename__ = "linked_accounts"

    linked = LinkedAccounts(LinkedAccount, db)   # Flask-SQLAlchemy, a Session, a sessionmaker
    linked.init_app(app)                         # or an Engine

The rules every write follows: an account is stored as StackOne has it now (a webhook
carries no status, so it is fetched; the page's confirm carries the verified account); an
event older than the last one applied changes nothing; a deletion leaves a tombstone that
no later event revives; a fetch answered 404 counts as a deletion. Each write is one
``INSERT ... ON CONFLICT`` statement (SQLite, PostgreSQL) or an update-then-insert that
retries on the unique key (other databases), so two writers racing for one account leave
one row. Needs the ``[sql]`` extra (SQLAlchemy 2).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar, cast

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import (
    JSON,
    CursorResult,
    DateTime,
    Engine,
    String,
    Table,
    Text,
    and_,
    case,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, scoped_session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from . import signals
from .core.errors import ConfigurationError, NotFoundError, StackOneError
from .core.models import Account, AccountEvent, StatusReason
from .services.account_store import register_store, registered_stores
from .services.state import get_client, get_state

log = logging.getLogger("flask_stackone")

#: The columns an account event writes (``account_id`` is the key, never updated).
ACCOUNT_COLUMNS = ("owner_id", "owner_name", "provider", "provider_name", "status",
                   "status_reasons", "label", "created_at", "updated_at")  # fmt: skip


class LinkedAccountMixin:
    """The columns of a linked account, for the host's own model (which may add columns and
    relationships). ``created_at`` and ``updated_at`` are StackOne's times;
    ``last_event_at`` is the time of the newest event applied; ``deleted_at`` is set on the
    tombstone a deletion leaves."""

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128), unique=True)
    owner_id: Mapped[str | None] = mapped_column(String(255), index=True)
    owner_name: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(String(100))
    provider_name: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(50))
    status_reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def is_deleted(self) -> bool:
        """True for a tombstone: the account was disconnected."""
        return self.deleted_at is not None

    @property
    def is_active(self) -> bool:
        """True when StackOne says the account can be used (and it is not deleted)."""
        return self.status == "active" and self.deleted_at is None

    def as_account(self) -> Account:
        """The stored account as the client's :class:`~flask_stackone.core.models.Account`."""
        return Account(
            id=self.account_id,
            provider=self.provider,
            provider_name=self.provider_name,
            status=self.status,
            status_reasons=tuple(
                StatusReason(
                    code=reason.get("code"),
                    description=reason.get("description"),
                    timestamp=reason.get("timestamp"),
                )
                for reason in self.status_reasons or ()
            ),
            origin_owner_id=self.owner_id,
            origin_owner_name=self.owner_name,
            label=self.label,
            created_at=utc(self.created_at),
            updated_at=utc(self.updated_at),
        )


M = TypeVar("M", bound=LinkedAccountMixin)


@dataclass(frozen=True)
class SyncResult:
    """What :meth:`LinkedAccounts.sync` changed: accounts ``added``, ``updated`` (a field
    such as the status differed), ``deleted`` (gone from StackOne: tombstoned) and
    ``unchanged``."""

    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return (
            f"added {self.added}, updated {self.updated}, deleted {self.deleted}, "
            f"unchanged {self.unchanged}"
        )


def utc(moment: datetime | None) -> datetime | None:
    """``moment`` in UTC, aware; a naive value (SQLite gives them back) is taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # a time with an offset at the very edge of the calendar
        edge = datetime.min if moment.year == 1 else datetime.max
        return edge.replace(tzinfo=timezone.utc)


def now() -> datetime:
    return datetime.now(timezone.utc)


def account_values(account: Account) -> dict[str, Any]:
    """The stored form of ``account``'s fields (:data:`ACCOUNT_COLUMNS`)."""
    return {
        "owner_id": account.origin_owner_id,
        "owner_name": account.origin_owner_name,
        "provider": account.provider,
        "provider_name": account.provider_name,
        "status": account.status,
        "status_reasons": [
            {"code": r.code, "description": r.description, "timestamp": r.timestamp}
            for r in account.status_reasons
        ],
        "label": account.label,
        "created_at": utc(account.created_at),
        "updated_at": utc(account.updated_at),
    }


def differs(row: LinkedAccountMixin, account: Account) -> bool:
    """True when the stored ``row`` is not what StackOne says of ``account``."""
    for name, value in account_values(account).items():
        stored = getattr(row, name)
        if isinstance(stored, datetime) or isinstance(value, datetime):
            stored, value = utc(stored), utc(value)
        if stored != value:
            return True
    return False


class LinkedAccounts(Generic[M]):
    """The store: the account signals keep ``model``'s table right, :meth:`sync` reconciles
    it with StackOne.

    :param model: the host's model, a subclass of :class:`LinkedAccountMixin`.
    :param db: Flask-SQLAlchemy's ``SQLAlchemy`` object, a ``Session`` or
        ``scoped_session`` (used as it is, and committed after each write), a
        ``sessionmaker`` or an ``Engine`` (a new session for each call).
    :param blueprint: the registered name of the StackOne blueprint whose client fetches.
    """

    def __init__(self, model: type[M], db: object, *, blueprint: str = "stackone") -> None:
        if not (isinstance(model, type) and issubclass(model, LinkedAccountMixin)):
            raise TypeError("model must be a subclass of LinkedAccountMixin")
        self.model = model
        self.db = db
        self.blueprint = blueprint

    def __repr__(self) -> str:
        return f"<LinkedAccounts {self.model.__name__} blueprint={self.blueprint!r}>"

    @property
    def table(self) -> Table:
        return self.model.__table__  # type: ignore[attr-defined, no-any-return]

    # -- wiring --------------------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        """Connect the store to ``app``'s account signals, make it the source of the accounts
        panel's rows, and add ``flask <blueprint> accounts sync``. Register the StackOne
        blueprint first.

        :raises NotRegisteredError: the blueprint is not registered on ``app``.
        """
        state = get_state(app, self.blueprint)
        register_store(app, state.name, self)
        for signal in (signals.account_created, signals.account_updated, signals.account_deleted):
            signal.connect(self.receive, app, weak=False)
        blueprint = app.blueprints.get(state.name)
        group = blueprint.cli.commands.get("accounts") if blueprint is not None else None
        if isinstance(group, click.Group):
            group.add_command(sync_command)

    def receive(self, sender: Flask, event: AccountEvent, **extra: Any) -> None:
        """The account signals' receiver: :meth:`apply_event` (failures raise, so a webhook
        is answered 500 and delivered again)."""
        self.apply_event(event, app=sender)

    # -- writes --------------------------------------------------------------------------

    def apply_event(self, event: AccountEvent, *, app: Flask | None = None) -> bool:
        """Apply one account event, from either source, in any order.

        :returns: ``True`` when the table changed (``False``: stale, repeated, or the
            account is already deleted).
        :raises StackOneError: StackOne failed while fetching the account (not a 404):
            raised again so the webhook answers 500 and StackOne delivers it again.
        """
        if not event.account_id:
            return False
        at = utc(event.event_date) or now()
        if event.type == "account.deleted":
            return self.tombstone(
                event.account_id, at=at, owner_id=event.owner_id, provider=event.provider
            )
        try:
            account = self._account_of(event, app)
        except NotFoundError:
            log.info("account %s is gone at StackOne: stored as deleted", event.account_id)
            return self.tombstone(
                event.account_id, at=at, owner_id=event.owner_id, provider=event.provider
            )
        return self.store(account, at=at)

    def _account_of(self, event: AccountEvent, app: Flask | None) -> Account:
        """The account as StackOne has it: the confirm's verified copy, or fetched."""
        raw = event.raw
        if event.source != "webhook" and raw.get("id") == event.account_id and "status" in raw:
            return Account.from_api(raw)
        assert event.account_id is not None
        return get_client(app, self.blueprint).get_account(event.account_id)

    def store(self, account: Account, *, at: datetime) -> bool:
        """Upsert ``account`` as of event time ``at``.

        :returns: ``True`` when written; ``False`` when the stored row is as new or newer,
            or is a tombstone.
        """
        at = utc(at) or now()
        values = {"account_id": account.id, **account_values(account), "last_event_at": at}
        table = self.table

        def newer(new: Any) -> ColumnElement[bool]:
            return and_(table.c.deleted_at.is_(None), table.c.last_event_at < new.last_event_at)

        changes = [*ACCOUNT_COLUMNS, "last_event_at"]
        return self._upsert(values, changes, newer)

    def tombstone(
        self,
        account_id: str,
        *,
        at: datetime,
        owner_id: str | None = None,
        provider: str | None = None,
    ) -> bool:
        """Mark ``account_id`` deleted, whatever ``at`` (a deletion is final); a row is
        created for an account never seen, so a late ``account.created`` cannot add it.

        :returns: ``True`` when written; ``False`` when it already was a tombstone.
        """
        at = utc(at) or now()
        values: dict[str, Any] = {
            "account_id": account_id,
            "owner_id": owner_id,
            "provider": provider,
            "status_reasons": [],
            "last_event_at": at,
            "deleted_at": now(),
        }
        table = self.table

        def alive(new: Any) -> ColumnElement[bool]:
            return table.c.deleted_at.is_(None)

        latest = {
            "last_event_at": lambda new: case(
                (table.c.last_event_at > new.last_event_at, table.c.last_event_at),
                else_=new.last_event_at,
            )
        }
        return self._upsert(values, ["deleted_at"], alive, computed=latest)

    def _upsert(
        self,
        values: dict[str, Any],
        changes: list[str],
        when: Any,
        computed: dict[str, Any] | None = None,
    ) -> bool:
        """Insert ``values``, or on the same ``account_id`` set ``changes`` (and
        ``computed``, each a function of the new values) where ``when(new)`` holds."""
        table = self.table
        with self._session() as session:
            dialect = session.get_bind(self.model).dialect.name
            if dialect in ("sqlite", "postgresql"):
                module = sqlite if dialect == "sqlite" else postgresql
                statement = module.insert(table).values(values)
                new = statement.excluded
                assignments = {name: new[name] for name in changes}
                assignments.update({k: f(new) for k, f in (computed or {}).items()})
                statement = statement.on_conflict_do_update(
                    index_elements=[table.c.account_id], set_=assignments, where=when(new)
                )
                written = self._wrote(session, statement)
            else:
                written = self._update_or_insert(session, values, changes, when, computed or {})
            session.commit()
        return written

    def _wrote(self, session: Session, statement: Any) -> bool:
        """Run an INSERT or UPDATE; ``True`` when it wrote a row. Asks with ``RETURNING``
        where the database has it (some drivers report no row count for an upsert)."""
        dialect = session.get_bind(self.model).dialect
        if dialect.update_returning and dialect.insert_returning:
            return session.execute(statement.returning(self.table.c.id)).first() is not None
        return bool(cast("CursorResult[Any]", session.execute(statement)).rowcount)

    def _update_or_insert(
        self,
        session: Session,
        values: dict[str, Any],
        changes: list[str],
        when: Any,
        computed: dict[str, Any],
    ) -> bool:
        """The portable upsert: update where ``when``; else insert; a unique-key conflict
        (another writer inserted first) means the update is tried once more."""
        table = self.table
        new = _Values(table, values)
        assignments = {name: values[name] for name in changes}
        assignments.update({k: f(new) for k, f in computed.items()})
        update = (
            sql_update(table)
            .where(table.c.account_id == values["account_id"], when(new))
            .values(assignments)
        )
        if self._wrote(session, update):
            return True
        present = select(table.c.id).where(table.c.account_id == values["account_id"])
        if session.execute(present).first() is not None:
            return False
        try:
            with session.begin_nested():
                session.execute(insert(table).values(values))
        except IntegrityError:
            return self._wrote(session, update)
        return True

    # -- reads ---------------------------------------------------------------------------

    def for_owner(self, owner_id: str) -> list[M]:
        """The owner's accounts, oldest first; tombstones left out."""
        query = (
            select(self.model)
            .where(self.model.owner_id == owner_id, self.model.deleted_at.is_(None))
            .order_by(self.model.created_at, self.model.account_id)
        )
        with self._session() as session:
            return list(session.scalars(query.execution_options(populate_existing=True)))

    def owner_accounts(self, owner_id: str) -> list[Account]:
        """The owner's accounts as :class:`~flask_stackone.core.models.Account` values (what
        the accounts panel shows), tombstones left out."""
        return [row.as_account() for row in self.for_owner(owner_id)]

    def get(self, account_id: str) -> M | None:
        """The row of ``account_id``, a tombstone included (see ``is_deleted``), or ``None``."""
        query = select(self.model).where(self.model.account_id == account_id)
        with self._session() as session:
            return session.scalars(query.execution_options(populate_existing=True)).first()

    # -- reconciliation ------------------------------------------------------------------

    def sync(self, owner_id: str | None = None, *, app: Flask | None = None) -> SyncResult:
        """Bring the table in line with StackOne's ``GET /accounts`` (every page, one owner's
        or all): accounts added, changed ones updated, those gone tombstoned. Idempotent,
        and safe while webhooks arrive: a row an event wrote after the sync started is left
        alone. Run it in an app context (or pass ``app``).

        :returns: the counts. :raises StackOneError: StackOne failed (nothing is tombstoned).
        """
        started = now()
        client = get_client(app, self.blueprint)
        listed = {
            account.id: account
            for account in client.iter_accounts(owner_id=owner_id)
            if owner_id is None or account.origin_owner_id == owner_id
        }
        query = select(self.model)
        if owner_id is not None:
            query = query.where(self.model.owner_id == owner_id)
        with self._session() as session:
            # each stored account: True to leave it alone (a tombstone, or the same as
            # StackOne's), False when it differs from StackOne's or is not listed any more
            stored = {
                row.account_id: row.is_deleted
                or (row.account_id in listed and not differs(row, listed[row.account_id]))
                for row in session.scalars(query)
            }
        counts = {"added": 0, "updated": 0, "deleted": 0, "unchanged": 0}
        for account in listed.values():
            settled = stored.get(account.id)
            if settled:
                counts["unchanged"] += 1
            elif self.store(account, at=started):
                counts["added" if settled is None else "updated"] += 1
            else:
                counts["unchanged"] += 1
        gone = [id for id, settled in stored.items() if not settled and id not in listed]
        for account_id in gone:
            counts["deleted" if self._tombstone_before(account_id, started) else "unchanged"] += 1
        return SyncResult(**counts)

    def _tombstone_before(self, account_id: str, started: datetime) -> bool:
        """Tombstone a row no event has written since ``started``."""
        table = self.table
        statement = (
            sql_update(table)
            .where(
                table.c.account_id == account_id,
                table.c.deleted_at.is_(None),
                or_(table.c.last_event_at.is_(None), table.c.last_event_at < started),
            )
            .values(deleted_at=now())
        )
        with self._session() as session:
            written = self._wrote(session, statement)
            session.commit()
        return written

    # -- sessions ------------------------------------------------------------------------

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """The host's session (left open), or a new one from its factory or engine."""
        db = self.db
        if isinstance(db, (sessionmaker, Engine)):
            with db() if isinstance(db, sessionmaker) else Session(db) as session:
                yield session
        elif isinstance(db, (Session, scoped_session)):
            yield db  # type: ignore[misc]
        elif isinstance(getattr(db, "session", None), scoped_session):  # Flask-SQLAlchemy
            yield db.session  # type: ignore[attr-defined]
        else:
            raise ConfigurationError(
                "LinkedAccounts needs Flask-SQLAlchemy's db, a Session, a sessionmaker or an "
                f"Engine, not {type(db).__name__}"
            )


class _Values:
    """The new values of a portable upsert, reachable as ``new.column`` like ``excluded``."""

    def __init__(self, table: Table, values: dict[str, Any]) -> None:
        self._table = table
        self._values = values

    def __getattr__(self, name: str) -> Any:
        return literal(self._values[name], self._table.c[name].type)


def store_for(app: Flask, blueprint: str = "stackone") -> LinkedAccounts[Any] | None:
    """The store :meth:`LinkedAccounts.init_app` set up on ``app`` for ``blueprint``."""
    stores = {
        name: store
        for name, store in registered_stores(app).items()
        if isinstance(store, LinkedAccounts)
    }
    if blueprint in stores:
        return stores[blueprint]
    found = [s for s in stores.values() if s.blueprint == blueprint]
    return found[0] if len(found) == 1 else None


@click.command("sync")
@click.option("--owner", "owner_id", help="Only this customer's accounts (its owner id).")
@with_appcontext
def sync_command(owner_id: str | None) -> None:
    """Reconcile the stored linked accounts with StackOne and print the counts."""
    context = click.get_current_context()
    blueprint_group = context.parent.parent if context.parent else None
    name = blueprint_group.info_name if blueprint_group is not None else None
    store = store_for(current_app, name or "stackone")
    if store is None:
        raise click.ClickException("no linked-accounts store is set up on this app")
    try:
        result = store.sync(owner_id)
    except StackOneError as exc:
        raise click.ClickException(f"StackOne call failed: {exc}") from None
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Linked accounts synced: {result}.")
