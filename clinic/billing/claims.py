"""Claim exports: the 837P and the CSV of the same lines, and the marks that keep a line
from being sent twice.

A claim export takes the billable lines of a period (of one payer, if asked) that no
earlier 837P carried, unless `include_exported` asks for them again (a resubmission).
Lines whose patient or authorization lacks what a payer needs (member id, payer id,
address) are left out and named, never sent half-filled; they are not marked, so they go
on the next export once the chart is complete. The CSV lists the same lines and marks
nothing: it is the human-readable companion of the claim file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.billing.coding import BillingLine, billing_lines
from clinic.billing.models import ClaimExport, ExportedLine, ExportFormat
from clinic.billing.services import check_period
from clinic.billing.x12 import Claim, Provider, Subscriber, interchange, split_claims
from clinic.courses.models import Course
from clinic.errors import Conflict
from clinic.extensions import db
from clinic.patients.models import Authorization, Patient
from clinic.patients.validation import address_parts

SEX_CODES = {"female": "F", "male": "M"}
CSV_COLUMNS = (
    "appointment_id",
    "date",
    "patient_id",
    "mrn",
    "patient",
    "course_id",
    "payer",
    "authorization_number",
    "cpt",
    "units",
    "charge",
    "icd10",
    "billable",
    "exported_on",
)


@dataclass
class ClaimRun:
    """What an export would send: the lines, and those left out with why."""

    lines: list[BillingLine]
    skipped: dict[int, str] = field(default_factory=dict)
    exported_on: dict[int, date] = field(default_factory=dict)


def billing_provider() -> Provider:
    """The clinic as billing provider; refused while the settings are incomplete."""
    identity = current_app.config["CLINIC_BILLING"]
    missing = [
        f"CLINIC_BILLING_{part.upper()}"
        for part in ("npi", "tax_id", "name", "address")
        if not identity.get(part)
    ]
    if missing:
        raise Conflict(
            f"Claims need the clinic's billing identity: set {', '.join(missing)}.",
            code="billing_identity_missing",
            details={"missing": missing},
        )
    address = identity["address"]
    return Provider(
        name=identity["name"],
        npi=identity["npi"],
        tax_id=identity["tax_id"],
        street=address["street"],
        city=address["city"],
        state=address["state"],
        zip=address["zip"],
        contact_email=current_app.config["CLINIC_EMAIL_FROM"],
        receiver_id=identity.get("receiver_id") or "CLEARINGHOUSE",
    )


def _exported_on(appointment_ids: Sequence[int]) -> dict[int, date]:
    if not appointment_ids:
        return {}
    rows = db.session.execute(
        select(ExportedLine.appointment_id, ClaimExport.created_at)
        .join(ClaimExport, ClaimExport.id == ExportedLine.export_id)
        .where(ExportedLine.appointment_id.in_(appointment_ids))
    )
    return {row.appointment_id: clock.to_local(row.created_at).date() for row in rows}


def claim_run(
    start: date, end: date, *, payer: str | None = None, include_exported: bool = False
) -> ClaimRun:
    """The billable, payer-billed lines an export of the period would carry."""
    check_period(start, end)
    lines = [
        line
        for line in billing_lines(start, end)
        if line.billable and line.payer is not None and (payer is None or line.payer == payer)
    ]
    exported = _exported_on([line.appointment_id for line in lines])
    if not include_exported:
        lines = [line for line in lines if line.appointment_id not in exported]
    return ClaimRun(lines=lines, exported_on=exported)


def _subscribers(run: ClaimRun) -> dict[tuple[int, str], Subscriber]:
    """Each (patient, payer) of the run as a subscriber; lines that cannot be claimed are
    moved to `run.skipped` with the reason."""
    course_ids = {line.course_id for line in run.lines}
    rows = db.session.execute(
        select(Course.id, Patient, Authorization)
        .join(Patient, Patient.id == Course.patient_id)
        .join(Authorization, Authorization.id == Course.authorization_id)
        .where(Course.id.in_(course_ids))
    ).all()
    subscribers: dict[tuple[int, str], Subscriber] = {}
    problems: dict[int, str] = {}
    for course_id, patient, authorization in rows:
        address = address_parts(patient.address or "")
        missing = [
            what
            for what, value in (
                ("the patient's address", address),
                ("the member id", authorization.member_id),
                ("the payer id", authorization.payer_id),
            )
            if not value
        ]
        if missing or address is None:
            problems[course_id] = f"Missing {', '.join(missing)}."
            continue
        subscribers[(patient.id, authorization.payer)] = Subscriber(
            patient_id=patient.id,
            mrn=patient.mrn,
            first_name=patient.first_name,
            last_name=patient.last_name,
            date_of_birth=patient.date_of_birth,
            sex=SEX_CODES.get(patient.sex or "", "U"),
            member_id=authorization.member_id or "",
            street=address["street"],
            city=address["city"],
            state=address["state"],
            zip=address["zip"],
            payer_name=authorization.payer,
            payer_id=authorization.payer_id or "",
        )
    kept = []
    for line in run.lines:
        if line.course_id in problems:
            run.skipped[line.appointment_id] = problems[line.course_id]
        else:
            kept.append(line)
    run.lines = kept
    return subscribers


def export_claims(
    actor_id: int | None,
    start: date,
    end: date,
    *,
    payer: str | None = None,
    include_exported: bool = False,
) -> tuple[str, ClaimRun]:
    """The 837P interchange of the period's unsent claims; its lines are marked sent.
    Nothing to claim answers "" (an interchange without a claim is not a valid 837P)."""
    provider = billing_provider()
    run = claim_run(start, end, payer=payer, include_exported=include_exported)
    subscribers = _subscribers(run)
    claims: list[Claim] = split_claims(run.lines, subscribers)
    if not claims:
        return "", run
    export = ClaimExport(
        format=ExportFormat.X12,
        payer=payer,
        period_start=start,
        period_end=end,
        line_count=len(run.lines),
        control_number=0,
        created_at=clock.now(),
        created_by_id=actor_id,
    )
    db.session.add(export)
    db.session.flush()
    # The interchange control number: unique because the export's id is.
    export.control_number = export.id % 1_000_000_000 or 1
    new = [line for line in run.lines if line.appointment_id not in run.exported_on]
    try:
        with db.session.begin_nested():
            db.session.add_all(
                ExportedLine(appointment_id=line.appointment_id, export_id=export.id)
                for line in new
            )
            db.session.flush()
    except IntegrityError:
        raise Conflict(
            "Another export took some of these lines at the same moment; export again.",
            code="already_exported",
        ) from None
    _audit(actor_id, export, run.lines)
    text = interchange(
        claims,
        provider,
        control=export.control_number,
        now=clock.local_now(),
        production=current_app.config["ENV_NAME"] == "production",
    )
    return text, run


def _audit(actor_id: int | None, export: ClaimExport, lines: Sequence[BillingLine]) -> None:
    record(
        actor_id,
        AuditAction.CREATE,
        "claim_export",
        export.id,
        detail={"format": export.format, "lines": len(lines), "payer": export.payer},
    )
    for patient_id in sorted({line.patient_id for line in lines}):
        record(actor_id, AuditAction.VIEW, "patient", patient_id, detail={"via": "claims"})


def claims_csv(
    actor_id: int | None,
    start: date,
    end: date,
    *,
    payer: str | None = None,
    include_exported: bool = False,
) -> str:
    """The lines the 837P of the same query would carry, as CSV (marks nothing)."""
    run = claim_run(start, end, payer=payer, include_exported=include_exported)
    patients = {
        patient.id: patient
        for patient in db.session.scalars(
            select(Patient).where(Patient.id.in_({line.patient_id for line in run.lines}))
        )
    }
    for patient_id in sorted(patients):
        record(actor_id, AuditAction.VIEW, "patient", patient_id, detail={"via": "claims_csv"})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for line in run.lines:
        patient = patients[line.patient_id]
        row: dict[str, Any] = {
            "appointment_id": line.appointment_id,
            "date": line.date.isoformat(),
            "patient_id": line.patient_id,
            "mrn": patient.mrn,
            "patient": f"{patient.last_name}, {patient.first_name}",
            "course_id": line.course_id,
            "payer": line.payer,
            "authorization_number": line.authorization_number or "",
            "cpt": line.cpt,
            "units": line.units,
            "charge": "" if line.charge is None else f"{line.charge:.2f}",
            "icd10": " ".join(line.icd10),
            "billable": "true" if line.billable else "false",
            "exported_on": str(run.exported_on.get(line.appointment_id) or ""),
        }
        writer.writerow([_csv_safe(row[column]) for column in CSV_COLUMNS])
    return out.getvalue()


def _csv_safe(value: Any) -> Any:
    """A cell a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
