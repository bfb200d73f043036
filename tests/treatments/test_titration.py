"""Dose titration: a course prescribes steps up to its %MT; the log form proposes the day's
dose by the session's number (clinic.scheduling.progress); a log below it is allowed and
marked; the prescribed %MT stays the cap."""

from __future__ import annotations

from typing import Any

import pytest

from clinic.courses.models import Course
from clinic.extensions import db
from clinic.treatments.models import TreatmentLog
from tests.factories import login, make_appointment, make_course, make_patient
from tests.treatments.conftest import NOW, add_mt, body, days, log

STEPS = [
    {"session": 1, "pct_mt": 100},
    {"session": 2, "pct_mt": 110},
    {"session": 3, "pct_mt": 120},
]


@pytest.fixture
def titrated(clinician: Any, frozen: Any) -> Course:
    course = make_course(make_patient(), prescriber=clinician, titration=STEPS)
    add_mt(course, 50, at=NOW - days(1))
    return course


def session(course: Course, n: int) -> Any:
    """The course's n-th session, n-1 days ago (the last one now)."""
    return make_appointment(course, NOW - days(3 - n), sequence=n)


# --- prescribing ---------------------------------------------------------------------------


def test_a_course_is_prescribed_with_a_titration(api: Any, clinician: Any) -> None:
    patient = make_patient()
    answer = api.as_(clinician).post(
        "/api/v1/courses",
        json={"patient_id": patient.id, "protocol": "10hz-ldlpfc", "titration": STEPS},
    )
    assert answer.status_code == 201, answer.json
    assert answer.json["titration"] == STEPS
    got = api.as_(clinician).get(f"/api/v1/courses/{answer.json['id']}").json
    assert got["titration"] == STEPS


@pytest.mark.parametrize(
    "steps",
    [
        [{"session": 2, "pct_mt": 100}, {"session": 3, "pct_mt": 120}],  # not from session 1
        [{"session": 1, "pct_mt": 100}, {"session": 3, "pct_mt": 110}],  # short of the 120
        [{"session": 1, "pct_mt": 100}, {"session": 2, "pct_mt": 130}],  # above the cap
        [
            {"session": 1, "pct_mt": 110},
            {"session": 2, "pct_mt": 100},
            {"session": 3, "pct_mt": 120},
        ],
        [{"session": 1, "pct_mt": 100}, {"session": 1, "pct_mt": 120}],  # same session twice
        [{"session": 1, "pct_mt": 100}, {"session": 40, "pct_mt": 120}],  # beyond 36 sessions
        [{"session": 1}],
        [{"session": 1, "pct_mt": 120, "extra": 1}],
    ],
)
def test_a_titration_that_does_not_reach_the_prescription_is_refused(
    api: Any, clinician: Any, steps: list[dict[str, Any]]
) -> None:
    answer = api.as_(clinician).post(
        "/api/v1/courses",
        json={"patient_id": make_patient().id, "protocol": "10hz-ldlpfc", "titration": steps},
    )
    assert answer.status_code == 422, answer.json
    assert any(name.startswith("titration") for name in answer.json["error"]["fields"])


def test_changing_the_prescription_keeps_the_titration_consistent(
    api: Any, clinician: Any, titrated: Course
) -> None:
    path = f"/api/v1/courses/{titrated.id}"
    lowered = api.as_(clinician).patch(path, json={"prescribed_pct_mt": 110})
    assert lowered.status_code == 422 and "titration" in lowered.json["error"]["fields"]
    both = api.as_(clinician).patch(
        path,
        json={
            "prescribed_pct_mt": 110,
            "titration": [{"session": 1, "pct_mt": 100}, {"session": 2, "pct_mt": 110}],
        },
    )
    assert both.status_code == 200, both.json
    cleared = api.as_(clinician).patch(path, json={"titration": None})
    assert cleared.status_code == 200 and cleared.json["titration"] is None


def test_the_prescribe_page_takes_a_titration(client: Any, clinician: Any) -> None:
    patient = make_patient()
    login(client, clinician)
    bad = client.post(
        f"/patients/{patient.id}/courses/new",
        data={
            "protocol": "10hz-ldlpfc",
            "prescriber_id": clinician.id,
            "authorization_id": 0,
            "titration": "1:100, 2:110",
        },
    )
    assert bad.status_code == 422
    assert "prescribed 120% MT" in bad.get_data(as_text=True)
    done = client.post(
        f"/patients/{patient.id}/courses/new",
        data={
            "protocol": "10hz-ldlpfc",
            "prescriber_id": clinician.id,
            "authorization_id": 0,
            "titration": "1:100, 2:110, 3:120",
        },
    )
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    course = db.session.query(Course).filter_by(patient_id=patient.id).one()
    assert course.titration == STEPS
    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    assert "100% from session 1, 110% from session 2, 120% from session 3 MT" in page


