"""A PostgreSQL copy of the template database lent to one test after another.

CREATE DATABASE ... TEMPLATE copies and flushes the whole template (about 10 MB with
PostgreSQL's own catalog) and DROP DATABASE removes it again: 0.3 to 1.3 s a test on
this shared machine, more than most tests take. Emptying the tables and putting back
the rows the migrations seeded takes milliseconds, and leaves a database a test cannot
tell from a fresh copy: the same rows with the same ids, sequences where the template
left them, nobody else connected.

What emptying cannot undo is a change of schema (a migration test steps down and up
again): the catalog's fingerprint is compared after every test, and a database whose
schema changed is dropped and replaced by a fresh copy. Planner statistics are not
reset either; a test about plans without them asks for a fresh copy
(`@pytest.mark.fresh_database`).
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

# Every object of the public schema and the parts of it that DDL changes, in one digest.
FINGERPRINT = """
SELECT md5(string_agg(part, ',' ORDER BY part)) FROM (
  SELECT concat_ws(':', 'c', oid, relname, relkind)
    FROM pg_class WHERE relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(':', 'a', attrelid, attnum, attname, atttypid, attnotnull, atthasdef,
                   attisdropped)
    FROM pg_attribute JOIN pg_class ON pg_class.oid = attrelid
   WHERE relnamespace = 'public'::regnamespace AND attnum > 0
  UNION ALL
  SELECT concat_ws(':', 'k', oid) FROM pg_constraint
   WHERE connamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(':', 't', pg_trigger.oid, tgenabled)
    FROM pg_trigger JOIN pg_class ON pg_class.oid = tgrelid
   WHERE relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(':', 'd', pg_attrdef.oid)
    FROM pg_attrdef JOIN pg_class ON pg_class.oid = adrelid
   WHERE relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(':', 'y', oid) FROM pg_type WHERE typnamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(':', 'p', oid) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
) AS catalog(part)
"""


def libpq(url: str) -> str:
    """A SQLAlchemy URL as psycopg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class ReusedDatabase:
    """One fresh copy (`fresh()` returns (url, drop)), reset to its first state by `reset`."""

    def __init__(self, fresh: Callable[[], tuple[str, Callable[[], None]]], admin_url: str):
        self._fresh, self._admin = fresh, libpq(admin_url)
        self._take_copy()

    def _take_copy(self) -> None:
        self.url, self._drop = self._fresh()
        with psycopg.connect(libpq(self.url)) as connection:
            self._fingerprint = _fingerprint(connection)
            self._tables = [
                name
                for (name,) in connection.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
                )
            ]
            self._seeds = {}
            for table in self._tables:
                name = sql.Identifier(table)
                if connection.execute(
                    sql.SQL("SELECT EXISTS (SELECT FROM {})").format(name)
                ).fetchone() == (True,):
                    copy_out = sql.SQL("COPY {} TO STDOUT (FORMAT BINARY)").format(name)
                    with connection.cursor().copy(copy_out) as copy:
                        self._seeds[table] = b"".join(bytes(block) for block in copy)
            self._sequences = connection.execute(
                "SELECT format('%I', sequencename), last_value FROM pg_sequences "
                "WHERE schemaname = 'public'"
            ).fetchall()

    def reset(self) -> None:
        """Back to the copy's first state: nobody connected, the seeded rows only."""
        with psycopg.connect(self._admin, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [make_url(self.url).database],
            )
        with psycopg.connect(libpq(self.url)) as connection:
            same_schema = _fingerprint(connection) == self._fingerprint
            if same_schema:
                self._empty(connection)
        if not same_schema:
            self.drop()
            self._take_copy()

    def _empty(self, connection: psycopg.Connection) -> None:
        """Every table emptied and the seeded rows put back, in one transaction."""
        # Replica mode: no foreign-key or append-only trigger fires while emptying.
        connection.execute("SET LOCAL session_replication_role = replica")
        connection.execute(
            sql.SQL("; ").join(
                sql.SQL("DELETE FROM {}").format(sql.Identifier(t)) for t in self._tables
            )
        )
        cursor = connection.cursor()
        for table, data in self._seeds.items():
            copy_in = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(sql.Identifier(table))
            with cursor.copy(copy_in) as copy:
                copy.write(data)
        for name, last_value in self._sequences:
            cursor.execute(
                "SELECT setval(%s, %s, %s)", [name, last_value or 1, last_value is not None]
            )

    def drop(self) -> None:
        self._drop()


def _fingerprint(connection: psycopg.Connection) -> str:
    row = connection.execute(FINGERPRINT).fetchone()
    assert row is not None
    return str(row[0])
