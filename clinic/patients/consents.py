"""Consent to be contacted by SMS or email: given or withdrawn, it is stamped on the
patient, kept as a ConsentEvent, audited, and announced (reminders stop at once)."""

from __future__ import annotations

from clinic import clock, events
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.extensions import db
from clinic.patients.models import ConsentEvent, Patient

CONSENT_CHANNELS = {"sms": "sms_consent", "email": "email_consent"}


def set_consent(
    patient: Patient, channel: str, granted: bool, *, actor_id: int | None, source: str
) -> bool:
    """Record a consent given or withdrawn: on the patient, as a ConsentEvent, as a signal."""
    attribute = CONSENT_CHANNELS[channel]
    if bool(getattr(patient, attribute)) == granted:
        return False
    at = clock.now()
    setattr(patient, attribute, granted)
    setattr(patient, f"{attribute}_at", at)
    db.session.add(
        ConsentEvent(
            patient_id=patient.id,
            channel=channel,
            granted=granted,
            at=at,
            actor_id=actor_id,
            source=source,
        )
    )
    record(
        actor_id,
        AuditAction.CONSENT_GRANT if granted else AuditAction.CONSENT_WITHDRAW,
        "patient",
        patient.id,
        detail={"channel": channel, "source": source},
    )
    events.consent_changed.send(
        None, patient=patient, channel=channel, granted=granted, actor_id=actor_id
    )
    return True
