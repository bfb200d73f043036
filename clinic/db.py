"""The declarative base, the constraint naming convention and the UTC instant type.

Every instant is stored in UTC. SQLite has no time zones, so `UTCDateTime` re-attaches
UTC on the way out and refuses naive datetimes on the way in: a naive value is a bug
(local wall-clock times belong only at the edges: forms, templates, messages).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import (
    CheckConstraint,
    Connection,
    CursorResult,
    DateTime,
    Engine,
    MetaData,
    Result,
    event,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where an aware instant is needed")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def upsert_insert(dialect: Dialect, model: Any) -> Any:
    """An INSERT into `model` that can take ON CONFLICT (both databases have it, each
    through its own dialect's construct)."""
    return (postgresql.insert if dialect.name == "postgresql" else sqlite.insert)(model)


def rowcount(result: Result[Any]) -> int:
    """How many rows an INSERT, UPDATE or DELETE touched. `Session.execute` is typed to
    answer a plain Result, but for those statements it is a CursorResult, which counts."""
    return cast(CursorResult[Any], result).rowcount


def refresh_planner_statistics(connection: Connection) -> None:
    """ANALYZE: after a bulk load (demo data, an import, a migration) the query planner
    must know the tables' sizes, or PostgreSQL picks plans for empty tables (the day
    board went from 60 ms to 500 ms on a freshly loaded database) until autovacuum
    catches up. SQLite samples a bounded number of rows, so this stays quick."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA analysis_limit=1000")
    connection.exec_driver_sql("ANALYZE")


def one_of(column: str, values: type[StrEnum], *, name: str) -> CheckConstraint:
    """A CHECK that `column` holds one of the enum's values, so the enum is the one list
    of them (the migrations wrote the same SQL by hand)."""
    listed = ", ".join(f"'{member.value}'" for member in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


serialised_writes: ContextVar[bool] = ContextVar("serialised_writes", default=True)
"""On SQLite, whether transactions begin IMMEDIATE (the default everywhere in the app).

Tests turn it off in their own thread only, so a test that reads fixtures while the
app serves a browser does not hold the write lock the app is waiting for."""


def engine_options(url: str, options: dict[str, Any], *, pgbouncer: bool = False) -> dict[str, Any]:
    """The engine's options with what PostgreSQL connections need here: a bounded wait to
    connect (an unreachable host answers 503 in seconds, not after a hung worker), and
    no GSSAPI encryption attempt, so libpq never loads Kerberos, which is not safe across
    the fork of a gunicorn worker (set either in the URL to override).

    Behind PgBouncer in transaction mode (`CLINIC_PGBOUNCER=1`) psycopg must not prepare
    statements: the next transaction may run on another server connection, which never
    saw them (PgBouncer before 1.21 cannot track them)."""
    if not url.startswith("postgresql"):
        return options
    connect_args: dict[str, Any] = {"connect_timeout": 5, "gssencmode": "disable"}
    if pgbouncer:
        connect_args["prepare_threshold"] = None
    connect_args.update(options.get("connect_args", {}))
    return {**options, "connect_args": connect_args}


_forked_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def _drop_inherited_connections() -> None:
    for engine in list(_forked_engines):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_drop_inherited_connections)


def configure_engine(engine: Engine) -> None:
    """Every engine: a forked child (a gunicorn worker under --preload) starts with an
    empty pool instead of sharing its parent's sockets (SQLAlchemy's documented pattern:
    dispose(close=False) leaves the parent's connections alone). SQLite: see below."""
    _forked_engines.add(engine)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)


def _configure_sqlite(engine: Engine) -> None:
    """Make SQLite behave like a careful multi-user database.

    Each transaction starts with BEGIN IMMEDIATE, so a check-then-insert (is the chair
    free? then book it) is serialised across processes; WAL lets readers proceed while a
    writer works, and the busy timeout makes a second writer wait instead of failing.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if serialised_writes.get() else "BEGIN")


# PostgreSQL: serialization_failure, deadlock_detected. SQLite: its lock wait ran out, or a
# reading transaction's snapshot went stale before it could write (SQLITE_BUSY_SNAPSHOT,
# an extended code of SQLITE_BUSY): every extended code of BUSY and LOCKED.
CONTENTION_SQLSTATES = frozenset({"40001", "40P01"})
CONTENTION_SQLITE_ERRORS = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})
# PostgreSQL going away or refusing clients: admin/crash shutdown, starting up, full.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
UNAVAILABLE_SQLITE_ERRORS = frozenset({"SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL"})


def _driver_error(error: BaseException) -> BaseException | None:
    return error.orig if isinstance(error, sa_exc.DBAPIError) else None


def _sqlite_error_name(orig: BaseException) -> str | None:
    """The primary error name (SQLITE_BUSY for SQLITE_BUSY_SNAPSHOT and its kin)."""
    name = getattr(orig, "sqlite_errorname", None)
    if name is None and "database is locked" in str(orig):
        return "SQLITE_BUSY"
    return "_".join(name.split("_")[:2]) if name else None


def is_contention(error: BaseException) -> bool:
    """Two transactions got in each other's way (a deadlock, a serialisation failure,
    SQLite's busy wait ran out): the whole unit of work may simply be tried again."""
    orig = _driver_error(error)
    if orig is None:
        return False
    if isinstance(orig, sqlite3.Error):
        return _sqlite_error_name(orig) in CONTENTION_SQLITE_ERRORS
    return getattr(orig, "sqlstate", None) in CONTENTION_SQLSTATES


def is_unavailable(error: BaseException) -> bool:
    """The database cannot be reached: refused, gone mid-request, shutting down, or no
    connection free in the pool. Not a bug of ours: the answer is "try again later"."""
    if isinstance(error, sa_exc.TimeoutError):  # the pool had no connection to lend
        return True
    if not isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        return False
    if error.connection_invalidated or isinstance(error, sa_exc.InterfaceError):
        return True
    orig = error.orig
    if isinstance(orig, sqlite3.Error):
        return _sqlite_error_name(orig) in UNAVAILABLE_SQLITE_ERRORS
    state = getattr(orig, "sqlstate", None)
    if state is None:  # psycopg: no server answered (refused, closed, timed out)
        return True
    return str(state).startswith("08") or state in UNAVAILABLE_SQLSTATES


def scratch_postgres_database(
    admin_url: str, prefix: str, *, template: str | None = None
) -> tuple[str, Callable[[], None]]:
    """Create a uniquely named PostgreSQL database (a copy of `template` when given) next
    to the one `admin_url` names: (its URL, a function that drops it). The test suite
    and the benchmarks each build their own databases this way."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"

    def admin(sql: str) -> None:
        with psycopg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=url.database,
            autocommit=True,
        ) as connection:
            connection.execute(sql)

    copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
    admin(f'CREATE DATABASE "{name}"{copy}')
    return url.set(database=name).render_as_string(hide_password=False), lambda: admin(
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    )
