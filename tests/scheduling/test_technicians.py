"""Technicians (CONTRACT 6): working hours set by an admin (API and page), one person on
one chair at a time (409 `technician_busy`, a database rule on PostgreSQL, serialised
writes on SQLite, raced with real concurrent connections on both), the list filter."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

from sqlalchemy import func, select

from clinic.extensions import db
from clinic.scheduling import booking_service, lifecycle
from clinic.scheduling.models import Appointment
from tests.courses.races import race
from tests.factories import login, make_appointment, make_course, make_user
from tests.scheduling.conftest import MONDAY, local


def _two_at_nine(chairs: Any) -> tuple[Appointment, Appointment]:
    """Two patients' sessions on two chairs, overlapping (09:00 and 09:20)."""
    first = make_appointment(make_course(), local(MONDAY, 9), device=chairs[0])
    second = make_appointment(make_course(), local(MONDAY, 9, 20), device=chairs[1])
    return first, second


def test_a_technician_cannot_run_two_overlapping_appointments(
    api: Any, front_desk: Any, chairs: Any
) -> None:
    tech = make_user("technician")
    first, second = _two_at_nine(chairs)
    desk = api.as_(front_desk)
    assigned = desk.patch(f"/api/v1/appointments/{first.id}", json={"technician_id": tech.id})
    assert assigned.status_code == 200 and assigned.get_json()["technician_id"] == tech.id
    busy = desk.patch(f"/api/v1/appointments/{second.id}", json={"technician_id": tech.id})
    assert busy.status_code == 409
    assert busy.get_json()["error"]["code"] == "technician_busy"
    # Moving the second clear of the first frees the technician for it.
    later = (first.ends_at).isoformat()
    moved = desk.patch(
        f"/api/v1/appointments/{second.id}", json={"starts_at": later, "technician_id": tech.id}
    )
    assert moved.status_code == 200, moved.get_json()
    # ... and moving it back onto the first is refused while the technician runs both.
    back = desk.patch(
        f"/api/v1/appointments/{second.id}", json={"starts_at": first.starts_at.isoformat()}
    )
    assert back.status_code == 409 and back.get_json()["error"]["code"] == "technician_busy"
    listed = desk.get(f"/api/v1/appointments?date=2026-03-02&technician_id={tech.id}")
    assert sorted(a["id"] for a in listed.get_json()["items"]) == sorted([first.id, second.id])
    unassigned = desk.patch(f"/api/v1/appointments/{first.id}", json={"technician_id": None})
    assert unassigned.get_json()["technician_id"] is None


def test_a_cancelled_appointment_frees_its_technician(chairs: Any) -> None:
    tech = make_user("technician")
    first, second = _two_at_nine(chairs)
    booking_service.move_appointment(
        first.id, technician_id=tech.id, assign_technician=True, actor_id=None
    )
    db.session.commit()
    lifecycle.cancel_appointment(first.id, reason=None, actor_id=None)
    booking_service.move_appointment(
        second.id, technician_id=tech.id, assign_technician=True, actor_id=None
    )
    db.session.commit()
    assert second.technician_id == tech.id


def test_checking_in_does_not_claim_for_a_busy_technician(chairs: Any) -> None:
    tech = make_user("technician")
    first, second = _two_at_nine(chairs)
    lifecycle.check_in(first.id, tech.id)
    lifecycle.check_in(second.id, tech.id)
    db.session.commit()
    assert (first.technician_id, second.technician_id) == (tech.id, None)


