"""The models and the migrations describe one schema, and the newest migration goes both ways.

A model changed without a migration (or a migration that drifts from the models) would
pass every other test, because the suite builds its databases from the migrations and then
uses the models: Alembic's autogenerate comparison is the check that the two agree. The
round trip (downgrade the newest revision, upgrade again) proves an operator can step back
from a release without losing the shape of the database.
"""

from __future__ import annotations

import json
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import Connection, inspect, text

from clinic.extensions import db
from clinic.models import autogenerate_compares


def _current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _catalog(connection: Connection) -> list[tuple[str, ...]]:
    """What the inspector cannot see: PostgreSQL's exclusion constraints and triggers
    (hand-written in 0001), SQLite's triggers, each as the database prints it."""
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            text(
                "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
                "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE n.nspname = 'public' "
                "UNION ALL "
                "SELECT t.tgrelid::regclass::text, t.tgname, pg_get_triggerdef(t.oid) "
                "FROM pg_trigger t WHERE NOT t.tgisinternal"
            )
        )
    else:
        rows = connection.execute(
            text("SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'trigger'")
        )
    return sorted(tuple(str(value) for value in row) for row in rows)


def _schema() -> dict[str, Any]:
    """Every table's columns, keys, indexes and checks, plus the catalog extras, in a form
    that compares equal when two databases have the same schema."""
    with db.engine.connect() as connection:
        inspector = inspect(connection)
        tables: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            tables[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                    for c in inspector.get_columns(table)
                ],
                "primary_key": inspector.get_pk_constraint(table),
                "foreign_keys": sorted(
                    inspector.get_foreign_keys(table), key=lambda fk: str(fk["name"])
                ),
                "unique": sorted(
                    inspector.get_unique_constraints(table), key=lambda uq: str(uq["name"])
                ),
                "indexes": sorted(inspector.get_indexes(table), key=lambda ix: str(ix["name"])),
                "checks": sorted(
                    (str(ck["name"]), " ".join(str(ck["sqltext"]).split()))
                    for ck in inspector.get_check_constraints(table)
                ),
            }
        schema = {"tables": tables, "catalog": _catalog(connection)}
    # Partial indexes carry their WHERE as a TextClause, which compares by identity: print
    # every value so two reflections of one schema compare equal.
    plain: dict[str, Any] = json.loads(json.dumps(schema, default=str))
    return plain


def test_models_match_the_migrations(app: Flask) -> None:
    """Autogenerate finds nothing to write. Exclusion constraints and triggers are not
    reflected by Alembic, so they cannot show up as false positives; server defaults and
    column types are compared too, and agree as they stand."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": autogenerate_compares,
            },
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_newest_migration_downgrades_and_upgrades_to_the_same_schema(app: Flask) -> None:
    head = _current_revision()
    before = _schema()

    downgrade(revision="-1")
    assert _current_revision() != head
    upgrade()

    assert _current_revision() == head
    assert _schema() == before
