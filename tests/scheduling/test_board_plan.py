"""The board's "session n of N" on PostgreSQL before anything analysed the tables (a fresh
load, an import, a migration): its count per row must not go through an exclusion
constraint's partial index, which holds every live session of the clinic."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from clinic.extensions import db
from clinic.scheduling import schedule
from clinic.scheduling.models import Device
from tests.conftest import PG_URL
from tests.factories import make_appointment, make_course, make_patient
from tests.scheduling.conftest import MONDAY, local

# Planner statistics are what these tests are about: a copy nothing has analysed yet.
pytestmark = pytest.mark.fresh_database


def _forget_planner_statistics() -> None:
    """What the benchmark does to a freshly loaded database (a superuser may)."""
    db.session.execute(text(
        "DELETE FROM pg_statistic WHERE starelid IN (SELECT oid FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace)"
    ))  # fmt: skip
    db.session.execute(text(
        "UPDATE pg_class SET reltuples = -1, relpages = 0 "
        "WHERE relnamespace = 'public'::regnamespace"
    ))  # fmt: skip
    db.session.commit()


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (CLINIC_TEST_DATABASE_URL)")
def test_session_numbers_use_the_course_index_without_planner_statistics(
    app: Any, backend: str
) -> None:
    if backend != "postgresql":
        return  # a question of PostgreSQL's planner (as tests/api/test_outage.py's relay)
    device = Device(name="Chair 1", active=True)
    db.session.add(device)
    db.session.commit()
    history = make_course(make_patient(first_name="Before"), planned_sessions=30)
    for n in range(3):
        course = make_course(make_patient(first_name=f"P{n}"), planned_sessions=30)
        for day in range(5):
            starts = local(MONDAY + timedelta(days=day), 8) + timedelta(minutes=60 * n)
            make_appointment(course, starts, device=device, sequence=day + 1)
    # Years of history (one session an hour before that week): enough pages that the
    # planner, guessing from the table's size, reached for an exclusion index.
    db.session.execute(
        text(
            "INSERT INTO appointments (course_id, patient_id, device_id, starts_at, ends_at,"
            " kind, status, sequence, is_makeup, revision, created_at, updated_at)"
            " SELECT :course, :patient, :device, :start - g * interval '1 hour',"
            " :start - g * interval '1 hour' + interval '30 minutes', 'treatment',"
            " 'completed', 0, false, 0, now(), now() FROM generate_series(1, 30000) g"
        ),
        {
            "course": history.id,
            "patient": history.patient_id,
            "device": device.id,
            "start": local(MONDAY, 0),
        },
    )
    db.session.commit()
    _forget_planner_statistics()
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "planned_sessions" in statement and "FROM appointments" in statement:
            captured.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        board = schedule.day_board(MONDAY + timedelta(days=4))
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert [block.number for row in board.rows for cell in row.cells if cell
            for block in cell.blocks] == [5, 5, 5]  # fmt: skip
    statement, params = captured[0]
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("EXPLAIN " + statement, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    finally:
        raw.close()
    # One index range of the course's own sessions, by either index led by the course.
    assert re.search(r"ix_appointments_course_(starts|delivered) on appointments earlier", plan), (
        plan
    )
    assert "ex_appointments" not in plan, plan
