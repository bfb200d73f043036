"""The supervising physician on duty, recorded on every treatment log (Medicare): the API's
`supervisor_id` (default: the course's prescriber), the log form's choice and default,
and the log and course record pages."""

from __future__ import annotations

from typing import Any

from clinic.auth.models import User
from clinic.extensions import db
from clinic.treatments.models import TreatmentLog
from tests.factories import (
    login,
    make_appointment,
    make_course,
    make_patient,
    make_user,
)
from tests.treatments.conftest import NOW, add_mt, body, days, log


def url(appointment: Any) -> str:
    return f"/api/v1/appointments/{appointment.id}/treatment"


def test_the_log_defaults_to_the_prescriber(api: Any, ready: Any, technician: Any) -> None:
    """Wrong before: no log said who supervised the session."""
    answer = api.as_(technician).post(url(ready), json=body())
    assert answer.status_code == 201, answer.json
    assert answer.json["supervisor_id"] == ready.course.prescriber_id


def test_the_log_records_the_physician_named(
    api: Any, ready: Any, technician: Any, frozen: Any
) -> None:
    on_duty = make_user("clinician", name="Dr On Duty")
    answer = api.as_(technician).post(url(ready), json=body(supervisor_id=on_duty.id))
    assert answer.status_code == 201, answer.json
    assert answer.json["supervisor_id"] == on_duty.id
    got = api.as_(technician).get(f"/api/v1/treatments/{answer.json['id']}").json
    assert got["supervisor_id"] == on_duty.id


def test_only_an_active_clinician_supervises(api: Any, ready: Any, technician: Any) -> None:
    retired = make_user("clinician")
    retired.active = False
    db.session.commit()
    for wrong in (technician.id, retired.id, 999999, 0):
        answer = api.as_(technician).post(url(ready), json=body(supervisor_id=wrong))
        assert answer.status_code == 422, (wrong, answer.json)
        assert "supervisor_id" in answer.json["error"]["fields"]
    assert api.as_(technician).post(url(ready), json=body(supervisor_id="1")).status_code == 422
    assert db.session.query(TreatmentLog).count() == 0


def test_without_a_prescriber_the_supervisor_must_be_named(
    api: Any, technician: Any, clinician: Any, frozen: Any
) -> None:
    course = make_course(make_patient())
    add_mt(course, 50, at=NOW - days(1))
    appointment = make_appointment(course, NOW)
    refused = api.as_(technician).post(url(appointment), json=body())
    assert refused.status_code == 422
    assert "supervisor_id" in refused.json["error"]["fields"]
    named = api.as_(technician).post(url(appointment), json=body(supervisor_id=clinician.id))
    assert named.status_code == 201 and named.json["supervisor_id"] == clinician.id


def test_a_wrong_supervisor_is_corrected_by_an_amendment(
    api: Any, ready: Any, technician: Any
) -> None:
    saved = log(ready, technician)
    other = make_user("clinician")
    amended = api.as_(technician).post(
        f"/api/v1/treatments/{saved.id}/amendments",
        json={"field": "supervisor_id", "value": other.id, "reason": "Dr B was on duty"},
    )
    assert amended.status_code == 201, amended.json
    assert amended.json["supervisor_id"] == other.id
    assert amended.json["amendments"][-1]["old_value"] == ready.course.prescriber_id


def test_the_log_form_offers_the_clinicians_and_proposes_the_one_on_duty(
    client: Any, ready: Any, technician: Any, clinician: Any
) -> None:
    on_duty = make_user("clinician", name="Dr Today")
    login(client, technician)
    first = client.get(f"/appointments/{ready.id}/log").get_data(as_text=True)
    assert "Supervising physician on duty" in first
    assert "Dr Today" in first and clinician.name in first
    assert f'<option selected value="{clinician.id}">' in first  # the prescriber
    # Once a log today names Dr Today, the next session's form proposes Dr Today.
    other_course = make_course(make_patient(), prescriber=clinician)
    add_mt(other_course, 50, at=NOW - days(1))
    log(make_appointment(other_course, NOW - days(0.01)), technician, supervisor_id=on_duty.id)
    second = client.get(f"/appointments/{ready.id}/log").get_data(as_text=True)
    assert f'<option selected value="{on_duty.id}">' in second


def test_the_page_records_the_supervisor_and_shows_it_on_the_log_and_record(
    client: Any, ready: Any, technician: Any
) -> None:
    on_duty = make_user("clinician", name="Dr Whitfield")
    login(client, technician)
    response = client.post(
        f"/appointments/{ready.id}/log",
        data={
            "intensity_pct_mt": "120",
            "pulses_delivered": "3000",
            "completed": "y",
            "motor_threshold_method": "visual",
            "supervisor_id": str(on_duty.id),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    saved = db.session.query(TreatmentLog).one()
    assert saved.supervisor_id == on_duty.id
    detail = client.get(f"/treatments/{saved.id}").get_data(as_text=True)
    assert "Supervising physician" in detail and "Dr Whitfield" in detail
    record = client.get(f"/courses/{ready.course_id}/record").get_data(as_text=True)
    assert "Supervised by" in record and "Dr Whitfield" in record


def test_a_technician_cannot_be_chosen_on_the_page(
    client: Any, ready: Any, technician: Any
) -> None:
    login(client, technician)
    response = client.post(
        f"/appointments/{ready.id}/log",
        data={
            "intensity_pct_mt": "120",
            "pulses_delivered": "3000",
            "completed": "y",
            "motor_threshold_method": "visual",
            "supervisor_id": str(technician.id),
        },
    )
    assert response.status_code == 422
    assert db.session.query(TreatmentLog).count() == 0
    assert db.session.get(User, technician.id) is not None
