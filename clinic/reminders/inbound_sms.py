"""Inbound SMS: an opt-out keyword (STOP and its synonyms) withdraws SMS consent."""

from __future__ import annotations

from sqlalchemy import select

from clinic.extensions import db
from clinic.patients.intake import update_patient
from clinic.patients.models import Patient

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}


def handle_inbound_sms(phone: str, body: str) -> int:
    """An opt-out keyword withdraws SMS consent of every patient with that number: a
    consent event (source `sms_stop`), an audit entry, and their pending SMS cancelled.
    Returns how many patients were opted out. Opting back in is done by staff."""
    if body.strip().upper() not in STOP_WORDS or not phone:
        return 0
    patients = db.session.scalars(
        select(Patient).where(Patient.phone == phone, Patient.sms_consent.is_(True))
    ).all()
    for patient in patients:
        # The patients service records the consent event, the audit entry and the signal
        # (whose receiver here cancels the pending SMS).
        update_patient(patient, {"sms_consent": False}, actor_id=None, source="sms_stop")
    return len(patients)
