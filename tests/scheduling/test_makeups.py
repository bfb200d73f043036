"""Make-ups keep the pattern (CONTRACT 7): a miss in the daily phase is made up inside it
and the taper moves later, week by week, keeping its spread; a miss in the taper is made
up after the last session. Across a daylight-saving change and a closure; two cancels at
once (real concurrent connections, both databases) give two make-ups, never a clash."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from clinic import events
from clinic.extensions import db
from clinic.reminders.models import Reminder
from clinic.scheduling import booking_service, calendar, lifecycle, technicians
from clinic.scheduling.models import Appointment
from tests.courses.races import race
from tests.factories import captured, make_course, make_patient, make_user
from tests.scheduling.conftest import MONDAY, NY

# 5 daily, then a taper week of 3 (Mon/Wed/Fri) and one of 2 (Tue/Thu).
SHORT_TAPER = {"daily": 5, "taper": [3, 2]}


@pytest.fixture
def frozen_at() -> datetime:
    return datetime(2026, 2, 27, 15, 0, tzinfo=UTC)  # the Friday before


pytestmark = pytest.mark.usefixtures("frozen")


def _booked(patient: Any = None) -> tuple[Any, list[Appointment]]:
    course = make_course(patient, pattern=SHORT_TAPER, planned_sessions=10)
    booked = booking_service.schedule_course(
        course, start_date=MONDAY, local_time=time(9), actor_id=None
    )
    db.session.commit()
    return course, booked


def _days(course: Any) -> list[date]:
    db.session.expire_all()
    live = db.session.scalars(
        Appointment.__table__.select()
        .with_only_columns(Appointment.starts_at)
        .where(
            Appointment.course_id == course.id,
            Appointment.status.in_(("scheduled", "completed")),
        )
        .order_by(Appointment.starts_at)
    ).all()
    return [starts_at.astimezone(NY).date() for starts_at in live]


def test_a_daily_miss_is_made_up_in_the_daily_phase_and_the_taper_moves(chairs: Any) -> None:
    course, booked = _booked()
    assert [a.starts_at.astimezone(NY).date() for a in booked] == [
        date(2026, 3, d) for d in (2, 3, 4, 5, 6, 9, 11, 13, 17, 19)
    ]
    with captured(events.appointment_moved) as moves:
        change = lifecycle.cancel_appointment(booked[2].id, reason="Flu", actor_id=None)
    db.session.commit()
    assert change.makeup is not None
    # The first open weekday after the daily phase, across the daylight-saving change
    # (8 March 2026), still at 09:00 on the patient's clock.
    assert change.makeup.starts_at.astimezone(NY).date() == date(2026, 3, 9)
    assert change.makeup.starts_at.astimezone(NY).time() == time(9)
    assert _days(course) == [date(2026, 3, d) for d in (2, 3, 5, 6, 9, 16, 18, 20, 24, 26)]
    assert [a.id for a in change.moved] == [a.id for a in booked[5:]]
    assert {m["appointment"].id for m in moves} == {a.id for a in booked[5:]}
    assert all(a.revision == 1 for a in change.moved)
    assert {a.starts_at.astimezone(NY).time() for a in change.moved} == {time(9)}


def test_moved_sessions_go_around_a_closure_and_keep_their_week(chairs: Any) -> None:
    calendar.add_closure(day=date(2026, 3, 16), reason="Staff training", actor_id=None)
    db.session.commit()
    course, booked = _booked()
    change = lifecycle.record_no_show(booked[0].id, reason=None, actor_id=None)
    db.session.commit()
    assert change.makeup is not None
    assert change.makeup.starts_at.astimezone(NY).date() == date(2026, 3, 9)
    # The week of 3 moves to the week of the 16th (closed on Monday): still 3 that week.
    assert _days(course)[5:] == [date(2026, 3, d) for d in (17, 18, 20, 24, 26)]


def test_a_miss_in_the_taper_is_made_up_after_the_last_session(chairs: Any) -> None:
    _course, booked = _booked()
    change = lifecycle.cancel_appointment(booked[6].id, reason=None, actor_id=None)
    db.session.commit()
    assert change.makeup is not None and change.moved == ()
    assert change.makeup.starts_at.astimezone(NY).date() == date(2026, 3, 20)


def test_moving_replaces_the_moved_sessions_reminders(chairs: Any) -> None:
    patient = make_patient(email="p@example.org", email_consent=True, preferred_channel="email")
    _course, booked = _booked(patient)
    taper_first = booked[5]
    before = {
        r.due_at
        for r in db.session.scalars(
            db.select(Reminder).where(Reminder.appointment_id == taper_first.id)
        )
    }
    lifecycle.cancel_appointment(booked[1].id, reason=None, actor_id=None)
    db.session.commit()
    pending = db.session.scalars(
        db.select(Reminder).where(
            Reminder.appointment_id == taper_first.id, Reminder.status == "pending"
        )
    ).all()
    assert before and pending
    assert {r.due_at for r in pending}.isdisjoint(before)


def test_the_api_answers_makeup_and_moved(api: Any, front_desk: Any, chairs: Any) -> None:
    _course, booked = _booked()
    answer = api.as_(front_desk).post(f"/api/v1/appointments/{booked[3].id}/cancel", json={})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["makeup"]["starts_at"].startswith("2026-03-09")
    assert [a["id"] for a in body["moved"]] == [a.id for a in booked[5:]]
    taper = api.as_(front_desk).post(f"/api/v1/appointments/{booked[6].id}/no-show", json={})
    assert taper.get_json()["moved"] == []


def test_two_cancels_at_once_make_up_twice_without_a_clash(
    app: Any, backend: str, chairs: Any
) -> None:
    course, booked = _booked()
    ids = [booked[1].id, booked[2].id]

    def cancel(appointment_id: int) -> Any:
        return lambda: (
            lambda: lifecycle.cancel_appointment(appointment_id, reason="ill", actor_id=None)
        )

    assert race(app, backend, [cancel(i) for i in ids]) == [200, 200]
    days = _days(course)
    assert len(days) == 10 and len(set(days)) == 10
    assert days == [date(2026, 3, d) for d in (2, 5, 6, 9, 10, 16, 18, 20, 24, 26)]
    makeups = db.session.scalars(
        db.select(Appointment).where(Appointment.makeup_for_id.in_(ids))
    ).all()
    assert sorted(m.makeup_for_id for m in makeups) == sorted(ids)


def test_a_pain_courses_weekly_sessions_keep_their_weekday_when_pushed(chairs: Any) -> None:
    course = make_course(protocol_code="10hz-m1-pain")  # 5 daily, then weekly: 15
    booked = booking_service.schedule_course(
        course, start_date=MONDAY, local_time=time(9), actor_id=None
    )
    db.session.commit()
    assert [a.starts_at.astimezone(NY).date() for a in booked[5:7]] == [
        date(2026, 3, 9),
        date(2026, 3, 16),
    ]
    change = lifecycle.cancel_appointment(booked[1].id, reason=None, actor_id=None)
    db.session.commit()
    assert change.makeup is not None
    assert change.makeup.starts_at.astimezone(NY).date() == date(2026, 3, 9)
    weekly = _days(course)[5:]
    assert len(weekly) == 10 and weekly[0] == date(2026, 3, 16)
    assert {d.weekday() for d in weekly} == {0}  # still Mondays, one a week
    assert len(change.moved) == 10


def test_a_moved_session_keeps_its_technician_only_when_they_are_on_duty_then(
    chairs: Any,
) -> None:
    admin = make_user("admin")
    tech = make_user("technician")
    technicians.set_working_hours(
        tech.id, 0, starts_at=time(8), ends_at=time(18), actor_id=admin.id
    )
    technicians.set_working_hours(
        tech.id, 2, starts_at=time(12), ends_at=time(18), actor_id=admin.id
    )
    _course, booked = _booked()
    monday, wednesday = booked[5], booked[6]  # 9 and 11 March
    booking_service.move_appointment(
        monday.id, technician_id=tech.id, assign_technician=True, actor_id=None
    )
    afternoon = datetime.combine(date(2026, 3, 11), time(15), tzinfo=NY)
    booking_service.move_appointment(
        wednesday.id,
        starts_at=afternoon,
        technician_id=tech.id,
        assign_technician=True,
        actor_id=None,
    )
    db.session.commit()
    lifecycle.cancel_appointment(booked[2].id, reason="Flu", actor_id=None)
    db.session.commit()
    db.session.expire_all()
    # Both move a week on at the course's 09:00: Monday is inside the technician's hours,
    # Wednesday morning is not, so that session goes back to whoever receives the patient.
    moved_monday, moved_wednesday = (
        db.session.get(Appointment, monday.id),
        db.session.get(Appointment, wednesday.id),
    )
    assert moved_monday.starts_at.astimezone(NY) == datetime(2026, 3, 16, 9, tzinfo=NY)
    assert moved_wednesday.starts_at.astimezone(NY) == datetime(2026, 3, 18, 9, tzinfo=NY)
    assert moved_monday.technician_id == tech.id
    assert moved_wednesday.technician_id is None
