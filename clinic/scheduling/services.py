"""Scheduling rules: devices, the clinic calendar, booking, moves, cancellations.

Plain functions with explicit arguments (never `request`/`current_user`); they flush but
never commit. Planning itself lives in `clinic.scheduling.booking` (pure); this module
loads what the planner needs, writes its result, audits and sends the signals.

Double booking: on PostgreSQL the exclusion constraints of migration 0001 refuse an
overlap even when two requests pass the check at once (their IntegrityError becomes a
409 `conflict` here); on SQLite every writing transaction begins IMMEDIATE, so the check
and the insert below run one request at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload

from clinic import clock, events
from clinic.alerts.services import raise_alert
from clinic.audit.services import record
from clinic.courses.models import Course
from clinic.errors import Conflict, Invalid, NotFound
from clinic.extensions import db
from clinic.scheduling import board, booking
from clinic.scheduling.models import (
    LIVE_STATUSES,
    Appointment,
    Closure,
    Device,
    MaintenanceWindow,
    OpeningHours,
)

MAX_ID = 2**31 - 1
"""Ids beyond a 32-bit integer cannot exist; refusing them early avoids driver errors."""
PENDING_STATUSES = ("scheduled", "checked_in")
"""Booked and not yet delivered: what counts as `scheduled` for a course."""
MOVABLE_STATUSES = ("scheduled",)
CANCELLABLE_STATUSES = ("scheduled", "checked_in")
KINDS = ("treatment", "mapping")
EXCLUSION_VIOLATION = "23P01"
LONGEST_APPOINTMENT = timedelta(hours=24)


def _get(model: Any, entity_id: int, label: str) -> Any:
    found = db.session.get(model, entity_id) if 0 < entity_id <= MAX_ID else None
    if found is None:
        raise NotFound(f"No {label} {entity_id}.")
    return found


# -- devices and maintenance -----------------------------------------------------------


def list_devices(*, active_only: bool = False) -> Sequence[Device]:
    query = select(Device).order_by(Device.name)
    if active_only:
        query = query.where(Device.active.is_(True))
    return db.session.scalars(query).all()


def get_device(device_id: int) -> Device:
    return _get(Device, device_id, "device")


def _clean(value: str | None, limit: int, label: str, *, required: bool = False) -> str | None:
    value = (value or "").strip()
    if required and not value:
        raise Invalid(f"{label} is required.", fields={label.lower(): ["Required."]})
    if len(value) > limit:
        raise Invalid(
            f"{label} is too long.", fields={label.lower(): [f"At most {limit} characters."]}
        )
    return value or None


def _ensure_unique_name(name: str, device_id: int | None = None) -> None:
    query = select(Device.id).where(func.lower(Device.name) == name.lower())
    if device_id is not None:
        query = query.where(Device.id != device_id)
    if db.session.scalar(query) is not None:
        raise Conflict(
            f"A device named {name!r} already exists.",
            code="device_exists",
            fields={"name": ["Already in use."]},
        )


def create_device(*, name: str, model: str | None, room: str | None, actor_id: int) -> Device:
    clean_name = _clean(name, 80, "Name", required=True)
    assert clean_name is not None
    _ensure_unique_name(clean_name)
    device = Device(
        name=clean_name, model=_clean(model, 120, "Model"), room=_clean(room, 80, "Room")
    )
    db.session.add(device)
    db.session.flush()
    record(actor_id, "create", "device", device.id, detail={"name": device.name})
    return device


def update_device(device_id: int, *, actor_id: int, **changes: Any) -> Device:
    """Rename, re-house or (de)activate a device. An inactive device takes no new bookings;
    its existing appointments stay where they are for the front desk to move."""
    device = get_device(device_id)
    if "name" in changes:
        name = _clean(changes["name"], 80, "Name", required=True)
        assert name is not None
        _ensure_unique_name(name, device.id)
        device.name = name
    if "model" in changes:
        device.model = _clean(changes["model"], 120, "Model")
    if "room" in changes:
        device.room = _clean(changes["room"], 80, "Room")
    if "active" in changes:
        device.active = bool(changes["active"])
    db.session.flush()
    record(actor_id, "update", "device", device.id, detail={"changed": sorted(changes)})
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
        reason=_clean(reason, 200, "Reason"),
    )
    db.session.add(window)
    db.session.flush()
    record(actor_id, "create", "maintenance", window.id, detail={"device_id": device.id})
    return window


def delete_maintenance(device_id: int, window_id: int, *, actor_id: int) -> None:
    window = _get(MaintenanceWindow, window_id, "maintenance window")
    if window.device_id != device_id:
        raise NotFound(f"No maintenance window {window_id} on device {device_id}.")
    db.session.delete(window)
    db.session.flush()
    record(actor_id, "delete", "maintenance", window_id, detail={"device_id": device_id})


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
        record(actor_id, "delete", "opening_hours", weekday)
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
        "update",
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
    closure = Closure(date=day, reason=_clean(reason, 200, "Reason") or "")
    db.session.add(closure)
    db.session.flush()
    record(actor_id, "create", "closure", closure.id, detail={"date": day.isoformat()})
    return closure


def delete_closure(closure_id: int, *, actor_id: int) -> None:
    closure = _get(Closure, closure_id, "closure")
    db.session.delete(closure)
    db.session.flush()
    record(actor_id, "delete", "closure", closure_id, detail={"date": closure.date.isoformat()})


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
        booking.Busy(device_id, patient, starts_at, ends_at, kind == "treatment", appointment_id)
        for appointment_id, device_id, patient, starts_at, ends_at, kind in (
            db.session.connection().execute(query)
        )
    ]


def occupancy(*, ignore: int | None = None) -> booking.Occupancy:
    return booking.Occupancy(_load_busy, clock.clinic_tz(), ignore=ignore)


def patient_tz(course: Course) -> ZoneInfo:
    """The patient's own time zone, or the clinic's when none (or an unknown one) is set."""
    name = course.patient.timezone
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return clock.clinic_tz()


def _patient(course: Course) -> booking.Patient:
    return booking.Patient(
        id=course.patient_id,
        tz=patient_tz(course),
        one_a_day=course.protocol.pattern != "accelerated",
    )


# -- courses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseCounts:
    planned: int
    delivered: int
    scheduled: int

    @property
    def remaining(self) -> int:
        """Sessions still to book: planned - delivered - already scheduled."""
        return max(0, self.planned - self.delivered - self.scheduled)


def get_course(course_id: int) -> Course:
    course = (
        db.session.scalar(
            select(Course)
            .options(joinedload(Course.protocol), joinedload(Course.patient))
            .where(Course.id == course_id)
        )
        if 0 < course_id <= MAX_ID
        else None
    )
    if course is None:
        raise NotFound(f"No course {course_id}.")
    return course


def course_counts(course_id: int) -> CourseCounts:
    course = get_course(course_id)
    rows = dict(
        db.session.execute(
            select(Appointment.status, func.count())
            .where(Appointment.course_id == course.id, Appointment.kind == "treatment")
            .group_by(Appointment.status)
        ).all()
    )
    return CourseCounts(
        planned=course.planned_sessions,
        delivered=rows.get("completed", 0),
        scheduled=sum(rows.get(status, 0) for status in PENDING_STATUSES),
    )


def _next_sequence(course_id: int) -> int:
    highest = db.session.scalar(
        select(func.max(Appointment.sequence)).where(Appointment.course_id == course_id)
    )
    return (highest or 0) + 1


@dataclass
class CoursePlan:
    """A preview: every session the booking would create, and what got in the way."""

    course: Course
    sessions: list[booking.PlannedSession]
    clashes: list[str]
    missing: int
    first_sequence: int
    calendar: booking.Calendar

    @property
    def complete(self) -> bool:
        return self.missing == 0 and bool(self.sessions)


def _plan_course(
    course: Course, *, start_date: date, local_time: time, device_id: int | None
) -> CoursePlan:
    if course.status != "active":
        raise Conflict(
            f"Course {course.id} is {course.status.replace('_', ' ')}; only active courses "
            "are booked.",
            code="course_not_active",
        )
    counts = course_counts(course.id)
    if counts.remaining == 0:
        raise Conflict(
            f"Every session of course {course.id} is already delivered or booked.",
            code="nothing_to_schedule",
        )
    if device_id is not None:
        get_device(device_id)
    protocol = course.protocol
    phases = booking.expand_pattern(
        protocol.pattern,
        course.planned_sessions,
        counts.remaining,
        start=start_date,
        sessions_per_day=protocol.sessions_per_day,
        min_gap_minutes=protocol.min_gap_minutes,
    )
    request = booking.Request(
        patient=_patient(course),
        phases=phases,
        start=start_date,
        local_time=local_time,
        length=timedelta(minutes=protocol.slot_minutes),
        device_id=device_id,
    )
    calendar = load_calendar(start_date, start_date + timedelta(days=request.horizon_days))
    plan = booking.plan_sessions(calendar, occupancy(), request)
    return CoursePlan(
        course=course,
        sessions=plan.sessions,
        clashes=plan.clashes,
        missing=plan.missing,
        first_sequence=_next_sequence(course.id),
        calendar=calendar,
    )


def preview_course(
    course_id: int, *, start_date: date, local_time: time, device_id: int | None = None
) -> CoursePlan:
    """What `schedule_course` would book, without writing anything."""
    return _plan_course(
        get_course(course_id), start_date=start_date, local_time=local_time, device_id=device_id
    )


def schedule_course(
    course_id: int,
    *,
    start_date: date,
    local_time: time,
    device_id: int | None = None,
    actor_id: int | None,
) -> list[Appointment]:
    """Book every remaining session of an active course by its protocol's pattern.

    Refused (409) when the course is not active (`course_not_active`), has nothing left
    to book (`nothing_to_schedule`), or cannot be placed in full within a year
    (`cannot_place`): half a course is worse than none, so nothing is written then.
    """
    course = get_course(course_id)
    plan = _plan_course(course, start_date=start_date, local_time=local_time, device_id=device_id)
    if not plan.complete:
        raise Conflict(
            f"{plan.missing} of {plan.missing + len(plan.sessions)} sessions found no free "
            f"chair within {booking.HORIZON_DAYS} days; nothing was booked.",
            code="cannot_place",
            details={"clashes": plan.clashes[:50]},
        )
    appointments = [
        Appointment(
            course_id=course.id,
            patient_id=course.patient_id,
            device_id=session.device_id,
            # In UTC as the database gives them back: the answer is not reloaded.
            starts_at=session.starts_at.astimezone(UTC),
            ends_at=session.ends_at.astimezone(UTC),
            kind="treatment",
            status="scheduled",
            sequence=plan.first_sequence + index,
        )
        for index, session in enumerate(plan.sessions)
    ]
    _insert(appointments)
    # One audit event for the whole booking, naming every appointment it created.
    record(
        actor_id,
        "schedule",
        "course",
        course.id,
        patient_id=course.patient_id,
        detail={"appointment_ids": [appointment.id for appointment in appointments]},
    )
    events.appointments_booked.send(None, appointments=appointments, actor_id=actor_id)
    return appointments


# -- single appointments ---------------------------------------------------------------


def _audit(
    actor_id: int | None,
    action: str,
    appointment: Appointment,
    detail: dict[str, Any] | None = None,
) -> None:
    record(
        actor_id,
        action,
        "appointment",
        appointment.id,
        patient_id=appointment.patient_id,
        detail=detail,
    )


def _insert(appointments: list[Appointment]) -> None:
    """Insert inside a savepoint, so the database's own refusal becomes a 409."""
    try:
        with db.session.begin_nested():
            db.session.add_all(appointments)
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise Conflict(
                "That time was just taken by another booking.",
                details={"clashes": [{"code": "device_or_patient", "message": str(exc.orig)}]},
            ) from exc
        raise


