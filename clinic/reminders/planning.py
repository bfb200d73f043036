"""Planning patient messages: appointment reminders and questionnaire links.

Planning runs inside the transaction of the change that causes it (see
`clinic.reminders.receivers`), so a booking and its reminders commit or roll back
together. A row holds the message as rendered at planning time; dispatch only re-checks
that it still applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.utils import parseaddr
from typing import Any, Protocol, cast
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.orm import joinedload

from clinic import clock, i18n
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.errors import Conflict, NotFound
from clinic.extensions import db
from clinic.patients.models import Patient
from clinic.reminders import links, messages, timing
from clinic.reminders.message_templates import TemplateCache
from clinic.reminders.models import Channel, MessageKind, Reminder, ReminderStatus
from clinic.reminders.policy import get_policy, reminds_about
from clinic.reminders.recipients import patient_address, patient_timezone
from clinic.scheduling.models import Appointment, AppointmentStatus, Device


class QuestionnaireLinkLike(Protocol):
    """What a questionnaire link must offer to be sent (the outcomes feature owns it)."""

    @property
    def id(self) -> int: ...

    @property
    def expires_at(self) -> datetime | None: ...


def calendar_uid(appointment_id: int) -> str:
    """One UID per appointment, so every calendar file updates the same entry."""
    return f"appointment-{appointment_id}@{links.site_host()}"


def appointment_calendar(appointment: Appointment, *, now: datetime) -> str:
    """The .ics for an appointment, its words in the patient's language."""
    with i18n.speaking(appointment.patient.language):
        summary = messages.calendar_summary(current_app.config["CLINIC_NAME"])
    return _calendar(appointment, now, summary)


def _calendar(appointment: Appointment, now: datetime, summary: str) -> str:
    return messages.appointment_calendar(
        uid=calendar_uid(appointment.id),
        sequence=appointment.revision,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        clinic_name=current_app.config["CLINIC_NAME"],
        organizer_email=parseaddr(current_app.config["CLINIC_EMAIL_FROM"])[1],
        stamp=now,
        summary=summary,
        cancelled=not appointment.is_live,
    )


def appointment_values(
    appointment: Appointment, tz: ZoneInfo, urls: links.PublicUrls | None = None
) -> dict[str, str]:
    """Placeholder values for an appointment message, in the patient's wall-clock time."""
    url = urls or links.PublicUrls()
    local = appointment.starts_at.astimezone(tz)
    tokens = links.make_tokens(appointment.id, appointment.revision, appointment.starts_at)
    return {
        "clinic_name": current_app.config["CLINIC_NAME"],
        "first_name": appointment.patient.first_name,
        "date": i18n.long_date(local.date(), appointment.patient.language),
        "time": f"{local:%H:%M}",
        "confirm_url": url.with_token("reminders.patient_confirm", tokens["confirm"]),
        "change_url": url.with_token("reminders.patient_change", tokens["change"]),
        "ics_url": url.with_token("reminders.patient_calendar", tokens["ics"]),
    }


class _Batch:
    """What the messages of one planning call share, worked out once: a course books
    dozens of sessions, and per session the bound URL map, the templates, the chairs'
    zones and the calendar's translated title cost more than the messages themselves."""

    def __init__(self, appointments: Sequence[Appointment]) -> None:
        self.templates = TemplateCache()
        self.urls = links.PublicUrls()
        self._zones: dict[tuple[int, int], ZoneInfo] = {}
        self._summaries: dict[str, str] = {}
        # A patient without a zone of their own reads the chair's site's: those chairs
        # and sites in one query, not one a chair (held here: the session keeps only
        # objects someone refers to).
        chairs = {a.device_id for a in appointments if not a.patient.timezone}
        self._chairs = (
            db.session.scalars(
                select(Device).options(joinedload(Device.site)).where(Device.id.in_(chairs))
            ).all()
            if len(chairs) > 1
            else ()
        )

    def zone(self, appointment: Appointment) -> ZoneInfo:
        key = (appointment.patient_id, appointment.device_id)
        if key not in self._zones:
            self._zones[key] = patient_timezone(appointment.patient, appointment)
        return self._zones[key]

    def calendar(self, appointment: Appointment, now: datetime) -> str:
        language = appointment.patient.language
        if language not in self._summaries:
            with i18n.speaking(language):
                name = current_app.config["CLINIC_NAME"]
                self._summaries[language] = messages.calendar_summary(name)
        return _calendar(appointment, now, self._summaries[language])


def _existing_rows(
    appointment_ids: list[int],
) -> dict[tuple[int, str, datetime | None], Reminder]:
    if not appointment_ids:
        return {}
    rows = db.session.scalars(
        select(Reminder).where(
            Reminder.appointment_id.in_(appointment_ids),
            Reminder.kind == MessageKind.APPOINTMENT_REMINDER,
        )
    )
    return {
        (r.appointment_id, r.channel, r.appointment_starts_at): r for r in rows if r.appointment_id
    }


