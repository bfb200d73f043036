"""Builders for test data and small helpers that make tests read like scenarios."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from clinic import clock
from clinic.auth import services as auth
from clinic.auth.models import User
from clinic.courses.models import Course, Protocol
from clinic.extensions import db
from clinic.patients.models import Patient, Screening
from clinic.scheduling.models import Appointment, Device

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def make_user(
    role: str = "front_desk",
    *,
    email: str | None = None,
    name: str | None = None,
    password: str = PASSWORD,
) -> User:
    n = next(_counter)
    user = auth.create_user(
        email=email or f"{role}{n}@tms-clinic.org",
        name=name or f"{role.replace('_', ' ').title()} {n}",
        role=role,
        password=password,
    )
    db.session.commit()
    return user


def login(client: FlaskClient, user: User, password: str = PASSWORD) -> TestResponse:
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


class ApiClient:
    """Sends JSON with a bearer token: `api.as_(user).post("/api/v1/patients", json=...)`."""

    def __init__(self, client: FlaskClient, token: str | None = None) -> None:
        self.client = client
        self.token = token
        self._tokens: dict[int, str] = {}

    def as_(self, user: User) -> ApiClient:
        if user.id not in self._tokens:
            self._tokens[user.id] = auth.create_token(user, "tests")
            db.session.commit()
        other = ApiClient(self.client, self._tokens[user.id])
        other._tokens = self._tokens
        return other

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return headers

    def request(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        headers = self._headers(kwargs.pop("headers", None))
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)


def make_patient(
    *,
    first_name: str = "Jamie",
    last_name: str | None = None,
    screened: str | None = "clear",
    **fields: Any,
) -> Patient:
    """A patient inserted directly (no intake rules), optionally with a screening result."""
    n = next(_counter)
    patient = Patient(
        mrn=f"T{n:07d}",
        first_name=first_name,
        last_name=last_name or f"Rivera{n}",
        date_of_birth=fields.pop("date_of_birth", date(1980, 5, 17)),
        preferred_channel=fields.pop("preferred_channel", "none"),
        **fields,
    )
    db.session.add(patient)
    db.session.flush()
    if screened is not None:
        db.session.add(
            Screening(
                patient_id=patient.id,
                version=1,
                answers={},
                result=screened,
                positive_items=[],
                signed_off_at=clock.now() if screened == "review" else None,
            )
        )
    db.session.commit()
    return patient


def protocol(code: str = "10hz-ldlpfc") -> Protocol:
    found = db.session.scalar(select(Protocol).where(Protocol.code == code))
    assert found is not None, f"no protocol {code}"
    return found


def make_device(name: str | None = None, **fields: Any) -> Device:
    device = Device(name=name or f"Chair {next(_counter)}", **fields)
    db.session.add(device)
    db.session.commit()
    return device


def make_course(
    patient: Patient | None = None,
    *,
    protocol_code: str = "10hz-ldlpfc",
    prescriber: User | None = None,
    planned_sessions: int | None = None,
    **fields: Any,
) -> Course:
    """A course inserted directly (no prescribing rules)."""
    patient = patient or make_patient()
    chosen = protocol(protocol_code)
    course = Course(
        patient_id=patient.id,
        protocol_id=chosen.id,
        planned_sessions=planned_sessions or chosen.default_sessions,
        prescribed_pct_mt=fields.pop("prescribed_pct_mt", chosen.intensity_pct_mt),
        prescriber_id=prescriber.id if prescriber else None,
        status=fields.pop("status", "active"),
        # A test course may start: its TMS consent is taken as signed on paper.
        consent_waiver_reason=fields.pop("consent_waiver_reason", "Consent on paper (test)"),
        **fields,
    )
    db.session.add(course)
    db.session.commit()
    return course


def make_appointment(
    course: Course,
    starts_at: datetime,
    *,
    device: Device | None = None,
    sequence: int = 1,
    **fields: Any,
) -> Appointment:
    """An appointment inserted directly (no booking rules), lasting the protocol's slot."""
    device = device or make_device()
    appointment = Appointment(
        course_id=course.id,
        patient_id=course.patient_id,
        device_id=device.id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=course.protocol.slot_minutes),
        sequence=sequence,
        kind=fields.pop("kind", "treatment"),
        status=fields.pop("status", "scheduled"),
        **fields,
    )
    db.session.add(appointment)
    db.session.commit()
    return appointment


def count(model: type[Any]) -> int:
    """How many rows of `model` the database holds."""
    return db.session.scalar(select(func.count()).select_from(model)) or 0


@contextmanager
def captured(signal: Any) -> Iterator[list[dict[str, Any]]]:
    """Collect the keyword arguments of every send of `signal` inside the block."""
    calls: list[dict[str, Any]] = []

    def receiver(_sender: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    signal.connect(receiver)
    try:
        yield calls
    finally:
        signal.disconnect(receiver)
