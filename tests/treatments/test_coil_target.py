"""The coil target as data (method and measurements), set once per course through
PUT /courses/{id}/coil-target or its page, shown on each log form and on the record; the
free-text coil position on each log keeps working."""

from __future__ import annotations

from typing import Any

import pytest

from clinic.audit.models import AuditEvent
from clinic.extensions import db
from clinic.treatments.models import CoilTarget
from tests.factories import login, make_appointment, make_course, make_patient
from tests.treatments.conftest import NOW, add_mt, body, days

BEAM_F3 = {
    "method": "beam_f3",
    "measurements": {"nasion_inion_cm": 36, "tragus_tragus_cm": 35.5, "head_circumference_cm": 57},
}


def path(course: Any) -> str:
    return f"/api/v1/courses/{course.id}/coil-target"


def test_a_beam_f3_target_is_set_and_read(api: Any, course: Any, technician: Any) -> None:
    """Wrong before: the target was free text on each log, re-typed every session."""
    assert api.as_(technician).get(path(course)).status_code == 404
    saved = api.as_(technician).put(path(course), json=BEAM_F3)
    assert saved.status_code == 200, saved.json
    assert saved.json["method"] == "beam_f3"
    assert saved.json["measurements"] == {
        "nasion_inion_cm": 36.0,
        "tragus_tragus_cm": 35.5,
        "head_circumference_cm": 57.0,
    }
    assert saved.json["summary"] == (
        "Beam F3: nasion-inion 36 cm, tragus-tragus 35.5 cm, head circumference 57 cm"
    )
    assert saved.json["set_by_id"] == technician.id
    assert api.as_(technician).get(path(course)).json == saved.json


def test_setting_it_again_replaces_it_and_the_audit_keeps_the_old(
    api: Any, course: Any, clinician: Any
) -> None:
    api.as_(clinician).put(path(course), json=BEAM_F3)
    navigated = {
        "method": "neuronavigation",
        "measurements": {"mni_x": -38, "mni_y": 44, "mni_z": 26},
    }
    answer = api.as_(clinician).put(path(course), json=navigated)
    assert answer.json["summary"] == "Neuronavigation: MNI x -38 mm, MNI y 44 mm, MNI z 26 mm"
    assert db.session.query(CoilTarget).count() == 1
    changes = db.session.query(AuditEvent).filter_by(entity_type="coil_target").all()
    assert [e.action for e in changes] == ["create", "update"]
    assert changes[1].detail["old"]["method"] == "beam_f3"


@pytest.mark.parametrize(
    ("target", "field"),
    [
        (
            {"method": "beam_f3", "measurements": {"nasion_inion_cm": 36, "tragus_tragus_cm": 35}},
            "measurements.head_circumference_cm",
        ),
        (
            {
                "method": "beam_f3",
                "measurements": {**BEAM_F3["measurements"], "nasion_inion_cm": 3},
            },
            "measurements.nasion_inion_cm",
        ),
        (
            {"method": "5_5cm_rule", "measurements": {"distance_cm": 5.5, "mni_x": 1}},
            "measurements.mni_x",
        ),
        (
            {"method": "5_5cm_rule", "measurements": {"distance_cm": True}},
            "measurements.distance_cm",
        ),
        (
            {"method": "5_5cm_rule", "measurements": {"distance_cm": "5.5"}},
            "measurements.distance_cm",
        ),
        (
            {"method": "neuronavigation", "measurements": {"mni_x": -38, "mni_y": 44}},
            "measurements.mni_z",
        ),
        ({"method": "other"}, "description"),
        ({"method": "f3"}, "method"),
    ],
)
def test_each_method_needs_its_measurements(
    api: Any, course: Any, technician: Any, target: dict[str, Any], field: str
) -> None:
    answer = api.as_(technician).put(path(course), json=target)
    assert answer.status_code == 422, answer.json
    assert field in answer.json["error"]["fields"]
    assert db.session.query(CoilTarget).count() == 0


def test_the_five_point_five_and_other_methods(api: Any, course: Any, technician: Any) -> None:
    rule = api.as_(technician).put(
        path(course), json={"method": "5_5cm_rule", "measurements": {"distance_cm": 5.5}}
    )
    assert rule.json["summary"] == "5.5 cm rule: anterior to the motor hotspot 5.5 cm"
    other = api.as_(technician).put(
        path(course), json={"method": "other", "description": "F3 by EEG cap, 10-20 system"}
    )
    assert other.json["summary"] == "Other: F3 by EEG cap, 10-20 system"


def test_who_may_set_it(api: Any, course: Any, front_desk: Any) -> None:
    assert api.as_(front_desk).put(path(course), json=BEAM_F3).status_code == 403
    assert api.as_(front_desk).get(path(course)).status_code == 404  # read, none set
    closed = make_course(make_patient(), status="completed")
    assert api.as_(front_desk).get(path(closed)).status_code == 404


def test_a_closed_course_keeps_its_target(api: Any, clinician: Any) -> None:
    closed = make_course(make_patient(), status="completed")
    answer = api.as_(clinician).put(path(closed), json=BEAM_F3)
    assert (answer.status_code, answer.json["error"]["code"]) == (409, "course_closed")
    assert (
        api.as_(clinician).put("/api/v1/courses/999999/coil-target", json=BEAM_F3).status_code
        == 404
    )


def test_the_page_sets_it_and_the_log_form_shows_and_prefills_it(
    client: Any, api: Any, course: Any, technician: Any, frozen: Any
) -> None:
    add_mt(course, 50, at=NOW - days(1))  # no coil position recorded yet
    appointment = make_appointment(course, NOW)
    login(client, technician)
    form = client.get(f"/courses/{course.id}/coil-target")
    assert form.status_code == 200 and "No coil target is set" in form.get_data(as_text=True)
    refused = client.post(
        f"/courses/{course.id}/coil-target",
        data={"method": "beam_f3", "nasion_inion_cm": "36", "tragus_tragus_cm": "35.5"},
    )
    assert refused.status_code == 422
    assert "Required for this method." in refused.get_data(as_text=True)
    saved = client.post(
        f"/courses/{course.id}/coil-target",
        data={
            "method": "beam_f3",
            "nasion_inion_cm": "36",
            "tragus_tragus_cm": "35.5",
            "head_circumference_cm": "57",
            "mni_x": "12",  # another method's field: not kept
            "next": f"/appointments/{appointment.id}/log",
        },
    )
    assert saved.status_code == 302
    assert saved.headers["Location"].endswith(f"/appointments/{appointment.id}/log")
    target = db.session.query(CoilTarget).one()
    assert set(target.measurements) == {
        "nasion_inion_cm",
        "tragus_tragus_cm",
        "head_circumference_cm",
    }
    summary = "Beam F3: nasion-inion 36 cm, tragus-tragus 35.5 cm, head circumference 57 cm"
    log_form = client.get(f"/appointments/{appointment.id}/log").get_data(as_text=True)
    assert log_form.count(summary) == 2  # shown from the course, and prefilled as the position
    # The free-text position still works and is what the log records.
    logged = api.as_(technician).post(
        f"/api/v1/appointments/{appointment.id}/treatment",
        json=body(coil_location="F3, 1 cm lateral today"),
    )
    assert logged.json["coil_location"] == "F3, 1 cm lateral today"
    record = client.get(f"/courses/{course.id}/record").get_data(as_text=True)
    assert summary in record
    detail = client.get(f"/treatments/{logged.json['id']}").get_data(as_text=True)
    assert summary in detail and "F3, 1 cm lateral today" in detail