def _refuse_clashes(found: list[booking.Clash]) -> None:
    if found:
        raise Conflict(
            " ".join(clash.message for clash in found),
            details={"clashes": [{"code": c.code, "message": c.message} for c in found]},
        )


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise Invalid("Unknown kind.", fields={"kind": [f"One of {', '.join(KINDS)}."]})


def _check_slot(
    course: Course,
    device_id: int,
    starts_at: datetime,
    ends_at: datetime,
    *,
    kind: str,
    ignore: int | None = None,
) -> None:
    get_device(device_id)
    day = starts_at.astimezone(clock.clinic_tz()).date()
    patient = _patient(course)
    if kind != "treatment":
        patient = booking.Patient(patient.id, patient.tz, one_a_day=False)
    _refuse_clashes(
        booking.clashes(
            load_calendar(day, day),
            occupancy(ignore=ignore),
            patient,
            device_id,
            starts_at,
            ends_at,
        )
    )


def book_appointment(
    *,
    course_id: int,
    device_id: int,
    starts_at: datetime,
    kind: str = "treatment",
    technician_id: int | None = None,
    actor_id: int | None,
) -> Appointment:
    """Book one session of a course at an exact time and chair, or 409 `conflict` naming
    every clash (chair, patient, clinic closed or outside hours, maintenance)."""
    _check_kind(kind)
    course = get_course(course_id)
    if course.status != "active":
        raise Conflict(
            f"Course {course.id} is {course.status.replace('_', ' ')}.", code="course_not_active"
        )
    ends_at = starts_at + timedelta(minutes=course.protocol.slot_minutes)
    _check_slot(course, device_id, starts_at, ends_at, kind=kind)
    appointment = Appointment(
        course_id=course.id,
        patient_id=course.patient_id,
        device_id=device_id,
        technician_id=_technician(technician_id),
        starts_at=starts_at,
        ends_at=ends_at,
        kind=kind,
        status="scheduled",
        sequence=_next_sequence(course.id),
    )
    _insert([appointment])
    _audit(actor_id, "create", appointment)
    events.appointments_booked.send(None, appointments=[appointment], actor_id=actor_id)
    return appointment


