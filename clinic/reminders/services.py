"""Reminders: planning outbox rows, delivering them, and what patients answer.

Planning runs inside the transaction of the change that causes it (signal receivers
below), so a booking and its reminders commit or roll back together. Delivery
(`dispatch_due`) runs in the scheduler process or `flask reminders dispatch`:

1. claim: in one short transaction, pick due rows (PostgreSQL: FOR UPDATE SKIP LOCKED;
   SQLite: writers are serialised by BEGIN IMMEDIATE) and mark them `sending` with a
   claim token and time; a claim older than LEASE is stale (its dispatcher died) and is
   claimed again;
2. re-check each row against the appointment as it is now, and send;
3. mark the outcomes in a new transaction, guarded by the claim token.

A dispatcher that dies between 2 and 3 leaves rows `sending`; after the lease they are
sent again (at least once). Rows marked `sent` are never claimed again, and the unique
key (appointment, kind, channel, start) means no second row can exist for the same
reminder, so several dispatchers never send one reminder twice.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, render_template
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload, selectinload

from clinic import clock
from clinic.alerts.services import raise_alert
from clinic.audit.services import record
from clinic.auth.models import User
from clinic.errors import Conflict, Gone, Invalid, NotFound
from clinic.extensions import db
from clinic.patients.models import Patient
from clinic.patients.services import update_patient
from clinic.reminders import links, messages, timing
from clinic.reminders.channels import Attachment, DeliveryError, OutgoingMessage, Transport
from clinic.reminders.models import (
    ALERT_ESCALATION,
    APPOINTMENT_REMINDER,
    CHANNELS,
    DAILY_SCHEDULE,
    QUESTIONNAIRE_LINK,
    AppointmentResponse,
    MessageTemplate,
    Reminder,
    ReminderPolicy,
    SchedulerHeartbeat,
)
from clinic.scheduling.models import LIVE_STATUSES, Appointment

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 6
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
DEFAULT_BATCH_SIZE = 100
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
HEARTBEAT_STALE_AFTER = timedelta(minutes=3)
DAILY_SCHEDULE_HOUR = 6


# ---------------------------------------------------------------------------- policy


def get_policy() -> ReminderPolicy:
    """The clinic's policy row (seeded by the migration; recreated with defaults if lost)."""
    policy = db.session.get(ReminderPolicy, 1)
    if policy is None:
        policy = ReminderPolicy(id=1)
        db.session.add(policy)
        db.session.flush()
    return policy


POLICY_FIELDS = (
    "email_enabled",
    "email_offset_minutes",
    "sms_enabled",
    "sms_offset_minutes",
    "quiet_start",
    "quiet_end",
    "remind_treatment",
    "remind_mapping",
    "send_questionnaire_links",
    "send_alert_escalations",
    "send_daily_schedule",
)
MAX_OFFSET_MINUTES = 14 * 24 * 60


def update_policy(values: dict[str, Any], *, actor_id: int | None) -> ReminderPolicy:
    """Change the policy. New offsets apply to reminders planned from now on; a channel or
    kind switched off also stops its pending reminders (they are re-checked at sending)."""
    problems: dict[str, list[str]] = {}
    for name in ("email_offset_minutes", "sms_offset_minutes"):
        if name in values and not 0 <= int(values[name]) <= MAX_OFFSET_MINUTES:
            problems[name] = [f"Between 0 and {MAX_OFFSET_MINUTES} minutes (14 days)."]
    if problems:
        raise Invalid("The policy has invalid values.", fields=problems)
    policy = get_policy()
    changed = {}
    for name in POLICY_FIELDS:
        if name in values and getattr(policy, name) != values[name]:
            setattr(policy, name, values[name])
            changed[name] = str(values[name])
    if changed:
        record(actor_id, "update", "reminder_policy", policy.id, detail=changed)
    db.session.flush()
    return policy


# ------------------------------------------------------------------------- templates

SAMPLE_VALUES = {
    "first_name": "Jamie",
    "date": "Monday 9 March 2026",
    "time": "09:00",
    "confirm_url": "https://clinic.example/r/sample/confirm",
    "change_url": "https://clinic.example/r/sample/change",
    "ics_url": "https://clinic.example/r/sample/calendar.ics",
    "questionnaire_url": "https://clinic.example/q/sample",
}


