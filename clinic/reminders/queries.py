"""Reading the outbox: the front desk's list, the API, the counts on the scheduler page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import joinedload

from clinic.extensions import db
from clinic.paging import Cursor
from clinic.reminders.models import OPEN_ROWS, Reminder, ReminderStatus
from clinic.scheduling.models import Appointment, Device
from clinic.scheduling.sites import booked_at


def list_reminders(
    *,
    patient_id: int | None = None,
    appointment_id: int | None = None,
    status: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    site_ids: set[int] | None = None,
    limit: int = 200,
    offset: int = 0,
    after: Cursor | None = None,
) -> Sequence[Reminder]:
    """Newest due first, filtered and bounded (with each row's patient, whom the page
    names, and its appointment's chair and site, whose clock tells its time). Page with
    `after` (keyset, constant cost); `offset` stays for older API clients."""
    query = (
        select(Reminder)
        .options(
            joinedload(Reminder.patient),
            joinedload(Reminder.appointment).joinedload(Appointment.device).joinedload(Device.site),
        )
        .order_by(Reminder.due_at.desc(), Reminder.id.desc())
    )
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
    if site_ids is not None:
        query = query.where(_at_sites(site_ids))
    if after is not None:
        query = query.where(after.older(Reminder.due_at, Reminder.id))
    return db.session.scalars(query.limit(limit).offset(offset)).all()


def _at_sites(site_ids: set[int]) -> Any:
    """The messages of some sites: about an appointment there; without an appointment,
    to a patient seen there; and the messages to staff, which belong to no site."""
    return or_(
        booked_at(Appointment.id, Reminder.appointment_id, site_ids),
        and_(
            Reminder.appointment_id.is_(None),
            booked_at(Appointment.patient_id, Reminder.patient_id, site_ids),
        ),
        Reminder.patient_id.is_(None),
    )


RECENT = timedelta(hours=24)


@dataclass(frozen=True)
class OutboxCounts:
    waiting: dict[str, int]
    """Every row not sent yet, by status (pending, sending)."""
    recent: dict[str, int]
    """The rows due in the last RECENT that are settled, by how (sent, failed, ...)."""


def status_counts(now: datetime) -> OutboxCounts:
    """The scheduler page's outbox: what waits now, through the open rows' index, and how
    the last day's messages went, through the due index. Totals over every message
    ever sent grew with the years and read the whole table at each view."""
    recent = select(Reminder.status, func.count()).where(
        Reminder.due_at >= now - RECENT,
        Reminder.due_at < now,
        Reminder.status.not_in((ReminderStatus.PENDING, ReminderStatus.SENDING)),
    )
    return OutboxCounts(
        waiting=waiting_counts(),
        recent=dict(db.session.execute(recent.group_by(Reminder.status)).all()),
    )


def waiting_counts() -> dict[str, int]:
    """The rows not sent yet, by status (pending, sending), through the open rows' index:
    the scheduler page and the `/metrics` outbox depth."""
    waiting = select(Reminder.status, func.count()).where(text(OPEN_ROWS))
    return dict(db.session.execute(waiting.group_by(Reminder.status)).all())


PATIENT_MESSAGES_SHOWN = 30


def patient_messages(patient_id: int) -> Sequence[Reminder]:
    """The latest messages to one patient (what, to which address, when, how it went), for
    the chart; its reading is the chart's, audited there."""
    return list_reminders(patient_id=patient_id, limit=PATIENT_MESSAGES_SHOWN)