def _technician(user_id: int | None) -> int | None:
    if user_id is None:
        return None
    from clinic.auth.models import User

    user = _get(User, user_id, "user")
    if user.role not in ("technician", "clinician", "admin"):
        raise Invalid(
            "Only technicians and clinicians run sessions.",
            fields={"technician_id": ["Not a technician."]},
        )
    return user.id


def get_appointment(appointment_id: int) -> Appointment:
    return _get(Appointment, appointment_id, "appointment")


def move_appointment(
    appointment_id: int,
    *,
    starts_at: datetime | None = None,
    device_id: int | None = None,
    actor_id: int | None,
    technician_id: int | None = None,
    assign_technician: bool = False,
) -> Appointment:
    """Move a scheduled session to another time and/or chair (and, with
    `assign_technician`, set who runs it). Its revision grows, so calendar entries follow."""
    appointment = get_appointment(appointment_id)
    if appointment.status not in MOVABLE_STATUSES:
        raise Conflict(
            f"A {appointment.status.replace('_', ' ')} appointment cannot be moved.",
            code="invalid_status",
        )
    old_starts_at, old_device_id = appointment.starts_at, appointment.device_id
    new_start = starts_at or old_starts_at
    new_device = device_id or old_device_id
    if assign_technician:
        appointment.technician_id = _technician(technician_id)
    if (new_start, new_device) == (old_starts_at, old_device_id):
        db.session.flush()
        return appointment
    length = appointment.ends_at - appointment.starts_at
    _check_slot(
        appointment.course,
        new_device,
        new_start,
        new_start + length,
        kind=appointment.kind,
        ignore=appointment.id,
    )
    try:
        with db.session.begin_nested():
            appointment.starts_at = new_start
            appointment.ends_at = new_start + length
            appointment.device_id = new_device
            appointment.revision += 1
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise Conflict("That time was just taken by another booking.") from exc
        raise
    _audit(
        actor_id,
        "move",
        appointment,
        detail={"from": old_starts_at.isoformat(), "device_from": old_device_id},
    )
    events.appointment_moved.send(
        None,
        appointment=appointment,
        old_starts_at=old_starts_at,
        old_device_id=old_device_id,
        actor_id=actor_id,
    )
    return appointment