def get_template(kind: str, channel: str) -> MessageTemplate:
    template = db.session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.kind == kind, MessageTemplate.channel == channel
        )
    )
    if template is None:
        raise NotFound(f"No template for {kind} by {channel}.")
    return template


def list_templates() -> Sequence[MessageTemplate]:
    return db.session.scalars(
        select(MessageTemplate).order_by(MessageTemplate.kind, MessageTemplate.channel)
    ).all()


def _check_template(kind: str, channel: str, subject: str, body: str) -> None:
    if kind not in messages.PLACEHOLDERS or channel not in CHANNELS:
        raise NotFound(f"No template for {kind} by {channel}.")
    problems = messages.validate_template(kind, channel, subject, body)
    if problems:
        raise Invalid("The template cannot be used as written.", fields=problems)


def preview_template(kind: str, channel: str, subject: str, body: str) -> messages.RenderedMessage:
    """The message as a patient would get it, with sample values; Invalid if it cannot be used."""
    _check_template(kind, channel, subject, body)
    values = {**SAMPLE_VALUES, "clinic_name": current_app.config["CLINIC_NAME"]}
    return messages.render(subject, body, values, channel)


def update_template(
    kind: str, channel: str, *, subject: str, body: str, actor_id: int | None
) -> MessageTemplate:
    """Save a template (for messages planned from now on)."""
    _check_template(kind, channel, subject, body)
    template = get_template(kind, channel)
    template.subject = subject.strip() if channel == "email" else ""
    template.body = body.strip() + "\n"
    template.updated_by_id = actor_id
    record(
        actor_id,
        "update",
        "message_template",
        template.id,
        detail={"kind": kind, "channel": channel},
    )
    db.session.flush()
    return template


# -------------------------------------------------------------------------- planning


