"""Sending one claimed outbox row, at most once: re-check, record the attempt, send, mark.

`send_one` is the whole life of one message:

1. `begin_attempt`: one guarded UPDATE, committed: the row is still ours (claim token,
   `sending`) and its appointment still `scheduled` at the start the message announces.
   It sets `attempted_at` and renews the lease, so a crash from here on is visible as
   "maybe delivered".
2. the hold (PostgreSQL): lock the appointment FOR SHARE and the row FOR UPDATE, and
   look again, in one statement after that commit. The locks last until the server has
   answered (and a `sent` is committed), so a cancel or a move of that appointment waits
   for the message in flight (one send, milliseconds) and cannot slip in between the
   check and the server's answer. The attempt, its COMMIT, the next BEGIN and the hold
   travel in one pipeline: one round trip a message. SQLite takes no row locks and
   serialises every writer; holding its one lock across the network would stall the
   whole app, so there the window is the send itself.
3. send, then mark the outcome: a failure at once in its own commit, a `sent` in the
   commit that records the next message's attempt (nothing is sent in between, and on
   PostgreSQL in the same statement), so each message costs one commit.

A dispatcher killed at any instruction leaves at most the one message it was sending
unmarked; the database dropping between the server's 250 and our commit does the same.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import ClauseElement, Connection, Table, Update, bindparam, exists, select, update
from sqlalchemy.dialects import postgresql

from clinic import clock
from clinic.alerts.models import AlertKind
from clinic.alerts.services import raise_alert
from clinic.auth.models import User
from clinic.extensions import db
from clinic.permissions import Role
from clinic.reminders import links, timing
from clinic.reminders.channels import Attachment, DeliveryError, OutgoingMessage, Transport
from clinic.reminders.models import Channel, MessageKind, Reminder, ReminderPolicy, ReminderStatus
from clinic.reminders.policy import reminds_about
from clinic.reminders.recipients import patient_address, patient_timezone
from clinic.scheduling.models import Appointment, AppointmentStatus

MAX_ATTEMPTS = 6
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
# An attempt interrupted longer ago than this (a restored backup, a dispatcher down for
# hours) is not sent again blindly: the front desk decides (see docs/reminders.md).
RESEND_WITHIN = timedelta(hours=1)


@dataclass
class Outcome:
    reminder_id: int
    status: str
    error: str | None = None
    retry_at: datetime | None = None
    alert: bool = False
    patient_id: int | None = None


@dataclass(frozen=True)
class Delivery:
    """What sending one claimed row needs, read before its transaction ends."""

    reminder_id: int
    attempts: int
    appointment_id: int | None
    patient_id: int | None
    appointment_starts_at: datetime | None
    interrupted_at: datetime | None  # a previous attempt that was never marked
    quiet_tz: ZoneInfo | None  # patient messages wait for the end of quiet hours on retry
    message: OutgoingMessage


def recheck(row: Reminder, policy: ReminderPolicy, now: datetime) -> tuple[str, str] | str:
    """The address to send to now, or (status, reason) when the row must not be sent."""
    if row.expires_at is not None and row.expires_at <= now:
        return ReminderStatus.SKIPPED, "expired before it could be sent"
    if row.kind == MessageKind.APPOINTMENT_REMINDER:
        appointment = row.appointment
        if appointment is None or appointment.status != AppointmentStatus.SCHEDULED:
            state = appointment.status if appointment else "gone"
            return ReminderStatus.CANCELLED, f"the appointment is {state}"
        if appointment.starts_at != row.appointment_starts_at:
            return ReminderStatus.SKIPPED, "the appointment was moved"
        if appointment.starts_at <= now:
            return ReminderStatus.SKIPPED, "too late: the appointment has begun"
        if not reminds_about(policy, appointment):
            return ReminderStatus.CANCELLED, "reminders for this kind of appointment are off"
    if row.user_id is not None:
        user = db.session.get(User, row.user_id)
        if user is None or not user.active:
            return ReminderStatus.CANCELLED, "the staff account is inactive"
        return user.email
    if not policy.channel_enabled(row.channel):
        return ReminderStatus.CANCELLED, f"{row.channel} reminders are switched off"
    address = patient_address(row.patient, row.channel) if row.patient else None
    if address is None:
        return ReminderStatus.CANCELLED, f"no {row.channel} consent or address"
    return address


def abandoned(row: Reminder, now: datetime) -> Outcome | None:
    """A `failed` outcome for a row whose unmarked attempt is too old to repeat blindly."""
    if row.attempted_at is None or now - row.attempted_at <= RESEND_WITHIN:
        return None
    return Outcome(
        row.id,
        ReminderStatus.FAILED,
        f"interrupted while being sent at {row.attempted_at:%Y-%m-%d %H:%M} UTC (a crash or a "
        "restored backup): it may have been delivered; check with the patient",
        alert=True,
        patient_id=row.patient_id,
    )


def message_id(row: Reminder) -> str:
    """One Message-ID per outbox row and appointment time: a message sent again after a
    crash carries the same one, so mail servers and clients can recognise the repeat."""
    start = f".{int(row.appointment_starts_at.timestamp())}" if row.appointment_starts_at else ""
    return f"<reminder-{row.id}{start}@{links.site_host()}>"


def delivery(row: Reminder, address: str) -> Delivery:
    payload = row.payload or {}
    attachments: tuple[Attachment, ...] = ()
    if row.channel == Channel.EMAIL and payload.get("ics"):
        attachments = (Attachment("appointment.ics", "text/calendar", payload["ics"]),)
    patient = row.patient
    return Delivery(
        reminder_id=row.id,
        attempts=row.attempts,
        appointment_id=row.appointment_id,
        patient_id=row.patient_id,
        appointment_starts_at=row.appointment_starts_at,
        interrupted_at=row.attempted_at,
        quiet_tz=patient_timezone(patient, row.appointment) if patient else None,
        message=OutgoingMessage(
            channel=row.channel,
            to=address,
            subject=payload.get("subject", ""),
            text=payload.get("text", ""),
            html=payload.get("html", ""),
            attachments=attachments,
            reference=f"reminder-{row.id}",
            message_id=message_id(row),
        ),
    )


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter: about 1, 2, 4, 8, 16 minutes, capped at an hour;
    the jitter (+-25 %) keeps dispatchers from retrying a recovering server in lockstep."""
    base = min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_CAP)
    return base * random.uniform(0.75, 1.25)


