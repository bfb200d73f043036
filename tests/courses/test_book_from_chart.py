"""Booking a course from the patient's chart: one "Book course" action on the course's row
(only when booking can succeed), the form preset with what the desk would type, and the
preview answered in place (htmx) so only the booking itself loads a page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from clinic.courses.models import Course
from clinic.extensions import db
from clinic.scheduling.models import Appointment
from tests.factories import (
    login,
    make_appointment,
    make_course,
    make_device,
    make_patient,
    make_user,
)

BOOK = 'href="/courses/{id}/book"'


def _chart(app: Any, role: str, patient_id: int) -> str:
    client = app.test_client()
    login(client, make_user(role))
    return client.get(f"/patients/{patient_id}").get_data(as_text=True)


def test_the_chart_offers_book_course_only_where_it_can_succeed(app: Any, frozen: Any) -> None:
    patient = make_patient()
    to_book = make_course(patient, planned_sessions=2)
    booked = make_course(patient, planned_sessions=1)
    make_appointment(booked, datetime(2026, 3, 3, 14, 0, tzinfo=UTC))
    finished = make_course(patient, status="completed")
    page = _chart(app, "front_desk", patient.id)
    assert BOOK.format(id=to_book.id) in page
    assert "2 to book" in page
    assert BOOK.format(id=booked.id) not in page  # every session booked already
    assert BOOK.format(id=finished.id) not in page  # not an active course
    # A technician may not book: no action for them.
    assert BOOK.format(id=to_book.id) not in _chart(app, "technician", patient.id)


def test_the_form_is_preset_with_tomorrow_at_opening(client: Any, frozen: Any) -> None:
    course = make_course(planned_sessions=3)
    login(client, make_user("front_desk"))
    page = client.get(f"/courses/{course.id}/book").get_data(as_text=True)
    assert 'value="2026-03-03"' in page  # tomorrow (frozen on Monday 2 March)
    assert 'value="08:00"' in page  # the clinic's earliest opening hour


def test_the_form_continues_after_the_last_booked_session(client: Any, frozen: Any) -> None:
    course = make_course(planned_sessions=5)
    # Thursday 5 March, 14:30 in New York.
    make_appointment(course, datetime(2026, 3, 5, 19, 30, tzinfo=UTC))
    login(client, make_user("front_desk"))
    page = client.get(f"/courses/{course.id}/book").get_data(as_text=True)
    assert 'value="2026-03-06"' in page and 'value="14:30"' in page


def test_with_htmx_the_preview_answers_in_place_and_booking_redirects(
    client: Any, frozen: Any
) -> None:
    make_device("Chair A")
    course = make_course(planned_sessions=2)
    login(client, make_user("front_desk"))
    htmx = {"HX-Request": "true"}
    form = {"start_date": "2026-03-09", "time": "09:00", "device_id": "0"}
    preview = client.post(f"/courses/{course.id}/book", data={**form, "preview": "y"}, headers=htmx)
    assert preview.status_code == 200
    assert 'id="booking"' in preview.get_data(as_text=True)
    assert "Book these 2 sessions" in preview.get_data(as_text=True)
    key = "2026-03-09|09:00:00|0"
    done = client.post(
        f"/courses/{course.id}/book",
        data={**form, "confirm": "y", "previewed": key},
        headers=htmx,
    )
    assert done.status_code == 204
    assert done.headers["HX-Redirect"] == "/schedule?date=2026-03-09"
    assert db.session.query(Appointment).count() == 2


def test_with_htmx_a_refusal_comes_back_as_the_form(client: Any, frozen: Any) -> None:
    make_device("Chair A")
    course = make_course(planned_sessions=2)
    login(client, make_user("front_desk"))
    past = {"start_date": "2026-02-23", "time": "09:00", "device_id": "0"}
    refused = client.post(
        f"/courses/{course.id}/book",
        data={**past, "confirm": "y", "previewed": "2026-02-23|09:00:00|0"},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 422  # app.js swaps it in place (data-swap-refusals)
    assert "confirm they are a back-entry" in refused.get_data(as_text=True)
    assert db.session.query(Appointment).count() == 0


def test_prescribe_and_book_goes_straight_to_the_booking_form(client: Any, frozen: Any) -> None:
    clinician = make_user("clinician")
    login(client, clinician)
    patient = make_patient()
    form = client.get(f"/patients/{patient.id}/courses/new").get_data(as_text=True)
    assert "Prescribe and book sessions" in form
    response = client.post(
        f"/patients/{patient.id}/courses/new",
        data={
            "protocol": "10hz-ldlpfc",
            "prescriber_id": clinician.id,
            "authorization_id": 0,
            "then_book": "y",
        },
    )
    course = db.session.scalar(select(Course).where(Course.patient_id == patient.id))
    assert course is not None
    assert response.headers["Location"].endswith(f"/courses/{course.id}/book")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Course prescribed." in page and 'value="2026-03-03"' in page
