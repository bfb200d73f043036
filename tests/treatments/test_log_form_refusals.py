"""The log form in a technician's day: a refusal keeps everything typed, and "Log session"
is offered only when the service would accept it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from clinic.extensions import db
from clinic.treatments.models import TreatmentLog
from tests.factories import login, make_appointment, make_course, make_patient
from tests.treatments.conftest import NOW, add_mt, days

TYPED = {
    "motor_threshold_pct": "52",
    "motor_threshold_method": "visual",
    "intensity_pct_mt": "110",
    "pulses_delivered": "2900",
    "completed": "y",
    "coil_location": "5.5 cm anterior, 1 cm lateral",
    "side_effects": ["headache", "scalp_discomfort"],
    "comfort_score": "7",
    "adverse_event_type": "",
    "adverse_event_severity": "",
    "notes": "Patient asked for a short break after train 40.",
}


def _post(client: Any, appointment: Any) -> Any:
    # A browser sends its Referer: the old page answered a refusal with a redirect there.
    return client.post(
        f"/appointments/{appointment.id}/log",
        data=TYPED,
        headers={"Referer": f"http://localhost/appointments/{appointment.id}/log"},
    )


def _keeps_everything(page: str) -> None:
    assert 'value="52"' in page and 'value="110"' in page and 'value="2900"' in page
    assert 'value="5.5 cm anterior, 1 cm lateral"' in page
    assert 'value="7"' in page
    assert "Patient asked for a short break after train 40." in page
    assert 'value="headache" checked' in page


def test_a_refused_log_keeps_what_was_typed(
    client: Any, course: Any, frozen: Any, technician: Any
) -> None:
    add_mt(course, 50, at=NOW - days(1))
    appointment = make_appointment(course, NOW)
    course.status = "on_hold"
    db.session.commit()
    login(client, technician)
    response = _post(client, appointment)
    page = response.get_data(as_text=True)
    assert response.status_code == 409, page
    assert "The course is on hold" in page
    _keeps_everything(page)
    assert db.session.scalar(select(TreatmentLog)) is None


def test_a_session_hours_away_is_not_offered_for_logging(
    client: Any, course: Any, frozen: Any, technician: Any
) -> None:
    later = make_appointment(course, NOW + days(9 / 24))
    soon = make_appointment(make_course(make_patient(first_name="Soon")), NOW + days(0.5 / 24))
    login(client, technician)
    today = client.get("/today?scope=clinic").get_data(as_text=True)
    assert f"/appointments/{soon.id}/log" in today
    assert f"/appointments/{later.id}/log" not in today
    opened = client.get(f"/appointments/{later.id}/log", follow_redirects=True)
    assert "starts more than an hour from now" in opened.get_data(as_text=True)
    # Posted anyway (a form left open), the refusal keeps what was typed.
    refused = _post(client, later)
    assert refused.status_code == 409
    _keeps_everything(refused.get_data(as_text=True))


def test_check_in_from_today_with_htmx_answers_the_row(
    client: Any, course: Any, frozen: Any, technician: Any
) -> None:
    add_mt(course, 50, at=NOW - days(1))
    appointment = make_appointment(course, NOW)
    login(client, technician)
    today = client.get("/today").get_data(as_text=True)
    assert f'hx-post="/appointments/{appointment.id}/check-in"' in today
    row = client.post(f"/appointments/{appointment.id}/check-in", headers={"HX-Request": "true"})
    assert row.status_code == 200
    html = row.get_data(as_text=True)
    assert html.lstrip().startswith("<tr") and "is checked in." in html
    assert f"/appointments/{appointment.id}/log" in html  # the next action, in place
