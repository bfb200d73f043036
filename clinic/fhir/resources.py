"""Our rows as FHIR R4 resources (plain dicts; the tests validate them with
`fhir.resources`). Nothing here reads the database: `routes` loads, audits and calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app

from clinic.outcomes.catalog import get_instrument
from clinic.outcomes.models import QuestionnaireResponse
from clinic.patients.models import Patient
from clinic.scheduling.models import Appointment
from clinic.treatments.models import TreatmentLog

LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
MRN_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
APPOINTMENT_STATUS = {
    "scheduled": "booked",
    "checked_in": "arrived",
    "completed": "fulfilled",
    "incomplete": "fulfilled",
    "cancelled": "cancelled",
    "no_show": "noshow",
}
GENDER = {"female": "female", "male": "male", "other": "other"}


def _instant(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _mrn_system() -> str:
    return current_app.config["CLINIC_BASE_URL"].rstrip("/") + "/mrn"


def patient(row: Patient) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(row.id),
        "identifier": [
            {"use": "usual", "type": MRN_TYPE, "system": _mrn_system(), "value": row.mrn}
        ],
        "name": [{"use": "official", "family": row.last_name, "given": [row.first_name]}],
        "birthDate": row.date_of_birth.isoformat(),
        "gender": GENDER.get((row.sex or "").lower(), "unknown"),
    }
    telecom = []
    if row.phone:
        telecom.append({"system": "phone", "value": row.phone})
    if row.email:
        telecom.append({"system": "email", "value": row.email})
    if telecom:
        resource["telecom"] = telecom
    return resource


def _subject(patient_id: int) -> dict[str, str]:
    return {"reference": f"Patient/{patient_id}"}


def observation(row: QuestionnaireResponse) -> dict[str, Any]:
    """A questionnaire's total, coded with the instrument's LOINC score code."""
    instrument = get_instrument(row.instrument)
    value: dict[str, Any]
    if float(row.score).is_integer():
        value = {"valueInteger": int(row.score)}
    else:
        value = {
            "valueQuantity": {
                "value": row.score,
                "unit": "{score}",
                "system": "http://unitsofmeasure.org",
                "code": "{score}",
            }
        }
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"qr-{row.id}",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "survey",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {"system": LOINC, "code": instrument.loinc_score, "display": instrument.name}
            ],
            "text": f"{instrument.code} total score",
        },
        "subject": _subject(row.patient_id),
        "effectiveDateTime": _instant(row.answered_at),
        "derivedFrom": [{"reference": f"QuestionnaireResponse/{row.id}"}],
        **value,
    }
    if row.severity:
        resource["interpretation"] = [{"text": row.severity}]
    return resource


def observation_code(row: QuestionnaireResponse) -> str:
    return get_instrument(row.instrument).loinc_score


def questionnaire_response(row: QuestionnaireResponse) -> dict[str, Any]:
    instrument = get_instrument(row.instrument)
    items = []
    for item, answer in zip(instrument.items, row.answers, strict=False):
        entry: dict[str, Any] = {
            "linkId": str(item.number),
            "text": item.text,
            "answer": [{"valueInteger": int(answer)}],
        }
        if item.loinc:
            entry["definition"] = f"{LOINC}/{item.loinc}"
        items.append(entry)
    return {
        "resourceType": "QuestionnaireResponse",
        "id": str(row.id),
        "questionnaire": f"{LOINC}/q/{instrument.loinc_panel}",
        "status": "completed",
        "subject": _subject(row.patient_id),
        "authored": _instant(row.answered_at),
        "item": items,
    }


def appointment(row: Appointment) -> dict[str, Any]:
    """When and where; nothing clinical beyond the patient reference."""
    status = APPOINTMENT_STATUS.get(row.status, "booked")
    return {
        "resourceType": "Appointment",
        "id": str(row.id),
        "status": status,
        "start": _instant(row.starts_at),
        "end": _instant(row.ends_at),
        "participant": [
            {"actor": _subject(row.patient_id), "status": "accepted"},
            {"actor": {"reference": f"Device/{row.device_id}"}, "status": "accepted"},
        ],
    }


def procedure(row: TreatmentLog, cpt: str) -> dict[str, Any]:
    """A delivered treatment session, coded with its CPT."""
    return {
        "resourceType": "Procedure",
        "id": str(row.id),
        "status": "completed",
        "code": {
            "coding": [{"system": CPT, "code": cpt}],
            "text": "Transcranial magnetic stimulation treatment session",
        },
        "subject": _subject(row.patient_id),
        "performedDateTime": _instant(row.appointment.starts_at),
    }


def bundle(resources: list[dict[str, Any]], base: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ],
    }


def operation_outcome(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }


def capability_statement(base: str, published: datetime) -> dict[str, Any]:
    search_patient = [{"name": "patient", "type": "reference"}]
    resources = [
        {"type": "Patient", "interaction": [{"code": "read"}]},
        {
            "type": "Observation",
            "interaction": [{"code": "search-type"}],
            "searchParam": [*search_patient, {"name": "code", "type": "token"}],
        },
    ] + [
        {"type": kind, "interaction": [{"code": "search-type"}], "searchParam": search_patient}
        for kind in ("QuestionnaireResponse", "Appointment", "Procedure")
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": _instant(published),
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "implementation": {"description": "Clinic FHIR read API", "url": base},
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": "Authorization: Bearer <API token>; the token's role applies."
                },
                "resource": resources,
            }
        ],
    }
