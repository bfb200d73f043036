"""Writing bookings: a course's sessions by its pattern (or a preview of them), one
appointment, a move, a make-up. The planner itself is `booking` (pure); this module
asks it with what `calendar` loads, writes the result, audits and sends the events.

Courses are handed in by the caller (scheduling sits below courses and never loads
one); their protocol and patient come through the relationships.

Double booking: on PostgreSQL the exclusion constraints of migration 0001 refuse an
overlap even when two requests pass the check at once (their IntegrityError becomes a
409 `conflict` here); on SQLite every writing transaction begins IMMEDIATE, so the check
and the insert below run one request at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from clinic import events
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.auth.models import User
from clinic.errors import Conflict, Invalid
from clinic.extensions import db
from clinic.permissions import Role
from clinic.scheduling import booking, technicians
from clinic.scheduling.calendar import (
    device_site,
    get_row,
    load_calendar,
    locked_appointment,
    occupancy,
    planner_patient,
)
from clinic.scheduling.models import (
    ACTIVE_COURSE,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Device,
    Site,
)
from clinic.scheduling.patterns import course_phases
from clinic.scheduling.progress import course_progress
from clinic.scheduling.sites import get_site, require_appointment_site, require_site, site_tz

if TYPE_CHECKING:
    from clinic.courses.models import Course

EXCLUSION_VIOLATION = "23P01"
# Who may run a session (a front-desk account may not).
SESSION_STAFF = (Role.TECHNICIAN, Role.CLINICIAN, Role.ADMIN)


def _refuse_inactive(course: Course, detail: str = "") -> None:
    if course.status != ACTIVE_COURSE:
        raise Conflict(
            f"Course {course.id} is {course.status.replace('_', ' ')}{detail}.",
            code="course_not_active",
        )


# What every booking asks about its course: each statement built once (building one
# cost about as much as running it).


@cache
def _highest_sequence_query() -> Select[int | None]:
    return select(func.max(Appointment.sequence)).where(
        Appointment.course_id == bindparam("course_id")
    )


@cache
def _latest_site_query() -> Select[int]:
    return (
        select(Device.site_id)
        .join(Appointment, Appointment.device_id == Device.id)
        .where(Appointment.course_id == bindparam("course_id"))
        .order_by(Appointment.starts_at.desc())
        .limit(1)
    )


@cache
def _latest_live_device_query() -> Select[int]:
    return (
        select(Appointment.device_id)
        .where(
            Appointment.course_id == bindparam("course_id"),
            Appointment.status.not_in((AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)),
        )
        .order_by(Appointment.starts_at.desc(), Appointment.id.desc())
        .limit(1)
    )


def next_sequence(course_id: int) -> int:
    highest = db.session.scalar(_highest_sequence_query(), {"course_id": course_id})
    return (highest or 0) + 1


def course_site(course_id: int) -> Site | None:
    """Where a course is treated: the site of the chair of its latest session."""
    site_id = db.session.scalar(_latest_site_query(), {"course_id": course_id})
    return None if site_id is None else get_site(site_id)


def booking_site(course: Course, device_id: int | None, site_id: int | None) -> Site:
    """The site a booking goes to: the chair's; else the one asked for; else where the
    course is already treated; else the first site."""
    site = device_site(device_id)
    if site is not None:
        if site_id is not None and site.id != site_id:
            raise Invalid(
                "That chair is at another site.", fields={"device_id": ["Not at this site."]}
            )
        return site
    if site_id is not None:
        return get_site(site_id)
    return course_site(course.id) or get_site()


def _usual_device(course_id: int) -> int | None:
    """The chair of the course's latest live session: "any free chair" keeps to it."""
    return db.session.scalar(_latest_live_device_query(), {"course_id": course_id})


@dataclass
class CoursePlan:
    """A preview: every session the booking would create, and what got in the way."""

    course: Course
    sessions: list[booking.PlannedSession]
    clashes: list[str]
    missing: int
    first_sequence: int
    calendar: booking.Calendar
    site: Site

    @property
    def complete(self) -> bool:
        return self.missing == 0 and bool(self.sessions)


