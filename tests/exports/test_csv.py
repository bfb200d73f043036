"""CSV exports: the documented columns, by API token and from the admin page."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clinic.audit.models import AuditEvent
from clinic.exports import csv_exports
from clinic.extensions import db
from tests.factories import login, make_appointment, make_course, make_patient

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


@pytest.fixture
def frozen_at() -> datetime:
    return NOW


def _rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_three_exports_answer_their_columns(
    api: Any, admin: Any, clinician: Any, frozen: Any
) -> None:
    patient = make_patient(first_name="=HYPERLINK(1)")
    course = make_course(patient, prescriber=clinician)
    make_appointment(course, NOW - timedelta(days=1))
    response = api.as_(clinician).post(
        f"/api/v1/patients/{patient.id}/responses",
        json={"instrument": "PEG-3", "answers": [4, 5, 6]},
    )
    assert response.status_code == 201
    client = api.as_(admin)
    patients = _rows(client.get("/api/v1/exports/patients.csv"))
    assert list(patients[0]) == list(csv_exports.PATIENT_COLUMNS)
    assert patients[0]["mrn"] == patient.mrn
    assert patients[0]["first_name"] == "'=HYPERLINK(1)"  # never a live formula
    appointments = _rows(client.get("/api/v1/exports/appointments.csv?from=2026-02-01"))
    assert list(appointments[0]) == list(csv_exports.APPOINTMENT_COLUMNS)
    assert appointments[0]["status"] == "scheduled" and appointments[0]["mrn"] == patient.mrn
    outcomes = _rows(client.get("/api/v1/exports/outcomes.csv"))
    assert list(outcomes[0]) == list(csv_exports.OUTCOME_COLUMNS)
    assert (outcomes[0]["instrument"], outcomes[0]["score"]) == ("PEG-3", "5.0")
    exports = db.session.query(AuditEvent).filter_by(entity_type="export").count()
    assert exports == 3


def test_exports_are_for_admins(api: Any, front_desk: Any) -> None:
    assert api.as_(front_desk).get("/api/v1/exports/patients.csv").status_code == 403


def test_the_admin_page_links_the_downloads(client: Any, admin: Any) -> None:
    login(client, admin)
    page = client.get("/admin/exports").get_data(as_text=True)
    assert "/admin/exports/patients.csv" in page
    assert _rows(client.get("/admin/exports/appointments.csv")) == []
    assert client.get("/admin/exports/secrets.csv").status_code == 404


def test_the_columns_are_documented() -> None:
    doc = DOC.read_text()
    for columns in (
        csv_exports.PATIENT_COLUMNS,
        csv_exports.APPOINTMENT_COLUMNS,
        csv_exports.OUTCOME_COLUMNS,
    ):
        assert ", ".join(f"`{c}`" for c in columns) in doc