def plan_appointments(appointments: Sequence[Appointment], *, now: datetime) -> int:
    """Write the reminder rows the policy asks for (idempotent: an existing row for the same
    appointment, channel and start is kept; a cancelled or skipped one is revived); how
    many rows it planned.

    Due time: see `clinic.reminders.timing`. When it has already passed at booking time,
    the reminder goes as soon as possible outside quiet hours if that is still before the
    appointment; an appointment that has already begun (back-entry) gets a `skipped` row.
    """
    policy = get_policy()
    existing = _existing_rows([a.id for a in appointments])
    batch = _Batch(appointments)
    revived = 0
    new_rows: list[dict[str, Any]] = []
    for appointment in appointments:
        if appointment.status != AppointmentStatus.SCHEDULED or not reminds_about(
            policy, appointment
        ):
            continue
        patient = appointment.patient
        tz = batch.zone(appointment)
        values: dict[str, str] | None = None
        for channel in Channel:
            recipient = patient_address(patient, channel)
            if not policy.channel_enabled(channel) or recipient is None:
                continue
            row = existing.get((appointment.id, channel, appointment.starts_at))
            if row is not None and row.status not in (
                ReminderStatus.CANCELLED,
                ReminderStatus.SKIPPED,
            ):
                continue
            due = timing.reminder_due(
                appointment.starts_at,
                policy.offset_minutes(channel),
                tz,
                policy.quiet_start,
                policy.quiet_end,
            )
            status, reason = ReminderStatus.PENDING, None
            if appointment.starts_at <= now:
                status, reason = (
                    ReminderStatus.SKIPPED,
                    "the appointment had already begun when it was booked",
                )
            elif due < now:
                late = timing.late_due(
                    now, appointment.starts_at, tz, policy.quiet_start, policy.quiet_end
                )
                if late is None:
                    status, reason = (
                        ReminderStatus.SKIPPED,
                        "booked too late to remind outside quiet hours",
                    )
                else:
                    due = late
            if values is None:
                values = appointment_values(appointment, tz, batch.urls)
            payload = batch.templates.render(
                MessageKind.APPOINTMENT_REMINDER, channel, values, patient.language
            ).as_payload()
            if channel == Channel.EMAIL:
                payload["ics"] = batch.calendar(appointment, now)
            state = {
                "status": status,
                "recipient": recipient,
                "due_at": due,
                "next_attempt_at": due,
                "attempts": 0,
                "claimed_at": None,
                "claim_token": None,
                "attempted_at": None,
                "last_error": reason,
                "payload": payload,
            }
            if row is None:
                new_rows.append(
                    {
                        "kind": MessageKind.APPOINTMENT_REMINDER,
                        "channel": channel,
                        "appointment_id": appointment.id,
                        "appointment_starts_at": appointment.starts_at,
                        "patient_id": patient.id,
                        **state,
                    }
                )
                continue
            for name, value in state.items():
                setattr(row, name, value)
            revived += 1
    db.session.flush()
    if new_rows:
        # One statement for a whole course's rows, not one round trip a row, and nothing
        # read back: building the rows' objects cost more than writing them.
        db.session.execute(insert(Reminder), new_rows)
    return revived + len(new_rows)


def plan_upcoming_appointments(patient: Patient, *, now: datetime) -> int:
    """Reminders for the patient's scheduled appointments still ahead (after a consent
    is granted: the upcoming ones get their messages on that channel)."""
    upcoming = db.session.scalars(
        select(Appointment)
        .options(joinedload(Appointment.patient))
        .where(
            Appointment.patient_id == patient.id,
            Appointment.status == AppointmentStatus.SCHEDULED,
            Appointment.starts_at > now,
        )
        .order_by(Appointment.starts_at)
    ).all()
    return plan_appointments(upcoming, now=now)


def cancel_unsent(
    *,
    reason: str,
    appointment_id: int | None = None,
    patient_id: int | None = None,
    channel: str | None = None,
    keep_start: datetime | None = None,
) -> int:
    """Cancel the rows not sent yet (of an appointment, or a patient's on a channel):
    `pending` ones and `sending` ones a dispatcher has claimed. A dispatcher re-checks its
    row under lock just before each send (`clinic.reminders.sending`), so a claimed row
    cancelled here does not go out; one already in flight has its appointment locked,
    and this transaction waits until it is marked `sent`."""
    query = update(Reminder).where(
        Reminder.status.in_((ReminderStatus.PENDING, ReminderStatus.SENDING))
    )
    if appointment_id is not None:
        query = query.where(Reminder.appointment_id == appointment_id)
    if patient_id is not None:
        query = query.where(Reminder.patient_id == patient_id)
    if channel is not None:
        query = query.where(Reminder.channel == channel)
    if keep_start is not None:
        query = query.where(Reminder.appointment_starts_at != keep_start)
    result = cast(
        CursorResult[Any],
        db.session.execute(
            query.values(status=ReminderStatus.CANCELLED, last_error=reason, updated_at=clock.now())
        ),
    )
    return result.rowcount or 0


