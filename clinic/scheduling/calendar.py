"""The clinic's calendar: chairs, their maintenance, opening hours and closures, and
loading them (with who is busy when) for the pure booking planner.

Plain functions with explicit arguments; they flush but never commit.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.errors import Conflict, Invalid, NotFound
from clinic.extensions import db
from clinic.scheduling import booking
from clinic.scheduling.models import (
    LIVE_STATUSES,
    Appointment,
    AppointmentKind,
    Closure,
    Device,
    MaintenanceWindow,
    OpeningHours,
)

if TYPE_CHECKING:
    from clinic.courses.models import Course
    from clinic.patients.models import Patient

MAX_ID = 2**31 - 1
"""Ids beyond a 32-bit integer cannot exist; refusing them early avoids driver errors."""
LONGEST_APPOINTMENT = timedelta(hours=24)

Row = TypeVar("Row")


def get_row(model: type[Row], entity_id: int, label: str) -> Row:
    """The row by id, or 404 naming what was looked for."""
    found = db.session.get(model, entity_id) if 0 < entity_id <= MAX_ID else None
    if found is None:
        raise NotFound(f"No {label} {entity_id}.")
    return found


def locked_appointment(appointment_id: int) -> Appointment:
    """The appointment, locked until this transaction ends, and read afresh.

    Every change of an appointment starts here, so two of them (two cancels, a cancel
    and a move, from any number of app servers) queue up: the second reads what the
    first committed and is refused if that ended the appointment. PostgreSQL locks the
    row (SELECT ... FOR UPDATE); SQLite's writers are serialised by BEGIN IMMEDIATE.
    `populate_existing` replaces whatever the session held from before the lock."""
    if not 0 < appointment_id <= MAX_ID:
        raise NotFound(f"No appointment {appointment_id}.")
    appointment = db.session.scalar(
        select(Appointment)
        .where(Appointment.id == appointment_id)
        .with_for_update(of=Appointment)
        .execution_options(populate_existing=True)
    )
    if appointment is None:
        raise NotFound(f"No appointment {appointment_id}.")
    return appointment


def clean_text(value: str | None, limit: int, label: str, *, required: bool = False) -> str | None:
    """Trimmed text within `limit`, None when empty; a 422 naming the field otherwise."""
    value = (value or "").strip()
    if required and not value:
        raise Invalid(f"{label} is required.", fields={label.lower(): ["Required."]})
    if len(value) > limit:
        raise Invalid(
            f"{label} is too long.", fields={label.lower(): [f"At most {limit} characters."]}
        )
    return value or None


# -- devices and maintenance -----------------------------------------------------------


def list_devices(*, active_only: bool = False) -> Sequence[Device]:
    query = select(Device).order_by(Device.name)
    if active_only:
        query = query.where(Device.active.is_(True))
    return db.session.scalars(query).all()


def get_device(device_id: int) -> Device:
    return get_row(Device, device_id, "device")


def _ensure_unique_name(name: str, device_id: int | None = None) -> None:
    # lower() on both sides, in the database: SQLite's lower() leaves non-ASCII letters as
    # they are, so comparing with Python's lower() missed "É" == "É" and the unique index
    # answered instead (a 500).
    query = select(Device.id).where(func.lower(Device.name) == func.lower(name))
    if device_id is not None:
        query = query.where(Device.id != device_id)
    if db.session.scalar(query) is not None:
        raise Conflict(
            f"A device named {name!r} already exists.",
            code="device_exists",
            fields={"name": ["Already in use."]},
        )


def create_device(*, name: str, model: str | None, room: str | None, actor_id: int) -> Device:
    clean_name = clean_text(name, 80, "Name", required=True)
    assert clean_name is not None
    _ensure_unique_name(clean_name)
    device = Device(
        name=clean_name, model=clean_text(model, 120, "Model"), room=clean_text(room, 80, "Room")
    )
    db.session.add(device)
    db.session.flush()
    record(actor_id, AuditAction.CREATE, "device", device.id, detail={"name": device.name})
    return device


def update_device(device_id: int, *, actor_id: int, **changes: Any) -> Device:
    """Rename, re-house or (de)activate a device. An inactive device takes no new bookings;
    its existing appointments stay where they are for the front desk to move."""
    device = get_device(device_id)
    if "name" in changes:
        name = clean_text(changes["name"], 80, "Name", required=True)
        assert name is not None
        _ensure_unique_name(name, device.id)
        device.name = name
    if "model" in changes:
        device.model = clean_text(changes["model"], 120, "Model")
    if "room" in changes:
        device.room = clean_text(changes["room"], 80, "Room")
    if "active" in changes:
        device.active = bool(changes["active"])
    db.session.flush()
    record(actor_id, AuditAction.UPDATE, "device", device.id, detail={"changed": sorted(changes)})
    return device


def list_maintenance(
    *, device_id: int | None = None, since: datetime | None = None
) -> Sequence[MaintenanceWindow]:
    query = (
        select(MaintenanceWindow)
        .options(joinedload(MaintenanceWindow.device))
        .order_by(MaintenanceWindow.starts_at)
    )
    if device_id is not None:
        query = query.where(MaintenanceWindow.device_id == device_id)
    if since is not None:
        query = query.where(MaintenanceWindow.ends_at > since)
    return db.session.scalars(query.limit(500)).all()


def add_maintenance(
    device_id: int,
    *,
    starts_at: datetime,
    ends_at: datetime,
    reason: str | None,
    actor_id: int,
) -> MaintenanceWindow:
    """Block a chair for a span; booking avoids it (existing appointments are kept)."""
    device = get_device(device_id)
    if ends_at <= starts_at:
        raise Invalid("Maintenance must end after it starts.", fields={"ends_at": ["Too early."]})
    window = MaintenanceWindow(
        device_id=device.id,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=clean_text(reason, 200, "Reason"),
    )
    db.session.add(window)
    db.session.flush()
    record(actor_id, AuditAction.CREATE, "maintenance", window.id, detail={"device_id": device.id})
    return window


def delete_maintenance(device_id: int, window_id: int, *, actor_id: int) -> None:
    window = get_row(MaintenanceWindow, window_id, "maintenance window")
    if window.device_id != device_id:
        raise NotFound(f"No maintenance window {window_id} on device {device_id}.")
    db.session.delete(window)
    db.session.flush()
    record(actor_id, AuditAction.DELETE, "maintenance", window_id, detail={"device_id": device_id})


# -- opening hours and closures --------------------------------------------------------


def opening_hours() -> dict[int, OpeningHours]:
    return {row.weekday: row for row in db.session.scalars(select(OpeningHours))}


def set_opening_hours(
    weekday: int, *, opens_at: time | None, closes_at: time | None, actor_id: int
) -> OpeningHours | None:
    """Set a weekday's hours; both None closes the clinic on that weekday."""
    if not 0 <= weekday <= 6:
        raise Invalid("Weekday is 0 (Monday) to 6 (Sunday).", fields={"weekday": ["0 to 6."]})
    row = db.session.get(OpeningHours, weekday)
    if opens_at is None and closes_at is None:
        if row is not None:
            db.session.delete(row)
        db.session.flush()
        record(actor_id, AuditAction.DELETE, "opening_hours", weekday)
        return None
    if opens_at is None or closes_at is None or closes_at <= opens_at:
        raise Invalid(
            "Opening hours need an opening time before the closing time.",
            fields={"closes_at": ["Must be after the opening time."]},
        )
    if row is None:
        row = OpeningHours(weekday=weekday, opens_at=opens_at, closes_at=closes_at)
        db.session.add(row)
    row.opens_at, row.closes_at = opens_at, closes_at
    db.session.flush()
    record(
        actor_id,
        AuditAction.UPDATE,
        "opening_hours",
        weekday,
        detail={
            "opens_at": opens_at.isoformat("minutes"),
            "closes_at": closes_at.isoformat("minutes"),
        },
    )
    return row