@dataclass(frozen=True)
class StatusChange:
    appointment: Appointment
    makeup: Appointment | None


def _end_appointment(
    appointment_id: int, status: str, reason: str | None, actor_id: int | None
) -> StatusChange:
    appointment = get_appointment(appointment_id)
    if appointment.status not in CANCELLABLE_STATUSES:
        raise Conflict(
            f"A {appointment.status.replace('_', ' ')} appointment cannot be marked "
            f"{status.replace('_', ' ')}.",
            code="invalid_status",
        )
    appointment.status = status
    appointment.status_reason = _clean(reason, 2000, "Reason")
    db.session.flush()
    _audit(actor_id, status, appointment, detail={"reason": appointment.status_reason})
    events.appointment_cancelled.send(None, appointment=appointment, actor_id=actor_id)
    return StatusChange(appointment, make_up_for(appointment, actor_id))


def make_up_for(appointment: Appointment, actor_id: int | None) -> Appointment | None:
    """Book the make-up of a treatment that was not delivered (cancelled, missed, stopped
    early) while its course is active. When no room can be found the session is still
    recorded as not delivered, and the front desk gets an alert to place it by hand."""
    course = get_course(appointment.course_id)
    if appointment.kind != "treatment" or course.status != "active":
        return None
    try:
        return book_makeup(course, actor_id, makeup_for=appointment)
    except Conflict as exc:
        raise_alert(
            "makeup_unplaced",
            "A make-up session could not be booked",
            message=exc.message,
            audience="front_desk",
            patient_id=course.patient_id,
            course_id=course.id,
            subject=("appointment", appointment.id),
            actor_id=actor_id,
        )
        return None


