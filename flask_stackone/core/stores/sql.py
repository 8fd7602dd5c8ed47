"""The SQL delivery store: a table in the app's own database, shared by every host.

Needs SQLAlchemy (``pip install 'flask-stackone[sql]'``, which brings psycopg for
PostgreSQL), imported here only. Works on any database SQLAlchemy speaks; PostgreSQL and
SQLite claim with one atomic upsert (``INSERT ... ON CONFLICT DO UPDATE ... WHERE``), other
databases with an insert, then an update guarded by the same condition.

Each row is a claim (with its token, until its lease lapses) or a done mark (until its
time-to-live lapses); ``expires`` says until when. On PostgreSQL the time is the database
server's, so the hosts' clocks do not matter. Rows past ``expires`` are deleted now and then.
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
#: The values a call gives; every other parameter is a constant of the statement.
OUR_PARAMETERS = ("the_key", "the_token", "the_lease", "the_ttl", "the_now")
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
        An engine built here waits at most ``timeout`` seconds to connect.
    :param table: the table's name; it is created when missing.
    :param synchronous_commit: on PostgreSQL, ``False`` (the default) lets the store's own
        writes commit without waiting for the disk, as PostgreSQL's ``synchronous_commit =
        off`` does for them alone: an app crash loses nothing; a crash of the database server
        may forget the last fraction of a second of claims and done marks, so a repeat of one
        of those deliveries would run once more. ``True``: every write waits for the disk.
    :raises StoreUnavailable: from every method while the database cannot be reached.
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
        self._engine = engine_or_url.execution_options(isolation_level="AUTOCOMMIT")
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
        self._dbapi = engine_or_url.dialect.loaded_dbapi
        self._sql: dict[str, _Statement] = {}
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
        self._select = sa.select(t.c.state).where(t.c.key == key)
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

    def _run(self, operation: Callable[[_Session], T]) -> T:
        """Run ``operation`` on a connection of the engine's pool, each statement committed
        at once; a connection the database dropped meanwhile (it restarted) is replaced once,
        then it gives up.

        The statements were compiled once for the engine's dialect, and run on the driver's
        own connection: SQLAlchemy's execution layer would cost more than the rest together.
        """
        if self._pid != os.getpid():  # a forked worker: never share the parent's sockets
            self._base.dispose(close=False)
            self._pid = os.getpid()
        for attempt in (1, 2):
            try:
                raw = self._base.raw_connection()
            except sa_errors.DBAPIError as exc:  # connecting failed: SQLAlchemy wrapped it
                raise self._unavailable(exc.orig) from exc
            except sa_errors.TimeoutError as exc:  # no pooled connection came free in time
                raise self._unavailable(exc) from exc
            except self._dbapi.Error as exc:  # connecting failed, as the driver said it
                raise self._unavailable(exc) from exc
            session = _Session(raw, self._dbapi)
            try:
                result = operation(session)
                session.commit()
                return result
            except self._dbapi.Error as exc:
                if self._base.dialect.is_disconnect(exc, raw.dbapi_connection, session.cursor):
                    raw.invalidate(exc)
                    if attempt == 1:
                        continue
                    raise self._unavailable(exc) from exc
                if isinstance(exc, (self._dbapi.OperationalError, self._dbapi.InterfaceError)):
                    raise self._unavailable(exc) from exc
                raise
            finally:
                session.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def _unavailable(self, cause: BaseException | None) -> StoreUnavailable:
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        if self._password:
            reason = reason.replace(self._password, "***")
        return StoreUnavailable(
            f"the database at {self.address} cannot be reached ({reason})", address=self.address
        )

    # -- the contract ---------------------------------------------------------------------------

    def check(self) -> None:
        """Connect now and create the table when missing; drop rows past their expiry.

        :raises StoreUnavailable: when the database cannot be reached.
        """

        try:
            with self._engine.connect() as connection:
                try:
                    self.table.create(connection, checkfirst=True)
                except sa_errors.DBAPIError as exc:  # another worker created it meanwhile
                    if exc.connection_invalidated or not sa.inspect(connection).has_table(
                        self.table.name
                    ):
                        raise
        except sa_errors.DBAPIError as exc:
            if exc.connection_invalidated or isinstance(
                exc, (sa_errors.OperationalError, sa_errors.InterfaceError)
            ):
                raise self._unavailable(exc.orig) from exc
            raise
        except sa_errors.TimeoutError as exc:
            raise self._unavailable(exc) from exc
        self._compile()
        self._run(lambda session: session.execute(self._sql["prune"], self._params()))

    def claim(self, key: str) -> ClaimResult:
        token = self._tokens.new()
        params = self._params(key=key, token=token)
        sql = self._compiled()

        def claim(session: _Session) -> ClaimResult | None:
            if self._upsert:
                taken = session.execute(sql["upsert_claim"], params).fetchone() is not None
            else:
                try:
                    taken = session.execute(sql["insert_claim"], params).rowcount > 0
                except self._dbapi.IntegrityError:
                    session.rollback()
                    taken = session.execute(sql["retake"], params).rowcount > 0
            if taken:
                return "claimed"
            row = session.execute(sql["select"], params).fetchone()
            if row is None:  # released between the two statements: try again
                return None
            return "done" if row[0] == "done" else "busy"

        while (result := self._run(claim)) is None:
            params = self._params(key=key, token=token)
        if result == "claimed":
            self._tokens.hold(key, token)
        return result

    def remember(self, key: str) -> None:
        params = self._params(key=key, token=self._tokens.take(key) or "")
        prune = next(self._remembers) % PRUNE_EVERY == 0  # now and then, not every time
        sql = self._compiled()

        def remember(session: _Session) -> None:
            if self._upsert:
                session.execute(sql["upsert_done"], params)
            elif not session.execute(sql["mark_done"], params).rowcount:
                try:
                    session.execute(sql["insert_done"], params)
                except self._dbapi.IntegrityError:  # another worker's live claim: it
                    session.rollback()  # remembers or releases for itself
            if prune:
                session.execute(sql["prune"], params)

        self._run(remember)

    def release(self, key: str) -> None:
        token = self._tokens.take(key)
        if token is not None:
            params = self._params(key=key, token=token)
            sql = self._compiled()
            self._run(lambda session: session.execute(sql["release"], params))

    # -- statements compiled once ---------------------------------------------------------------

    def _compiled(self) -> dict[str, _Statement]:
        if not self._sql:
            self._compile()
        return self._sql

    def _compile(self) -> None:
        dialect = self._base.dialect
        statements = {
            "select": self._select,
            "release": self._release,
            "prune": self._prune,
            "insert_claim": self._insert_claim,
            "insert_done": self._insert_done,
            "retake": self._retake,
            "mark_done": self._mark_done,
        }
        if self._upsert:
            statements.update(upsert_claim=self._upsert_claim, upsert_done=self._upsert_done)
        self._sql = {name: _Statement(st, dialect) for name, st in statements.items()}


class _Statement:
    """One statement compiled for one dialect: its SQL text, and how to lay out parameters
    (the driver's own style, constants bound in the statement filled in)."""

    def __init__(self, statement: Any, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.defaults = compiled.construct_params(dict.fromkeys(OUR_PARAMETERS))
        escaped = getattr(compiled, "escaped_bind_names", None) or {}
        self.names = [(name, escaped.get(name, name)) for name in self.defaults]
        self.positions = compiled.positiontup if dialect.positional else None

    def parameters(self, values: dict[str, Any]) -> Any:
        merged = {name: values.get(name, default) for name, default in self.defaults.items()}
        if self.positions is not None:
            return tuple(merged[name] for name in self.positions)
        return {escaped: merged[name] for name, escaped in self.names}


class _Session:
    """A pooled driver connection for one operation: statements committed at once
    (``autocommit`` where the driver has it, else a commit after the operation)."""

    def __init__(self, raw: Any, dbapi: Any) -> None:
        self.raw = raw
        self.cursor: Any = None
        driver = raw.driver_connection
        self._driver = driver
        self._autocommit = getattr(driver, "autocommit", None) is False  # psycopg and others
        if self._autocommit:
            driver.autocommit = True

    def execute(self, statement: _Statement, values: dict[str, Any]) -> Any:
        if self.cursor is None:
            self.cursor = self.raw.cursor()
        self.cursor.execute(statement.sql, statement.parameters(values))
        return self.cursor

    def rollback(self) -> None:
        if not self._autocommit:
            self.raw.rollback()

    def commit(self) -> None:
        if not self._autocommit:
            self.raw.commit()

    def close(self) -> None:
        try:
            if self.cursor is not None:
                self.cursor.close()
            if self._autocommit:
                self._driver.autocommit = False  # the pool's next user gets it as it was
        except Exception:  # noqa: S110 - a dead connection: the pool replaces it
            pass
        finally:
            self.raw.close()


def _create_engine(url: sa.URL, timeout: float) -> sa.Engine:
    """An engine for a URL: connecting waits at most ``timeout`` seconds on PostgreSQL."""
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = max(1, round(timeout))
    return sa.create_engine(url, connect_args=connect_args)
