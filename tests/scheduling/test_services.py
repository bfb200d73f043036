"""Scheduling services against a real database: booking, conflicts, moves, make-ups."""

from __future__ import annotations

from datetime import UTC, date, time, timedelta
from typing import Any

import pytest

from clinic import events
from clinic.errors import Conflict
from clinic.extensions import db
from clinic.scheduling import booking_service, calendar, lifecycle, makeups, schedule
from clinic.scheduling.models import Appointment
from clinic.scheduling.progress import course_progress
from tests.factories import make_appointment, make_course, make_device, make_patient
from tests.scheduling.conftest import MONDAY, NY, local


def book(course: Any, **kwargs: Any) -> list[Appointment]:
    appointments = booking_service.schedule_course(
        course,
        start_date=kwargs.pop("start_date", MONDAY),
        local_time=kwargs.pop("local_time", time(9)),
        actor_id=None,
        **kwargs,
    )
    db.session.commit()
    return appointments


def test_a_whole_taper_course_is_booked_with_continuing_numbers(chairs: Any) -> None:
    course = make_course()
    make_appointment(course, local(date(2026, 2, 27), 9), device=chairs[0], status="completed")
    booked = book(course, device_id=chairs[1].id)
    assert len(booked) == 35
    assert [a.sequence for a in booked] == list(range(2, 37))
    assert {a.device_id for a in booked} == {chairs[1].id}
    progress = course_progress([course.id])[course.id]
    assert (progress.delivered, progress.scheduled, progress.unbooked(36)) == (1, 35, 0)


def test_daylight_saving_keeps_the_patients_local_time(chairs: Any) -> None:
    course = make_course(planned_sessions=10)
    booked = book(course)
    assert {a.starts_at.astimezone(NY).time() for a in booked} == {time(9)}
    assert booked[0].starts_at.astimezone(UTC).hour == 14
    assert booked[-1].starts_at.astimezone(UTC).hour == 13


def test_patient_in_another_zone_is_booked_at_their_wall_clock(chairs: Any) -> None:
    patient = make_patient(timezone="America/Chicago")
    booked = book(make_course(patient, planned_sessions=3))
    chicago = [a.starts_at.astimezone(NY).time() for a in booked]
    assert chicago == [time(10)] * 3


def test_closures_and_maintenance_are_respected(chairs: Any) -> None:
    calendar.add_closure(day=date(2026, 3, 3), reason="Training", actor_id=None)
    calendar.add_maintenance(
        chairs[0].id,
        starts_at=local(MONDAY, 8),
        ends_at=local(MONDAY, 12),
        reason="Coil check",
        actor_id=None,
    )
    booked = book(make_course(planned_sessions=3), device_id=chairs[0].id)
    assert [a.starts_at.astimezone(NY).date() for a in booked] == [
        MONDAY,
        date(2026, 3, 4),
        date(2026, 3, 5),
    ]
    assert booked[0].device_id == chairs[1].id
    assert booked[1].device_id == chairs[0].id


def test_preview_writes_nothing_and_shows_clashes(chairs: Any) -> None:
    calendar.add_closure(day=date(2026, 3, 3), reason="Training", actor_id=None)
    course = make_course(planned_sessions=3)
    plan = booking_service.preview_course(course, start_date=MONDAY, local_time=time(9))
    assert len(plan.sessions) == 3 and plan.complete
    assert any("Training" in clash for clash in plan.clashes)
    assert db.session.query(Appointment).count() == 0


def test_refusals_have_precise_codes(chairs: Any) -> None:
    held = make_course(planned_sessions=3, status="on_hold")
    with pytest.raises(Conflict) as caught:
        book(held)
    assert caught.value.code == "course_not_active"
    done = make_course(planned_sessions=1)
    book(done)
    with pytest.raises(Conflict) as caught:
        book(done)
    assert caught.value.code == "nothing_to_schedule"
    calendar.set_opening_hours(0, opens_at=None, closes_at=None, actor_id=None)
    for weekday in range(1, 5):
        calendar.set_opening_hours(weekday, opens_at=None, closes_at=None, actor_id=None)
    with pytest.raises(Conflict) as caught:
        book(make_course(planned_sessions=2))
    assert caught.value.code == "cannot_place"


def test_single_booking_names_each_clash(chairs: Any) -> None:
    course = make_course()
    other = make_course()
    make_appointment(other, local(MONDAY, 9), device=chairs[0])
    with pytest.raises(Conflict) as caught:
        booking_service.book_appointment(
            course, device_id=chairs[0].id, starts_at=local(MONDAY, 9), actor_id=None
        )
    assert [c["code"] for c in caught.value.details["clashes"]] == ["device"]
    with pytest.raises(Conflict) as caught:
        booking_service.book_appointment(
            course, device_id=chairs[0].id, starts_at=local(MONDAY, 19), actor_id=None
        )
    assert "outside_hours" in [c["code"] for c in caught.value.details["clashes"]]
    calendar.add_closure(day=date(2026, 3, 4), reason="Holiday", actor_id=None)
    with pytest.raises(Conflict) as caught:
        booking_service.book_appointment(
            course,
            device_id=chairs[1].id,
            starts_at=local(date(2026, 3, 4), 9),
            actor_id=None,
        )
    assert caught.value.details["clashes"][0]["code"] == "closed"