def cancel_appointment(
    appointment_id: int, *, reason: str | None, actor_id: int | None
) -> StatusChange:
    """Cancel a session and book its make-up after the course's last one."""
    return _end_appointment(appointment_id, "cancelled", reason, actor_id)


def record_no_show(
    appointment_id: int, *, reason: str | None, actor_id: int | None
) -> StatusChange:
    """Mark a missed session and book its make-up after the course's last one."""
    return _end_appointment(appointment_id, "no_show", reason, actor_id)


def book_makeup(
    course: Course, actor_id: int | None, *, makeup_for: Appointment | None = None
) -> Appointment:
    """Book one make-up session on the first open weekday after the course's last live
    session, at the missed session's local time (or the last session's), so the course
    still delivers its planned count. 409 `cannot_place` when a year holds no room."""
    last = db.session.scalar(
        select(Appointment)
        .where(
            Appointment.course_id == course.id,
            Appointment.kind == "treatment",
            Appointment.status.in_(LIVE_STATUSES),
        )
        .order_by(Appointment.starts_at.desc())
        .limit(1)
    )
    tz = patient_tz(course)
    reference = makeup_for or last
    after = last.starts_at if last is not None else (makeup_for.starts_at if makeup_for else None)
    start_day = (after.astimezone(tz).date() if after else clock.today(tz)) + timedelta(days=1)
    local_time = reference.starts_at.astimezone(tz).time() if reference else time(9)
    request = booking.Request(
        patient=_patient(course),
        phases=booking.Phases(daily=1),
        start=start_day,
        local_time=local_time,
        length=timedelta(minutes=course.protocol.slot_minutes),
        device_id=reference.device_id if reference else None,
    )
    calendar = load_calendar(start_day, start_day + timedelta(days=request.horizon_days))
    plan = booking.plan_sessions(calendar, occupancy(), request)
    if plan.missing or not plan.sessions:
        raise Conflict(
            "No free chair for a make-up session within a year.",
            code="cannot_place",
            details={"clashes": plan.clashes[:20]},
        )
    session = plan.sessions[0]
    appointment = Appointment(
        course_id=course.id,
        patient_id=course.patient_id,
        device_id=session.device_id,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        kind="treatment",
        status="scheduled",
        sequence=_next_sequence(course.id),
        is_makeup=True,
        makeup_for_id=makeup_for.id if makeup_for else None,
    )
    _insert([appointment])
    _audit(actor_id, "create", appointment, detail={"makeup_for": appointment.makeup_for_id})
    events.appointments_booked.send(None, appointments=[appointment], actor_id=actor_id)
    return appointment


