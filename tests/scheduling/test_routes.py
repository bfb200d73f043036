"""Pages: the day board, week view, move form, course booking page, admin pages."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest
import time_machine

from clinic.extensions import db
from clinic.scheduling import booking_service, calendar
from clinic.scheduling.models import Appointment, Closure, Device
from tests.factories import login, make_appointment, make_course, make_patient, make_user
from tests.scheduling.conftest import MONDAY, local


def test_board_shows_blocks_with_initials_session_numbers_and_status(
    client: Any, front_desk: Any, chairs: Any
) -> None:
    course = make_course(make_patient(first_name="Robin", last_name="Quill"), planned_sessions=3)
    booking_service.schedule_course(course, start_date=MONDAY, local_time=time(9), actor_id=None)
    db.session.commit()
    login(client, front_desk)
    page = client.get(f"/schedule?date={MONDAY.isoformat()}").get_data(as_text=True)
    assert "RQ" in page and "Session 1 of 3" in page and "Scheduled" in page
    assert 'rowspan="4"' in page  # a 48-minute slot covers four 15-minute rows
    assert "style=" not in page and "<script>" not in page
    nxt = client.get(f"/schedule?date={(MONDAY + timedelta(days=1)).isoformat()}")
    assert "Session 2 of 3" in nxt.get_data(as_text=True)


def test_board_rejects_a_bad_date(client: Any, front_desk: Any) -> None:
    login(client, front_desk)
    assert client.get("/schedule?date=not-a-date").status_code == 400
    assert client.get("/schedule?date=9999-01-01").status_code == 400


def test_technician_sees_their_own_day_by_default(client: Any, chairs: Any) -> None:
    tech = make_user("technician")
    mine = make_appointment(
        make_course(make_patient(first_name="Ada", last_name="Mine")),
        local(MONDAY, 9),
        device=chairs[0],
        technician_id=tech.id,
    )
    make_appointment(
        make_course(make_patient(first_name="Bo", last_name="Other")),
        local(MONDAY, 10),
        device=chairs[1],
    )
    login(client, tech)
    page = client.get(f"/schedule?date={MONDAY.isoformat()}").get_data(as_text=True)
    # The initials as the board shows them (a bare "BO" may occur in the page's CSRF token).
    initials = '<abbr title="Patient initials">{}</abbr>'.format
    assert initials("AM") in page and initials("BO") not in page and mine.id
    everyone = client.get(f"/schedule?date={MONDAY.isoformat()}&mine=0").get_data(as_text=True)
    assert initials("BO") in everyone


def test_week_view_lists_the_week(client: Any, front_desk: Any, chairs: Any) -> None:
    make_appointment(
        make_course(make_patient(first_name="Wes", last_name="Week")),
        local(MONDAY + timedelta(days=2), 14),
        device=chairs[0],
    )
    login(client, front_desk)
    page = client.get(f"/schedule/week?date={MONDAY.isoformat()}").get_data(as_text=True)
    assert "WW" in page and "Wed 04 Mar" in page


def test_the_week_calendar_spans_a_session_outside_the_hours(
    client: Any, front_desk: Any, chairs: Any
) -> None:
    """The drag-and-drop week drew 07:00 to 20:00 whatever was booked: a session at 20:40
    (an evening make-up) was on the week's table but missing from its calendar."""
    login(client, front_desk)
    page = client.get(f"/schedule/week?date={MONDAY.isoformat()}").get_data(as_text=True)
    assert 'data-opens="08:00" data-closes="18:00"' in page  # the hours alone
    course = make_course(make_patient(first_name="Eve", last_name="Ning"))
    make_appointment(course, local(MONDAY + timedelta(days=2), 20, 40), device=chairs[0])
    make_appointment(course, local(MONDAY + timedelta(days=3), 6, 15), device=chairs[0], sequence=2)
    page = client.get(f"/schedule/week?date={MONDAY.isoformat()}").get_data(as_text=True)
    assert 'data-opens="06:00" data-closes="22:00"' in page  # it ends after 21:00


