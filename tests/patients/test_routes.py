"""The intake pages through the Flask test client: what staff see and can do."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from clinic.audit.models import AuditEvent
from clinic.extensions import db
from clinic.patients.intake import create_patient, update_patient
from clinic.patients.models import Authorization, MedicationTrial, Patient, Screening
from clinic.patients.records import add_authorization, add_medication_trial
from clinic.patients.screening import SCREENING_ITEMS, record_screening, sign_off_screening
from tests.factories import count, login, make_patient, make_user
from tests.patients.conftest import answers, audit_count, intake

FORM = {
    "first_name": "Jamie",
    "last_name": "Rivera",
    "date_of_birth": "1980-05-17",
    "sex": "female",
    "phone": "212 555 0123",
    "email": "jamie@example.org",
    "preferred_channel": "sms",
    "sms_consent": "y",
    "diagnoses": "F33.1, g89.29",
    "timezone": "",
    "referring_provider": "Dr. Lee",
    "emergency_contact_name": "",
    "emergency_contact_phone": "",
    "pain_sites": "lower back",
    "pain_duration_months": "18",
    "notes": "",
}


def screening_form(*yes: str) -> dict[str, str]:
    return {code: ("yes" if value else "no") for code, value in answers(*yes).items()}


def test_list_search_and_link_to_chart(client: Any, technician: Any) -> None:
    jamie = make_patient(first_name="Jamie", last_name="Rivera")
    make_patient(first_name="Alex", last_name="Stone")
    login(client, technician)
    page = client.get("/patients/?q=rivera").get_data(as_text=True)
    assert "Rivera, Jamie" in page and "Stone" not in page
    assert f"/patients/{jamie.id}" in page
    assert "New patient" not in page  # technicians read, they do not register


def test_nav_shows_patients(client: Any, front_desk: Any) -> None:
    login(client, front_desk)
    page = client.get("/patients/").get_data(as_text=True)
    assert 'href="/patients/"' in page and "New patient" in page


def test_anonymous_is_sent_to_login(client: Any) -> None:
    response = client.get("/patients/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_register_patient_then_land_on_chart(client: Any, front_desk: Any) -> None:
    login(client, front_desk)
    response = client.post("/patients/new", data=FORM)
    assert response.status_code == 302
    patient = db.session.scalars(select(Patient)).one()
    assert response.headers["Location"].endswith(f"/patients/{patient.id}")
    chart = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert f"MRN {patient.mrn}" in chart
    assert "(212) 555-0123" in chart  # stored +12125550123, shown in national format
    assert "Major depressive disorder, recurrent, moderate" in chart
    assert "G89.29" in chart
    assert "Consented (since" in chart
    assert "Not screened" in chart


def test_invalid_form_shows_inline_errors_and_saves_nothing(client: Any, front_desk: Any) -> None:
    login(client, front_desk)
    response = client.post(
        "/patients/new",
        data={**FORM, "phone": "12", "diagnoses": "sad", "date_of_birth": "2999-01-01"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "There are 3 problems with this form" in page
    assert "Not a valid phone number" in page
    assert "Not an ICD-10-CM code" in page
    assert "Must not be in the future" in page
    assert 'aria-invalid="true"' in page
    assert count(Patient) == 0


def test_technician_may_not_register(client: Any, technician: Any) -> None:
    login(client, technician)
    assert client.post("/patients/new", data=FORM).status_code == 403
    assert count(Patient) == 0


def test_edit_patient_and_withdraw_consent(client: Any, front_desk: Any) -> None:
    patient = create_patient(
        intake(phone="2125550123", sms_consent=True, diagnoses=["F33.1"]), actor_id=None
    )
    db.session.commit()
    login(client, front_desk)
    form = client.get(f"/patients/{patient.id}/edit").get_data(as_text=True)
    assert 'value="F33.1"' in form and 'value="Jamie"' in form
    data = {**FORM, "preferred_channel": "none", "diagnoses": "F33.2"}
    del data["sms_consent"]
    assert client.post(f"/patients/{patient.id}/edit", data=data).status_code == 302
    db.session.expire_all()
    patient = db.session.get(Patient, patient.id)
    assert patient.sms_consent is False and patient.sms_consent_at is not None
    assert [d.code for d in patient.diagnoses] == ["F33.2"]
    chart = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "No consent (withdrawn" in chart


def test_chart_read_is_audited_and_viewers_listed(client: Any, technician: Any) -> None:
    patient = make_patient()
    login(client, technician)
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Who viewed this chart lately" in page and technician.name in page
    views = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "view", AuditEvent.patient_id == patient.id)
    ).all()
    assert [(v.actor_id, v.entity_type) for v in views] == [(technician.id, "patient")]


def test_chart_has_every_section_and_the_courses_block(client: Any, technician: Any) -> None:
    patient = make_patient(screened=None)
    login(client, technician)
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    for section in (
        'id="demographics"',
        'id="contact"',
        'id="diagnoses"',
        'id="screening"',
        'id="medications"',
        'id="authorizations"',
        'id="courses"',
        'id="viewers"',
    ):
        assert section in page
    assert "No treatment course yet." in page
    assert "Record screening" not in page  # technicians cannot screen


def test_unknown_chart_is_404_page(client: Any, technician: Any) -> None:
    login(client, technician)
    assert client.get("/patients/424242").status_code == 404
    assert client.get("/patients/99999999999999999999999").status_code == 404


def test_screening_form_groups_items_and_records_result(client: Any, front_desk: Any) -> None:
    patient = make_patient(screened=None)
    login(client, front_desk)
    form = client.get(f"/patients/{patient.id}/screenings/new").get_data(as_text=True)
    assert form.count("<fieldset") >= len(SCREENING_ITEMS) + 2
    assert "Absolute contraindications" in form and "Relative contraindications" in form
    response = client.post(
        f"/patients/{patient.id}/screenings/new", data=screening_form("seizure_history")
    )
    assert response.status_code == 302
    chart = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Needs review" in chart and "Awaiting" in chart
    assert "Has the patient ever had a seizure or epilepsy?" in chart


def test_unanswered_screening_items_are_flagged_inline(client: Any, front_desk: Any) -> None:
    patient = make_patient(screened=None)
    login(client, front_desk)
    data = screening_form()
    del data["pregnancy"], data["metal_in_head"]
    response = client.post(f"/patients/{patient.id}/screenings/new", data=data)
    assert response.status_code == 422
    assert response.get_data(as_text=True).count("Answer yes or no.") >= 2
    assert count(Screening) == 0


def test_clinician_signs_off_from_the_chart(client: Any, front_desk: Any, clinician: Any) -> None:
    patient = make_patient(screened=None)
    screening = record_screening(patient, answers("pregnancy"), None, front_desk.id)
    db.session.commit()
    login(client, clinician)
    chart = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert f"/patients/screenings/{screening.id}/sign-off" in chart
    page = client.get(f"/patients/screenings/{screening.id}/sign-off").get_data(as_text=True)
    assert "Is the patient pregnant or possibly pregnant?" in page
    empty = client.post(f"/patients/screenings/{screening.id}/sign-off", data={"note": ""})
    assert empty.status_code == 422
    done = client.post(
        f"/patients/screenings/{screening.id}/sign-off", data={"note": "Negative test."}
    )
    assert done.status_code == 302
    chart = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Signed off" in chart and "Negative test." in chart
    again = client.post(f"/patients/screenings/{screening.id}/sign-off", data={"note": "again"})
    assert again.status_code == 302  # back to the chart with the reason flashed
    assert "already signed off" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_front_desk_cannot_sign_off(client: Any, front_desk: Any) -> None:
    patient = make_patient(screened=None)
    screening = record_screening(patient, answers("pregnancy"), None, front_desk.id)
    db.session.commit()
    login(client, front_desk)
    assert "Review and sign off" not in client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert client.get(f"/patients/screenings/{screening.id}/sign-off").status_code == 403


def test_medication_trial_pages(client: Any, clinician: Any) -> None:
    patient = make_patient()
    login(client, clinician)
    bad = client.post(
        f"/patients/{patient.id}/medications/new",
        data={"drug": "Sertraline", "start_date": "2025-03-01", "stop_date": "2025-01-01"},
    )
    assert bad.status_code == 422 and "Must not be before start date" in bad.get_data(True)
    ok = client.post(
        f"/patients/{patient.id}/medications/new",
        data={"drug": "Sertraline", "drug_class": "SSRI", "weeks_at_dose": "8"},
    )
    assert ok.status_code == 302
    trial = db.session.scalars(select(MedicationTrial)).one()
    edit = client.post(
        f"/patients/medications/{trial.id}/edit", data={"drug": "Sertraline", "dose": "150 mg"}
    )
    assert edit.status_code == 302
    assert "150 mg" in client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert client.post(f"/patients/medications/{trial.id}/delete").status_code == 302
    assert count(MedicationTrial) == 0


def test_authorization_pages(client: Any, front_desk: Any) -> None:
    patient = make_patient()
    login(client, front_desk)
    response = client.post(
        f"/patients/{patient.id}/authorizations/new",
        data={"payer": "Aetna", "sessions_authorized": "36", "valid_from": "2026-03-01"},
    )
    assert response.status_code == 302
    authorization = db.session.scalars(select(Authorization)).one()
    bad = client.post(
        f"/patients/authorizations/{authorization.id}/edit",
        data={"payer": "Aetna", "sessions_authorized": "-3"},
    )
    assert bad.status_code == 422
    assert "Aetna" in client.get(f"/patients/{patient.id}").get_data(as_text=True)


# --- statement counts: a page's queries do not grow with the data ------------------------


def _statements(client: Any, count_queries: Any, path: str) -> int:
    db.session.expire_all()  # the test shares the app's session: start as a fresh request would
    with count_queries() as counter:
        assert client.get(path).status_code == 200
    return counter.count


def test_list_statement_count_does_not_grow(
    client: Any, technician: Any, count_queries: Any
) -> None:
    login(client, technician)
    for _ in range(2):
        create_patient(intake(diagnoses=["F33.1"]), actor_id=None, allow_duplicate=True)
    db.session.commit()
    few = _statements(client, count_queries, "/patients/")
    for n in range(25):
        create_patient(intake(first_name=f"P{n}", diagnoses=["F33.1", "M79.7"]), actor_id=None)
    db.session.commit()
    assert _statements(client, count_queries, "/patients/") == few


def test_chart_statement_count_does_not_grow(
    client: Any, front_desk: Any, clinician: Any, count_queries: Any
) -> None:
    patient = create_patient(intake(diagnoses=["F33.1"]), actor_id=None)
    record_screening(patient, answers("pregnancy"), None, front_desk.id)
    add_medication_trial(patient, {"drug": "A"}, actor_id=None)
    add_authorization(patient, {"payer": "X", "sessions_authorized": 1}, actor_id=None)
    db.session.commit()
    login(client, clinician)
    path = f"/patients/{patient.id}"
    few = _statements(client, count_queries, path)
    for n in range(8):
        screening = record_screening(patient, answers("pregnancy"), None, front_desk.id)
        sign_off_screening(screening.id, "ok", actor_id=clinician.id)
        add_medication_trial(patient, {"drug": f"Drug {n}"}, actor_id=None)
        add_authorization(patient, {"payer": f"P{n}", "sessions_authorized": 1}, actor_id=None)
    update_patient(patient, {"diagnoses": ["F33.1", "G89.29", "M79.7"]}, actor_id=None)
    db.session.commit()
    for _ in range(5):
        client.get(path)  # more viewers
    assert _statements(client, count_queries, path) == few


# --- fuzzing the patient form: 4xx with a message, never 5xx, nothing half-written -------

form_text = st.text(max_size=120) | st.text(alphabet=st.characters(codec="utf-8"), max_size=400)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.dictionaries(
        st.sampled_from([*FORM, "unexpected"]),
        form_text | st.integers(min_value=-(10**30), max_value=10**30).map(str),
        max_size=len(FORM) + 1,
    )
)
def test_fuzz_patient_form(client: Any, front_desk: Any, data: dict[str, str]) -> None:
    if not client.get_cookie("session"):
        login(client, front_desk)
    before, audits = count(Patient), audit_count()
    response = client.post("/patients/new", data=data)
    assert response.status_code in (302, 422)
    if response.status_code == 422:
        page = response.get_data(as_text=True)
        assert "problem" in page or "NUL character" in page
        assert (count(Patient), audit_count()) == (before, audits)


def test_every_role_reads_the_chart(app: Any) -> None:
    patient = make_patient()
    for role in ("admin", "front_desk", "clinician", "technician"):
        client = app.test_client()
        login(client, make_user(role))
        assert client.get(f"/patients/{patient.id}").status_code == 200, role
