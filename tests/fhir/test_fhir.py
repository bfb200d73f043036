"""The FHIR R4 read API, each answer parsed by `fhir.resources` (its R4B models: R4B
changed none of the resources served here)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from clinic.audit.models import AuditEvent
from clinic.extensions import db
from clinic.treatments.thresholds import record_motor_threshold
from clinic.treatments.treatment_log import log_treatment
from tests.factories import make_appointment, make_device

PREFIXES = ("/fhir", "/api/v1/fhir")
NOW = datetime(2026, 3, 20, 17, 0, tzinfo=UTC)
FIRST = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # Monday 09:00 in New York


@pytest.fixture
def frozen_at() -> datetime:
    return NOW


@pytest.fixture
def history(course: Any, clinician: Any, api: Any, frozen: Any) -> Any:
    """Three sessions: delivered (MT measured), delivered, stopped early; and a week later
    one delivered with a new MT; two PHQ-9s and a PEG-3."""
    device = make_device()
    record_motor_threshold(
        course.id, clinician.id, value_pct=50, method="visual", measured_at=FIRST
    )
    starts = [
        FIRST,
        FIRST + timedelta(days=1),
        FIRST + timedelta(days=2),
        FIRST + timedelta(days=8),
    ]
    appointments = [
        make_appointment(course, start, device=device, sequence=n + 1)
        for n, start in enumerate(starts)
    ]
    record_motor_threshold(
        course.id, clinician.id, value_pct=52, method="visual", measured_at=starts[3]
    )
    for appointment, completed in zip(appointments, (True, True, False, True), strict=True):
        log_treatment(
            appointment.id,
            clinician.id,
            intensity_pct_mt=100,
            pulses_delivered=3000 if completed else 100,
            completed=completed,
            stop_reason=None if completed else "discomfort",
        )
    db.session.commit()
    client = api.as_(clinician)
    for instrument, answers in (
        ("PHQ-9", [2, 2, 2, 2, 2, 2, 2, 2, 0]),
        ("PEG-3", [5, 6, 6]),
        ("PHQ-9", [1, 1, 1, 1, 1, 1, 1, 1, 0]),
    ):
        response = client.post(
            f"/api/v1/patients/{course.patient_id}/responses",
            json={"instrument": instrument, "answers": answers, "course_id": course.id},
        )
        assert response.status_code == 201, response.json
    return course


def _get(api: Any, user: Any, path: str) -> Any:
    response = api.as_(user).get(path)
    assert response.mimetype == "application/fhir+json", (path, response.status_code)
    return response


def _entries(bundle: dict[str, Any], kind: type[Any]) -> list[Any]:
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset"
    return [kind.model_validate(entry["resource"]) for entry in bundle["entry"]]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_capability_statement_needs_no_token(client: Any, prefix: str) -> None:
    response = client.get(f"{prefix}/metadata")
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    statement = CapabilityStatement.model_validate(response.json)
    assert statement.fhirVersion == "4.0.1"
    kinds = {resource.type for resource in statement.rest[0].resource}
    assert {"Patient", "Observation", "Procedure", "Appointment"} <= kinds


@pytest.mark.parametrize("prefix", PREFIXES)
def test_patient_carries_the_mrn_and_the_read_is_audited(
    api: Any, technician: Any, course: Any, prefix: str
) -> None:
    response = _get(api, technician, f"{prefix}/Patient/{course.patient_id}")
    assert response.status_code == 200
    patient = Patient.model_validate(response.json)
    assert patient.identifier[0].value == course.patient.mrn
    assert patient.identifier[0].type.coding[0].code == "MR"
    assert patient.name[0].given == ["Robin"]
    views = db.session.query(AuditEvent).filter_by(action="view", patient_id=course.patient_id)
    assert any(event.detail.get("section") == "fhir:Patient" for event in views)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_errors_are_operation_outcomes(api: Any, client: Any, clinician: Any, prefix: str) -> None:
    missing = _get(api, clinician, f"{prefix}/Patient/424242")
    assert missing.status_code == 404
    outcome = OperationOutcome.model_validate(missing.json)
    assert outcome.issue[0].code == "not-found"
    anonymous = client.get(f"{prefix}/Patient/1")
    assert anonymous.status_code == 401
    assert OperationOutcome.model_validate(anonymous.json).issue[0].code == "login"
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    unserved = _get(api, clinician, f"{prefix}/Medication/1")
    assert unserved.status_code == 404
    OperationOutcome.model_validate(unserved.json)
    no_patient = _get(api, clinician, f"{prefix}/Observation")
    assert no_patient.status_code == 400  # FHIR's answer to a search it cannot run
    assert OperationOutcome.model_validate(no_patient.json).issue[0].code == "invalid"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_observations_are_loinc_coded_totals_searchable_by_code(
    api: Any, clinician: Any, history: Any, prefix: str
) -> None:
    patient = history.patient_id
    everything = _entries(
        _get(api, clinician, f"{prefix}/Observation?patient={patient}").json, Observation
    )
    assert len(everything) == 3
    phq9 = _get(
        api, clinician, f"{prefix}/Observation?patient={patient}&code=http://loinc.org|44261-6"
    )
    observations = _entries(phq9.json, Observation)
    assert [o.valueInteger for o in observations] == [16, 8]
    assert all(o.code.coding[0].system == "http://loinc.org" for o in observations)
    assert observations[0].subject.reference == f"Patient/{patient}"
    assert observations[0].effectiveDateTime is not None
    peg = _get(api, clinician, f"{prefix}/Observation?patient=Patient/{patient}&code=91147-9")
    [pain] = _entries(peg.json, Observation)
    assert pain.valueQuantity is not None and float(pain.valueQuantity.value) == pytest.approx(
        5.7, 0.01
    )


def test_questionnaire_responses_and_appointments(api: Any, clinician: Any, history: Any) -> None:
    patient = history.patient_id
    answers = _entries(
        _get(api, clinician, f"/fhir/QuestionnaireResponse?patient={patient}").json,
        QuestionnaireResponse,
    )
    assert [len(a.item) for a in answers] == [9, 3, 9]
    assert answers[0].item[8].answer[0].valueInteger == 0
    appointments = _entries(
        _get(api, clinician, f"/fhir/Appointment?patient={patient}").json, Appointment
    )
    # The four logged sessions, then the make-up the stopped one earned.
    assert [a.status for a in appointments] == ["fulfilled"] * 4 + ["booked"]
    assert all("Patient" in a.participant[0].actor.reference for a in appointments)


def test_a_procedure_per_delivered_treatment_coded_with_its_cpt(
    api: Any, technician: Any, history: Any
) -> None:
    procedures = _entries(
        _get(api, technician, f"/api/v1/fhir/Procedure?patient={history.patient_id}").json,
        Procedure,
    )
    codes = [p.code.coding[0].code for p in procedures]
    assert codes == ["90867", "90868", "90869"]  # the stopped session is no procedure
    assert all(p.code.coding[0].system == "http://www.ama-assn.org/go/cpt" for p in procedures)


def test_outcomes_bulk_export_is_ndjson(api: Any, clinician: Any, history: Any) -> None:
    response = api.as_(clinician).get(f"/fhir/outcomes.ndjson?course={history.id}")
    assert response.status_code == 200 and response.mimetype == "application/fhir+ndjson"
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(lines) == 6
    for line in lines:
        kind = {"QuestionnaireResponse": QuestionnaireResponse, "Observation": Observation}
        kind[line["resourceType"]].model_validate(line)
    clinic_wide = api.as_(clinician).get("/api/v1/fhir/outcomes.ndjson")
    assert len(clinic_wide.get_data(as_text=True).splitlines()) == 6