def patient_timezone(patient: Patient) -> ZoneInfo:
    if patient.timezone:
        try:
            return ZoneInfo(patient.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("patient %s has an unknown time zone %r", patient.id, patient.timezone)
    return clock.clinic_tz()


def patient_address(patient: Patient, channel: str) -> str | None:
    """Where to reach the patient by `channel`, or None without consent or address."""
    if channel == "email":
        return patient.email if patient.email_consent and patient.email else None
    return patient.phone if patient.sms_consent and patient.phone else None


def _kind_enabled(policy: ReminderPolicy, appointment: Appointment) -> bool:
    return policy.remind_mapping if appointment.kind == "mapping" else policy.remind_treatment


def calendar_uid(appointment_id: int) -> str:
    host = (current_app.config["CLINIC_BASE_URL"].split("://", 1)[-1].split("/")[0]).split(":")[0]
    return f"appointment-{appointment_id}@{host}"


def appointment_calendar(appointment: Appointment, *, now: datetime) -> str:
    return messages.appointment_calendar(
        uid=calendar_uid(appointment.id),
        sequence=appointment.revision,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        clinic_name=current_app.config["CLINIC_NAME"],
        stamp=now,
        cancelled=not appointment.is_live,
    )


def appointment_values(appointment: Appointment, tz: ZoneInfo) -> dict[str, str]:
    """Placeholder values for an appointment message, in the patient's wall-clock time."""
    local = appointment.starts_at.astimezone(tz)
    token_args = (appointment.id, appointment.revision, appointment.starts_at)
    return {
        "clinic_name": current_app.config["CLINIC_NAME"],
        "first_name": appointment.patient.first_name,
        "date": f"{local:%A} {local.day} {local:%B %Y}",
        "time": f"{local:%H:%M}",
        "confirm_url": links.public_url(
            "reminders.patient_confirm", token=links.make_token("confirm", *token_args)
        ),
        "change_url": links.public_url(
            "reminders.patient_change", token=links.make_token("change", *token_args)
        ),
        "ics_url": links.public_url(
            "reminders.patient_calendar", token=links.make_token("ics", *token_args)
        ),
    }


class _Templates:
    """Templates looked up once per planning call."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], MessageTemplate] = {}

    def render(self, kind: str, channel: str, values: dict[str, str]) -> messages.RenderedMessage:
        key = (kind, channel)
        if key not in self._cache:
            self._cache[key] = get_template(kind, channel)
        template = self._cache[key]
        return messages.render(template.subject, template.body, values, channel)


def _existing_rows(appointment_ids: list[int]) -> dict[tuple[int, str, datetime], Reminder]:
    if not appointment_ids:
        return {}
    rows = db.session.scalars(
        select(Reminder).where(
            Reminder.appointment_id.in_(appointment_ids), Reminder.kind == APPOINTMENT_REMINDER
        )
    )
    return {
        (r.appointment_id, r.channel, r.appointment_starts_at): r for r in rows if r.appointment_id
    }


def plan_appointments(appointments: Sequence[Appointment], *, now: datetime) -> list[Reminder]:
    """Write the reminder rows the policy asks for (idempotent: an existing row for the same
    appointment, channel and start is kept; a cancelled or skipped one is revived).

    Due time: see `clinic.reminders.timing`. When it has already passed at booking time,
    the reminder goes as soon as possible outside quiet hours if that is still before the
    appointment; an appointment that has already begun (back-entry) gets a `skipped` row.
    """
    policy = get_policy()
    templates = _Templates()
    existing = _existing_rows([a.id for a in appointments])
    planned: list[Reminder] = []
    for appointment in appointments:
        if appointment.status != "scheduled" or not _kind_enabled(policy, appointment):
            continue
        patient = appointment.patient
        tz = patient_timezone(patient)
        values: dict[str, str] | None = None
        for channel in CHANNELS:
            recipient = patient_address(patient, channel)
            if not policy.channel_enabled(channel) or recipient is None:
                continue
            row = existing.get((appointment.id, channel, appointment.starts_at))
            if row is not None and row.status not in ("cancelled", "skipped"):
                continue
            due = timing.reminder_due(
                appointment.starts_at,
                policy.offset_minutes(channel),
                tz,
                policy.quiet_start,
                policy.quiet_end,
            )
            status, reason = "pending", None
            if appointment.starts_at <= now:
                status, reason = "skipped", "the appointment had already begun when it was booked"
            elif due < now:
                late = timing.late_due(
                    now, appointment.starts_at, tz, policy.quiet_start, policy.quiet_end
                )
                if late is None:
                    status, reason = "skipped", "booked too late to remind outside quiet hours"
                else:
                    due = late
            if values is None:
                values = appointment_values(appointment, tz)
            payload = templates.render(APPOINTMENT_REMINDER, channel, values).as_payload()
            if channel == "email":
                payload["ics"] = appointment_calendar(appointment, now=now)
            if row is None:
                row = Reminder(
                    kind=APPOINTMENT_REMINDER,
                    channel=channel,
                    appointment_id=appointment.id,
                    appointment_starts_at=appointment.starts_at,
                    patient_id=patient.id,
                )
                db.session.add(row)
            row.status = status
            row.recipient = recipient
            row.due_at = due
            row.next_attempt_at = due
            row.attempts = 0
            row.claimed_at = None
            row.claim_token = None
            row.last_error = reason
            row.payload = payload
            planned.append(row)
    db.session.flush()
    return planned


def cancel_pending(
    *,
    reason: str,
    appointment_id: int | None = None,
    patient_id: int | None = None,
    channel: str | None = None,
    keep_start: datetime | None = None,
) -> int:
    """Cancel pending rows (of an appointment, or a patient's on a channel). Rows already
    being sent are left to the re-check just before sending."""
    query = update(Reminder).where(Reminder.status == "pending")
    if appointment_id is not None:
        query = query.where(Reminder.appointment_id == appointment_id)
    if patient_id is not None:
        query = query.where(Reminder.patient_id == patient_id)
    if channel is not None:
        query = query.where(Reminder.channel == channel)
    if keep_start is not None:
        query = query.where(Reminder.appointment_starts_at != keep_start)
    result = db.session.execute(
        query.values(status="cancelled", last_error=reason, updated_at=clock.now())
    )
    return result.rowcount or 0


def _message_row(
    *,
    kind: str,
    channel: str,
    patient: Patient | None,
    user_id: int | None,
    recipient: str,
    dedupe_key: str,
    due: datetime,
    expires_at: datetime | None,
    payload: dict[str, Any],
) -> Reminder | None:
    """Insert a message unique by `dedupe_key`; None when it already exists."""
    exists = db.session.scalar(select(Reminder.id).where(Reminder.dedupe_key == dedupe_key))
    if exists is not None:
        return None
    row = Reminder(
        kind=kind,
        channel=channel,
        status="pending",
        patient_id=patient.id if patient else None,
        user_id=user_id,
        recipient=recipient,
        dedupe_key=dedupe_key,
        due_at=due,
        next_attempt_at=due,
        expires_at=expires_at,
        attempts=0,
        payload=payload,
    )
    db.session.add(row)
    db.session.flush()
    return row


def plan_questionnaire_link(
    link: Any, url: str, patient: Patient, *, now: datetime
) -> Reminder | None:
    """Send a questionnaire link by the patient's preferred channel (if consented and
    reachable), now or when the patient's quiet hours end."""
    policy = get_policy()
    channel = patient.preferred_channel
    if not policy.send_questionnaire_links or channel not in CHANNELS:
        return None
    recipient = patient_address(patient, channel)
    if recipient is None or not policy.channel_enabled(channel):
        return None
    tz = patient_timezone(patient)
    values = {
        "clinic_name": current_app.config["CLINIC_NAME"],
        "first_name": patient.first_name,
        "questionnaire_url": url,
    }
    payload = _Templates().render(QUESTIONNAIRE_LINK, channel, values).as_payload()
    return _message_row(
        kind=QUESTIONNAIRE_LINK,
        channel=channel,
        patient=patient,
        user_id=None,
        recipient=recipient,
        dedupe_key=f"questionnaire_link:{link.id}",
        due=timing.after_quiet_hours(now, tz, policy.quiet_start, policy.quiet_end),
        expires_at=getattr(link, "expires_at", None),
        payload=payload,
    )


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
    return _message_row(
        kind=kind,
        channel="email",
        patient=None,
        user_id=user.id,
        recipient=user.email,
        dedupe_key=dedupe_key,
        due=due,
        expires_at=expires_at,
        payload=payload,
    )


def _alerts_url() -> str:
    base = current_app.config["CLINIC_BASE_URL"]
    if "alerts.index" in current_app.view_functions:
        return links.public_url("alerts.index")
    return base + "/"


def plan_alert_escalation(alert: Any, *, now: datetime) -> list[Reminder]:
    """Email every active clinician that an alert is still open. The email says only the
    kind and severity and links to the app: the details stay behind the sign-in."""
    if not get_policy().send_alert_escalations:
        return []
    clinicians = db.session.scalars(
        select(User).where(User.role == "clinician", User.active.is_(True)).order_by(User.id)
    ).all()
    payload = _staff_payload(
        "alert_escalation",
        kind=alert.kind.replace("_", " "),
        severity=alert.severity,
        opened=clock.to_local(alert.created_at),
        url=_alerts_url(),
    )
    rows = []
    for user in clinicians:
        row = _staff_email_row(
            ALERT_ESCALATION,
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
            "daily_schedule",
            user=user,
            day=f"{day:%A} {day.day} {day:%B %Y}",
            entries=[{**e, "mine": e["mine"] == user.id} for e in entries],
            url=current_app.config["CLINIC_BASE_URL"] + "/",
        )
        row = _staff_email_row(
            DAILY_SCHEDULE,
            user,
            dedupe_key=f"daily_schedule:{day.isoformat()}:{user.id}",
            due=now,
            expires_at=end.astimezone(now.tzinfo),
            payload=payload,
        )
        planned += row is not None
    return {"planned": planned}


def set_daily_schedule(user_id: int, wanted: bool, *, actor_id: int | None) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    user.wants_daily_schedule = wanted
    record(actor_id, "update", "user", user.id, detail={"wants_daily_schedule": wanted})
    db.session.flush()
    return user


# ------------------------------------------------------------------ signal receivers


def on_appointments_booked(_sender: Any, *, appointments: Sequence[Appointment], **_: Any) -> None:
    plan_appointments(appointments, now=clock.now())


def on_appointment_moved(_sender: Any, *, appointment: Appointment, **_: Any) -> None:
    """Replace: the old start's pending reminders are cancelled, the new start's planned."""
    cancel_pending(
        appointment_id=appointment.id,
        keep_start=appointment.starts_at,
        reason="the appointment was moved",
    )
    plan_appointments([appointment], now=clock.now())


def on_appointment_cancelled(_sender: Any, *, appointment: Appointment, **_: Any) -> None:
    cancel_pending(appointment_id=appointment.id, reason=f"the appointment is {appointment.status}")


def on_consent_changed(
    _sender: Any, *, patient: Patient, channel: str, granted: bool, **_: Any
) -> None:
    """Withdrawn: nothing more goes by that channel. Granted: upcoming appointments get
    their reminders on that channel."""
    if not granted:
        cancel_pending(
            patient_id=patient.id, channel=channel, reason=f"{channel} consent withdrawn"
        )
        return
    now = clock.now()
    upcoming = db.session.scalars(
        select(Appointment)
        .options(joinedload(Appointment.patient))
        .where(
            Appointment.patient_id == patient.id,
            Appointment.status == "scheduled",
            Appointment.starts_at > now,
        )
        .order_by(Appointment.starts_at)
    ).all()
    plan_appointments(upcoming, now=now)


def on_questionnaire_link_created(
    _sender: Any, *, link: Any, url: str, patient: Patient, deliver: bool = False, **_: Any
) -> None:
    if deliver:
        plan_questionnaire_link(link, url, patient, now=clock.now())


def on_alert_escalated(_sender: Any, *, alert: Any, **_: Any) -> None:
    plan_alert_escalation(alert, now=clock.now())


# -------------------------------------------------------------------------- delivery


@dataclass
class DispatchCounts:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped: int = 0

    def add(self, other: DispatchCounts) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _claimable(now: datetime) -> Any:
    return or_(
        and_(Reminder.status == "pending", Reminder.next_attempt_at <= now),
        and_(Reminder.status == "sending", Reminder.claimed_at < now - LEASE),
    )


def claim_due(now: datetime, batch_size: int) -> tuple[str, list[int]]:
    """Mark up to `batch_size` due rows `sending` under a new claim token and COMMIT."""
    query = (
        select(Reminder.id)
        .where(_claimable(now))
        .order_by(Reminder.next_attempt_at, Reminder.id)
        .limit(batch_size)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(query))
    token = uuid.uuid4().hex
    claimed: list[int] = []
    if ids:
        db.session.execute(
            update(Reminder)
            .where(Reminder.id.in_(ids), _claimable(now))
            .values(
                status="sending",
                claim_token=token,
                claimed_at=now,
                attempts=Reminder.attempts + 1,
                updated_at=now,
            ),
            execution_options={"synchronize_session": False},
        )
        claimed = list(db.session.scalars(select(Reminder.id).where(Reminder.claim_token == token)))
    db.session.commit()
    return token, claimed


@dataclass
class _Outcome:
    reminder_id: int
    status: str
    error: str | None = None
    retry_at: datetime | None = None
    alert: bool = False
    patient_id: int | None = None


@dataclass(frozen=True)
class _Delivery:
    """What sending one claimed row needs, read before the transaction ends."""

    reminder_id: int
    attempts: int
    patient_id: int | None
    appointment_starts_at: datetime | None
    quiet_tz: ZoneInfo | None  # patient messages wait for the end of quiet hours on retry
    message: OutgoingMessage


def _recheck(row: Reminder, policy: ReminderPolicy, now: datetime) -> tuple[str, str] | str:
    """The address to send to now, or (status, reason) when the row must not be sent."""
    if row.expires_at is not None and row.expires_at <= now:
        return "skipped", "expired before it could be sent"
    if row.kind == APPOINTMENT_REMINDER:
        appointment = row.appointment
        if appointment is None or appointment.status != "scheduled":
            state = appointment.status if appointment else "gone"
            return "cancelled", f"the appointment is {state}"
        if appointment.starts_at != row.appointment_starts_at:
            return "skipped", "the appointment was moved"
        if appointment.starts_at <= now:
            return "skipped", "too late: the appointment has begun"
        if not _kind_enabled(policy, appointment):
            return "cancelled", "reminders for this kind of appointment are switched off"
    if row.user_id is not None:
        user = db.session.get(User, row.user_id)
        if user is None or not user.active:
            return "cancelled", "the staff account is inactive"
        return user.email
    if not policy.channel_enabled(row.channel):
        return "cancelled", f"{row.channel} reminders are switched off"
    address = patient_address(row.patient, row.channel) if row.patient else None
    if address is None:
        return "cancelled", f"no {row.channel} consent or address"
    return address


def _delivery(row: Reminder, address: str) -> _Delivery:
    payload = row.payload or {}
    attachments: tuple[Attachment, ...] = ()
    if row.channel == "email" and payload.get("ics"):
        attachments = (Attachment("appointment.ics", "text/calendar", payload["ics"]),)
    patient = row.patient
    return _Delivery(
        reminder_id=row.id,
        attempts=row.attempts,
        patient_id=row.patient_id,
        appointment_starts_at=row.appointment_starts_at,
        quiet_tz=patient_timezone(patient) if patient else None,
        message=OutgoingMessage(
            channel=row.channel,
            to=address,
            subject=payload.get("subject", ""),
            text=payload.get("text", ""),
            html=payload.get("html", ""),
            attachments=attachments,
            reference=f"reminder-{row.id}",
        ),
    )


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter: about 1, 2, 4, 8, 16 minutes, capped at an hour;
    the jitter (+-25 %) keeps dispatchers from retrying a recovering server in lockstep."""
    base = min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_CAP)
    return base * random.uniform(0.75, 1.25)


def _failure(
    delivery: _Delivery, error: DeliveryError, policy: ReminderPolicy, now: datetime
) -> _Outcome:
    retry_at = now + retry_delay(delivery.attempts)
    if delivery.quiet_tz is not None:
        retry_at = timing.after_quiet_hours(
            retry_at, delivery.quiet_tz, policy.quiet_start, policy.quiet_end
        )
    starts_at = delivery.appointment_starts_at
    too_late = starts_at is not None and retry_at >= starts_at
    if error.permanent or delivery.attempts >= MAX_ATTEMPTS or too_late:
        return _Outcome(
            delivery.reminder_id, "failed", str(error), alert=True, patient_id=delivery.patient_id
        )
    return _Outcome(delivery.reminder_id, "pending", str(error), retry_at=retry_at)


def _mark(token: str, outcomes: list[_Outcome], now: datetime) -> None:
    """Write the batch's outcomes in one transaction, each guarded by the claim token
    (a row re-claimed by another dispatcher after the lease is not overwritten). Rows with
    the same outcome (typically: sent) share one UPDATE."""
    groups: dict[tuple[str, str | None, datetime | None], list[int]] = {}
    for outcome in outcomes:
        key = (outcome.status, outcome.error, outcome.retry_at)
        groups.setdefault(key, []).append(outcome.reminder_id)
    for (status, error, retry_at), ids in groups.items():
        values: dict[str, Any] = {
            "status": status,
            "last_error": error,
            "updated_at": now,
            "claim_token": None,
        }
        if status == "sent":
            values["sent_at"] = now
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        db.session.execute(
            update(Reminder)
            .where(Reminder.id.in_(ids), Reminder.claim_token == token)
            .values(**values),
            execution_options={"synchronize_session": False},
        )
    for outcome in outcomes:
        if outcome.alert:
            raise_alert(
                "reminder_failed",
                "A reminder could not be delivered",
                message=f"Message {outcome.reminder_id}: {outcome.error}",
                audience="front_desk",
                patient_id=outcome.patient_id,
                subject=("reminder", outcome.reminder_id),
                dedupe_key=f"reminder:{outcome.reminder_id}",
            )
    db.session.commit()


def dispatch_due(now: datetime, batch_size: int = DEFAULT_BATCH_SIZE) -> DispatchCounts:
    """One batch: claim due rows, re-check, send (one connection per channel), mark."""
    token, ids = claim_due(now, batch_size)
    counts = DispatchCounts(claimed=len(ids))
    if not ids:
        return counts
    policy = get_policy()
    rows = db.session.scalars(
        select(Reminder)
        .options(selectinload(Reminder.appointment), selectinload(Reminder.patient))
        .where(Reminder.id.in_(ids), Reminder.claim_token == token)
        .order_by(Reminder.next_attempt_at, Reminder.id)
    ).all()
    deliveries: list[_Delivery] = []
    outcomes: list[_Outcome] = []
    for row in rows:
        verdict = _recheck(row, policy, now)
        if isinstance(verdict, str):
            deliveries.append(_delivery(row, verdict))
        else:
            outcomes.append(_Outcome(row.id, verdict[0], verdict[1]))
    # End the read transaction before talking to the network: no lock is held while sending.
    db.session.rollback()
    with Transport(current_app.config) as transport:
        for delivery in deliveries:
            try:
                transport.send(delivery.message)
            except DeliveryError as exc:
                outcomes.append(_failure(delivery, exc, policy, now))
            else:
                outcomes.append(_Outcome(delivery.reminder_id, "sent"))
    _mark(token, outcomes, now)
    for outcome in outcomes:
        if outcome.status == "pending":
            counts.retrying += 1
        else:
            setattr(counts, outcome.status, getattr(counts, outcome.status) + 1)
    return counts


def dispatch_all(
    now: datetime, batch_size: int = DEFAULT_BATCH_SIZE, max_batches: int | None = None
) -> DispatchCounts:
    """Batches until nothing is due (or `max_batches`, so a scheduler tick stays short)."""
    total = DispatchCounts()
    batches = 0
    while max_batches is None or batches < max_batches:
        counts = dispatch_due(now, batch_size)
        total.add(counts)
        batches += 1
        if counts.claimed < batch_size:
            break
    return total


def dispatch_job(now: datetime) -> dict[str, int]:
    """The scheduler's every-minute job (bounded so one tick never runs into the next)."""
    return dispatch_all(now, DEFAULT_BATCH_SIZE, max_batches=50).as_dict()


# ---------------------------------------------------------------------- reading rows


def list_reminders(
    *,
    patient_id: int | None = None,
    appointment_id: int | None = None,
    status: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
    offset: int = 0,
) -> Sequence[Reminder]:
    """Newest due first, filtered and bounded."""
    query = select(Reminder).order_by(Reminder.due_at.desc(), Reminder.id.desc())
    if patient_id is not None:
        query = query.where(Reminder.patient_id == patient_id)
    if appointment_id is not None:
        query = query.where(Reminder.appointment_id == appointment_id)
    if status is not None:
        query = query.where(Reminder.status == status)
    if kind is not None:
        query = query.where(Reminder.kind == kind)
    if since is not None:
        query = query.where(Reminder.due_at >= since)
    if until is not None:
        query = query.where(Reminder.due_at < until)
    return db.session.scalars(query.limit(limit).offset(offset)).all()


def status_counts() -> dict[str, int]:
    rows = db.session.execute(select(Reminder.status, func.count()).group_by(Reminder.status))
    return dict(rows.all())


# ------------------------------------------------------------- patients' answers


def _appointment_for(purpose: str, token: str) -> tuple[Appointment, links.LinkClaim]:
    claim = links.read_token(purpose, token)
    appointment = db.session.scalar(
        select(Appointment)
        .options(joinedload(Appointment.patient))
        .where(Appointment.id == claim.appointment_id)
    )
    if appointment is None:
        raise NotFound("This appointment no longer exists.")
    return appointment, claim


def appointment_for_link(purpose: str, token: str) -> Appointment:
    """The appointment a patient link is about, if the link still applies to it."""
    appointment, claim = _appointment_for(purpose, token)
    if appointment.revision != claim.revision:
        raise Gone(
            "This appointment has been changed since this message was sent; "
            "please use the link in the newest message.",
            code="appointment_changed",
        )
    if not appointment.is_live:
        raise Gone("This appointment has been cancelled.", code="appointment_cancelled")
    return appointment


def _respond(token: str, purpose: str, kind: str, message: str | None) -> AppointmentResponse:
    appointment = appointment_for_link(purpose, token)
    if appointment.starts_at <= clock.now():
        raise Gone("This appointment has already begun.", code="appointment_past")
    already = db.session.scalar(
        select(AppointmentResponse).where(
            AppointmentResponse.appointment_id == appointment.id,
            AppointmentResponse.revision == appointment.revision,
            AppointmentResponse.kind == kind,
        )
    )
    if already is not None:
        if kind == "confirm":
            return already
        raise Conflict(
            "We already have your request for this appointment.", code="already_requested"
        )
    response = AppointmentResponse(
        appointment_id=appointment.id,
        patient_id=appointment.patient_id,
        revision=appointment.revision,
        appointment_starts_at=appointment.starts_at,
        kind=kind,
        message=(message or "").strip()[:1000] or None,
        at=clock.now(),
    )
    db.session.add(response)
    db.session.flush()
    record(
        None,
        "confirm_attendance" if kind == "confirm" else "request_change",
        "appointment",
        appointment.id,
        patient_id=appointment.patient_id,
        detail={"source": "patient_link"},
    )
    return response


def confirm_attendance(token: str) -> AppointmentResponse:
    """The patient says they will come (idempotent: a second click changes nothing)."""
    return _respond(token, "confirm", "confirm", None)


def request_change(token: str, message: str | None) -> AppointmentResponse:
    """The patient asks the front desk to change the time; shown on the day board."""
    return _respond(token, "change", "change", message)


def change_requests_for_day(day: date) -> Sequence[AppointmentResponse]:
    """Open change requests for appointments on `day` (clinic time), for the day board."""
    tz = clock.clinic_tz()
    start = datetime.combine(day, time(0), tzinfo=tz)
    return open_change_requests(start, start + timedelta(days=1))


def open_change_requests(
    start: datetime, end: datetime, limit: int = 500
) -> Sequence[AppointmentResponse]:
    return db.session.scalars(
        select(AppointmentResponse)
        .options(joinedload(AppointmentResponse.appointment).joinedload(Appointment.patient))
        .where(
            AppointmentResponse.kind == "change",
            AppointmentResponse.handled_at.is_(None),
            AppointmentResponse.appointment_starts_at >= start,
            AppointmentResponse.appointment_starts_at < end,
        )
        .order_by(AppointmentResponse.appointment_starts_at)
        .limit(limit)
    ).all()


def confirmations_for(appointment_ids: Sequence[int]) -> set[int]:
    """Which of these appointments the patient confirmed (for their current time)."""
    if not appointment_ids:
        return set()
    rows = db.session.execute(
        select(AppointmentResponse.appointment_id)
        .join(Appointment, Appointment.id == AppointmentResponse.appointment_id)
        .where(
            AppointmentResponse.kind == "confirm",
            AppointmentResponse.appointment_id.in_(appointment_ids),
            AppointmentResponse.revision == Appointment.revision,
        )
    )
    return {appointment_id for (appointment_id,) in rows}


def mark_change_request_handled(response_id: int, *, actor_id: int | None) -> AppointmentResponse:
    response = db.session.get(AppointmentResponse, response_id)
    if response is None or response.kind != "change":
        raise NotFound("No such change request.")
    if response.handled_at is None:
        response.handled_at = clock.now()
        response.handled_by_id = actor_id
        record(
            actor_id,
            "handle_change_request",
            "appointment",
            response.appointment_id,
            patient_id=response.patient_id,
        )
    db.session.flush()
    return response


def calendar_for_link(token: str) -> str:
    """The .ics of the appointment as it is now (a cancelled one as CANCELLED)."""
    appointment, _ = _appointment_for("ics", token)
    return appointment_calendar(appointment, now=clock.now())


# ------------------------------------------------------------------- inbound SMS STOP


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


# ------------------------------------------------------------------ scheduler heartbeat


def record_heartbeat(
    job_id: str,
    *,
    at: datetime,
    success: bool,
    duration_ms: int,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Upsert the job's heartbeat (any number of scheduler processes may write it)."""
    values = {
        "job_id": job_id,
        "last_tick_at": at,
        "duration_ms": duration_ms,
        "host": socket.gethostname()[:120],
        "pid": os.getpid(),
        "last_error": error,
        "last_result": result,
    }
    if success:
        values["last_success_at"] = at
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(SchedulerHeartbeat).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["job_id"], set_={k: v for k, v in values.items() if k != "job_id"}
    )
    db.session.execute(statement)


def scheduler_status(now: datetime) -> dict[str, Any]:
    """For /api/v1/health and the admin page: the last tick, and whether it is recent."""
    beats = db.session.scalars(select(SchedulerHeartbeat).order_by(SchedulerHeartbeat.job_id)).all()
    if not beats:
        return {"status": "not_running", "last_tick_at": None, "jobs": {}}
    last = max(beat.last_tick_at for beat in beats)
    return {
        "status": "ok" if now - last <= HEARTBEAT_STALE_AFTER else "stale",
        "last_tick_at": last.isoformat(),
        "jobs": {
            beat.job_id: {
                "last_tick_at": beat.last_tick_at.isoformat(),
                "last_success_at": beat.last_success_at.isoformat()
                if beat.last_success_at
                else None,
                "last_error": beat.last_error,
                "host": beat.host,
                "pid": beat.pid,
            }
            for beat in beats
        },
    }


def heartbeats() -> Sequence[SchedulerHeartbeat]:
    return db.session.scalars(select(SchedulerHeartbeat).order_by(SchedulerHeartbeat.job_id)).all()