def preview_course(
    course: Course,
    *,
    start_date: date,
    local_time: time,
    device_id: int | None = None,
    site_id: int | None = None,
) -> CoursePlan:
    """What `schedule_course` would book, without writing anything: on the named chair
    (or any chair of its site), at the patient's wall-clock time, inside the site's hours."""
    _refuse_inactive(course, "; only active courses are booked")
    unbooked = course_progress([course.id])[course.id].unbooked(course.planned_sessions)
    if unbooked == 0:
        raise Conflict(
            f"Every session of course {course.id} is already delivered or booked.",
            code="nothing_to_schedule",
        )
    site = booking_site(course, device_id, site_id)
    request = booking.Request(
        patient=planner_patient(course),
        phases=course_phases(course, unbooked, start_date),
        start=start_date,
        local_time=local_time,
        length=timedelta(minutes=course.protocol.slot_minutes),
        device_id=device_id,
        usual_device_id=_usual_device(course.id) if device_id is None else None,
    )
    calendar = load_calendar(start_date, start_date + timedelta(days=request.horizon_days), site)
    plan = booking.plan_sessions(calendar, occupancy(calendar), request)
    return CoursePlan(
        course=course,
        sessions=plan.sessions,
        clashes=plan.clashes,
        missing=plan.missing,
        first_sequence=next_sequence(course.id),
        calendar=calendar,
        site=site,
    )


def schedule_course(
    course: Course,
    *,
    start_date: date,
    local_time: time,
    device_id: int | None = None,
    site_id: int | None = None,
    actor_id: int | None,
) -> list[Appointment]:
    """Book every remaining session of an active course by its protocol's pattern.

    Refused (409) when the course is not active (`course_not_active`), has nothing left
    to book (`nothing_to_schedule`), or cannot be placed in full within a year
    (`cannot_place`): half a course is worse than none, so nothing is written then.
    """
    plan = preview_course(
        course, start_date=start_date, local_time=local_time, device_id=device_id, site_id=site_id
    )
    require_site(actor_id, plan.site.id)
    if not plan.complete:
        raise Conflict(
            f"{plan.missing} of {plan.missing + len(plan.sessions)} sessions found no free "
            f"chair within {booking.HORIZON_DAYS} days; nothing was booked.",
            code="cannot_place",
            details={"clashes": plan.clashes[:50]},
        )
    appointments = insert_appointments(
        [
            appointment_row(
                course,
                session.device_id,
                session.starts_at,
                session.ends_at,
                plan.first_sequence + index,
            )
            for index, session in enumerate(plan.sessions)
        ]
    )
    # One audit event for the whole booking, naming every appointment it created.
    record(
        actor_id,
        AuditAction.SCHEDULE,
        "course",
        course.id,
        patient_id=course.patient_id,
        detail={"appointment_ids": [appointment.id for appointment in appointments]},
    )
    events.appointments_booked.send(None, appointments=appointments, actor_id=actor_id)
    return appointments


