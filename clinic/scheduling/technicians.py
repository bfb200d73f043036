"""Technicians: their working hours, and one person running one chair at a time.

A technician never has two live appointments that overlap. The database refuses it on
PostgreSQL (an exclusion constraint per technician, migration 0009, like the chairs');
on SQLite every writing transaction begins IMMEDIATE, so the check here and the write
after it run one request at a time. Hours are wall-clock times in the clinic's zone; a
technician with no hours set is never refused for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time

from sqlalchemy import select

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.auth.models import User
from clinic.errors import Conflict, Invalid, NotFound
from clinic.extensions import db
from clinic.permissions import Role
from clinic.scheduling.models import LIVE_STATUSES, Appointment, TechnicianHours, overlaps

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def list_technicians() -> Sequence[User]:
    """Active technicians, by name."""
    return db.session.scalars(
        select(User)
        .where(User.role == Role.TECHNICIAN, User.active.is_(True))
        .order_by(User.name)
        .limit(500)
    ).all()


def get_technician(user_id: int) -> User:
    user = db.session.get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None or user.role != Role.TECHNICIAN:
        raise NotFound(f"No technician {user_id}.")
    return user


def working_hours(user_ids: Sequence[int]) -> dict[int, dict[int, TechnicianHours]]:
    """Each technician's hours by weekday (0 = Monday), in one query."""
    found: dict[int, dict[int, TechnicianHours]] = {user_id: {} for user_id in user_ids}
    if user_ids:
        for row in db.session.scalars(
            select(TechnicianHours).where(TechnicianHours.user_id.in_(user_ids))
        ):
            found[row.user_id][row.weekday] = row
    return found


def set_working_hours(
    user_id: int, weekday: int, *, starts_at: time | None, ends_at: time | None, actor_id: int
) -> TechnicianHours | None:
    """Set one weekday's hours of a technician; both None makes it a day off."""
    technician = get_technician(user_id)
    if not 0 <= weekday <= 6:
        raise Invalid("Weekday is 0 (Monday) to 6 (Sunday).", fields={"weekday": ["0 to 6."]})
    row = db.session.get(TechnicianHours, (technician.id, weekday))
    if starts_at is None and ends_at is None:
        if row is not None:
            db.session.delete(row)
        db.session.flush()
        record(
            actor_id,
            AuditAction.DELETE,
            "technician_hours",
            technician.id,
            detail={"weekday": weekday},
        )
        return None
    if starts_at is None or ends_at is None or ends_at <= starts_at:
        raise Invalid(
            "Working hours need a start before the end.",
            fields={"ends_at": ["Must be after the start."]},
        )
    if row is None:
        row = TechnicianHours(
            user_id=technician.id, weekday=weekday, starts_at=starts_at, ends_at=ends_at
        )
        db.session.add(row)
    row.starts_at, row.ends_at = starts_at, ends_at
    db.session.flush()
    record(
        actor_id,
        AuditAction.UPDATE,
        "technician_hours",
        technician.id,
        detail={
            "weekday": weekday,
            "starts_at": starts_at.isoformat("minutes"),
            "ends_at": ends_at.isoformat("minutes"),
        },
    )
    return row


def overlapping(
    technician_id: int, starts_at: datetime, ends_at: datetime, ignore: int | None = None
) -> Appointment | None:
    """A live appointment of the technician's that overlaps [starts_at, ends_at)."""
    query = select(Appointment).where(
        Appointment.technician_id == technician_id,
        Appointment.status.in_(LIVE_STATUSES),
        overlaps(starts_at, ends_at),
    )
    if ignore is not None:
        query = query.where(Appointment.id != ignore)
    return db.session.scalar(query.limit(1))


def off_duty(technician_id: int, starts_at: datetime, ends_at: datetime) -> str | None:
    """Why the span is outside the technician's working hours (None: inside, or no hours)."""
    hours = working_hours([technician_id])[technician_id]
    if not hours:
        return None
    tz = clock.clinic_tz()
    local_start, local_end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    row = hours.get(local_start.weekday())
    if row is None:
        return f"The technician does not work on {WEEKDAYS[local_start.weekday()]}s."
    if (
        local_end.date() != local_start.date()
        or local_start.time() < row.starts_at
        or local_end.time() > row.ends_at
    ):
        return f"Outside the technician's hours ({row.starts_at:%H:%M}-{row.ends_at:%H:%M})."
    return None


def ensure_available(
    technician_id: int, starts_at: datetime, ends_at: datetime, ignore: int | None = None
) -> None:
    """409 `technician_busy` when the technician runs another live appointment then,
    `technician_off_duty` when the span is outside their working hours."""
    clash = overlapping(technician_id, starts_at, ends_at, ignore)
    if clash is not None:
        local = clock.to_local(clash.starts_at)
        raise Conflict(
            f"The technician already runs appointment {clash.id} at {local:%H:%M} then.",
            code="technician_busy",
            details={"appointment_id": clash.id},
        )
    reason = off_duty(technician_id, starts_at, ends_at)
    if reason:
        raise Conflict(reason, code="technician_off_duty")
