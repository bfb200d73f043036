"""The pages: today, the log form, a log, the review queue and the printable record."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from clinic.extensions import db
from clinic.treatments.models import TreatmentLog
from clinic.treatments.review import review_treatment, sign_treatment
from tests.factories import (
    login,
    make_appointment,
    make_course,
    make_device,
    make_patient,
    make_user,
)
from tests.treatments.conftest import NOW, add_mt, days, log


def text(response: Any) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def ready(course: Any, frozen: Any) -> Any:
    add_mt(course, 50, at=NOW - days(2), coil_location="5 cm anterior to APB spot")
    return make_appointment(course, NOW, device=make_device("Chair A"))


def test_today_lists_my_sessions_and_unassigned_ones(
    client: Any, course: Any, frozen: Any, technician: Any
) -> None:
    other = make_user("technician")
    mine = make_appointment(course, NOW + days(1 / 24), technician_id=technician.id)
    make_appointment(make_course(make_patient(first_name="Unassigned")), NOW)
    make_appointment(make_course(make_patient(first_name="Theirs")), NOW, technician_id=other.id)
    make_appointment(make_course(make_patient(first_name="Tomorrow")), NOW + days(1))
    login(client, technician)
    page = text(client.get("/today"))
    assert "Robin" in page and "Unassigned" in page
    assert "Theirs" not in page and "Tomorrow" not in page
    assert page.index("Unassigned") < page.index("Robin")  # in order of time
    assert f"/appointments/{mine.id}/log" in page
    whole = text(client.get("/today?scope=clinic"))
    assert "Theirs" in whole and "Show only my sessions" in whole


def test_today_shows_the_last_threshold_the_dose_and_what_is_due(
    client: Any, ready: Any, course: Any, technician: Any
) -> None:
    make_appointment(make_course(make_patient(first_name="Newcomer")), NOW)
    login(client, technician)
    page = text(client.get("/today"))
    assert "50%" in page and "08 Mar 2026" in page
    assert "120% MT = 60.0% output" in page
    assert "Motor threshold due" in page  # the newcomer's first session


def test_check_in_from_today(client: Any, ready: Any, technician: Any) -> None:
    login(client, technician)
    response = client.post(f"/appointments/{ready.id}/check-in", data={"next": "/today"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/today")
    db.session.expire_all()
    assert ready.status == "checked_in" and ready.technician_id == technician.id
    assert "is checked in" in text(client.get("/today"))


def test_a_form_never_sends_back_to_another_site(client: Any, ready: Any, technician: Any) -> None:
    login(client, technician)
    response = client.post(f"/appointments/{ready.id}/check-in", data={"next": "/\\evil.example/x"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/today"


def test_today_is_for_those_who_log(client: Any, front_desk: Any) -> None:
    login(client, front_desk)
    assert client.get("/today").status_code == 403


def test_today_statement_count_does_not_grow(
    client: Any, course: Any, frozen: Any, technician: Any, count_queries: Any
) -> None:
    def add_session(n: int) -> None:
        other = make_course(make_patient(first_name=f"P{n}"), prescriber=course.prescriber)
        add_mt(other, 40 + n, at=NOW - days(1), coil_location=f"spot {n}")
        earlier = make_appointment(other, NOW - days(1))
        log(earlier, None, coil_location=f"spot {n}")
        # an hour apart: one technician never runs two overlapping sessions (a database rule)
        make_appointment(other, NOW + days(n / 24), technician_id=technician.id)

    add_session(1)
    login(client, technician)
    db.session.expire_all()
    with count_queries() as few:
        assert client.get("/today").status_code == 200
    for n in range(2, 8):
        add_session(n)
    db.session.expire_all()
    with count_queries() as many:
        page = text(client.get("/today"))
    assert "P7" in page
    assert many.count == few.count, "\n".join(few.statements)


def test_log_form_is_prefilled_from_the_course(client: Any, ready: Any, technician: Any) -> None:
    login(client, technician)
    page = text(client.get(f"/appointments/{ready.id}/log"))
    assert 'name="intensity_pct_mt" type="number" value="120"' in page or 'value="120"' in page
    assert 'value="3000"' in page
    assert 'value="5 cm anterior to APB spot"' in page
    assert "120% \u00d7 50% MT = 60.0% of machine output" in page
    assert "3000" in page and "10.0 Hz" in page


def test_logging_a_session_from_the_form_then_signing(
    client: Any, ready: Any, technician: Any
) -> None:
    login(client, technician)
    response = client.post(
        f"/appointments/{ready.id}/log",
        data={
            "motor_threshold_method": "visual",
            "intensity_pct_mt": "110",
            "pulses_delivered": "3000",
            "completed": "y",
            "coil_location": "F3",
            "side_effects": ["headache"],
            "comfort_score": "8",
            "adverse_event_type": "",
            "adverse_event_severity": "",
        },
    )
    assert response.status_code == 302, text(response)[:2000]
    saved = db.session.scalar(select(TreatmentLog))
    assert saved.intensity_pct_mt == 110 and saved.side_effects == ["headache"]
    detail = text(client.get(response.headers["Location"]))
    assert "Sign log" in detail and "55.0% of machine output" in detail
    assert client.post(f"/treatments/{saved.id}/sign").status_code == 302
    signed = text(client.get(f"/treatments/{saved.id}"))
    assert "Sign log" not in signed and "Signed" in signed
    # The form page of a logged session leads to the log.
    assert client.get(f"/appointments/{ready.id}/log").status_code == 302


def test_the_form_shows_the_rules_next_to_the_fields(
    client: Any, course: Any, frozen: Any, technician: Any
) -> None:
    appointment = make_appointment(course, NOW)
    login(client, technician)
    page = text(client.get(f"/appointments/{appointment.id}/log"))
    assert "Motor threshold required." in page
    base = {"motor_threshold_method": "visual", "pulses_delivered": "3000", "completed": "y"}
    missing_mt = client.post(
        f"/appointments/{appointment.id}/log", data={**base, "intensity_pct_mt": "120"}
    )
    assert missing_mt.status_code == 422
    assert "measure it at the first session" in text(missing_mt)
    too_strong = client.post(
        f"/appointments/{appointment.id}/log",
        data={**base, "intensity_pct_mt": "125", "motor_threshold_pct": "50"},
    )
    assert too_strong.status_code == 422
    assert "may never exceed it" in text(too_strong)
    assert db.session.scalar(select(TreatmentLog)) is None


def test_amendment_from_the_log_page_shows_in_history(
    client: Any, ready: Any, technician: Any
) -> None:
    saved = log(ready, technician)
    sign_treatment(saved.id, technician.id)
    db.session.commit()
    login(client, technician)
    response = client.post(
        f"/treatments/{saved.id}/amendments",
        data={"field": "pulses_delivered", "value": "2800", "reason": "device counter"},
    )
    assert response.status_code == 302
    page = text(client.get(f"/treatments/{saved.id}"))
    assert "device counter" in page and "2800" in page and technician.name in page
    bad = client.post(
        f"/treatments/{saved.id}/amendments",
        data={"field": "pulses_delivered", "value": "lots", "reason": "x"},
        headers={"Referer": f"/treatments/{saved.id}"},
    )
    assert bad.status_code == 302
    assert "whole number" in text(client.get(f"/treatments/{saved.id}"))


def test_review_queue_single_and_bulk(
    client: Any, course: Any, frozen: Any, technician: Any, clinician: Any
) -> None:
    add_mt(course, 50)
    first = log(make_appointment(course, NOW - days(3)), technician)
    second = log(make_appointment(course, NOW - days(2), sequence=2), technician)
    third = log(
        make_appointment(course, NOW - days(1), sequence=3),
        technician,
        adverse_event={"type": "other", "severity": "mild", "description": "jaw ache"},
    )
    sign_treatment(second.id, technician.id)
    db.session.commit()
    login(client, clinician)
    page = text(client.get("/review"))
    assert "Adverse events" in page and "jaw ache" in page
    assert "Not signed" in page and "Signed, not reviewed" in page
    assert client.post("/review", data={"single": str(third.id)}).status_code == 302
    client.post("/review", data={"selected": [str(first.id), str(second.id)]})
    db.session.expire_all()
    assert all(x.reviewed_by_id == clinician.id for x in (first, second, third))
    assert "Nothing to review." in text(client.get("/review"))


def test_review_queue_statement_count_does_not_grow(
    client: Any, frozen: Any, technician: Any, clinician: Any, count_queries: Any
) -> None:
    def add_logs(n: int) -> None:
        course = make_course(make_patient(first_name=f"Q{n}"), prescriber=clinician)
        add_mt(course, 50)
        for k in range(2):
            saved = log(make_appointment(course, NOW - days(k + 1), sequence=k + 1), technician)
            if k:
                sign_treatment(saved.id, technician.id)
        db.session.commit()

    add_logs(1)
    login(client, clinician)
    db.session.expire_all()
    with count_queries() as few:
        client.get("/review")
    for n in range(2, 6):
        add_logs(n)
    db.session.expire_all()
    with count_queries() as many:
        assert "Q5" in text(client.get("/review"))
    assert many.count == few.count


def test_review_queue_is_for_reviewers(client: Any, technician: Any) -> None:
    login(client, technician)
    assert client.get("/review").status_code == 403


def test_course_record_prints_every_session(
    client: Any, course: Any, frozen: Any, technician: Any, clinician: Any, count_queries: Any
) -> None:
    add_mt(course, 50, at=NOW - days(10))
    saved = log(make_appointment(course, NOW - days(9)), technician, side_effects=["tinnitus"])
    review_treatment(saved.id, clinician.id)
    db.session.commit()
    login(client, make_user("front_desk"))
    db.session.expire_all()
    with count_queries() as few:
        page = text(client.get(f"/courses/{course.id}/record"))
    assert "TMS course record" in page and course.patient.mrn in page
    assert "tinnitus" in page and "60.0" in page and clinician.name in page
    assert "data-print" in page
    for n in range(2, 8):
        add_mt(course, 50, at=NOW - days(10 - n))
        log(make_appointment(course, NOW - days(10 - n), sequence=n), technician)
    db.session.expire_all()
    with count_queries() as many:
        client.get(f"/courses/{course.id}/record")
    assert many.count == few.count, "\n".join(s[:150] for s in many.statements)
    assert client.get("/courses/999999/record").status_code == 404


def test_a_cancelled_session_has_no_log_form(
    client: Any, course: Any, frozen: Any, technician: Any
) -> None:
    cancelled = make_appointment(course, NOW, status="cancelled")
    login(client, technician)
    response = client.get(f"/appointments/{cancelled.id}/log")
    assert response.status_code == 302 and response.headers["Location"].endswith("/today")
