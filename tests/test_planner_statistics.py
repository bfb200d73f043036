"""After a bulk load the planner knows the tables' sizes (ANALYZE), so the first page
after a demo load, an import or a migration is not planned for empty tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from clinic.extensions import db

# Planner statistics are what these tests are about: a copy nothing has analysed yet.
pytestmark = pytest.mark.fresh_database


def _planner_knows_appointments(app: Flask) -> bool:
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":
        rows = db.session.scalar(
            text("SELECT reltuples FROM pg_class WHERE relname = 'appointments'")
        )
        return rows is not None and rows > 0
    stats = db.session.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'appointments'"))
    return bool(stats)


def _forget_statistics() -> None:
    if db.engine.dialect.name == "postgresql":
        return  # a fresh clone of the template has never been analysed with data
    db.session.execute(text("DELETE FROM sqlite_stat1"))
    db.session.commit()


def test_demo_load_leaves_fresh_planner_statistics(app: Flask, runner: Any) -> None:
    _forget_statistics()
    result = runner.invoke(args=["demo", "load", "--patients", "12", "--years", "1"])
    assert result.exit_code == 0, result.output
    assert _planner_knows_appointments(app)


def test_patients_import_refreshes_planner_statistics(
    app: Flask, runner: Any, tmp_path: Path
) -> None:
    csv_file = tmp_path / "patients.csv"
    csv_file.write_text("first_name,last_name,date_of_birth\nAna,Lima,1980-02-03\n")
    result = runner.invoke(args=["patients", "import", str(csv_file)])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":
        analysed = db.session.scalar(
            text("SELECT reltuples FROM pg_class WHERE relname = 'patients'")
        )
        assert analysed is not None and analysed >= 1
    else:
        assert db.session.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'patients'"))


def test_upgrading_an_up_to_date_database_is_a_quiet_no_op(app: Flask, runner: Any) -> None:
    """The statistics refresh ends every upgrade, including one with nothing to apply
    (a release deploy runs it whether or not the release has a migration)."""
    db.session.commit()
    db.engine.dispose()
    first = runner.invoke(args=["db", "upgrade"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(args=["db", "upgrade"])
    assert again.exit_code == 0, again.output
