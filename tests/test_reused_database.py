"""The PostgreSQL copy lent to one test after another is, after a reset, one a test cannot
tell from a fresh copy of the template: no rows but the seeded ones, the same next ids,
nobody else connected; and a copy whose schema a test changed is replaced."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import PG_URL, TemplateDatabase
from tests.reused_database import ReusedDatabase, libpq

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (CLINIC_TEST_DATABASE_URL)")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemplateDatabase]:
    template = TemplateDatabase("postgresql", tmp_path_factory.mktemp("reused"))
    yield template
    template.drop()


@pytest.fixture
def reused(template: TemplateDatabase) -> Iterator[ReusedDatabase]:
    assert PG_URL
    database = ReusedDatabase(template.clone, PG_URL)
    yield database
    database.drop()


def _state(url: str) -> tuple[object, ...]:
    with psycopg.connect(libpq(url)) as connection:
        return (
            connection.execute("SELECT id, name FROM sites ORDER BY id").fetchall(),
            connection.execute("SELECT count(*) FROM devices").fetchone(),
            connection.execute("SELECT version_num FROM alembic_version").fetchall(),
        )


def _next_device_id(url: str) -> int:
    with psycopg.connect(libpq(url)) as connection:
        row = connection.execute(
            "INSERT INTO devices (site_id, name, active) "
            "VALUES ((SELECT min(id) FROM sites), 'Probe', true) RETURNING id"
        ).fetchone()
        connection.rollback()
        assert row is not None
        return int(row[0])


def test_a_reset_copy_has_the_seeded_rows_the_next_ids_and_no_one_connected(
    reused: ReusedDatabase,
) -> None:
    fresh_state, url = _state(reused.url), reused.url
    first_id = _next_device_id(url)  # a rolled-back insert still spends an id
    with psycopg.connect(libpq(url)) as connection:
        connection.execute(
            "INSERT INTO sites (name, timezone, holidays) VALUES ('Annex', 'UTC', 'none')"
        )
        connection.execute(
            "INSERT INTO devices (site_id, name, active) "
            "VALUES ((SELECT min(id) FROM sites), 'Chair 9', true)"
        )
    left_open = psycopg.connect(libpq(url))
    left_open.execute("SELECT 1")  # a test's connection it forgot to close, in a transaction

    reused.reset()

    assert reused.url == url
    assert _state(url) == fresh_state
    assert _next_device_id(url) == first_id
    assert left_open.closed or left_open.broken or _gone(left_open)


def _gone(connection: psycopg.Connection) -> bool:
    try:
        connection.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


def test_a_copy_whose_schema_changed_is_replaced(reused: ReusedDatabase) -> None:
    before = reused.url
    with psycopg.connect(libpq(before)) as connection:
        connection.execute("ALTER TABLE devices ADD COLUMN colour text")

    reused.reset()

    assert reused.url != before
    with psycopg.connect(libpq(reused.url)) as connection:
        columns = connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'devices'"
        ).fetchall()
    assert ("colour",) not in columns
    with psycopg.connect(libpq(PG_URL or "")) as admin:
        name = before.rsplit("/", 1)[1]
        assert (
            admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None
        )
