"""Raising, listing, acknowledging and escalating alerts.

Any feature may raise one; every role may read them; an admin or clinician acknowledges
one with a note. An urgent alert still open after CLINIC_ALERT_ESCALATION_MINUTES is
escalated once (`alert_escalated`: the reminders feature emails every clinician).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Update, case, func, select, update
from sqlalchemy.orm import joinedload

from clinic import clock, events
from clinic.alerts.models import Alert, AlertSeverity, AlertStatus
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.db import rowcount
from clinic.errors import Conflict, Invalid, NotFound
from clinic.extensions import db
from clinic.permissions import Role

MAX_NOTE_LENGTH = 2000
ESCALATION_BATCH = 500
MAX_ID = 2**31 - 1


def _rows_changed(statement: Update) -> int:
    """Run a guarded UPDATE and say how many rows it changed (0: someone else was first)."""
    return rowcount(db.session.execute(statement))


def raise_alert(
    kind: str,
    title: str,
    *,
    message: str = "",
    severity: str = AlertSeverity.WARNING,
    audience: str = Role.CLINICIAN,
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
                Alert.kind == kind, Alert.dedupe_key == dedupe_key, Alert.status == AlertStatus.OPEN
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
        status=AlertStatus.OPEN,
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
    record(
        actor_id,
        AuditAction.ALERT_RAISE,
        "alert",
        alert.id,
        patient_id=patient_id,
        detail={"kind": kind},
    )
    return alert


def list_alerts(
    *,
    status: str | None = None,
    patient_id: int | None = None,
    kind: str | None = None,
    limit: int = 200,
) -> list[Alert]:
    """Open before acknowledged, urgent on top, newest first; bounded by `limit`."""
    if status is not None and status not in tuple(AlertStatus):
        raise Invalid(
            f"Unknown status {status!r}.", fields={"status": [f"One of {', '.join(AlertStatus)}."]}
        )
    query = select(Alert).options(
        joinedload(Alert.patient), joinedload(Alert.assigned_to), joinedload(Alert.acknowledged_by)
    )
    if status is not None:
        query = query.where(Alert.status == status)
    if patient_id is not None:
        query = query.where(Alert.patient_id == patient_id)
    if kind is not None:
        query = query.where(Alert.kind == kind)
    query = query.order_by(
        case((Alert.status == AlertStatus.OPEN, 0), else_=1),
        case(
            (Alert.severity == AlertSeverity.URGENT, 0),
            (Alert.severity == AlertSeverity.WARNING, 1),
            else_=2,
        ),
        Alert.created_at.desc(),
        Alert.id.desc(),
    )
    return list(db.session.scalars(query.limit(limit)).unique())


def get_alert(alert_id: int) -> Alert:
    alert = db.session.get(Alert, alert_id) if 0 < alert_id <= MAX_ID else None
    if alert is None:
        raise NotFound(f"No alert {alert_id}.")
    return alert


def acknowledge_alert(alert_id: int, note: str, *, actor_id: int) -> Alert:
    """Close an alert with a note saying what was done; 409 when someone already did.

    The guarded UPDATE (WHERE status = 'open') lets only one of two simultaneous
    acknowledgements win.
    """
    text_note = (note or "").strip()
    if not text_note:
        raise Invalid("Say what was done in a note.", fields={"note": ["A note is required."]})
    if len(text_note) > MAX_NOTE_LENGTH:
        raise Invalid(
            "The note is too long.", fields={"note": [f"At most {MAX_NOTE_LENGTH} characters."]}
        )
    alert = get_alert(alert_id)
    changed = _rows_changed(
        update(Alert)
        .where(Alert.id == alert.id, Alert.status == AlertStatus.OPEN)
        .values(
            status=AlertStatus.ACKNOWLEDGED,
            acknowledged_at=clock.now(),
            acknowledged_by_id=actor_id,
            acknowledgement_note=text_note,
        )
        .execution_options(synchronize_session=False)
    )
    if changed != 1:
        raise Conflict("This alert was already acknowledged.", code="already_acknowledged")
    db.session.refresh(alert)
    record(
        actor_id,
        AuditAction.ACKNOWLEDGE,
        "alert",
        alert.id,
        patient_id=alert.patient_id,
        detail={"kind": alert.kind},
    )
    return alert


def escalate_alerts(now: datetime) -> int:
    """Mark urgent alerts open longer than the escalation delay and tell every clinician.

    Each alert is escalated once (guarded UPDATE on `escalated_at IS NULL`), so several
    scheduler processes never send the escalation twice. Returns how many were escalated.
    """
    delay = timedelta(minutes=current_app.config["CLINIC_ALERT_ESCALATION_MINUTES"])
    candidates = db.session.scalars(
        select(Alert)
        .where(
            Alert.status == AlertStatus.OPEN,
            Alert.severity == AlertSeverity.URGENT,
            Alert.escalated_at.is_(None),
            Alert.created_at <= now - delay,
        )
        .order_by(Alert.created_at)
        .limit(ESCALATION_BATCH)
    ).all()
    escalated = 0
    for alert in candidates:
        claimed = _rows_changed(
            update(Alert)
            .where(
                Alert.id == alert.id, Alert.escalated_at.is_(None), Alert.status == AlertStatus.OPEN
            )
            .values(escalated_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed != 1:
            continue
        db.session.refresh(alert)
        record(None, AuditAction.ESCALATE, "alert", alert.id, patient_id=alert.patient_id)
        events.alert_escalated.send(None, alert=alert)
        escalated += 1
    return escalated


def count_open_urgent() -> int:
    """Open urgent alerts (a suicidal-ideation answer, a seizure): the navigation shows the
    count on every page, so no clinician can miss one."""
    return (
        db.session.scalar(
            select(func.count(Alert.id)).where(
                Alert.status == AlertStatus.OPEN, Alert.severity == AlertSeverity.URGENT
            )
        )
        or 0
    )
