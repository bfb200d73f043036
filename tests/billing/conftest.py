"""A hand-made course with every CPT case, shared by the billing tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from clinic.extensions import db
from clinic.patients.models import Authorization, Diagnosis
from tests.conftest import _test_config
from tests.factories import make_appointment, make_course, make_patient
from tests.treatments.conftest import log

BILLING_IDENTITY = {
    "npi": "1234567893",
    "tax_id": "123456789",
    "name": "Lakeside TMS LLC",
    "address": {"street": "12 Main St", "city": "Springfield", "state": "IL", "zip": "627011234"},
    "receiver_id": "CLEARHOUSE01",
}


@pytest.fixture
def app_config(database_url: str) -> dict[str, Any]:
    return {**_test_config(database_url), "CLINIC_BILLING": BILLING_IDENTITY}


@pytest.fixture
def frozen_at() -> datetime:
    return datetime(2026, 4, 1, 16, 0, tzinfo=UTC)


def at(day: int, month: int = 3) -> datetime:
    """10:00 in New York on that day of 2026 (EST until 8 March, EDT after)."""
    hour = 15 if (month, day) < (3, 8) else 14
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def stopped(**fields: Any) -> dict[str, Any]:
    return {"completed": False, "stop_reason": "headache", "pulses_delivered": 900, **fields}


@pytest.fixture
def coded_course(frozen: Any, clinician: Any) -> Any:
    patient = make_patient()
    db.session.add_all(
        [
            Diagnosis(patient_id=patient.id, code="G89.4"),
            Diagnosis(patient_id=patient.id, code="F33.2"),
        ]
    )
    patient.address = "1 Elm St Apt 2, Springfield, IL 62701"
    patient.sex = "female"
    authorization = Authorization(
        patient_id=patient.id,
        payer="Aetna",
        payer_id="60054",
        member_id="W123456789",
        number="PA-77",
        sessions_authorized=36,
        status="approved",
    )
    db.session.add(authorization)
    db.session.flush()
    course = make_course(patient, prescriber=clinician, authorization_id=authorization.id)
    # Booked first, then logged: a stopped session's make-up goes after the last one.
    plan = [
        (2, {"motor_threshold_pct": 50}),  # first: 90867
        (3, stopped(motor_threshold_pct=50)),  # stopped early: not billable
        (4, {}),  # later: 90868
        (9, {"motor_threshold_pct": 52}),  # MT re-determined: 90869
        (10, stopped(motor_threshold_pct=52)),  # stopped
        (12, {"motor_threshold_pct": 51}),  # within 7 days: stays 90868
        (16, {"motor_threshold_pct": 53}),  # 7 days on: 90869
    ]
    ids = [make_appointment(course, at(day), sequence=n) for n, (day, _) in enumerate(plan, 1)]
    for appointment, (_, fields) in zip(ids, plan, strict=True):
        log(appointment, clinician, **fields)
    return course, [appointment.id for appointment in ids]
