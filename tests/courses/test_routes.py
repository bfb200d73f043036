"""The course pages through the Flask test client: what each role sees and can do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import render_template_string
from sqlalchemy import select

from clinic.audit.models import AuditEvent
from clinic.courses.models import Course
from clinic.extensions import db
from clinic.patients.models import Authorization
from tests.courses.conftest import NOW, add_sessions, make_authorization
from tests.factories import login, make_course, make_patient, make_user, protocol


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def signed_in(client: Any, role: str) -> Any:
    user = make_user(role)
    login(client, user)
    return user


# --- Prescribing -----------------------------------------------------------------------


def test_a_clinician_prescribes_from_the_form(client: Any) -> None:
    clinician = signed_in(client, "clinician")
    patient = make_patient()
    page = client.get(f"/patients/{patient.id}/courses/new")
    assert page.status_code == 200
    assert "Prescribe a course" in text(page) and patient.full_name in text(page)
    response = client.post(
        f"/patients/{patient.id}/courses/new",
        data={"protocol": "10hz-ldlpfc", "prescriber_id": clinician.id, "authorization_id": 0},
    )
    assert response.status_code == 302
    course = db.session.scalar(select(Course).where(Course.patient_id == patient.id))
    assert course is not None and course.prescriber_id == clinician.id
    assert response.headers["Location"].endswith(f"/courses/{course.id}")
    detail = client.get(response.headers["Location"])
    assert "0 of 36 delivered" in text(detail)
    assert "Course prescribed." in text(detail)


def test_the_form_creates_an_authorization(client: Any) -> None:
    clinician = signed_in(client, "clinician")
    patient = make_patient()
    response = client.post(
        f"/patients/{patient.id}/courses/new",
        data={
            "protocol": "itbs-ldlpfc",
            "planned_sessions": 30,
            "prescriber_id": clinician.id,
            "authorization_id": 0,
            "payer": "Aetna",
            "number": "A-1",
            "sessions_authorized": 30,
            "valid_from": "2026-03-01",
            "valid_to": "2026-05-31",
        },
    )
    assert response.status_code == 302
    authorization = db.session.scalar(select(Authorization))
    assert authorization is not None and authorization.payer == "Aetna"
    detail = text(client.get(response.headers["Location"]))
    assert "0 of 30 used" in detail


def test_refusals_show_on_the_form(client: Any) -> None:
    clinician = signed_in(client, "clinician")
    unscreened = make_patient(screened=None)
    page = client.get(f"/patients/{unscreened.id}/courses/new")
    assert "No safety screening on file" in text(page)
    refused = client.post(
        f"/patients/{unscreened.id}/courses/new",
        data={"protocol": "10hz-ldlpfc", "prescriber_id": clinician.id, "authorization_id": 0},
    )
    assert refused.status_code == 409
    assert "no TMS safety screening" in text(refused)
    patient = make_patient()
    too_strong = client.post(
        f"/patients/{patient.id}/courses/new",
        data={
            "protocol": "10hz-ldlpfc",
            "prescribed_pct_mt": 140,
            "prescriber_id": clinician.id,
            "authorization_id": 0,
        },
    )
    assert too_strong.status_code == 422
    assert "give the clinical reason" in text(too_strong)
    assert db.session.scalar(select(Course)) is None


def test_only_prescribers_open_the_form(client: Any) -> None:
    signed_in(client, "technician")
    patient = make_patient()
    assert client.get(f"/patients/{patient.id}/courses/new").status_code == 403
    assert client.post(f"/patients/{patient.id}/courses/new", data={}).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client: Any) -> None:
    course = make_course()
    response = client.get(f"/courses/{course.id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_unknown_patient_or_course_is_404(client: Any) -> None:
    signed_in(client, "clinician")
    assert client.get("/patients/999999/courses/new").status_code == 404
    assert client.get("/courses/999999").status_code == 404


# --- The course page -------------------------------------------------------------------


def test_the_course_page_shows_protocol_progress_calendar_and_authorization(
    client: Any, frozen: Any
) -> None:
    user = signed_in(client, "front_desk")
    patient = make_patient()
    course = make_course(
        patient, planned_sessions=4, authorization_id=make_authorization(patient, 3).id
    )
    add_sessions(course, ["completed"], start=NOW - timedelta(days=1))
    add_sessions(course, ["scheduled"] * 3)
    page = text(client.get(f"/courses/{course.id}"))
    assert "10 Hz rTMS, left DLPFC" in page
    assert "1 of 4 delivered" in page
    assert "3000" in page and "120 % of motor threshold" in page
    assert "March 2026" in page and "#2" in page
    assert "1 of 3 used" in page
    assert "4 sessions delivered or booked, 3 authorized." in page
    assert "Change status" not in page  # the front desk does not prescribe
    assert "Book course" in page  # the front desk books the sessions
    view = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "view"))
    assert view is not None and view.actor_id == user.id and view.patient_id == patient.id


def test_an_on_hold_course_flags_its_booked_sessions(client: Any, frozen: Any) -> None:
    signed_in(client, "clinician")
    course = make_course(status="on_hold", status_reason="Seizure")
    add_sessions(course, ["scheduled"] * 2)
    page = text(client.get(f"/courses/{course.id}"))
    assert "on hold and still has 2 booked sessions" in page


def test_a_clinician_changes_the_status_from_the_page(client: Any, frozen: Any) -> None:
    signed_in(client, "clinician")
    course = make_course()
    booked = add_sessions(course, ["scheduled"] * 2)
    missing_reason = client.post(f"/courses/{course.id}/status", data={"status": "discontinued"})
    assert missing_reason.status_code == 422
    assert "Required for on hold and discontinued." in text(missing_reason)
    done = client.post(
        f"/courses/{course.id}/status", data={"status": "discontinued", "reason": "Moved away"}
    )
    assert done.status_code == 302
    page = text(client.get(done.headers["Location"]))
    assert "The course is now discontinued." in page and "Moved away" in page
    assert {a.status for a in booked} == {"cancelled"}
    assert "Only an admin can reopen" in page


def test_the_front_desk_cannot_change_status(client: Any) -> None:
    signed_in(client, "front_desk")
    course = make_course()
    response = client.post(f"/courses/{course.id}/status", data={"status": "completed"})
    assert response.status_code == 403


def test_a_clinician_edits_the_prescription(client: Any) -> None:
    signed_in(client, "clinician")
    course = make_course()
    assert client.get(f"/courses/{course.id}/edit").status_code == 200
    response = client.post(
        f"/courses/{course.id}/edit",
        data={"planned_sessions": 30, "prescribed_pct_mt": 110, "notes": "Good tolerance"},
    )
    assert response.status_code == 302
    assert (course.planned_sessions, course.prescribed_pct_mt) == (30, 110)


def test_the_course_page_statement_count_does_not_grow(
    app: Any, client: Any, frozen: Any, count_queries: Any
) -> None:
    signed_in(client, "clinician")
    patient = make_patient()
    course = make_course(patient, authorization_id=make_authorization(patient, 36).id)
    add_sessions(course, ["completed", "scheduled"], start=NOW - timedelta(days=1))
    url = f"/courses/{course.id}"

    def statements() -> list[str]:
        with app.app_context(), count_queries() as counter:  # a fresh session, like a request
            assert client.get(url).status_code == 200
        return counter.statements

    few = statements()
    db.session.rollback()  # leave the snapshot the test's session read before the request
    add_sessions(course, ["completed"] * 10, start=NOW - timedelta(days=40))
    add_sessions(course, ["scheduled"] * 20, start=NOW + timedelta(days=3))
    many = statements()
    assert len(many) == len(few), many


def test_the_chart_partial_lists_a_patients_courses(app: Any, frozen: Any) -> None:
    patient = make_patient()
    make_course(patient)
    make_course(patient, protocol_code="10hz-m1-pain", status="completed")
    with app.test_request_context():
        html = render_template_string(
            '{% include "courses/_patient_courses.html" %}', patient=patient
        )
    assert "Treatment courses" in html
    assert "10 Hz rTMS, left DLPFC" in html and "10 Hz rTMS, motor cortex, for pain" in html
    assert "0 of 36" in html and "0 of 15" in html


# --- Protocol administration -----------------------------------------------------------


def test_the_admin_menu_offers_protocols(client: Any) -> None:
    signed_in(client, "admin")
    assert "/admin/protocols" in text(client.get("/admin"))
    page = text(client.get("/admin/protocols"))
    assert "10hz-ldlpfc" in page and "48 min" in page and "37 min 4 s" in page


def test_an_admin_adds_a_protocol_from_the_form(client: Any) -> None:
    signed_in(client, "admin")
    form = {
        "code": "5hz-ldlpfc",
        "name": "5 Hz",
        "indication": "depression",
        "target": "L-DLPFC",
        "frequency_hz": "5",
        "pulses_per_train": "50",
        "train_seconds": "10",
        "inter_train_seconds": "20",
        "trains": "30",
        "total_pulses": "1000",
        "intensity_pct_mt": "110",
        "default_sessions": "30",
        "pattern": "daily_taper",
        "sessions_per_day": "1",
        "setup_buffer_minutes": "10",
        "active": "y",
    }
    wrong = client.post("/admin/protocols/new", data=form)
    assert wrong.status_code == 422 and "is 1500, not 1000" in text(wrong)
    created = client.post("/admin/protocols/new", data=form | {"total_pulses": "1500"})
    assert created.status_code == 302
    assert protocol("5hz-ldlpfc").total_pulses == 1500


def test_an_admin_sets_a_presets_buffer_only(client: Any) -> None:
    signed_in(client, "admin")
    page = text(client.get("/admin/protocols/10hz-ldlpfc"))
    assert "read-only" in page and 'name="trains"' not in page
    response = client.post(
        "/admin/protocols/10hz-ldlpfc", data={"setup_buffer_minutes": "0", "active": "y"}
    )
    assert response.status_code == 302
    assert protocol("10hz-ldlpfc").setup_buffer_minutes == 0


def test_only_admins_manage_protocols(client: Any) -> None:
    signed_in(client, "clinician")
    assert client.get("/admin/protocols").status_code == 403
    assert client.post("/admin/protocols/new", data={}).status_code == 403