def _fill(devices: list[Device], patients: range) -> None:
    for n in patients:
        course = make_course(make_patient(first_name=f"P{n}"), planned_sessions=40)
        for day in range(3):
            make_appointment(
                course,
                local(MONDAY + timedelta(days=day), 8) + timedelta(minutes=50 * (n // 4)),
                device=devices[n % 4],
                sequence=day + 1,
            )


def test_board_statement_count_is_the_same_at_1x_and_20x_data(
    client: Any, front_desk: Any, count_queries: Any
) -> None:
    devices = [Device(name=f"Chair {n}", active=True) for n in range(4)]
    db.session.add_all(devices)
    db.session.commit()
    login(client, front_desk)
    counts = []
    for patients in (range(4), range(4, 80)):
        _fill(devices, patients)
        for path in ("/schedule", "/schedule/week"):
            with count_queries() as counter:
                response = client.get(f"{path}?date={MONDAY.isoformat()}")
            assert response.status_code == 200
            counts.append(counter.count)
        assert response.get_data(as_text=True).count("<li") >= patients.stop
    assert counts[:2] == counts[2:], counts


def test_board_and_week_read_the_users_sites_and_the_site_list_once(
    client: Any, front_desk: Any, count_queries: Any
) -> None:
    """The site picker and the chosen site come from one read of the sites and the
    user's sites together (two, then four before), the chairs are read once, the user
    with the role's policy, and a session's course and chair are joined, not loaded
    whole."""
    devices = [Device(name=f"Chair {n}", active=True) for n in range(4)]
    db.session.add_all(devices)
    db.session.commit()
    _fill(devices, range(3))
    login(client, front_desk)
    counts = []
    for path in ("/schedule", "/schedule/week"):
        with count_queries() as counter:
            response = client.get(f"{path}?date={MONDAY.isoformat()}")
        assert response.status_code == 200
        statements = [" ".join(s.split()) for s in counter.statements]
        # (The alerts badge's count limits itself by the user's sites inside its own SQL.)
        reads = [s for s in statements if "FROM alerts" not in s]
        sites = [s for s in reads if "user_sites" in s or "FROM sites" in s]
        assert len(sites) == 1 and "JOIN user_sites" in sites[0], statements
        assert sum(s.startswith("SELECT devices.") for s in statements) == 1, statements
        assert not any("FROM role_policies" in s for s in statements), statements
        day_rows = [s for s in statements if "courses.planned_sessions" in s]
        assert len(day_rows) == 1 and "courses.protocol_id" not in day_rows[0], statements
        assert "patients.date_of_birth" not in day_rows[0], statements
        counts.append(counter.count)
    assert counts == [11, 8], counts  # 15 and 11 before


def test_book_course_previews_then_books(client: Any, front_desk: Any, chairs: Any) -> None:
    course = make_course(planned_sessions=3)
    db.session.add(Closure(date=MONDAY + timedelta(days=1), reason="Training"))
    db.session.commit()
    login(client, front_desk)
    assert client.get(f"/courses/{course.id}/book").status_code == 200
    form = {"start_date": MONDAY.isoformat(), "time": "09:00", "device_id": "0"}
    preview = client.post(f"/courses/{course.id}/book", data={**form, "preview": "1"})
    text = preview.get_data(as_text=True)
    assert "Preview: 3 sessions" in text and "Training" in text
    assert db.session.query(Appointment).count() == 0
    key = f"{MONDAY.isoformat()}|09:00:00|0"
    # Changing the choices after the preview shows a new preview instead of booking.
    again = client.post(
        f"/courses/{course.id}/book",
        data={**form, "time": "10:00", "confirm": "1", "previewed": key},
    )
    assert "check this preview" in again.get_data(as_text=True)
    assert db.session.query(Appointment).count() == 0
    # March 2026 is in the past by the real clock: the page asks for the back-entry tick.
    done = client.post(
        f"/courses/{course.id}/book",
        data={**form, "confirm": "1", "previewed": key, "back_entry": "y"},
    )
    assert done.status_code == 302
    assert db.session.query(Appointment).count() == 3


def test_booking_a_past_start_asks_for_a_back_entry_confirmation(
    client: Any, front_desk: Any, chairs: Any, frozen: Any
) -> None:
    course = make_course(planned_sessions=7)
    login(client, front_desk)
    past = MONDAY - timedelta(days=7)
    form = {"start_date": past.isoformat(), "time": "09:00", "device_id": "0"}
    preview = client.post(f"/courses/{course.id}/book", data={**form, "preview": "1"})
    assert "This start is in the past" in preview.get_data(as_text=True)
    key = f"{past.isoformat()}|09:00:00|0"
    refused = client.post(
        f"/courses/{course.id}/book", data={**form, "confirm": "1", "previewed": key}
    )
    assert refused.status_code == 422
    assert "confirm they are a back-entry" in refused.get_data(as_text=True)
    assert db.session.query(Appointment).count() == 0
    confirmed = client.post(
        f"/courses/{course.id}/book",
        data={**form, "confirm": "1", "previewed": key, "back_entry": "y"},
    )
    assert confirmed.status_code == 302
    assert db.session.query(Appointment).count() == 7
    # A start in the future needs no such word.
    later = make_course(make_patient(first_name="Later"), planned_sessions=2)
    future = {"start_date": (MONDAY + timedelta(days=1)).isoformat(), "time": "09:00"}
    ahead = client.post(
        f"/courses/{later.id}/book",
        data={
            **future,
            "device_id": "0",
            "confirm": "1",
            "previewed": f"{future['start_date']}|09:00:00|0",
        },
    )
    assert ahead.status_code == 302


def test_move_form_lists_free_slots_and_moves(client: Any, front_desk: Any, chairs: Any) -> None:
    appointment = make_appointment(make_course(), local(MONDAY, 9), device=chairs[0])
    login(client, front_desk)
    page = client.get(f"/schedule/appointments/{appointment.id}/move").get_data(as_text=True)
    assert "11:00 on Chair B" in page
    slot = f"{chairs[1].id}|{local(MONDAY, 11).isoformat()}"
    response = client.post(
        f"/schedule/appointments/{appointment.id}/move",
        data={"slot": slot, "technician_id": "0"},
    )
    assert response.status_code == 302
    db.session.refresh(appointment)
    assert appointment.starts_at == local(MONDAY, 11) and appointment.revision == 1


def test_cancel_from_the_page_books_a_makeup(client: Any, front_desk: Any, chairs: Any) -> None:
    course = make_course(planned_sessions=2)
    booked = booking_service.schedule_course(
        course, start_date=MONDAY, local_time=time(9), actor_id=None
    )
    db.session.commit()
    login(client, front_desk)
    response = client.post(
        f"/schedule/appointments/{booked[0].id}/cancel",
        data={"reason": "Ill"},
        follow_redirects=True,
    )
    assert "make-up session booked for Wed 04 Mar 09:00" in response.get_data(as_text=True)


def test_admin_pages_manage_devices_hours_and_closures(client: Any, admin: Any) -> None:
    # Signed-in sessions do not survive travelling back in time, so the whole visit is on 1 March.
    with time_machine.travel(local(date(2026, 3, 1), 12), tick=False):
        login(client, admin)
        assert client.get("/admin/devices").status_code == 200
        client.post("/admin/devices", data={"name": "Chair Z", "model": "MagVenture", "room": "3"})
        device = db.session.query(Device).filter_by(name="Chair Z").one()
        client.post(
            f"/admin/devices/{device.id}/maintenance",
            data={"starts_at": "2026-03-02T08:00", "ends_at": "2026-03-02T10:00", "reason": "Coil"},
        )
        assert "Coil" in client.get("/admin/devices").get_data(as_text=True)
        client.post(f"/admin/devices/{device.id}/active")
        db.session.refresh(device)
        assert device.active is False
        assert client.get("/admin/calendar").status_code == 200
        hours = {f"opens_{d}": "09:00" for d in range(5)} | {
            f"closes_{d}": "17:00" for d in range(5)
        }
        assert client.post("/admin/calendar", data=hours).status_code == 302
        assert calendar.opening_hours()[0].opens_at == time(9)
        assert 5 not in calendar.opening_hours()
        client.post("/admin/calendar/closures", data={"date": "2026-12-24", "reason": "Eve"})
        assert db.session.query(Closure).filter_by(reason="Eve").count() == 1
        page = client.get("/admin/calendar").get_data(as_text=True)
        assert "Christmas Day" in page and "Open anyway" in page


@pytest.mark.parametrize(
    "path",
    ["/admin/devices", "/admin/calendar"],
)
def test_admin_pages_are_admin_only(client: Any, front_desk: Any, path: str) -> None:
    login(client, front_desk)
    assert client.get(path).status_code == 403


def test_technicians_cannot_book_or_move(client: Any, technician: Any, chairs: Any) -> None:
    appointment = make_appointment(make_course(), local(MONDAY, 9), device=chairs[0])
    login(client, technician)
    assert client.get(f"/courses/{appointment.course_id}/book").status_code == 403
    assert client.get(f"/schedule/appointments/{appointment.id}/move").status_code == 403
    assert client.get("/schedule").status_code == 200


def test_the_board_shows_what_the_front_desk_must_act_on(client: Any, front_desk: Any) -> None:
    """Check-in today, questionnaires due, a patient's change request, a confirmation."""
    from clinic.outcomes.cadence import ensure_baseline
    from clinic.reminders.models import AppointmentResponse

    today = date(2026, 3, 10)
    with time_machine.travel(local(today, 8), tick=False):
        course = make_course()
        wanted = make_appointment(course, local(today, 9))
        confirmed = make_appointment(course, local(today, 11), sequence=2)
        ensure_baseline(course, today)
        for appointment, kind in ((wanted, "change"), (confirmed, "confirm")):
            db.session.add(
                AppointmentResponse(
                    appointment_id=appointment.id,
                    patient_id=course.patient_id,
                    revision=appointment.revision,
                    appointment_starts_at=appointment.starts_at,
                    kind=kind,
                )
            )
        db.session.commit()
        login(client, front_desk)
        page = client.get("/schedule?date=2026-03-10").get_data(as_text=True)
        assert page.count("Check in") == 2
        assert "change requested" in page.lower()
        assert "Confirmed" in page
        assert "questionnaire due" in page.lower()
        response = client.post(
            f"/appointments/{wanted.id}/check-in",
            data={"next": "/schedule?date=2026-03-10"},
        )
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/schedule?date=2026-03-10")
        db.session.refresh(wanted)
        assert wanted.status == "checked_in"
