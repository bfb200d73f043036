"""Helpers for the course tests: patients with a given screening, authorizations, and a
course with appointments in a chosen mix of statuses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from clinic.extensions import db
from clinic.patients.models import Authorization, Patient
from clinic.scheduling.models import Appointment, Device
from tests.factories import make_device

# A Monday morning in the clinic's zone (America/New_York, EST): 09:00 local is 14:00 UTC.
NOW = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


@pytest.fixture
def frozen_at() -> datetime:
    return NOW


def make_authorization(
    patient: Patient,
    sessions: int = 36,
    *,
    valid_from: date | None = date(2026, 3, 1),
    valid_to: date | None = date(2026, 6, 30),
) -> Authorization:
    authorization = Authorization(
        patient_id=patient.id,
        payer="Blue Shield",
        number="PA-1",
        sessions_authorized=sessions,
        valid_from=valid_from,
        valid_to=valid_to,
        status="approved",
    )
    db.session.add(authorization)
    db.session.commit()
    return authorization


def add_sessions(
    course: Any,
    statuses: list[str],
    *,
    start: datetime = NOW + timedelta(hours=1),
    device: Device | None = None,
    kind: str = "treatment",
) -> list[Appointment]:
    """One appointment a day from `start`, in the given statuses (bulk, no booking rules)."""
    device = device or make_device()
    slot = timedelta(minutes=course.protocol.slot_minutes)
    appointments = [
        Appointment(
            course_id=course.id,
            patient_id=course.patient_id,
            device_id=device.id,
            starts_at=start + timedelta(days=index),
            ends_at=start + timedelta(days=index) + slot,
            sequence=index + 1,
            kind=kind,
            status=status,
        )
        for index, status in enumerate(statuses)
    ]
    db.session.add_all(appointments)
    db.session.commit()
    return appointments
