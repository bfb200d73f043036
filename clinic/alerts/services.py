"""Raising alerts. Any feature may raise one; the outcomes feature shows and answers them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from clinic import clock, events
from clinic.alerts.models import Alert
from clinic.audit.services import record
from clinic.extensions import db


def raise_alert(
    kind: str,
    title: str,
    *,
    message: str = "",
    severity: str = "warning",
    audience: str = "clinician",
    patient_id: int | None = None,
    course_id: int | None = None,
    assigned_to_id: int | None = None,
    subject: tuple[str, int] | None = None,
    dedupe_key: str | None = None,
    data: dict[str, Any] | None = None,
    actor_id: int | None = None,
) -> Alert:
    """Open an alert, or return the open one with the same (kind, dedupe_key)."""
    if dedupe_key is not None:
        existing = db.session.scalar(
            select(Alert).where(
                Alert.kind == kind, Alert.dedupe_key == dedupe_key, Alert.status == "open"
            )
        )
        if existing is not None:
            return existing
    alert = Alert(
        kind=kind,
        title=title[:200],
        message=message,
        severity=severity,
        audience=audience,
        status="open",
        patient_id=patient_id,
        course_id=course_id,
        assigned_to_id=assigned_to_id,
        subject_type=subject[0] if subject else None,
        subject_id=subject[1] if subject else None,
        dedupe_key=dedupe_key,
        data=data,
        created_at=clock.now(),
    )
    db.session.add(alert)
    db.session.flush()
    record(actor_id, "alert_raise", "alert", alert.id, patient_id=patient_id, detail={"kind": kind})
    events.alert_raised.send(None, alert=alert)
    return alert