def _failure(
    item: Delivery, error: DeliveryError, policy: ReminderPolicy, now: datetime
) -> Outcome:
    retry_at = now + retry_delay(item.attempts)
    if item.quiet_tz is not None:
        retry_at = timing.after_quiet_hours(
            retry_at, item.quiet_tz, policy.quiet_start, policy.quiet_end
        )
    starts_at = item.appointment_starts_at
    too_late = starts_at is not None and retry_at >= starts_at
    if error.permanent or item.attempts >= MAX_ATTEMPTS or too_late:
        return Outcome(
            item.reminder_id,
            ReminderStatus.FAILED,
            str(error),
            alert=True,
            patient_id=item.patient_id,
        )
    return Outcome(item.reminder_id, ReminderStatus.PENDING, str(error), retry_at=retry_at)


def mark(token: str, outcomes: list[Outcome]) -> None:
    """Write outcomes and COMMIT, each guarded by the claim token (a row re-claimed by
    another dispatcher after the lease is not overwritten). `sent` is the truth and is
    always written; anything else yields to a cancellation that came meanwhile. Rows with
    the same outcome share one UPDATE."""
    at = clock.now()
    groups: dict[tuple[str, str | None, datetime | None], list[int]] = {}
    for outcome in outcomes:
        groups.setdefault((outcome.status, outcome.error, outcome.retry_at), []).append(
            outcome.reminder_id
        )
    for (status, error, retry_at), ids in groups.items():
        values: dict[str, Any] = {
            "status": status,
            "last_error": error,
            "updated_at": at,
            "claim_token": None,
            "attempted_at": None,
        }
        guard = Reminder.claim_token == token
        if status == ReminderStatus.SENT:
            values["sent_at"] = at
        else:
            guard &= Reminder.status == ReminderStatus.SENDING
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        db.session.execute(
            update(Reminder).where(Reminder.id.in_(ids), guard).values(**values),
            execution_options={"synchronize_session": False},
        )
    for outcome in outcomes:
        if outcome.alert:
            raise_alert(
                AlertKind.REMINDER_FAILED,
                "A reminder could not be delivered",
                message=f"Message {outcome.reminder_id}: {outcome.error}",
                audience=Role.FRONT_DESK,
                patient_id=outcome.patient_id,
                subject=("reminder", outcome.reminder_id),
                dedupe_key=f"reminder:{outcome.reminder_id}",
            )
    db.session.commit()


