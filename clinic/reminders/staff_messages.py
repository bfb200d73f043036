"""Emails to staff: an alert still open after the escalation delay, and the morning
schedule for those who asked for it.

Staff messages always go by email to the sign-in address and carry no patient details
beyond initials and record number: the rest stays behind the sign-in.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import current_app, render_template
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.alerts.models import Alert
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.auth.models import User
from clinic.errors import NotFound
from clinic.extensions import db
from clinic.permissions import Role
from clinic.reminders import links
from clinic.reminders.models import Channel, MessageKind, Reminder
from clinic.reminders.planning import insert_message
from clinic.reminders.policy import get_policy
from clinic.scheduling.models import LIVE_STATUSES, Appointment


def _staff_payload(template: str, **context: Any) -> dict[str, str]:
    context["clinic_name"] = current_app.config["CLINIC_NAME"]
    subject = render_template(f"reminders/email/{template}.subject.txt", **context).strip()
    return {
        "subject": subject,
        "text": render_template(f"reminders/email/{template}.txt", **context),
        "html": render_template(f"reminders/email/{template}.html", **context),
    }


def _staff_email_row(
    kind: str,
    user: User,
    *,
    dedupe_key: str,
    due: datetime,
    expires_at: datetime | None,
    payload: dict[str, Any],
) -> Reminder | None:
    """A message to a staff member: always by email, to their sign-in address, about no
    patient (staff have no SMS consent or quiet hours)."""
    return insert_message(
        kind=kind,
        channel=Channel.EMAIL,
        patient=None,
        user_id=user.id,
        recipient=user.email,
        dedupe_key=dedupe_key,
        due=due,
        expires_at=expires_at,
        payload=payload,
    )


def _alerts_url() -> str:
    base: str = current_app.config["CLINIC_BASE_URL"]
    if "alerts.index" in current_app.view_functions:
        return links.public_url("alerts.index")
    return base + "/"


def plan_alert_escalation(alert: Alert, *, now: datetime) -> list[Reminder]:
    """Email every active clinician that an alert is still open. The email says only the
    kind and severity and links to the app: the details stay behind the sign-in."""
    if not get_policy().send_alert_escalations:
        return []
    clinicians = db.session.scalars(
        select(User).where(User.role == Role.CLINICIAN, User.active.is_(True)).order_by(User.id)
    ).all()
    payload = _staff_payload(
        MessageKind.ALERT_ESCALATION,
        kind=alert.kind.replace("_", " "),
        severity=alert.severity,
        opened=clock.to_local(alert.created_at),
        url=_alerts_url(),
    )
    rows = []
    for user in clinicians:
        row = _staff_email_row(
            MessageKind.ALERT_ESCALATION,
            user,
            dedupe_key=f"alert_escalation:{alert.id}:{user.id}",
            due=now,
            expires_at=None,
            payload=payload,
        )
        if row is not None:
            rows.append(row)
    return rows


def plan_daily_schedules(now: datetime) -> dict[str, int]:
    """Today's schedule (clinic time) for every active user who opted in; once a day each
    (the dedupe key makes a second scheduler, or a rerun, harmless)."""
    if not get_policy().send_daily_schedule:
        return {"planned": 0}
    tz = clock.clinic_tz()
    day = now.astimezone(tz).date()
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = start + timedelta(days=1)
    users = db.session.scalars(
        select(User)
        .where(User.wants_daily_schedule.is_(True), User.active.is_(True))
        .order_by(User.id)
    ).all()
    if not users:
        return {"planned": 0}
    appointments = db.session.scalars(
        select(Appointment)
        .options(joinedload(Appointment.device), joinedload(Appointment.patient))
        .where(
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
            Appointment.status.in_(LIVE_STATUSES),
        )
        .order_by(Appointment.starts_at, Appointment.device_id)
    ).all()
    entries = [
        {
            "time": a.starts_at.astimezone(tz).strftime("%H:%M"),
            "chair": a.device.name,
            "patient": f"{a.patient.initials} ({a.patient.mrn})",
            "mine": a.technician_id,
        }
        for a in appointments
    ]
    planned = 0
    for user in users:
        payload = _staff_payload(
            MessageKind.DAILY_SCHEDULE,
            user=user,
            day=f"{day:%A} {day.day} {day:%B %Y}",
            entries=[{**e, "mine": e["mine"] == user.id} for e in entries],
            url=current_app.config["CLINIC_BASE_URL"] + "/",
        )
        row = _staff_email_row(
            MessageKind.DAILY_SCHEDULE,
            user,
            dedupe_key=f"daily_schedule:{day.isoformat()}:{user.id}",
            due=now,
            expires_at=end.astimezone(now.tzinfo),
            payload=payload,
        )
        planned += row is not None
    return {"planned": planned}


def set_daily_schedule(user_id: int, wanted: bool, *, actor_id: int | None) -> User:
    """A staff member opts in or out of the morning schedule email."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    user.wants_daily_schedule = wanted
    record(actor_id, AuditAction.UPDATE, "user", user.id, detail={"wants_daily_schedule": wanted})
    db.session.flush()
    return user
