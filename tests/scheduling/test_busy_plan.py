"""The chairs' busy time, which every booking and move reads for dozens of days at once,
is looked up by its start: an index led by the status made SQLite read every live
appointment instead, and booking a course 2.6x slower."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event

from clinic.extensions import db
from clinic.scheduling.calendar import _load_busy
from tests.scheduling.conftest import MONDAY, local


def test_busy_time_is_read_by_its_start_on_sqlite(app: Any, backend: str) -> None:
    if backend != "sqlite":
        return  # SQLite picks indexes by rule; PostgreSQL by cost, from its statistics
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM appointments" in statement:
            captured.append((statement, params))

    spans = [(local(MONDAY + timedelta(days=n), 9), local(MONDAY + timedelta(days=n), 11))
             for n in range(3)]  # fmt: skip
    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        _load_busy(spans, (1, spans[0]))
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    statement, params = captured[0]
    plan = [
        row[3]
        for row in db.session.connection().exec_driver_sql(
            f"EXPLAIN QUERY PLAN {statement}", params
        )
    ]
    reads = [line for line in plan if " appointments" in line]
    assert reads, plan
    for line in reads:
        assert line.startswith("SEARCH") and "starts_at>?" in line, plan