def list_closures(*, since: date | None = None, until: date | None = None) -> Sequence[Closure]:
    query = select(Closure).order_by(Closure.date)
    if since is not None:
        query = query.where(Closure.date >= since)
    if until is not None:
        query = query.where(Closure.date <= until)
    return db.session.scalars(query.limit(1000)).all()


def add_closure(*, day: date, reason: str | None, actor_id: int) -> Closure:
    """Close the clinic for a day. Appointments already on it stay, for the desk to move."""
    if db.session.scalar(select(Closure.id).where(Closure.date == day)) is not None:
        raise Conflict(
            f"The clinic is already closed on {day.isoformat()}.",
            code="closure_exists",
            fields={"date": ["Already a closure."]},
        )
    closure = Closure(date=day, reason=clean_text(reason, 200, "Reason") or "")
    db.session.add(closure)
    db.session.flush()
    record(actor_id, AuditAction.CREATE, "closure", closure.id, detail={"date": day.isoformat()})
    return closure


def delete_closure(closure_id: int, *, actor_id: int) -> None:
    closure = get_row(Closure, closure_id, "closure")
    db.session.delete(closure)
    db.session.flush()
    record(
        actor_id,
        AuditAction.DELETE,
        "closure",
        closure_id,
        detail={"date": closure.date.isoformat()},
    )