# The per-message statements, built once on the tables: constructing and keying a
# statement, and the ORM's bulk-update machinery, cost more CPU than executing them, and
# every message runs three of them.
_TABLE = Reminder.__table__
assert isinstance(_TABLE, Table)
_ROWS = _TABLE.c
_APPOINTMENTS = Appointment.__table__.c
_CLAIMED = (
    (_ROWS.id == bindparam("reminder_id"))
    & (_ROWS.claim_token == bindparam("token"))
    & (_ROWS.status == ReminderStatus.SENDING)
)
# The database decides, not our snapshot: still `scheduled` at the announced start.
_AS_ANNOUNCED = exists().where(
    _APPOINTMENTS.id == _ROWS.appointment_id,
    _APPOINTMENTS.status == AppointmentStatus.SCHEDULED,
    _APPOINTMENTS.starts_at == _ROWS.appointment_starts_at,
)
_BEGIN = (
    update(_TABLE)
    .where(_CLAIMED)
    .values(attempted_at=bindparam("at"), claimed_at=bindparam("at"), updated_at=bindparam("at"))
)
_BEGIN_REMINDER = _BEGIN.where(_AS_ANNOUNCED)
_LOCK_ROW = select(_ROWS.id).where(_CLAIMED).with_for_update()
# PostgreSQL, one statement and one round trip: the appointment, still `scheduled` at the
# announced start, FOR SHARE and then the row, still ours, FOR UPDATE (the locking
# clauses lock in the order written: the scheduling lifecycle's order, so a cancel that
# locked the appointment first is waited for, never deadlocked with).
_LOCK_BOTH = (
    select(_ROWS.id)
    .join_from(Appointment.__table__, _TABLE, _APPOINTMENTS.id == _ROWS.appointment_id)
    .where(
        _CLAIMED,
        _APPOINTMENTS.status == AppointmentStatus.SCHEDULED,
        _APPOINTMENTS.starts_at == bindparam("starts_at"),
    )
    .suffix_with("FOR SHARE OF appointments FOR UPDATE OF reminders")
)


def _mark_sent(reminder_id: str) -> Update:
    assert isinstance(_TABLE, Table)
    return (
        update(_TABLE)
        .where(_ROWS.id == bindparam(reminder_id), _ROWS.claim_token == bindparam("token"))
        .values(
            status=ReminderStatus.SENT,
            sent_at=bindparam("at"),
            updated_at=bindparam("at"),
            last_error=None,
            claim_token=None,
            attempted_at=None,
        )
    )


_MARK_SENT = _mark_sent("reminder_id")
# PostgreSQL: the previous message's `sent` rides in the next one's begin as a
# data-modifying WITH, one statement (SQLite has no such WITH); the begin returns its row
# (see `_begin_and_hold`).
_SENT_BEFORE = _mark_sent("sent_id").cte("sent_before")
_POSTGRESQL_BEGINS = {
    (about_appointment, after_sent): (
        (_BEGIN_REMINDER if about_appointment else _BEGIN).add_cte(_SENT_BEFORE)
        if after_sent
        else (_BEGIN_REMINDER if about_appointment else _BEGIN)
    ).returning(_ROWS.id)
    for about_appointment in (False, True)
    for after_sent in (False, True)
}
_POSTGRESQL = postgresql.psycopg.dialect()


@cache
def _postgresql_text(statement: ClauseElement) -> tuple[str, dict[str, Any]]:
    """A per-message statement as psycopg text (`%(name)s` placeholders) and its constant
    parameters, compiled once."""
    compiled = statement.compile(dialect=_POSTGRESQL)
    return str(compiled), dict(compiled.params)


def _keys(item: Delivery, token: str) -> dict[str, Any]:
    return {"reminder_id": item.reminder_id, "token": token}


def begin_attempt(
    connection: Connection, item: Delivery, token: str, sent: Delivery | None = None
) -> bool:
    """Record that sending begins (and renew the lease), together with the `sent` mark of
    the message sent just before, if any, COMMIT, and on PostgreSQL take the hold (below):
    one commit a message, and nothing goes out between that send and its mark. False when
    the row is no longer ours or its appointment changed since the claim (the caller
    rolls back whatever was locked)."""
    keys = {**_keys(item, token), "at": clock.now()}
    if connection.dialect.name == "postgresql":
        return _begin_and_hold(connection, item, keys, sent)
    if sent is not None:
        connection.execute(_MARK_SENT, {**_keys(sent, token), "at": keys["at"]})
    statement = _BEGIN_REMINDER if item.appointment_id is not None else _BEGIN
    began = connection.execute(statement, keys).rowcount
    connection.commit()
    return began == 1


