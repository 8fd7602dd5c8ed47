"""The SQL delivery store: a table in the app's own database, shared by every host.

Needs SQLAlchemy (``pip install 'flask-stackone[sql]'``, which brings psycopg for
PostgreSQL), imported here only. Works on any database SQLAlchemy speaks; PostgreSQL and
SQLite claim with one atomic upsert (``INSERT ... ON CONFLICT DO UPDATE ... WHERE``), other
databases with an insert, then an update guarded by the same condition.

Each row is a claim (with its token, until its lease lapses) or a done mark (until its
time-to-live lapses); ``expires`` says until when. On PostgreSQL the time is the database
server's, so the hosts' clocks do not matter. Rows past ``expires`` are deleted now and then.

Statements are SQLAlchemy Core, run through the engine: its pool, its pre-ping and its
invalidation of a pool whose connections the database dropped. Every failure of the database
or its driver is a :class:`StoreUnavailable` (the webhook answers 503, never 500).
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_errors

from ..errors import StoreUnavailable
from .base import DAY, ClaimResult, ClaimTokens

T = TypeVar("T")

#: Default ports, to name an address when the URL gives none.
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433}
#: Dialects whose ``insert()`` offers ``on_conflict_do_update(where=...)``.
UPSERT_DIALECTS = ("postgresql", "sqlite")
#: Prune rows past their expiry once every this many remembers of one process.
PRUNE_EVERY = 1000


def address_of(url: sa.URL) -> str:
    """``host:port`` of a database URL (the file for SQLite), never its password."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    host = url.host or url.query.get("host") or "localhost"
    if isinstance(host, tuple):
        host = host[0]
    port = url.port or DEFAULT_PORTS.get(url.get_backend_name())
    return f"{host}:{port}" if port else str(host)


