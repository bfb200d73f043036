"""The chairs' busy time, which every booking and move reads for dozens of days at once,
is looked up by its start: an index led by the status made SQLite read every live
appointment instead, and booking a course 2.6x slower. It reads one site's chairs: in a
group every site's sessions were read (20 sites: 20 times the rows, and booking a course
took 140-690 ms on a 20-site demo, most of it indexing the other sites' sessions)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from clinic.extensions import db
from clinic.scheduling import sites
from clinic.scheduling.calendar import _load_busy, load_calendar
from clinic.scheduling.models import Device
from tests.factories import make_appointment, make_course, make_device, make_patient
from tests.scheduling.conftest import MONDAY, local


@pytest.mark.parametrize("chairs", [None, (1, 2)])
def test_busy_time_is_read_by_its_start_on_sqlite(
    app: Any, backend: str, chairs: tuple[int, ...] | None
) -> None:
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
        _load_busy(spans, (1, spans[0]), chairs=chairs)
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


def test_busy_time_of_one_site_leaves_the_other_sites_chairs_out_but_not_the_patient(
    app: Any,
) -> None:
    home = sites.get_site()
    paris = sites.create_site(name="Paris", timezone="Europe/Paris", holidays="FR", actor_id=None)
    here, there = make_device(site_id=home.id), make_device(site_id=paris.id)
    patient = make_patient()
    at_nine = local(MONDAY, 9)
    mine_there = make_appointment(make_course(patient), at_nine, device=there)
    someone_there = make_appointment(make_course(), at_nine, device=make_device(site_id=paris.id))
    someone_here = make_appointment(make_course(), at_nine, device=here)
    span = (local(MONDAY, 8), local(MONDAY, 12))
    read = {b.appointment_id for b in _load_busy([span], (patient.id, span), chairs=(here.id,))}
    assert read == {someone_here.id, mine_there.id}
    everywhere = {b.appointment_id for b in _load_busy([span], (patient.id, span))}
    assert everywhere == {someone_here.id, mine_there.id, someone_there.id}


def test_a_sites_calendar_offers_its_active_chairs_and_counts_the_sessions_of_all(
    app: Any,
) -> None:
    home = sites.get_site()
    paris = sites.create_site(name="Paris", timezone="Europe/Paris", holidays="FR", actor_id=None)
    offered, retired = make_device(site_id=home.id), make_device(site_id=home.id, active=False)
    make_device(site_id=paris.id)
    calendar = load_calendar(MONDAY, MONDAY, home)
    assert offered.id in calendar.devices and retired.id not in calendar.devices
    assert calendar.chairs is not None
    assert {offered.id, retired.id} <= set(calendar.chairs)
    assert all(db.session.get(Device, chair).site_id == home.id for chair in calendar.chairs)