# -- loading what the planner needs ----------------------------------------------------


def load_calendar(start: date, end: date) -> booking.Calendar:
    """Hours, closures and maintenance between two clinic dates, and the active devices."""
    tz = clock.clinic_tz()
    span_start = datetime.combine(start - timedelta(days=1), time(0), tzinfo=tz)
    span_end = datetime.combine(end + timedelta(days=2), time(0), tzinfo=tz)
    maintenance: dict[int, list[tuple[datetime, datetime]]] = {}
    for device_id, starts_at, ends_at in db.session.execute(
        select(
            MaintenanceWindow.device_id, MaintenanceWindow.starts_at, MaintenanceWindow.ends_at
        ).where(MaintenanceWindow.ends_at > span_start, MaintenanceWindow.starts_at < span_end)
    ):
        maintenance.setdefault(device_id, []).append((starts_at, ends_at))
    closures = dict(
        db.session.execute(
            select(Closure.date, Closure.reason).where(
                Closure.date >= start - timedelta(days=1), Closure.date <= end + timedelta(days=1)
            )
        ).all()
    )
    devices = dict(
        db.session.execute(
            select(Device.id, Device.name).where(Device.active.is_(True)).order_by(Device.id)
        ).all()
    )
    return booking.Calendar(
        tz=tz,
        hours={row.weekday: (row.opens_at, row.closes_at) for row in opening_hours().values()},
        closures=closures,
        devices=devices,
        maintenance=maintenance,
    )


def _load_busy(spans: Sequence[booking.Span], patient_id: int | None) -> list[booking.Busy]:
    """Live appointments overlapping any of `spans` (only the patient's when given), as
    plain tuples through Core: ORM entities would cost more than the query."""
    table = Appointment.__table__
    overlapping = [
        # Sessions last minutes: the lower bound lets the starts_at index do the work.
        and_(
            table.c.starts_at >= start - LONGEST_APPOINTMENT,
            table.c.starts_at < end,
            table.c.ends_at > start,
        )
        for start, end in spans
    ]
    query = select(
        table.c.id,
        table.c.device_id,
        table.c.patient_id,
        table.c.starts_at,
        table.c.ends_at,
        table.c.kind,
    ).where(table.c.status.in_(LIVE_STATUSES), or_(*overlapping))
    if patient_id is not None:
        query = query.where(table.c.patient_id == patient_id)
    return [
        booking.Busy(
            device_id,
            patient,
            starts_at,
            ends_at,
            kind == AppointmentKind.TREATMENT,
            appointment_id,
        )
        for appointment_id, device_id, patient, starts_at, ends_at, kind in (
            db.session.connection().execute(query)
        )
    ]


def occupancy(*, ignore: Collection[int] = ()) -> booking.Occupancy:
    return booking.Occupancy(_load_busy, clock.clinic_tz(), ignore=ignore)


def patient_tz(patient: Patient) -> ZoneInfo:
    """The patient's own time zone, or the clinic's when none (or an unknown one) is set."""
    name = patient.timezone
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return clock.clinic_tz()


def planner_patient(course: Course, kind: str = AppointmentKind.TREATMENT) -> booking.Patient:
    """The patient's side of a booking: one treatment a day, except in accelerated
    courses; a mapping visit is not a treatment, so it may share the day."""
    return booking.Patient(
        id=course.patient_id,
        tz=patient_tz(course.patient),
        one_a_day=kind == AppointmentKind.TREATMENT and course.protocol.pattern != "accelerated",
    )