def test_the_patient_cannot_be_on_two_chairs_at_once(chairs: Any) -> None:
    course = make_course()
    booking_service.book_appointment(
        course, device_id=chairs[0].id, starts_at=local(MONDAY, 9), actor_id=None
    )
    with pytest.raises(Conflict) as caught:
        booking_service.book_appointment(
            course,
            device_id=chairs[1].id,
            starts_at=local(MONDAY, 9, 30),
            kind="mapping",
            actor_id=None,
        )
    assert caught.value.details["clashes"][0]["code"] == "patient"


def test_move_bumps_revision_and_signals(chairs: Any) -> None:
    course = make_course()
    appointment = make_appointment(course, local(MONDAY, 9), device=chairs[0])
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append(kwargs)

    with events.appointment_moved.connected_to(receiver):
        moved = booking_service.move_appointment(
            appointment.id, starts_at=local(MONDAY, 11), device_id=chairs[1].id, actor_id=None
        )
    assert moved.revision == 1 and moved.device_id == chairs[1].id
    assert seen[0]["old_starts_at"] == local(MONDAY, 9)
    assert seen[0]["old_device_id"] == chairs[0].id


def test_move_onto_a_taken_chair_is_refused(chairs: Any) -> None:
    first = make_appointment(make_course(), local(MONDAY, 9), device=chairs[0])
    second = make_appointment(make_course(), local(MONDAY, 11), device=chairs[0])
    with pytest.raises(Conflict):
        booking_service.move_appointment(second.id, starts_at=local(MONDAY, 9, 30), actor_id=None)
    assert first.status == "scheduled"


def test_cancel_books_a_makeup_after_the_last_session(chairs: Any) -> None:
    course = make_course(planned_sessions=3)
    booked = book(course)
    seen: list[Any] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append(kwargs["appointment"])

    with events.appointment_cancelled.connected_to(receiver):
        change = lifecycle.cancel_appointment(booked[0].id, reason="Flu", actor_id=None)
    db.session.commit()
    assert change.appointment.status == "cancelled"
    makeup = change.makeup
    assert makeup is not None and makeup.is_makeup and makeup.makeup_for_id == booked[0].id
    assert makeup.starts_at.astimezone(NY).date() == date(2026, 3, 5)
    assert makeup.starts_at.astimezone(NY).time() == time(9)
    assert makeup.sequence == 4
    assert course_progress([course.id])[course.id].unbooked(course.planned_sessions) == 0
    assert seen and seen[0].id == booked[0].id


def test_no_show_also_gets_a_makeup_and_completed_cannot_be_cancelled(chairs: Any) -> None:
    course = make_course(planned_sessions=2)
    booked = book(course)
    change = lifecycle.record_no_show(booked[1].id, reason=None, actor_id=None)
    assert change.appointment.status == "no_show" and change.makeup is not None
    done = make_appointment(
        course, local(date(2026, 2, 20), 9), device=chairs[0], status="completed"
    )
    with pytest.raises(Conflict) as caught:
        lifecycle.cancel_appointment(done.id, reason=None, actor_id=None)
    assert caught.value.code == "invalid_status"


def test_book_makeup_for_a_treatment_stopped_early(chairs: Any) -> None:
    course = make_course(planned_sessions=2)
    booked = book(course)
    booked[0].status = "incomplete"
    makeup = makeups.book_makeup(course, None).makeup
    assert makeup.is_makeup and makeup.makeup_for_id is None
    assert makeup.starts_at.astimezone(NY).date() == date(2026, 3, 4)


def test_inactive_devices_take_no_bookings(chairs: Any) -> None:
    calendar.update_device(chairs[0].id, active=False, actor_id=None)
    booked = book(make_course(planned_sessions=2), device_id=chairs[0].id)
    assert {a.device_id for a in booked} == {chairs[1].id}
    with pytest.raises(Conflict) as caught:
        booking_service.book_appointment(
            make_course(),
            device_id=chairs[0].id,
            starts_at=local(MONDAY, 14),
            actor_id=None,
        )
    assert caught.value.details["clashes"][0]["code"] == "device_inactive"


def test_nearest_free_start_when_the_time_is_taken_on_every_chair(chairs: Any) -> None:
    for chair in chairs:
        make_appointment(make_course(), local(MONDAY, 9), device=chair)
    booked = book(make_course(planned_sessions=1))
    # Both chairs are busy 09:00-09:48. Later, 09:50 is the first 5-minute step free;
    # earlier, 08:10 (ends 08:58). Both are 50 minutes away: the earlier start wins.
    assert booked[0].starts_at == local(MONDAY, 8, 10)


def test_make_device_helper_devices_are_listed(chairs: Any) -> None:
    make_device("Chair C", active=False)
    assert [d.name for d in calendar.list_devices()] == ["Chair A", "Chair B", "Chair C"]
    assert len(calendar.list_devices(active_only=True)) == 2


def test_free_starts_lists_open_chairs_for_a_move(chairs: Any) -> None:
    appointment = make_appointment(make_course(), local(MONDAY, 9), device=chairs[0])
    make_appointment(make_course(), local(MONDAY, 10), device=chairs[1])
    free = schedule.free_starts(appointment.id, MONDAY)
    starts = {(p.device_id, p.starts_at.astimezone(NY).strftime("%H:%M")) for p in free}
    assert (chairs[0].id, "09:00") in starts  # its own place stays available
    assert (chairs[1].id, "10:00") not in starts
    assert (chairs[1].id, "09:30") not in starts  # would run into the 10:00 session
    assert all(p.ends_at <= local(MONDAY, 18) for p in free)
    assert schedule.free_starts(appointment.id, MONDAY + timedelta(days=5)) == []