def insert_message(
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
    """Insert a message that is not about an appointment, unique by `dedupe_key` (so a
    second scheduler or a rerun adds nothing); None when it already exists."""
    exists = db.session.scalar(select(Reminder.id).where(Reminder.dedupe_key == dedupe_key))
    if exists is not None:
        return None
    row = Reminder(
        kind=kind,
        channel=channel,
        status=ReminderStatus.PENDING,
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
    link: QuestionnaireLinkLike,
    url: str,
    patient: Patient,
    *,
    now: datetime,
    channel: str | None = None,
) -> Reminder | None:
    """Send a questionnaire link by the patient's preferred channel, or the `channel` staff
    chose (if consented and reachable), now or when the patient's quiet hours end.
    Questionnaires due together go out as ONE message: a link due at the same moment as a
    message not yet sent joins it."""
    policy = get_policy()
    channel = channel or patient.preferred_channel
    if not policy.send_questionnaire_links or channel not in tuple(Channel):
        return None
    recipient = patient_address(patient, channel)
    if recipient is None or not policy.channel_enabled(channel):
        return None
    due = timing.after_quiet_hours(
        now, patient_timezone(patient), policy.quiet_start, policy.quiet_end
    )
    entry = {"id": link.id, "url": url}
    for waiting in db.session.scalars(
        select(Reminder).where(
            Reminder.kind == MessageKind.QUESTIONNAIRE_LINK,
            Reminder.patient_id == patient.id,
            Reminder.channel == channel,
            Reminder.status == ReminderStatus.PENDING,
            Reminder.due_at == due,
        )
    ):
        joined = list(waiting.payload.get("links", []))
        if any(known["id"] == link.id for known in joined):
            return waiting
        expires = min(
            (at for at in (waiting.expires_at, link.expires_at) if at is not None), default=None
        )
        payload = _questionnaire_payload(patient, channel, [*joined, entry])
        # Guarded: a dispatcher that claimed the row first keeps it; the link goes alone.
        joined_now = db.session.execute(
            update(Reminder)
            .where(Reminder.id == waiting.id, Reminder.status == ReminderStatus.PENDING)
            .values(payload=payload, expires_at=expires, recipient=recipient)
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], joined_now).rowcount:
            db.session.expire(waiting)
            return waiting
    return insert_message(
        kind=MessageKind.QUESTIONNAIRE_LINK,
        channel=channel,
        patient=patient,
        user_id=None,
        recipient=recipient,
        dedupe_key=f"questionnaire_link:{link.id}",
        due=due,
        expires_at=link.expires_at,
        payload=_questionnaire_payload(patient, channel, [entry]),
    )


def _questionnaire_payload(
    patient: Patient, channel: str, entries: list[dict[str, Any]]
) -> dict[str, Any]:
    """The message for one or several links (one per line in an email, spaced in an SMS),
    with the links it carries so a later one can join it."""
    separator = " " if channel == Channel.SMS else "\n"
    values = {
        "clinic_name": current_app.config["CLINIC_NAME"],
        "first_name": patient.first_name,
        "questionnaire_url": separator.join(entry["url"] for entry in entries),
    }
    rendered = TemplateCache().render(
        MessageKind.QUESTIONNAIRE_LINK, channel, values, patient.language
    )
    return {**rendered.as_payload(), "links": entries}


RESENDABLE = (
    ReminderStatus.SENT,
    ReminderStatus.FAILED,
    ReminderStatus.CANCELLED,
    ReminderStatus.SKIPPED,
)


def resend_message(reminder_id: int, *, actor_id: int | None, now: datetime) -> Reminder:
    """Send a patient's message again, now, to their current address for its channel (a
    patient who says "I never got it"). An appointment's message goes again only while the
    appointment is still booked at the time it names."""
    row = db.session.get(Reminder, reminder_id) if 0 < reminder_id < 2**31 else None
    if row is None or row.patient is None:
        raise NotFound(f"No patient message {reminder_id}.")
    if row.status not in RESENDABLE:
        raise Conflict("This message has not gone out yet: nothing to resend.", code="not_sent")
    appointment = row.appointment
    if appointment is not None and (
        appointment.status != AppointmentStatus.SCHEDULED
        or appointment.starts_at != row.appointment_starts_at
    ):
        raise Conflict(
            "The appointment changed since this message; its current reminders are planned "
            "already.",
            code="appointment_changed",
        )
    recipient = row.patient.address_for(row.channel)
    if recipient is None:
        raise Conflict(
            f"The patient has no {row.channel} consent or address now.", code="unreachable"
        )
    copy = insert_message(
        kind=row.kind,
        channel=row.channel,
        patient=row.patient,
        user_id=None,
        recipient=recipient,
        dedupe_key=f"resend:{row.id}:{now.isoformat()}",
        due=now,
        expires_at=row.expires_at,
        payload=dict(row.payload or {}),
    )
    assert copy is not None
    record(
        actor_id,
        AuditAction.CREATE,
        "reminder",
        copy.id,
        patient_id=row.patient_id,
        detail={"resend_of": row.id},
    )
    return copy