# --- logging -------------------------------------------------------------------------------


def test_each_log_keeps_its_session_and_the_dose_prescribed_for_it(
    api: Any, titrated: Course, technician: Any
) -> None:
    """Wrong before: no course could prescribe a lower first dose, and a log below the
    prescription was not marked."""
    answers = []
    for n, intensity in ((1, 100), (2, 100), (3, 120)):
        answer = api.as_(technician).post(
            f"/api/v1/appointments/{session(titrated, n).id}/treatment",
            json=body(intensity_pct_mt=intensity),
        )
        assert answer.status_code == 201, answer.json
        answers.append(answer.json)
    assert [
        (a["session_number"], a["prescribed_pct_mt"], a["below_prescribed"]) for a in answers
    ] == [
        (1, 100, False),
        (2, 110, True),
        (3, 120, False),
    ]


def test_the_cap_stays_the_prescribed_pct_mt(api: Any, titrated: Course, technician: Any) -> None:
    answer = api.as_(technician).post(
        f"/api/v1/appointments/{session(titrated, 3).id}/treatment",
        json=body(intensity_pct_mt=121),
    )
    assert answer.status_code == 422
    # Above the day's step but within the prescription is the clinician's call: allowed.
    above_step = api.as_(technician).post(
        f"/api/v1/appointments/{session(titrated, 1).id}/treatment",
        json=body(intensity_pct_mt=110),
    )
    assert above_step.status_code == 201
    assert above_step.json["below_prescribed"] is False


def test_a_session_stopped_early_does_not_advance_the_titration(
    titrated: Course, technician: Any
) -> None:
    first, second, third = (session(titrated, n) for n in (1, 2, 3))  # before any make-up
    log(first, technician, intensity_pct_mt=100)
    log(
        second,
        technician,
        intensity_pct_mt=100,
        completed=False,
        pulses_delivered=900,
        stop_reason="Headache",
    )
    logged = log(third, technician, intensity_pct_mt=110)
    assert (logged.session_number, logged.prescribed_pct_mt) == (2, 110)


def test_an_amended_intensity_is_marked_against_the_sessions_dose(
    api: Any, titrated: Course, technician: Any
) -> None:
    saved = log(session(titrated, 1), technician, intensity_pct_mt=100)
    assert saved.below_prescribed is False
    changed = api.as_(technician).patch(
        f"/api/v1/treatments/{saved.id}", json={"intensity_pct_mt": 90}
    )
    assert changed.json["below_prescribed"] is True


def test_the_log_form_proposes_the_days_dose(
    client: Any, titrated: Course, technician: Any
) -> None:
    log(session(titrated, 1), technician, intensity_pct_mt=100)
    second = make_appointment(titrated, NOW, sequence=2)  # today
    login(client, technician)
    page = client.get(f"/appointments/{second.id}/log").get_data(as_text=True)
    assert 'value="110"' in page
    assert "110% MT, session 2 of the titration" in page
    assert "110% \u00d7 50% MT = 55.0% of machine output" in page
    today = client.get("/today?scope=clinic").get_data(as_text=True)
    assert "titration, session 2" in today


def test_a_log_below_the_dose_is_marked_on_the_pages(
    client: Any, titrated: Course, technician: Any
) -> None:
    log(session(titrated, 1), technician, intensity_pct_mt=100)
    below = log(session(titrated, 2), technician, intensity_pct_mt=100)
    login(client, technician)
    detail = client.get(f"/treatments/{below.id}").get_data(as_text=True)
    assert "below the 110% MT prescribed for session 2" in detail
    record = client.get(f"/courses/{titrated.id}/record").get_data(as_text=True)
    assert record.count('class="below-prescribed"') == 1
    assert "below the 110% prescribed" in record
    assert db.session.query(TreatmentLog).count() == 2


def test_the_edit_page_shows_and_changes_the_titration(
    client: Any, clinician: Any, titrated: Course
) -> None:
    login(client, clinician)
    form = client.get(f"/courses/{titrated.id}/edit").get_data(as_text=True)
    assert 'value="1:100, 2:110, 3:120"' in form
    changed = client.post(
        f"/courses/{titrated.id}/edit",
        data={"planned_sessions": "36", "prescribed_pct_mt": "120", "titration": "1:90, 4:120"},
    )
    assert changed.status_code == 302, changed.get_data(as_text=True)[:2000]
    db.session.expire_all()
    course = db.session.get(Course, titrated.id)
    assert course is not None
    assert course.titration == [{"session": 1, "pct_mt": 90}, {"session": 4, "pct_mt": 120}]
    garbled = client.post(
        f"/courses/{titrated.id}/edit",
        data={"planned_sessions": "36", "prescribed_pct_mt": "120", "titration": "one:90"},
    )
    assert garbled.status_code == 422
    assert "session:%MT" in garbled.get_data(as_text=True)