def test_working_hours_set_by_an_admin_refuse_off_duty_assignments(
    api: Any, admin: Any, front_desk: Any, chairs: Any
) -> None:
    tech = make_user("technician")
    first, _second = _two_at_nine(chairs)
    hours = api.as_(admin).request(
        "PUT",
        f"/api/v1/technicians/{tech.id}/hours/0",
        json={"starts_at": "10:00", "ends_at": "16:00"},
    )
    assert hours.status_code == 200
    assert hours.get_json() == {"weekday": 0, "starts_at": "10:00", "ends_at": "16:00"}
    assert (
        api.as_(front_desk)
        .request(
            "PUT",
            f"/api/v1/technicians/{tech.id}/hours/1",
            json={"starts_at": "10:00", "ends_at": "16:00"},
        )
        .status_code
        == 403
    )
    bad = api.as_(admin).request(
        "PUT",
        f"/api/v1/technicians/{tech.id}/hours/1",
        json={"starts_at": "16:00", "ends_at": "10:00"},
    )
    assert bad.status_code == 422
    listed = api.as_(front_desk).get("/api/v1/technicians").get_json()["items"]
    assert [t["hours"] for t in listed if t["id"] == tech.id] == [
        [{"weekday": 0, "starts_at": "10:00", "ends_at": "16:00"}]
    ]
    early = api.as_(front_desk).patch(
        f"/api/v1/appointments/{first.id}", json={"technician_id": tech.id}
    )
    assert early.status_code == 409
    assert early.get_json()["error"]["code"] == "technician_off_duty"
    # Tuesday is not among their days: a session then is refused too.
    tuesday = make_appointment(make_course(), local(date(2026, 3, 3), 11), device=chairs[0])
    off = api.as_(front_desk).patch(
        f"/api/v1/appointments/{tuesday.id}", json={"technician_id": tech.id}
    )
    assert off.get_json()["error"]["code"] == "technician_off_duty"
    assert (
        api.as_(admin).request("DELETE", f"/api/v1/technicians/{tech.id}/hours/0").status_code
        == 204
    )
    assert api.as_(front_desk).get(f"/api/v1/technicians/{tech.id}/hours").get_json() == {
        "items": []
    }


def test_the_admin_page_sets_a_technicians_hours(client: Any, admin: Any) -> None:
    tech = make_user("technician", name="Tess Tech")
    login(client, admin)
    page = client.get("/admin/technicians")
    assert page.status_code == 200 and "Tess Tech" in page.get_data(as_text=True)
    form = client.get(f"/admin/technicians/{tech.id}/hours")
    assert form.status_code == 200
    saved = client.post(
        f"/admin/technicians/{tech.id}/hours",
        data={"opens_2": "07:30", "closes_2": "15:30"},
        follow_redirects=True,
    )
    assert saved.status_code == 200 and "07:30-15:30" in saved.get_data(as_text=True)


def test_two_assignments_at_once_one_technician_one_wins(
    app: Any, backend: str, chairs: Any
) -> None:
    tech = make_user("technician")
    first, second = _two_at_nine(chairs)

    def assign(appointment_id: int) -> Any:
        return lambda: (
            lambda: booking_service.move_appointment(
                appointment_id, technician_id=tech_id, assign_technician=True, actor_id=None
            )
        )

    tech_id = tech.id
    assert race(app, backend, [assign(first.id), assign(second.id)]) == [200, 409]
    assigned = db.session.scalar(select(func.count()).where(Appointment.technician_id == tech_id))
    assert assigned == 1


def test_two_bookings_at_once_with_one_technician_one_wins(
    app: Any, backend: str, chairs: Any
) -> None:
    tech = make_user("technician")
    courses = [make_course(), make_course()]
    tech_id, course_ids = tech.id, [c.id for c in courses]
    chair_ids = [c.id for c in chairs]

    def book(index: int) -> Any:
        def read() -> Any:
            from clinic.courses.models import Course

            course = db.session.get(Course, course_ids[index])
            return lambda: booking_service.book_appointment(
                course,
                device_id=chair_ids[index],
                starts_at=local(MONDAY, 9) + timedelta(minutes=10 * index),
                technician_id=tech_id,
                actor_id=None,
            )

        return read

    assert race(app, backend, [book(0), book(1)]) == [200, 409]
    assert db.session.scalar(select(func.count()).select_from(Appointment)) == 1
    assert (
        time(9)
        <= db.session.scalar(select(Appointment.starts_at))
        .astimezone(local(MONDAY, 9).tzinfo)
        .time()
    )
