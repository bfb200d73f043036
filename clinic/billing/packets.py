"""Paperwork for payers, from what the chart already holds: the medical-necessity packet
a prior authorization needs, and the letter asking to extend a course from its measured
outcomes. Both are HTML templates rendered to PDF; reading them is a read of the chart,
audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import current_app
from sqlalchemy import select

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.courses.numbers import course_summary, get_course
from clinic.errors import Conflict
from clinic.extensions import db
from clinic.outcomes.models import QuestionnaireResponse
from clinic.outcomes.services import summarize_course
from clinic.patients import icd10
from clinic.patients.lookup import CHART_OPTIONS
from clinic.patients.models import MedicationTrial, Patient
from clinic.pdf import render_pdf

PHQ9 = "PHQ-9"
EXTENSION_MIN_IMPROVEMENT_PCT = 25
"""An extension is for a patient improved at least this much (DOMAIN: 10 + 6 taper)."""


def medication_history(patient_id: int) -> Sequence[MedicationTrial]:
    """The trials payers ask for (drug, class, dose, weeks, why stopped), oldest first.
    The one place billing reads medication history, so it can follow the chart's model."""
    return db.session.scalars(
        select(MedicationTrial)
        .where(MedicationTrial.patient_id == patient_id)
        .order_by(MedicationTrial.start_date, MedicationTrial.id)
    ).all()


def phq9_history(patient_id: int) -> Sequence[QuestionnaireResponse]:
    return db.session.scalars(
        select(QuestionnaireResponse)
        .where(
            QuestionnaireResponse.patient_id == patient_id,
            QuestionnaireResponse.instrument == PHQ9,
        )
        .order_by(QuestionnaireResponse.answered_at)
    ).all()


def _context(course_id: int, actor_id: int | None, what: str) -> dict[str, Any]:
    course = get_course(course_id)
    patient = db.session.get(Patient, course.patient_id, options=CHART_OPTIONS)
    assert patient is not None
    record(actor_id, AuditAction.VIEW, "patient", patient.id, detail={"section": what})
    return {
        "clinic_name": current_app.config["CLINIC_NAME"],
        "identity": current_app.config["CLINIC_BILLING"],
        "course": course,
        "numbers": course_summary(course),
        "patient": patient,
        "diagnoses": [
            (d.code, d.description or icd10.describe(d.code) or "") for d in patient.diagnoses
        ],
        "trials": medication_history(patient.id),
        "phq9": phq9_history(patient.id),
        "screening": patient.screenings[-1] if patient.screenings else None,
        "issued": clock.today(),
    }


def authorization_packet_pdf(course_id: int, *, actor_id: int | None) -> bytes:
    """Diagnoses, failed medication trials, psychotherapy, PHQ-9 history with dates, the
    latest safety screening and the prescribed protocol, for the payer's reviewer."""
    return render_pdf(
        "billing/authorization_packet.html", **_context(course_id, actor_id, "packet")
    )


def extension_letter_pdf(course_id: int, *, actor_id: int | None) -> bytes:
    """A letter asking the payer for more sessions, built from the PHQ-9 change so far.
    It says the patient is responding, so it is written only when the PHQ-9 has fallen
    at least EXTENSION_MIN_IMPROVEMENT_PCT (409 `not_improved` otherwise)."""
    context = _context(course_id, actor_id, "extension_letter")
    outcome = summarize_course(course_id)["instruments"].get(PHQ9, {})
    change = outcome.get("change_pct")
    if change is None:
        raise Conflict(
            "No extension letter yet: the PHQ-9 change needs a baseline and a later score.",
            code="not_improved",
        )
    if -change < EXTENSION_MIN_IMPROVEMENT_PCT:
        raise Conflict(
            f"No extension letter: the PHQ-9 has changed {change:+g}% since baseline; payers "
            f"extend a course improved at least {EXTENSION_MIN_IMPROVEMENT_PCT}%.",
            code="not_improved",
            details={"change_pct": change},
        )
    return render_pdf("billing/extension_letter.html", outcome=outcome, **context)