class SQLDeliveryStore:
    """A store in one table of a SQL database, shared by every worker on every host.

    :param engine_or_url: a SQLAlchemy ``Engine`` (the app's own, e.g. Flask-SQLAlchemy's
        ``db.engine``) or a database URL such as ``postgresql+psycopg://user:pw@db/app``.
        An engine built here pings each connection it takes from its pool
        (``pool_pre_ping``) and waits at most ``timeout`` seconds to connect; an engine passed
        in is used as it was configured.
    :param table: the table's name; it is created when missing.
    :param synchronous_commit: on PostgreSQL, ``False`` (the default) lets the store's own
        writes commit without waiting for the disk, as PostgreSQL's ``synchronous_commit =
        off`` does for them alone: an app crash loses nothing; a crash of the database server
        may forget the last fraction of a second of claims and done marks, so a repeat of one
        of those deliveries would run once more. ``True``: every write waits for the disk.
    :raises StoreUnavailable: from every method while the database cannot be reached or
        refuses the store's statements (read-only, no privilege, a table of another shape).
    """

    def __init__(
        self,
        engine_or_url: Any,
        *,
        table: str = "stackone_deliveries",
        ttl: float = 7 * DAY,
        lease: float = 60.0,
        timeout: float = 5.0,
        synchronous_commit: bool = False,
    ) -> None:
        self.synchronous_commit = synchronous_commit
        self._owns_engine = isinstance(engine_or_url, (str, sa.URL))
        if self._owns_engine:
            engine_or_url = _create_engine(sa.make_url(engine_or_url), timeout)
        if not isinstance(engine_or_url, sa.Engine):
            raise TypeError("SQLDeliveryStore needs a SQLAlchemy Engine or a database URL")
        self.ttl = ttl
        self.lease = lease
        self.address = address_of(engine_or_url.url)
        self._password = engine_or_url.url.password
        self._base = engine_or_url
        # each statement commits at once: an engine built here is made so; the app's own
        # engine switches for the store's checkouts alone
        self._engine = (
            engine_or_url
            if self._owns_engine
            else engine_or_url.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._pid = os.getpid()
        self._tokens = ClaimTokens()
        self._remembers = itertools.count(1)
        dialect = engine_or_url.dialect.name
        self.table = sa.Table(
            table,
            sa.MetaData(),
            sa.Column("key", sa.String(255), primary_key=True),
            sa.Column("state", sa.String(8), nullable=False),  # "claimed" or "done"
            sa.Column("token", sa.String(40)),  # the claim's, None on a done mark
            sa.Column("expires", sa.Double, nullable=False),  # seconds since the epoch
        )  # no index on ``expires``: one b-tree per write; the rare prune scans the table
        self._server_clock = dialect == "postgresql"
        self._statements(dialect)

    def __repr__(self) -> str:
        return f"<SQLDeliveryStore {self.table.name} at {self.address}>"

    def close(self) -> None:
        """Close the pooled connections of an engine the store built from a URL (an engine
        passed in is its owner's to close)."""
        if self._owns_engine:
            self._base.dispose(close=self._pid == os.getpid())

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit, modules may be gone
            self.close()

    @property
    def engine(self) -> sa.Engine:
        """The engine the store runs on."""
        return self._base

    def _statements(self, dialect: str) -> None:
        t = self.table
        now: Any = (
            sa.func.extract("epoch", sa.func.now())
            if self._server_clock
            else sa.bindparam("the_now", type_=sa.Double)
        )
        lease = sa.bindparam("the_lease", type_=sa.Double)
        ttl = sa.bindparam("the_ttl", type_=sa.Double)
        key = sa.bindparam("the_key", type_=sa.String)  # not a column's name: SQLAlchemy's own
        token = sa.bindparam("the_token", type_=sa.String)
        self._select = sa.select(t.c.state, t.c.token).where(t.c.key == key)
        self._release = sa.delete(t).where(t.c.key == key, t.c.token == token)
        self._prune = sa.delete(t).where(t.c.expires < now)
        self._insert_claim = sa.insert(t).values(
            key=key, state="claimed", token=token, expires=now + lease
        )
        self._insert_done = sa.insert(t).values(
            key=key, state="done", token=sa.null(), expires=now + ttl
        )
        #: whose rows a new claim may take: lapsed claims and done marks past their ttl
        self._claimable = t.c.expires <= now
        #: whose rows a done mark may replace: this claim, a lapsed claim, an older done mark
        self._rememberable = sa.or_(t.c.state == "done", t.c.token == token, t.c.expires <= now)
        self._retake = (
            sa.update(t)
            .where(t.c.key == key, self._claimable)
            .values(state="claimed", token=token, expires=now + lease)
        )
        self._mark_done = (
            sa.update(t)
            .where(t.c.key == key, self._rememberable)
            .values(state="done", token=sa.null(), expires=now + ttl)
        )
        self._upsert = dialect in UPSERT_DIALECTS and (
            dialect != "sqlite"  # RETURNING after an upsert: SQLite 3.35 and later
            or getattr(self._base.dialect.dbapi, "sqlite_version_info", (0,)) >= (3, 35)
        )
        if self._upsert:
            module = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
            quick = None
            if dialect == "postgresql" and not self.synchronous_commit:
                # this statement's transaction only: the app's own commits keep their setting
                quick = sa.select(
                    sa.func.set_config("synchronous_commit", "off", sa.true())
                ).subquery("quick")

            def row(**values: Any) -> Any:
                if quick is None:
                    return module.insert(t).values(**values)
                rows = sa.select(
                    *(
                        sa.cast(v, c.type) if isinstance(v, str) else v
                        for c, v in ((t.c[k], v) for k, v in values.items())
                    )
                )
                return module.insert(t).from_select(list(values), rows.select_from(quick))

            claim = row(key=key, state="claimed", token=token, expires=now + lease)
            self._upsert_claim = claim.on_conflict_do_update(
                index_elements=[t.c.key],
                set_={"state": "claimed", "token": claim.excluded.token,
                      "expires": claim.excluded.expires},
                where=self._claimable,
            ).returning(t.c.key)  # fmt: skip
            done = row(key=key, state="done", token=sa.null(), expires=now + ttl)
            self._upsert_done = done.on_conflict_do_update(
                index_elements=[t.c.key],
                set_={"state": "done", "token": sa.null(), "expires": done.excluded.expires},
                where=self._rememberable,
            )

    # -- running statements ---------------------------------------------------------------------

    def _params(self, key: str = "", token: str = "") -> dict[str, Any]:
        params: dict[str, Any] = {"the_key": key, "the_token": token}
        params.update(the_lease=self.lease, the_ttl=self.ttl)
        if not self._server_clock:
            params["the_now"] = time.time()
        return params

    def _run(self, operation: Callable[[sa.Connection], T]) -> T:
        """Run ``operation`` on a connection of the engine's pool, each statement committed
        at once.

        A connection the database dropped (a restart, a failover, an idle timeout) is found
        by the engine: by its pre-ping when it has one, else when a statement fails on it,
        and then every connection pooled before it is replaced too. The operation then runs
        once more on a new connection: each one may safely run twice.

        :raises StoreUnavailable: for any failure of the database or its driver.
        """
        if self._pid != os.getpid():  # a forked worker: never share the parent's sockets
            self._base.dispose(close=False)
            self._pid = os.getpid()
        for attempt in (1, 2):
            try:
                with self._engine.connect() as connection:
                    return operation(connection)
            except sa_errors.DBAPIError as exc:
                if exc.connection_invalidated and attempt == 1:
                    continue
                raise self._unavailable(exc) from exc
            except sa_errors.SQLAlchemyError as exc:  # no pooled connection came free in time
                raise self._unavailable(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _unavailable(self, exc: sa_errors.SQLAlchemyError) -> StoreUnavailable:
        """The failure as the route answers it (503): out of reach, or refusing the store's
        statements (read-only, no privilege, a table of another shape); never a password."""
        cause = exc.orig if isinstance(exc, sa_errors.DBAPIError) else exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        if self._password:
            reason = reason.replace(self._password, "***")
        unreachable = not isinstance(exc, sa_errors.DBAPIError) or (
            exc.connection_invalidated
            or isinstance(exc, (sa_errors.OperationalError, sa_errors.InterfaceError))
        )
        what = "cannot be reached" if unreachable else "refused the store's statement"
        return StoreUnavailable(f"the database at {self.address} {what} ({reason})",
                                address=self.address)  # fmt: skip

    # -- the contract ---------------------------------------------------------------------------

    def check(self) -> None:
        """Connect now and create the table when missing; drop rows past their expiry.

        :raises StoreUnavailable: when the database cannot be reached, or refuses the store
            (read-only, no privilege to create or write the table).
        """

        def create(connection: sa.Connection) -> None:
            try:
                self.table.create(connection, checkfirst=True)
            except sa_errors.DBAPIError as exc:  # another worker created it meanwhile
                if exc.connection_invalidated or not sa.inspect(connection).has_table(
                    self.table.name
                ):
                    raise
            connection.execute(self._prune, self._params())

        self._run(create)

    def claim(self, key: str) -> ClaimResult:
        token = self._tokens.new()

        def claim(connection: sa.Connection) -> ClaimResult | None:
            params = self._params(key=key, token=token)
            if self._upsert:
                taken = connection.execute(self._upsert_claim, params).first() is not None
            else:
                try:
                    taken = connection.execute(self._insert_claim, params).rowcount > 0
                except sa_errors.IntegrityError:
                    taken = connection.execute(self._retake, params).rowcount > 0
            if taken:
                return "claimed"
            row = connection.execute(self._select, params).first()
            if row is None:  # released between the two statements: try again
                return None
            if row.token == token:  # taken before a lost reply: the claimant's own
                return "claimed"
            return "done" if row.state == "done" else "busy"

        while (result := self._run(claim)) is None:
            pass
        if result == "claimed":
            self._tokens.hold(key, token)
        return result

    def remember(self, key: str) -> None:
        token = self._tokens.take(key) or ""
        prune = next(self._remembers) % PRUNE_EVERY == 0  # now and then, not every time

        def remember(connection: sa.Connection) -> None:
            params = self._params(key=key, token=token)
            if self._upsert:
                connection.execute(self._upsert_done, params)
            elif not connection.execute(self._mark_done, params).rowcount:
                # an IntegrityError: another worker's live claim, which it remembers or
                # releases for itself
                with contextlib.suppress(sa_errors.IntegrityError):
                    connection.execute(self._insert_done, params)
            if prune:
                connection.execute(self._prune, params)

        self._run(remember)

    def release(self, key: str) -> None:
        token = self._tokens.take(key)
        if token is not None:
            self._run(
                lambda connection: connection.execute(
                    self._release, self._params(key=key, token=token)
                )
            )


def _create_engine(url: sa.URL, timeout: float) -> sa.Engine:
    """An engine for a URL that pings each pooled connection before use and commits each
    statement at once (so a connection given back has no transaction to roll back);
    connecting waits at most ``timeout`` seconds on PostgreSQL."""
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = max(1, round(timeout))
    return sa.create_engine(
        url,
        connect_args=connect_args,
        pool_pre_ping=True,
        isolation_level="AUTOCOMMIT",
        pool_reset_on_return=None,
    )
