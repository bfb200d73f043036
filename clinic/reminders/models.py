"""The message outbox, the reminder policy, message templates, and patient answers to
reminders.

The outbox (`reminders`) holds every message the clinic sends: appointment reminders,
questionnaire links and staff messages. Rows are written in the same transaction as the
change that causes them and delivered later by the scheduler process. Uniqueness that
must survive concurrent writers lives in the database: one row per (appointment, kind,
channel, appointment start), and one row per dedupe key for the other messages.
"""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic import clock
from clinic.db import one_of
from clinic.extensions import Model
from clinic.patients.models import Patient
from clinic.scheduling.models import Appointment


class ReminderStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a dispatcher
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # no longer wanted when its time came (consent, status, address)


# The rows a dispatcher may still send, as the partial index names them. A query uses
# that index only when its WHERE holds this very term, with the values written out:
# statuses as bound parameters leave both databases unable to prove the index covers
# the rows, and they read the whole outbox, every message ever sent, instead.
OPEN_ROWS = f"status IN ('{ReminderStatus.PENDING}', '{ReminderStatus.SENDING}')"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class MessageKind(StrEnum):
    """Patient-facing kinds have admin-editable templates; staff kinds are rendered from files."""

    APPOINTMENT_REMINDER = "appointment_reminder"
    QUESTIONNAIRE_LINK = "questionnaire_link"
    ALERT_ESCALATION = "alert_escalation"
    DAILY_SCHEDULE = "daily_schedule"


class AnswerKind(StrEnum):
    """What a patient said through a reminder's link."""

    CONFIRM = "confirm"
    CHANGE = "change"


class Reminder(Model):
    """One message to deliver through one channel, at most once (see `dispatch`)."""

    __tablename__ = "reminders"
    __table_args__ = (
        one_of("status", ReminderStatus, name="status"),
        one_of("channel", Channel, name="channel"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        # Each reminder at most once per appointment time, whatever runs concurrently.
        UniqueConstraint(
            "appointment_id",
            "kind",
            "channel",
            "appointment_starts_at",
            name="uq_reminders_appointment_kind_channel_start",
        ),
        UniqueConstraint("dedupe_key", name="uq_reminders_dedupe_key"),
        # The dispatcher's scan: only open rows, by when they may next be tried.
        Index(
            "ix_reminders_open_next_attempt",
            "next_attempt_at",
            postgresql_where=text(OPEN_ROWS),
            sqlite_where=text(OPEN_ROWS),
        ),
        Index("ix_reminders_patient_due", "patient_id", "due_at"),
        # The front desk's list: a day's messages, newest due first.
        Index("ix_reminders_due", "due_at", "id"),
        Index("ix_reminders_appointment", "appointment_id"),
        # The dispatch-rate gauge reads the last few minutes of sends (clinic.monitoring).
        Index("ix_reminders_sent_at", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default=ReminderStatus.PENDING)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    # The start the reminder announces: a move makes a new row for the new start.
    appointment_starts_at: Mapped[datetime | None]
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Messages without an appointment are unique by this key (e.g. "daily_schedule:2026-03-09:7").
    dedupe_key: Mapped[str | None] = mapped_column(String(120))
    recipient: Mapped[str | None] = mapped_column(String(254))
    due_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    # After this instant the message is useless (an expired link, yesterday's schedule).
    expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The lease: set by the claim and renewed when a send begins (see dispatch.LEASE).
    claimed_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # host:pid of the dispatcher that holds (or last held) the claim, for operators.
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    # When the current send began (committed before the message leaves): a row still
    # `sending` with this set after its lease was interrupted mid-send, maybe delivered.
    attempted_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    appointment: Mapped[Appointment | None] = relationship()
    patient: Mapped[Patient | None] = relationship()


class ReminderPolicy(Model):
    """The clinic's reminder policy (CONTRACT.md section 5); one row, id 1, seeded."""

    __tablename__ = "reminder_policy"
    __table_args__ = (
        CheckConstraint("email_offset_minutes >= 0", name="email_offset"),
        CheckConstraint("sms_offset_minutes >= 0", name="sms_offset"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    email_offset_minutes: Mapped[int] = mapped_column(Integer, default=24 * 60)
    sms_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    sms_offset_minutes: Mapped[int] = mapped_column(Integer, default=120)
    quiet_start: Mapped[time] = mapped_column(Time, default=time(21, 0))
    quiet_end: Mapped[time] = mapped_column(Time, default=time(8, 0))
    remind_treatment: Mapped[bool] = mapped_column(Boolean, default=True)
    remind_mapping: Mapped[bool] = mapped_column(Boolean, default=True)
    send_questionnaire_links: Mapped[bool] = mapped_column(Boolean, default=True)
    send_alert_escalations: Mapped[bool] = mapped_column(Boolean, default=True)
    send_daily_schedule: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    def offset_minutes(self, channel: str) -> int:
        return self.email_offset_minutes if channel == Channel.EMAIL else self.sms_offset_minutes

    def channel_enabled(self, channel: str) -> bool:
        return self.email_enabled if channel == Channel.EMAIL else self.sms_enabled


class MessageTemplate(Model):
    """The words of a patient message, per kind and channel, with {placeholders}."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("kind", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AppointmentResponse(Model):
    """A patient's answer through a reminder link: a confirmation or a change request.

    One of each per appointment revision (a moved appointment may be confirmed again),
    enforced by the database so a double click cannot record two."""

    __tablename__ = "appointment_responses"
    __table_args__ = (
        UniqueConstraint("appointment_id", "revision", "kind"),
        one_of("kind", AnswerKind, name="kind"),
        Index("ix_appointment_responses_starts_at", "appointment_starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    appointment_starts_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(10))
    message: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=clock.now)
    handled_at: Mapped[datetime | None]
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    appointment: Mapped[Appointment] = relationship()
