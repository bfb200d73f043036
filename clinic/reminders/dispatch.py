"""Delivering due messages from the outbox, in the scheduler process or
`flask reminders dispatch`:

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

Unlike a service this module commits: each step is its own transaction, so no lock is
held while talking to a mail server.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import selectinload

from clinic.alerts.services import raise_alert
from clinic.auth.models import User
from clinic.extensions import db
from clinic.reminders import timing
from clinic.reminders.channels import Attachment, DeliveryError, OutgoingMessage, Transport
from clinic.reminders.models import MessageKind, Reminder, ReminderPolicy
from clinic.reminders.policy import get_policy, reminds_about
from clinic.reminders.recipients import patient_address, patient_timezone

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 6
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
DEFAULT_BATCH_SIZE = 100


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


def _claimable(now: datetime) -> ColumnElement[bool]:
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
    if row.kind == MessageKind.APPOINTMENT_REMINDER:
        appointment = row.appointment
        if appointment is None or appointment.status != "scheduled":
            state = appointment.status if appointment else "gone"
            return "cancelled", f"the appointment is {state}"
        if appointment.starts_at != row.appointment_starts_at:
            return "skipped", "the appointment was moved"
        if appointment.starts_at <= now:
            return "skipped", "too late: the appointment has begun"
        if not reminds_about(policy, appointment):
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