def audit_appointment(
    actor_id: int | None,
    action: AuditAction,
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


def appointment_row(
    course: Course,
    device_id: int,
    starts_at: datetime,
    ends_at: datetime,
    sequence: int,
    *,
    kind: str = AppointmentKind.TREATMENT,
    **extra: Any,
) -> dict[str, Any]:
    """A scheduled session's columns for `insert_appointments`, its times in UTC as the
    database stores them."""
    return {
        "course_id": course.id,
        "patient_id": course.patient_id,
        "device_id": device_id,
        "starts_at": starts_at.astimezone(UTC),
        "ends_at": ends_at.astimezone(UTC),
        "kind": kind,
        "status": AppointmentStatus.SCHEDULED,
        "sequence": sequence,
        **extra,
    }


def insert_appointments(rows: list[dict[str, Any]]) -> list[Appointment]:
    """Insert in one statement (not one round trip a row: SQLite cannot promise RETURNING
    in order, so the ORM's own flush sends them one by one there), inside a savepoint so
    the database's own refusal becomes a 409. The appointments, in the order given."""
    with refused_overlaps(), db.session.begin_nested():
        inserted = db.session.scalars(insert(Appointment).returning(Appointment), rows).all()
    by_key = {(a.course_id, a.sequence): a for a in inserted}
    return [by_key[row["course_id"], row["sequence"]] for row in rows]


def _refuse_clashes(found: list[booking.Clash]) -> None:
    if found:
        raise Conflict(
            " ".join(clash.message for clash in found),
            details={"clashes": [{"code": c.code, "message": c.message} for c in found]},
        )


def _check_kind(kind: str) -> None:
    if kind not in tuple(AppointmentKind):
        choices = ", ".join(AppointmentKind)
        raise Invalid("Unknown kind.", fields={"kind": [f"One of {choices}."]})


def _check_slot(
    course: Course,
    device_id: int,
    starts_at: datetime,
    ends_at: datetime,
    *,
    kind: str,
    actor_id: int | None,
    ignore: int | None = None,
) -> None:
    """Refuse a time and chair that clash, judged on the calendar of the chair's site."""
    site = device_site(device_id)
    assert site is not None
    require_site(actor_id, site.id)
    tz = site_tz(site)
    day = starts_at.astimezone(tz).date()
    patient = planner_patient(course, kind)
    calendar = load_calendar(day, day, site)
    _refuse_clashes(
        booking.clashes(
            calendar,
            occupancy(calendar, ignore=() if ignore is None else (ignore,)),
            patient,
            device_id,
            starts_at,
            ends_at,
        )
    )


def book_appointment(
    course: Course,
    *,
    device_id: int,
    starts_at: datetime,
    kind: str = AppointmentKind.TREATMENT,
    technician_id: int | None = None,
    actor_id: int | None,
) -> Appointment:
    """Book one session of a course at an exact time and chair, or 409 `conflict` naming
    every clash (chair, patient, clinic closed or outside hours, maintenance)."""
    _check_kind(kind)
    _refuse_inactive(course)
    ends_at = starts_at + timedelta(minutes=course.protocol.slot_minutes)
    _check_slot(course, device_id, starts_at, ends_at, kind=kind, actor_id=actor_id)
    technician = _technician(technician_id)
    if technician is not None:
        technicians.ensure_available(technician, starts_at, ends_at)
    [appointment] = insert_appointments(
        [
            appointment_row(
                course,
                device_id,
                starts_at,
                ends_at,
                next_sequence(course.id),
                kind=kind,
                technician_id=technician,
            )
        ]
    )
    audit_appointment(actor_id, AuditAction.CREATE, appointment)
    events.appointments_booked.send(None, appointments=[appointment], actor_id=actor_id)
    return appointment


def _technician(user_id: int | None) -> int | None:
    if user_id is None:
        return None
    user = get_row(User, user_id, "user")
    if user.role not in SESSION_STAFF:
        raise Invalid(
            "Only technicians and clinicians run sessions.",
            fields={"technician_id": ["Not a technician."]},
        )
    return user.id


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
    `assign_technician`, set who runs it: 409 `technician_busy` when that technician has an
    overlapping live appointment). Its revision grows, so calendar entries follow.
    The appointment is locked first: a cancel racing the move waits for it, or refuses it."""
    appointment = locked_appointment(appointment_id)
    require_appointment_site(actor_id, appointment)
    if appointment.status != AppointmentStatus.SCHEDULED:
        raise Conflict(
            f"A {appointment.status.replace('_', ' ')} appointment cannot be moved.",
            code="invalid_status",
        )
    new_start = starts_at or appointment.starts_at
    new_device = device_id or appointment.device_id
    length = appointment.ends_at - appointment.starts_at
    technician = _technician(technician_id) if assign_technician else appointment.technician_id
    moving = (new_start, new_device) != (appointment.starts_at, appointment.device_id)
    if moving:
        _check_slot(
            appointment.course,
            new_device,
            new_start,
            new_start + length,
            kind=appointment.kind,
            actor_id=actor_id,
            ignore=appointment.id,
        )
    if technician is not None and (moving or technician != appointment.technician_id):
        technicians.ensure_available(technician, new_start, new_start + length, appointment.id)
    if moving:
        return relocate(
            appointment, new_start, new_device, technician_id=technician, actor_id=actor_id
        )
    with refused_overlaps(), db.session.begin_nested():
        appointment.technician_id = technician
    return appointment


@contextmanager
def refused_overlaps() -> Iterator[None]:
    """The database's refusal of an overlap (PostgreSQL's exclusion constraints) as a 409:
    `technician_busy` for the technician's constraint, `conflict` for a chair or patient."""
    try:
        yield
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != EXCLUSION_VIOLATION:
            raise
        if "technician" in str(exc.orig):
            raise Conflict(
                "That technician was just booked for another appointment at that time.",
                code="technician_busy",
            ) from exc
        raise Conflict(
            "That time was just taken by another booking.",
            details={"clashes": [{"code": "device_or_patient", "message": str(exc.orig)}]},
        ) from exc


def relocate(
    appointment: Appointment,
    starts_at: datetime,
    device_id: int,
    *,
    technician_id: int | None,
    actor_id: int | None,
) -> Appointment:
    """Put a locked, checked appointment at a new start and chair, run by `technician_id`:
    the one write of a move (a desk's move, or a make-up pushing later sessions), in one
    statement so the database judges the new time with the new technician; audited and
    announced, so its reminders and calendar entries are replaced."""
    old_starts_at, old_device_id = appointment.starts_at, appointment.device_id
    length = appointment.ends_at - appointment.starts_at
    with refused_overlaps(), db.session.begin_nested():
        appointment.technician_id = technician_id
        appointment.starts_at = starts_at
        appointment.ends_at = starts_at + length
        appointment.device_id = device_id
        appointment.revision += 1
    audit_appointment(
        actor_id,
        AuditAction.MOVE,
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