def _begin_and_hold(
    connection: Connection, item: Delivery, keys: dict[str, Any], sent: Delivery | None
) -> bool:
    """PostgreSQL, in one pipeline and one round trip: the attempt (with the last `sent`),
    COMMIT, BEGIN, and the hold: the appointment, still `scheduled` at the announced
    start, FOR SHARE, then the row, still ours, FOR UPDATE. The locks last until the
    server has answered and the `sent` is committed with the next attempt, so a cancel or
    a move of that appointment waits for the message in flight (one send, milliseconds)
    and cannot slip in between the check and the server's answer.

    psycopg's pipeline mode sends the four as extended-protocol messages before reading
    any answer, so the attempt and the hold are bound by the server and, after a few
    messages, prepared: planned once per connection instead of at every message, which
    halved PostgreSQL's CPU a message (0.80 to 0.41 ms). Behind PgBouncer psycopg prepares
    nothing (`CLINIC_PGBOUNCER`), and the pipeline ends inside the hold's transaction, so
    PgBouncer keeps the server connection until the hold's COMMIT."""
    if sent is not None:
        keys["sent_id"] = sent.reminder_id
    begin, begin_constants = _postgresql_text(
        _POSTGRESQL_BEGINS[item.appointment_id is not None, sent is not None]
    )
    if item.appointment_id is None:
        lock, lock_constants = _postgresql_text(_LOCK_ROW)
    else:
        lock, lock_constants = _postgresql_text(_LOCK_BOTH)
        keys["starts_at"] = item.appointment_starts_at
    if not connection.in_transaction():
        # SQLAlchemy's own record of the transaction: the pipeline goes past it, and
        # without it the caller's rollback (or commit) would not reach the server.
        connection.begin()
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    with driver.pipeline():
        attempt = driver.execute(begin, {**begin_constants, **keys})
        driver.execute("COMMIT")
        driver.execute("BEGIN")
        hold = driver.execute(lock, {**lock_constants, **keys})
    return attempt.fetchone() is not None and hold.fetchone() is not None


def _withdrawn(item: Delivery, token: str, policy: ReminderPolicy, now: datetime) -> Outcome | None:
    """The row or its appointment changed between the claim and the send: settle why.
    None when someone else owns the row now (another dispatcher after the lease). Ends
    the session's transaction either way: the batch's connection writes next."""
    db.session.rollback()  # also expires every object: what follows is read afresh
    row = db.session.get(Reminder, item.reminder_id)
    if row is None or row.claim_token != token or row.status != ReminderStatus.SENDING:
        cancelled = row is not None and row.status == ReminderStatus.CANCELLED
        db.session.rollback()
        return Outcome(item.reminder_id, ReminderStatus.CANCELLED) if cancelled else None
    verdict = recheck(row, policy, now)
    if isinstance(verdict, str):  # changed and changed back: the next pass sends it
        outcome = Outcome(item.reminder_id, ReminderStatus.PENDING, retry_at=now)
    else:
        outcome = Outcome(item.reminder_id, *verdict)
    mark(token, [outcome])
    return outcome


def send_one(
    connection: Connection,
    item: Delivery,
    token: str,
    transport: Transport,
    policy: ReminderPolicy,
    now: datetime,
    sent: Delivery | None = None,
) -> Outcome | None:
    """Re-check, record the attempt, send one message and mark a failure (see the module
    doc). A `sent` outcome is left for the caller to mark: with the next message's
    attempt (`sent`), or by `mark_sent` after the last. The rare outcomes are written
    through the session, after `connection` let go of its locks (`mark` yields to a
    cancellation that came meanwhile)."""
    if not begin_attempt(connection, item, token, sent):
        connection.rollback()
        return _withdrawn(item, token, policy, now)
    try:
        transport.send(item.message)
    except DeliveryError as exc:
        connection.rollback()
        outcome = _failure(item, exc, policy, now)
        mark(token, [outcome])
        return outcome
    return Outcome(item.reminder_id, ReminderStatus.SENT)


def mark_sent(connection: Connection, item: Delivery, token: str) -> None:
    """What `mark` would write for `sent`, by the prebuilt statement (the common case),
    and COMMIT."""
    connection.execute(_MARK_SENT, {**_keys(item, token), "at": clock.now()})
    connection.commit()


def send_all(
    items: list[Delivery],
    token: str,
    transport: Transport,
    policy: ReminderPolicy,
    now: datetime,
) -> Iterator[Outcome]:
    """`send_one` for each message in turn over one connection of the batch's own, kept
    from message to message (the session would return it to the pool, and check it out
    and ping it again, at every commit); a message sent is marked in the commit that
    begins the next one, the last on its own."""
    unmarked: Delivery | None = None
    with db.engine.connect() as connection:
        for item in items:
            outcome = send_one(connection, item, token, transport, policy, now, unmarked)
            sent = outcome is not None and outcome.status == ReminderStatus.SENT
            unmarked = item if sent else None
            if outcome is not None:
                yield outcome
        if unmarked is not None:
            mark_sent(connection, unmarked, token)
