"""CSV exports of patients, appointments and outcomes, for spreadsheets and registries.

The columns are the contract (docs/api.md lists them); each export is one audited read
of the patients it contains (entity `export`, with the row count), streamed as rows come.
Cells that a spreadsheet would run as a formula (=, +, -, @ first) get a leading quote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Response
from sqlalchemy import select, true
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.extensions import db
from clinic.outcomes.models import QuestionnaireResponse
from clinic.patients.models import Patient
from clinic.scheduling.models import Appointment
from clinic.scheduling.sites import booked_at, held_at

KINDS = ("patients", "appointments", "outcomes")
PATIENT_COLUMNS = (
    "id", "mrn", "first_name", "last_name", "date_of_birth", "sex", "email", "phone",
    "preferred_channel", "sms_consent", "email_consent", "timezone", "created_at",
)  # fmt: skip
APPOINTMENT_COLUMNS = (
    "id", "course_id", "patient_id", "mrn", "device_id", "device", "technician_id",
    "starts_at", "ends_at", "kind", "status", "sequence", "is_makeup",
)  # fmt: skip
OUTCOME_COLUMNS = (
    "id", "patient_id", "mrn", "course_id", "instrument", "administered_at", "score",
    "severity", "flags",
)  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _rows(columns: tuple[str, ...], records: Iterable[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    yield buffer.getvalue()
    for row in records:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(row.get(column)) for column in columns])
        yield buffer.getvalue()


def _patient(patient: Patient) -> dict[str, Any]:
    return {column: getattr(patient, column) for column in PATIENT_COLUMNS}


def _appointment(appointment: Appointment) -> dict[str, Any]:
    row = {column: getattr(appointment, column, None) for column in APPOINTMENT_COLUMNS}
    row["mrn"] = appointment.patient.mrn
    row["device"] = appointment.device.name
    return row


def _outcome(response: QuestionnaireResponse, mrn: str) -> dict[str, Any]:
    row = {column: getattr(response, column, None) for column in OUTCOME_COLUMNS}
    row.update(mrn=mrn, administered_at=response.answered_at)
    return row


def csv_response(
    kind: str,
    *,
    actor_id: int,
    since: date | None = None,
    until: date | None = None,
    site_ids: set[int] | None = None,
) -> Response:
    """The export as a download; days are UTC dates, `until` included (default: the 90
    days up to today); at `site_ids` only when given."""
    today = clock.now().date()
    lines = export(
        kind,
        actor_id=actor_id,
        since=datetime.combine(since or today - timedelta(days=90), time(), UTC),
        until=datetime.combine((until or today) + timedelta(days=1), time(), UTC),
        site_ids=site_ids,
    )
    return Response(
        lines,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'},
    )


def _at_sites(site_ids: set[int] | None) -> tuple[Any, Any]:
    """Filters for the appointments at `site_ids`, and for the patients seen there (with
    an appointment at one of them); no filter when None (every site)."""
    if site_ids is None:
        return true(), true()
    return held_at(site_ids), booked_at(Appointment.patient_id, Patient.id, site_ids)


def export(
    kind: str,
    *,
    actor_id: int,
    since: datetime,
    until: datetime,
    site_ids: set[int] | None = None,
) -> list[str]:
    """The CSV's lines for `kind` (`patients`, `appointments`, `outcomes`); appointments
    and outcomes between `since` and `until`; at `site_ids` only when given (patients and
    outcomes: of the patients seen there). Read and audited now, in the request."""
    at_sites, seen_there = _at_sites(site_ids)
    builders: dict[str, Callable[[], tuple[tuple[str, ...], list[dict[str, Any]]]]] = {
        "patients": lambda: (
            PATIENT_COLUMNS,
            [
                _patient(p)
                for p in db.session.scalars(select(Patient).where(seen_there).order_by(Patient.id))
            ],
        ),
        "appointments": lambda: (
            APPOINTMENT_COLUMNS,
            [
                _appointment(a)
                for a in db.session.scalars(
                    select(Appointment)
                    .options(joinedload(Appointment.patient), joinedload(Appointment.device))
                    .where(Appointment.starts_at >= since, Appointment.starts_at < until, at_sites)
                    .order_by(Appointment.starts_at, Appointment.id)
                )
            ],
        ),
        "outcomes": lambda: (
            OUTCOME_COLUMNS,
            [
                _outcome(response, mrn)
                for response, mrn in db.session.execute(
                    select(QuestionnaireResponse, Patient.mrn)
                    .join(Patient, Patient.id == QuestionnaireResponse.patient_id)
                    .where(
                        QuestionnaireResponse.answered_at >= since,
                        QuestionnaireResponse.answered_at < until,
                        seen_there,
                    )
                    .order_by(QuestionnaireResponse.answered_at, QuestionnaireResponse.id)
                )
            ],
        ),
    }
    columns, records = builders[kind]()
    detail: dict[str, Any] = {"kind": kind, "rows": len(records)}
    if site_ids is not None:
        detail["sites"] = sorted(site_ids)
    record(actor_id, AuditAction.VIEW, "export", None, detail=detail)
    return list(_rows(columns, records))
