"""Current medications apart from the trial history (CONTRACT 6 and 8): the MME and
diazepam-equivalent load, and which changes ask for a new motor threshold."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clinic import clock
from clinic.courses.models import Course
from clinic.extensions import db
from clinic.patients.medications import diazepam_mg_per_day, mme_per_day
from clinic.patients.models import Medication, Screening
from clinic.treatments.models import MotorThresholdRecheck
from tests.factories import ApiClient, login, make_appointment, make_patient
from tests.outcomes.conftest import START, deliver
from tests.treatments.conftest import add_mt, body

# Worked by hand from the CDC 2022 table: mg per dose x doses a day x factor.
MME_BY_HAND = [
    ("codeine", 30, 4, 18.0),  # 120 mg x 0.15
    ("tapentadol", 50, 2, 40.0),  # 100 mg x 0.4
    ("hydrocodone", 5, 4, 20.0),  # 20 mg x 1
    ("hydromorphone", 2, 4, 40.0),  # 8 mg x 5
    ("methadone", 10, 2, 94.0),  # 20 mg x 4.7
    ("morphine", 15, 2, 30.0),  # 30 mg x 1
    ("Oxycodone ER", 10, 2, 30.0),  # 20 mg x 1.5 (the CDC's own example)
    ("oxymorphone", 5, 2, 30.0),  # 10 mg x 3
    ("tramadol", 50, 4, 40.0),  # 200 mg x 0.2
    ("buprenorphine", 8, 1, None),  # the CDC table gives no factor (partial agonist)
    ("kratom", 2, 2, None),  # not in the table: not guessed
]
# Ashton: mg equivalent to 10 mg diazepam; mg/day x 10 / that.
DIAZEPAM_BY_HAND = [
    ("alprazolam", 0.5, 2, 20.0),  # 1 mg x 10/0.5
    ("clonazepam", 1, 2, 40.0),  # 2 mg x 10/0.5
    ("lorazepam", 1, 3, 30.0),  # 3 mg x 10/1
    ("diazepam", 5, 2, 10.0),
    ("temazepam", 20, 1, 10.0),  # 20 mg x 10/20
]


@pytest.mark.parametrize(("drug", "dose_mg", "per_day", "expected"), MME_BY_HAND)
def test_mme_per_day_follows_the_cdc_2022_table(
    drug: str, dose_mg: float, per_day: float, expected: float | None
) -> None:
    medication = Medication(drug=drug, category="opioid", dose_mg=dose_mg, doses_per_day=per_day)
    assert mme_per_day(medication) == expected


def test_transdermal_fentanyl_is_converted_from_its_rate() -> None:
    patch = Medication(drug="fentanyl", category="opioid", dose_mcg_per_hour=25)
    assert mme_per_day(patch) == 60.0  # 25 mcg/h x 2.4
    assert mme_per_day(Medication(drug="fentanyl", category="opioid", dose_mg=1)) is None


@pytest.mark.parametrize(("drug", "dose_mg", "per_day", "expected"), DIAZEPAM_BY_HAND)
def test_benzodiazepines_in_diazepam_equivalents(
    drug: str, dose_mg: float, per_day: float, expected: float
) -> None:
    medication = Medication(
        drug=drug, category="benzodiazepine", dose_mg=dose_mg, doses_per_day=per_day
    )
    assert diazepam_mg_per_day(medication) == expected
    assert mme_per_day(medication) is None


def test_medications_api_answers_mme_and_checks_fields(api: ApiClient, front_desk: Any) -> None:
    client = api.as_(front_desk)
    patient = make_patient()
    url = f"/api/v1/patients/{patient.id}/medications"
    created = client.post(
        url,
        json={"drug": "oxycodone", "category": "opioid", "dose_mg": 10, "doses_per_day": 2},
    )
    assert created.status_code == 201
    body = created.get_json()
    assert (body["mme_per_day"], body["category"], body["patient_id"]) == (
        30.0,
        "opioid",
        patient.id,
    )
    changed = client.patch(f"/api/v1/medications/{body['id']}", json={"doses_per_day": 3})
    assert (changed.status_code, changed.get_json()["mme_per_day"]) == (200, 45.0)
    listed = client.get(url).get_json()["items"]
    assert [m["drug"] for m in listed] == ["oxycodone"]

    bad = client.post(url, json={"drug": "x", "category": "vitamin", "dose_mg": -1})
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"category", "dose_mg"}
    assert client.post(url, json={"drug": "x"}).status_code == 422  # category required
    stop_first = client.patch(
        f"/api/v1/medications/{body['id']}",
        json={"started_on": "2025-05-01", "stopped_on": "2025-04-01"},
    )
    assert stop_first.status_code == 422
    assert client.patch("/api/v1/medications/999999", json={"dose_mg": 5}).status_code == 404
    assert client.get("/api/v1/patients/999999/medications").status_code == 404


def test_medication_load_on_a_day(api: ApiClient, clinician: Any) -> None:
    client = api.as_(clinician)
    patient = make_patient()
    url = f"/api/v1/patients/{patient.id}/medications"
    for values in (
        {"drug": "oxycodone", "category": "opioid", "dose_mg": 10, "doses_per_day": 2},
        {"drug": "tramadol", "category": "opioid", "dose_mg": 50, "doses_per_day": 4,
         "started_on": "2025-01-01", "stopped_on": "2025-03-01"},
        {"drug": "alprazolam", "category": "benzodiazepine", "dose_mg": 0.5, "doses_per_day": 2},
        {"drug": "sertraline", "category": "antidepressant", "dose_mg": 100, "doses_per_day": 1},
        {"drug": "kratom", "category": "opioid", "dose_mg": 2, "doses_per_day": 2,
         "started_on": "2025-02-10"},
    ):  # fmt: skip
        assert client.post(url, json=values).status_code == 201
    load_url = f"/api/v1/patients/{patient.id}/medication-load"
    in_february = client.get(f"{load_url}?on=2025-02-15").get_json()
    # oxycodone 30 + tramadol 40 (until 1 March) = 70; alprazolam 1 mg = 20 mg diazepam
    assert in_february["mme_per_day"] == 70.0
    assert in_february["benzodiazepine_diazepam_mg_per_day"] == 20.0
    assert in_february["unconverted"] == ["kratom"]
    assert len(in_february["medications"]) == 5
    in_march = client.get(f"{load_url}?on=2025-03-01").get_json()  # tramadol stopped that day
    assert in_march["mme_per_day"] == 30.0
    assert "tramadol" not in [m["drug"] for m in in_march["medications"]]
    today = client.get(load_url).get_json()
    assert today["mme_per_day"] == 30.0
    before_kratom = client.get(f"{load_url}?on=2025-02-01").get_json()
    assert before_kratom["unconverted"] == []
    assert client.get(f"{load_url}?on=someday").status_code == 422


def _rechecks(course: Course) -> list[MotorThresholdRecheck]:
    return list(
        db.session.scalars(
            select(MotorThresholdRecheck).where(MotorThresholdRecheck.course_id == course.id)
        )
    )


def _log_now(client: Any, course: Course) -> Any:
    """Log a full session starting now (the course has a fresh MT from yesterday)."""
    appointment = make_appointment(course, clock.now())
    return client.post(f"/api/v1/appointments/{appointment.id}/treatment", json=body())


def test_editing_a_past_trial_never_asks_for_a_motor_threshold(
    api: ApiClient, clinician: Any, course: Course, frozen: Any
) -> None:
    """Wrong before: any edit of the trial history (typed in for a payer, ended years ago)
    forced a new motor threshold on every running course."""
    client = api.as_(clinician)
    add_mt(course, 50, at=clock.now() - timedelta(days=1))
    trial = client.post(
        f"/api/v1/patients/{course.patient_id}/medication-trials",
        json={"drug": "sertraline", "drug_class": "SSRI", "dose": "150 mg daily",
              "start_date": "2019-01-07", "stop_date": "2019-04-01", "weeks_at_dose": 8,
              "reason_stopped": "no response"},
    )  # fmt: skip
    assert trial.status_code == 201
    edited = client.patch(
        f"/api/v1/medication-trials/{trial.get_json()['id']}", json={"weeks_at_dose": 10}
    )
    assert edited.status_code == 200
    assert _rechecks(course) == []
    screenings = db.session.scalars(select(Screening)).all()
    assert screenings and all(s.repeat_requested_at is None for s in screenings)
    assert _log_now(client, course).status_code == 201


def test_a_current_medication_change_asks_for_an_mt_and_a_new_screening(
    api: ApiClient, clinician: Any, course: Course, frozen: Any
) -> None:
    client = api.as_(clinician)
    add_mt(course, 50, at=clock.now() - timedelta(days=1))
    added = client.post(
        f"/api/v1/patients/{course.patient_id}/medications",
        json={"drug": "bupropion", "category": "antidepressant", "dose_mg": 150,
              "doses_per_day": 1},
    )  # fmt: skip
    assert added.status_code == 201
    assert len(_rechecks(course)) == 1
    screenings = client.get(f"/api/v1/patients/{course.patient_id}/screenings").get_json()
    assert screenings["items"][0]["repeat_requested_at"] is not None
    refused = _log_now(client, course)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "motor_threshold_required"
    # An edit that changes nothing asks for nothing; a dose change asks again.
    url = f"/api/v1/medications/{added.get_json()['id']}"
    client.patch(url, json={"dose_mg": 150})
    assert len(_rechecks(course)) == 1
    client.patch(url, json={"dose_mg": 300})
    assert len(_rechecks(course)) == 2


def test_course_outcomes_carry_the_medication_load_at_start_and_end(
    api: ApiClient, clinician: Any, course: Course
) -> None:
    client = api.as_(clinician)
    url = f"/api/v1/patients/{course.patient_id}/medications"
    client.post(url, json={"drug": "morphine", "category": "opioid", "dose_mg": 30,
                           "doses_per_day": 2, "started_on": "2024-06-01",
                           "stopped_on": "2025-03-05"})  # fmt: skip
    client.post(url, json={"drug": "morphine", "category": "opioid", "dose_mg": 15,
                           "doses_per_day": 2, "started_on": "2025-03-05"})  # fmt: skip
    before = client.get(f"/api/v1/courses/{course.id}/outcomes").get_json()
    assert before["medication_load"]["end"] is None
    deliver(course, 5)  # 3 to 7 March 2025: tapered from 60 to 30 MME on the 5th
    load = client.get(f"/api/v1/courses/{course.id}/outcomes").get_json()["medication_load"]
    assert (load["baseline"]["on"], load["baseline"]["mme_per_day"]) == (
        START.date().isoformat(),
        60.0,
    )
    assert (load["end"]["on"], load["end"]["mme_per_day"]) == ("2025-03-07", 30.0)
    assert load["baseline"]["benzodiazepine_diazepam_mg_per_day"] == 0.0


def test_the_chart_lists_current_medications_apart_from_trials(
    client: Any, front_desk: Any
) -> None:
    patient = make_patient()
    login(client, front_desk)
    page = client.post(
        f"/patients/{patient.id}/current-medications/new",
        data={"drug": "tramadol", "category": "opioid", "dose_mg": "50", "doses_per_day": "2",
              "started_on": "2025-01-02"},
        follow_redirects=True,
    )  # fmt: skip
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Current medications" in html and "Medication trials" in html
    assert "20.0 MME/day" in html  # 100 mg x 0.2
    medication = db.session.scalars(select(Medication)).one()
    edit = client.post(
        f"/patients/current-medications/{medication.id}/edit",
        data={"drug": "tramadol", "category": "opioid", "dose_mg": "50", "doses_per_day": "4",
              "started_on": "2025-01-02"},
        follow_redirects=True,
    )  # fmt: skip
    assert "40.0 MME/day" in edit.get_data(as_text=True)
    refused = client.post(
        f"/patients/{patient.id}/current-medications/new",
        data={"drug": "x", "category": "opioid", "started_on": "2025-02-01",
              "stopped_on": "2025-01-01"},
    )  # fmt: skip
    assert refused.status_code == 422
    assert date(2025, 1, 2) == medication.started_on