# -- reading the schedule --------------------------------------------------------------


def day_span(first: date, last: date) -> tuple[datetime, datetime]:
    """The instants from the start of `first` to the end of `last` on the clinic's clock."""
    tz = clock.clinic_tz()
    return (
        datetime.combine(first, time(0), tzinfo=tz),
        datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz),
    )


def session_number() -> Any:
    """A column: the session's place among its course's live treatments (1-based)."""
    earlier = aliased(Appointment)
    return (
        select(func.count(earlier.id) + 1)
        .where(
            earlier.course_id == Appointment.course_id,
            earlier.kind == "treatment",
            earlier.status.in_(LIVE_STATUSES),
            earlier.starts_at < Appointment.starts_at,
        )
        .correlate(Appointment)
        .scalar_subquery()
        .label("number")
    )


def list_appointments(
    *,
    first: date | None = None,
    last: date | None = None,
    device_id: int | None = None,
    patient_id: int | None = None,
    course_id: int | None = None,
    technician_id: int | None = None,
    limit: int = 2000,
    with_numbers: bool = False,
) -> list[Any]:
    """Appointments ordered by start, filtered; bounded by dates and `limit`.

    With `with_numbers` each row is (appointment, session number) with the patient and
    course loaded, for pages that show "session n of N" without a query per row.
    """
    columns: list[Any] = [Appointment]
    if with_numbers:
        columns.append(session_number())
    query = select(*columns).order_by(Appointment.starts_at, Appointment.device_id)
    if with_numbers:
        query = query.options(
            joinedload(Appointment.patient),
            joinedload(Appointment.course),
            joinedload(Appointment.device),
        )
    if first is not None and last is not None:
        start, end = day_span(first, last)
        query = query.where(and_(Appointment.starts_at >= start, Appointment.starts_at < end))
    filters = {
        Appointment.device_id: device_id,
        Appointment.patient_id: patient_id,
        Appointment.course_id: course_id,
        Appointment.technician_id: technician_id,
    }
    for column, value in filters.items():
        if value is not None:
            query = query.where(column == value)
    result = db.session.execute(query.limit(limit))
    return [tuple(row) for row in result] if with_numbers else list(result.scalars())


def free_starts(
    appointment_id: int, day: date, *, step_minutes: int = 15
) -> list[booking.Placement]:
    """Where a session could move on `day`: every free (start, chair), every 15 minutes."""
    appointment = get_appointment(appointment_id)
    course = get_course(appointment.course_id)
    calendar = load_calendar(day, day)
    window = calendar.open_interval(day)
    if window is None:
        return []
    busy = occupancy(ignore=appointment.id)
    busy.cover([(day, *window)])
    patient = _patient(course)
    if appointment.kind != "treatment":
        patient = booking.Patient(patient.id, patient.tz, one_a_day=False)
    length = appointment.ends_at - appointment.starts_at
    found = []
    start = window[0]
    while start + length <= window[1]:
        end = start + length
        if not booking.time_clashes(calendar, busy, patient, start, end):
            found.extend(
                booking.Placement(device, start, end)
                for device in calendar.devices
                if not booking.device_clashes(calendar, busy, device, start, end)
            )
        start += timedelta(minutes=step_minutes)
    return found


def _board_devices(rows: list[Any]) -> list[Device]:
    """Active devices, plus any inactive one that still has sessions in view."""
    used = {appointment.device_id for appointment, _number in rows}
    return [device for device in list_devices() if device.active or device.id in used]


def day_board(day: date, *, technician_id: int | None = None) -> board.DayBoard:
    """The day board: a fixed handful of queries whatever the size of the schedule."""
    rows = list_appointments(first=day, last=day, technician_id=technician_id, with_numbers=True)
    return board.day_board(day, _board_devices(rows), rows, load_calendar(day, day))


def week_view(monday: date, *, technician_id: int | None = None) -> board.WeekView:
    last = monday + timedelta(days=6)
    rows = list_appointments(
        first=monday, last=last, technician_id=technician_id, with_numbers=True
    )
    return board.week_view(monday, _board_devices(rows), rows, load_calendar(monday, last))
